/**
 * Benchmark of the serial path beside the parallel one, in one local stage (the ledger service):
 * - SNS path: billing.invoice-issued published by hand (SNS -> SQS -> ledger/on-invoice-issued), until its entry write
 *   was answered by DynamoDB;
 * - stream path: ledger.entry-posted put on its Kinesis stream (PutRecord through the stage's Kinesis endpoint, as a
 *   function's SDK client puts it) -> the shard poller -> ledger/on-entry-posted, until its balance write was
 *   answered.
 * Latency: median and p99 of `--requests` sequential events after 20 warm-up events (the times are the stage's own
 * trace timestamps). Throughput: `--events` events at once (SNS: hand publishes; stream: PutRecords of 500, spread
 * over 50 partition keys), until the consumer handled every one, in events per second.
 * Both consumers do the same work per event (the idempotency lock, one entity write); on-invoice-issued also puts
 * the stream event (one more SDK call), so the SNS path's figures include it.
 *
 *   node --import tsx shared/local/bench/streams.ts [--requests 200] [--events 2000]
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { KinesisClient, PutRecordCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { catalog } from "../../contract/catalog";
import { createEvent } from "../../runtime/envelope";
import { startLocalStage, type InvocationTrace, type LocalStage, type TraceTree } from "../stage";

const REPO = join(__dirname, "..", "..", "..");
const STREAM = "local-ledger-entry-posted";

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

/** When the write of `label`'s invocation (key prefix) in a tree was answered, if it was. */
function writtenAt(tree: TraceTree | undefined, label: string, keyPrefix: string): number | undefined {
  if (!tree) return undefined;
  const invocations: InvocationTrace[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    if ((node as { kind?: string }).kind === "invocation") invocations.push(node as InvocationTrace);
    for (const value of Object.values(node)) if (value && typeof value === "object") visit(value);
  };
  visit(tree.roots);
  for (const invocation of invocations) {
    if (invocation.label !== label) continue;
    const write = invocation.writes.find((w) => w.table === "local-data" && w.result === "ok" && w.keys.some((k) => k.startsWith(keyPrefix)));
    if (write?.answeredAt !== undefined) return write.answeredAt;
  }
  return undefined;
}

async function waitFor(stage: LocalStage, correlationId: string, label: string, keyPrefix: string, started: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const at = writtenAt(stage.trace(correlationId), label, keyPrefix);
    if (at !== undefined) return at - started;
    if (Date.now() > deadline) throw new Error(`no write of ${label} for ${correlationId} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function entry(i: number, key = `customer-${i % 50}`) {
  return createEvent("ledger.entry-posted", { customerId: key, invoiceId: `invoice-bench-${i}`, amount: i }, { source: "ledger" });
}

async function main(): Promise<void> {
  const requests = option("requests", 200);
  const events = option("events", 2000);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const stage = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "ledger")], maxTraces: 1000 });
  const kinesis = new KinesisClient({
    region: stage.wiring.region,
    endpoint: stage.kinesis.url,
    requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  try {
    const invoice = catalog["billing.invoice-issued"].example;
    const sns = async (i: number) => {
      const started = Date.now();
      const sent = stage.publish("billing.invoice-issued", { ...invoice, invoiceId: `invoice-sns-${i}` });
      return waitFor(stage, sent.correlationId, "ledger/on-invoice-issued", "$ledger#entry", started);
    };
    const stream = async (i: number) => {
      const envelope = entry(i);
      const started = Date.now();
      await kinesis.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: envelope.data.customerId, Data: Buffer.from(JSON.stringify(envelope)) }));
      return waitFor(stage, envelope.correlationid, "ledger/on-entry-posted", "$ledger#balance", started);
    };
    const latency: Record<string, { median: number; p99: number }> = {};
    if (requests > 0) {
      for (const [name, one] of [["sns", sns], ["stream", stream]] as const) {
        for (let i = 0; i < 20; i++) await one(-1 - i);
        const samples: number[] = [];
        for (let i = 0; i < requests; i++) samples.push(await one(i));
        latency[name] = { median: percentile(samples, 50), p99: percentile(samples, 99) };
        console.log(`${name} path: publish to consumer write, median ${latency[name]!.median} ms, p99 ${latency[name]!.p99} ms (${requests} sequential events)`);
      }
    }
    const throughput: Record<string, { perSecond: number; seconds: number }> = {};
    if (events > 0) {
      // SNS: every message of ledger's queue deleted (handled).
      const queueArn = stage.sqs.listQueues().find((q) => q.name === "local-ledger-on-invoice-issued")!.arn;
      let handled = 0;
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const stop = stage.sqs.addTraceListener((event) => {
        if (event.kind === "sqs.deleted" && event.queueArn === queueArn && ++handled === events) done();
      });
      let started = performance.now();
      for (let i = 0; i < events; i++) stage.publish("billing.invoice-issued", { ...invoice, invoiceId: `invoice-burst-${i}` });
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 300_000))]);
      stop();
      if (handled < events) throw new Error(`SNS path: only ${handled} of ${events} handled`);
      let seconds = (performance.now() - started) / 1000;
      throughput.sns = { perSecond: round(events / seconds), seconds: round(seconds, 2) };
      console.log(`sns path: ${events} events in ${round(seconds, 2)} s = ${throughput.sns.perSecond} events/s`);

      // Stream: PutRecords of 500 over 50 keys, until the consumer's checkpoint of every shard passed the last record.
      const consumer = stage.kinesis.pollers.find((p) => p.functionName === "local-ledger-on-entry-posted")!.poller;
      started = performance.now();
      const last = new Map<string, bigint>();
      for (let from = 0; from < events; from += 500) {
        const batch = Array.from({ length: Math.min(500, events - from) }, (_, k) => entry(100_000 + from + k));
        const answer = await kinesis.send(
          new PutRecordsCommand({ StreamName: STREAM, Records: batch.map((e) => ({ PartitionKey: e.data.customerId, Data: Buffer.from(JSON.stringify(e)) })) }),
        );
        if (answer.FailedRecordCount) throw new Error(`${answer.FailedRecordCount} records were not put`);
        for (const r of answer.Records ?? []) {
          const seq = BigInt(r.SequenceNumber!);
          if (seq > (last.get(r.ShardId!) ?? 0n)) last.set(r.ShardId!, seq);
        }
      }
      const deadline = Date.now() + 300_000;
      for (;;) {
        const checkpoints = consumer.checkpoints();
        if ([...last].every(([shard, seq]) => checkpoints.get(shard) !== undefined && BigInt(checkpoints.get(shard)!) >= seq)) break;
        if (Date.now() > deadline) throw new Error("stream path: the consumer did not reach the last record within 300 s");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      seconds = (performance.now() - started) / 1000;
      throughput.stream = { perSecond: round(events / seconds), seconds: round(seconds, 2) };
      console.log(`stream path: ${events} events in ${round(seconds, 2)} s = ${throughput.stream.perSecond} events/s`);
    }
    console.log(JSON.stringify({ bench: "streams", cores: availableParallelism(), node: process.version, requests, events, latency, throughput }));
  } finally {
    kinesis.destroy();
    await stage.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
