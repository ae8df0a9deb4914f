// scripts/test.mjs bounds each test file's run (TEST_FILE_TIMEOUT seconds, 360 unless set): a file whose tests ended
// but whose process never exits (a server, a timer, a client left open) fails in one line naming it, with the
// processes it started stopped, instead of holding `npm test` for good.
//
//   node --import tsx scripts/test/test-timeout.test.ts
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = join(__dirname, "..", "..");
let dir: string;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "test-timeout-"));
  // Passes its one test, starts a child that would outlive it, then never exits. It prints uvu's summary itself: it
  // lives outside the repository, where `uvu` does not resolve.
  writeFileSync(
    join(dir, "lingering.test.ts"),
    [
      'const { spawn } = require("node:child_process");',
      'const { writeFileSync } = require("node:fs");',
      'const child = spawn("sleep", ["600"], { stdio: "ignore" });',
      `writeFileSync(${JSON.stringify(join(dir, "child.pid"))}, String(child.pid));`,
      'console.log("Total: 1\\nPassed: 1");',
      "setInterval(() => undefined, 1000);",
    ].join("\n"),
  );
  writeFileSync(join(dir, "quick.test.ts"), 'console.log("Total: 1\\nPassed: 1");\n');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

function run(files: string[], timeout: string) {
  const result = spawnSync(process.execPath, [join(ROOT, "scripts", "test.mjs"), ...files.map((f) => join(dir, f))], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, TEST_FILE_TIMEOUT: timeout },
    timeout: 120_000,
  });
  const lines = result.stdout.trim().split("\n");
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, last: lines[lines.length - 1] ?? "" };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a file still running after TEST_FILE_TIMEOUT fails in one line naming it, and what it started is stopped", () => {
  // 10 s, not 3: each file is a Node process loading tsx, which a loaded machine (CI runs test files side by side)
  // can take seconds to start; the quick file must end within the bound.
  const result = run(["lingering.test.ts", "quick.test.ts"], "10");
  assert.is(result.status, 1, result.stdout + result.stderr);
  const line = result.stdout.split("\n").find((l) => l.includes("lingering.test.ts") && l.startsWith("✘"));
  assert.ok(line, result.stdout);
  assert.match(line!, "still running after 10s (TEST_FILE_TIMEOUT), stopped (its tests had ended: 1/1 passed; something kept the process alive)");
  assert.match(result.stdout, /✔ .*quick\.test\.ts {2}1/);
  assert.is(result.last, "2 passed, 1 failed");
  const pid = Number(readFileSync(join(dir, "child.pid"), "utf8"));
  // SIGKILL to the group is delivered at once; the kernel may take a moment to reap it.
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) spawnSync("sleep", ["0.2"]);
  assert.not.ok(alive(pid), "the file's own child was stopped with it");
});

test("within the bound a file counts as usual", () => {
  const result = run(["quick.test.ts"], "60");
  assert.is(result.status, 0, result.stdout + result.stderr);
  assert.is(result.last, "1 passed, 0 failed");
});

test("a TEST_FILE_TIMEOUT that is not a number of seconds is refused, naming the variable", () => {
  for (const bad of ["soon", "0", "-5"]) {
    const result = run(["quick.test.ts"], bad);
    assert.is(result.status, 1);
    assert.match(result.stderr, `TEST_FILE_TIMEOUT must be a number of seconds above 0 (got "${bad}")`);
  }
});

test.run();
