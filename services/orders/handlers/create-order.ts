import * as z from "zod/mini";
import { catalog } from "../../../shared/contract";
import { createPublisher, httpHandler, newEventId, route } from "../../../shared/runtime";
import { orders } from "../entities/order";

const publisher = createPublisher("orders");

/** What a client sends: the data of orders.order-placed without the id, which the service assigns. */
const body = z.omit(catalog["orders.order-placed"].schema, { orderId: true });

/** POST /orders: creates an order and publishes orders.order-placed. */
export const handler = httpHandler({
  "POST /orders": route({
    body,
    handler: async ({ body, correlationId, logger }) => {
      const orderId = newEventId();
      await orders().create({ orderId, details: body, createdBy: correlationId }).go();
      await publisher.publish("orders.order-placed", { ...body, orderId });
      logger.info("order created", { orderId });
      return { status: 201, body: { orderId } };
    },
  }),
});
