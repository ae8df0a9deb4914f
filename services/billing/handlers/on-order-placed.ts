import { consume, createOutbox, derivedEventId } from "../../../shared/runtime";
import { invoices } from "../entities/invoice";

const outbox = createOutbox("billing");

/**
 * Reacts to orders.order-placed: records an invoice for it and, in the same write, billing.invoice-issued (the
 * outbox: the service's relay publishes it once the write is in).
 * Runs at most once per event (the consumer's idempotency lock); a retry after a crash writes the same item again
 * and records the same event id.
 */
export const handler = consume({
  "orders.order-placed": async (event, { logger }) => {
    // The same event always yields the same invoice, so a retried action overwrites instead of duplicating.
    const invoiceId = derivedEventId("invoice", event.id);
    const write = invoices().put({ invoiceId, details: event.data, createdBy: event.id });
    await outbox.recordOne(write, "billing.invoice-issued", {
      invoiceId,
      orderId: event.data.orderId,
      customerId: event.data.customerId,
      total: event.data.total,
    });
    logger.info("invoice recorded", { invoiceId });
  },
});
