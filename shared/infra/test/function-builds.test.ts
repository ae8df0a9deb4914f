// The build service (helpers/bundle.ts): one esbuild run per handler content, a new hash when the handler or any
// file it imports changes, none when nothing changed, and which requests a file feeds (for watch mode).
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bundleOptions } from "../../runtime/bundle-options";
import { FunctionBuilds } from "../helpers/bundle";

const dir = mkdtempSync(join(tmpdir(), "function-builds-"));
const root = join(dir, ".build");
const entry = join(dir, "handler.ts");
const dependency = join(dir, "greeting.ts");
const unrelated = join(dir, "unrelated.ts");
writeFileSync(entry, `import { greeting } from "./greeting";\nexport async function handler() {\n  return greeting();\n}\n`);
writeFileSync(dependency, `export const greeting = () => "hello";\n`);
writeFileSync(unrelated, `export const nothing = 1;\n`);

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("one esbuild run per content: concurrent requests share it, a later one is answered from the manifest", async () => {
  const builds = new FunctionBuilds({ root });
  const [a, b, c] = await Promise.all([builds.build({ entry }), builds.build({ entry }), builds.build({ entry })]);
  assert.is(builds.stats.esbuildRuns, 1);
  assert.is(a!.hash, b!.hash);
  assert.is(b!.hash, c!.hash);
  assert.not.ok(a!.cached);
  assert.ok(a!.inputs.includes(entry) && a!.inputs.includes(dependency), `inputs: ${a!.inputs.join(", ")}`);
  assert.is(a!.dir, join(root, a!.hash.slice(0, 16)));

  const again = await builds.build({ entry });
  assert.ok(again.cached);
  assert.is(again.hash, a!.hash);
  assert.is(builds.stats.esbuildRuns, 1, "unchanged: not rebuilt");
  // Another process (a new service on the same folder) finds it too, without esbuild.
  const other = new FunctionBuilds({ root });
  const fromDisk = await other.build({ entry });
  assert.ok(fromDisk.cached);
  assert.is(fromDisk.hash, a!.hash);
  assert.is(other.stats.esbuildRuns, 0);
});

test("a later process reads no unchanged input again (their stamps are in the manifest), and any write is still seen", async () => {
  const stampedEntry = join(dir, "stamped.ts");
  const stampedDependency = join(dir, "stamped-greeting.ts");
  writeFileSync(stampedEntry, `import { greeting } from "./stamped-greeting";\nexport async function handler() {\n  return greeting();\n}\n`);
  writeFileSync(stampedDependency, `export const greeting = () => "hello";\n`);
  // A whole second, so that utimes can put the very same modification time back below.
  const mtime = new Date(1_700_000_000_000);
  utimesSync(stampedDependency, mtime, mtime);
  // settledMs 0: the files just written count as settled (the default waits 2 s for the file system's granularity).
  const first = new FunctionBuilds({ root, settledMs: 0 });
  const built = await first.build({ entry: stampedEntry });
  assert.not.ok(built.cached);

  const second = new FunctionBuilds({ root, settledMs: 0 });
  const cached = await second.build({ entry: stampedEntry });
  assert.ok(cached.cached);
  assert.is(cached.hash, built.hash);
  assert.is(second.stats.filesRead, 0, "every input answered from its stamp");

  // Same size, modification time put back: only the status-change time tells, and it must.
  writeFileSync(stampedDependency, `export const greeting = () => "howdy";\n`);
  utimesSync(stampedDependency, mtime, mtime);
  assert.is(statSync(stampedDependency).mtimeMs, mtime.getTime());
  const third = new FunctionBuilds({ root, settledMs: 0 });
  const rebuilt = await third.build({ entry: stampedEntry });
  assert.not.ok(rebuilt.cached, "a changed input is read and rebuilt");
  assert.is.not(rebuilt.hash, built.hash);
  assert.match(readFileSync(rebuilt.file, "utf8"), /howdy/);
  assert.is(third.stats.esbuildRuns, 1);

  // A manifest without stamps (written before they existed) gets them from the first process that reads its inputs.
  const manifestFile = join(root, "requests", `${third.key({ entry: stampedEntry })}.json`);
  const { stamps: _dropped, ...unstamped } = JSON.parse(readFileSync(manifestFile, "utf8"));
  writeFileSync(manifestFile, JSON.stringify(unstamped));
  const reading = new FunctionBuilds({ root, settledMs: 0 });
  assert.ok((await reading.build({ entry: stampedEntry })).cached);
  assert.ok(reading.stats.filesRead >= 2, `read ${reading.stats.filesRead}`);
  const restamped = new FunctionBuilds({ root, settledMs: 0 });
  assert.ok((await restamped.build({ entry: stampedEntry })).cached);
  assert.is(restamped.stats.filesRead, 0);

  // Recently written files are not trusted by stamp under the default setting: they are read.
  const fourth = new FunctionBuilds({ root });
  assert.ok((await fourth.build({ entry: stampedEntry })).cached);
  assert.ok(fourth.stats.filesRead >= 2, `read ${fourth.stats.filesRead}`);
});

test("the bundle's bytes are esbuild's output for the shared bundle options, hashed by content", async () => {
  const builds = new FunctionBuilds({ root });
  const bundle = await builds.build({ entry, settings: { target: "node24" } });
  const { build } = await import("esbuild");
  const direct = await build({ ...bundleOptions(entry, join(root, "out", "index.mjs"), { target: "node24" }), write: false, logLevel: "silent" });
  assert.is(Buffer.compare(Buffer.from(direct.outputFiles![0]!.contents), readFileSync(bundle.file)), 0);
  const node20 = await builds.build({ entry, settings: { target: "node20" } });
  assert.is.not(builds.key({ entry, settings: { target: "node20" } }), builds.key({ entry, settings: { target: "node24" } }), "the settings are part of the key");
  assert.ok(node20.file.endsWith("index.mjs"));
});

test("a change to a file the handler imports gives a new hash and one new build; fedBy names the requests it feeds", async () => {
  const builds = new FunctionBuilds({ root });
  const before = await builds.build({ entry, label: "test/greeter" });
  assert.equal(builds.fedBy(dependency).map((r) => r.label), ["test/greeter"]);
  assert.equal(builds.fedBy(unrelated), [], "a file no bundle read feeds none");

  writeFileSync(dependency, `export const greeting = () => "bonjour";\n`);
  const runs = builds.stats.esbuildRuns;
  const after = await builds.build({ entry, label: "test/greeter" });
  assert.is.not(after.hash, before.hash);
  assert.not.ok(after.cached);
  assert.is(builds.stats.esbuildRuns, runs + 1);
  assert.match(readFileSync(after.file, "utf8"), /bonjour/);
  assert.match(readFileSync(before.file, "utf8"), /hello/, "the earlier build's folder stays for workers still running it");

  const unchanged = await builds.build({ entry, label: "test/greeter" });
  assert.ok(unchanged.cached);
  assert.is(unchanged.hash, after.hash);
});

test("a handler that does not build is refused with esbuild's message, file and line", async () => {
  const builds = new FunctionBuilds({ root });
  const broken = join(dir, "broken.ts");
  writeFileSync(broken, `export async function handler() {\n  return {{;\n}\n`);
  try {
    await builds.build({ entry: broken, label: "test/broken" });
    assert.unreachable("a syntax error must fail the build");
  } catch (error) {
    assert.is((error as Error).name, "BundleError");
    assert.match((error as Error).message, /handler .*broken\.ts of test\/broken does not build:\n.*broken\.ts:2:\d+: /);
  }
});

test.run();
