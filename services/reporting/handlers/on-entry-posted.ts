import { consume } from "../../../shared/runtime";
import { asSql, relationalStore } from "../../../shared/runtime/relational";
import type { Database } from "../tables";

// Created at init: the Data API client (no connection to open, no pool to keep).
const store = relationalStore<Database>();

/**
 * Reacts to ledger.entry-posted (a stream event: its Kinesis records arrive in order per customer): adds the entry's
 * amount to the customer's revenue of the day the entry was posted. The event id is recorded in the same transaction
 * (`writeOnce`), so a redelivered record (a retried batch, a replay, a duplicate put) adds nothing: the projection is
 * what the events applied once make it. The DynamoDB idempotency lock is off: the transaction is the idempotency.
 */
export const handler = consume(
  {
    "ledger.entry-posted": async (event, { logger }) => {
      const day = event.time.slice(0, 10);
      const cents = Math.round(event.data.amount * 100);
      const outcome = await store.writeOnce(event, (trx) =>
        trx
          .insertInto("revenue")
          .values({ customer_id: event.data.customerId, day: asSql.date(day), amount_cents: cents, entries: 1 })
          .onConflict((conflict) =>
            conflict.columns(["customer_id", "day"]).doUpdateSet((eb) => ({
              amount_cents: eb("revenue.amount_cents", "+", eb.ref("excluded.amount_cents")),
              entries: eb("revenue.entries", "+", 1),
              updated_at: asSql.timestamptz(new Date()),
            })),
          )
          .execute(),
      );
      logger.info(outcome === "applied" ? "revenue updated" : "entry already counted", { customerId: event.data.customerId, day, outcome });
    },
  },
  { idempotency: false },
);
