import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { startLocalKinesis, type LocalKinesis } from "../../../shared/runtime/test/helpers/kinesis";
import { handler } from "../handlers/on-invoice-issued";

const service = "ledger";
const STREAM = "test-ledger-entry-posted";
let bed: ServiceTestBed;
let kinesis: LocalKinesis;

test.before(async () => {
  bed = await serviceTestBed({ service, handler: "on-invoice-issued" });
  // ledger.entry-posted is a stream event: the local Kinesis engine holds its stream.
  kinesis = await startLocalKinesis([{ name: STREAM, shards: 1 }]);
  process.env.PLATFORM_PUBLISH_STREAMS = JSON.stringify({ "ledger.entry-posted": STREAM });
});

test.after(async () => {
  await kinesis?.stop();
  await bed?.stop();
});

test("records an entry for billing.invoice-issued, once even when the event is delivered twice", async () => {
  const data = catalog["billing.invoice-issued"].example;
  const event = bed.sqsEvent("billing.invoice-issued", data);
  assert.equal(await handler(event), { batchItemFailures: [] });
  assert.equal(await handler(event), { batchItemFailures: [] }, "a duplicate delivery is acknowledged");

  const items = await bed.items("entry");
  assert.is(items.length, 1);
  assert.equal(items[0]!.details, data);
  assert.is(items[0]!.createdBy, bed.lastEventId);
  // The entry is posted on the ledger's stream once (the duplicate delivery published nothing), keyed by customer.
  const posted = (await kinesis.records(STREAM)).map((r) => ({ partitionKey: r.partitionKey, event: JSON.parse(r.data.toString("utf8")) }));
  assert.is(posted.length, 1);
  assert.is(posted[0]!.partitionKey, data.customerId);
  assert.equal(posted[0]!.event.data, { customerId: data.customerId, invoiceId: data.invoiceId, amount: data.total.amount });
});

test("an event that breaks its schema becomes a failure event and is acknowledged", async () => {
  const event = bed.sqsEvent("billing.invoice-issued", { unexpected: true } as never);
  assert.equal(await handler(event), { batchItemFailures: [] });
  const failures = bed.failures();
  assert.is(failures.length, 1);
  assert.is(failures[0]!.data.reason, "invalid-event");
});

test.run();
