// A consumer that starts a workflow: the bundle test builds it as a function is built.
import { consume, startWorkflow } from "../../index";

export const handler = consume(
  { "orders.order-placed": async (event) => void (await startWorkflow("fulfil", { orderId: event.data.orderId })) },
  { idempotency: false },
);
