// The outbox against the real local engines: dynalite behind the local write engine (TransactWriteItems over the
// data table and the service's outbox table, the outbox table's stream in DynamoDB Streams' shape), the relay run on
// those stream records, the unmodified SDK clients, and
// a local SNS. The crash test kills a handler's process right after its write.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { DynamoDBRecord } from "aws-lambda";
import { catalog, ENV } from "../../contract";
import { serviceTestBed, type ServiceTestBed } from "../../testing";
import { consume } from "../consume";
import { defineEntity } from "../entity";
import { OUTBOX_DEFAULT_EXPIRY_SECONDS, createOutbox } from "../outbox";
import { outboxRelay, recordedEvents } from "../outbox-relay";
import { runInScope } from "../invocation-scope";
import { parseTraceparent } from "../trace-context";
import { handler as createOrder } from "../../../services/orders/handlers/create-order";

const service = "orders";
let bed: ServiceTestBed;
const outbox = createOutbox("orders");
const parcels = defineEntity({
  model: { entity: "parcel", version: "1" },
  attributes: { parcelId: { type: "string", required: true }, state: { type: "string", required: true } },
  indexes: { byId: { pk: { composite: ["parcelId"] } } },
});
const example = catalog["orders.order-placed"].example;
const TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

test.before(async () => {
  bed = await serviceTestBed({ service, handler: "create-order", publishes: ["orders.order-placed"], relay: outboxRelay });
});
test.after(() => bed?.stop());

async function rejects(work: () => Promise<unknown>, message: RegExp): Promise<void> {
  const error = await work().then(() => undefined, (e: Error) => e);
  assert.ok(error, `expected a rejection matching ${message}`);
  assert.match(error!.message, message);
}

/** A key attribute of a stream record, as a string. */
const keyOf = (record: { dynamodb: { Keys: Record<string, unknown> } }, name: string) => String((record.dynamodb.Keys[name] as { S?: string } | undefined)?.S ?? "");

const outboxItems = () => bed.outboxItems();

test("record() writes the entity and the outbox item in one transaction; the relay publishes the envelope as recorded", async () => {
  const scope = { correlationId: "corr-1", traceparent: TRACE, eventId: "cause-1", sequence: new Map<string, number>() };
  const before = Math.floor(Date.now() / 1000);
  const [recorded] = await runInScope(scope, () =>
    outbox.record(parcels().put({ parcelId: "p-1", state: "new" }), [{ type: "orders.order-placed", data: { ...example, orderId: "p-1" } }]),
  );
  const parcel = (await bed.items("parcel")).find((item) => item.parcelId === "p-1");
  assert.ok(parcel, "the entity is written");
  const [item] = (await outboxItems()).filter((i) => i.pk === parcel!.pk);
  assert.ok(item, "the outbox item shares the entity's partition key");
  assert.is(item!.sk, `$outbox#${recorded!.id}`);
  assert.is(item!.outboxService, "orders");
  assert.ok(item!.expiresAt >= before + OUTBOX_DEFAULT_EXPIRY_SECONDS && item!.expiresAt <= before + OUTBOX_DEFAULT_EXPIRY_SECONDS + 5, "TTL a day ahead");
  await bed.settle();
  const published = bed.published("orders.order-placed").filter((e) => e.id === recorded!.id);
  assert.is(published.length, 1);
  const { attributes, topicArn: _topic, ...envelope } = published[0]!;
  assert.equal(envelope, JSON.parse(JSON.stringify(recorded)), "the envelope the relay sent is the one recorded");
  assert.equal(
    [recorded!.correlationid, recorded!.causationid, recorded!.source, recorded!.dataversion],
    ["corr-1", "cause-1", "orders", 1],
  );
  assert.is(parseTraceparent(recorded!.traceparent)?.traceId, "4bf92f3577b34da6a3ce929d0e0e4736", "a child of the handler's trace");
  assert.equal(attributes, { type: "orders.order-placed", source: "orders", correlationid: "corr-1", dataversion: "1" });
});

test("the outbox item goes to the service's outbox table, in the entity's transaction: the data table and its stream hold the entity only", async () => {
  const dataRecords = bed.streamRecords().length;
  const outboxRecords = bed.outboxRecords().length;
  const [recorded] = await outbox.record(parcels().put({ parcelId: "p-table", state: "new" }), [
    { type: "orders.order-placed", data: { ...example, orderId: "p-table" } },
  ]);
  const parcel = (await bed.items("parcel")).find((item) => item.parcelId === "p-table")!;
  assert.equal((await bed.items()).filter((item) => String(item.sk).startsWith("$outbox#")), [], "no outbox item in the data table");
  assert.equal(
    bed.streamRecords().slice(dataRecords).map((r) => [r.eventName, keyOf(r, "pk")]),
    [["INSERT", parcel.pk]],
    "the data table's stream: the entity's change only",
  );
  const written = bed.outboxRecords().slice(outboxRecords);
  assert.equal(written.map((r) => [r.eventName, keyOf(r, "pk"), keyOf(r, "sk")]), [["INSERT", parcel.pk, `$outbox#${recorded!.id}`]]);
  assert.is(written[0]!.dynamodb.StreamViewType, "NEW_IMAGE", "the relay reads the new image");
  assert.is(written[0]!.dynamodb.OldImage, undefined);
  assert.is(written[0]!.eventSourceARN.split("/stream/")[0]!.endsWith("table/test-outbox"), true);
});

test("a function without the outbox table's name is told which variable it needs", async () => {
  const saved = process.env[ENV.outboxTable];
  delete process.env[ENV.outboxTable];
  try {
    await rejects(
      () => outbox.record(parcels().put({ parcelId: "p-none", state: "new" }), [{ type: "orders.order-placed", data: { ...example, orderId: "p-none" } }]),
      /PLATFORM_OUTBOX_TABLE is not set; it is needed for the outbox/,
    );
  } finally {
    process.env[ENV.outboxTable] = saved;
  }
  assert.is((await bed.items("parcel")).find((item) => item.parcelId === "p-none"), undefined, "nothing written");
});

test("all or nothing: a write whose condition fails records no event", async () => {
  await parcels().put({ parcelId: "p-2", state: "new" }).go();
  const records = bed.streamRecords().length;
  const outboxRecords = bed.outboxRecords().length;
  const error = await outbox
    .record(parcels().create({ parcelId: "p-2", state: "again" }), [{ type: "orders.order-placed", data: { ...example, orderId: "p-2" } }])
    .then(() => undefined, (e: Error & { CancellationReasons?: { Code: string }[] }) => e);
  assert.is(error?.name, "TransactionCanceledException");
  // One reason per item, in the request's order: the entity's write first, the outbox item (the other table) last.
  assert.equal(error?.CancellationReasons?.map((r) => r.Code), ["ConditionalCheckFailed", "None"]);
  assert.is(bed.streamRecords().length, records, "nothing written, no stream record");
  assert.is(bed.outboxRecords().length, outboxRecords, "no outbox item, no record on the outbox table's stream");
  assert.is((await outboxItems()).filter((i) => String(i.pk).includes("p-2")).length, 0);
  assert.is((await bed.items("parcel")).find((i) => i.parcelId === "p-2")!.state, "new");
});

test("a retried action records the same event ids: its outbox item is written again (a MODIFY), not published again", async () => {
  const handler = consume(
    {
      "billing.invoice-issued": async (event) => {
        await outbox.record(parcels().put({ parcelId: `from-${event.id}`, state: "new" }), [
          { type: "orders.order-placed", data: { ...example, orderId: event.data.orderId } },
          { type: "orders.order-status-changed", data: { orderId: event.data.orderId, status: "invoiced" } },
        ]);
      },
    },
    { idempotency: false },
  );
  const sqs = bed.sqsEvent("billing.invoice-issued", { ...catalog["billing.invoice-issued"].example, orderId: "order-77" });
  assert.equal(await handler(sqs), { batchItemFailures: [] });
  assert.equal(await handler(sqs), { batchItemFailures: [] }, "the retry (no lock: the action runs again)");
  await bed.settle();
  const placed = bed.published("orders.order-placed").filter((e) => e.data.orderId === "order-77");
  const changed = bed.published("orders.order-status-changed").filter((e) => e.data.orderId === "order-77");
  assert.is(placed.length, 1, "once");
  assert.is(changed.length, 1, "once");
  assert.is(placed[0]!.causationid, bed.lastEventId);
  const kinds = bed.outboxRecords().filter((r) => keyOf(r, "sk").startsWith("$outbox#") && keyOf(r, "pk").includes(`from-${bed.lastEventId}`));
  assert.equal(kinds.map((r) => r.eventName), ["INSERT", "MODIFY"]);
});

test("FIFO events keep their message group, and the event id is their deduplication id", async () => {
  await outbox.record(parcels().put({ parcelId: "p-fifo", state: "new" }), [
    { type: "orders.order-status-changed", data: { orderId: "order-fifo", status: "placed" } },
    { type: "orders.order-status-changed", data: { orderId: "order-fifo", status: "invoiced" } },
  ]);
  await bed.settle();
  const sent = bed.sent().filter((r) => r.MessageGroupId === "order-fifo");
  assert.equal(sent.map((r) => JSON.parse(r.Message).data.status), ["placed", "invoiced"], "in the order recorded");
  for (const request of sent) assert.is(request.MessageDeduplicationId, JSON.parse(request.Message).id);
});

test("order per item: a failed publish stops its partition key's records, reported by sequence number; other keys go on", async () => {
  const first = bed.outboxRecords().length;
  for (const [parcelId, status] of [["p-a", "placed"], ["p-a", "invoiced"], ["p-b", "placed"], ["p-a", "shipped"]] as const) {
    await outbox.record(parcels().put({ parcelId, state: status }), [{ type: "orders.order-status-changed", data: { orderId: parcelId, status } }]);
  }
  await bed.settle();
  const records = bed.outboxRecords().slice(first).filter((r) => keyOf(r, "sk").startsWith("$outbox#"));
  assert.is(records.length, 4);
  const before = bed.sent().length;
  bed.failPublishes(1); // the first record of p-a
  const relay = outboxRelay({ service: "orders", maxConcurrency: 1, topics: bed.relayTopics });
  const answer = await relay({ Records: records as unknown as DynamoDBRecord[] });
  assert.equal(answer, { batchItemFailures: [{ itemIdentifier: records[0]!.dynamodb.SequenceNumber }] });
  const sent = bed.sent().slice(before).map((r) => `${JSON.parse(r.Message).data.orderId}:${JSON.parse(r.Message).data.status}`);
  assert.equal(sent, ["p-b:placed"], "nothing of p-a after its failed record; p-b published");
  // Lambda retries from the reported record: everything from there goes out, in order.
  const retried = await relay({ Records: records as unknown as DynamoDBRecord[] });
  assert.equal(retried, { batchItemFailures: [] });
  const all = bed.sent().slice(before).map((r) => `${JSON.parse(r.Message).data.orderId}:${JSON.parse(r.Message).data.status}`);
  assert.equal(all.filter((s) => s.startsWith("p-a")), ["p-a:placed", "p-a:invoiced", "p-a:shipped"]);
});

test("a recorded event the relay has no topic for fails its record, reported by sequence number (retried, then the on-failure destination)", async () => {
  const first = bed.outboxRecords().length;
  await outbox.record(parcels().put({ parcelId: "p-topic", state: "new" }), [{ type: "orders.order-placed", data: { ...example, orderId: "p-topic" } }]);
  await bed.settle();
  const [record] = bed.outboxRecords().slice(first).filter((r) => keyOf(r, "sk").startsWith("$outbox#"));
  const relay = outboxRelay({ service: "orders", topics: {} });
  const answer = await relay({ Records: [record as unknown as DynamoDBRecord] });
  assert.equal(answer, { batchItemFailures: [{ itemIdentifier: record!.dynamodb.SequenceNumber }] });
});

test("the relay leaves out what is not its service's outbox item, even an item naming it under another service's keys", () => {
  const image = { outboxService: { S: "orders" }, outboxEvents: { L: [] } };
  const record = (pk: string, eventName = "INSERT") => ({ eventName, dynamodb: { Keys: { pk: { S: pk } }, NewImage: { pk: { S: pk }, ...image } } }) as DynamoDBRecord;
  assert.equal(recordedEvents(record("$orders#orderid_1"), "orders"), { events: [] });
  assert.ok("skip" in recordedEvents(record("$billing#invoiceid_1"), "orders"));
  assert.ok("skip" in recordedEvents(record("$orders#orderid_1", "MODIFY"), "orders"));
  assert.ok("skip" in recordedEvents(record("$orders#orderid_1"), "billing"));
});

test("a record with no write, or an event the service does not own, is refused before anything is written", async () => {
  const records = bed.streamRecords().length;
  await rejects(() => outbox.record([], [{ type: "orders.order-placed", data: example }]), /needs at least one write/);
  await rejects(
    () => outbox.record(parcels().put({ parcelId: "p-x", state: "new" }), [{ type: "billing.invoice-issued" as never, data: {} as never }]),
    /service "orders" cannot publish billing.invoice-issued: its owner is "billing"/,
  );
  await rejects(
    () => outbox.record(parcels().put({ parcelId: "p-x", state: "new" }), [{ type: "orders.order-placed", data: { orderId: "x" } as never }]),
    /orders.order-placed/,
  );
  process.env.PLATFORM_RECORD_EVENTS = JSON.stringify(["orders.order-status-changed"]);
  try {
    await rejects(
      () => outbox.record(parcels().put({ parcelId: "p-x", state: "new" }), [{ type: "orders.order-placed", data: { ...example, orderId: "p-x" } }]),
      /this function does not record orders.order-placed \(PLATFORM_RECORD_EVENTS: orders.order-status-changed\): add it to the function's records/,
    );
  } finally {
    delete process.env.PLATFORM_RECORD_EVENTS;
  }
  assert.is(bed.streamRecords().length, records);
});

/** Runs the crash worker; resolves to the signal that ended it. */
function crash(mode: "outbox" | "direct", event: unknown): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "helpers", "outbox-crash-worker.ts"), mode, JSON.stringify(event)], {
      env: process.env,
      stdio: ["ignore", "ignore", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (_code, signal) => resolve(signal));
  });
}

test("a handler killed right after its write: with the outbox its event still goes out, once; written then published, it is lost", async () => {
  const { orderId: _assigned, ...body } = example;
  const key = (n: string) => ({ "idempotency-key": `crash-test-key-${n}-0000` });

  // Before the outbox: the order is written, the process dies before its publish, the event never exists.
  const direct = bed.httpEvent("POST /orders", body, key("direct"));
  assert.is(await crash("direct", direct), "SIGKILL");
  await bed.settle();
  const directOrders = (await bed.items("order")).filter((o) => o.createdBy === "direct");
  assert.is(directOrders.length, 1, "the order was written");
  assert.is(bed.published("orders.order-placed").filter((e) => e.data.orderId === directOrders[0]!.orderId).length, 0, "its event is lost");

  // With the outbox: the order and its event were one write; the relay publishes the event from the stream.
  const request = bed.httpEvent("POST /orders", body, { ...key("outbox"), "x-correlation-id": "crashed-request" });
  assert.is(await crash("outbox", request), "SIGKILL");
  await bed.settle();
  const order = (await bed.items("order")).find((o) => o.createdBy === "crashed-request");
  assert.ok(order, "the order was written");
  const events = () => bed.published("orders.order-placed").filter((e) => e.data.orderId === order!.orderId);
  assert.is(events().length, 1, "its event went out though the handler never returned");

  // The client retries (the killed attempt's Idempotency-Key lock has expired): same ids, same event, not sent again.
  await new Promise((r) => setTimeout(r, 1100));
  const retry = await createOrder(request);
  assert.is(retry.statusCode, 201);
  assert.equal(JSON.parse(retry.body!), { orderId: order!.orderId }, "the retry wrote the same order");
  await bed.settle();
  assert.is(events().length, 1, "still once");
  assert.is(bed.relayFailures().length, 0);
});

test.run();
