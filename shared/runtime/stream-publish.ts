import type { PutRecordsRequestEntry, PutRecordsResultEntry } from "@aws-sdk/client-kinesis";
import type { Envelope } from "../contract";
import { kinesisClient, kinesisModule } from "./kinesis-client";
import { PublishError } from "./errors";
import { groupBy } from "./collections";

/** One event on its way to a Kinesis data stream. */
export interface StreamMessage {
  /** The stream's name (`ENV.publishStreams`: the stream is in the function's own account and region). */
  readonly streamName: string;
  /** The CloudEvents envelope: the record's data is its JSON. */
  readonly envelope: Envelope;
  /** The value of the catalog's `partitionKeyField` (shared/contract/partition-key.ts). */
  readonly partitionKey: string;
}

/**
 * Kinesis's limits (API reference, PutRecords): 500 records per request; a record's data and partition key at most
 * 1 MiB together; 5 MiB per request, partition keys included.
 */
export const KINESIS_LIMITS = { batchRecords: 500, recordBytes: 1_048_576, batchBytes: 5_242_880 } as const;

/** How records a partial failure returns are retried: attempts in all (the first included), and the backoff. */
export interface StreamRetryOptions {
  /** @default 4 */
  attempts?: number;
  /** Delay before the first retry; each next one doubles it (full jitter), up to `maxDelayMs`. @default 100 */
  baseDelayMs?: number;
  /** @default 2000 */
  maxDelayMs?: number;
}

const DEFAULT_RETRY: Required<StreamRetryOptions> = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2000 };

interface Prepared {
  readonly entry: PutRecordsRequestEntry & { Data: Uint8Array; PartitionKey: string };
  readonly bytes: number;
  readonly eventId: string;
}

function prepare(message: StreamMessage): Prepared {
  const data = Buffer.from(JSON.stringify(message.envelope));
  const bytes = data.length + Buffer.byteLength(message.partitionKey);
  const eventId = message.envelope.id;
  if (bytes > KINESIS_LIMITS.recordBytes) {
    throw new PublishError(`event ${eventId} is ${bytes} bytes with its partition key; Kinesis accepts at most ${KINESIS_LIMITS.recordBytes}`, [eventId]);
  }
  return { entry: { Data: data, PartitionKey: message.partitionKey }, bytes, eventId };
}

/**
 * Splits in order into requests of at most 500 records and 5 MiB that hold at most one record per partition key:
 * PutRecords does not keep the order of the records of one request, and retrying a failed record after the others
 * of its request succeeded would put it behind them. One record per key per request, and each request done before
 * the next starts, keeps every key's order whatever fails.
 */
function chunk(entries: readonly Prepared[]): Prepared[][] {
  const chunks: Prepared[][] = [];
  let current: Prepared[] = [];
  let keys = new Set<string>();
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === KINESIS_LIMITS.batchRecords || bytes + entry.bytes > KINESIS_LIMITS.batchBytes || keys.has(entry.entry.PartitionKey)) {
      chunks.push(current);
      current = [];
      keys = new Set();
      bytes = 0;
    }
    current.push(entry);
    keys.add(entry.entry.PartitionKey);
    bytes += entry.bytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function backoff(retry: Required<StreamRetryOptions>, attempt: number): number {
  const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

async function putOne(streamName: string, record: Prepared): Promise<void> {
  const { PutRecordCommand } = kinesisModule();
  try {
    await kinesisClient().send(new PutRecordCommand({ StreamName: streamName, Data: record.entry.Data, PartitionKey: record.entry.PartitionKey }));
  } catch (cause) {
    throw new PublishError(`putting event ${record.eventId} on stream ${streamName} failed: ${describe(cause)}`, [record.eventId], { cause });
  }
}

/**
 * One PutRecords request, then again with only the records a partial failure returned (their `ErrorCode`), with
 * backoff, at most `retry.attempts` times in all. A request that fails whole is not retried here (the SDK's own retry
 * strategy already retried it).
 */
async function putChunk(streamName: string, chunk: readonly Prepared[], retry: Required<StreamRetryOptions>): Promise<void> {
  const { PutRecordsCommand } = kinesisModule();
  let pending = [...chunk];
  let failures: { record: Prepared; result: PutRecordsResultEntry }[] = [];
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    if (attempt > 1) await sleep(backoff(retry, attempt - 1));
    let results: PutRecordsResultEntry[];
    try {
      const response = await kinesisClient().send(new PutRecordsCommand({ StreamName: streamName, Records: pending.map((p) => p.entry) }));
      results = response.Records ?? [];
    } catch (cause) {
      const ids = pending.map((p) => p.eventId);
      throw new PublishError(`putting ${pending.length} events on stream ${streamName} failed: ${describe(cause)}`, ids, { cause });
    }
    failures = pending.flatMap((record, i) => {
      const result = results[i];
      return result === undefined || result.ErrorCode ? [{ record, result: result ?? { ErrorCode: "Missing", ErrorMessage: "no result for this record" } }] : [];
    });
    if (failures.length === 0) return;
    pending = failures.map((f) => f.record);
  }
  const reasons = [...new Set(failures.map((f) => `${f.result.ErrorCode}: ${f.result.ErrorMessage ?? ""}`))].join("; ");
  const ids = failures.map((f) => f.record.eventId);
  throw new PublishError(
    `Kinesis refused ${failures.length} of ${chunk.length} events on stream ${streamName} after ${retry.attempts} attempts (${reasons}): ${ids.join(", ")}`,
    ids,
  );
}

/**
 * Sends events to Kinesis data streams: PutRecord for a single event, PutRecords for several to one stream (see
 * `chunk` for how they are split so each partition key keeps its order). Records a partial failure returns are
 * retried with backoff (`retry`), then a `PublishError` names the events that were not put. Streams are sent one
 * after another, requests in order.
 */
export async function sendToStreams(messages: readonly StreamMessage[], retry: StreamRetryOptions = {}): Promise<void> {
  const options = { ...DEFAULT_RETRY, ...retry };
  // Every event prepared (and checked) before the first request, in order, as the streams' entries.
  const prepared = messages.map((message) => ({ streamName: message.streamName, entry: prepare(message) }));
  for (const [streamName, list] of groupBy(prepared, (p) => p.streamName)) {
    const entries = list.map((p) => p.entry);
    if (entries.length === 1) {
      await putOne(streamName, entries[0]!);
      continue;
    }
    for (const part of chunk(entries)) await putChunk(streamName, part, options);
  }
}
