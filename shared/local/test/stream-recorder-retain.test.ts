// A stream recorder that does not retain its records (the DynamoDB thread's: the main thread's copy is the one the
// readers read) hands its listeners the very records a retaining one stores, and keeps none of them itself.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StreamRecorder, type StoredRecord, type TableStream } from "../dynamodb-streams";

const STREAM: TableStream = {
  streamArn: "arn:aws:dynamodb:us-east-1:000000000000:table/local-things/stream/2026-01-01T00:00:00.000",
  viewType: "NEW_AND_OLD_IMAGES",
  key: { partitionKey: "pk", sortKey: "sk" },
  shards: 3,
};

function recorder(retain: boolean | undefined): { recorder: StreamRecorder; heard: StoredRecord[] } {
  let clock = 1_790_000_000_000;
  const made = new StreamRecorder({ region: "eu-west-1", now: () => (clock += 7), ...(retain === undefined ? {} : { retain }) });
  made.enable("local-things", STREAM);
  const heard: StoredRecord[] = [];
  made.subscribe((stored) => heard.push(stored));
  return { recorder: made, heard };
}

function writeSome(target: StreamRecorder): void {
  for (let i = 0; i < 20; i++) {
    const key = { pk: { S: `thing#${i % 6}` }, sk: { S: "v" } };
    target.append({ table: "local-things", newImage: { ...key, n: { N: String(i) } } }, true);
    if (i % 3 === 0) target.append({ table: "local-things", oldImage: { ...key, n: { N: String(i) } }, newImage: { ...key, n: { N: String(i + 1) } } }, true);
    if (i % 5 === 0) target.append({ table: "local-things", oldImage: { ...key, n: { N: String(i) } } }, true);
  }
}

/** A record without its random event id (each recorder draws its own). */
const comparable = (stored: StoredRecord) => ({ ...stored, record: { ...stored.record, eventID: "" } });

test("listeners hear the same records, in the same shards with the same sequence numbers, from a recorder that keeps none", () => {
  const kept = recorder(undefined);
  const passed = recorder(false);
  writeSome(kept.recorder);
  writeSome(passed.recorder);
  assert.is(passed.heard.length, kept.heard.length);
  assert.ok(kept.heard.length > 20);
  assert.equal(passed.heard.map(comparable), kept.heard.map(comparable));
  assert.equal(kept.recorder.records("local-things").length, kept.heard.length);
  assert.equal(passed.recorder.records("local-things"), []);
  for (const shardId of passed.recorder.shardIds("local-things")) {
    assert.equal(passed.recorder.readStored("local-things", shardId), []);
    assert.is(passed.recorder.latestSequenceNumber("local-things", shardId), undefined);
  }
  // The stream itself is known as before: its key and view type (the write engine reads them).
  assert.equal(passed.recorder.stream("local-things"), STREAM);
  assert.ok(passed.recorder.has("local-things"));
});

test("ingested records are handed on and not kept either, while a retaining recorder stores them", () => {
  const source = recorder(undefined);
  writeSome(source.recorder);
  const kept = recorder(true);
  const passed = recorder(false);
  for (const stored of source.heard) {
    kept.recorder.ingest(stored);
    passed.recorder.ingest(stored);
  }
  assert.equal(passed.heard, source.heard);
  assert.equal(kept.recorder.records("local-things"), source.recorder.records("local-things"));
  assert.equal(passed.recorder.records("local-things"), []);
});

test.run();
