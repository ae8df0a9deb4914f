// The test bed's consumer events against the Lambda samples in fixtures/aws-events: a stream event's consumer gets
// Kinesis records of the exact shape Lambda delivers, chosen from the catalog's ordering.
//
//   node --import tsx shared/testing/test/service-test-bed-events.test.ts
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract";
import { consume, defineEntity } from "../../runtime";
import { serviceTestBed, type ServiceTestBed } from "../service-test-bed";

const sample = (name: string) => JSON.parse(readFileSync(join(__dirname, "..", "fixtures", "aws-events", name), "utf8"));
let bed: ServiceTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service: "ledger", handler: "on-entry-posted" });
});
test.after(() => bed?.stop());

/** The shape of a value: the keys of objects (sorted, recursively) and the JavaScript type of the leaves. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k])]));
  }
  return typeof value;
}

test("kinesisEvent: records of the shape of Lambda's Kinesis samples, the partition key from the catalog's partitionKeyField", () => {
  const data = [catalog["ledger.entry-posted"].example, { ...catalog["ledger.entry-posted"].example, customerId: "customer-2" }];
  const event = bed.kinesisEvent("ledger.entry-posted", data);
  for (const name of ["kinesis.json", "kinesis-2.json"]) assert.equal(shape(event.Records[0]), shape(sample(name).Records[0]), name);
  const [first, second] = event.Records;
  assert.is(first!.kinesis.partitionKey, "customer-1");
  assert.is(second!.kinesis.partitionKey, "customer-2");
  assert.is(first!.eventSource, "aws:kinesis");
  assert.is(first!.eventName, "aws:kinesis:record");
  assert.is(first!.eventSourceARN, "arn:aws:kinesis:eu-west-1:123456789012:stream/test-ledger-entry-posted");
  for (const record of event.Records) {
    assert.match(record.kinesis.sequenceNumber, /^\d{56}$/);
    assert.is(record.eventID, `shardId-000000000000:${record.kinesis.sequenceNumber}`);
  }
  assert.ok(BigInt(second!.kinesis.sequenceNumber) > BigInt(first!.kinesis.sequenceNumber), "sequence numbers increase");
  const envelopes = event.Records.map((r) => JSON.parse(Buffer.from(r.kinesis.data, "base64").toString("utf8")));
  assert.equal(envelopes.map((e) => e.data), data);
  assert.equal(envelopes.map((e) => e.id), bed.lastEventIds);
  assert.is(bed.lastEventId, envelopes[1].id);
  assert.is(envelopes[0].correlationid, envelopes[1].correlationid, "one batch, one correlation id");
});

test("kinesisEvent: data without its partition key field is refused unless a key is given", () => {
  assert.throws(() => bed.kinesisEvent("ledger.entry-posted", { unexpected: true } as never), /ledger\.entry-posted is a stream event: data\.customerId must be a non-empty string or number/);
  assert.is(bed.kinesisEvent("ledger.entry-posted", { unexpected: true } as never, { partitionKey: "poison" }).Records[0]!.kinesis.partitionKey, "poison");
  assert.throws(() => bed.kinesisEvent("orders.order-placed" as never, catalog["orders.order-placed"].example as never), /orders\.order-placed is not a stream event/);
});

test("consumerEvent picks the shape from the catalog's ordering; sqsEvent refuses a stream event", () => {
  const stream = bed.consumerEvent("ledger.entry-posted", catalog["ledger.entry-posted"].example, { id: "event-1" });
  assert.is((stream.Records[0] as { eventSource: string }).eventSource, "aws:kinesis");
  assert.is(bed.lastEventId, "event-1");
  const queue = bed.consumerEvent("orders.order-placed", catalog["orders.order-placed"].example);
  assert.is((queue.Records[0] as { eventSource: string }).eventSource, "aws:sqs");
  assert.throws(() => bed.sqsEvent("ledger.entry-posted" as never, catalog["ledger.entry-posted"].example as never), /ledger\.entry-posted is a stream event: Lambda delivers its consumer Kinesis records/);
});

test("consume answers a stream batch as deployed: the sequence number of the record whose write failed", async () => {
  const balances = defineEntity({
    model: { entity: "balance", version: "1" },
    attributes: { balanceId: { type: "string", required: true }, details: { type: "any" }, createdBy: { type: "string", required: true } },
    indexes: { byId: { pk: { composite: ["balanceId"] } } },
  });
  const handler = consume({
    "ledger.entry-posted": async (event) => {
      await balances().put({ balanceId: event.id, details: event.data, createdBy: event.id }).go();
    },
  });
  const example = catalog["ledger.entry-posted"].example;
  const batch = bed.kinesisEvent("ledger.entry-posted", [example, example]);
  bed.failWrites(1);
  assert.equal(await handler(batch), { batchItemFailures: [{ itemIdentifier: batch.Records[0]!.kinesis.sequenceNumber }] });
  assert.equal(await handler(batch), { batchItemFailures: [] }, "the refusal was used up");
  const written = (await bed.items("balance")).map((item) => item.createdBy);
  for (const id of bed.lastEventIds) assert.ok(written.includes(id));
});

test.run();
