// The serial path under faults (shared/local/faults/stream-scenario.ts): duplicates, throttled puts, crashes of the
// consumer and poison records, with a fixed seed; every event applied once, dead-lettered or reported, none twice,
// each partition key in order.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runStreamFaultScenario } from "../faults/stream-scenario";

test("a fixed-seed stream fault run: nothing lost, nothing twice, every key in order", async () => {
  const report = await runStreamFaultScenario({ events: 150, seed: 7 });
  assert.equal(report.violations, [], report.violations.join("\n"));
  assert.ok(report.injected.duplicates > 0, "duplicates were put");
  assert.ok(report.injected.poison > 0, "poison records were put");
  assert.ok(report.injected.throttledRecords > 0, "puts were throttled");
  assert.ok(report.injected.crashes > 0, "the consumer crashed");
  assert.is(report.outcome.applied + report.outcome.deadLettered + report.outcome.reported, 150);
  assert.is(report.outcome.poisonReported + report.outcome.poisonDeadLettered, report.injected.poison);
});

test.run();
