// scripts/ci-user-services.ts (CI: the whole suite again in a copy with generated services) reads the copy's
// suite by its closing line and exit code; its own closing line must count a failure whenever the suite failed.
// The heavy run itself is CI's (.ci/run); this checks how it reads a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { suiteCounts } from "../ci-user-services";

test("a passing suite's counts are taken from its closing line", () => {
  assert.equal(suiteCounts("✔ a.test.ts  3\n\n412 passed, 0 failed\n", 0), { passed: 412, failed: 0 });
});

test("a failing suite keeps its counts; the last closing line is the suite's", () => {
  const output = "✘ b.test.ts  0/2\n──── b.test.ts ────\n(a generated test printing 9 passed, 0 failed)\n\n410 passed, 2 failed\n";
  assert.equal(suiteCounts(output, 1), { passed: 410, failed: 2 });
});

test("a suite stopped before its closing line (the type-check failed) is one failure", () => {
  assert.equal(suiteCounts("services/x/index.ts(3,1): error TS2304: Cannot find name 'y'.\n", 2), { passed: 0, failed: 1 });
});

test("a non-zero exit with no failure counted, or no closing line at all, is one failure", () => {
  assert.equal(suiteCounts("12 passed, 0 failed\n", 1), { passed: 12, failed: 1 });
  assert.equal(suiteCounts("", 0), { passed: 0, failed: 1 });
});

test.run();
