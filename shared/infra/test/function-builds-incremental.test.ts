// Incremental builds of the build service (watch mode): after an edit, the rebuild through the kept esbuild context
// gives exactly the bytes and hash a fresh build of the same content gives, and a syntax error fails it as it fails
// a fresh build.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FunctionBuilds } from "../helpers/bundle";

const dir = mkdtempSync(join(tmpdir(), "function-builds-incremental-"));
const entry = join(dir, "handler.ts");
const dependency = join(dir, "greeting.ts");
const source = (word: string) => `export const greeting = () => "${word}";\n`;

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("incremental: each rebuild after an edit equals a fresh build of the same content; a broken edit fails alike", async () => {
  writeFileSync(entry, `import { greeting } from "./greeting";\nexport async function handler() {\n  return greeting();\n}\n`);
  writeFileSync(dependency, source("hello"));
  const watching = new FunctionBuilds({ root: join(dir, "incremental") });
  watching.incremental = true;
  try {
    const first = await watching.build({ entry });
    for (const word of ["bonjour", "hallo", "ciao"]) {
      writeFileSync(dependency, source(word));
      const rebuilt = await watching.build({ entry });
      const fresh = await new FunctionBuilds({ root: join(dir, `fresh-${word}`) }).build({ entry });
      assert.is.not(rebuilt.hash, first.hash);
      assert.is(rebuilt.hash, fresh.hash, `the rebuild after "${word}" is a fresh build's bytes`);
      assert.is(readFileSync(rebuilt.file, "utf8"), readFileSync(fresh.file, "utf8"));
      assert.match(readFileSync(rebuilt.file, "utf8"), word);
    }
    assert.is(watching.stats.esbuildRuns, 4);
    writeFileSync(dependency, `export const greeting = () => "oops;\n`);
    try {
      await watching.build({ entry, label: "test/greeter" });
      assert.unreachable("a syntax error fails the rebuild");
    } catch (error) {
      assert.is((error as Error).name, "BundleError");
      assert.match((error as Error).message, /greeting\.ts:1:\d+: Unterminated string literal/);
    }
    writeFileSync(dependency, source("back"));
    assert.match(readFileSync((await watching.build({ entry })).file, "utf8"), "back");
  } finally {
    await watching.dispose();
  }
  assert.not.ok(watching.incremental, "dispose turns incremental builds off");
});

test.run();
