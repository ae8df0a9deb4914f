import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { outboxRelay } from "../../../shared/runtime";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { handler } from "../handlers/on-order-placed";

const service = "billing";
let bed: ServiceTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service, handler: "on-order-placed", relay: outboxRelay });
});

test.after(() => bed?.stop());

test("records an invoice for orders.order-placed, once even when the event is delivered twice", async () => {
  const data = catalog["orders.order-placed"].example;
  const event = bed.consumerEvent("orders.order-placed", data);
  assert.equal(await handler(event), { batchItemFailures: [] });
  assert.equal(await handler(event), { batchItemFailures: [] }, "a duplicate delivery is acknowledged");

  const items = await bed.items("invoice");
  assert.is(items.length, 1);
  assert.equal(items[0]!.details, data);
  assert.is(items[0]!.createdBy, bed.lastEventId);
  await bed.settle();
  const published = bed.published("billing.invoice-issued");
  assert.is(published.length, 1, "published once");
  assert.is(published[0]!.data.invoiceId, items[0]!.invoiceId);
  assert.is(published[0]!.causationid, bed.lastEventId);
});

test("an event that breaks its schema becomes a failure event and is acknowledged", async () => {
  const event = bed.sqsEvent("orders.order-placed", { unexpected: true } as never);
  assert.equal(await handler(event), { batchItemFailures: [] });
  const failures = bed.failures();
  assert.is(failures.length, 1);
  assert.is(failures[0]!.data.reason, "invalid-event");
});

test.run();
