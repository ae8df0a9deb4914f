/**
 * A table's stream in a {@link StreamRecorder} as a shard poller reads it ({@link ShardSource} of
 * `shared/local/streams`): shards by id, readers from `TRIM_HORIZON`, `LATEST` or after a sequence number, the
 * partition key (the item's partition key value, as DynamoDB Streams shards by it), and a wake-up for every record
 * appended or ingested.
 */
import type { ShardReader, ShardRecord, ShardSource, ShardStart } from "../streams/shard-poller";
import type { StoredRecord, StreamRecord, StreamRecorder } from "./recorder";

function shardRecord(stored: StoredRecord, partitionKey: string): ShardRecord<StreamRecord> {
  const keys = stored.record.dynamodb.Keys;
  return {
    sequenceNumber: stored.record.dynamodb.SequenceNumber,
    partitionKey: JSON.stringify(keys[partitionKey] ?? keys),
    arrivalMs: stored.at,
    record: stored.record,
  };
}

/** The stream of `table` (enabled in `recorder`), read by a shard poller. */
export function recorderShardSource(recorder: StreamRecorder, table: string): ShardSource<StreamRecord> {
  const spec = recorder.stream(table);
  if (!spec) throw new Error(`table ${table} has no stream in this recorder`);
  const partitionKey = spec.key.partitionKey;
  return {
    streamArn: spec.streamArn,
    batchInfoKey: "DDBStreamBatchInfo",
    shards: () => recorder.shardIds(table),
    reader(shardId: string, start: ShardStart): ShardReader<StreamRecord> {
      let after: string | undefined = typeof start === "object" ? start.after : start === "LATEST" ? recorder.latestSequenceNumber(table, shardId) : undefined;
      return {
        read(limit) {
          const stored = recorder.readStored(table, shardId, { ...(after !== undefined ? { after } : {}), limit });
          if (stored.length) after = stored.at(-1)!.record.dynamodb.SequenceNumber;
          return stored.map((s) => shardRecord(s, partitionKey));
        },
      };
    },
    // The batch info of AWS's sample writes DynamoDB's arrivals to the second ("2019-11-14T00:13:19Z").
    formatArrival: (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z"),
    watch(listener) {
      return recorder.subscribe((stored) => {
        if (stored.table === table) listener(stored.shardId);
      });
    },
  };
}
