import { consume, createPublisher, derivedEventId } from "../../../shared/runtime";
import { invoices } from "../entities/invoice";

const publisher = createPublisher("billing");

/**
 * Reacts to orders.order-placed: records an invoice for it and publishes billing.invoice-issued.
 * Runs at most once per event (the consumer's idempotency lock); a retry after a crash writes the same item again.
 */
export const handler = consume({
  "orders.order-placed": async (event, { logger }) => {
    // The same event always yields the same invoice, so a retried action overwrites instead of duplicating.
    const invoiceId = derivedEventId("invoice", event.id);
    await invoices().put({ invoiceId, details: event.data, createdBy: event.id }).go();
    await publisher.publish("billing.invoice-issued", {
      invoiceId,
      orderId: event.data.orderId,
      customerId: event.data.customerId,
      total: event.data.total,
    });
    logger.info("invoice recorded", { invoiceId });
  },
});
