import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { outboxRelay } from "../../../shared/runtime";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { handler } from "../handlers/create-order";

const service = "orders";
let bed: ServiceTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service, handler: "create-order", relay: outboxRelay });
});

test.after(() => bed?.stop());

test("POST /orders creates an order and orders.order-placed goes out through the outbox", async () => {
  const { orderId: _assigned, ...body } = catalog["orders.order-placed"].example;
  const response = await handler(bed.httpEvent("POST /orders", body, { "x-correlation-id": "test-run-1" }));
  assert.is(response.statusCode, 201);
  assert.is(response.headers?.["x-correlation-id"], "test-run-1");
  const { orderId } = JSON.parse(response.body!) as { orderId: string };

  const items = await bed.items("order");
  assert.is(items.length, 1);
  assert.is(items[0]!.orderId, orderId);
  assert.equal(items[0]!.details, body);
  await bed.settle();
  const published = bed.published("orders.order-placed");
  assert.is(published.length, 1);
  assert.is(published[0]!.data.orderId, orderId);
  assert.is(published[0]!.correlationid, "test-run-1");
});

test("a publish the relay retries, then a retry with the same Idempotency-Key: one order, one event with its recorded id, the first answer", async () => {
  const { orderId: _assigned, ...body } = catalog["orders.order-placed"].example;
  const headers = { "idempotency-key": "test-key-7d1f0c2e-9a4b" };
  bed.failPublishes(1);
  const first = await handler(bed.httpEvent("POST /orders", body, headers));
  assert.is(first.statusCode, 201);
  const { orderId } = JSON.parse(first.body!) as { orderId: string };
  const again = await handler(bed.httpEvent("POST /orders", body, headers));
  assert.is(again.statusCode, 201);
  assert.is(again.headers?.["idempotent-replayed"], "true");
  assert.equal(JSON.parse(again.body!), { orderId });

  assert.is((await bed.items("order")).filter((item) => item.orderId === orderId).length, 1);
  await bed.settle();
  const [refused] = bed.refused("orders.order-placed");
  const published = bed.published("orders.order-placed").filter((event) => event.id === refused!.id);
  assert.is(published.length, 1, "the relay published the recorded event id SNS refused first, once");
  assert.is(published[0]!.data.orderId, orderId);
  const other = await handler(bed.httpEvent("POST /orders", { ...body, note: "another body" }, headers));
  assert.is(other.statusCode, 422, "another body with the same key is refused");
});

test("a malformed body gets 400 and writes nothing", async () => {
  const before = (await bed.items("order")).length;
  const response = await handler(bed.httpEvent("POST /orders", "{not json"));
  assert.is(response.statusCode, 400);
  assert.not.match(response.body ?? "", /at .*\.ts:\d+/, "no stack trace");
  assert.is((await bed.items("order")).length, before);
});

test.run();
