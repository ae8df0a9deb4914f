// Incremental builds of the build service (watch mode): after an edit, the rebuild through the kept esbuild context
// gives exactly the bytes and hash a fresh build of the same content gives, and a syntax error fails it as it fails
// a fresh build; a build told which files changed goes straight to esbuild; pruning waits for no build and removes no
// folder a live process was answered.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FunctionBuilds, type FunctionBundle } from "../helpers/bundle";

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

test("a build told which files changed runs esbuild without checking the manifest when one fed the last bundle", async () => {
  writeFileSync(entry, `import { greeting } from "./greeting";\nexport async function handler() {\n  return greeting();\n}\n`);
  writeFileSync(dependency, source("hello"));
  const builds = new FunctionBuilds({ root: join(dir, "told") });
  await builds.build({ entry });
  writeFileSync(dependency, source("hola"));
  const rebuilt = await builds.build({ entry }, { changed: [dependency] });
  assert.is(builds.stats.manifestChecks, 0, "its ~1,000 inputs are not stat'ed to learn what the caller said");
  assert.is(builds.stats.esbuildRuns, 2);
  assert.match(readFileSync(rebuilt.file, "utf8"), "hola");
  // A file that fed nothing of it: the manifest answers, as without the hint.
  const unrelated = await builds.build({ entry }, { changed: [join(dir, "elsewhere.ts")] });
  assert.is(builds.stats.manifestChecks, 1);
  assert.ok(unrelated.cached);
  assert.is(unrelated.hash, rebuilt.hash);
});

test("incremental contexts are capped: the least recently built goes, and a function past the cap still builds its exact bytes", async () => {
  const entries = ["a", "b", "c"].map((name) => {
    const file = join(dir, `capped-${name}.ts`);
    writeFileSync(file, `export async function handler() {\n  return "${name}";\n}\n`);
    return file;
  });
  const builds = new FunctionBuilds({ root: join(dir, "capped"), maxContexts: 2 });
  builds.incremental = true;
  try {
    for (const entry of entries) await builds.build({ entry });
    assert.is(builds.keptContexts, 2);
    // All three at once: two keep (or take) a context, the third builds without one; each is a fresh build's bytes.
    for (const [index, entry] of entries.entries()) writeFileSync(entry, `export async function handler() {\n  return "${index}-again";\n}\n`);
    const rebuilt = await Promise.all(entries.map((entry) => builds.build({ entry })));
    assert.is(builds.keptContexts, 2);
    for (const [index, entry] of entries.entries()) {
      const fresh = await new FunctionBuilds({ root: join(dir, `capped-fresh-${index}`) }).build({ entry });
      assert.is(rebuilt[index]!.hash, fresh.hash);
      assert.match(readFileSync(rebuilt[index]!.file, "utf8"), `${index}-again`);
    }
  } finally {
    await builds.dispose();
  }
  assert.is(builds.keptContexts, 0);
});

test("a rebuild answers before the old folders are pruned, and a process prunes at most once per ten minutes", async () => {
  writeFileSync(entry, `import { greeting } from "./greeting";\nexport async function handler() {\n  return greeting();\n}\n`);
  writeFileSync(dependency, source("one"));
  const root = join(dir, "pruned");
  const builds = new FunctionBuilds({ root });
  await builds.build({ entry });
  // A bundle folder no manifest lists, written an hour ago: the next prune removes it.
  const orphan = join(root, "0123456789abcdef");
  mkdirSync(orphan);
  writeFileSync(join(orphan, "index.mjs"), "export {};\n");
  const anHourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(orphan, anHourAgo, anHourAgo);
  writeFileSync(dependency, source("two"));
  await builds.build({ entry });
  assert.ok(existsSync(orphan), "the build answered before its prune read the manifests");
  await builds.settled();
  assert.not.ok(existsSync(orphan), "the prune removed the unlisted old folder");
  assert.is(builds.stats.prunes, 1);
  mkdirSync(orphan);
  utimesSync(orphan, anHourAgo, anHourAgo);
  writeFileSync(dependency, source("three"));
  await builds.build({ entry });
  await builds.settled();
  assert.is(builds.stats.prunes, 1, "no second prune within ten minutes");
  assert.ok(existsSync(orphan));
});

test("a bundle folder another live process was answered is never pruned under it; once that process is gone, it goes", async () => {
  const root = join(dir, "leased");
  const leasedEntry = join(dir, "leased-handler.ts");
  const word = (n: number) => `export async function handler() {\n  return "version ${n}";\n}\n`;
  writeFileSync(leasedEntry, word(1));
  // Another process (a stage started long ago, a long test run) builds version 1 and keeps running.
  const script = join(dir, "holder.ts");
  writeFileSync(
    script,
    `import { FunctionBuilds } from ${JSON.stringify(join(__dirname, "..", "helpers", "bundle"))};\n` +
      `new FunctionBuilds({ root: ${JSON.stringify(root)} }).build({ entry: ${JSON.stringify(leasedEntry)} }).then((b) => {\n` +
      `  process.stdout.write(b.dir + "\\n");\n  process.stdin.resume();\n  process.stdin.on("end", () => process.exit(0));\n});\n`,
  );
  const holder = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["pipe", "pipe", "inherit"] });
  const gone = new Promise<void>((resolve) => holder.once("exit", () => resolve()));
  try {
    const held = await new Promise<string>((resolve, reject) => {
      let out = "";
      holder.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      holder.once("exit", (code) => reject(new Error(`the holder exited (${code}) before it built`)));
    });
    assert.ok(existsSync(join(held, "index.mjs")));
    // This process builds five newer versions: version 1 drops out of the manifest's kept builds.
    const builds = new FunctionBuilds({ root });
    let own = "";
    for (let n = 2; n <= 6; n++) {
      writeFileSync(leasedEntry, word(n));
      const built = await builds.build({ entry: leasedEntry });
      if (n === 2) own = built.dir;
    }
    await builds.settled();
    // Both unlisted folders written an hour ago: version 1 (held by the other process), version 2 (held by this one).
    const anHourAgo = new Date(Date.now() - 3_600_000);
    for (const folder of [held, own]) utimesSync(folder, anHourAgo, anHourAgo);
    const prune = async (n: number) => {
      writeFileSync(leasedEntry, word(n));
      const fresh = new FunctionBuilds({ root });
      await fresh.build({ entry: leasedEntry });
      await fresh.settled();
      assert.is(fresh.stats.prunes, 1, "the build pruned");
    };
    await prune(7);
    assert.ok(existsSync(join(held, "index.mjs")), "the folder the other process holds is still there");
    assert.ok(existsSync(join(own, "index.mjs")), "the folder this process holds is still there");
    holder.stdin!.end();
    await gone;
    await prune(8);
    assert.not.ok(existsSync(held), "the other process is gone: its old unlisted folder is removed");
    assert.ok(existsSync(join(own, "index.mjs")), "this process still runs: its folder stays");
    assert.ok(readdirSync(join(root, "leases")).every((name) => name.endsWith(`~${process.pid}`)), "the gone process's lease is removed too");
  } finally {
    holder.kill();
  }
});

test("a bundle is still answered when its lease cannot be written (a build folder this process cannot write to)", async () => {
  const root = join(dir, "unleasable");
  const leaseEntry = join(dir, "unleasable-handler.ts");
  writeFileSync(leaseEntry, `export async function handler() {\n  return "read-only";\n}\n`);
  const built = await new FunctionBuilds({ root: join(dir, "unleasable-source") }).build({ entry: leaseEntry });
  // The same build folder elsewhere (this process holds no lease there yet), whose lease folder cannot be made (as in
  // a read-only or another user's build folder): only the lease write fails, the bundle and manifest are there to read.
  cpSync(join(dir, "unleasable-source"), root, { recursive: true });
  rmSync(join(root, "leases"), { recursive: true, force: true });
  writeFileSync(join(root, "leases"), "");
  const again = await new FunctionBuilds({ root }).build({ entry: leaseEntry });
  assert.ok(again.cached, "answered from the manifest");
  assert.is(again.hash, built.hash);
  assert.ok(existsSync(again.file));
});

test("a folder another process's prune removes between this build and its lease is built again before it is answered", async () => {
  const root = join(dir, "race");
  const raceEntry = join(dir, "race-handler.ts");
  writeFileSync(raceEntry, `export async function handler() {\n  return "raced";\n}\n`);
  const builds = new FunctionBuilds({ root });
  // Another process's prune read the manifests before this build wrote its own and the leases before this one's, so
  // the folder (same bytes as a build superseded long ago: unlisted, old) goes while the lease is being written.
  const internals = builds as unknown as { lease(bundle: FunctionBundle): Promise<void> };
  const lease = internals.lease.bind(builds);
  internals.lease = async (bundle) => {
    rmSync(bundle.dir, { recursive: true, force: true });
    internals.lease = lease;
    await lease(bundle);
  };
  const built = await builds.build({ entry: raceEntry });
  assert.ok(existsSync(built.file), "the answered bundle is there to load");
  assert.match(readFileSync(built.file, "utf8"), "raced");
});

/**
 * A handler returning `answer`, built under `<label>-source`, and the same bytes in a build folder of `<label>` where
 * no manifest lists them and no process holds them, written an hour ago.
 */
async function oldUnlistedBuild(label: string, answer: string): Promise<{ root: string; name: string; anHourAgo: Date }> {
  const entry = join(dir, `${label}-handler.ts`);
  writeFileSync(entry, `export async function handler() {\n  return "${answer}";\n}\n`);
  const built = await new FunctionBuilds({ root: join(dir, `${label}-source`) }).build({ entry });
  const root = join(dir, label);
  const name = basename(built.dir);
  cpSync(built.dir, join(root, name), { recursive: true });
  const anHourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(root, name), anHourAgo, anHourAgo);
  return { root, name, anHourAgo };
}

test("a folder a process takes while a prune runs (its lease written after the prune read the leases) is not removed", async () => {
  const { root, name, anHourAgo } = await oldUnlistedBuild("prune-race", "taken");
  const pruner = new FunctionBuilds({ root }) as unknown as { prune(): Promise<void>; heldFolders(): Promise<Set<string>> };
  const heldFolders = pruner.heldFolders.bind(pruner);
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "_") || "host";
  // Another old unlisted folder, which another process's prune removes while this one runs.
  const removedMeanwhile = join(root, "f".repeat(16));
  mkdirSync(removedMeanwhile);
  utimesSync(removedMeanwhile, anHourAgo, anHourAgo);
  // A process (this one) takes the folder just after the prune read the leases: its lease lands then.
  pruner.heldFolders = async () => {
    const held = await heldFolders();
    pruner.heldFolders = heldFolders;
    rmSync(removedMeanwhile, { recursive: true });
    mkdirSync(join(root, "leases"), { recursive: true });
    writeFileSync(join(root, "leases", `${name}~${host}~${process.pid}`), "");
    return held;
  };
  await pruner.prune();
  assert.ok(existsSync(join(root, name, "index.mjs")), "the folder taken during the prune is still there");
  assert.equal(readdirSync(root).sort(), ["leases", name].sort(), "nothing else left behind");
  // Without the lease, the next prune removes it, and what a killed prune of this host had moved aside.
  rmSync(join(root, "leases", `${name}~${host}~${process.pid}`));
  const gone = spawnSync(process.execPath, ["-e", ""]).pid;
  const killedPrune = join(root, `${"0".repeat(16)}.pruned~${host}~${gone}`);
  const runningPrune = join(root, `${"1".repeat(16)}.pruned~${host}~${process.pid}`);
  for (const folder of [killedPrune, runningPrune]) mkdirSync(folder);
  await pruner.prune();
  assert.not.ok(existsSync(join(root, name)), "an unheld old unlisted folder goes");
  assert.not.ok(existsSync(killedPrune), "a killed prune's folder goes");
  assert.ok(existsSync(runningPrune), "a running prune's folder is its own");
});

test("a lease left by a killed process whose pid another process now runs under does not hold the folder", async () => {
  const { root, name } = await oldUnlistedBuild("reused", "reused");
  // A process that now runs (a sleeping child) under the pid of the lease's writer, killed long ago: the lease
  // names the writer as it was (the same pid, another process start).
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "_") || "host";
  const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  try {
    mkdirSync(join(root, "leases"), { recursive: true });
    const lease = join(root, "leases", `${name}~${host}~${other.pid}`);
    writeFileSync(lease, "started 1");
    await (new FunctionBuilds({ root }) as unknown as { prune(): Promise<void> }).prune();
    assert.not.ok(existsSync(join(root, name)), "the folder of the killed process goes");
    assert.not.ok(existsSync(lease), "its lease too");
  } finally {
    other.kill();
  }
});

test.run();
