// scripts/test.mjs, the runner behind `npm test`, on suites written for the purpose in a scratch folder: its closing
// "N passed, N failed" line and its exit code must count a suite whose test.before hook threw (uvu itself reports no
// failure and exits 0 then), as CI and scripts/ci-user-services.mjs read them.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = join(__dirname, "..", "..");

function runSuites(
  suites: Record<string, string>,
  options: { durations?: Record<string, number>; env?: Record<string, string> } = {},
): { code: number | null; output: string; durations?: Record<string, number> } {
  const dir = mkdtempSync(join(tmpdir(), "runner-"));
  try {
    mkdirSync(join(dir, "scripts"));
    mkdirSync(join(dir, "suites"));
    copyFileSync(join(ROOT, "scripts", "test.mjs"), join(dir, "scripts", "test.mjs"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    for (const [name, source] of Object.entries(suites)) writeFileSync(join(dir, "suites", name), source);
    const durationsFile = join(dir, ".build", "test-durations.json");
    if (options.durations) {
      mkdirSync(join(dir, ".build"));
      writeFileSync(durationsFile, JSON.stringify(options.durations));
    }
    const result = spawnSync(process.execPath, ["scripts/test.mjs", "suites"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "0", ...options.env },
    });
    const durations = existsSync(durationsFile) ? JSON.parse(readFileSync(durationsFile, "utf8")) : undefined;
    return { code: result.status, output: `${result.stdout}${result.stderr}`, durations };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const passing = `import { test } from "uvu";\nimport * as assert from "uvu/assert";\ntest("holds", () => assert.ok(true));\ntest.run();\n`;

test("a suite whose test.before hook throws is counted as failed, with the tests that never ran", () => {
  const { code, output } = runSuites({
    "a.test.ts": passing,
    "b.test.ts": [
      `import { test } from "uvu";`,
      `import * as assert from "uvu/assert";`,
      `test.before(() => { throw new Error("the set-up fails on purpose"); });`,
      `test("never runs", () => assert.ok(true));`,
      `test("nor this", () => assert.ok(true));`,
      `test.run();`,
    ].join("\n"),
  });
  assert.is(code, 1, output);
  assert.match(output, /✘ suites\/b\.test\.ts {2}0\/2 .* 2 did not run \(a test\.before hook threw\?\)/);
  assert.match(output, /\n1 passed, 2 failed\n$/);
});

test("passing suites: exit 0 and a closing line with no failure", () => {
  const { code, output } = runSuites({ "a.test.ts": passing, "b.test.ts": passing });
  assert.is(code, 0, output);
  assert.match(output, /\n2 passed, 0 failed\n$/);
});

const started = (output: string) => output.split("\n").filter((line) => line.startsWith("✔")).map((line) => line.split(/\s+/)[1]);

test("the files that took longest in the last run start first; each run records every file's duration", () => {
  const suites = { "a.test.ts": passing, "b.test.ts": passing, "c.test.ts": passing, "d.test.ts": passing };
  // One lane, so the order of the result lines is the order of the starts.
  const run = runSuites(suites, { durations: { "suites/c.test.ts": 30, "suites/a.test.ts": 2, "suites/gone.test.ts": 9 }, env: { TEST_CONCURRENCY: "1" } });
  assert.is(run.code, 0, run.output);
  // Longest recorded first; the files never recorded (b, d) after them, in alphabetical order.
  assert.equal(started(run.output), ["suites/c.test.ts", "suites/a.test.ts", "suites/b.test.ts", "suites/d.test.ts"]);
  // Every file that ran is recorded; a file that is gone leaves the record.
  assert.equal(Object.keys(run.durations ?? {}).sort(), ["suites/a.test.ts", "suites/b.test.ts", "suites/c.test.ts", "suites/d.test.ts"]);
  assert.ok(run.durations!["suites/c.test.ts"]! < 30, "this run's duration replaces the recorded one");
  assert.match(run.output, /\n4 passed, 0 failed\n$/);
});

test.run();
