// The serial path through the local stage with the example service ledger: billing.invoice-issued (published by
// hand) -> ledger's on-invoice-issued -> ledger.entry-posted put on its Kinesis stream (kinesalite, through the
// stage's IAM-checked endpoint) -> ledger's stream consumer (a shard poller with Lambda's semantics) -> its write;
// then the admin API's stream listing, the trace's stream hops, IAM on Kinesis calls, and a replay of a range.
import { join } from "node:path";
import { ScanCommand, DynamoDBClient, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { KinesisClient, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventually } from "../../testing/stage-target";
import { catalog } from "../../contract/catalog";
import { functionAccessKeyId } from "../lambda/function-host";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";
import { failInvocations } from "./support/fail-invocations";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
let stage: LocalStage;
let dynamo: DynamoDBClient;

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "ledger")] });
  dynamo = new DynamoDBClient({ region: "us-east-1", endpoint: stage.endpoints.dynalite, credentials: { accessKeyId: "kinesis-test", secretAccessKey: "k" } });
});

test.after(async () => {
  dynamo?.destroy();
  await stage?.stop();
});

async function items(prefix: string): Promise<Record<string, any>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: "local-data", ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out.map((item) => unmarshall(item)).filter((item) => String(item.pk).startsWith(prefix));
}

test("the stream of ledger.entry-posted is created from the platform's program, and the kinesis part is healthy", async () => {
  const health = stage.health();
  assert.is(health.kinesis?.status, "ok", health.kinesis?.detail);
  const streams = await stage.kinesis.listStreams();
  const stream = streams.find((s) => s.name === "local-ledger-entry-posted");
  assert.ok(stream, JSON.stringify(streams));
  assert.ok(stream!.shards.length >= 1);
  assert.equal(stream!.consumers.map((c) => c.function), ["local-ledger-on-entry-posted"]);
});

test("an invoice becomes a ledger entry put on the stream, read by the stream consumer once, with the trace's stream hops", async () => {
  const data = { ...catalog["billing.invoice-issued"].example, invoiceId: `invoice-${Date.now()}`, customerId: `customer-${Date.now()}` };
  const sent = stage.publish("billing.invoice-issued", data);
  const balance = await eventually("ledger's balance written by the stream consumer", async () =>
    (await items("$ledger#")).find((item) => item.details?.invoiceId === data.invoiceId && item.balanceId !== undefined),
  );
  assert.equal(balance.details, { customerId: data.customerId, invoiceId: data.invoiceId, amount: data.total.amount });
  const text = await eventually("the trace shows the stream consumer's invocation", async () => {
    const tree = stage.trace(sent.correlationId);
    const rendered = tree ? renderTrace(tree) : "";
    return rendered.includes("ledger/on-entry-posted") ? rendered : undefined;
  });
  assert.match(text, /published ledger\.entry-posted .* to stream\/local-ledger-entry-posted/);
  assert.match(text, /delivered to stream\/local-ledger-entry-posted\/shardId-/);
  // The record Lambda delivered has Lambda's Kinesis shape.
  const records = await stage.kinesis.engine.readRange("local-ledger-entry-posted", "shardId-000000000000");
  const record = records.find((r) => JSON.parse(r.data.toString()).data.invoiceId === data.invoiceId);
  assert.ok(record);
  assert.is(record!.partitionKey, data.customerId);
});

test("a stream event published by hand (admin API) is put on its stream, keyed by its partitionKeyField, and consumed", async () => {
  const data = { customerId: `customer-hand-${Date.now()}`, invoiceId: `invoice-hand-${Date.now()}`, amount: 3 };
  const answer = await fetch(`${stage.adminUrl}publish`, { method: "POST", body: JSON.stringify({ type: "ledger.entry-posted", data }) });
  assert.is(answer.status, 202, await answer.clone().text());
  const sent = (await answer.json()) as { eventId: string; messageId: string; topicArn: string; correlationId: string };
  assert.match(sent.topicArn, /:stream\/local-ledger-entry-posted$/);
  assert.match(sent.messageId, /^\d+$/, "the record's sequence number");
  const balance = await eventually("the balance from the hand-published stream event", async () =>
    (await items("$ledger#")).find((item) => item.balanceId !== undefined && item.details?.invoiceId === data.invoiceId),
  );
  assert.is(balance.createdBy, sent.eventId);
  const text = renderTrace(stage.trace(sent.correlationId)!);
  assert.match(text, /published by hand ledger\.entry-posted/);
});

test("IAM holds for Kinesis calls: a function that may not put on a stream is refused with AccessDeniedException", async () => {
  const client = new KinesisClient({
    region: stage.wiring.region,
    endpoint: stage.kinesis.url,
    requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: functionAccessKeyId("local-ledger-on-entry-posted"), secretAccessKey: "local" },
  });
  const error = await client
    .send(new PutRecordCommand({ StreamName: "local-ledger-entry-posted", PartitionKey: "k", Data: Buffer.from("{}") }))
    .catch((e: unknown) => e as Error);
  assert.instance(error, Error);
  assert.is((error as Error).name, "AccessDeniedException");
  assert.match((error as Error).message, /kinesis:PutRecord on resource: arn:aws:kinesis:.*:stream\/local-ledger-entry-posted/);
  client.destroy();
});

test("replay puts a shard's sequence range on the stream again; the consumer's idempotency lock applies each event once", async () => {
  const before = (await items("$ledger#")).filter((i) => i.balanceId !== undefined).length;
  const records = await stage.kinesis.engine.readRange("local-ledger-entry-posted", "shardId-000000000000");
  assert.ok(records.length >= 1);
  const answer = await fetch(`${stage.adminUrl}streams/local-ledger-entry-posted/replay`, {
    method: "POST",
    body: JSON.stringify({ shardId: "shardId-000000000000", from: records[0]!.sequenceNumber, to: records.at(-1)!.sequenceNumber }),
  });
  assert.is(answer.status, 200, await answer.clone().text());
  const body = (await answer.json()) as { replayed: number };
  assert.is(body.replayed, records.length);
  await eventually("the consumer's checkpoint passes the replayed records", async () => {
    const [stream] = (await stage.kinesis.listStreams()).filter((s) => s.name === "local-ledger-entry-posted");
    const checkpoint = stream!.consumers[0]!.checkpoints["shardId-000000000000"];
    return checkpoint !== undefined && BigInt(checkpoint) >= BigInt(stream!.shards[0]!.lastSequenceNumber!) ? true : undefined;
  });
  const after = (await items("$ledger#")).filter((i) => i.balanceId !== undefined).length;
  assert.is(after, before, "no event applied twice");
  const listed = await (await fetch(`${stage.adminUrl}streams`)).json() as { streams: { name: string }[] };
  assert.ok(listed.streams.some((s) => s.name === "local-ledger-entry-posted"));
  const failures = await (await fetch(`${stage.adminUrl}streams/failures`)).json() as { failures: unknown[] };
  assert.equal(failures.failures, []);
});

test("watch mode: a changed Kinesis mapping gets a new poller that resumes at the old one's checkpoints", async () => {
  const before = stage.kinesis.pollers[0]!;
  const checkpoints = Object.fromEntries(before.poller.checkpoints());
  const balances = (await items("$ledger#")).filter((i) => i.balanceId !== undefined).length;
  const next = { ...stage.wiring, streamMappings: (stage.wiring.streamMappings ?? []).map((m) => (m.kind === "kinesis" ? { ...m, batchSize: 7 } : m)) };
  await stage.kinesis.reconcile!(next);
  const after = stage.kinesis.pollers[0]!;
  assert.is.not(after.poller, before.poller, "a new poller");
  assert.is(after.mapping.batchSize, 7);
  assert.equal(Object.fromEntries(after.poller.checkpoints()), checkpoints, "it starts where the old one was");
  const data = { customerId: `customer-watch-${Date.now()}`, invoiceId: `invoice-watch-${Date.now()}`, amount: 4 };
  stage.publish("ledger.entry-posted", data);
  await eventually("the new poller's write", async () => (await items("$ledger#")).find((item) => item.details?.invoiceId === data.invoiceId));
  assert.is((await items("$ledger#")).filter((i) => i.balanceId !== undefined).length, balances + 1, "nothing read again");
  await stage.kinesis.reconcile!(next);
  assert.is(stage.kinesis.pollers[0]!.poller, after.poller, "an unchanged mapping keeps its poller");
});

test("a Kinesis mapping's FilterCriteria match the record's data as JSON: a record no filter matches is skipped, not retried", async () => {
  const original = stage.wiring;
  const wanted = `customer-filtered-in-${Date.now()}`;
  const pattern = JSON.stringify({ data: { data: { customerId: [wanted] } } });
  await stage.kinesis.reconcile!({
    ...original,
    streamMappings: (original.streamMappings ?? []).map((m) => (m.kind === "kinesis" ? { ...m, filterCriteria: { Filters: [{ Pattern: pattern }] } } : m)),
  });
  try {
    const skipped = { customerId: `customer-filtered-out-${Date.now()}`, invoiceId: `invoice-out-${Date.now()}`, amount: 6 };
    const taken = { customerId: wanted, invoiceId: `invoice-in-${Date.now()}`, amount: 7 };
    await (stage.publish("ledger.entry-posted", skipped) as unknown as { put: Promise<unknown> }).put;
    await (stage.publish("ledger.entry-posted", taken) as unknown as { put: Promise<unknown> }).put;
    await eventually("the matching event applied", async () => (await items("$ledger#")).find((item) => item.details?.invoiceId === taken.invoiceId));
    assert.not.ok((await items("$ledger#")).some((item) => item.details?.invoiceId === skipped.invoiceId), "the other one was filtered out");
    assert.ok(stage.kinesis.pollers[0]!.poller.filtered >= 1);
  } finally {
    await stage.kinesis.reconcile!(original);
  }
});

test("a Kinesis mapping whose function's role may not read the stream gets no poller, and the part says why", async () => {
  const original = stage.wiring;
  const mapping = (original.streamMappings ?? []).find((m) => m.kind === "kinesis")!;
  // ledger's other function may put on the stream but not read it.
  const producer = original.functions.find((f) => f.name === "local-ledger-on-invoice-issued")!;
  const intruder = { ...mapping, origin: { ...mapping.origin, name: "intruder-mapping" }, functionArn: producer.arn };
  const pollers = stage.kinesis.pollers.length;
  await stage.kinesis.reconcile!({ ...original, streamMappings: [...(original.streamMappings ?? []), intruder] });
  assert.is(stage.kinesis.pollers.length, pollers, "no poller for it");
  const health = stage.health().kinesis!;
  assert.is(health.status, "degraded");
  assert.match(health.detail!, /ledger\/on-invoice-issued does not read local-ledger-entry-posted: its role may not kinesis:DescribeStream, kinesis:GetRecords, kinesis:GetShardIterator, kinesis:ListShards/);
  await stage.kinesis.reconcile!(original);
  assert.is(stage.health().kinesis!.status, "ok");
});

test("records a consumer gives up on are described in an on-failure record (shard and range, not the data); replaying that range applies them", async () => {
  // One retry, no bisect: the batch is given up on quickly.
  const next = {
    ...stage.wiring,
    streamMappings: (stage.wiring.streamMappings ?? []).map((m) => (m.kind === "kinesis" ? { ...m, maximumRetryAttempts: 1, bisectBatchOnFunctionError: false } : m)),
  };
  await stage.kinesis.reconcile!(next);
  const host = stage.hosts.get("local-ledger-on-entry-posted")!;
  let failing = true;
  // The function fails (an unhandled error, as Lambda reports it) while `failing` holds.
  const restore = failInvocations(host, () => failing);
  try {
    const data = { customerId: `customer-given-up-${Date.now()}`, invoiceId: `invoice-given-up-${Date.now()}`, amount: 5 };
    const sent = stage.publish("ledger.entry-posted", data);
    const put = await (sent as unknown as { put: Promise<{ shardId: string; sequenceNumber: string }> }).put;
    const failure = await eventually("the on-failure record", async () => {
      const listed = (await (await fetch(`${stage.adminUrl}streams/failures`)).json()) as { failures: { function: string; record: { requestContext: { condition: string; approximateInvokeCount: number }; KinesisBatchInfo?: { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number; streamArn: string } } }[] };
      return listed.failures.find((f) => f.record.KinesisBatchInfo && BigInt(f.record.KinesisBatchInfo.endSequenceNumber) >= BigInt(put.sequenceNumber));
    });
    const info = failure.record.KinesisBatchInfo!;
    assert.is(failure.function, "local-ledger-on-entry-posted");
    assert.is(failure.record.requestContext.condition, "RetryAttemptsExhausted");
    assert.is(failure.record.requestContext.approximateInvokeCount, 2);
    assert.is(info.shardId, put.shardId);
    assert.match(info.streamArn, /:stream\/local-ledger-entry-posted$/);
    assert.not.ok(JSON.stringify(failure.record).includes(data.invoiceId), "the record names the range, not the data");
    assert.not.ok((await items("$ledger#")).some((item) => item.details?.invoiceId === data.invoiceId), "not applied");
    failing = false;
    const replay = await fetch(`${stage.adminUrl}streams/local-ledger-entry-posted/replay`, {
      method: "POST",
      body: JSON.stringify({ shardId: info.shardId, from: info.startSequenceNumber, to: info.endSequenceNumber }),
    });
    assert.is(replay.status, 200, await replay.clone().text());
    await eventually("the replayed event applied", async () => (await items("$ledger#")).find((item) => item.details?.invoiceId === data.invoiceId));
  } finally {
    restore();
  }
});

test.run();
