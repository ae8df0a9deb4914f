// The relational writer under faults (shared/local/faults/relational-scenario.ts): a fixed seed's duplicates,
// crashes mid-batch (open Data API transactions abandoned) and poison records, and the projection in PostgreSQL
// equal to the one the events applied once make.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runRelationalFaultScenario } from "../faults/relational-scenario";

/**
 * The run's timing on a loaded machine (CI runs test files side by side on 2 cores). With the scenario's 1.5 s idle
 * time, two runs side by side on one core with four busy loops both failed at the start: a migration's statement ran
 * longer than that and its transaction was rolled back under it. 8 s idle; the writer's timeout above it and its own
 * work (30 s), and retries that outlast a crashed batch's lock (40, about 75 s); the deadline a bound for a hang. The
 * faults are the same: a crashed writer's transaction still holds the connection until it is rolled back.
 */
const TIMING = { transactionIdleMs: 8_000, writerTimeoutSeconds: 30, retryAttempts: 40, deadlineMs: 300_000 } as const;

test("seed 11, 120 events: duplicates, crashes and poison records leave the projection of the events applied once", async () => {
  const report = await runRelationalFaultScenario({ events: 120, seed: 11, rates: { duplicate: 0.15, poison: 0.05, crashes: 4 }, ...TIMING });
  assert.equal(report.violations, [], JSON.stringify(report, null, 2));
  assert.ok(report.injected.duplicates > 0, "duplicates were put");
  assert.ok(report.injected.poison > 0, "poison records were put");
  assert.ok(report.injected.crashes > 0, "the writer was crashed mid-batch");
  assert.is(report.outcome.applied + report.outcome.deadLettered + report.outcome.reported, 120);
  assert.ok(report.outcome.applied > 0);
  assert.is(report.outcome.poisonReported + report.outcome.poisonDeadLettered, report.injected.poison);
});

test.run();
