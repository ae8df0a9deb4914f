import { derivedEventId, workflowStep } from "../../../shared/runtime";
import { reservations } from "../entities/reservation";
import { startedBy, type OrderInput } from "./order-input";

/**
 * The saga's compensation: the payment was declined, so the order's reservation is released. Found by the order id
 * (the Parallel state's failure drops the branches' results); written whether or not the reservation branch got to
 * it.
 */
export const handler = workflowStep(async (input: OrderInput, context) => {
  const reservationId = derivedEventId("reservation", input.orderId);
  await reservations().put({ reservationId, status: "released", details: { orderId: input.orderId, items: input.items }, createdBy: startedBy(input, context) }).go();
  context.logger.info("stock released", { reservationId, orderId: input.orderId });
  return { reservationId, status: "released" as const };
});
