import { derivedEventId, workflowStep } from "../../../shared/runtime";
import { payments } from "../entities/payment";
import { PAYMENT_LIMIT, PaymentDeclined, startedBy, type OrderInput } from "./order-input";

/**
 * The saga's second branch: charges the order's total. A total above the limit is declined (PaymentDeclined: the
 * workflow does not retry it, it releases the stock). One payment per order (its id derives from the order id), so a
 * retry after a crash charges nothing twice.
 */
export const handler = workflowStep(async (input: OrderInput, context) => {
  if (input.total.amount > PAYMENT_LIMIT) {
    throw new PaymentDeclined(`payment of ${input.total.amount} ${input.total.currency} for order ${input.orderId} declined: above the limit of ${PAYMENT_LIMIT}`);
  }
  const paymentId = derivedEventId("payment", input.orderId);
  await payments().put({ paymentId, status: "charged", details: { orderId: input.orderId, total: input.total }, createdBy: startedBy(input, context) }).go();
  context.logger.info("payment charged", { paymentId, orderId: input.orderId });
  return { paymentId };
});
