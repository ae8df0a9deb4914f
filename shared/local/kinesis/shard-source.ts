/**
 * A Kinesis data stream of the local engine as a shard poller reads it ({@link ShardSource} of `shared/local/streams`):
 * shards from ListShards, readers over GetShardIterator and GetRecords, and each record in the shape Lambda delivers
 * to a Kinesis event source mapping (`event.Records[]`, checked against AWS's samples in shared/testing/fixtures).
 */
import type { KinesisStreamRecord } from "aws-lambda";
import type { ShardReader, ShardRecord, ShardSource, ShardStart } from "../streams/shard-poller";
import { KinesisEngineError, type KinesisEngine, type KinesisStoredRecord } from "./engine";

/** A stored record as Lambda hands it to the function. */
export function lambdaKinesisRecord(
  stored: KinesisStoredRecord,
  stream: { arn: string; region: string },
  invokeIdentityArn: string,
): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: stored.partitionKey,
      sequenceNumber: stored.sequenceNumber,
      data: stored.data.toString("base64"),
      // Epoch seconds with milliseconds, as in AWS's samples (1545084650.987).
      approximateArrivalTimestamp: stored.arrivalMs / 1000,
    },
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `${stored.shardId}:${stored.sequenceNumber}`,
    eventName: "aws:kinesis:record",
    invokeIdentityArn,
    awsRegion: stream.region,
    eventSourceARN: stream.arn,
  };
}

/** Calls back when records were put on a stream (the endpoint's `onPut`), by stream name. */
export interface PutListeners {
  subscribe(streamName: string, listener: (shardId: string) => void): () => void;
}

/** The records GetRecords answers at most per call (Kinesis: 10,000). */
const GET_RECORDS_LIMIT = 10_000;

/**
 * The stream `streamName` of `engine`, read by a shard poller for one mapping: `invokeIdentityArn` is the mapping's
 * function's execution role (what Lambda puts in each record).
 */
export function kinesisShardSource(options: {
  engine: KinesisEngine;
  streamName: string;
  invokeIdentityArn: string;
  puts?: PutListeners;
}): ShardSource<KinesisStreamRecord> {
  const { engine, streamName, invokeIdentityArn } = options;
  const stream = { arn: engine.streamArn(streamName), region: engine.options.region };
  return {
    streamArn: stream.arn,
    batchInfoKey: "KinesisBatchInfo",
    async shards() {
      return (await engine.shards(streamName)).map((s) => s.ShardId);
    },
    async reader(shardId: string, start: ShardStart): Promise<ShardReader<KinesisStreamRecord>> {
      let last: string | undefined = typeof start === "object" ? start.after : undefined;
      const open = () =>
        engine.iterator(
          streamName,
          shardId,
          last !== undefined ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: last } : { type: start === "LATEST" ? "LATEST" : "TRIM_HORIZON" },
        );
      let iterator: string | undefined = await open();
      return {
        async read(limit: number): Promise<ShardRecord<KinesisStreamRecord>[]> {
          if (!iterator) return [];
          let page;
          try {
            page = await engine.getRecords(iterator, shardId, Math.min(limit, GET_RECORDS_LIMIT));
          } catch (error) {
            // Iterators expire after 5 minutes: open a new one where this one was.
            if (!(error instanceof KinesisEngineError) || error.code !== "ExpiredIteratorException") throw error;
            iterator = await open();
            page = await engine.getRecords(iterator, shardId, Math.min(limit, GET_RECORDS_LIMIT));
          }
          iterator = page.next;
          if (page.records.length) last = page.records.at(-1)!.sequenceNumber;
          return page.records.map((stored) => ({
            sequenceNumber: stored.sequenceNumber,
            partitionKey: stored.partitionKey,
            arrivalMs: stored.arrivalMs,
            record: lambdaKinesisRecord(stored, stream, invokeIdentityArn),
          }));
        },
      };
    },
    // Lambda's event filtering matches a Kinesis record's fields (partitionKey, ...) and its data read as JSON
    // (when it is JSON): `{ "data": { "type": ["orders.x"] } }`.
    filterView(record) {
      const text = Buffer.from(record.kinesis.data, "base64").toString("utf8");
      let data: unknown = record.kinesis.data;
      try {
        data = JSON.parse(text);
      } catch {}
      return { ...record, ...record.kinesis, data };
    },
    ...(options.puts ? { watch: (listener: (shardId: string) => void) => options.puts!.subscribe(streamName, listener) } : {}),
  };
}
