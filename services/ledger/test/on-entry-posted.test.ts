import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { handler } from "../handlers/on-entry-posted";

const service = "ledger";
let bed: ServiceTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service, handler: "on-entry-posted" });
});

test.after(() => bed.stop());

test("records a balance for ledger.entry-posted, once even when the event is delivered twice", async () => {
  const data = catalog["ledger.entry-posted"].example;
  const event = bed.sqsEvent("ledger.entry-posted", data);
  assert.equal(await handler(event), { batchItemFailures: [] });
  assert.equal(await handler(event), { batchItemFailures: [] }, "a duplicate delivery is acknowledged");

  const items = await bed.items("balance");
  assert.is(items.length, 1);
  assert.equal(items[0]!.details, data);
  assert.is(items[0]!.createdBy, bed.lastEventId);
});

test("an event that breaks its schema becomes a failure event and is acknowledged", async () => {
  const event = bed.sqsEvent("ledger.entry-posted", { unexpected: true } as never);
  assert.equal(await handler(event), { batchItemFailures: [] });
  const failures = bed.failures();
  assert.is(failures.length, 1);
  assert.is(failures[0]!.data.reason, "invalid-event");
});

test.run();
