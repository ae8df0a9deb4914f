import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { SQSEvent } from "aws-lambda";
import { ENV, FAILURE_EVENT_TYPE, failureEventData } from "../../contract";
import { resetAwsClients } from "../aws-clients";
import { RetryableError } from "../errors";
import { IDEMPOTENCY_RECORD } from "../event-lock";
import { createPublisher } from "../publisher";
import { parseTraceparent } from "../trace-context";
import { setFunctionEnvironment, TEST_TOPICS, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { billingConsumer, effectsFor, hooks } from "./helpers/billing-consumer";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";
import { cloudEvent, deliver, fixture, lambdaContext, orderPlaced, sqsEvent, sqsRecord } from "./helpers/events";
import { startSnsStub, THROTTLED, type SnsStub } from "./helpers/sns-server";

let dynamo: LocalDynamo;
let sns: SnsStub;
const orders = createPublisher("orders");
const handler = billingConsumer();

/** Publishes as the orders service would and returns what SNS recorded. */
async function published(data = orderPlaced()) {
  setFunctionEnvironment({ service: "orders", handler: "place-order" });
  const before = sns.published.length;
  await orders.publish("orders.order-placed", data);
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice" });
  return sns.published[before]!;
}

const failed = (response: { batchItemFailures: { itemIdentifier: string }[] }) =>
  response.batchItemFailures.map((f) => f.itemIdentifier);

function failureEvents() {
  return sns.events(TEST_TOPICS.failure);
}

function invoices(orderId: string) {
  return sns.events(TEST_TOPICS["billing.invoice-issued"]).filter((e) => e.data.orderId === orderId);
}

async function lockItems() {
  return dynamo.scan(TEST_TABLES.idempotency);
}

test.before(async () => {
  useLocalAwsEnvironment();
  [dynamo, sns] = await Promise.all([startDynalite(), startSnsStub()]);
});
test.after(async () => {
  await Promise.all([dynamo?.stop(), sns?.close()]);
});
test.before.each(() => {
  sns.reset();
  hooks.before = undefined;
  hooks.afterPublish = undefined;
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice" });
});

test("an event delivered raw or through an SNS envelope runs the action once each", async () => {
  const raw = await published();
  const wrapped = await published();
  const response = await handler(sqsEvent(deliver(raw), deliver(wrapped, { raw: false })), lambdaContext());
  assert.equal(response, { batchItemFailures: [] });
  for (const message of [raw, wrapped]) {
    const { orderId } = JSON.parse(message.message).data;
    assert.is(await effectsFor(orderId), 1);
    assert.is(invoices(orderId).length, 1);
  }
});

test("published events continue the received event's correlation id, causation and trace", async () => {
  const message = await published();
  const received = JSON.parse(message.message);
  await handler(sqsEvent(deliver(message)));
  const [invoice] = invoices(received.data.orderId);
  assert.is(invoice.correlationid, received.correlationid);
  assert.is(invoice.causationid, received.id);
  assert.is(invoice.source, "billing");
  assert.is(parseTraceparent(invoice.traceparent)!.traceId, parseTraceparent(received.traceparent)!.traceId);
  assert.is.not(invoice.traceparent, received.traceparent);
  assert.equal(sns.published.at(-1)!.attributes.correlationid, { dataType: "String", value: received.correlationid });
});

test("the idempotency record is keyed by the event id, in Powertools' layout", async () => {
  const message = await published();
  const { id } = JSON.parse(message.message);
  const before = Math.floor(Date.now() / 1000);
  await handler(sqsEvent(deliver(message)));
  const item = (await lockItems()).find((i) => i.id === `billing#issue-invoice#${id}`);
  assert.ok(item, "a record keyed by service, handler and event id (not the SQS message id)");
  assert.is(item![IDEMPOTENCY_RECORD.status], "COMPLETED");
  const expiration = item![IDEMPOTENCY_RECORD.expiration] as number;
  assert.ok(expiration >= before + 86_400 && expiration <= before + 86_400 + 5, `expiration ${expiration}`);
  assert.not.ok(IDEMPOTENCY_RECORD.inProgressExpiration in item!);
});

test("the same event delivered twice (new SQS message ids) runs once", async () => {
  const message = await published();
  const { orderId } = JSON.parse(message.message).data;
  assert.equal(failed(await handler(sqsEvent(deliver(message)))), []);
  assert.equal(failed(await handler(sqsEvent(deliver(message, { raw: false, receiveCount: 2 })))), []);
  assert.equal(failed(await handler(sqsEvent(deliver(message), deliver(message)))), []);
  assert.is(await effectsFor(orderId), 1);
  assert.is(invoices(orderId).length, 1);
});

test("the same event twice in one batch: run once, both acknowledged", async () => {
  const message = await published();
  const { orderId } = JSON.parse(message.message).data;
  assert.equal(failed(await handler(sqsEvent(deliver(message), deliver(message, { raw: false })))), []);
  assert.is(await effectsFor(orderId), 1);
});

test("log lines of a record carry its correlation id, event id and type, and the SQS message id", async () => {
  const message = await published();
  const received = JSON.parse(message.message);
  const record = deliver(message);
  const lines: Record<string, unknown>[] = [];
  const write = process.stdout.write;
  process.env[ENV.logLevel] = "INFO";
  process.stdout.write = ((chunk: string) => (lines.push(JSON.parse(chunk)), true)) as typeof process.stdout.write;
  try {
    await handler(sqsEvent(record), lambdaContext());
  } finally {
    process.stdout.write = write;
  }
  const done = lines.find((l) => l.message === "record done");
  assert.ok(done, JSON.stringify(lines));
  assert.is(done!.correlationId, received.correlationid);
  assert.is(done!.eventId, received.id);
  assert.is(done!.eventType, "orders.order-placed");
  assert.is(done!.traceparent, received.traceparent);
  assert.is(done!.messageId, record.messageId);
  assert.is(done!.outcome, "processed");
  assert.is(done!.service, "billing");
});

test("concurrent deliveries: one runs, the one that finds the lock is retried, then skipped", async () => {
  const message = await published();
  const { orderId, } = JSON.parse(message.message).data;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const safety = setTimeout(() => open(), 10_000);
  let gated = false;
  // Only the first run waits at the gate, so a broken lock fails this test instead of hanging it.
  hooks.before = () => (gated ? undefined : ((gated = true), gate));
  const first = handler(sqsEvent(deliver(message)), lambdaContext());
  for (let i = 0; i < 100 && !(await lockItems()).some((item) => item.status === "INPROGRESS"); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const second = deliver(message);
  assert.equal(failed(await handler(sqsEvent(second), lambdaContext())), [second.messageId], "in progress elsewhere: retry");
  open();
  clearTimeout(safety);
  assert.equal(failed(await first), []);
  assert.equal(failed(await handler(sqsEvent(deliver(message, { receiveCount: 2 })))), [], "completed: skipped");
  assert.is(await effectsFor(orderId), 1);
});

test("five deliveries racing at once: the effect happens once", async () => {
  const message = await published();
  const { orderId } = JSON.parse(message.message).data;
  hooks.before = () => new Promise((r) => setTimeout(r, 20));
  const results = await Promise.all(Array.from({ length: 5 }, () => handler(sqsEvent(deliver(message)), lambdaContext())));
  assert.is(await effectsFor(orderId), 1);
  assert.is(results.filter((r) => r.batchItemFailures.length === 0).length >= 1, true);
  // The losers were retried; on redelivery they are skipped.
  hooks.before = undefined;
  assert.equal(failed(await handler(sqsEvent(deliver(message)))), []);
  assert.is(await effectsFor(orderId), 1);
  assert.is(invoices(orderId).length, 1);
});

test("a crash mid-action leaves the event locked until the lock expires, then it runs once", async () => {
  const message = await published();
  const { id, data } = JSON.parse(message.message);
  const event = sqsEvent(deliver(message));
  const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "helpers", "crash-worker.ts"), JSON.stringify(event)], {
    env: { ...process.env, CRASH_LOCK_SECONDS: "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const timer = setTimeout(() => child.kill("SIGTERM"), 20_000);
  const signal = await new Promise((resolve) => child.on("exit", (_code, sig) => resolve(sig)));
  clearTimeout(timer);
  assert.is(signal, "SIGKILL");
  const firstAttempt = invoices(data.orderId);
  assert.is(firstAttempt.length, 1, "the crashed attempt had published");
  assert.is(await effectsFor(data.orderId), 0, "...but not written its effect");

  const early = deliver(message, { receiveCount: 2 });
  assert.equal(failed(await handler(sqsEvent(early))), [early.messageId], "the lock still holds: retry later");
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(failed(await handler(sqsEvent(deliver(message, { receiveCount: 3 })))), []);
  assert.is(await effectsFor(data.orderId), 1);
  const republished = invoices(data.orderId);
  assert.is(republished.length, 2);
  assert.is(republished[1].id, republished[0].id, "the retry republished the same event id (downstream drops it)");
  assert.is((await lockItems()).find((i) => i.id === `billing#issue-invoice#${id}`)!.status, "COMPLETED");
});

test("poison messages become failure events and are acknowledged", async () => {
  const valid = cloudEvent("orders.order-placed", orderPlaced());
  const cases = {
    notJson: "Test message.",
    badData: JSON.stringify({ ...valid, id: "bad-data", data: { ...orderPlaced(), items: [] } }),
    unknownType: JSON.stringify(cloudEvent("orders.order-exploded", {}, { id: "unknown-type" })),
    noAction: JSON.stringify(cloudEvent("billing.invoice-issued", { invoiceId: "i", orderId: "o", customerId: "c", total: { amount: 1, currency: "EUR" } })),
    blocked: JSON.stringify(cloudEvent("orders.order-placed", orderPlaced({ customerId: "blocked" }), { id: "blocked" })),
  };
  const records = Object.values(cases).map((body) => sqsRecord(body));
  const response = await handler(sqsEvent(...records), lambdaContext());
  assert.equal(failed(response), []);
  const events = failureEvents();
  assert.is(events.length, 5);
  const byBody = new Map(events.map((e) => [e.data.originalBody, e]));
  for (const [name, body] of Object.entries(cases)) {
    const event = byBody.get(body);
    assert.ok(event, `a failure event for ${name}`);
    assert.is(event.type, FAILURE_EVENT_TYPE);
    assert.is(event.source, "billing");
    assert.ok(failureEventData.safeParse(event.data).success);
    assert.is(event.data.service, "billing");
    assert.is(event.data.handler, "issue-invoice");
    assert.not.match(event.data.message, /\n\s+at /, "no stack trace");
  }
  assert.is(byBody.get(cases.notJson).data.reason, "invalid-event");
  assert.is(byBody.get(cases.notJson).data.originalId, undefined);
  const badData = byBody.get(cases.badData);
  assert.is(badData.data.reason, "invalid-event");
  assert.match(badData.data.message, /data\.items/);
  assert.is(badData.data.originalId, "bad-data");
  assert.is(badData.data.originalType, "orders.order-placed");
  assert.is(badData.correlationid, valid.correlationid);
  assert.is(badData.causationid, "bad-data");
  assert.is(byBody.get(cases.unknownType).data.reason, "unknown-event-type");
  assert.is(byBody.get(cases.noAction).data.reason, "unknown-event-type");
  assert.match(byBody.get(cases.noAction).data.message, /no action for billing.invoice-issued/);
  assert.is(byBody.get(cases.blocked).data.reason, "business-rule");
  assert.is(byBody.get(cases.blocked).data.message, "customer blocked may not order");
  assert.not.ok((await lockItems()).some((i) => i.id === "billing#issue-invoice#blocked"), "the lock was released");
  assert.equal(sns.published.find((m) => m.topicArn === TEST_TOPICS.failure)!.attributes.type, {
    dataType: "String",
    value: FAILURE_EVENT_TYPE,
  });
});

test("a redelivered poison message yields the same failure event id", async () => {
  await handler(sqsEvent(sqsRecord("poison")));
  await handler(sqsEvent(sqsRecord("poison")));
  const [a, b] = failureEvents();
  assert.is(a.id, b.id);
});

test("when the failure event cannot be published, the record is retried instead", async () => {
  sns.fail(THROTTLED, { topicArn: TEST_TOPICS.failure });
  const record = sqsRecord("not an event");
  assert.equal(failed(await handler(sqsEvent(record))), [record.messageId]);
  delete process.env[ENV.failureTopicArn];
  assert.equal(failed(await handler(sqsEvent(record))), [record.messageId]);
  assert.is(failureEvents().length, 0);
});

test("a throttled dependency makes the record retryable; the retry runs it once", async () => {
  const message = await published();
  const { orderId } = JSON.parse(message.message).data;
  sns.fail(THROTTLED, { topicArn: TEST_TOPICS["billing.invoice-issued"] });
  const record = deliver(message);
  assert.equal(failed(await handler(sqsEvent(record), lambdaContext())), [record.messageId]);
  assert.is(await effectsFor(orderId), 0);
  assert.is((await lockItems()).filter((i) => i.status === "INPROGRESS").length, 0, "lock released for the retry");
  assert.equal(failed(await handler(sqsEvent(deliver(message, { receiveCount: 2 })))), []);
  assert.is(await effectsFor(orderId), 1);
  assert.is(failureEvents().length, 0);
});

test("a failing table (data or idempotency) makes the record retryable", async () => {
  const message = await published();
  process.env[ENV.dataTable] = "missing-table";
  assert.is(failed(await handler(sqsEvent(deliver(message)))).length, 1);
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice", idempotencyTable: "missing-table" });
  assert.is(failed(await handler(sqsEvent(deliver(message)))).length, 1);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = "http://127.0.0.1:9";
  resetAwsClients();
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice" });
  assert.is(failed(await handler(sqsEvent(deliver(message)))).length, 1);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  resetAwsClients();
  assert.is(failureEvents().length, 0, "retryable errors never become failure events");
  assert.equal(failed(await handler(sqsEvent(deliver(message)))), []);
});

test("a batch with mixed outcomes reports exactly the failed message ids", async () => {
  const ok1 = deliver(await published());
  const flaky = deliver(await published(orderPlaced({ orderId: "flaky" })));
  const poison = sqsRecord("{ broken json");
  const ok2 = deliver(await published(), { raw: false });
  const flaky2 = deliver(await published(orderPlaced({ orderId: "flaky-2" })), { raw: false });
  hooks.before = (event) => {
    if (event.type === "orders.order-placed" && event.data.orderId.startsWith("flaky")) throw new RetryableError("inventory busy");
  };
  const response = await handler(sqsEvent(ok1, flaky, poison, ok2, flaky2), lambdaContext());
  assert.equal(response, { batchItemFailures: [{ itemIdentifier: flaky.messageId }, { itemIdentifier: flaky2.messageId }] });
  assert.is(failureEvents().length, 1);
});

test("an unknown error is retryable too (the default)", async () => {
  const message = await published();
  hooks.before = () => {
    throw new TypeError("cannot read properties of undefined");
  };
  const record = deliver(message);
  assert.equal(failed(await handler(sqsEvent(record))), [record.messageId]);
  assert.is(failureEvents().length, 0);
});

test("FIFO: a failure stops its message group, the rest of the group is reported failed, other groups go on", async () => {
  setFunctionEnvironment({ service: "orders", handler: "place-order" });
  const changes = [
    { orderId: "A", status: "placed" },
    { orderId: "A", status: "invoiced" },
    { orderId: "A", status: "shipped" },
    { orderId: "B", status: "placed" },
    { orderId: "B", status: "cancelled" },
  ] as const;
  await orders.publishBatch(changes.map((data) => ({ type: "orders.order-status-changed" as const, data })));
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice" });
  const records = sns.published.filter((m) => m.messageGroupId).map((m) => deliver(m));
  assert.equal(records.map((r) => r.attributes.MessageGroupId), ["A", "A", "A", "B", "B"]);
  // Interleave the groups as SQS may.
  const batch = [records[0]!, records[3]!, records[1]!, records[4]!, records[2]!];
  const ran: string[] = [];
  hooks.before = (event) => {
    if (event.type !== "orders.order-status-changed") return;
    ran.push(`${event.data.orderId}:${event.data.status}`);
    if (event.data.orderId === "A" && event.data.status === "invoiced") throw new Error("invoice service down");
  };
  const response = await handler(sqsEvent(...batch), lambdaContext());
  assert.equal(failed(response), [records[1]!.messageId, records[2]!.messageId]);
  assert.equal(ran.filter((r) => r.startsWith("A")), ["A:placed", "A:invoiced"], "A:shipped never ran");
  assert.equal(ran.filter((r) => r.startsWith("B")), ["B:placed", "B:cancelled"], "B in order");
  assert.is(await effectsFor("A:shipped"), 0);
  assert.is(await effectsFor("B:cancelled"), 1);

  hooks.before = undefined;
  const retry = await handler(sqsEvent(deliver(sns.published.find((m) => m.messageGroupId && JSON.parse(m.message).data.status === "invoiced")!), records[2]!));
  assert.equal(failed(retry), []);
  assert.is(await effectsFor("A:shipped"), 1);
});

test("FIFO: a poison message is acknowledged and does not block its group", async () => {
  const poison = sqsRecord("not json", { attributes: { MessageGroupId: "C" } });
  setFunctionEnvironment({ service: "orders", handler: "place-order" });
  await orders.publish("orders.order-status-changed", { orderId: "C", status: "placed" });
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice" });
  const next = deliver(sns.published.at(-1)!);
  assert.equal(failed(await handler(sqsEvent(poison, next))), []);
  assert.is(await effectsFor("C:placed"), 1);
  assert.is(failureEvents().length, 1);
});

function withCloudEvent(event: SQSEvent, body: (original: string) => string): SQSEvent {
  return { Records: event.Records.map((r) => ({ ...r, body: body(r.body) })) };
}

test("fixtures: our CloudEvent inside copies of real SQS events takes the full path", async () => {
  const data = orderPlaced();
  const placed = JSON.stringify(cloudEvent("orders.order-placed", data));
  const intoEnvelope = (event: string) => (original: string) => JSON.stringify({ ...JSON.parse(original), Message: event });

  const rawEvents = [fixture<SQSEvent>("sqs-raw.json"), fixture<SQSEvent>("sqs-raw-full-attributes.json")].map((e) =>
    withCloudEvent(e, () => placed),
  );
  const snsEvents = [fixture<SQSEvent>("sqs-sns-envelope.json"), fixture<SQSEvent>("sqs-sns-envelope-2.json")].map((e) =>
    withCloudEvent(e, intoEnvelope(placed)),
  );
  for (const event of [...rawEvents, ...snsEvents]) {
    assert.equal(await handler(event, lambdaContext()), { batchItemFailures: [] });
  }
  assert.is(await effectsFor(data.orderId), 1, "same event id in every copy: processed once");

  const fifo = withCloudEvent(
    fixture<SQSEvent>("sqs-sns-envelope-fifo.json"),
    intoEnvelope(JSON.stringify(cloudEvent("orders.order-status-changed", { orderId: "fixture-fifo", status: "placed" }))),
  );
  assert.equal(await handler(fifo, lambdaContext()), { batchItemFailures: [] });
  assert.is(await effectsFor("fixture-fifo:placed"), 1);

  // The samples as they are (foreign payloads) are poison for us: acknowledged, one failure event each.
  const originals = ["sqs-raw.json", "sqs-raw-full-attributes.json", "sqs-sns-envelope.json", "sqs-sns-envelope-2.json", "sqs-sns-envelope-fifo.json"];
  sns.reset();
  let records = 0;
  for (const name of originals) {
    const event = fixture<SQSEvent>(name);
    records += event.Records.length;
    assert.equal(await handler(event), { batchItemFailures: [] }, name);
  }
  const reasons = failureEvents().map((e) => e.data.reason);
  assert.is(reasons.length, records);
  assert.ok(reasons.every((r) => r === "invalid-event"));
  assert.ok(failureEvents().some((e) => e.data.originalBody === '{"message": "hello world"}'), "the SNS Message, unwrapped");
});

test("a non-SQS event is refused loudly", async () => {
  try {
    await handler({} as SQSEvent);
    assert.unreachable("should throw");
  } catch (error) {
    assert.match((error as Error).message, /expects an SQS event/);
  }
});

test("idempotency can be turned off for actions that are idempotent by themselves", async () => {
  const plain = billingConsumer({ idempotency: false });
  const message = await published();
  const { orderId } = JSON.parse(message.message).data;
  await plain(sqsEvent(deliver(message)));
  await plain(sqsEvent(deliver(message)));
  assert.is(await effectsFor(orderId), 2);
});

test.run();
