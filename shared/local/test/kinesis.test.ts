// The local Kinesis engine (kinesalite in this process) and its endpoint, with the unmodified SDK client over
// HTTP/1.1: IAM per call (the stream's ARN from StreamName, StreamARN or, for GetRecords, the shard iterator),
// StreamARN accepted, LevelDB persistence, and a close that waits for reads under way.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListStreamsCommand, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { startEndpointServer, type EndpointServer } from "../endpoints";
import { Authorizer } from "../iam/authorizer";
import { readFileSync } from "node:fs";
import type { KinesisStreamRecord } from "aws-lambda";
import { createKinesisEndpoint, KinesisEngine, kinesisShardSource, type KinesisPutReport } from "../kinesis";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
const STREAM = "test-ledger-entry-posted";
const ARN = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${STREAM}`;
let engine: KinesisEngine;
let server: EndpointServer;
const puts: KinesisPutReport[] = [];

const client = (principal: string) =>
  new KinesisClient({ region: REGION, endpoint: server.url, requestHandler: new NodeHttpHandler(), maxAttempts: 1, credentials: { accessKeyId: principal, secretAccessKey: "x" } });

test.before(async () => {
  engine = new KinesisEngine({ region: REGION, accountId: ACCOUNT });
  await engine.ensureStream({ name: STREAM, shardCount: 2 });
  const authorizer = new Authorizer({ accountId: ACCOUNT, unknownPrincipals: "deny" });
  const policy = (actions: string[]) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: actions, Resource: ARN }] });
  authorizer.register("producer", [policy(["kinesis:PutRecord", "kinesis:PutRecords"])], { roleName: "producer", sessionName: "producer", accountId: ACCOUNT });
  authorizer.register("reader", [policy(["kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"])], { roleName: "reader", sessionName: "reader", accountId: ACCOUNT });
  server = await startEndpointServer({ services: [createKinesisEndpoint({ engine, authorize: authorizer.authorize, onPut: (report) => puts.push(report) })] });
});

test.after(async () => {
  await server?.close();
  await engine?.close();
});

test("a producer puts by StreamARN (kinesalite knows names only) and the put is reported with its shard and sequence number", async () => {
  const producer = client("producer");
  const answer = await producer.send(new PutRecordCommand({ StreamARN: ARN, PartitionKey: "customer-1", Data: Buffer.from('{"n":1}') }));
  assert.match(answer.SequenceNumber!, /^\d+$/);
  const report = puts.at(-1)!;
  assert.is(report.streamArn, ARN);
  assert.equal(report.records.map((r) => [r.partitionKey, r.data.toString(), r.sequenceNumber]), [["customer-1", '{"n":1}', answer.SequenceNumber]]);
  assert.is(report.context.principal, "producer");
  producer.destroy();
});

test("IAM holds per call: the producer may not read, the reader may not put, ListStreams is refused on *", async () => {
  const producer = client("producer");
  const reader = client("reader");
  const iterator = await reader.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }));
  const read = await reader.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
  assert.ok(Array.isArray(read.Records));
  // GetRecords names no stream: the endpoint reads it from the shard iterator.
  const denied = await producer.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator })).catch((e: Error) => e);
  assert.is((denied as Error).name, "AccessDeniedException");
  assert.match((denied as Error).message, new RegExp(`kinesis:GetRecords on resource: ${ARN}`));
  const put = await reader.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: "k", Data: Buffer.from("x") })).catch((e: Error) => e);
  assert.is((put as Error).name, "AccessDeniedException");
  const list = await reader.send(new ListStreamsCommand({})).catch((e: Error) => e);
  assert.is((list as Error).name, "AccessDeniedException");
  assert.match((list as Error).message, /kinesis:ListStreams on resource: \*/);
  producer.destroy();
  reader.destroy();
});

/** A value's shape: keys (sorted) and the JSON types of the leaves. */
function shape(value: unknown): unknown {
  if (value === null || typeof value !== "object") return typeof value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, shape((value as Record<string, unknown>)[key])]));
}

test("the shard source hands records in the shape of AWS's Kinesis samples, read in order from a checkpoint", async () => {
  const listeners: ((shardId: string) => void)[] = [];
  const source = kinesisShardSource({
    engine,
    streamName: STREAM,
    invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/reader`,
    puts: { subscribe: (_name, listener) => (listeners.push(listener), () => undefined) },
  });
  assert.equal(await source.shards(), ["shardId-000000000000", "shardId-000000000001"]);
  const put = await engine.putRecord(STREAM, "customer-shape", '{"type":"x"}');
  const reader = await source.reader(put.shardId, "TRIM_HORIZON");
  const records = await reader.read(100);
  const mine = records.find((r) => r.sequenceNumber === put.sequenceNumber)!;
  assert.ok(mine);
  for (const name of ["kinesis.json", "kinesis-2.json"]) {
    const sample = (JSON.parse(readFileSync(join(__dirname, "..", "..", "testing", "fixtures", "aws-events", name), "utf8")) as { Records: KinesisStreamRecord[] }).Records[0]!;
    assert.equal(shape(mine.record), shape(sample), `the shape of ${name}`);
  }
  const record = mine.record;
  assert.is(record.eventID, `${put.shardId}:${put.sequenceNumber}`);
  assert.is(record.kinesis.partitionKey, "customer-shape");
  assert.is(Buffer.from(record.kinesis.data, "base64").toString(), '{"type":"x"}');
  assert.is(record.eventSourceARN, ARN);
  assert.is(record.invokeIdentityArn, `arn:aws:iam::${ACCOUNT}:role/reader`);
  assert.is(record.awsRegion, REGION);
  assert.ok(Math.abs(record.kinesis.approximateArrivalTimestamp * 1000 - Date.now()) < 60_000, "epoch seconds");
  assert.is(mine.partitionKey, "customer-shape");
  // After a checkpoint: only what came later.
  const later = await engine.putRecord(STREAM, "customer-shape", '{"type":"y"}');
  const resumed = await (await source.reader(put.shardId, { after: put.sequenceNumber })).read(100);
  assert.equal(resumed.map((r) => r.sequenceNumber), [later.sequenceNumber]);
  // Lambda's filters see the data as JSON.
  assert.equal((source.filterView!(record) as { data: unknown }).data, { type: "x" });
});

test("with a folder, the streams and their records outlive the engine; closing waits for reads under way", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kinesis-engine-"));
  try {
    const first = new KinesisEngine({ region: REGION, accountId: ACCOUNT, path: dir });
    assert.is(await first.ensureStream({ name: "kept", shardCount: 1 }), "created");
    const put = await first.putRecord("kept", "k", "kept record");
    // A read started just before the close: the close waits for it (a read that found LevelDB closed would throw
    // where nothing can catch it).
    const iterator = await first.iterator("kept", put.shardId, { type: "TRIM_HORIZON" });
    const reading = first.getRecords(iterator, put.shardId);
    await first.close();
    assert.is((await reading).records.length, 1);
    const second = new KinesisEngine({ region: REGION, accountId: ACCOUNT, path: dir });
    assert.is(await second.ensureStream({ name: "kept", shardCount: 1 }), "exists");
    const records = await second.readRange("kept", put.shardId);
    assert.equal(records.map((r) => r.data.toString()), ["kept record"]);
    assert.match(await second.ensureStream({ name: "kept", shardCount: 3 }), /has 1 shards from an earlier run/);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
