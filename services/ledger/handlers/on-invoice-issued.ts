import { consume, createPublisher, derivedEventId } from "../../../shared/runtime";
import { entries } from "../entities/entry";

const ledger = createPublisher("ledger");

/**
 * Reacts to billing.invoice-issued: records an entry for it and posts it on the ledger's stream (ledger.entry-posted,
 * a stream event: a customer's entries are read in order).
 * Runs at most once per event (the consumer's idempotency lock); a retry after a crash writes the same item again.
 */
export const handler = consume({
  "billing.invoice-issued": async (event, { logger }) => {
    // The same event always yields the same entry, so a retried action overwrites instead of duplicating.
    const entryId = derivedEventId("entry", event.id);
    await entries().put({ entryId, details: event.data, createdBy: event.id }).go();
    logger.info("entry recorded", { entryId });
    await ledger.publish("ledger.entry-posted", { customerId: event.data.customerId, invoiceId: event.data.invoiceId, amount: event.data.total.amount });
  },
});
