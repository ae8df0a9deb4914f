import { test } from "uvu";
import * as assert from "uvu/assert";
import { envelopeSchema, type EventData } from "../../contract";
import { resetAwsClients } from "../aws-clients";
import { ConfigurationError, EventSchemaError, PublishError } from "../errors";
import { runInScope } from "../invocation-scope";
import { createPublisher } from "../publisher";
import { parseTraceparent } from "../trace-context";
import { setFunctionEnvironment, TEST_TOPICS } from "./helpers/aws-environment";
import { orderPlaced } from "./helpers/events";
import { THROTTLED } from "./helpers/sns-server";
import { snsStubFor } from "./helpers/sns-suite";

const sns = snsStubFor(test, { service: "orders" });
const orders = createPublisher("orders");

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}


test("publish sends one Publish with the envelope and the filter attributes", async () => {
  const data = orderPlaced();
  const event = await orders.publish("orders.order-placed", data);
  assert.equal(sns.requests, [{ action: "Publish", topicArn: TEST_TOPICS["orders.order-placed"], entries: 1 }]);
  const [message] = sns.published;
  const body = JSON.parse(message!.message);
  assert.equal(body, event);
  assert.ok(envelopeSchema.safeParse(body).success);
  assert.equal(body.data, data);
  assert.is(body.source, "orders");
  assert.equal(message!.attributes, {
    type: { dataType: "String", value: "orders.order-placed" },
    source: { dataType: "String", value: "orders" },
    correlationid: { dataType: "String", value: body.correlationid },
    dataversion: { dataType: "Number", value: "1" },
  });
  assert.is(message!.messageGroupId, undefined);
});

test("FIFO events carry the message group from data and the event id as deduplication id", async () => {
  const event = await orders.publish("orders.order-status-changed", { orderId: "o-7", status: "shipped" });
  const [message] = sns.published;
  assert.is(message!.topicArn, TEST_TOPICS["orders.order-status-changed"]);
  assert.is(message!.messageGroupId, "o-7");
  assert.is(message!.messageDeduplicationId, event.id);
});

test("publishBatch uses PublishBatch in chunks of 10, per topic, in order; one entry per FIFO message group a call", async () => {
  const placed = Array.from({ length: 23 }, (_, i) => ({ type: "orders.order-placed" as const, data: orderPlaced({ orderId: `o-${i}` }) }));
  const changed = Array.from({ length: 3 }, (_, i) => ({
    type: "orders.order-status-changed" as const,
    data: { orderId: "o-1", status: (["placed", "invoiced", "shipped"] as const)[i]! },
  }));
  const events = await orders.publishBatch([...placed, ...changed]);
  assert.is(events.length, 26);
  assert.equal(
    sns.requests.map((r) => [r.action, r.entries, r.topicArn === TEST_TOPICS["orders.order-placed"]]),
    [
      ["PublishBatch", 10, true],
      ["PublishBatch", 10, true],
      ["PublishBatch", 3, true],
      // One message group: an entry failed in a shared call could be overtaken by the group's next one.
      ["Publish", 1, false],
      ["Publish", 1, false],
      ["Publish", 1, false],
    ],
  );
  assert.equal(
    sns.events(TEST_TOPICS["orders.order-placed"]).map((e) => e.data.orderId),
    placed.map((p) => p.data.orderId),
  );
  assert.equal(sns.events(TEST_TOPICS["orders.order-status-changed"]).map((e) => e.data.status), ["placed", "invoiced", "shipped"]);
  assert.equal(
    sns.published.filter((m) => m.messageGroupId).map((m) => m.messageDeduplicationId),
    events.slice(23).map((e) => e.id),
  );
});

test("batches also stay under 256 KiB", async () => {
  const bulky = (i: number) => ({
    type: "orders.order-placed" as const,
    data: orderPlaced({ orderId: `o-${i}`, items: Array.from({ length: 1800 }, (_, n) => ({ sku: `sku-${n}-${"x".repeat(20)}`, quantity: 1 })) }),
  });
  await orders.publishBatch([bulky(1), bulky(2), bulky(3), bulky(4)]);
  // About 90 KB each: two fit in 256 KiB, three do not.
  assert.equal(sns.requests.map((r) => r.entries), [2, 2]);
  assert.is(sns.published.length, 4);
});

test("a service cannot publish what it does not own: compile time and run time", async () => {
  const cheat = createPublisher("orders") as unknown as ReturnType<typeof createPublisher<"billing">>;
  const data: EventData<"billing.invoice-issued"> = { invoiceId: "i", orderId: "o", customerId: "c", total: { amount: 1, currency: "EUR" } };
  const error = await rejection(cheat.publish("billing.invoice-issued", data));
  assert.instance(error, ConfigurationError);
  assert.match(error.message, /service "orders" cannot publish billing.invoice-issued: its owner is "billing"/);
  assert.is(sns.requests.length, 0);
});

test("a publisher for another service than the function's is refused", async () => {
  setFunctionEnvironment({ service: "billing" });
  const error = await rejection(orders.publish("orders.order-placed", orderPlaced()));
  assert.instance(error, ConfigurationError);
  assert.match(error.message, /runs in a function of service "billing"/);
});

test("a type whose topic is not in the environment is a clear configuration error", async () => {
  setFunctionEnvironment({ service: "orders", publishes: ["orders.order-status-changed"] });
  const error = await rejection(orders.publish("orders.order-placed", orderPlaced()));
  assert.instance(error, ConfigurationError);
  assert.match(error.message, /no topic for orders.order-placed in PLATFORM_PUBLISH_TOPICS/);
  process.env.PLATFORM_PUBLISH_TOPICS = "{not json";
  assert.instance(await rejection(orders.publish("orders.order-placed", orderPlaced())), ConfigurationError);
});

test("invalid data is refused before anything is sent, even in a batch", async () => {
  const bad = { ...orderPlaced(), total: { amount: -1, currency: "EUR" } };
  const error = await rejection(
    orders.publishBatch([
      { type: "orders.order-placed", data: orderPlaced() },
      { type: "orders.order-placed", data: bad },
    ]),
  );
  assert.instance(error, EventSchemaError);
  assert.equal((error as EventSchemaError).issues.map((i) => i.path), ["total.amount"]);
  assert.is(sns.requests.length, 0);
});

test("inside a handled event: same correlation id, causation id = its id, same trace with a new span, stable ids", async () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const scope = () => ({ correlationId: "corr-9", traceparent, eventId: "evt-9", idSeed: "billing/x#evt-9", sequence: new Map() });
  const first = await runInScope(scope(), () =>
    orders.publishBatch([
      { type: "orders.order-placed", data: orderPlaced({ orderId: "a" }) },
      { type: "orders.order-placed", data: orderPlaced({ orderId: "b" }) },
    ]),
  );
  const retried = await runInScope(scope(), () => orders.publish("orders.order-placed", orderPlaced({ orderId: "a" })));
  for (const event of first) {
    assert.is(event.correlationid, "corr-9");
    assert.is(event.causationid, "evt-9");
    const context = parseTraceparent(event.traceparent)!;
    assert.is(context.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.is.not(context.parentId, "00f067aa0ba902b7");
  }
  assert.is.not(first[0]!.id, first[1]!.id);
  assert.is(retried.id, first[0]!.id, "a retried action republishes the same id");
});

test("outside any scope: a new correlation id and trace, no causation id", async () => {
  const a = await orders.publish("orders.order-placed", orderPlaced());
  const b = await orders.publish("orders.order-placed", orderPlaced(), { correlationId: "given", subject: "s" });
  assert.is.not(a.correlationid, b.correlationid);
  assert.is(b.correlationid, "given");
  assert.is(b.subject, "s");
  assert.is(a.causationid, undefined);
  assert.is.not(parseTraceparent(a.traceparent)!.traceId, parseTraceparent(b.traceparent)!.traceId);
});

test("SNS errors become PublishError with the event ids; the client comes from the environment", async () => {
  sns.fail(THROTTLED);
  const error = await rejection(orders.publish("orders.order-placed", orderPlaced()));
  assert.instance(error, PublishError);
  assert.is((error as PublishError).eventIds.length, 1);
  assert.match(error.message, /Throttled/);

  sns.failEntries((message) => message.includes('"orderId":"fails"'));
  const partial = await rejection(
    orders.publishBatch([
      { type: "orders.order-placed", data: orderPlaced({ orderId: "ok" }) },
      { type: "orders.order-placed", data: orderPlaced({ orderId: "fails" }) },
    ]),
  );
  assert.instance(partial, PublishError);
  assert.is((partial as PublishError).eventIds.length, 1);
  assert.match(partial.message, /refused 1 of 2/);
  assert.is(sns.events().filter((e) => e.data.orderId === "ok").length, 1);

  const saved = process.env.AWS_ENDPOINT_URL_SNS;
  process.env.AWS_ENDPOINT_URL_SNS = "http://127.0.0.1:9";
  resetAwsClients();
  assert.instance(await rejection(orders.publish("orders.order-placed", orderPlaced())), PublishError);
  process.env.AWS_ENDPOINT_URL_SNS = saved;
  resetAwsClients();
});

test("publishBatch: an entry SNS failed on its side is sent again alone (the client's maxAttempts); the sender's is not", async () => {
  const saved = process.env.AWS_MAX_ATTEMPTS;
  process.env.AWS_MAX_ATTEMPTS = "3";
  resetAwsClients();
  try {
    let failures = 0;
    sns.failEntries((message) => message.includes('"orderId":"once"') && ++failures === 1);
    await orders.publishBatch([
      { type: "orders.order-placed", data: orderPlaced({ orderId: "ok" }) },
      { type: "orders.order-placed", data: orderPlaced({ orderId: "once" }) },
    ]);
    assert.equal(sns.requests.map((r) => [r.action, r.entries]), [["PublishBatch", 2], ["PublishBatch", 1]]);
    assert.equal(sns.events().map((e) => e.data.orderId), ["ok", "once"]);

    sns.reset();
    sns.failEntries((message) => message.includes('"orderId":"denied"'), { code: "KMSAccessDenied", senderFault: true });
    const error = await rejection(
      orders.publishBatch([
        { type: "orders.order-placed", data: orderPlaced({ orderId: "ok" }) },
        { type: "orders.order-placed", data: orderPlaced({ orderId: "denied" }) },
      ]),
    );
    assert.instance(error, PublishError);
    assert.match(error.message, /KMSAccessDenied/);
    assert.is(sns.requests.length, 1);
  } finally {
    process.env.AWS_MAX_ATTEMPTS = saved;
    resetAwsClients();
  }
});

test.run();
