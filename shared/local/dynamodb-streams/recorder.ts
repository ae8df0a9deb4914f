/**
 * DynamoDB Streams for the local DynamoDB: each table with a stream gets shards of records in DynamoDB Streams'
 * shape (the record Lambda receives in `event.Records[]`), appended as the write engine ({@link WriteEngine})
 * reports item changes. Records of one partition key land in one shard, in write order; sequence numbers increase
 * within a table (21+ digits, as AWS's). Records stay for the stream's retention (24 hours) and are read by shard
 * and position, as a stream event source mapping reads them.
 */
import { createHash, randomUUID } from "node:crypto";
import { canonicalNumber, itemSize, keyOf, type Item, type PrimaryKey } from "./attribute-values";

/** What a table's stream writes for each change (`StreamSpecification.StreamViewType`). */
export type StreamViewType = "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES";

export const STREAM_VIEW_TYPES: readonly StreamViewType[] = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"];

/** A table's stream as the program declared it. */
export interface TableStream {
  /** The stream's ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`): the records' `eventSourceARN`. */
  streamArn: string;
  viewType: StreamViewType;
  /** The table's primary key. */
  key: PrimaryKey;
  /** Partition keys are spread over this many shards (records of one partition key always share one). @default 1 */
  shards?: number;
}

/** One record, as DynamoDB Streams gives it to Lambda. */
export interface StreamRecord {
  eventID: string;
  eventName: "INSERT" | "MODIFY" | "REMOVE";
  eventVersion: "1.1";
  eventSource: "aws:dynamodb";
  awsRegion: string;
  dynamodb: {
    /** Epoch seconds. */
    ApproximateCreationDateTime: number;
    Keys: Item;
    NewImage?: Item;
    OldImage?: Item;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: StreamViewType;
  };
  eventSourceARN: string;
}

/** A change to one item, as the write engine saw it (before and after the write). */
export interface ItemChange {
  table: string;
  /** The item before the write; absent when it did not exist. */
  oldImage?: Item;
  /** The item after the write; absent when the write deleted it. */
  newImage?: Item;
}

/** A record and where it was stored. */
export interface StoredRecord {
  table: string;
  shardId: string;
  record: StreamRecord;
  /** When it was appended (epoch ms), for retention. */
  at: number;
}

/** Options of {@link StreamRecorder}. */
export interface StreamRecorderOptions {
  /** The records' `awsRegion`. */
  region: string;
  /** How long records stay readable. @default 24 hours (DynamoDB Streams' retention) */
  retentionMs?: number;
  /** The clock (epoch ms). @default Date.now */
  now?: () => number;
  /**
   * Whether records stay here to be read ({@link StreamRecorder.read}, `readStored`, `records`,
   * `latestSequenceNumber`). `false`: each record is only handed to the listeners, which keep what they need (the
   * DynamoDB thread's recorder: its records are read from the main thread's copy, and holding a second day of them
   * in the thread's heap only made its garbage collection slower). @default true
   */
  retain?: boolean;
}

/** Hears each record appended or ingested, with the origin its write named (appended records only). */
export type RecordListener = (stored: StoredRecord, origin?: string) => void;

interface Shard {
  id: string;
  records: StoredRecord[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The stream records of every table with a stream. */
export class StreamRecorder {
  private readonly streams = new Map<string, { spec: TableStream; shards: Shard[] }>();
  private readonly listeners = new Set<RecordListener>();
  private lastSequence = 0n;
  private readonly now: () => number;

  constructor(private readonly options: StreamRecorderOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Turns a table's stream on (or changes its view type); its records so far stay. */
  enable(table: string, spec: TableStream): void {
    if (!STREAM_VIEW_TYPES.includes(spec.viewType)) {
      throw new Error(`stream of table ${table}: StreamViewType ${String(spec.viewType)} is not one of ${STREAM_VIEW_TYPES.join(", ")}`);
    }
    const count = Math.max(1, Math.floor(spec.shards ?? 1));
    const existing = this.streams.get(table);
    const shards = existing?.shards.length === count ? existing.shards : Array.from({ length: count }, (_, i) => ({ id: shardId(spec.streamArn, i), records: [] as StoredRecord[] }));
    this.streams.set(table, { spec, shards });
  }

  /** The table's stream, if it has one. */
  stream(table: string): TableStream | undefined {
    return this.streams.get(table)?.spec;
  }

  /** Whether writes to this table need their old and new images. */
  has(table: string): boolean {
    return this.streams.has(table);
  }

  /** The tables with a stream. */
  tables(): string[] {
    return [...this.streams.keys()];
  }

  /** The shard ids of a table's stream, in order. */
  shardIds(table: string): string[] {
    return this.streams.get(table)?.shards.map((s) => s.id) ?? [];
  }

  /**
   * Called for every record appended (after it is stored), with the origin its write named (see
   * {@link StreamRecorder.append}). A throwing listener does not stop the write.
   */
  subscribe(listener: RecordListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Appends the record of one item change, if the table has a stream and the item changed: a write that left the
   * item as it was (or deleted nothing) writes no record, as in DynamoDB Streams. `origin` (the request that made
   * the change, when the writer knows it) goes to the listeners with the record; it is not part of the record.
   */
  append(change: ItemChange, changed: boolean, origin?: string): StoredRecord | undefined {
    const stream = this.streams.get(change.table);
    if (!stream || !changed) return undefined;
    const { spec } = stream;
    const image = change.newImage ?? change.oldImage;
    const keys = image ? keyOf(image, spec.key) : undefined;
    if (!keys) return undefined;
    const eventName = change.oldImage === undefined ? "INSERT" : change.newImage === undefined ? "REMOVE" : "MODIFY";
    const withNew = (spec.viewType === "NEW_IMAGE" || spec.viewType === "NEW_AND_OLD_IMAGES") && change.newImage !== undefined;
    const withOld = (spec.viewType === "OLD_IMAGE" || spec.viewType === "NEW_AND_OLD_IMAGES") && change.oldImage !== undefined;
    const at = this.now();
    const record: StreamRecord = {
      eventID: randomUUID().replaceAll("-", ""),
      eventName,
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: this.options.region,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(at / 1000),
        Keys: keys,
        ...(withNew ? { NewImage: change.newImage } : {}),
        ...(withOld ? { OldImage: change.oldImage } : {}),
        SequenceNumber: this.nextSequence(at),
        SizeBytes: itemSize(keys) + (withNew ? itemSize(change.newImage) : 0) + (withOld ? itemSize(change.oldImage) : 0),
        StreamViewType: spec.viewType,
      },
      eventSourceARN: spec.streamArn,
    };
    const shard = stream.shards[shardIndex(keys[spec.key.partitionKey]!, stream.shards.length)]!;
    const stored: StoredRecord = { table: change.table, shardId: shard.id, record, at };
    if (this.options.retain !== false) {
      this.trim(shard, at);
      shard.records.push(stored);
    }
    for (const listener of this.listeners) {
      try {
        listener(stored, origin);
      } catch {
        // a listener's failure is its own
      }
    }
    return stored;
  }

  /**
   * Stores a record another recorder made (the copy on the other side of a thread boundary: the engine and its
   * recorder run beside dynalite in the DynamoDB thread, the stream's readers in the main thread). The table's
   * stream must be enabled here with the same ARN and shard count, so shard ids agree; records keep their
   * sequence numbers and arrive in order.
   */
  ingest(stored: StoredRecord): void {
    const stream = this.streams.get(stored.table);
    const shard = stream?.shards.find((s) => s.id === stored.shardId);
    if (!stream || !shard) throw new Error(`table ${stored.table} has no stream shard ${stored.shardId} here: enable it with the same stream ARN and shard count`);
    const sequence = BigInt(stored.record.dynamodb.SequenceNumber);
    if (sequence > this.lastSequence) this.lastSequence = sequence;
    if (this.options.retain !== false) {
      this.trim(shard, this.now());
      shard.records.push(stored);
    }
    for (const listener of this.listeners) {
      try {
        listener(stored);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /**
   * Records of one shard after a sequence number (from its start without one; `TRIM_HORIZON`), at most `limit`,
   * in order. Records older than the retention are gone (all of them, for a recorder that does not retain records).
   */
  read(table: string, shardId: string, options: { after?: string; limit?: number } = {}): StreamRecord[] {
    return this.readStored(table, shardId, options).map((stored) => stored.record);
  }

  /** Like {@link read}, with where and when each record was stored (a shard poller's view). */
  readStored(table: string, shardId: string, options: { after?: string; limit?: number } = {}): StoredRecord[] {
    const shard = this.streams.get(table)?.shards.find((s) => s.id === shardId);
    if (!shard) throw new Error(`table ${table} has no stream shard ${shardId}`);
    this.trim(shard, this.now());
    const records = shard.records;
    // Sequence numbers increase along a shard: find the first one after `after` by bisection.
    let low = 0;
    if (options.after !== undefined) {
      const after = BigInt(options.after);
      let high = records.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (BigInt(records[mid]!.record.dynamodb.SequenceNumber) <= after) low = mid + 1;
        else high = mid;
      }
    }
    const end = options.limit === undefined ? records.length : Math.min(records.length, low + options.limit);
    return records.slice(low, end);
  }

  /** The sequence number of a shard's newest retained record (where `LATEST` starts reading after). */
  latestSequenceNumber(table: string, shardId: string): string | undefined {
    const shard = this.streams.get(table)?.shards.find((s) => s.id === shardId);
    if (!shard) throw new Error(`table ${table} has no stream shard ${shardId}`);
    return shard.records.at(-1)?.record.dynamodb.SequenceNumber;
  }

  /** Every retained record of a table, shard by shard (for tests and the console). */
  records(table: string): StreamRecord[] {
    return this.shardIds(table).flatMap((id) => this.read(table, id));
  }

  private trim(shard: Shard, at: number): void {
    const horizon = at - (this.options.retentionMs ?? DAY_MS);
    let drop = 0;
    while (drop < shard.records.length && shard.records[drop]!.at < horizon) drop++;
    if (drop) shard.records.splice(0, drop);
  }

  /** Increasing within the recorder, 22 digits from the clock (like AWS's 21+ digit numbers). */
  private nextSequence(at: number): string {
    const fromClock = BigInt(at) * 1_000_000_000n;
    this.lastSequence = fromClock > this.lastSequence ? fromClock : this.lastSequence + 1n;
    return this.lastSequence.toString().padStart(21, "0");
  }
}

/** A shard id shaped like DynamoDB Streams' (`shardId-00000001700000000000-1a2b3c4d`). */
function shardId(streamArn: string, index: number): string {
  const hash = createHash("sha256").update(`${streamArn}#${index}`).digest("hex").slice(0, 8);
  return `shardId-${String(index + 1).padStart(20, "0")}-${hash}`;
}

function shardIndex(partitionValue: Record<string, unknown>, count: number): number {
  if (count === 1) return 0;
  const [type, raw] = Object.entries(partitionValue)[0] ?? ["", ""];
  const digest = createHash("md5").update(`${type}:${type === "N" ? canonicalNumber(String(raw)) : String(raw)}`).digest();
  return digest.readUInt32BE(0) % count;
}
