// The DynamoDB thread's events cross to the main thread as one JSON string per event loop turn (stage/dynamo-wire.ts):
// what comes out is what went in, in order, each stream record in DynamoDB Streams' full shape and field order, and a
// copy ingested from the decoded records reads as the thread's recorder would.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StreamRecorder, type StoredRecord, type StreamViewType } from "../dynamodb-streams";
import { decodeDynamoEvents, encodeDynamoEvents, type DynamoWireEvent } from "../stage/dynamo-wire";

const REGION = "ap-southeast-2";
const arn = (table: string) => `arn:aws:dynamodb:${REGION}:123456789012:table/${table}/stream/2026-12-07T00:00:00.000`;
const VIEWS: StreamViewType[] = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"];

/** Every attribute type, nested ones too (numbers and binaries as DynamoDB's JSON protocol carries them). */
const item = (pk: string, n: number) => ({
  pk: { S: pk },
  sk: { N: String(n) },
  bin: { B: "AAEC/w==" },
  bins: { BS: ["AQ==", "Ag=="] },
  nums: { NS: ["1", "-0.5", "1E+3"] },
  strs: { SS: ["a", "é"] },
  list: { L: [{ M: { x: { NULL: true as const }, y: { BOOL: false } } }, { S: "" }] },
  flag: { BOOL: true },
});

function sample(): { events: DynamoWireEvent[]; source: StreamRecorder; tables: string[] } {
  const source = new StreamRecorder({ region: REGION });
  const tables = VIEWS.map((view) => `t-${view}`);
  VIEWS.forEach((viewType, i) => source.enable(tables[i]!, { streamArn: arn(tables[i]!), viewType, key: { partitionKey: "pk", sortKey: "sk" }, shards: 1 + (i % 3) }));
  const events: DynamoWireEvent[] = [];
  source.subscribe((stored, origin) => events.push(origin === undefined ? { type: "stream-record", stored } : { type: "stream-record", stored, requestId: origin }));
  for (const [i, table] of tables.entries()) {
    events.push({ type: "decision", event: { requestId: `req-${i}`, operation: "PutItem", allowed: true, traceHeader: "Root=1-1-1;Parent=2;Sampled=1", authorizations: [{ action: "dynamodb:PutItem", table, conditionKeys: { "dynamodb:LeadingKeys": ["a", "b"] } }] } as never });
    source.append({ table, newImage: item(`a${i}`, i) }, true, `req-${i}`);
    source.append({ table, oldImage: item(`a${i}`, i), newImage: { ...item(`a${i}`, i), flag: { BOOL: false } } }, true, `req-${i}`);
    source.append({ table, oldImage: item(`b${i}`, i) }, true);
    events.push({ type: "answered", requestId: `req-${i}`, status: 200 });
  }
  events.push({ type: "decision", event: { requestId: "req-denied", operation: "DeleteItem", allowed: false, authorizations: [{ action: "dynamodb:DeleteItem", conditionKeys: {} }], denied: { message: "User: x is not authorized" } } as never });
  events.push({ type: "answered", requestId: "req-failed", status: 400, errorType: "ConditionalCheckFailedException" });
  return { events, source, tables };
}

test("decoded events are the encoded ones, in order, field for field and in the same field order", () => {
  const { events } = sample();
  assert.is(events.filter((e) => e.type === "stream-record").length, 12);
  const decoded = decodeDynamoEvents(encodeDynamoEvents(events));
  assert.equal(decoded, events);
  // Field order too: the Lambda event and the trace print the record as it is.
  assert.equal(decoded.map((e) => JSON.stringify(e)), events.map((e) => JSON.stringify(e)));
  const record = (decoded[1] as { stored: StoredRecord }).stored.record;
  assert.equal(Object.keys(record), ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"]);
  // Images a view type leaves out are absent, not undefined.
  const keysOnly = decoded.filter((e) => e.type === "stream-record" && e.stored.table === "t-KEYS_ONLY") as { stored: StoredRecord }[];
  for (const e of keysOnly) assert.equal(Object.keys(e.stored.record.dynamodb), ["ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"]);
  // A record without the write's id crosses without one.
  assert.not.ok("requestId" in decoded.find((e) => e.type === "stream-record" && e.stored.record.eventName === "REMOVE")!);
  assert.equal(decodeDynamoEvents(encodeDynamoEvents([])), []);
});

test("a copy ingesting the decoded records reads what the source recorded: shards, order, sequence numbers", () => {
  const { events, source, tables } = sample();
  const copy = new StreamRecorder({ region: REGION });
  for (const table of tables) copy.enable(table, source.stream(table)!);
  for (const event of decodeDynamoEvents(encodeDynamoEvents(events))) if (event.type === "stream-record") copy.ingest(event.stored);
  for (const table of tables) {
    assert.equal(copy.shardIds(table), source.shardIds(table));
    for (const shard of source.shardIds(table)) assert.equal(copy.readStored(table, shard), source.readStored(table, shard));
    assert.equal(copy.records(table).map((r) => JSON.stringify(r)), source.records(table).map((r) => JSON.stringify(r)));
  }
});

test.run();
