import { consume, startWorkflow } from "../../../shared/runtime";

/**
 * Reacts to orders.order-placed: starts the fulfil-order saga with the order. The execution is named after the
 * event, so a redelivered event (or a retry after a crash that followed the start) starts nothing twice.
 */
export const handler = consume({
  "orders.order-placed": async (event, { logger }) => {
    const { orderId, customerId, items, total } = event.data;
    const started = await startWorkflow("fulfil-order", { orderId, customerId, items, total });
    logger.info(started.started ? "fulfilment started" : "fulfilment was already started", { executionArn: started.executionArn });
  },
});
