/**
 * Benchmark of the local stage with the example services (orders, billing):
 * - start-up: a fresh `shared/local/cli.ts` process until its ready line (median of 5);
 * - end-to-end latency: POST /orders until billing's invoice write has been answered by DynamoDB (median, p99 over
 *   200 sequential requests after a warm-up);
 * - throughput: 2,000 orders.order-placed published by hand, until billing has handled every one (SNS -> SQS ->
 *   handler -> DynamoDB -> SNS), in events per second.
 * Prints one JSON line at the end. Goals: start-up < 5 s, median latency < 20 ms, >= 1,000 events/s on 2 cores.
 *
 *   node --import tsx shared/local/bench/local-stage.ts [--runs 5] [--requests 200] [--events 2000]   (0 skips a part)
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { catalog } from "../../contract/catalog";
import { startLocalStage, type InvocationTrace, type LocalStage, type TraceTree } from "../stage";

const REPO = join(__dirname, "..", "..", "..");
const CLI = join(__dirname, "..", "cli.ts");

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number (0 skips that part)`);
  return value;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Spawns the CLI and measures the time to its ready line; then stops it with SIGINT. */
function startupOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--port", "0", "--quiet"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let ready: number | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no ready line within 60 s:\n${output}`));
    }, 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (ready === undefined && output.includes("local stage ready")) {
        ready = performance.now() - started;
        child.kill("SIGINT");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (ready !== undefined && code === 0) resolve(ready);
      else reject(new Error(`the stage exited with ${code} (ready: ${ready !== undefined}):\n${output}`));
    });
  });
}

/** The billing invocation's answered invoice write in a tree, if any. */
function invoiceWrittenAt(tree: TraceTree | undefined): number | undefined {
  if (!tree) return undefined;
  const invocations: InvocationTrace[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    const n = node as { kind?: string };
    if (n.kind === "invocation") invocations.push(node as InvocationTrace);
    for (const value of Object.values(node)) if (value && typeof value === "object") visit(value);
  };
  visit(tree.roots);
  for (const invocation of invocations) {
    if (invocation.label !== "billing/on-order-placed") continue;
    const write = invocation.writes.find((w) => w.table === "local-data" && w.result === "ok" && w.keys.some((k) => k.startsWith("$billing#")));
    if (write?.answeredAt !== undefined) return write.answeredAt;
  }
  return undefined;
}

async function latency(stage: LocalStage, requests: number): Promise<number[]> {
  const { orderId: _omitted, ...order } = catalog["orders.order-placed"].example;
  const body = JSON.stringify(order);
  const one = async (): Promise<number> => {
    const started = Date.now();
    const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await response.text();
    if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}`);
    const correlationId = response.headers.get("x-correlation-id")!;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const at = invoiceWrittenAt(stage.trace(correlationId));
      if (at !== undefined) return at - started;
      if (Date.now() > deadline) throw new Error(`no invoice for ${correlationId} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  for (let i = 0; i < 20; i++) await one(); // warm-up: cold starts, JIT
  const samples: number[] = [];
  for (let i = 0; i < requests; i++) samples.push(await one());
  return samples;
}

async function throughput(stage: LocalStage, events: number): Promise<{ seconds: number; perSecond: number }> {
  const queueArn = stage.sqs.listQueues().find((q) => q.name === "local-billing-on-order-placed")!.arn;
  const published = new Set<string>();
  let handled = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const stopListening = stage.sqs.addTraceListener((event) => {
    // A message is deleted once billing's handler succeeded for it (invoice written, invoice-issued published).
    if (event.kind === "sqs.deleted" && event.queueArn === queueArn && published.has(event.messageId) && ++handled === events) resolveDone();
  });
  const stopSent = stage.sqs.addTraceListener((event) => {
    if (event.kind === "sqs.sent" && event.queueArn === queueArn) published.add(event.messageId);
  });
  const example = catalog["orders.order-placed"].example;
  const started = performance.now();
  for (let i = 0; i < events; i++) stage.publish("orders.order-placed", { ...example, orderId: `bench-${i}` });
  const timeout = setTimeout(() => resolveDone(), 120_000);
  await done;
  clearTimeout(timeout);
  const seconds = (performance.now() - started) / 1000;
  stopListening();
  stopSent();
  if (handled < events) throw new Error(`only ${handled} of ${events} events were handled within 120 s`);
  return { seconds, perSecond: events / seconds };
}

async function main(): Promise<void> {
  const runs = option("runs", 5);
  const requests = option("requests", 200);
  const events = option("events", 2000);

  const startups: number[] = [];
  for (let i = 0; i < runs; i++) startups.push(await startupOnce());
  if (runs) console.error(`start-up: ${startups.map((s) => Math.round(s)).join(", ")} ms`);

  const stage = await startLocalStage({ port: 0, maxTraces: Math.max(5000, events + requests + 100) });
  try {
    const samples = requests ? await latency(stage, requests) : [];
    if (requests) console.error(`latency: median ${percentile(samples, 50)} ms, p99 ${percentile(samples, 99)} ms over ${samples.length} requests`);
    const rate = events ? await throughput(stage, events) : { seconds: 0, perSecond: 0 };
    if (events) console.error(`throughput: ${events} events in ${rate.seconds.toFixed(2)} s = ${Math.round(rate.perSecond)} events/s`);
    console.log(
      JSON.stringify({
        bench: "local-stage",
        cores: availableParallelism(),
        node: process.version,
        startupMs: runs ? { median: Math.round(percentile(startups, 50)), runs: startups.map(Math.round), goal: 5000 } : null,
        latencyMs: requests ? { median: percentile(samples, 50), p99: percentile(samples, 99), requests: samples.length, goalMedian: 20 } : null,
        throughput: events ? { events, seconds: round(rate.seconds, 2), perSecond: Math.round(rate.perSecond), goal: 1000 } : null,
      }),
    );
  } finally {
    await stage.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
