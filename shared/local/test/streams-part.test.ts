// The streams part on its own: mappings read a table's stream records (a real StreamRecorder), watch mode's
// reconcile replaces a changed mapping's poller so its successor resumes at the checkpoint (nothing read twice,
// nothing lost), removes a removed mapping's, starts an added one's. The function host is a stand-in that records
// what it was invoked with (stage-streams.test.ts runs real hosts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StreamRecorder, type StreamRecord } from "../dynamodb-streams";
import type { FunctionHost } from "../lambda/function-host";
import { SqsEngine } from "../sqs/engine";
import { dynamodbStreamKind, streamsPart, type StreamsPart } from "../stage/part-streams";
import { TraceRecorder } from "../stage/trace";
import type { FunctionSpec, StageWiring, StreamMappingSpec, TableSpec } from "../stage/wiring";
import { eventually } from "../../testing/stage-target";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const STREAM = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/things/stream/2026-01-01T00:00:00.000`;

const streams = new StreamRecorder({ region: REGION });
streams.enable("things", { streamArn: STREAM, viewType: "NEW_IMAGE", key: { partitionKey: "pk" } });
let written = 0;
function put(pk: string): void {
  streams.append({ table: "things", newImage: { pk: { S: pk }, n: { N: String(++written) } } }, true);
}

/** Function hosts that record the partition keys of each batch. */
const got = new Map<string, string[][]>();
function host(name: string): FunctionHost {
  return {
    name,
    async invoke(event: { Records: StreamRecord[] }) {
      got.set(name, [...(got.get(name) ?? []), event.Records.map((r) => String(r.dynamodb.Keys.pk!.S))]);
      return { ok: true, payload: null, durationMs: 1 };
    },
  } as unknown as FunctionHost;
}
const hosts = new Map([
  ["reader", host("reader")],
  ["other", host("other")],
]);

const fn = (name: string) => ({ name, arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}` }) as FunctionSpec;
const mapping = (functionName: string, changes: Partial<StreamMappingSpec> = {}): StreamMappingSpec => ({
  origin: { project: "test", name: `${functionName}-mapping`, type: "aws:lambda/eventSourceMapping:EventSourceMapping" },
  kind: "dynamodb",
  eventSourceArn: STREAM,
  functionArn: fn(functionName).arn,
  startingPosition: "TRIM_HORIZON",
  batchSize: 100,
  maximumBatchingWindowInSeconds: 0,
  parallelizationFactor: 1,
  bisectBatchOnFunctionError: false,
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  reportBatchItemFailures: false,
  enabled: true,
  ...changes,
});
const wiring = (mappings: StreamMappingSpec[]): StageWiring => ({
  region: REGION,
  accountId: ACCOUNT,
  tables: [{ name: "things", stream: { arn: STREAM, viewType: "NEW_IMAGE" } } as TableSpec],
  topics: [],
  queues: [],
  subscriptions: [],
  functions: [fn("reader"), fn("other")],
  mappings: [],
  streamMappings: mappings,
  routes: [],
  ignored: [],
});

let part: StreamsPart;
const keys = (name: string) => (got.get(name) ?? []).flat();

test.before(async () => {
  part = streamsPart({
    wiring: wiring([mapping("reader")]),
    recorder: new TraceRecorder({ names: { queue: (a) => a, topic: (a) => a, functionLabel: (n) => n } }),
    hosts: () => hosts,
    sqs: () => new SqsEngine(),
    kinds: [dynamodbStreamKind(() => streams)],
  });
  await part.start();
});

test.after(async () => {
  await part?.stop();
});

test("a changed mapping's successor resumes at the checkpoint; a removed one stops; an added one starts at its position", async () => {
  put("a");
  put("b");
  await eventually("a and b", () => (keys("reader").length === 2 ? true : undefined));
  const first = part.mappings[0]!.poller;

  // A changed batch size: a new poller, resuming after b (TRIM_HORIZON would read a and b again).
  await part.reconcile!(wiring([mapping("reader", { batchSize: 5 })]));
  assert.is.not(part.mappings[0]!.poller, first);
  assert.is(part.mappings[0]!.poller.batchSize, 5);
  assert.not.ok(first.running);
  put("c");
  await eventually("c", () => (keys("reader").includes("c") ? true : undefined));
  assert.equal(keys("reader"), ["a", "b", "c"]);

  // The same wiring again: nothing replaced.
  const second = part.mappings[0]!.poller;
  await part.reconcile!(wiring([mapping("reader", { batchSize: 5 })]));
  assert.is(part.mappings[0]!.poller, second);

  // Removed, and another function's mapping added (LATEST: only what comes next).
  await part.reconcile!(wiring([mapping("other", { startingPosition: "LATEST" })]));
  assert.is(part.mappings.length, 1);
  assert.is(part.mappings[0]!.functionName, "other");
  assert.not.ok(second.running);
  put("d");
  await eventually("d for the other function", () => (keys("other").includes("d") ? true : undefined));
  assert.equal(keys("other"), ["d"]);
  assert.equal(keys("reader"), ["a", "b", "c"]);
  const listed = part.list();
  assert.is(listed.length, 1);
  assert.is(listed[0]!.function, "other");
  assert.is(listed[0]!.state, "Enabled");
  assert.is(listed[0]!.shards[0]!.checkpoint, streams.records("things").at(-1)!.dynamodb.SequenceNumber);
  assert.is(part.health().status, "ok");
});

test("a mapping whose filter criteria Lambda would refuse leaves the part degraded, naming it", async () => {
  await part.reconcile!(wiring([mapping("other", { filterCriteria: { Filters: [{ Pattern: '{"dynamodb": {"NewImage": {"pk": {"S": [{"wildcard": "a*"}]}}}}' }] } })]));
  const health = part.health();
  assert.is(health.status, "degraded");
  assert.match(health.detail ?? "", /other-mapping of test: FilterCriteria\.Filters\[0\]\.Pattern: Lambda event filtering does not support the "wildcard" operator/);
});

test.run();
