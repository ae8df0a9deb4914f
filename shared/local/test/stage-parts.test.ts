// The local stage's parts on their own: route selection, wiring checks, the trace recorder and its rendering, the
// CLI's argument handling. (stage.test.ts runs the whole stage from the real programs.)
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { endpointOverrides, parseArgs, serviceDirsOf } from "../cli";
import { childContext, contextFromHeader, rootContext, traceHeaderOf } from "../context";
import { PartStartError, renderTrace, RouteTable, StageParts, type StagePart, TraceRecorder, tracePaths, wiringFrom, WiringError, type TraceTree } from "../stage";

// ---------------------------------------------------------------------------------------------------------------
// Routes

test("routes: the most specific route wins, as in API Gateway HTTP APIs", () => {
  const table = new RouteTable<string>();
  table.add("GET /orders/{orderId}", "by-id", "orders");
  table.add("GET /orders/latest", "latest", "orders");
  table.add("ANY /orders/{orderId}", "any", "orders");
  table.add("GET /files/{path+}", "files", "files");
  table.add("$default", "fallback", "files");
  assert.equal(table.match("GET", "/orders/latest"), { routeKey: "GET /orders/latest", target: "latest", pathParameters: {} });
  assert.equal(table.match("GET", "/orders/o%201"), { routeKey: "GET /orders/{orderId}", target: "by-id", pathParameters: { orderId: "o 1" } });
  assert.equal(table.match("DELETE", "/orders/o-1")?.target, "any");
  assert.equal(table.match("GET", "/files/a/b/c.txt")?.pathParameters, { path: "a/b/c.txt" });
  assert.is(table.match("GET", "/files")?.target, "fallback", "a greedy parameter needs at least one segment");
  assert.is(table.match("POST", "/nothing/here")?.target, "fallback");
  assert.equal(table.keys().at(-1), "$default");
});

test("routes: without $default an unknown route matches nothing; a key two services declare is refused", () => {
  const table = new RouteTable<string>();
  table.add("POST /orders", "orders", "orders (local-orders-http)");
  assert.is(table.match("GET", "/orders"), undefined);
  assert.is(table.match("POST", "/orders/extra"), undefined);
  assert.throws(() => table.add("POST /orders", "other", "shop (local-shop-http)"), /declared by both orders \(local-orders-http\) and shop/);
});

// ---------------------------------------------------------------------------------------------------------------
// Parts

function part(name: string, log: string[], fail?: string): StagePart {
  let status: "starting" | "ok" | "stopped" = "starting";
  return {
    name,
    start() {
      log.push(`start ${name}`);
      if (fail) throw new Error(fail);
      status = "ok";
    },
    stop() {
      log.push(`stop ${name}`);
      status = "stopped";
    },
    health: () => ({ status }),
  };
}

test("parts: started in order, stopped in reverse, each reporting its health", async () => {
  const log: string[] = [];
  const parts = new StageParts([part("a", log), part("b", log), part("c", log)]);
  assert.equal(parts.health(), { a: { status: "starting" }, b: { status: "starting" }, c: { status: "starting" } });
  await parts.start();
  assert.equal(parts.health(), { a: { status: "ok" }, b: { status: "ok" }, c: { status: "ok" } });
  await parts.stop();
  assert.equal(log, ["start a", "start b", "start c", "stop c", "stop b", "stop a"]);
  assert.is(parts.health().a!.status, "stopped");
  await parts.stop();
  assert.is(log.length, 6, "a second stop stops nothing again");
  assert.throws(() => new StageParts([part("a", log), part("a", log)]), /two stage parts are named a/);
});

test("parts: one that fails to start stops those already started (and itself), and the error names it", async () => {
  const log: string[] = [];
  const parts = new StageParts([part("dynamodb", log), part("messaging", log), part("functions", log, "the handler of a/b does not build"), part("gateway", log)]);
  try {
    await parts.start();
    assert.unreachable("the start should fail");
  } catch (error) {
    assert.instance(error, PartStartError);
    assert.is((error as PartStartError).part, "functions");
    assert.is((error as Error).name, "LocalStageError");
    assert.is((error as Error).message, "functions: the handler of a/b does not build");
  }
  assert.equal(log, ["start dynamodb", "start messaging", "start functions", "stop functions", "stop messaging", "stop dynamodb"]);
});

test("parts: one that declares what it needs starts alongside the others; the rest wait for every part before them", async () => {
  const log: string[] = [];
  let release!: () => void;
  const slow: StagePart = { ...part("dynamodb", log), needs: [], start: () => { log.push("start dynamodb"); return new Promise<void>((r) => (release = r)); } };
  const engine: StagePart = { ...part("relational", log), needs: [] };
  const parts = new StageParts([slow, engine, part("functions", log)]);
  const starting = parts.start();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(log, ["start dynamodb", "start relational"], "relational did not wait for dynamodb; functions waits for both");
  release();
  await starting;
  assert.equal(log, ["start dynamodb", "start relational", "start functions"]);
  assert.throws(() => new StageParts([{ ...part("a", log), needs: ["b"] }, part("b", log)]), /stage part a needs b, which is not a part before it/);
});

test("parts: when one of the concurrent starts fails, the others finish starting, everything started stops, the error names the failing part", async () => {
  const log: string[] = [];
  const slow: StagePart = { ...part("dynamodb", log), needs: [], start: async () => { log.push("start dynamodb"); await new Promise((r) => setTimeout(r, 30)); log.push("dynamodb started"); } };
  const failing: StagePart = { ...part("relational", log, "migration 0003 failed"), needs: [] };
  const parts = new StageParts([slow, failing, part("functions", log)]);
  try {
    await parts.start();
    assert.unreachable("the start should fail");
  } catch (error) {
    assert.instance(error, PartStartError);
    assert.is((error as PartStartError).part, "relational");
    assert.is((error as Error).message, "relational: migration 0003 failed");
  }
  assert.equal(log, ["start dynamodb", "start relational", "dynamodb started", "stop dynamodb", "stop relational"]);
});

// ---------------------------------------------------------------------------------------------------------------
// Wiring

function resource(type: string, name: string, inputs: Record<string, unknown>, state: Record<string, unknown> = {}): CapturedResource {
  return { type, name, urn: `urn:${name}`, parent: "", custom: true, inputs, state: { ...inputs, ...state }, id: name };
}

const topic = resource("aws:sns/topic:Topic", "t", { name: "local-t" }, { arn: "arn:aws:sns:us-east-1:123456789012:local-t" });
const queue = resource("aws:sqs/queue:Queue", "q", { name: "local-q", visibilityTimeoutSeconds: 60 }, { arn: "arn:aws:sqs:us-east-1:123456789012:local-q", url: "u" });

test("wiring: reads topics, queues and subscriptions with their settings", () => {
  const subscription = resource("aws:sns/topicSubscription:TopicSubscription", "s", {
    topic: topic.state.arn,
    endpoint: queue.state.arn,
    protocol: "sqs",
    rawMessageDelivery: true,
    filterPolicy: '{"type":["a"]}',
    filterPolicyScope: "MessageBody",
  });
  const wiring = wiringFrom([{ project: "p", resources: [topic, queue, subscription] }], { region: "us-east-1", accountId: "123456789012" });
  assert.equal(wiring.queues[0]!.visibilityTimeoutSeconds, 60);
  assert.equal(wiring.subscriptions[0], {
    origin: { project: "p", name: "s", type: "aws:sns/topicSubscription:TopicSubscription" },
    deployedArn: "",
    topicArn: topic.state.arn,
    queueArn: queue.state.arn,
    raw: true,
    filterPolicy: '{"type":["a"]}',
    filterPolicyScope: "MessageBody",
  });
});

test("wiring: a reference to something no program created stops the start with a WiringError", () => {
  const dangling = resource("aws:sns/topicSubscription:TopicSubscription", "s", { topic: "arn:aws:sns:us-east-1:123456789012:gone", endpoint: queue.state.arn, protocol: "sqs" });
  assert.throws(() => wiringFrom([{ project: "p", resources: [topic, queue, dangling] }], { region: "us-east-1", accountId: "123456789012" }), (error: Error) => {
    return error instanceof WiringError && /subscribes to arn:aws:sns:us-east-1:123456789012:gone, which no program created/.test(error.message);
  });
  const fn = resource("aws:lambda/function:Function", "f", { name: "local-f", role: "r" }, { arn: "arn:aws:lambda:us-east-1:123456789012:function:local-f" });
  assert.throws(() => wiringFrom([{ project: "p", resources: [fn] }], { region: "us-east-1", accountId: "123456789012" }), /is not a ServiceFunction/);
  const email = resource("aws:sns/topicSubscription:TopicSubscription", "e", { topic: topic.state.arn, endpoint: "ops@example.com", protocol: "email" });
  const wiring = wiringFrom([{ project: "p", resources: [topic, email] }], { region: "us-east-1", accountId: "123456789012" });
  assert.match(wiring.ignored[0]!.reason, /protocol email is not emulated/);
});

test("wiring: more than two mappings on one DynamoDB stream stop the start, naming them and AWS's limit; two, or a third disabled, do not", () => {
  const streamArn = "arn:aws:dynamodb:us-east-1:123456789012:table/local-orders-outbox/stream/2026-01-01T00:00:00.000";
  const table = resource(
    "aws:dynamodb/table:Table",
    "outbox",
    { name: "local-orders-outbox", hashKey: "pk", rangeKey: "sk", attributes: [{ name: "pk", type: "S" }, { name: "sk", type: "S" }], streamEnabled: true, streamViewType: "NEW_IMAGE" },
    { arn: "arn:aws:dynamodb:us-east-1:123456789012:table/local-orders-outbox", streamArn },
  );
  const fnArn = "arn:aws:lambda:us-east-1:123456789012:function:local-orders-relay";
  const fn = resource("platform:infra:ServiceFunction", "relay", { service: "orders", name: "relay", entry: "x.ts", export: "handler", file: "index.mjs", runtime: "nodejs24.x", settings: {} });
  const lambda = resource("aws:lambda/function:Function", "relay-function", { name: "local-orders-relay", role: "r" }, { arn: fnArn });
  lambda.parent = fn.urn;
  const reader = (name: string, inputs: Record<string, unknown> = {}) =>
    resource("aws:lambda/eventSourceMapping:EventSourceMapping", name, { eventSourceArn: streamArn, functionName: fnArn, startingPosition: "TRIM_HORIZON", ...inputs });
  const wire = (resources: CapturedResource[]) => wiringFrom([{ project: "orders", resources: [table, fn, lambda, ...resources] }], { region: "us-east-1", accountId: "123456789012" });
  assert.is(wire([reader("a"), reader("b")]).streamMappings?.length, 2);
  assert.is(wire([reader("a"), reader("b"), reader("c", { enabled: false })]).streamMappings?.length, 3, "a disabled mapping reads nothing");
  assert.throws(
    () => wire([reader("a"), reader("b"), reader("c")]),
    (error: Error) =>
      error instanceof WiringError &&
      /^3 event source mappings read the stream of table local-orders-outbox: a of orders, b of orders, c of orders; AWS allows at most 2 readers of a DynamoDB stream shard at a time \(more are throttled: LimitExceededException\)/.test(error.message),
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Trace

const names = { queue: (arn: string) => arn.split(":").pop()!, topic: (arn: string) => arn.split(":").pop()!, functionLabel: (n: string) => `svc/${n}` };
const TOPIC = "arn:aws:sns:us-east-1:123456789012:local-t";
const QUEUE = "arn:aws:sqs:us-east-1:123456789012:local-q";
const OTHER = "arn:aws:sqs:us-east-1:123456789012:local-other";

test("trace: publish -> deliveries -> invocation -> write and publish, grouped by correlation id, settles once", async () => {
  const settled: TraceTree[] = [];
  const recorder = new TraceRecorder({ names, settleMs: 5, onSettled: (tree) => settled.push(tree) });
  const body = JSON.stringify({ id: "e-1", type: "a.b", correlationid: "c-1" });
  const hand = rootContext("local");
  recorder.publishing({ topicArn: TOPIC, message: body }, hand, () => {
    recorder.messaging({ kind: "sns.published", time: 0, topicArn: TOPIC, context: hand, messageId: "sns-1", attributeNames: [] });
    const delivery = childContext(hand, "sns.amazonaws.com");
    recorder.messaging({ kind: "sns.delivered", time: 0, topicArn: TOPIC, context: delivery, subscriptionArn: "s", endpoint: QUEUE, messageId: "sns-1", sqsMessageId: "sqs-1", raw: true });
    const filtered = childContext(hand, "sns.amazonaws.com");
    recorder.messaging({ kind: "sns.filtered-out", time: 0, topicArn: TOPIC, context: filtered, subscriptionArn: "s2", endpoint: OTHER, messageId: "sns-1", reason: "type did not match" });
    return { MessageId: "sns-1" };
  });
  assert.is(recorder.tree("c-1")!.settled, false, "a queued delivery is pending");
  recorder.messaging({ kind: "sqs.received", time: 0, queueArn: QUEUE, messageId: "sqs-1", receiveCount: 1, visibleAgainAt: 0 });
  const invoked = contextFromHeader(traceHeaderOf(hand), "lambda");
  // The function runs with this header; its SDK calls send it back (X-Amzn-Trace-Id), naming the invocation's span.
  const header = traceHeaderOf(invoked);
  const invocation = recorder.invocationStarted({ functionName: "f", context: invoked, requestId: "r-1", records: [{ messageId: "sqs-1", body, queueArn: QUEUE }] });
  recorder.dynamo({ requestId: "d-1", operation: "PutItem", allowed: true, traceHeader: header, authorizations: [{ action: "dynamodb:PutItem", table: "local-data", conditionKeys: { "dynamodb:LeadingKeys": ["$svc#1"] } }] });
  recorder.dynamoAnswered({ requestId: "d-1", status: 200 });
  const republished = contextFromHeader(header, "f");
  recorder.publishing({ topicArn: TOPIC, message: JSON.stringify({ id: "e-2", type: "a.c", correlationid: "c-1" }) }, republished, () => ({ MessageId: "sns-2" }));
  recorder.denied({ action: "sns:Publish", resource: "arn:x", context: contextFromHeader(header, "f") }, "no identity-based policy allows the sns:Publish action");
  recorder.invocationFinished(invocation, { status: "ok", durationMs: 3 });
  recorder.messaging({ kind: "sqs.deleted", time: 0, queueArn: QUEUE, messageId: "sqs-1" });
  await new Promise((resolve) => setTimeout(resolve, 40));

  assert.is(settled.length, 1);
  const tree = settled[0]!;
  assert.ok(tree.settled);
  assert.equal(tracePaths(tree).map((p) => p.join(">")), [
    "publish>delivery>invocation>write",
    "publish>delivery>invocation>publish",
    "publish>delivery",
  ]);
  const text = renderTrace(tree);
  assert.match(text, /published by hand a\.b e-1 to local-t/);
  assert.match(text, /delivered to local-q\n/);
  assert.match(text, /svc\/f handled it in 3\.0 ms \(batch of 1\)/);
  assert.match(text, /wrote PutItem on local-data \(\$svc#1\)/);
  assert.match(text, /DENIED sns:Publish on arn:x/);
  assert.match(text, /published a\.c e-2 to local-t\n.*no subscription/);
  assert.match(text, /not delivered to local-other: the filter policy did not match \(type did not match\)/);
  // Every hop's span names its parent: publish (root) > delivery > invocation > publish, one trace id throughout.
  const publish = tree.roots[0] as import("../stage").PublishTrace;
  const handled = publish.deliveries[0]!.invocations[0]!;
  assert.is(publish.spanId, hand.spanId);
  assert.is(publish.parentSpanId, undefined);
  assert.is(handled.traceId, hand.traceId);
  assert.is(handled.spanId, invoked.spanId);
  assert.is(handled.parentSpanId, hand.spanId, "the message's AWSTraceHeader named the publish as the parent");
  assert.is(handled.publishes[0]!.spanId, republished.spanId);
  assert.is(handled.publishes[0]!.parentSpanId, handled.spanId);
  recorder.close();
});

test("trace: a delivery lands under the publish its span names, even while another publish is being sent", () => {
  const recorder = new TraceRecorder({ names });
  const first = rootContext("local");
  const second = rootContext("local");
  recorder.publishing({ topicArn: TOPIC, message: JSON.stringify({ id: "e-1", type: "a.b", correlationid: "c-a" }) }, first, () => ({ MessageId: "sns-a" }));
  recorder.publishing({ topicArn: TOPIC, message: JSON.stringify({ id: "e-2", type: "a.b", correlationid: "c-b" }) }, second, () => {
    // An asynchronous delivery of the first publish, reported while the second one is on its way.
    recorder.messaging({ kind: "sns.delivered", time: 0, topicArn: TOPIC, context: childContext(first, "sns.amazonaws.com"), subscriptionArn: "s", endpoint: QUEUE, messageId: "sns-a", sqsMessageId: "sqs-a", raw: true });
    return { MessageId: "sns-b" };
  });
  const a = recorder.tree("c-a")!.roots[0] as import("../stage").PublishTrace;
  const b = recorder.tree("c-b")!.roots[0] as import("../stage").PublishTrace;
  assert.equal(a.deliveries.map((d) => d.queue), ["local-q"]);
  assert.equal(b.deliveries, []);
  recorder.close();
});

test("trace: a failed message waits for its retry, then moves to the dead-letter queue", () => {
  const recorder = new TraceRecorder({ names });
  const hand = rootContext("local");
  recorder.publishing({ topicArn: TOPIC, message: JSON.stringify({ correlationid: "c-2" }) }, hand, () => {
    recorder.messaging({ kind: "sns.delivered", time: 0, topicArn: TOPIC, context: childContext(hand, "sns.amazonaws.com"), subscriptionArn: "s", endpoint: QUEUE, messageId: "sns-9", sqsMessageId: "sqs-9", raw: true });
    return { MessageId: "sns-9" };
  });
  recorder.messaging({ kind: "sqs.received", time: 0, queueArn: QUEUE, messageId: "sqs-9", receiveCount: 1, visibleAgainAt: 0 });
  const invocation = recorder.invocationStarted({ functionName: "f", context: rootContext("lambda"), requestId: "r-9", records: [{ messageId: "sqs-9", body: "{}", queueArn: QUEUE }] });
  recorder.invocationFinished(invocation, { status: "failed", error: "Error: boom", failedMessageIds: ["sqs-9"] });
  let tree = recorder.tree("c-2")!;
  assert.ok(tree.settled, "a retry after the visibility timeout is not pending work");
  assert.match(renderTrace(tree), /failed on receive 1, back after the visibility timeout\n.*svc\/f failed .*Error: boom/);
  recorder.messaging({ kind: "sqs.moved-to-dlq", time: 0, queueArn: QUEUE, deadLetterQueueArn: `${QUEUE}-dlq`, messageId: "sqs-9", receiveCount: 5 });
  tree = recorder.tree("c-2")!;
  assert.match(renderTrace(tree), /moved from local-q to the dead-letter queue local-q-dlq/);
  recorder.close();
});

// ---------------------------------------------------------------------------------------------------------------
// CLI

test("cli: arguments, flags and endpoint overrides", () => {
  assert.equal(parseArgs([]), { command: "start", args: [], flags: {} });
  assert.equal(parseArgs(["--port", "4000", "--quiet", "--persist=.data"]), { command: "start", args: [], flags: { port: "4000", quiet: true, persist: ".data" } });
  assert.equal(parseArgs(["publish", "a.b", "{}", "--correlation-id", "c"]), { command: "publish", args: ["a.b", "{}"], flags: { "correlation-id": "c" } });
  assert.throws(() => parseArgs(["--bogus"]), /unknown option --bogus/);
  assert.throws(() => parseArgs(["--port"]), /--port needs a value/);
  // --services: those services' folders, in the order given; a name that is no service is refused, naming it.
  assert.equal(parseArgs(["--services", "orders,billing"]).flags, { services: "orders,billing" });
  const all = ["/r/services/billing", "/r/services/ledger", "/r/services/orders"];
  assert.equal(serviceDirsOf("orders, billing", all), ["/r/services/orders", "/r/services/billing"]);
  assert.throws(() => serviceDirsOf("orders,shiping", all), /--services: no service "shiping" \(services: billing, ledger, orders\)/);
  assert.throws(() => serviceDirsOf(" , ", all), /--services needs service names/);
  assert.equal(endpointOverrides({ AWS_ENDPOINT_URL: "http://localhost:4566", AWS_ENDPOINT_URL_SNS: "http://localhost:5000" }), {
    sns: "http://localhost:5000",
    sqs: "http://localhost:4566",
    dynamodb: "http://localhost:4566",
  });
  assert.equal(endpointOverrides({}), {});
});

test.run();
