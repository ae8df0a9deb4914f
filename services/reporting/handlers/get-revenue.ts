import { HttpError, httpHandler, route } from "../../../shared/runtime";
import { asSql, relationalStore } from "../../../shared/runtime/relational";
import type { Database } from "../tables";

const store = relationalStore<Database>();
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * GET /reports/revenue?customerId=...[&from=YYYY-MM-DD&to=YYYY-MM-DD], or ?day=YYYY-MM-DD: revenue per day of one
 * customer (oldest first), or every customer's revenue on one day; with the total. Reads query the projection
 * directly (typed, parameterized: no SQL is built from the request).
 */
export const handler = httpHandler({
  "GET /reports/revenue": route({
    handler: async ({ query }) => {
      for (const key of ["from", "to", "day"] as const) {
        if (query[key] !== undefined && !DAY.test(query[key]!)) throw new HttpError(400, `${key} must be a date, YYYY-MM-DD`);
      }
      if (!query.customerId && !query.day) throw new HttpError(400, "give customerId (and optionally from, to) or day");
      let select = store.db.selectFrom("revenue").select(["customer_id", "day", "amount_cents", "entries"]);
      if (query.customerId) select = select.where("customer_id", "=", query.customerId);
      if (query.day) select = select.where("day", "=", asSql.date(query.day));
      if (query.from) select = select.where("day", ">=", asSql.date(query.from));
      if (query.to) select = select.where("day", "<=", asSql.date(query.to));
      const rows = await select.orderBy("day").orderBy("customer_id").limit(1000).execute();
      const days = rows.map((r) => ({ customerId: r.customer_id, day: r.day.toISOString().slice(0, 10), amountCents: r.amount_cents, entries: r.entries }));
      return { status: 200, body: { days, totalCents: days.reduce((sum, d) => sum + d.amountCents, 0) } };
    },
  }),
});
