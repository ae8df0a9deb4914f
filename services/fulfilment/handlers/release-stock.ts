import { derivedEventId, logger } from "../../../shared/runtime";
import { reservations } from "../entities/reservation";
import { startedBy, type OrderInput } from "./order-input";

/**
 * The saga's compensation: the payment was declined, so the order's reservation is released. Found by the order id
 * (the Parallel state's failure drops the branches' results); written whether or not the reservation branch got to
 * it.
 */
export async function handler(input: OrderInput): Promise<{ reservationId: string; status: "released" }> {
  const reservationId = derivedEventId("reservation", input.orderId);
  await reservations().put({ reservationId, status: "released", details: { orderId: input.orderId, items: input.items }, createdBy: startedBy(input) }).go();
  logger.info("stock released", { reservationId, orderId: input.orderId });
  return { reservationId, status: "released" };
}
