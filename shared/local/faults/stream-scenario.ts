/**
 * A fault run of the serial path: stream events (ledger.entry-posted, partition key customerId) put on their Kinesis
 * stream by the runtime's own publisher code (`sendToStreams`: PutRecords, partial failures retried) while faults
 * are injected, read by ledger's stream consumer through the local stage's shard poller (Lambda's semantics), and
 * checked: every event applied once, dead-lettered (its sequence number inside an on-failure record's range) or
 * reported (a failure event), none twice, and no partition key ever sees its events out of order.
 *
 * Faults, drawn from a seeded plan (the same seed, the same plan):
 * - duplicates: an event put twice (same envelope, same id: a publisher's retry after a lost answer);
 * - throttles: PutRecords answers ProvisionedThroughputExceededException for some records (the publisher re-puts
 *   only those, each partition key keeping its order);
 * - crashes: the consumer's execution environment is killed while it runs a batch (`FunctionHost.crash`): the
 *   batch is retried, the crashed attempt's idempotency lock holds until it expires;
 * - poison records: data that is no event (not JSON, or an envelope that breaks the schema) among a key's events.
 */
import { join } from "node:path";
import { ScanCommand, DynamoDBClient, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { KinesisClient, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createEvent } from "../../runtime/envelope";
import { resetAwsClients } from "../../runtime/aws-clients";
import { sendToStreams, type StreamMessage } from "../../runtime/stream-publish";
import type { OnFailureRecord } from "../streams/shard-poller";
import { startLocalStage, type LocalStage } from "../stage";
import { Prng } from "./prng";

const REPO = join(__dirname, "..", "..", "..");
const STREAM = "local-ledger-entry-posted";
const CONSUMER = "local-ledger-on-entry-posted";
const EVENT = "ledger.entry-posted";

/** How often each fault is drawn. */
export interface StreamFaultRates {
  /** An event put twice. */
  duplicate: number;
  /** A poison record put before an event, on its key. */
  poison: number;
  /** A PutRecords request that loses some of its records to throttling. */
  throttle: number;
  /** Crashes of the consumer while it runs a batch, in all. */
  crashes: number;
}

export const DEFAULT_STREAM_RATES: StreamFaultRates = { duplicate: 0.1, poison: 0.03, throttle: 0.2, crashes: 6 };

export interface StreamFaultOptions {
  events: number;
  seed: number;
  /** Partition keys (customers). @default 12 */
  keys?: number;
  rates?: Partial<StreamFaultRates>;
  /** @default 120000 */
  deadlineMs?: number;
  /** Called with the stage once the run is checked, before it stops (to look at what a report points to). */
  inspect?: (stage: LocalStage) => Promise<void>;
}

export interface StreamFaultReport {
  events: number;
  seed: number;
  injected: { duplicates: number; poison: number; throttledRecords: number; crashes: number };
  outcome: { applied: number; deadLettered: number; reported: number; poisonReported: number; poisonDeadLettered: number };
  /** Each on-failure record: why, how many records, after how many invocations, the last answer's error. */
  onFailure: { condition: string; records: number; invocations: number; functionError?: string }[];
  /** The consumer's WARN and ERROR log lines by message (retries it reported, and why). */
  consumerErrors: Record<string, number>;
  violations: string[];
  seconds: number;
}

interface Planned {
  id: string;
  key: string;
  n: number;
}

/** Runs the scenario on a fresh local stage (the ledger service only) and checks it. */
export async function runStreamFaultScenario(options: StreamFaultOptions): Promise<StreamFaultReport> {
  const rates = { ...DEFAULT_STREAM_RATES, ...options.rates };
  const prng = new Prng(options.seed);
  const started = performance.now();
  process.env.AWS_REGION ??= "us-east-1";
  process.env.AWS_ACCESS_KEY_ID = "fault-run";
  process.env.AWS_SECRET_ACCESS_KEY = "fault-run";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  /** The consumer's WARN and ERROR lines, counted by message (and error name). */
  const consumerErrors: Record<string, number> = {};
  /** The consumer's first "balance recorded" per event id, in the order they came (its log lines). */
  const appliedOrder: string[] = [];
  const stage: LocalStage = await startLocalStage({
    port: 0,
    serviceDirs: [join(REPO, "services", "ledger")],
    maxTraces: 200,
    // Compressed time: a crashed attempt's lock (the invocation's remaining time) expires within 4 s.
    adjustWiring: (wiring) => ({ ...wiring, functions: wiring.functions.map((f) => (f.name === CONSUMER ? { ...f, timeoutSeconds: 4 } : f)) }),
    onLog: (entry) => {
      if (entry.functionName !== CONSUMER) return;
      try {
        const line = JSON.parse(entry.message) as { message?: string; eventId?: string; level?: string; error?: { name?: string } };
        if (line.message === "balance recorded" && line.eventId) appliedOrder.push(line.eventId);
        if (line.level === "ERROR" || line.level === "WARN") {
          const what = `${line.message ?? "?"}${line.error?.name ? ` (${line.error.name})` : ""}`;
          consumerErrors[what] = (consumerErrors[what] ?? 0) + 1;
        }
      } catch {
        // Not a JSON line: the runtime's own (a crash, a timeout).
        if (/Task timed out|Runtime\.ExitError/.test(entry.message)) consumerErrors[entry.message.slice(0, 60)] = (consumerErrors[entry.message.slice(0, 60)] ?? 0) + 1;
      }
    },
  });
  const injected = { duplicates: 0, poison: 0, throttledRecords: 0, crashes: 0 };
  const violations: string[] = [];
  const dynamo = new DynamoDBClient({ region: stage.wiring.region, endpoint: stage.endpoints.dynalite, credentials: { accessKeyId: "fault-run", secretAccessKey: "f" } });
  const raw = new KinesisClient({ region: stage.wiring.region, endpoint: stage.kinesis.url, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
  let crashTimer: NodeJS.Timeout | undefined;
  try {
    process.env.AWS_ENDPOINT_URL_KINESIS = stage.kinesis.url;
    process.env.AWS_MAX_ATTEMPTS = "1";
    resetAwsClients();
    // Throttles: a planned share of PutRecords requests loses some records.
    stage.kinesis.faults = (call) => {
      if (call.operation !== "PutRecords" || call.records < 2 || !prng.chance(rates.throttle)) return undefined;
      const lost = [...new Set([prng.int(0, call.records - 1), prng.int(0, call.records - 1)])];
      injected.throttledRecords += lost.length;
      return { throttle: lost };
    };
    // Crashes: the consumer's running batches, killed now and then.
    const host = stage.hosts.get(CONSUMER)!;
    const running = new Set<string>();
    const invoke = host.invoke.bind(host);
    host.invoke = async (event, invokeOptions = {}) => {
      const requestId = invokeOptions.requestId;
      if (requestId) running.add(requestId);
      try {
        return await invoke(event, invokeOptions);
      } finally {
        if (requestId) running.delete(requestId);
      }
    };
    crashTimer = setInterval(() => {
      if (injected.crashes >= rates.crashes || running.size === 0 || !prng.chance(0.5)) return;
      const [requestId] = running;
      injected.crashes++;
      void host.crash({ requestId: requestId! });
    }, 40);

    // The events, per key numbered in order; poison records and duplicates among them.
    const keys = options.keys ?? 12;
    const counters = new Map<string, number>();
    const planned: Planned[] = [];
    const poisonBodies: string[] = [];
    type Put = { kind: "event"; message: StreamMessage } | { kind: "poison"; key: string; body: string };
    const puts: Put[] = [];
    for (let i = 0; i < options.events; i++) {
      const key = `customer-${prng.int(0, keys - 1)}`;
      const n = (counters.get(key) ?? 0) + 1;
      counters.set(key, n);
      if (prng.chance(rates.poison)) {
        const body = prng.chance(0.5) ? `not an event ${i}` : JSON.stringify({ specversion: "1.0", id: `poison-${options.seed}-${i}`, type: EVENT, source: "ledger", data: { customerId: key } });
        poisonBodies.push(body);
        puts.push({ kind: "poison", key, body });
        injected.poison++;
      }
      const envelope = createEvent(EVENT, { customerId: key, invoiceId: `invoice-${key}-${n}`, amount: n }, { source: "ledger" });
      planned.push({ id: envelope.id, key, n });
      const message: StreamMessage = { streamName: STREAM, envelope, partitionKey: key };
      puts.push({ kind: "event", message });
      if (prng.chance(rates.duplicate)) {
        puts.push({ kind: "event", message });
        injected.duplicates++;
      }
    }
    // Put in chunks through the runtime's publisher code; poison records with a plain PutRecord, in their place.
    let pending: StreamMessage[] = [];
    const flush = async () => {
      if (pending.length) await sendToStreams(pending, { attempts: 8, baseDelayMs: 20, maxDelayMs: 200 });
      pending = [];
    };
    for (const put of puts) {
      if (put.kind === "event") {
        pending.push(put.message);
        if (pending.length === 25) await flush();
      } else {
        await flush();
        await raw.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: put.key, Data: Buffer.from(put.body) }));
      }
    }
    await flush();

    // Drained: the consumer's checkpoint of every shard reached the shard's last record.
    const deadline = Date.now() + (options.deadlineMs ?? 120_000);
    for (;;) {
      const [stream] = (await stage.kinesis.listStreams()).filter((s) => s.name === STREAM);
      const consumer = stream?.consumers.find((c) => c.function === CONSUMER);
      const done = stream && consumer && stream.shards.every((s) => !s.lastSequenceNumber || (consumer.checkpoints[s.shardId] !== undefined && BigInt(consumer.checkpoints[s.shardId]!) >= BigInt(s.lastSequenceNumber)));
      if (done) break;
      if (Date.now() > deadline) {
        violations.push(`the consumer had not read the stream to its end after ${options.deadlineMs ?? 120_000} ms: ${JSON.stringify(consumer?.checkpoints)} of ${JSON.stringify(stream?.shards)}`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    clearInterval(crashTimer);

    // What happened: balance items, on-failure records (their ranges), failure events.
    const items: Record<string, unknown>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamo.send(new ScanCommand({ TableName: "local-data", ExclusiveStartKey: start, ConsistentRead: true }));
      items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
      start = page.LastEvaluatedKey;
    } while (start);
    const balances = items.filter((item) => String(item.pk).startsWith("$ledger#balance"));
    const byEvent = new Map<string, number>();
    for (const item of balances) byEvent.set(String(item.createdBy), (byEvent.get(String(item.createdBy)) ?? 0) + 1);
    const onFailure = stage.kinesis.onFailureRecords().map((f) => f.record as OnFailureRecord);
    const deadRanges = onFailure.flatMap((r) => (r.KinesisBatchInfo ? [r.KinesisBatchInfo] : []));
    const records = (await Promise.all((await stage.kinesis.engine.shards(STREAM)).map((s) => stage.kinesis.engine.readRange(STREAM, s.ShardId)))).flat();
    const deadIds = new Set<string>();
    /** The data of every record inside an on-failure range (poison records given up on with their batch). */
    const deadBodies = new Set<string>();
    for (const record of records) {
      const inRange = deadRanges.some(
        (r) => r.shardId === record.shardId && BigInt(record.sequenceNumber) >= BigInt(r.startSequenceNumber) && BigInt(record.sequenceNumber) <= BigInt(r.endSequenceNumber),
      );
      if (!inRange) continue;
      deadBodies.add(record.data.toString("utf8"));
      try {
        deadIds.add(String((JSON.parse(record.data.toString("utf8")) as { id?: unknown }).id));
      } catch {}
    }
    const failureQueue = stage.sqs.listQueues().find((q) => q.name === "local-platform-event-failed");
    const failureEvents = failureQueue
      ? stage.sqs.peek(failureQueue.arn).flatMap((m) => {
          try {
            return [JSON.parse(m.body) as { data: { originalId?: string; originalBody?: string; handler?: string } }];
          } catch {
            return [];
          }
        })
      : [];
    const reportedIds = new Set(failureEvents.map((f) => f.data.originalId).filter((id): id is string => id !== undefined));
    const reportedBodies = new Set(failureEvents.map((f) => f.data.originalBody));

    let applied = 0;
    let deadLettered = 0;
    let reported = 0;
    const plannedIds = new Set(planned.map((p) => p.id));
    for (const event of planned) {
      const count = byEvent.get(event.id) ?? 0;
      if (count > 1) violations.push(`event ${event.id} (${event.key} #${event.n}) was applied ${count} times`);
      if (count >= 1) applied++;
      else if (deadIds.has(event.id)) deadLettered++;
      else if (reportedIds.has(event.id)) reported++;
      else violations.push(`event ${event.id} (${event.key} #${event.n}) was lost: not applied, not in an on-failure range, not reported`);
    }
    for (const id of byEvent.keys()) if (!plannedIds.has(id)) violations.push(`a balance names ${id}, which no one put`);
    let poisonReported = 0;
    let poisonDeadLettered = 0;
    for (const body of poisonBodies) {
      if (reportedBodies.has(body)) poisonReported++;
      else if (deadBodies.has(body)) poisonDeadLettered++;
      else violations.push(`poison record ${body.slice(0, 60)} became no failure event and is in no on-failure range`);
    }
    // Order per partition key: each key's first applications come in put order.
    const position = new Map(planned.map((p) => [p.id, p]));
    const lastSeen = new Map<string, number>();
    const firstApplied = new Set<string>();
    for (const id of appliedOrder) {
      if (firstApplied.has(id)) continue;
      firstApplied.add(id);
      const event = position.get(id);
      if (!event) continue;
      const last = lastSeen.get(event.key) ?? 0;
      if (event.n < last) violations.push(`${event.key} saw #${event.n} after #${last}: out of order`);
      lastSeen.set(event.key, Math.max(last, event.n));
    }
    await options.inspect?.(stage);
    return {
      events: options.events,
      seed: options.seed,
      injected,
      outcome: { applied, deadLettered, reported, poisonReported, poisonDeadLettered },
      onFailure: onFailure.map((r) => ({
        condition: r.requestContext.condition,
        records: r.KinesisBatchInfo?.batchSize ?? 0,
        invocations: r.requestContext.approximateInvokeCount,
        ...(r.responseContext?.functionError ? { functionError: r.responseContext.functionError } : {}),
      })),
      consumerErrors,
      violations,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    clearInterval(crashTimer);
    raw.destroy();
    dynamo.destroy();
    await stage.stop();
  }
}
