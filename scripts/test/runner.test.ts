// scripts/test.mjs, the runner behind `npm test`, on suites written for the purpose in a scratch folder: its closing
// "N passed, N failed" line and its exit code must count a suite whose test.before hook threw (uvu itself reports no
// failure and exits 0 then), as CI and scripts/ci-user-services.mjs read them.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = join(__dirname, "..", "..");

function runSuites(suites: Record<string, string>): { code: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "runner-"));
  try {
    mkdirSync(join(dir, "scripts"));
    mkdirSync(join(dir, "suites"));
    copyFileSync(join(ROOT, "scripts", "test.mjs"), join(dir, "scripts", "test.mjs"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    for (const [name, source] of Object.entries(suites)) writeFileSync(join(dir, "suites", name), source);
    const result = spawnSync(process.execPath, ["scripts/test.mjs", "suites"], { cwd: dir, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
    return { code: result.status, output: `${result.stdout}${result.stderr}` };
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

test.run();
