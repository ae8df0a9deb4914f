// GET /reports/revenue against real PostgreSQL (PGlite behind the local Data API, the migrations applied).
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { relationalTestBed, type RelationalTestBed } from "../../../shared/local/relational/test-bed";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { handler } from "../handlers/get-revenue";

let bed: ServiceTestBed;
let db: RelationalTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service: "reporting", handler: "get-revenue" });
  db = await relationalTestBed("reporting", join(__dirname, "..", "migrations"));
  await db.rows(
    "insert into revenue (customer_id, day, amount_cents, entries) values ('c-1', '2026-12-01', 1475, 2), ('c-1', '2026-12-02', 100, 1), ('c-2', '2026-12-01', 9999, 1) returning customer_id",
  );
});

test.after(async () => {
  await db?.stop();
  await bed?.stop();
});

const get = async (query: string) => {
  const event = bed.httpEvent("GET /reports/revenue");
  event.rawQueryString = query;
  event.queryStringParameters = Object.fromEntries(new URLSearchParams(query));
  const response = await handler(event);
  return { status: response.statusCode, body: JSON.parse(String(response.body)) };
};

test("a customer's revenue per day, oldest first, with the total; a date range narrows it", async () => {
  assert.equal(await get("customerId=c-1"), {
    status: 200,
    body: {
      days: [
        { customerId: "c-1", day: "2026-12-01", amountCents: 1475, entries: 2 },
        { customerId: "c-1", day: "2026-12-02", amountCents: 100, entries: 1 },
      ],
      totalCents: 1575,
    },
  });
  assert.equal((await get("customerId=c-1&from=2026-12-02")).body.totalCents, 100);
});

test("every customer's revenue on one day", async () => {
  const { body } = await get("day=2026-12-01");
  assert.equal(body.days.map((d: { customerId: string }) => d.customerId), ["c-1", "c-2"]);
  assert.is(body.totalCents, 11474);
});

test("a malformed date or a missing filter is a 400 (nothing reaches SQL)", async () => {
  assert.is((await get("customerId=c-1&from=yesterday")).status, 400);
  assert.is((await get("customerId=c-1&from=2026-12-01';drop table revenue;--")).status, 400);
  assert.is((await get("")).status, 400);
});

test.run();
