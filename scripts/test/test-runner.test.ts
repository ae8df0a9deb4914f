// scripts/test.mjs with --node (how CI runs tests on Lambda's Node.js 24, through scripts/node24.mjs): every test
// file runs on the binary given, which is also first on PATH for the tests' own children, and the run still ends with
// the "N passed, N failed" line that CI reads. The binaries here are small shell wrappers around this Node.js, so the
// test needs no download.
//
//   node --import tsx scripts/test/test-runner.test.ts
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = join(__dirname, "..", "..");
const SUMMARY = /^(\d+) passed, (\d+) failed$/;

let dir: string;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "test-runner-"));
  // A "Node.js" that marks its children, then runs the real one.
  mkdirBin("marked", `export RUN_BY_WRAPPER=yes\nexec "${process.execPath}" "$@"`);
  // One that claims to be Node.js 22.
  mkdirBin("node22", `if [ "$1" = "--version" ]; then echo v22.1.0; exit 0; fi\nexec "${process.execPath}" "$@"`);
  // A test file that passes only when run by the wrapper, with the wrapper's folder first on PATH. It prints uvu's
  // summary lines itself: it lives outside the repository, where `uvu` does not resolve.
  writeFileSync(
    join(dir, "probe.test.ts"),
    [
      'const first = (process.env.PATH ?? "").split(":")[0];',
      `const ok = process.env.RUN_BY_WRAPPER === "yes" && first === ${JSON.stringify(join(dir, "marked"))};`,
      'console.log(`Total: 1\\nPassed: ${ok ? 1 : 0}`);',
      "process.exit(ok ? 0 : 1);",
    ].join("\n"),
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

function mkdirBin(name: string, body: string): void {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, "node");
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

function run(script: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(ROOT, "scripts", script), ...args], { cwd: ROOT, encoding: "utf8" });
  const lines = result.stdout.trim().split("\n");
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, last: lines[lines.length - 1] ?? "" };
}

test("--node runs each test file on that binary, first on PATH, and ends with the summary line", () => {
  const result = run("test.mjs", ["--node", join(dir, "marked", "node"), join(dir, "probe.test.ts")]);
  assert.is(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, `on Node.js ${process.version} (${join(dir, "marked", "node")})`);
  assert.is(result.last, "1 passed, 0 failed");
});

test("without --node the same file runs on this Node.js, fails, and the summary line says so", () => {
  const result = run("test.mjs", [join(dir, "probe.test.ts")]);
  assert.is(result.status, 1);
  const summary = SUMMARY.exec(result.last);
  assert.ok(summary, `last line: ${result.last}`);
  assert.is(summary![2], "1");
});

test("--node without a runnable binary stops with a message naming it", () => {
  const missing = run("test.mjs", ["--node"]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, "--node needs the path of a Node.js binary");
  const broken = run("test.mjs", ["--node", join(dir, "nothing-here"), join(dir, "probe.test.ts")]);
  assert.is(broken.status, 1);
  assert.match(broken.stderr, `--node ${join(dir, "nothing-here")}: cannot run it`);
});

test("scripts/node24.mjs refuses a binary that is not Node.js 24, naming what it found", () => {
  const result = run("node24.mjs", ["--node", join(dir, "node22", "node")]);
  assert.is(result.status, 1);
  assert.match(result.stderr, `want a Node.js 24 binary, found v22.1.0`);
});

test.run();
