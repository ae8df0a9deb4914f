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

test.after(() => bed?.stop());

test("records a balance for ledger.entry-posted, once even when the event is delivered twice", async () => {
  const data = catalog["ledger.entry-posted"].example;
  // A stream event: its consumer reads Kinesis records from the event's data stream.
  const event = bed.consumerEvent("ledger.entry-posted", data);
  assert.equal(await handler(event), { batchItemFailures: [] });
  assert.equal(await handler(event), { batchItemFailures: [] }, "a duplicate delivery is acknowledged");

  const items = await bed.items("balance");
  assert.is(items.length, 1);
  assert.equal(items[0]!.details, data);
  assert.is(items[0]!.createdBy, bed.lastEventId);
});

test("an event that breaks its schema becomes a failure event and is acknowledged", async () => {
  // It has no partition key field: the record carries one given here, as a producer without the catalog could put it.
  const event = bed.kinesisEvent("ledger.entry-posted", { unexpected: true } as never, { partitionKey: "poison" });
  assert.equal(await handler(event), { batchItemFailures: [] });
  const failures = bed.failures();
  assert.is(failures.length, 1);
  assert.is(failures[0]!.data.reason, "invalid-event");
});

test("a record whose write fails stops the batch there: its sequence number is reported, the records after it wait", async () => {
  const data = catalog["ledger.entry-posted"].example;
  // Three events of one partition key, in order on one shard.
  const batch = bed.kinesisEvent("ledger.entry-posted", [data, data, data]);
  const [first, second, third] = batch.Records;
  const before = (await bed.items("balance")).length;
  assert.equal(await handler({ Records: [first!] }), { batchItemFailures: [] });

  // The batch again (Lambda retries it whole after a timeout): the first is a duplicate, the second's write fails.
  bed.failWrites(1);
  assert.equal(await handler(batch), { batchItemFailures: [{ itemIdentifier: second!.kinesis.sequenceNumber }] });
  assert.is((await bed.items("balance")).length, before + 1, "the third did not run before the second");

  // Lambda resumes at the reported sequence number.
  assert.equal(await handler({ Records: [second!, third!] }), { batchItemFailures: [] });
  const createdBy = (await bed.items("balance")).map((item) => item.createdBy);
  for (const id of bed.lastEventIds) assert.ok(createdBy.includes(id), `event ${id} recorded`);
});

test.run();
