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
import { accountForEvents, accountForPoison, crashRunningBatches, poisonRecord, recordsGivenUp, reportedInFailureEvents, waitUntilRead, withReaderTiming, type BatchCrasher } from "./stream-run";

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
  /**
   * The consumer's function timeout, seconds. A crashed attempt's idempotency lock lasts the invocation's remaining
   * time, so its batch is applied once a retry comes after the lock expired: the poller's retries (100 ms doubling to
   * 2 s) must outlast it, see `retryAttempts`. @default 4
   */
  consumerTimeoutSeconds?: number;
  /**
   * The consumer mapping's MaximumRetryAttempts. Its own (10) spans about 13 s of retries: enough for the default
   * timeout, not for a longer one (its crashed batches would be given up on before their locks expire).
   * @default the mapping's own
   */
  retryAttempts?: number;
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
    // Compressed time: a crashed attempt's lock (the invocation's remaining time) expires within the timeout (4 s).
    adjustWiring: (wiring) => withReaderTiming(wiring, CONSUMER, options.consumerTimeoutSeconds ?? 4, options.retryAttempts),
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
  let crasher: BatchCrasher | undefined;
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
    crasher = crashRunningBatches(stage.hosts.get(CONSUMER)!, { prng, max: rates.crashes, everyMs: 40 });

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
        const body = poisonRecord(prng, { seed: options.seed, i, type: EVENT, source: "ledger", data: { customerId: key } });
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
    const late = await waitUntilRead(stage, { stream: STREAM, reader: CONSUMER, role: "consumer", deadlineMs: options.deadlineMs ?? 120_000 });
    if (late) violations.push(late);
    crasher.stop();
    injected.crashes = crasher.count;

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
    /** The records inside an on-failure range (poison records given up on with their batch among them). */
    const givenUp = await recordsGivenUp(stage, STREAM, onFailure);
    const reported = reportedInFailureEvents(stage);

    const plannedIds = new Set(planned.map((p) => p.id));
    for (const event of planned) {
      const count = byEvent.get(event.id) ?? 0;
      if (count > 1) violations.push(`event ${event.id} (${event.key} #${event.n}) was applied ${count} times`);
    }
    const { applied, deadLettered, reported: reportedEvents } = accountForEvents(
      planned,
      { applied: (event) => (byEvent.get(event.id) ?? 0) >= 1, givenUp, reported, describe: (event) => `${event.key} #${event.n}` },
      violations,
    );
    for (const id of byEvent.keys()) if (!plannedIds.has(id)) violations.push(`a balance names ${id}, which no one put`);
    const { poisonReported, poisonDeadLettered } = accountForPoison(poisonBodies, { givenUp, reported }, violations);
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
      outcome: { applied, deadLettered, reported: reportedEvents, poisonReported, poisonDeadLettered },
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
    crasher?.stop();
    raw.destroy();
    dynamo.destroy();
    await stage.stop();
  }
}
