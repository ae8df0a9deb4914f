import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import type { KinesisStreamEvent } from "aws-lambda";
import { ENV } from "../../contract";
import { resetAwsClients } from "../aws-clients";
import { consume, type ActionContext, type ConsumerActions } from "../consume";
import { ConfigurationError, EventSchemaError, PublishError, RetryableError } from "../errors";
import { isKinesisEvent, readKinesisRecord } from "../kinesis-record";
import { createPublisher } from "../publisher";
import { setFunctionEnvironment, TEST_TOPICS, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, type LocalDynamo } from "./helpers/dynalite";
import { fixture, lambdaContext } from "./helpers/events";
import { startLocalKinesis, STREAM_EVENT, type LocalKinesis } from "./helpers/kinesis";
import { startSnsStub, type SnsStub } from "./helpers/sns-server";

const STREAM = "test-ledger-entry-posted";
let kinesis: LocalKinesis;
let dynamo: LocalDynamo;
let sns: SnsStub;

// Publish and consume through untyped views: the tests also send what the types would refuse.
const ledger = createPublisher("ledger") as unknown as {
  publish(type: string, data: unknown): Promise<{ id: string }>;
  publishBatch(events: { type: string; data: unknown }[]): Promise<{ id: string }[]>;
};

function asPublisher() {
  setFunctionEnvironment({ service: "ledger", handler: "post-entry", publishes: [] });
  process.env[ENV.publishStreams] = JSON.stringify({ [STREAM_EVENT]: STREAM });
}

function asConsumer() {
  setFunctionEnvironment({ service: "statements", handler: "on-entry-posted", publishes: [] });
}

const entry = (customerId: string, n: number) => ({ customerId, invoiceId: `invoice-${n}-${randomUUID().slice(0, 6)}`, amount: n });

async function decoded(): Promise<{ partitionKey: string; shardId: string; sequenceNumber: string; event: { id: string; data: { customerId: string; invoiceId: string } } }[]> {
  return (await kinesis.records(STREAM)).map((r) => ({ partitionKey: r.partitionKey, shardId: r.shardId, sequenceNumber: r.sequenceNumber, event: JSON.parse(r.data.toString("utf8")) }));
}

test.before(async () => {
  useLocalAwsEnvironment();
  [kinesis, dynamo, sns] = await Promise.all([startLocalKinesis([{ name: STREAM, shards: 2 }]), startDynalite(), startSnsStub()]);
  resetAwsClients();
});
test.after(async () => {
  delete process.env[ENV.publishStreams];
  await Promise.all([kinesis?.stop(), dynamo?.stop(), sns?.close()]);
});
test.before.each(async () => {
  kinesis.faults = undefined;
  sns.reset();
  asPublisher();
});

test("publish() puts a stream event on its stream: the envelope as the data, the partition key from partitionKeyField", async () => {
  const before = (await decoded()).length;
  const data = entry("customer-a", 1);
  const sent = await ledger.publish(STREAM_EVENT, data);
  const records = (await decoded()).slice(before);
  const record = records.find((r) => r.event.id === sent.id);
  assert.ok(record, "the record is on the stream");
  assert.is(record!.partitionKey, "customer-a");
  assert.equal(record!.event.data, data);
  assert.equal(record!.event, sent, "the data is the CloudEvents envelope publish() resolved to");
});

test("publishBatch() keeps each partition key's order and puts every event once", async () => {
  const events = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ type: STREAM_EVENT, data: entry(`customer-${n % 3}`, n) }));
  const sent = await ledger.publishBatch(events);
  const ids = new Set(sent.map((e) => e.id));
  const mine = (await decoded()).filter((r) => ids.has(r.event.id));
  assert.is(mine.length, 8, "each event once");
  for (const key of ["customer-0", "customer-1", "customer-2"]) {
    const expected = events.filter((e) => e.data.customerId === key).map((e) => e.data.invoiceId);
    const onStream = mine.filter((r) => r.partitionKey === key).sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
    assert.equal(onStream.map((r) => r.event.data.invoiceId), expected, `order of ${key}`);
    assert.is(new Set(onStream.map((r) => r.shardId)).size, 1, `${key} on one shard`);
  }
});

test("records a partial failure returns are put again (only those), and every key keeps its order", async () => {
  const calls: number[] = [];
  kinesis.faults = (call) => {
    if (call.operation !== "PutRecords") return undefined;
    calls.push(call.records);
    return calls.length === 1 ? { throttle: [0, 2] } : undefined;
  };
  const events = [1, 2, 3, 4, 5, 6].map((n) => ({ type: STREAM_EVENT, data: entry(`customer-${n % 3}`, n) }));
  const sent = await ledger.publishBatch(events);
  const ids = new Set(sent.map((e) => e.id));
  const mine = (await decoded()).filter((r) => ids.has(r.event.id));
  assert.is(mine.length, 6, "each event once");
  // Three keys: requests of at most one record per key (3, then 3); the first lost two records, sent again alone.
  assert.equal(calls, [3, 2, 3]);
  for (const key of ["customer-0", "customer-1", "customer-2"]) {
    const expected = events.filter((e) => e.data.customerId === key).map((e) => e.data.invoiceId);
    const onStream = mine.filter((r) => r.partitionKey === key).sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
    assert.equal(onStream.map((r) => r.event.data.invoiceId), expected, `order of ${key}`);
  }
});

test("records refused on every attempt end in a PublishError naming them, after the bounded retries", async () => {
  let attempts = 0;
  kinesis.faults = (call) => {
    if (call.operation !== "PutRecords") return undefined;
    attempts++;
    // The second record, then (alone) the only one.
    return { throttle: [attempts === 1 ? 1 : 0] };
  };
  const events = [1, 2].map((n) => ({ type: STREAM_EVENT, data: entry(`customer-x${n}`, n) }));
  const error = await ledger.publishBatch(events).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, PublishError);
  const publishError = error as PublishError;
  assert.is(publishError.eventIds.length, 1);
  assert.match(publishError.message, /ProvisionedThroughputExceededException/);
  assert.match(publishError.message, new RegExp(publishError.eventIds[0]!));
  assert.is(attempts, 4, "four attempts in all");
});

test("a stream event without its partition key field, or without a stream, is refused before anything is sent", async () => {
  const error = await ledger.publish(STREAM_EVENT, { invoiceId: "e", amount: 1, customerId: "" }).catch((e: unknown) => e);
  assert.instance(error, EventSchemaError);
  assert.match((error as Error).message, /customerId/);
  process.env[ENV.publishStreams] = "{}";
  const missing = await ledger.publish(STREAM_EVENT, entry("a", 1)).catch((e: unknown) => e);
  assert.instance(missing, ConfigurationError);
  assert.match((missing as Error).message, /PLATFORM_PUBLISH_STREAMS/);
});

test("AWS's Kinesis samples: the parser decodes each record's data, key, shard and sequence number", () => {
  for (const name of ["kinesis.json", "kinesis-2.json"]) {
    const event = fixture<KinesisStreamEvent>(name);
    assert.ok(isKinesisEvent(event), name);
    for (const record of event.Records) {
      const read = readKinesisRecord(record);
      assert.is(read.message, Buffer.from(record.kinesis.data, "base64").toString("utf8"));
      assert.is(read.partitionKey, record.kinesis.partitionKey);
      assert.is(read.sequenceNumber, record.kinesis.sequenceNumber);
      assert.is(read.shardId, record.eventID.split(":")[0]);
      assert.is(read.streamArn, record.eventSourceARN);
    }
  }
  assert.is(readKinesisRecord(fixture<KinesisStreamEvent>("kinesis-2.json").Records[0]!).message, "Hello World");
});

test("consume() turns AWS's sample records (not events) into failure events and acknowledges them", async () => {
  asConsumer();
  const handler = consume({});
  const event = fixture<KinesisStreamEvent>("kinesis.json");
  const response = await handler(event, lambdaContext());
  assert.equal(response, { batchItemFailures: [] });
  const failures = sns.events(TEST_TOPICS.failure);
  assert.is(failures.length, 2);
  assert.equal(failures.map((f) => f.data.originalBody), ["Hello, this is a test.", "This is only a test."]);
  assert.is(failures[0]!.data.reason, "invalid-event");
});

test("consume() on a stream batch: stops at a retryable failure, reports its sequence number, resumes in order, skips what it did", async () => {
  const events = [1, 2, 3, 4].map((n) => ({ type: STREAM_EVENT, data: entry("customer-order", n) }));
  const sent = await ledger.publishBatch(events);
  const ids = new Set(sent.map((e) => e.id));
  const stored = (await kinesis.records(STREAM)).filter((r) => ids.has(JSON.parse(r.data.toString()).id));
  const batch = kinesis.lambdaEvent(STREAM, stored);
  asConsumer();
  const applied: string[] = [];
  const contexts: ActionContext[] = [];
  let failOn: string | undefined = events[1]!.data.invoiceId;
  const handler = consume({
    [STREAM_EVENT]: async (event: { data: { invoiceId: string } }, context: ActionContext) => {
      contexts.push(context);
      if (event.data.invoiceId === failOn) throw new RetryableError("the ledger is busy");
      applied.push(event.data.invoiceId);
    },
  } as unknown as ConsumerActions);
  const first = await handler(batch, lambdaContext());
  assert.equal(first.batchItemFailures, [{ itemIdentifier: stored[1]!.sequenceNumber }], "the failed record's sequence number");
  assert.equal(applied, [events[0]!.data.invoiceId], "records after the failed one did not run");
  const ctx = contexts[0]!;
  assert.is(ctx.delivery, "kinesis");
  if (ctx.delivery === "kinesis") {
    assert.is(ctx.partitionKey, "customer-order");
    assert.is(ctx.sequenceNumber, stored[0]!.sequenceNumber);
  }
  // Lambda resumes at the reported record: the rest, in order.
  failOn = undefined;
  const second = await handler(kinesis.lambdaEvent(STREAM, stored.slice(1)), lambdaContext());
  assert.equal(second.batchItemFailures, []);
  assert.equal(applied, events.map((e) => e.data.invoiceId));
  // The whole batch again (a retry after a lost answer): every event is a duplicate.
  const third = await handler(batch, lambdaContext());
  assert.equal(third.batchItemFailures, []);
  assert.is(applied.length, 4, "nothing ran twice");
});

test("consume() on a stream batch: a poison record becomes a failure event and the batch goes on", async () => {
  asPublisher();
  const [good] = await ledger.publishBatch([{ type: STREAM_EVENT, data: entry("customer-poison", 1) }]);
  await kinesis.engine.putRecord(STREAM, "customer-poison", JSON.stringify({ specversion: "1.0", type: STREAM_EVENT, id: "bad", data: { customerId: "customer-poison" } }));
  const [after] = await ledger.publishBatch([{ type: STREAM_EVENT, data: entry("customer-poison", 2) }]);
  const stored = (await kinesis.records(STREAM)).filter((r) => r.partitionKey === "customer-poison");
  assert.is(stored.length, 3);
  asConsumer();
  const applied: string[] = [];
  const handler = consume({ [STREAM_EVENT]: (event: { id: string }) => void applied.push(event.id) } as unknown as ConsumerActions);
  const response = await handler(kinesis.lambdaEvent(STREAM, stored), lambdaContext());
  assert.equal(response.batchItemFailures, []);
  assert.equal(applied, [good!.id, after!.id]);
  const failures = sns.events(TEST_TOPICS.failure);
  assert.is(failures.length, 1);
  assert.is(failures[0]!.data.originalId, "bad");
});

test.run();
