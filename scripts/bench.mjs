#!/usr/bin/env node
// `npm run bench`: runs every benchmark one after another (never in parallel: they compare timings side by side on
// one machine) and collects their JSON summary lines at the end. Targets are checked here, not in tests.
//   node scripts/bench.mjs               all benchmarks
//   node scripts/bench.mjs cold-start    those whose path contains a word
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const benches = [
  "shared/runtime/bench/cold-start.ts",
  // The cold start's import part by part (CPU time per package and init step), consumer beside the hand-written one.
  "shared/runtime/bench/cold-start-phases.ts",
  "generators/bench/new-service.ts",
  "shared/local/bench/local-stage.ts",
  // The serial path beside the SNS path: publish to consumer write, latency and events per second.
  "shared/local/bench/streams.ts",
  // POST /orders to billing's write through the outbox, beside a direct publish, in one run (npm run bench outbox).
  "shared/local/bench/outbox.ts",
  // orders.order-placed to the end of fulfilment's fulfil-order saga, one event at a time (npm run bench workflow).
  "shared/local/bench/workflow.ts",
  // The relational path: start-up with and without a relational service, Data API statement latency, stream ->
  // relational writer -> Postgres writes per second (npm run bench relational).
  "shared/local/bench/relational.ts",
  // About 4 minutes: 10,000 events through the local stage under faults, random seed.
  "shared/local/bench/faults.ts",
];
const filters = process.argv.slice(2);
const chosen = benches.filter((b) => existsSync(new URL(b, `file://${root}`)) && (filters.length === 0 || filters.some((f) => b.includes(f))));
const summaries = [];
let failed = 0;
for (const bench of chosen) {
  console.log(`\n=== ${bench}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", bench], { cwd: root, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  process.stdout.write(result.stdout);
  if (result.status !== 0) {
    failed++;
    console.log(`${bench} failed (exit ${result.status})`);
  }
  for (const line of result.stdout.split("\n")) {
    if (line.startsWith("{") && /"bench(mark)?"/.test(line)) summaries.push(line);
  }
}
console.log("\n=== summary");
for (const line of summaries) console.log(line);
process.exit(failed ? 1 : 0);
