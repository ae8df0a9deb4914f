// scripts/test.mjs and a test file that needs something the machine lacks (Chromium for the console's browser
// tests): the file prints "unavailable: <what>" and runs nothing, and the runner says so in one line, counting it
// neither way. Exiting with an error (as the browser tests do under REQUIRE_BROWSER=1, CI's setting) still fails.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = join(__dirname, "..", "..");
let dir: string;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "unavailable-"));
  writeFileSync(join(dir, "lacking.test.ts"), 'console.log("unavailable: no Chromium at /nowhere");\n');
  writeFileSync(join(dir, "required.test.ts"), 'console.log("unavailable: no Chromium at /nowhere");\nprocess.exit(1);\n');
  writeFileSync(join(dir, "ran.test.ts"), 'console.log("unavailable: not this time");\nconsole.log("Total: 1\\nPassed: 1");\n');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

function run(file: string) {
  const result = spawnSync(process.execPath, [join(ROOT, "scripts", "test.mjs"), join(dir, file)], { cwd: ROOT, encoding: "utf8" });
  return { status: result.status, lines: result.stdout.trim().split("\n").filter(Boolean) };
}

test("a file that says what it lacks and runs nothing: one line, neither passed nor failed", () => {
  const { status, lines } = run("lacking.test.ts");
  assert.is(status, 0);
  assert.equal(lines, [`- ${relative(ROOT, join(dir, "lacking.test.ts"))}: no Chromium at /nowhere`, "0 passed, 0 failed"]);
});

test("the same file exiting with an error fails (a missing browser in CI)", () => {
  const { status, lines } = run("required.test.ts");
  assert.is(status, 1);
  assert.is(lines.at(-1), "0 passed, 1 failed");
});

test("a file that ran its tests counts as usual", () => {
  const { status, lines } = run("ran.test.ts");
  assert.is(status, 0);
  assert.is(lines.at(-1), "1 passed, 0 failed");
});

test.run();
