/**
 * How the DynamoDB thread's events cross to the main thread: every event of one event loop turn (stream records,
 * reported decisions, answers), in order, as ONE JSON string. A structured clone of the stream records' nested item
 * images cost more on both sides (serializing in the thread, deserializing on the main thread) than JSON.stringify
 * and JSON.parse of the same data, and each record repeated fields that are the same for a whole table (its stream
 * ARN, view type, region) or for every record (`eventVersion`, `eventSource`): those cross once per turn (strings by
 * index) or not at all, and the main thread rebuilds each record in DynamoDB Streams' shape and field order.
 * Everything crossing is JSON data (items as DynamoDB's JSON protocol carries them: numbers and binaries as strings).
 */
import type { StoredRecord, StreamRecord } from "../dynamodb-streams";

/** A decision the main thread reads (see `DynamoDecision` in dynamo-worker.ts). */
type Decision = { requestId: string };

/** One event of the DynamoDB thread, before it crosses. */
export type DynamoWireEvent<D extends Decision = Decision> =
  | { type: "decision"; event: D }
  | { type: "answered"; requestId: string; status: number; errorType?: string }
  /** A stream record the write engine appended; `requestId` is the proxy's id of the write that made it. */
  | { type: "stream-record"; stored: StoredRecord; requestId?: string };

// A record crosses as [table, shard, arn, viewType, region (string indexes), at, eventID, eventName, creation time,
// Keys, NewImage or 0, OldImage or 0, SequenceNumber, SizeBytes, requestId or 0].
type WireRecord = ["r", number, number, number, number, number, number, string, string, number, unknown, unknown, unknown, string, number, string | 0];
type WireEntry = ["d", unknown] | ["a", string, number, string?] | WireRecord;

/** Encodes one turn's events, in order, into one string. */
export function encodeDynamoEvents(events: readonly DynamoWireEvent[]): string {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (text: string): number => {
    let i = index.get(text);
    if (i === undefined) {
      i = strings.length;
      strings.push(text);
      index.set(text, i);
    }
    return i;
  };
  const entries: WireEntry[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (event.type === "decision") entries[i] = ["d", event.event];
    else if (event.type === "answered") entries[i] = event.errorType === undefined ? ["a", event.requestId, event.status] : ["a", event.requestId, event.status, event.errorType];
    else {
      const { table, shardId, record, at } = event.stored;
      const d = record.dynamodb;
      entries[i] = [
        "r",
        intern(table),
        intern(shardId),
        intern(record.eventSourceARN),
        intern(d.StreamViewType),
        intern(record.awsRegion),
        at,
        record.eventID,
        record.eventName,
        d.ApproximateCreationDateTime,
        d.Keys,
        d.NewImage ?? 0,
        d.OldImage ?? 0,
        d.SequenceNumber,
        d.SizeBytes,
        event.requestId ?? 0,
      ];
    }
  }
  return JSON.stringify([strings, entries]);
}

/** Decodes what {@link encodeDynamoEvents} made: the same events, in the same order, records in their full shape. */
export function decodeDynamoEvents<D extends Decision>(text: string): DynamoWireEvent<D>[] {
  const [strings, entries] = JSON.parse(text) as [string[], WireEntry[]];
  const events: DynamoWireEvent<D>[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry[0] === "d") events[i] = { type: "decision", event: entry[1] as D };
    else if (entry[0] === "a") events[i] = entry[3] === undefined ? { type: "answered", requestId: entry[1], status: entry[2] } : { type: "answered", requestId: entry[1], status: entry[2], errorType: entry[3] };
    else {
      const [, table, shard, arn, viewType, region, at, eventID, eventName, created, keys, newImage, oldImage, sequence, size, requestId] = entry;
      // Field order as the recorder writes it (recorder.ts append): the Lambda event and the trace print it so.
      const record = {
        eventID,
        eventName,
        eventVersion: "1.1",
        eventSource: "aws:dynamodb",
        awsRegion: strings[region]!,
        dynamodb: {
          ApproximateCreationDateTime: created,
          Keys: keys,
          ...(newImage === 0 ? {} : { NewImage: newImage }),
          ...(oldImage === 0 ? {} : { OldImage: oldImage }),
          SequenceNumber: sequence,
          SizeBytes: size,
          StreamViewType: strings[viewType]!,
        },
        eventSourceARN: strings[arn]!,
      } as StreamRecord;
      const stored: StoredRecord = { table: strings[table]!, shardId: strings[shard]!, record, at };
      events[i] = requestId === 0 ? { type: "stream-record", stored } : { type: "stream-record", stored, requestId };
    }
  }
  return events;
}
