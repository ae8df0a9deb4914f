// The relational writer against real PostgreSQL (PGlite behind the local Data API, the service's migrations applied
// by the runtime's migration runner), fed Kinesis batches as the stream's event source mapping delivers them.
import { join } from "node:path";
import type { KinesisStreamEvent } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EventData } from "../../../shared/contract";
import { relationalTestBed, type RelationalTestBed } from "../../../shared/local/relational/test-bed";
import { createEvent } from "../../../shared/runtime";
import { relationalStore } from "../../../shared/runtime/relational";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { handler } from "../handlers/on-entry-posted";
import type { Database } from "../tables";

let bed: ServiceTestBed;
let db: RelationalTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service: "reporting", handler: "on-entry-posted" });
  db = await relationalTestBed("reporting", join(__dirname, "..", "migrations"));
});

test.after(async () => {
  await db?.stop();
  await bed?.stop();
});

let sequence = 0;
function kinesisEvent(entries: { id?: string; time: string; data: EventData<"ledger.entry-posted">; breakData?: boolean }[]): KinesisStreamEvent {
  return {
    Records: entries.map((entry) => {
      const envelope: { data: Record<string, unknown> } = createEvent("ledger.entry-posted", entry.data, { source: "ledger", time: new Date(entry.time), ...(entry.id ? { id: entry.id } : {}) });
      // A poison record: what a producer without the catalog's checks could put.
      if (entry.breakData) envelope.data = { ...envelope.data, customerId: "" };
      sequence++;
      return {
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `shardId-000000000000:${sequence}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::000000000000:role/test",
        awsRegion: "us-east-1",
        eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/test-ledger-entry-posted",
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: entry.data.customerId,
          sequenceNumber: String(sequence).padStart(20, "0"),
          data: Buffer.from(JSON.stringify(envelope)).toString("base64"),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
      };
    }),
  };
}

test("migrations: revenue and its index in the service's schema, with the platform's tables", () => {
  assert.equal(db.migrations.applied, ["0001_create_revenue.sql", "0002_index_revenue_by_day.sql"]);
});

test("entries add up per customer per day; a redelivered batch adds nothing", async () => {
  const batch = kinesisEvent([
    { id: "e-1", time: "2026-12-01T09:00:00Z", data: { customerId: "c-1", invoiceId: "i-1", amount: 10.5 } },
    { id: "e-2", time: "2026-12-01T17:30:00Z", data: { customerId: "c-1", invoiceId: "i-2", amount: 4.25 } },
    { id: "e-3", time: "2026-12-02T08:00:00Z", data: { customerId: "c-1", invoiceId: "i-3", amount: 1 } },
    { id: "e-4", time: "2026-12-01T12:00:00Z", data: { customerId: "c-2", invoiceId: "i-4", amount: 99.99 } },
  ]);
  assert.equal(await handler(batch), { batchItemFailures: [] });
  assert.equal(await handler(batch), { batchItemFailures: [] }, "the redelivered batch is acknowledged");
  const rows = await db.rows("select customer_id, day::text as day, amount_cents, entries from revenue order by customer_id, day");
  assert.equal(rows, [
    { customer_id: "c-1", day: "2026-12-01", amount_cents: 1475, entries: 2 },
    { customer_id: "c-1", day: "2026-12-02", amount_cents: 100, entries: 1 },
    { customer_id: "c-2", day: "2026-12-01", amount_cents: 9999, entries: 1 },
  ]);
  const processed = await db.rows<{ n: number }>("select count(*)::int as n from processed_events");
  assert.equal(processed, [{ n: 4 }]);
});

test("read through the store, updated_at is a Date, as tables.ts types it (a timestamptz)", async () => {
  const row = await relationalStore<Database>().db.selectFrom("revenue").select(["updated_at"]).executeTakeFirstOrThrow();
  assert.instance(row.updated_at, Date);
});

test("an entry that breaks its schema becomes a failure event; the batch goes on", async () => {
  const batch = kinesisEvent([{ time: "2026-12-03T00:00:00Z", data: { customerId: "c-9", invoiceId: "i-9", amount: 1 }, breakData: true }]);
  assert.equal(await handler(batch), { batchItemFailures: [] });
  assert.is(bed.failures().at(-1)!.data.reason, "invalid-event");
  assert.equal(await db.rows("select * from revenue where day = '2026-12-03'"), []);
});

test.run();
