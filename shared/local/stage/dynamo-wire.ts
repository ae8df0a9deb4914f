/**
 * How the DynamoDB thread's events cross to the main thread: every event of one event loop turn (stream records,
 * reported decisions, answers), in order, as ONE JSON string. A structured clone of the stream records' nested item
 * images cost more on both sides (serializing in the thread, deserializing on the main thread) than JSON.stringify
 * and JSON.parse of the same data. Everything crossing is JSON data (items as DynamoDB's JSON protocol carries them:
 * numbers and binaries as strings), and JSON keeps each object's field order, so a record arrives in the shape and
 * field order the thread's recorder gave it; a field left undefined does not cross.
 */
import type { StoredRecord } from "../dynamodb-streams";

/** A decision the main thread reads (see `DynamoDecision` in dynamo-worker.ts). */
type Decision = { requestId: string };

/** One event of the DynamoDB thread, before it crosses. */
export type DynamoWireEvent<D extends Decision = Decision> =
  | { type: "decision"; event: D }
  | { type: "answered"; requestId: string; status: number; errorType?: string }
  /** A stream record the write engine appended; `requestId` is the proxy's id of the write that made it. */
  | { type: "stream-record"; stored: StoredRecord; requestId?: string };

/** Encodes one turn's events, in order, into one string. */
export function encodeDynamoEvents(events: readonly DynamoWireEvent[]): string {
  return JSON.stringify(events);
}

/** Decodes what {@link encodeDynamoEvents} made: the same events, in the same order. */
export function decodeDynamoEvents<D extends Decision>(text: string): DynamoWireEvent<D>[] {
  return JSON.parse(text) as DynamoWireEvent<D>[];
}
