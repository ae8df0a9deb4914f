import * as z from "zod/mini";
import { catalog } from "../../../shared/contract";
import { createPublisher, httpHandler, route } from "../../../shared/runtime";
import { orders } from "../entities/order";

const publisher = createPublisher("orders");

/** What a client sends: the data of orders.order-placed without the id, which the service assigns. */
const body = z.omit(catalog["orders.order-placed"].schema, { orderId: true });

/**
 * POST /orders: creates an order and publishes orders.order-placed. Safe to retry with an Idempotency-Key
 * header: a retry of a request that succeeded gets the first answer; a retry after a failure runs again with the
 * first attempt's ids, so it writes the same order (a put, not a create) and publishes the same event id.
 */
export const handler = httpHandler({
  "POST /orders": route({
    body,
    handler: async ({ body, correlationId, logger, stableId }) => {
      const orderId = stableId("orderId");
      await orders().put({ orderId, details: body, createdBy: correlationId }).go();
      await publisher.publish("orders.order-placed", { ...body, orderId });
      logger.info("order created", { orderId });
      return { status: 201, body: { orderId } };
    },
  }),
});
