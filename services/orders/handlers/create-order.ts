import * as z from "zod/mini";
import { catalog } from "../../../shared/contract";
import { createOutbox, httpHandler, route } from "../../../shared/runtime";
import { orders } from "../entities/order";

const outbox = createOutbox("orders");

/** What a client sends: the data of orders.order-placed without the id, which the service assigns. */
const body = z.omit(catalog["orders.order-placed"].schema, { orderId: true });

/**
 * POST /orders: creates an order and records orders.order-placed with it, in one write (the outbox:
 * the service's relay publishes the event once the write is in, so there is never an order without its event).
 * Safe to retry with an Idempotency-Key header: a retry of a request that succeeded gets the first answer; a retry
 * after a failure runs again with the first attempt's ids, so it writes the same order (a put, not a create)
 * and records the same event id.
 */
export const handler = httpHandler({
  "POST /orders": route({
    body,
    handler: async ({ body, correlationId, logger, stableId }) => {
      const orderId = stableId("orderId");
      const write = orders().put({ orderId, details: body, createdBy: correlationId });
      await outbox.recordOne(write, "orders.order-placed", { ...body, orderId });
      logger.info("order created", { orderId });
      return { status: 201, body: { orderId } };
    },
  }),
});
