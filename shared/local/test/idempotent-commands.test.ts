// POST /orders with an Idempotency-Key through the local stage and the example services, while SNS fails the
// publish of orders.order-placed: the order and its event are one write (the outbox), so the request succeeds and
// orders' relay retries the publish with the recorded id; one order, one event id, billing applying it once.
import { join } from "node:path";
import { ScanCommand, DynamoDBClient, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventually } from "../../testing/stage-target";
import { catalog } from "../../contract/catalog";
import type { PublishInput, PublishResult } from "../sns/engine";
import { ServiceError } from "../sqs/errors";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// The services this conversation crosses (orders, billing): the stage starts no other service's functions.
const SERVICES = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "services", name));

let stage: LocalStage;
let dynamo: DynamoDBClient;

/** How many of the next publishes of orders.order-placed SNS refuses, or takes and then answers with an error. */
let refuseNext = 0;
let loseNextAnswers = 0;
/** Publishes SNS refused. */
let refused = 0;
/** Event ids SNS took for orders.order-placed (one entry per accepted publish). */
const accepted: string[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: SERVICES });
  dynamo = new DynamoDBClient({ region: "us-east-1", endpoint: stage.endpoints.dynalite, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  // The fault sits on the SNS engine itself, behind the endpoint the function's unmodified SDK client calls.
  const publish = stage.sns.publish;
  stage.sns.publish = function publishWithFaults(this: typeof stage.sns, input: PublishInput): PublishResult {
    if (!input.TopicArn.endsWith(":local-orders-order-placed")) return publish.call(this, input);
    if (refuseNext > 0) {
      refuseNext--;
      refused++;
      throw new ServiceError("KMSDisabled", "The request was rejected because the specified KMS key isn't enabled.");
    }
    const result = publish.call(this, input);
    accepted.push((JSON.parse(input.Message) as { id: string }).id);
    // Published, but the answer never reaches the caller (SNS's side failed after taking it): the SDK retries.
    if (loseNextAnswers > 0) {
      loseNextAnswers--;
      throw new ServiceError("InternalError", "Request could not be completed", false);
    }
    return result;
  };
});

test.after(async () => {
  dynamo?.destroy();
  await stage?.stop();
});

async function items(table: string, prefix: string): Promise<Record<string, any>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out.map((item) => unmarshall(item)).filter((item) => String(item.pk ?? item.id).startsWith(prefix));
}

/** Every delivery to billing's queue handled: nothing waiting, nothing in flight. */
function billingQueueIdle(): true | undefined {
  const queue = stage.sqs.listQueues().find((q) => q.arn.endsWith(":local-billing-on-order-placed"));
  if (!queue) throw new Error("billing's queue is not in the stage");
  const counts = stage.sqs.counts(queue.arn);
  return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible + counts.ApproximateNumberOfMessagesDelayed === 0 ? true : undefined;
}

const { orderId: _assigned, ...order } = catalog["orders.order-placed"].example;

async function post(body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

test("a publish SNS refuses: the order and its event were one write, so the request succeeds; the relay publishes the recorded id once SNS takes it; a retry with the key is a replay", async () => {
  const customerId = "c-idem-refused";
  const body = { ...order, customerId };
  const headers = { "idempotency-key": "0b6f3f1e-6a3c-4a65-9d2b-7a1c2f0e5d11" };
  accepted.length = 0;
  refused = 0;
  refuseNext = 2; // KMSDisabled is not retried by the SDK: the relay reports the record, its mapping retries it
  const first = await post(body, headers);
  assert.is(first.status, 201, JSON.stringify(first.json));
  const { orderId } = first.json as { orderId: string };
  await eventually("the recorded event to be published", () => (accepted.length >= 1 ? true : undefined));
  assert.is(refused, 2, "SNS refused the relay twice before it took the event");
  assert.is(accepted.length, 1);
  await eventually("billing's invoice", async () => (await items("local-data", "$billing#")).find((i) => i.details?.orderId === orderId));
  await eventually("billing's queue to drain", billingQueueIdle);
  assert.is((await items("local-data", "$billing#")).filter((i) => i.details?.orderId === orderId).length, 1);
  assert.equal((await items("local-data", "$orders#")).filter((o) => o.details?.customerId === customerId && o.orderId).map((o) => o.orderId), [orderId], "one order");

  const replayed = await post(body, headers);
  assert.is(replayed.status, 201);
  assert.equal(replayed.json, first.json);
  assert.is(replayed.headers.get("idempotent-replayed"), "true");
  assert.is(accepted.length, 1, "a replay publishes nothing");
  // The replay's claim is held back by its condition: the trace says so plainly instead of calling it a failure.
  const correlationId = replayed.headers.get("x-correlation-id")!;
  const text = await eventually("the replay's trace", async () => {
    const tree = stage.trace(correlationId);
    return tree?.settled ? renderTrace(tree) : undefined;
  });
  assert.match(text, /PutItem on local-idempotency \(orders#POST \/orders#-#0b6f3f1e-6a3c-4a65-9d2b-7a1c2f0e5d11\) not written: its condition did not hold \(ConditionalCheckFailedException\)/, text);
  assert.not.match(text, /failed: ConditionalCheckFailedException/, text);
});

test("a publish whose answers are lost (SNS took it each time): the relay's retries republish the recorded id, billing applies it once", async () => {
  const customerId = "c-idem-lost-answer";
  const body = { ...order, customerId };
  const headers = { "idempotency-key": "5d2e8c4a-1f3b-4e7d-8a9c-0b1d2e3f4a5b" };
  accepted.length = 0;
  loseNextAnswers = 4; // more than the SDK's 3 attempts: the relay fails once, its mapping retries the record
  const first = await post(body, headers);
  assert.is(first.status, 201, JSON.stringify(first.json));
  const { orderId } = first.json as { orderId: string };
  await eventually("the relay to get an answer", () => (accepted.length >= 5 ? true : undefined));
  assert.equal([...new Set(accepted)], [accepted[0]], `every publish carried the same event id: ${accepted.join(", ")}`);

  await eventually("billing's invoice", async () => (await items("local-data", "$billing#")).find((i) => i.details?.orderId === orderId));
  await eventually("billing's queue to drain", billingQueueIdle);
  assert.equal((await items("local-data", "$orders#")).filter((o) => o.details?.customerId === customerId && o.orderId).map((o) => o.orderId), [orderId], "one order");
  assert.is((await items("local-data", "$billing#")).filter((i) => i.details?.orderId === orderId).length, 1, `one invoice for ${accepted.length} deliveries`);
  const locks = await items("local-idempotency", `billing#on-order-placed#${accepted[0]}`);
  assert.is(locks.length, 1);
  assert.is(locks[0]!.status, "COMPLETED", "billing's lock on the event id turned the other deliveries into duplicates");
});

test("the same key with another body: 422; no key: each request is an order of its own, as before", async () => {
  const headers = { "idempotency-key": "e4c1a7b2-3d5f-4a6e-9b8c-7d0e1f2a3b4c" };
  assert.is((await post({ ...order, customerId: "c-idem-first" }, headers)).status, 201);
  const other = await post({ ...order, customerId: "c-idem-other" }, headers);
  assert.is(other.status, 422);
  assert.is(other.json.error, "idempotency-key-reused");
  assert.is((await items("local-data", "$orders#")).filter((o) => o.details?.customerId === "c-idem-other").length, 0);

  const bad = await post(order, { "idempotency-key": "too-short" });
  assert.is(bad.status, 400);
  assert.match(bad.json.message, /Idempotency-Key is 9 characters long/);

  const a = await post({ ...order, customerId: "c-no-key" }, {});
  const b = await post({ ...order, customerId: "c-no-key" }, {});
  assert.is(a.status, 201);
  assert.is(b.status, 201);
  assert.is.not(a.json.orderId, b.json.orderId);
  assert.is((await items("local-data", "$orders#")).filter((o) => o.details?.customerId === "c-no-key").length, 2);
});

test.run();
