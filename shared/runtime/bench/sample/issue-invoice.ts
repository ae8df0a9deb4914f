import { consume, createPublisher, derivedEventId } from "../..";
import { invoices } from "./invoices";

const billing = createPublisher("billing");

/** A sample consumer: an order was placed, so write an invoice and announce it. */
export const handler = consume({
  "orders.order-placed": async (event) => {
    const { orderId, customerId, total } = event.data;
    const invoiceId = derivedEventId("invoice", orderId);
    await invoices().create({ invoiceId, orderId, customerId, amount: total.amount, currency: total.currency }).go();
    await billing.publish("billing.invoice-issued", { invoiceId, orderId, customerId, total });
  },
});
