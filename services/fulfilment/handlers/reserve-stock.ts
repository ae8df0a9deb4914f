import { derivedEventId, logger } from "../../../shared/runtime";
import { reservations } from "../entities/reservation";
import { startedBy, type OrderInput } from "./order-input";

/**
 * The saga's first branch: reserves the order's items. One reservation per order (its id derives from the order id),
 * so a retried task writes the same item again, and the compensation finds it by the order id alone.
 */
export async function handler(input: OrderInput): Promise<{ reservationId: string }> {
  const reservationId = derivedEventId("reservation", input.orderId);
  await reservations().put({ reservationId, status: "reserved", details: { orderId: input.orderId, items: input.items }, createdBy: startedBy(input) }).go();
  logger.info("stock reserved", { reservationId, orderId: input.orderId });
  return { reservationId };
}
