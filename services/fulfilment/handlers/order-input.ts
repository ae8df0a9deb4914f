import type { EventData } from "../../../shared/contract";
import type { StepContext } from "../../../shared/runtime";

/** What the saga's steps receive: the order as the starter gave it (workflowStep takes the starter's `_workflow` off). */
export type OrderInput = Pick<EventData<"orders.order-placed">, "orderId" | "customerId" | "items" | "total">;

/** The id of the event (or request) that started the saga, for `createdBy`. */
export function startedBy(input: OrderInput, context: StepContext): string {
  return context.start?.causationId ?? input.orderId;
}

/** Orders above this total are declined by the payment step (the saga's compensation path). */
export const PAYMENT_LIMIT = 500;

/** The payment was declined: a business rule, not retried; the saga releases the stock. */
export class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}
