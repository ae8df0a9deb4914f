import { derivedEventId, workflowStep } from "../../../shared/runtime";
import { reservations } from "../entities/reservation";
import { startedBy, type OrderInput } from "./order-input";

/**
 * The saga's first branch: reserves the order's items. One reservation per order (its id derives from the order id),
 * so a retried step writes the same item again, and the compensation finds it by the order id alone.
 */
export const handler = workflowStep(async (input: OrderInput, context) => {
  const reservationId = derivedEventId("reservation", input.orderId);
  await reservations().put({ reservationId, status: "reserved", details: { orderId: input.orderId, items: input.items }, createdBy: startedBy(input, context) }).go();
  context.logger.info("stock reserved", { reservationId, orderId: input.orderId });
  return { reservationId };
});
