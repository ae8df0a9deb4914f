/**
 * A stream event source mapping as Lambda runs one for DynamoDB Streams and Kinesis ("Using Lambda with DynamoDB",
 * "Using Lambda with Kinesis", "Retain discarded records ..." in the Lambda developer guide), over any stream that
 * can be read shard by shard ({@link ShardSource}).
 *
 * - Each shard is read in order from its starting position (`TRIM_HORIZON`, `LATEST`, or after a checkpoint).
 *   Records no filter matches (`FilterCriteria`, compiled by `compileFilterCriteria`) are skipped: never invoked,
 *   never retried.
 * - One batch in flight per shard, times `ParallelizationFactor`: a shard's records are split over that many lanes by
 *   partition key (a hash), each with one batch in flight, so the records of one partition key are processed in order.
 * - A batch is `BatchSize` records at most (and 6 MB of event), sent once it is full or the oldest record waited
 *   `MaximumBatchingWindowInSeconds`.
 * - A function error fails the whole batch: it is retried, and its lane (the shard, with a factor of 1) waits until
 *   it succeeds. `BisectBatchOnFunctionError` splits a failed batch in two first, halves processed in order (a split
 *   does not consume the retry quota). `MaximumRetryAttempts` (-1: until the records expire) and
 *   `MaximumRecordAgeInSeconds` (-1: until they expire) bound the retries; the records given up on are skipped and
 *   described (shard, sequence range, batch size, not the data) to the on-failure destination in Lambda's shape
 *   ({@link OnFailureRecord}).
 * - With `ReportBatchItemFailures`, a response `{ batchItemFailures: [{ itemIdentifier: <sequence number> }] }`
 *   checkpoints before the lowest sequence number reported and retries from it (that counts as a retry); an invalid
 *   response (an unknown or empty identifier, a bad shape) fails the whole batch.
 * - A failure before the function runs (the invoke throws: throttled, no host) is retried without counting, until
 *   the records' age runs out.
 * - The checkpoint of a shard is the last record up to which everything was processed, skipped or given up on;
 *   a poller started with the checkpoints of the one it replaces (`checkpoints`) resumes there.
 */
import { createHash, randomUUID } from "node:crypto";
import { interpretBatchResponse } from "../sqs/poller";
import type { EventFilter } from "../dynamodb-streams/event-filter";

/** Where a mapping starts reading a shard it has no checkpoint for. */
export type StartingPosition = "TRIM_HORIZON" | "LATEST";

/** Where a reader starts: at the shard's oldest record, after its newest, or after a sequence number. */
export type ShardStart = StartingPosition | { after: string };

/** One record of a shard, with what the poller needs to know about it. */
export interface ShardRecord<R> {
  /** Increasing within the shard; compared as integers. */
  sequenceNumber: string;
  /** Records of one partition key stay in order (they share a lane under a parallelization factor). */
  partitionKey: string;
  /** When the stream got it (epoch ms): the record's age, and the batch info's approximate arrivals. */
  arrivalMs: number;
  /** What the function gets in `event.Records[]`. */
  record: R;
}

/** Reads one shard forward, from where it was opened. */
export interface ShardReader<R> {
  /** The next records (at most `limit`), in order; none when nothing new arrived. */
  read(limit: number): Promise<readonly ShardRecord<R>[]> | readonly ShardRecord<R>[];
  close?(): void;
}

/** A stream, as a shard poller reads it. DynamoDB Streams' is `recorderShardSource`; Kinesis plugs in the same way. */
export interface ShardSource<R> {
  /** The stream's ARN (the batch info's `streamArn`). */
  readonly streamArn: string;
  /** Which batch info the on-failure record carries. */
  readonly batchInfoKey: "DDBStreamBatchInfo" | "KinesisBatchInfo";
  /** The shard ids, in order (asked at start, then now and then to find new shards, which start at TRIM_HORIZON). */
  shards(): Promise<readonly string[]> | readonly string[];
  /** Opens a reader on a shard. `LATEST` means after the newest record at the time of opening. */
  reader(shardId: string, start: ShardStart): Promise<ShardReader<R>> | ShardReader<R>;
  /** What filter patterns are matched against (default: the record itself; Kinesis: the record with `data` decoded). */
  filterView?(record: R): unknown;
  /** How the batch info writes an arrival time (default ISO 8601 with milliseconds). */
  formatArrival?(ms: number): string;
  /** Calls back when a shard got records, so the poller reads at once instead of at its next poll. */
  watch?(listener: (shardId: string) => void): () => void;
}

/** What an invocation came to. A thrown error means the function was not invoked (throttled, not there). */
export type StreamInvokeOutcome =
  | { ok: true; payload: unknown }
  | { ok: false; error: string; /** `Unhandled` as Lambda reports a function error. */ functionError?: string };

/** What the poller hands the function host for one batch. */
export interface StreamBatch<R> {
  shardId: string;
  requestId: string;
  records: readonly ShardRecord<R>[];
  /**
   * Each record's JSON (`JSON.stringify(record.record)`), in the same order: the poller encodes each record once, to
   * keep the event under the 6 MB limit, and the host builds the event `{"Records":[...]}` from these strings instead
   * of encoding the records a second time.
   */
  recordsJson: readonly string[];
  /** 1 for the first invocation of these records, more on retries. */
  attempt: number;
}

/** The batch info of an on-failure record (`DDBStreamBatchInfo` / `KinesisBatchInfo`). */
export interface StreamBatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  approximateArrivalOfFirstRecord: string;
  approximateArrivalOfLastRecord: string;
  batchSize: number;
  streamArn: string;
}

/** Why records were given up on. */
export type OnFailureCondition = "RetryAttemptsExhausted" | "RecordAgeExceeded";

/**
 * What Lambda sends to a stream mapping's on-failure destination (SQS or SNS): metadata about the batch given up on,
 * not its records (the reader fetches them from the stream while retention lasts).
 */
export interface OnFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: OnFailureCondition; approximateInvokeCount: number };
  /** The last invocation's answer; absent when the records were never invoked. */
  responseContext?: { statusCode: number; executedVersion: string; functionError?: string };
  version: "1.0";
  timestamp: string;
  DDBStreamBatchInfo?: StreamBatchInfo;
  KinesisBatchInfo?: StreamBatchInfo;
}

/** What happened, for traces and tests. */
export type ShardPollerEvent<R> =
  | { kind: "filtered"; shardId: string; record: ShardRecord<R>; reason?: string }
  | { kind: "invoked"; shardId: string; requestId: string; records: number; attempt: number; outcome: "ok" | "partial" | "failed" | "not-invoked"; error?: string }
  | { kind: "bisected"; shardId: string; records: number }
  /** Records done: the function took them (a success, or before the lowest batch item failure). */
  | { kind: "processed"; shardId: string; records: readonly ShardRecord<R>[] }
  /** `refused`: the destination refused the on-failure record, so nothing records these records. */
  | { kind: "discarded"; shardId: string; condition: OnFailureCondition; records: readonly ShardRecord<R>[]; failure: OnFailureRecord; refused: boolean }
  /** A send to the on-failure destination failed: `refused` ones are not retried (the record is lost, as in Lambda). */
  | { kind: "destination-failed"; shardId: string; error: string; refused?: boolean };

/** An event source mapping's settings, with Lambda's names, defaults and limits. */
export interface ShardPollerOptions<R> {
  source: ShardSource<R>;
  /** The function's ARN (the on-failure record's `functionArn`). */
  functionArn: string;
  /** Runs one batch; see {@link StreamInvokeOutcome}. */
  invoke(batch: StreamBatch<R>): Promise<StreamInvokeOutcome>;
  /** Where to start shards without a checkpoint. Required by Lambda for streams. */
  startingPosition: StartingPosition;
  /** Checkpoints to resume from (a replaced poller's `checkpoints()`): shard id -> last sequence number done. */
  checkpoints?: ReadonlyMap<string, string>;
  /** 1..10000; default 100. */
  batchSize?: number;
  /** 0..300 s; default 0. */
  maximumBatchingWindowInSeconds?: number;
  /** 1..10; default 1. */
  parallelizationFactor?: number;
  bisectBatchOnFunctionError?: boolean;
  /** -1 (until the records expire) or 0..10000; default -1. */
  maximumRetryAttempts?: number;
  /** -1 (until the records expire) or 60..604800; default -1. */
  maximumRecordAgeInSeconds?: number;
  /** `FunctionResponseTypes: ["ReportBatchItemFailures"]`. */
  reportBatchItemFailures?: boolean;
  /** The mapping's compiled `FilterCriteria`. */
  filter?: EventFilter;
  /**
   * Sends an on-failure record to the destination (`DestinationConfig.OnFailure`); without one, records are just
   * skipped. Throwing {@link OnFailureDeliveryRefused} drops the record (Lambda's `DestinationDeliveryFailures`); any
   * other error is retried until the send succeeds.
   */
  onFailure?(record: OnFailureRecord): Promise<void>;
  onEvent?(event: ShardPollerEvent<R>): void;
  /** How often shards are read without a `watch` call (Lambda: 4 times a second for DynamoDB, once for Kinesis). @default 250 */
  pollIntervalMs?: number;
  /** First wait before a failed batch is retried, doubling up to `maxRetryDelayMs`. @default 100 */
  retryDelayMs?: number;
  /** @default 2000 */
  maxRetryDelayMs?: number;
  /** The clock (epoch ms) for record ages and timestamps. @default Date.now */
  now?: () => number;
}

/** A mapping setting outside Lambda's limits (`InvalidParameterValueException` on CreateEventSourceMapping). */
export class ShardPollerSettingError extends Error {
  override readonly name = "InvalidParameterValueException";
}

/**
 * The destination refused the on-failure record (the function's role may not send it there): Lambda counts a
 * `DestinationDeliveryFailures` and goes on with the shard, so the record of the batch given up on is lost ("Types of
 * metrics for Lambda functions" and "Retain discarded batch records" in the Lambda developer guide).
 */
export class OnFailureDeliveryRefused extends Error {
  override readonly name = "OnFailureDeliveryRefused";
}

/** Lambda's limit on an invocation's payload (synchronous invocation: 6 MB). */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

function checkRange(name: string, value: number, min: number, max: number, extra?: number): number {
  if (!Number.isInteger(value) || ((value < min || value > max) && value !== extra)) {
    const allowed = extra === undefined ? `between ${min} and ${max}` : `${extra}, or between ${min} and ${max}`;
    throw new ShardPollerSettingError(`${name} must be an integer ${allowed}; got ${value}.`);
  }
  return value;
}

interface Entry<R> {
  rec: ShardRecord<R>;
  seq: bigint;
  lane: number;
  /** The record's JSON (encoded once, when a batch first considers it), and its size in the event (with a comma). */
  json: string | undefined;
  bytes: number;
  /** When the poller read it (the batching window counts from there). */
  seenAt: number;
  claimed: boolean;
  done: boolean;
}

interface Batch<R> {
  entries: Entry<R>[];
  /** Failed invocations counted against MaximumRetryAttempts. */
  attempts: number;
  /** Invocations of these records (the on-failure record's approximateInvokeCount). */
  invocations: number;
  lastRequestId?: string;
  lastResponse?: OnFailureRecord["responseContext"];
}

interface Lane<R> {
  busy: boolean;
  /** Its records read and not done. */
  undone: number;
  /** Batches to run before taking new records: a batch being retried, the halves of a bisected one. */
  queued: Batch<R>[];
  notBefore: number;
  delay: number;
}

interface ShardState<R> {
  id: string;
  reader?: ShardReader<R>;
  opening?: Promise<void>;
  reading: boolean;
  readAgain: boolean;
  /** Read and not yet checkpointed, in order. */
  pending: Entry<R>[];
  checkpoint?: string;
  lanes: Lane<R>[];
  timer?: NodeJS.Timeout;
  timerAt: number;
  lastError?: string;
}

/** One shard's position and what is under way, for the admin API. */
export interface ShardPosition {
  shardId: string;
  /** The last sequence number up to which every record was processed, skipped or given up on. */
  checkpoint?: string;
  /** Records read and not done. */
  pending: number;
  /** Batches in flight now. */
  inFlight: number;
  /** Age of the oldest record not done (Lambda's IteratorAge, roughly), ms. */
  iteratorAgeMs: number;
  /** A batch waiting to be retried: its records and failed attempts. */
  retrying?: { records: number; attempts: number; firstSequenceNumber: string };
  lastError?: string;
}

/** The lane (of `lanes`) a partition key's records go to under a parallelization factor. */
export function laneOf(partitionKey: string, lanes: number): number {
  if (lanes === 1) return 0;
  return createHash("md5").update(partitionKey).digest().readUInt32BE(0) % lanes;
}

/** Reads a stream's shards and invokes a function with batches, as a Lambda stream event source mapping does. */
export class ShardPoller<R> {
  readonly batchSize: number;
  readonly windowMs: number;
  readonly parallelizationFactor: number;
  readonly maximumRetryAttempts: number;
  readonly maximumRecordAgeInSeconds: number;
  private readonly shards = new Map<string, ShardState<R>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;
  private readonly pollIntervalMs: number;
  private pollTimer?: NodeJS.Timeout;
  private unwatch?: () => void;
  private ticks = 0;
  private stopped = false;
  private started = false;
  /** Records given up on, by condition (counts). */
  readonly discarded = { RetryAttemptsExhausted: 0, RecordAgeExceeded: 0 };
  /** Records skipped by the filter. */
  filtered = 0;
  /** Invocations made. */
  invocations = 0;
  /** On-failure records the destination refused, so lost (Lambda's `DestinationDeliveryFailures` metric). */
  destinationDeliveryFailures = 0;

  constructor(private readonly options: ShardPollerOptions<R>) {
    if (options.startingPosition !== "TRIM_HORIZON" && options.startingPosition !== "LATEST") {
      throw new ShardPollerSettingError(`StartingPosition must be TRIM_HORIZON or LATEST; got ${String(options.startingPosition)}.`);
    }
    this.batchSize = checkRange("BatchSize", options.batchSize ?? 100, 1, 10000);
    this.windowMs = checkRange("MaximumBatchingWindowInSeconds", options.maximumBatchingWindowInSeconds ?? 0, 0, 300) * 1000;
    this.parallelizationFactor = checkRange("ParallelizationFactor", options.parallelizationFactor ?? 1, 1, 10);
    this.maximumRetryAttempts = checkRange("MaximumRetryAttempts", options.maximumRetryAttempts ?? -1, 0, 10000, -1);
    this.maximumRecordAgeInSeconds = checkRange("MaximumRecordAgeInSeconds", options.maximumRecordAgeInSeconds ?? -1, 60, 604800, -1);
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
  }

  get streamArn(): string {
    return this.options.source.streamArn;
  }

  get running(): boolean {
    return this.started && !this.stopped;
  }

  /** Batches in flight across shards. */
  get busy(): number {
    return this.inFlight.size;
  }

  /** Lists the shards and starts reading them. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.refreshShards(true);
    this.unwatch = this.options.source.watch?.((shardId) => {
      const shard = this.shards.get(shardId);
      if (shard) this.pump(shard);
      else void this.refreshShards(false);
    });
    this.pollTimer = setInterval(() => {
      // Shards come and go rarely (Kinesis resharding): asked about every 40 polls.
      if (++this.ticks % 40 === 0) void this.refreshShards(false);
      for (const shard of this.shards.values()) this.pump(shard);
    }, this.pollIntervalMs);
    this.pollTimer.unref?.();
    for (const shard of this.shards.values()) this.pump(shard);
  }

  /** Stops reading; batches in flight finish (and their results are checkpointed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.unwatch?.();
    for (const shard of this.shards.values()) if (shard.timer) clearTimeout(shard.timer);
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    for (const shard of this.shards.values()) shard.reader?.close?.();
  }

  /** Each shard's checkpoint (for a successor to resume from). */
  checkpoints(): Map<string, string> {
    const out = new Map(this.options.checkpoints ?? []);
    for (const shard of this.shards.values()) if (shard.checkpoint !== undefined) out.set(shard.id, shard.checkpoint);
    return out;
  }

  /** Where each shard is. */
  positions(): ShardPosition[] {
    const now = this.now();
    return [...this.shards.values()].map((shard) => {
      const oldest = shard.pending.find((e) => !e.done);
      const retrying = shard.lanes.map((l) => l.queued[0]).find((b) => b !== undefined && b.attempts > 0);
      return {
        shardId: shard.id,
        ...(shard.checkpoint !== undefined ? { checkpoint: shard.checkpoint } : {}),
        pending: shard.pending.filter((e) => !e.done).length,
        inFlight: shard.lanes.filter((l) => l.busy).length,
        iteratorAgeMs: oldest ? Math.max(0, now - oldest.rec.arrivalMs) : 0,
        ...(retrying ? { retrying: { records: retrying.entries.length, attempts: retrying.attempts, firstSequenceNumber: retrying.entries[0]!.rec.sequenceNumber } } : {}),
        ...(shard.lastError ? { lastError: shard.lastError } : {}),
      };
    });
  }

  private async refreshShards(initial: boolean): Promise<void> {
    let ids: readonly string[];
    try {
      ids = await this.options.source.shards();
    } catch (error) {
      if (initial) throw error;
      return;
    }
    for (const id of ids) {
      if (this.shards.has(id) || this.stopped) continue;
      const shard: ShardState<R> = {
        id,
        reading: false,
        readAgain: false,
        pending: [],
        lanes: Array.from({ length: this.parallelizationFactor }, () => ({ busy: false, undone: 0, queued: [], notBefore: 0, delay: 0 })),
        timerAt: 0,
      };
      const checkpoint = this.options.checkpoints?.get(id);
      if (checkpoint !== undefined) shard.checkpoint = checkpoint;
      // Shards found after the start are new (a Kinesis reshard's children): read from their start.
      const start: ShardStart = checkpoint !== undefined ? { after: checkpoint } : initial ? this.options.startingPosition : "TRIM_HORIZON";
      this.shards.set(id, shard);
      shard.opening = (async () => {
        shard.reader = await this.options.source.reader(id, start);
      })();
      if (initial) await shard.opening;
      else void shard.opening.then(() => this.pump(shard));
    }
  }

  /** Reads what is new on a shard, then starts the batches its free lanes can run. */
  private pump(shard: ShardState<R>): void {
    if (this.stopped || !shard.reader) return;
    void this.read(shard);
    this.dispatch(shard);
  }

  private async read(shard: ShardState<R>): Promise<void> {
    if (shard.reading) {
      shard.readAgain = true;
      return;
    }
    shard.reading = true;
    try {
      do {
        shard.readAgain = false;
        // Read ahead while some lane has less than two batches waiting, up to a bound: a lane blocked by a failing
        // batch does not stop the others (records of its keys wait in the buffer, the checkpoint stays before them).
        const ahead = this.batchSize * 2;
        if (!shard.lanes.some((l) => l.undone < ahead)) break;
        const room = Math.max(10_000, ahead * this.parallelizationFactor) - shard.lanes.reduce((n, l) => n + l.undone, 0);
        if (room <= 0) break;
        const chunk = Math.min(room, ahead * this.parallelizationFactor, 10_000);
        const records = await shard.reader!.read(chunk);
        if (!records.length) continue;
        const seenAt = Date.now();
        for (const rec of records) {
          const entry: Entry<R> = {
            rec,
            seq: BigInt(rec.sequenceNumber),
            lane: laneOf(rec.partitionKey, this.parallelizationFactor),
            json: undefined,
            bytes: 0,
            seenAt,
            claimed: false,
            done: false,
          };
          const filter = this.options.filter;
          if (filter) {
            const view = this.options.source.filterView ? this.options.source.filterView(rec.record) : rec.record;
            const verdict = filter.evaluate(view);
            if (!verdict.matched) {
              entry.claimed = entry.done = true;
              this.filtered++;
              this.options.onEvent?.({ kind: "filtered", shardId: shard.id, record: rec, ...(verdict.reason ? { reason: verdict.reason } : {}) });
            }
          }
          shard.pending.push(entry);
          shard.lanes[entry.lane]!.undone += entry.done ? 0 : 1;
        }
        this.advance(shard);
        this.dispatch(shard);
        if (records.length >= chunk) shard.readAgain = true;
      } while (shard.readAgain && !this.stopped);
      shard.lastError = undefined;
    } catch (error) {
      shard.lastError = `reading ${shard.id}: ${(error as Error).message}`;
    } finally {
      shard.reading = false;
    }
  }

  /** Starts a batch on each free lane that has one ready; schedules a wake-up for lanes waiting on a window or a retry. */
  private dispatch(shard: ShardState<R>): void {
    if (this.stopped) return;
    const now = Date.now();
    let wake = Number.POSITIVE_INFINITY;
    for (const [index, lane] of shard.lanes.entries()) {
      if (lane.busy) continue;
      if (lane.notBefore > now) {
        wake = Math.min(wake, lane.notBefore);
        continue;
      }
      let batch = lane.queued.shift();
      if (!batch) {
        const entries: Entry<R>[] = [];
        let bytes = 0;
        let full = false;
        for (const entry of shard.pending) {
          if (entry.lane !== index || entry.claimed) continue;
          // The event is {"Records":[...]}: each record's JSON and a comma.
          if (entry.json === undefined) {
            entry.json = JSON.stringify(entry.rec.record);
            entry.bytes = Buffer.byteLength(entry.json) + 1;
          }
          if (entries.length && bytes + entry.bytes > MAX_PAYLOAD_BYTES - 16) {
            full = true;
            break;
          }
          entries.push(entry);
          bytes += entry.bytes;
          if (entries.length >= this.batchSize) {
            full = true;
            break;
          }
        }
        if (!entries.length) continue;
        if (!full && this.windowMs > 0 && now - entries[0]!.seenAt < this.windowMs) {
          wake = Math.min(wake, entries[0]!.seenAt + this.windowMs);
          continue;
        }
        for (const entry of entries) entry.claimed = true;
        batch = { entries, attempts: 0, invocations: 0 };
      }
      lane.busy = true;
      const run: Promise<void> = this.run(shard, lane, batch)
        .catch((error: unknown) => {
          shard.lastError = (error as Error).message;
        })
        .finally(() => {
          lane.busy = false;
          this.inFlight.delete(run);
          this.advance(shard);
          if (!this.stopped) this.pump(shard);
        });
      this.inFlight.add(run);
    }
    if (wake !== Number.POSITIVE_INFINITY) this.wakeAt(shard, wake);
  }

  private wakeAt(shard: ShardState<R>, at: number): void {
    if (shard.timer && shard.timerAt <= at) return;
    if (shard.timer) clearTimeout(shard.timer);
    shard.timerAt = at;
    shard.timer = setTimeout(() => {
      shard.timer = undefined;
      shard.timerAt = 0;
      this.pump(shard);
    }, Math.max(0, at - Date.now()));
    shard.timer.unref?.();
  }

  private finish(shard: ShardState<R>, entry: Entry<R>): void {
    if (entry.done) return;
    entry.done = true;
    shard.lanes[entry.lane]!.undone--;
  }

  /** Drops the leading records that are done and moves the checkpoint past them. */
  private advance(shard: ShardState<R>): void {
    let drop = 0;
    while (drop < shard.pending.length && shard.pending[drop]!.done) drop++;
    if (!drop) return;
    shard.checkpoint = shard.pending[drop - 1]!.rec.sequenceNumber;
    shard.pending.splice(0, drop);
  }

  private async run(shard: ShardState<R>, lane: Lane<R>, batch: Batch<R>): Promise<void> {
    // Records past MaximumRecordAgeInSeconds are given up on before the invocation (they are the oldest, first).
    if (this.maximumRecordAgeInSeconds >= 0) {
      const horizon = this.now() - this.maximumRecordAgeInSeconds * 1000;
      let expired = 0;
      while (expired < batch.entries.length && batch.entries[expired]!.rec.arrivalMs < horizon) expired++;
      if (expired) {
        await this.discard(shard, batch, batch.entries.slice(0, expired), "RecordAgeExceeded");
        batch = { ...batch, entries: batch.entries.slice(expired) };
        if (!batch.entries.length) return this.succeeded(lane);
      }
    }
    const requestId = randomUUID();
    const records = batch.entries.map((e) => e.rec);
    let outcome: StreamInvokeOutcome;
    try {
      const recordsJson = batch.entries.map((e) => (e.json ??= JSON.stringify(e.rec.record)));
      outcome = await this.options.invoke({ shardId: shard.id, requestId, records, recordsJson, attempt: batch.invocations + 1 });
    } catch (error) {
      // Not invoked (throttled, no function): retried as it is, not counted, until the records' age runs out.
      const message = (error as Error).message;
      shard.lastError = message;
      this.options.onEvent?.({ kind: "invoked", shardId: shard.id, requestId, records: records.length, attempt: batch.invocations + 1, outcome: "not-invoked", error: message });
      this.retryLater(lane, batch);
      return;
    }
    this.invocations++;
    batch.invocations++;
    batch.lastRequestId = requestId;
    let failedFrom = 0;
    let error: string | undefined;
    if (outcome.ok) {
      const verdict = interpretBatchResponse(outcome.payload, records.map((r) => r.sequenceNumber), this.options.reportBatchItemFailures === true);
      if (verdict.ok && !verdict.failed.length) {
        this.options.onEvent?.({ kind: "invoked", shardId: shard.id, requestId, records: records.length, attempt: batch.invocations, outcome: "ok" });
        for (const entry of batch.entries) this.finish(shard, entry);
        this.options.onEvent?.({ kind: "processed", shardId: shard.id, records });
        shard.lastError = undefined;
        return this.succeeded(lane);
      }
      if (verdict.ok) {
        // Checkpoint before the lowest sequence number reported; retry from it.
        const lowest = verdict.failed.map((s) => BigInt(s)).reduce((a, b) => (b < a ? b : a));
        failedFrom = batch.entries.findIndex((e) => e.seq === lowest);
        batch.lastResponse = { statusCode: 200, executedVersion: "$LATEST" };
        this.options.onEvent?.({ kind: "invoked", shardId: shard.id, requestId, records: records.length, attempt: batch.invocations, outcome: "partial" });
      } else {
        error = `Invalid batch response: ${verdict.reason}`;
        batch.lastResponse = { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" };
      }
    } else {
      error = outcome.error;
      batch.lastResponse = { statusCode: 200, executedVersion: "$LATEST", functionError: outcome.functionError ?? "Unhandled" };
    }
    if (error !== undefined) {
      shard.lastError = error;
      this.options.onEvent?.({ kind: "invoked", shardId: shard.id, requestId, records: records.length, attempt: batch.invocations, outcome: "failed", error });
    }
    for (const entry of batch.entries.slice(0, failedFrom)) this.finish(shard, entry);
    if (failedFrom > 0) this.options.onEvent?.({ kind: "processed", shardId: shard.id, records: records.slice(0, failedFrom) });
    const rest: Batch<R> = { ...batch, entries: batch.entries.slice(failedFrom) };
    if (error !== undefined && this.options.bisectBatchOnFunctionError && rest.entries.length > 1) {
      // Split in two, halves in order; a split consumes no retry.
      const half = Math.ceil(rest.entries.length / 2);
      lane.queued.unshift(
        { entries: rest.entries.slice(0, half), attempts: rest.attempts, invocations: 0 },
        { entries: rest.entries.slice(half), attempts: rest.attempts, invocations: 0 },
      );
      this.options.onEvent?.({ kind: "bisected", shardId: shard.id, records: rest.entries.length });
      lane.notBefore = 0;
      return;
    }
    rest.attempts++;
    if (this.maximumRetryAttempts >= 0 && rest.attempts > this.maximumRetryAttempts) {
      await this.discard(shard, rest, rest.entries, "RetryAttemptsExhausted");
      return this.succeeded(lane);
    }
    this.retryLater(lane, rest);
  }

  private retryLater(lane: Lane<R>, batch: Batch<R>): void {
    lane.queued.unshift(batch);
    const base = this.options.retryDelayMs ?? 100;
    lane.delay = lane.delay ? Math.min(lane.delay * 2, this.options.maxRetryDelayMs ?? 2000) : base;
    lane.notBefore = Date.now() + lane.delay;
  }

  private succeeded(lane: Lane<R>): void {
    lane.delay = 0;
    lane.notBefore = 0;
  }

  /** Gives up on records: the on-failure record goes to the destination (retried until it is taken), then they are done. */
  private async discard(shard: ShardState<R>, batch: Batch<R>, entries: readonly Entry<R>[], condition: OnFailureCondition): Promise<void> {
    const source = this.options.source;
    const format = source.formatArrival ?? ((ms: number) => new Date(ms).toISOString());
    const first = entries[0]!.rec;
    const last = entries.at(-1)!.rec;
    const info: StreamBatchInfo = {
      shardId: shard.id,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: format(first.arrivalMs),
      approximateArrivalOfLastRecord: format(last.arrivalMs),
      batchSize: entries.length,
      streamArn: source.streamArn,
    };
    const failure: OnFailureRecord = {
      requestContext: {
        requestId: batch.lastRequestId ?? randomUUID(),
        functionArn: this.options.functionArn,
        condition,
        approximateInvokeCount: batch.invocations,
      },
      ...(batch.lastResponse ? { responseContext: batch.lastResponse } : {}),
      version: "1.0",
      timestamp: new Date(this.now()).toISOString(),
      [source.batchInfoKey]: info,
    };
    let refused = false;
    if (this.options.onFailure) {
      let delay = this.options.retryDelayMs ?? 100;
      for (;;) {
        try {
          await this.options.onFailure(failure);
          break;
        } catch (error) {
          if (error instanceof OnFailureDeliveryRefused) {
            // Not retried: the records are given up on all the same, with no record of them anywhere.
            this.destinationDeliveryFailures++;
            refused = true;
            shard.lastError = `on-failure destination refused the record: ${error.message}`;
            this.options.onEvent?.({ kind: "destination-failed", shardId: shard.id, error: error.message, refused: true });
            break;
          }
          this.options.onEvent?.({ kind: "destination-failed", shardId: shard.id, error: (error as Error).message });
          shard.lastError = `on-failure destination: ${(error as Error).message}`;
          if (this.stopped) return; // not done: a successor retries the records from the checkpoint
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 2000);
        }
      }
    }
    for (const entry of entries) this.finish(shard, entry);
    this.discarded[condition] += entries.length;
    this.options.onEvent?.({ kind: "discarded", shardId: shard.id, condition, records: entries.map((e) => e.rec), failure, refused });
  }
}
