// The bench's goal checks: each measured figure beside its goal, met or not; figures not measured are left out.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkGoals, goalLines, GOALS } from "../bench/goals";

test("each goal is met strictly inside its bound and not met on it or past it", () => {
  const met = checkGoals({ startupMs: 2999, warmingLatencyMs: 19.4, throughputPerSecond: 500, floorPerSecond: 1000, handlerEditMs: 499 });
  assert.equal(met.map((g) => g.met), [true, true, true, true]);
  const notMet = checkGoals({ startupMs: GOALS.startupMs, warmingLatencyMs: 20, throughputPerSecond: 499, floorPerSecond: 1000, handlerEditMs: 500 });
  assert.equal(notMet.map((g) => g.met), [false, false, false, false]);
});

test("the share of the floor is throughput over the floor's bound, printed with both figures", () => {
  const [share] = checkGoals({ throughputPerSecond: 290, floorPerSecond: 870 });
  assert.is(share!.figure, "0.33 (290 of 870 events/s)");
  assert.is(share!.goal, ">= 0.5");
  assert.is(share!.met, false);
});

test("goals whose figures were not measured are left out; lines align and say met or NOT MET", () => {
  const checks = checkGoals({ startupMs: 2500, warmingLatencyMs: 23 });
  assert.equal(checks.map((g) => g.name), ["start-up to the ready line (median)", "POST to the downstream write, warming (median)"]);
  const lines = goalLines(checks);
  assert.ok(lines[0]!.endsWith("  met"), lines[0]);
  assert.ok(lines[1]!.endsWith("  NOT MET"), lines[1]);
  assert.is(lines[0]!.indexOf("goal "), lines[1]!.indexOf("goal "));
  assert.equal(checkGoals({ throughputPerSecond: 100 }), []);
});

test.run();
