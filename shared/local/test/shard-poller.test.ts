// The stream event source mapping's shard poller over real DynamoDB stream records: dynalite in-process, the write
// engine recording item changes, the recorder's shards read through recorderShardSource. The function is a callback
// here (the stage test runs real function hosts); what is checked is Lambda's mapping semantics.
import type { RequestListener, Server } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilterCriteria, listenerTarget, recorderShardSource, StreamRecorder, WriteEngine, type StreamRecord } from "../dynamodb-streams";
import { laneOf, MAX_PAYLOAD_BYTES, ShardPoller, ShardPollerSettingError, type OnFailureRecord, type ShardPollerOptions, type StreamBatch, type StreamInvokeOutcome } from "../streams";
import { eventually } from "../../testing/stage-target";

const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;
const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:relay`;

let server: Server;
let recorder: StreamRecorder;
let engine: WriteEngine;
let tables = 0;
const pollers: ShardPoller<StreamRecord>[] = [];

test.before(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  recorder = new StreamRecorder({ region: REGION });
  engine = new WriteEngine({ target: listenerTarget(server.listeners("request")[0] as RequestListener), recorder });
});

test.after.each(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});

test.after(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A fresh table with a stream (NEW_AND_OLD_IMAGES). */
async function table(): Promise<string> {
  const name = `poller-${++tables}`;
  const answer = await engine.handle("CreateTable", {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "pk", AttributeType: "S" },
      { AttributeName: "sk", AttributeType: "N" },
    ],
    KeySchema: [
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ],
  });
  assert.is(answer.status, 200, JSON.stringify(answer.body));
  await eventually("the table to be active", async () => {
    const described = await engine.handle("DescribeTable", { TableName: name });
    return (described.body.Table as { TableStatus?: string } | undefined)?.TableStatus === "ACTIVE" ? true : undefined;
  });
  recorder.enable(name, {
    streamArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}/stream/2026-12-07T00:00:00.000`,
    viewType: "NEW_AND_OLD_IMAGES",
    key: { partitionKey: "pk", sortKey: "sk" },
  });
  return name;
}

async function put(name: string, pk: string, sk: number, extra: Record<string, unknown> = {}): Promise<void> {
  const answer = await engine.handle("PutItem", { TableName: name, Item: { pk: { S: pk }, sk: { N: String(sk) }, ...extra } });
  assert.is(answer.status, 200, JSON.stringify(answer.body));
}

/** `pk#sk` of a record. */
const id = (r: StreamRecord) => `${r.dynamodb.Keys.pk!.S}#${r.dynamodb.Keys.sk!.N}`;

type Options = Omit<ShardPollerOptions<StreamRecord>, "source" | "functionArn" | "invoke" | "startingPosition"> & { startingPosition?: "TRIM_HORIZON" | "LATEST" };

/** Starts a poller whose function is `fn`; `calls` lists each invocation's record ids. */
function poll(name: string, fn: (batch: StreamBatch<StreamRecord>, ids: string[]) => StreamInvokeOutcome | Promise<StreamInvokeOutcome>, options: Options = {}) {
  const calls: string[][] = [];
  const failures: OnFailureRecord[] = [];
  const poller = new ShardPoller<StreamRecord>({
    source: recorderShardSource(recorder, name),
    functionArn: FUNCTION_ARN,
    startingPosition: options.startingPosition ?? "TRIM_HORIZON",
    retryDelayMs: 5,
    maxRetryDelayMs: 20,
    onFailure: async (record) => {
      failures.push(record);
    },
    ...options,
    invoke: async (batch) => {
      const ids = batch.records.map((r) => id(r.record));
      calls.push(ids);
      return fn(batch, ids);
    },
  });
  pollers.push(poller);
  return { poller, calls, failures, started: poller.start() };
}

const ok: StreamInvokeOutcome = { ok: true, payload: null };
const boom: StreamInvokeOutcome = { ok: false, error: "Error: boom", functionError: "Unhandled" };

test("records reach the function in order, in batches of BatchSize, and the checkpoint ends at the last one", async () => {
  const name = await table();
  for (let i = 1; i <= 7; i++) await put(name, "a", i);
  const { poller, calls, started } = poll(name, () => ok, { batchSize: 3 });
  await started;
  await eventually("7 records", () => (calls.flat().length === 7 ? true : undefined));
  assert.equal(calls, [["a#1", "a#2", "a#3"], ["a#4", "a#5", "a#6"], ["a#7"]]);
  const [shard] = recorder.shardIds(name);
  await eventually("the checkpoint", () => (poller.checkpoints().get(shard!) === recorder.records(name).at(-1)!.dynamodb.SequenceNumber ? true : undefined));
  // Records written while it runs come too.
  await put(name, "a", 8);
  await eventually("the new record", () => (calls.flat().includes("a#8") ? true : undefined));
});

test("a batch stops before the record that would take the event past Lambda's 6 MB, and the event is built from each record's JSON", async () => {
  const name = await table();
  // 18 items of about 380 KB of UTF-8 (two bytes a character), so bytes and characters differ: about 16 fit in 6 MB.
  for (let i = 1; i <= 18; i++) await put(name, "m", i, { body: { S: `${i}`.padEnd(190_000, "é") } });
  const batches: StreamBatch<StreamRecord>[] = [];
  const { calls, started } = poll(
    name,
    (batch) => {
      batches.push(batch);
      return ok;
    },
    { batchSize: 100 },
  );
  await started;
  await eventually("18 records", () => (calls.flat().length === 18 ? true : undefined));
  assert.ok(calls.length >= 2, `one batch of ${calls[0]!.length} records would be over 6 MB`);
  const all = recorder.records(name);
  for (const [index, batch] of batches.entries()) {
    const records = batch.records.map((r) => r.record);
    const whole = JSON.stringify({ Records: records });
    assert.equal(batch.recordsJson, records.map((r) => JSON.stringify(r)));
    assert.is(`{"Records":[${batch.recordsJson.join(",")}]}`, whole);
    assert.ok(Buffer.byteLength(whole) <= MAX_PAYLOAD_BYTES, `batch ${index} is ${Buffer.byteLength(whole)} bytes`);
    if (index < batches.length - 1) {
      // Full: the next record would not have fitted.
      const next = all[calls.slice(0, index + 1).flat().length]!;
      assert.ok(Buffer.byteLength(JSON.stringify({ Records: [...records, next] })) > MAX_PAYLOAD_BYTES - 32, `batch ${index} stopped early`);
    }
  }
});

test("LATEST starts after the newest record; a successor started with the checkpoints resumes there", async () => {
  const name = await table();
  await put(name, "old", 1);
  const first = poll(name, () => ok, { startingPosition: "LATEST" });
  await first.started;
  await put(name, "new", 1);
  await eventually("the new record", () => (first.calls.flat().length === 1 ? true : undefined));
  assert.equal(first.calls, [["new#1"]]);
  await first.poller.stop();
  await put(name, "later", 1);
  // Started at TRIM_HORIZON, but with the first poller's checkpoints: only what came after them.
  const second = poll(name, () => ok, { checkpoints: first.poller.checkpoints() });
  await second.started;
  await eventually("the later record", () => (second.calls.flat().length === 1 ? true : undefined));
  assert.equal(second.calls, [["later#1"]]);
});

test("a failing batch is retried, the shard waits for it, and nothing behind it overtakes", async () => {
  const name = await table();
  for (let i = 1; i <= 4; i++) await put(name, "k", i);
  let failuresLeft = 3;
  const { calls, started } = poll(name, (_batch, ids) => (ids[0] === "k#1" && failuresLeft-- > 0 ? boom : ok), { batchSize: 2 });
  await started;
  await eventually("every record", () => (calls.flat().includes("k#4") ? true : undefined));
  assert.equal(calls, [
    ["k#1", "k#2"],
    ["k#1", "k#2"],
    ["k#1", "k#2"],
    ["k#1", "k#2"],
    ["k#3", "k#4"],
  ]);
});

test("MaximumRetryAttempts: the batch is given up on after 1 + retries invocations, described to the destination in Lambda's shape", async () => {
  const name = await table();
  await put(name, "p", 1);
  await put(name, "p", 2);
  await put(name, "p", 3);
  const { calls, failures, started } = poll(name, (_b, ids) => (ids.includes("p#3") ? ok : boom), { batchSize: 2, maximumRetryAttempts: 2 });
  await started;
  await eventually("the third record", () => (calls.flat().includes("p#3") ? true : undefined));
  assert.equal(calls, [["p#1", "p#2"], ["p#1", "p#2"], ["p#1", "p#2"], ["p#3"]]);
  assert.is(failures.length, 1);
  const [failure] = failures;
  const records = recorder.records(name);
  // The order and fields of the record in the Lambda developer guide's DynamoDB example.
  assert.equal(Object.keys(failure!), ["requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"]);
  assert.equal(Object.keys(failure!.requestContext), ["requestId", "functionArn", "condition", "approximateInvokeCount"]);
  assert.is(failure!.requestContext.functionArn, FUNCTION_ARN);
  assert.is(failure!.requestContext.condition, "RetryAttemptsExhausted");
  assert.is(failure!.requestContext.approximateInvokeCount, 3);
  assert.match(failure!.requestContext.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(failure!.responseContext, { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" });
  assert.is(failure!.version, "1.0");
  assert.match(failure!.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const info = failure!.DDBStreamBatchInfo!;
  assert.equal(Object.keys(info), ["shardId", "startSequenceNumber", "endSequenceNumber", "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize", "streamArn"]);
  assert.is(info.shardId, recorder.shardIds(name)[0]);
  assert.is(info.startSequenceNumber, records[0]!.dynamodb.SequenceNumber);
  assert.is(info.endSequenceNumber, records[1]!.dynamodb.SequenceNumber);
  assert.is(info.batchSize, 2);
  assert.is(info.streamArn, records[0]!.eventSourceARN);
  // DynamoDB's arrivals to the second, as in the guide's example ("2019-11-14T00:13:19Z").
  assert.match(info.approximateArrivalOfFirstRecord, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.is(info.approximateArrivalOfFirstRecord, new Date(records[0]!.dynamodb.ApproximateCreationDateTime * 1000).toISOString().replace(".000Z", "Z"));
  assert.is(failure!.KinesisBatchInfo, undefined);
});

test("BisectBatchOnFunctionError isolates the poison record: the rest is processed once, in order, and only it is given up on", async () => {
  const name = await table();
  for (let i = 1; i <= 8; i++) await put(name, "b", i);
  const succeeded: string[] = [];
  const { calls, failures, started } = poll(
    name,
    (_b, ids) => {
      if (ids.includes("b#6")) return boom;
      succeeded.push(...ids);
      return ok;
    },
    { batchSize: 8, bisectBatchOnFunctionError: true, maximumRetryAttempts: 0 },
  );
  await started;
  await eventually("the records after the poison one", () => (succeeded.includes("b#8") ? true : undefined));
  assert.equal(succeeded, ["b#1", "b#2", "b#3", "b#4", "b#5", "b#7", "b#8"]);
  // 8 fails, halves 1-4 (ok) and 5-8 (fails), 5-6 (fails), 5 (ok), 6 (fails, no retries left), 7-8 (ok).
  assert.equal(calls.map((c) => c.length), [8, 4, 4, 2, 1, 1, 2]);
  assert.is(failures.length, 1);
  const info = failures[0]!.DDBStreamBatchInfo!;
  const poison = recorder.records(name)[5]!.dynamodb.SequenceNumber;
  assert.is(info.batchSize, 1);
  assert.is(info.startSequenceNumber, poison);
  assert.is(info.endSequenceNumber, poison);
  assert.is(failures[0]!.requestContext.approximateInvokeCount, 1);
});

test("ReportBatchItemFailures: the checkpoint stops before the lowest sequence number reported, retried from there; a bad identifier fails the whole batch", async () => {
  const name = await table();
  for (let i = 1; i <= 5; i++) await put(name, "r", i);
  const sequences = recorder.records(name).map((r) => r.dynamodb.SequenceNumber);
  let round = 0;
  const { calls, started } = poll(
    name,
    () => {
      round++;
      // Reports 4 and 3: Lambda resumes at the lowest, 3.
      if (round === 1) return { ok: true, payload: { batchItemFailures: [{ itemIdentifier: sequences[3] }, { itemIdentifier: sequences[2] }] } };
      // An identifier that is no record of the batch: the whole batch again.
      if (round === 2) return { ok: true, payload: { batchItemFailures: [{ itemIdentifier: "" }] } };
      return ok;
    },
    { batchSize: 5, reportBatchItemFailures: true },
  );
  await started;
  await eventually("three invocations", () => (calls.length >= 3 ? true : undefined));
  assert.equal(calls, [
    ["r#1", "r#2", "r#3", "r#4", "r#5"],
    ["r#3", "r#4", "r#5"],
    ["r#3", "r#4", "r#5"],
  ]);
  // Without ReportBatchItemFailures the same response is success.
  const other = await table();
  await put(other, "x", 1);
  await put(other, "x", 2);
  const plain = poll(other, () => ({ ok: true, payload: { batchItemFailures: [{ itemIdentifier: "1" }] } }));
  await plain.started;
  await eventually("the batch", () => (plain.calls.length ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(plain.calls, [["x#1", "x#2"]]);
});

test("MaximumRecordAgeInSeconds: records older than it are given up on (RecordAgeExceeded), without another invocation", async () => {
  const name = await table();
  await put(name, "old", 1);
  let skew = 0;
  const { calls, failures, started } = poll(name, (_b, ids) => (ids.includes("new#1") ? ok : boom), { maximumRecordAgeInSeconds: 60, now: () => Date.now() + skew });
  await started;
  await eventually("a few retries", () => (calls.length >= 2 ? true : undefined));
  skew = 61_000;
  await eventually("the on-failure record", () => (failures.length ? true : undefined));
  const invoked = calls.length;
  skew = 0;
  assert.is(failures[0]!.requestContext.condition, "RecordAgeExceeded");
  assert.ok(failures[0]!.requestContext.approximateInvokeCount >= 2);
  assert.is(failures[0]!.DDBStreamBatchInfo!.batchSize, 1);
  await put(name, "new", 1);
  await eventually("the next record", () => (calls.flat().includes("new#1") ? true : undefined));
  assert.is(calls.length, invoked + 1);
});

test("a failure before the invocation (throttled) is retried without counting against MaximumRetryAttempts", async () => {
  const name = await table();
  await put(name, "t", 1);
  let throttles = 4;
  const calls: string[][] = [];
  const failures: OnFailureRecord[] = [];
  const poller = new ShardPoller<StreamRecord>({
    source: recorderShardSource(recorder, name),
    functionArn: FUNCTION_ARN,
    startingPosition: "TRIM_HORIZON",
    maximumRetryAttempts: 0,
    retryDelayMs: 5,
    maxRetryDelayMs: 10,
    onFailure: async (f) => {
      failures.push(f);
    },
    invoke: async (batch) => {
      if (throttles-- > 0) throw new Error("Rate Exceeded.");
      calls.push(batch.records.map((r) => id(r.record)));
      return ok;
    },
  });
  pollers.push(poller);
  await poller.start();
  await eventually("the invocation", () => (calls.length ? true : undefined));
  assert.equal(calls, [["t#1"]]);
  assert.is(failures.length, 0);
});

test("FilterCriteria: records no filter matches are skipped, never invoked or retried, and the checkpoint moves past them", async () => {
  const name = await table();
  await put(name, "f", 1, { status: { S: "draft" } });
  await put(name, "f", 2, { status: { S: "placed" } });
  await put(name, "f", 1, { status: { S: "placed" } }); // MODIFY of f#1
  await put(name, "f", 3, { status: { S: "draft" } });
  const filter = compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify({ dynamodb: { NewImage: { status: { S: ["placed"] } } } }) }] });
  const { poller, calls, started } = poll(name, () => ok, { filter, batchSize: 10 });
  await started;
  await eventually("the matching records", () => (calls.flat().length === 2 ? true : undefined));
  assert.equal(calls, [["f#2", "f#1"]]);
  assert.is(poller.filtered, 2);
  const [shard] = recorder.shardIds(name);
  await eventually("the checkpoint past the last (filtered) record", () =>
    poller.checkpoints().get(shard!) === recorder.records(name).at(-1)!.dynamodb.SequenceNumber ? true : undefined,
  );
});

test("ParallelizationFactor: batches of different partition keys run at once, each key in order, a failing key blocks only its lane", async () => {
  const name = await table();
  const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
  const lanes = 3;
  const laneOfKey = (k: string) => laneOf(JSON.stringify({ S: k }), lanes);
  const stuck = keys[0]!;
  const others = keys.filter((k) => laneOfKey(k) !== laneOfKey(stuck));
  assert.ok(others.length > 0 && new Set(others.map(laneOfKey)).size >= 2, "the keys spread over the lanes");
  for (let i = 1; i <= 3; i++) for (const key of keys) await put(name, key, i);
  let running = 0;
  let most = 0;
  const seen = new Map<string, number[]>();
  const { calls, started } = poll(
    name,
    async (batch) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      if (batch.records.some((r) => r.record.dynamodb.Keys.pk!.S === stuck)) return boom;
      for (const r of batch.records) {
        const key = String(r.record.dynamodb.Keys.pk!.S);
        seen.set(key, [...(seen.get(key) ?? []), Number(r.record.dynamodb.Keys.sk!.N)]);
      }
      return ok;
    },
    { batchSize: 2, parallelizationFactor: lanes },
  );
  await started;
  await eventually("every key of the other lanes", () => (others.every((k) => seen.get(k)?.length === 3) ? true : undefined));
  for (const key of others) assert.equal(seen.get(key), [1, 2, 3], key);
  assert.ok(most >= 2 && most <= lanes, `at most one batch per lane in flight, several lanes at once (saw ${most})`);
  // The stuck key's lane keeps retrying its first batch: nothing of that lane after it ran.
  const stuckLane = calls.filter((ids) => ids.some((i) => laneOfKey(i.split("#")[0]!) === laneOfKey(stuck)));
  assert.ok(stuckLane.length >= 2);
  assert.equal(new Set(stuckLane.map((c) => c.join(","))).size, 1, "the stuck lane retries one batch only");
});

test("MaximumBatchingWindowInSeconds gathers records written within the window into one batch", async () => {
  const name = await table();
  const { calls, started } = poll(name, () => ok, { batchSize: 10, maximumBatchingWindowInSeconds: 1 });
  await started;
  await put(name, "w", 1);
  await put(name, "w", 2);
  await put(name, "w", 3);
  await eventually("the batch", () => (calls.length ? true : undefined));
  assert.equal(calls, [["w#1", "w#2", "w#3"]]);
});

test("settings outside Lambda's limits are refused, naming the setting", () => {
  const source = recorderShardSource(recorder, recorder.tables()[0]!);
  const make = (options: Partial<ShardPollerOptions<StreamRecord>>) =>
    new ShardPoller<StreamRecord>({ source, functionArn: FUNCTION_ARN, startingPosition: "TRIM_HORIZON", invoke: async () => ok, ...options });
  assert.throws(() => make({ batchSize: 0 }), (e: Error) => e instanceof ShardPollerSettingError && /BatchSize/.test(e.message));
  assert.throws(() => make({ parallelizationFactor: 11 }), /ParallelizationFactor/);
  assert.throws(() => make({ maximumRetryAttempts: -2 }), /MaximumRetryAttempts/);
  assert.throws(() => make({ maximumRecordAgeInSeconds: 30 }), /MaximumRecordAgeInSeconds/);
  assert.throws(() => make({ startingPosition: "AT_TIMESTAMP" as "LATEST" }), /StartingPosition/);
  make({ maximumRetryAttempts: -1, maximumRecordAgeInSeconds: -1 });
});

test.run();
