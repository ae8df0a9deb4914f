/**
 * Fault benchmark of the local stage with the example services: runs of orders.order-placed events (by hand, through
 * POST /orders, and poison ones raw to the topic) while duplicates, redeliveries, crashes, transient DynamoDB errors,
 * undeliverable messages and a consumer stop are injected from a seeded plan; then every event is classified (applied
 * once, dead-lettered, or a failure event) and the invariants are checked. Each run prints its seed first (repeat it
 * with `--seed`), then the counts, the duration and events per second; one JSON line at the end. Exits with 1 when an
 * invariant breaks, the queue does not drain, or a POST /orders fails.
 *
 * Then a run of the serial path (faults/stream-scenario.ts: a Kinesis stream consumer under duplicates, throttled
 * puts, crashes and poison records), `--stream-events` events (0 skips it), with its own JSON line; and a run of the
 * relational path (faults/relational-scenario.ts: reporting's relational writer under duplicates, crashes with open
 * transactions and poison records, its projection compared with the events applied once), `--relational-events`
 * events (0 skips it).
 *
 *   node --import tsx shared/local/bench/faults.ts [--events 10000] [--runs 1] [--seed <n>] [--stream-events 2000] [--relational-events 500]
 */
import { availableParallelism } from "node:os";
import { formatCounts, randomSeed, runFaultScenario, type FaultRunResult } from "../faults";
import { runRelationalFaultScenario } from "../faults/relational-scenario";
import { runStreamFaultScenario } from "../faults/stream-scenario";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

function option(name: string): number | undefined {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return undefined;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number`);
  return value;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

function failures(result: FaultRunResult): string[] {
  const out = result.check.violations.slice(0, 20).map((v) => `violation ${v.rule}${v.ordinal === undefined ? "" : ` (event ${v.ordinal})`}: ${v.detail}`);
  if (result.check.violations.length > 20) out.push(`... and ${result.check.violations.length - 20} more`);
  for (const v of result.workflowViolations.slice(0, 20)) out.push(`workflow violation ${v.rule} (event ${v.eventId}): ${v.detail}`);
  if (!result.drained) out.push("the consumer's queue did not drain before the deadline");
  for (const failure of result.httpFailures.slice(0, 5)) out.push(`POST /orders for event ${failure.ordinal} answered ${failure.status}`);
  for (const explanation of result.explanations) out.push(`event ${explanation.eventId}:\n  ${explanation.injected.join("\n  ")}\n${explanation.trace}`);
  return out;
}

async function main(): Promise<void> {
  const events = option("events") ?? 10_000;
  const runs = option("runs") ?? 1;
  const firstSeed = option("seed");
  const results: FaultRunResult[] = [];
  let broken = false;
  for (let i = 0; i < runs; i++) {
    const seed = firstSeed === undefined ? randomSeed() : (firstSeed + i) >>> 0;
    console.log(`run ${i + 1}/${runs}: ${events} events, seed ${seed}`);
    const result = await runFaultScenario({ events, seed, onProgress: (line) => console.error(`  ${line}`) });
    results.push(result);
    const workMs = result.publishMs + result.drainMs;
    console.log(formatCounts(result));
    console.log(`  ${result.events} events in ${(workMs / 1000).toFixed(1)} s of publishing and draining = ${round(result.events / (workMs / 1000))} events/s`);
    const problems = failures(result);
    if (problems.length) {
      broken = true;
      console.log(problems.join("\n"));
    }
  }
  // The serial path: a stream consumer under duplicates, throttled puts, crashes and poison records.
  const streamEvents = option("stream-events") ?? 2000;
  if (streamEvents > 0) {
    const seed = firstSeed ?? randomSeed();
    console.log(`stream run: ${streamEvents} events, seed ${seed}`);
    const stream = await runStreamFaultScenario({ events: streamEvents, seed, deadlineMs: 600_000 });
    const { injected, outcome } = stream;
    console.log(
      `  injected: ${injected.duplicates} duplicates, ${injected.throttledRecords} throttled records, ${injected.crashes} crashes, ${injected.poison} poison records\n` +
        `  applied once ${outcome.applied}, dead-lettered ${outcome.deadLettered}, reported ${outcome.reported}, poison reported ${outcome.poisonReported} (in on-failure ranges ${outcome.poisonDeadLettered}); ${stream.onFailure.length} on-failure records; ${stream.violations.length} violations in ${round(stream.seconds, 1)} s`,
    );
    if (Object.keys(stream.consumerErrors).length) console.log(`  the consumer's warnings and errors: ${JSON.stringify(stream.consumerErrors)}`);
    if (stream.violations.length) {
      broken = true;
      console.log(stream.violations.slice(0, 20).join("\n"));
    }
    console.log(JSON.stringify({ bench: "faults-stream", seed, events: streamEvents, seconds: round(stream.seconds, 1), injected, outcome, violations: stream.violations.length }));
  }
  // The relational path: reporting's writer (stream -> Data API -> PostgreSQL) under duplicates, crashes and poison.
  const relationalEvents = option("relational-events") ?? 500;
  if (relationalEvents > 0) {
    const seed = firstSeed ?? randomSeed();
    console.log(`relational run: ${relationalEvents} events, seed ${seed}`);
    const run = await runRelationalFaultScenario({ events: relationalEvents, seed, deadlineMs: 600_000 });
    const { injected, outcome } = run;
    console.log(
      `  injected: ${injected.duplicates} duplicates, ${injected.crashes} crashes, ${injected.poison} poison records\n` +
        `  applied once ${outcome.applied} (${outcome.rows} revenue rows), dead-lettered ${outcome.deadLettered}, reported ${outcome.reported}, poison reported ${outcome.poisonReported} (in on-failure ranges ${outcome.poisonDeadLettered}); ${run.violations.length} violations in ${round(run.seconds, 1)} s`,
    );
    if (run.violations.length) {
      broken = true;
      console.log(run.violations.slice(0, 20).join("\n"));
    }
    console.log(JSON.stringify({ bench: "faults-relational", seed, events: relationalEvents, seconds: round(run.seconds, 1), injected, outcome, violations: run.violations.length }));
  }
  const totalEvents = results.reduce((sum, r) => sum + r.events, 0);
  const workSeconds = results.reduce((sum, r) => sum + (r.publishMs + r.drainMs) / 1000, 0);
  console.log(
    JSON.stringify({
      bench: "faults",
      cores: availableParallelism(),
      node: process.version,
      events: totalEvents,
      seconds: round(workSeconds, 1),
      perSecond: round(totalEvents / workSeconds),
      ok: !broken,
      runs: results.map((r) => ({
        seed: r.seed,
        events: r.events,
        seconds: round(r.durationMs / 1000, 1),
        publishSeconds: round(r.publishMs / 1000, 1),
        drainSeconds: round(r.drainMs / 1000, 1),
        perSecond: round(r.events / ((r.publishMs + r.drainMs) / 1000)),
        drained: r.drained,
        counts: r.counts,
      })),
    }),
  );
  if (broken) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
