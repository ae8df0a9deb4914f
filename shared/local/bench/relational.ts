/**
 * Benchmark of the relational path on the local stage:
 * - start-up with and without a relational service: a fresh process starting the stage with every example service
 *   but reporting (no relational store: PGlite is never loaded), then with reporting too (PGlite loaded from its
 *   base image, the Data API endpoint, reporting's migrations applied), median of `--runs` each, alternating; the
 *   start-up goal (< 3 s, goals.ts) is for the stage without one;
 * - local Data API statement latency: `--statements` sequential ExecuteStatement calls through the unmodified SDK
 *   client (a primary-key SELECT with parameters as reporting's role, then an UPSERT), median and p99;
 * - writes per second through stream -> writer -> Postgres: `--events` ledger.entry-posted put on the Kinesis stream
 *   (PutRecords of 500 over 50 partition keys), until reporting's relational writer has checkpointed past the last
 *   record, each event one transaction (processed_events + the revenue upsert).
 *
 *   node --import tsx shared/local/bench/relational.ts [--runs 3] [--statements 500] [--events 2000]
 *   (0 skips a part)
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createEvent } from "../../runtime/envelope";
import { discoverServiceDirs, startLocalStage } from "../stage";
import { GOALS } from "./goals";

const REPO = join(__dirname, "..", "..", "..");
const STREAM = "local-ledger-entry-posted";
const WRITER = "local-reporting-on-entry-posted";

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number (0 skips that part)`);
  return value;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** The child: starts a stage with the given services, prints the stage's start-up time, stops. */
async function child(): Promise<void> {
  const dirs = JSON.parse(process.env.RELATIONAL_BENCH_DIRS ?? "[]") as string[];
  const stage = await startLocalStage({ port: 0, serviceDirs: dirs, maxTraces: 10 });
  process.stdout.write(`${JSON.stringify({ startupMs: stage.startupMs, relational: stage.relational.enabled })}\n`);
  await stage.stop();
}

/** A fresh process: from spawn to its stage's ready answer (the process's own start included, as npm start's). */
function startOnce(dirs: string[]): Promise<{ wallMs: number; startupMs: number; relational: boolean }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, ["--import", "tsx", __filename, "--child"], { cwd: REPO, env: { ...process.env, RELATIONAL_BENCH_DIRS: JSON.stringify(dirs) }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line && out.includes("\n")) {
        const wallMs = performance.now() - started;
        const parsed = JSON.parse(line) as { startupMs: number; relational: boolean };
        proc.on("exit", () => resolve({ wallMs, ...parsed }));
      }
    });
    proc.on("error", reject);
    proc.on("exit", (code) => {
      if (!out.includes("{")) reject(new Error(`the stage did not start (exit ${code})`));
    });
  });
}

async function main(): Promise<void> {
  const runs = option("runs", 3);
  const statements = option("statements", 500);
  const events = option("events", 2000);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const summary: Record<string, unknown> = { bench: "relational", cores: availableParallelism(), node: process.version };

  // Start-up, with and without the relational service, alternating.
  if (runs > 0) {
    const all = discoverServiceDirs(REPO);
    const without = all.filter((d) => !d.endsWith(`${"/"}reporting`));
    const withRelational = all;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < runs; i++) {
      const none = await startOnce(without);
      if (none.relational) throw new Error("the stage without reporting started its relational part");
      a.push(none.wallMs);
      const some = await startOnce(withRelational);
      if (!some.relational) throw new Error("the stage with reporting did not start its relational part");
      b.push(some.wallMs);
    }
    const median = (v: number[]) => percentile(v, 50);
    const goal = GOALS.startupMs;
    console.log(`start-up without a relational service: median ${round(median(a) / 1000, 2)} s (goal < ${goal / 1000} s: ${median(a) < goal ? "met" : "NOT met"}); runs ${a.map((x) => round(x / 1000, 2)).join(", ")}`);
    console.log(`start-up with reporting (PGlite, Data API, migrations): median ${round(median(b) / 1000, 2)} s; runs ${b.map((x) => round(x / 1000, 2)).join(", ")}`);
    summary.startup = { withoutRelationalMs: Math.round(median(a)), withRelationalMs: Math.round(median(b)), runs, goalMs: goal, goalMet: median(a) < goal };
  }

  if (statements === 0 && events === 0) {
    console.log(JSON.stringify(summary));
    return;
  }
  const stage = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "ledger"), join(REPO, "services", "reporting")], maxTraces: 200 });
  try {
    // Statement latency through the local Data API, as a function's client sends them.
    if (statements > 0) {
      const client = await stage.relational.client();
      const cluster = stage.relational.cluster!;
      const secretArn = stage.relational.stores.find((s) => s.schema === "reporting")!.secretArn!;
      const base = { resourceArn: cluster.clusterArn, secretArn, database: cluster.database };
      const upsert = (i: number) =>
        client.executeStatement({
          ...base,
          sql: "insert into revenue (customer_id, day, amount_cents, entries) values (:c, cast(:d as date), :a, 1) on conflict (customer_id, day) do update set amount_cents = revenue.amount_cents + excluded.amount_cents, entries = revenue.entries + 1",
          parameters: [
            { name: "c", value: { stringValue: `bench-${i % 50}` } },
            { name: "d", value: { stringValue: "2026-12-01" } },
            { name: "a", value: { longValue: 100 } },
          ],
        });
      const select = (i: number) =>
        client.executeStatement({
          ...base,
          sql: "select amount_cents, entries from revenue where customer_id = :c and day = :d",
          parameters: [
            { name: "c", value: { stringValue: `bench-${i % 50}` } },
            { name: "d", value: { stringValue: "2026-12-01" }, typeHint: "DATE" },
          ],
          formatRecordsAs: "JSON",
        });
      for (let i = 0; i < 50; i++) await upsert(i); // warm-up, and rows to read
      const reads: number[] = [];
      const writes: number[] = [];
      for (let i = 0; i < statements; i++) {
        let t = performance.now();
        await select(i);
        reads.push(performance.now() - t);
        t = performance.now();
        await upsert(i);
        writes.push(performance.now() - t);
      }
      console.log(`Data API ExecuteStatement, ${statements} each: SELECT by key median ${round(percentile(reads, 50), 2)} ms, p99 ${round(percentile(reads, 99), 2)} ms; UPSERT median ${round(percentile(writes, 50), 2)} ms, p99 ${round(percentile(writes, 99), 2)} ms`);
      summary.statement = {
        select: { medianMs: round(percentile(reads, 50), 2), p99Ms: round(percentile(reads, 99), 2) },
        upsert: { medianMs: round(percentile(writes, 50), 2), p99Ms: round(percentile(writes, 99), 2) },
        count: statements,
      };
    }

    // Writes per second: stream -> relational writer -> PostgreSQL.
    if (events > 0) {
      const kinesis = new KinesisClient({ region: stage.wiring.region, endpoint: stage.kinesis.url, requestHandler: new NodeHttpHandler(), credentials: { accessKeyId: "bench", secretAccessKey: "b" } });
      const records = Array.from({ length: events }, (_, i) => {
        const customerId = `bench-stream-${i % 50}`;
        const envelope = createEvent("ledger.entry-posted", { customerId, invoiceId: `invoice-${i}`, amount: 1 }, { source: "ledger" });
        return { PartitionKey: customerId, Data: Buffer.from(JSON.stringify(envelope)) };
      });
      const started = performance.now();
      for (let i = 0; i < records.length; i += 500) await kinesis.send(new PutRecordsCommand({ StreamName: STREAM, Records: records.slice(i, i + 500) }));
      for (;;) {
        const [stream] = (await stage.kinesis.listStreams()).filter((s) => s.name === STREAM);
        const consumer = stream?.consumers.find((c) => c.function === WRITER);
        if (stream && consumer && stream.shards.every((s) => !s.lastSequenceNumber || (consumer.checkpoints[s.shardId] !== undefined && BigInt(consumer.checkpoints[s.shardId]!) >= BigInt(s.lastSequenceNumber)))) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const seconds = (performance.now() - started) / 1000;
      kinesis.destroy();
      const shards = (await stage.kinesis.listStreams()).find((s) => s.name === STREAM)?.shards.length ?? 0;
      console.log(`stream -> relational writer -> Postgres: ${events} events in ${round(seconds, 1)} s: ${round(events / seconds)} writes per second (${shards} shards, one transaction per event)`);
      summary.writes = { events, seconds: round(seconds, 1), perSecond: round(events / seconds), shards };
    }
  } finally {
    await stage.stop();
  }
  console.log(JSON.stringify(summary));
}

if (process.argv.includes("--child")) {
  child().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
