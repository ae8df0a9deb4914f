import type { EventData } from "../../../shared/contract";
import { WORKFLOW_INPUT_KEY, type WorkflowStart } from "../../../shared/contract/workflow";

/** What the saga's tasks receive: the order as the starter gave it, with the starter's context under `_workflow`. */
export type OrderInput = Pick<EventData<"orders.order-placed">, "orderId" | "customerId" | "items" | "total"> & {
  [WORKFLOW_INPUT_KEY]?: WorkflowStart;
};

/** The id of the event (or request) that started the saga, for `createdBy`. */
export function startedBy(input: OrderInput): string {
  return input[WORKFLOW_INPUT_KEY]?.causationId ?? input.orderId;
}

/** Orders above this total are declined by the payment step (the saga's compensation path). */
export const PAYMENT_LIMIT = 500;

/** The payment was declined: a business rule, not retried; the saga releases the stock. */
export class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}
