import { branch, defineWorkflow, failure, invoke, parallel, publish } from "../../../shared/infra/workflow";

/**
 * Workflow fulfil-order of fulfilment (made by `npm run new-workflow`, then grown into a saga), started by
 * orders.order-placed (the consumer on-order-placed, with the event id as the execution name):
 * - Prepare: reserve the stock and charge the payment side by side. A crashed or throttled charge is retried; a
 *   declined payment (PaymentDeclined, a business rule) is not.
 * - Fulfilled: both worked, so fulfilment.order-fulfilled goes out (in publish()'s envelope).
 * - A declined payment is compensated: ReleaseStock undoes the reservation (found by the order id, whether the
 *   reservation branch finished or not), then Declined publishes a failure event someone can subscribe to and the
 *   execution fails.
 */
export const fulfilOrder = defineWorkflow({
  comment: "Reserve stock and charge payment in parallel; release the stock when the payment is declined",
  functions: {
    "reserve-stock": { handler: "./handlers/reserve-stock.ts" },
    "charge-payment": { handler: "./handlers/charge-payment.ts" },
    "release-stock": { handler: "./handlers/release-stock.ts" },
  },
  startAt: "Prepare",
  states: {
    Prepare: parallel({
      branches: [
        branch({
          startAt: "ReserveStock",
          states: {
            // A crashed or timed-out reservation: twice more (the step is idempotent: one reservation per order).
            ReserveStock: invoke("reserve-stock", { retry: [{ errors: ["States.TaskFailed"], intervalSeconds: 1, maxAttempts: 2, backoffRate: 2 }], end: true }),
          },
        }),
        branch({
          startAt: "ChargePayment",
          states: {
            ChargePayment: invoke("charge-payment", {
              retry: [
                // A declined card stays declined: no retry (a Retry with 0 attempts stops the next rules matching).
                { errors: ["PaymentDeclined"], maxAttempts: 0 },
                // A crashed runtime or any other task failure: twice more, 1 s then 2 s later.
                { errors: ["States.TaskFailed"], intervalSeconds: 1, maxAttempts: 2, backoffRate: 2 },
              ],
              end: true,
            }),
          },
        }),
      ],
      resultSelector: { "reservationId.$": "$[0].reservationId", "paymentId.$": "$[1].paymentId" },
      resultPath: "$.fulfilment",
      catch: [{ errors: ["PaymentDeclined"], next: "ReleaseStock" }],
      next: "Fulfilled",
    }),
    Fulfilled: publish("fulfilment.order-fulfilled", {
      data: {
        "orderId.$": "$.orderId",
        "customerId.$": "$.customerId",
        "reservationId.$": "$.fulfilment.reservationId",
        "paymentId.$": "$.fulfilment.paymentId",
      },
      subject: "$.orderId",
      end: true,
    }),
    ReleaseStock: invoke("release-stock", {
      resultPath: null,
      // The compensation must happen: a crash or a timeout is retried, more patiently.
      retry: [{ errors: ["States.TaskFailed"], intervalSeconds: 1, maxAttempts: 5, backoffRate: 2 }],
      next: "Declined",
    }),
    Declined: failure({ message: "payment declined, stock released" }),
  },
});
