/**
 * The local Kinesis engine: kinesalite (Kinesis on npm, dynalite's sibling) in a worker thread of its own, called
 * through its request listener (no port of its own: the stage's Kinesis endpoint, endpoint.ts, is the only way in,
 * after IAM). In memory, or LevelDB under a folder (`--persist`). The thread loads kinesalite and its LevelDB
 * modules, and runs its work, on the machine's other core (the stage's start loaded them on its own thread before).
 */
import { mkdirSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { EngineChannel, type AnswerMessage } from "../engine-thread/channel";

/** A Kinesis answer: HTTP status and JSON body (an error body has `__type` and `message`). */
export interface KinesisAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** A stream as the stage creates it. */
export interface StreamSpecInput {
  name: string;
  shardCount: number;
  retentionHours?: number;
}

/** A record read back from a shard (data decoded from base64). */
export interface KinesisStoredRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
  /** Epoch ms. */
  arrivalMs: number;
}

/** The answer was an error: `code` is Kinesis's error type (`ResourceNotFoundException`). */
export class KinesisEngineError extends Error {
  override name = "KinesisEngineError";
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(`${code}: ${message}`);
  }
}

const TARGET = "Kinesis_20131202";

/**
 * The thread: kinesalite's request listener, fed `{ id, headers, payload }`, answering `{ answer: id, status, text }`
 * (or `{ answer: id, error }` when the listener throws); `{ id, op: "close" }` closes its store and answers
 * `{ answer: id }`: the engine thread channel's messages (shared/local/engine-thread/channel.ts), written here by hand
 * because the thread is plain JavaScript (no loader needed in it).
 */
const THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const { EventEmitter } = require("node:events");
// kinesalite reads the account and region of its ARNs from the environment once (this thread's own copy).
process.env.AWS_ACCOUNT_ID = workerData.accountId;
process.env.AWS_REGION = workerData.region;
const server = require(workerData.kinesalite)(workerData.options);
const listener = server.listeners("request")[0];
parentPort.on("message", ({ id, headers, payload, op }) => {
  if (op === "close") return server.close(() => parentPort.postMessage({ answer: id }));
  const req = Object.assign(new EventEmitter(), { method: "POST", url: "/", headers, socket: {} });
  let status = 200;
  let done = false;
  const res = {
    get statusCode() { return status; },
    set statusCode(value) { status = value; },
    headersSent: false,
    setHeader: () => res,
    getHeader: () => undefined,
    removeHeader: () => undefined,
    end(chunk) {
      if (done) return res;
      done = true;
      parentPort.postMessage({ answer: id, status, text: chunk === undefined ? "" : chunk.toString() });
      return res;
    },
  };
  try {
    listener(req, res);
    req.emit("data", Buffer.from(payload));
    req.emit("end");
  } catch (error) {
    if (!done) parentPort.postMessage({ answer: id, error: { message: String(error && error.message || error) } });
  }
});
`;

function headers(operation: string, payload: string): Record<string, string> {
  const date = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return {
    host: "localhost",
    "content-type": "application/x-amz-json-1.1",
    "content-length": String(Buffer.byteLength(payload)),
    "x-amz-target": `${TARGET}.${operation}`,
    "x-amz-date": date,
    // kinesalite checks the header's shape, not the signature (the stage's endpoint checked the caller).
    authorization: `AWS4-HMAC-SHA256 Credential=local-kinesis/${date.slice(0, 8)}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0`,
  };
}

/** An answer's text as Kinesis's JSON (a text kinesalite should never send is an InternalFailure). */
function decodeAnswer(message: AnswerMessage): KinesisAnswer {
  const text = (message.text as string | undefined) ?? "";
  try {
    return { status: (message.status as number | undefined) ?? 200, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return { status: 500, body: { __type: "InternalFailure", message: `unreadable answer from kinesalite: ${text.slice(0, 200)}` } };
  }
}

/** Kinesis with its streams, in a thread of this process. */
export class KinesisEngine {
  private readonly channel: EngineChannel;
  private closed = false;
  /** Where its data lives: `memory` or a folder. */
  readonly storage: string;

  /**
   * @param options.region, options.accountId what stream ARNs say (kinesalite reads them from the environment once)
   * @param options.path keep the streams in LevelDB under this folder
   */
  constructor(readonly options: { region: string; accountId: string; path?: string }) {
    if (options.path) mkdirSync(options.path, { recursive: true });
    const worker = new Worker(THREAD, {
      eval: true,
      workerData: {
        kinesalite: require.resolve("kinesalite"),
        accountId: options.accountId,
        region: options.region,
        options: { createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000, ...(options.path ? { path: options.path } : {}) },
      },
    });
    this.channel = new EngineChannel(worker, {
      engine: "the Kinesis engine's thread",
      // kinesalite did not load, or the thread died: every call fails with this, from then on.
      stopped: (stop) => new Error(`the Kinesis engine's thread failed: ${"error" in stop ? stop.error.message : "exitCode" in stop ? `it exited with code ${stop.exitCode}` : stop.failed.message}`),
      decode: decodeAnswer,
      // The thread keeps the process alive only while a call waits for it (as kinesalite in this thread never did).
      refWhileWaiting: true,
    });
    this.storage = options.path ?? "memory";
  }

  /** The ARN of a stream of this engine. */
  streamArn(name: string): string {
    return `arn:aws:kinesis:${this.options.region}:${this.options.accountId}:stream/${name}`;
  }

  /** One Kinesis call (JSON 1.1), as kinesalite answers it. */
  call(operation: string, input: unknown): Promise<KinesisAnswer> {
    if (this.closed) return Promise.resolve({ status: 503, body: { __type: "ServiceUnavailable", message: "the local Kinesis engine has stopped" } });
    const payload = JSON.stringify(input);
    return this.channel.request<KinesisAnswer>({ headers: headers(operation, payload), payload });
  }

  /** A call whose error answer throws (`KinesisEngineError` with Kinesis's code). */
  async request<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T> {
    const answer = await this.call(operation, input);
    if (answer.status !== 200) {
      throw new KinesisEngineError(String(answer.body.__type ?? "InternalFailure"), String(answer.body.message ?? answer.body.Message ?? ""), answer.status);
    }
    return answer.body as T;
  }

  /**
   * Creates a stream with its shard count and retention, or checks the one already there (a persisted stream keeps
   * its shards; a different count is reported, not changed).
   * @returns `created`, `exists`, or a sentence saying how the stream there differs
   */
  async ensureStream(spec: StreamSpecInput): Promise<"created" | "exists" | string> {
    try {
      await this.request("CreateStream", { StreamName: spec.name, ShardCount: spec.shardCount });
    } catch (error) {
      if (!(error instanceof KinesisEngineError) || error.code !== "ResourceInUseException") throw error;
      const shards = (await this.shards(spec.name)).length;
      return shards === spec.shardCount ? "exists" : `stream ${spec.name} has ${shards} shards from an earlier run (the program asks for ${spec.shardCount}): delete the persist folder to recreate it`;
    }
    // CreateStream answers while the stream is CREATING (kinesalite: for a tick): wait until it takes records.
    for (let i = 0; (await this.describe(spec.name)).status !== "ACTIVE"; i++) {
      if (i > 200) throw new KinesisEngineError("ResourceInUseException", `stream ${spec.name} did not become ACTIVE`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const hours = spec.retentionHours ?? 24;
    if (hours > 24) await this.request("IncreaseStreamRetentionPeriod", { StreamName: spec.name, RetentionPeriodHours: hours });
    return "created";
  }

  /** Deletes a stream and its records. */
  async deleteStream(name: string): Promise<void> {
    await this.request("DeleteStream", { StreamName: name });
  }

  /** The stream names. */
  async streamNames(): Promise<string[]> {
    const names: string[] = [];
    let start: string | undefined;
    for (;;) {
      const page = await this.request<{ StreamNames: string[]; HasMoreStreams: boolean }>("ListStreams", { Limit: 100, ...(start ? { ExclusiveStartStreamName: start } : {}) });
      names.push(...page.StreamNames);
      if (!page.HasMoreStreams || page.StreamNames.length === 0) return names;
      start = page.StreamNames.at(-1);
    }
  }

  /** A stream's shards, in order. */
  async shards(name: string): Promise<{ ShardId: string; SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string } }[]> {
    const answer = await this.request<{ Shards: { ShardId: string; SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string } }[] }>("ListShards", { StreamName: name });
    return answer.Shards;
  }

  /** A stream's retention in hours and status. */
  async describe(name: string): Promise<{ retentionHours: number; status: string; shards: number }> {
    const answer = await this.request<{ StreamDescriptionSummary: { RetentionPeriodHours: number; StreamStatus: string; OpenShardCount: number } }>("DescribeStreamSummary", {
      StreamName: name,
    });
    const summary = answer.StreamDescriptionSummary;
    return { retentionHours: summary.RetentionPeriodHours, status: summary.StreamStatus, shards: summary.OpenShardCount };
  }

  /**
   * An iterator on a shard: at its oldest record, after its newest, at or after a sequence number.
   */
  async iterator(name: string, shardId: string, position: { type: "TRIM_HORIZON" | "LATEST" } | { type: "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER"; sequenceNumber: string }): Promise<string> {
    const answer = await this.request<{ ShardIterator: string }>("GetShardIterator", {
      StreamName: name,
      ShardId: shardId,
      ShardIteratorType: position.type,
      ...("sequenceNumber" in position ? { StartingSequenceNumber: position.sequenceNumber } : {}),
    });
    return answer.ShardIterator;
  }

  /** Records from an iterator (at most `limit`), and the iterator to go on with. */
  async getRecords(iterator: string, shardId: string, limit = 10_000): Promise<{ records: KinesisStoredRecord[]; next?: string; millisBehind: number }> {
    const answer = await this.request<{
      Records: { SequenceNumber: string; PartitionKey: string; Data: string; ApproximateArrivalTimestamp: number }[];
      NextShardIterator?: string;
      MillisBehindLatest?: number;
    }>("GetRecords", { ShardIterator: iterator, Limit: limit });
    return {
      records: answer.Records.map((r) => ({
        shardId,
        sequenceNumber: r.SequenceNumber,
        partitionKey: r.PartitionKey,
        data: Buffer.from(r.Data, "base64"),
        // kinesalite answers epoch seconds (as JSON 1.1 timestamps are).
        arrivalMs: Math.round(Number(r.ApproximateArrivalTimestamp) * 1000),
      })),
      ...(answer.NextShardIterator ? { next: answer.NextShardIterator } : {}),
      millisBehind: answer.MillisBehindLatest ?? 0,
    };
  }

  /** Every record a shard keeps, from `from` (inclusive) to `to` (inclusive) when given. */
  async readRange(name: string, shardId: string, range: { from?: string; to?: string } = {}): Promise<KinesisStoredRecord[]> {
    let iterator: string | undefined = await this.iterator(
      name,
      shardId,
      range.from ? { type: "AT_SEQUENCE_NUMBER", sequenceNumber: range.from } : { type: "TRIM_HORIZON" },
    );
    const out: KinesisStoredRecord[] = [];
    const to = range.to !== undefined ? BigInt(range.to) : undefined;
    while (iterator) {
      const page = await this.getRecords(iterator, shardId);
      for (const record of page.records) {
        if (to !== undefined && BigInt(record.sequenceNumber) > to) return out;
        out.push(record);
      }
      if (page.records.length === 0) break;
      iterator = page.next;
    }
    return out;
  }

  /** Puts one record (what the admin publish and replay use; functions come through the endpoint). */
  async putRecord(name: string, partitionKey: string, data: Buffer | string): Promise<{ shardId: string; sequenceNumber: string }> {
    const answer = await this.request<{ ShardId: string; SequenceNumber: string }>("PutRecord", {
      StreamName: name,
      PartitionKey: partitionKey,
      Data: Buffer.from(data).toString("base64"),
    });
    return { shardId: answer.ShardId, sequenceNumber: answer.SequenceNumber };
  }

  /** Closes the store (LevelDB's files are released), once the calls under way are answered. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A read that finds its LevelDB closed throws where nothing can catch it: the calls under way finish first.
    await this.channel.whenIdle();
    // kinesalite's close closes its store, then the (never listening) server, which reports that it was not running.
    await this.channel.close({ op: "close" }).catch(() => undefined);
  }
}
