// The fulfil-order saga with the service's own task handlers, on the interpreter the local stage runs (real
// DynamoDB through the test bed): its success path, its compensation path and its publishes' envelopes. The local
// stage's test (shared/local/test/workflows-stage.test.ts) runs the same saga with its functions' bundles, a task
// crash its Retry absorbs and a starter crash whose redelivered event starts nothing twice.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { rootContext } from "../../../shared/local/context";
import { parseEvent } from "../../../shared/runtime";
import { serviceTestBed, type ServiceTestBed } from "../../../shared/testing";
import { PAYMENT_LIMIT } from "../handlers/order-input";
import { STATE_MACHINE, workflowBed, type WorkflowBed } from "./workflow-bed";

let bed: ServiceTestBed;
let workflows: WorkflowBed;

test.before(async () => {
  bed = await serviceTestBed({ service: "fulfilment", handler: "charge-payment" });
  workflows = await workflowBed(bed);
});

test.after(async () => {
  await workflows.stop();
  await bed.stop();
});

async function run(orderId: string, amount: number) {
  const data = { ...catalog["orders.order-placed"].example, orderId, total: { amount, currency: "EUR" } };
  const input = { ...data, _workflow: { correlationId: `corr-${orderId}`, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", causationId: `event-${orderId}`, causationType: "orders.order-placed" } };
  const { executionArn } = workflows.engine.startExecution({ stateMachineArn: STATE_MACHINE, name: `event-${orderId}`, input: JSON.stringify(input), context: rootContext("test") });
  return { data, execution: await workflows.engine.execution(executionArn).done };
}

test("success: stock reserved and payment charged side by side, then fulfilment.order-fulfilled in publish()'s envelope", async () => {
  const { data, execution } = await run("order-ok", 42.5);
  assert.is(execution.status, "SUCCEEDED", `${execution.error}: ${execution.cause}`);
  const [fulfilled] = bed.published("fulfilment.order-fulfilled");
  assert.ok(fulfilled);
  // A consumer reads it as it reads any event: valid against the catalog, with the starter's correlation and causation.
  const parsed = parseEvent({ ...fulfilled, attributes: undefined, topicArn: undefined } as never);
  assert.is(parsed.type, "fulfilment.order-fulfilled");
  assert.is(fulfilled!.correlationid, "corr-order-ok");
  assert.is(fulfilled!.causationid, "event-order-ok");
  assert.is(fulfilled!.attributes.type, "fulfilment.order-fulfilled");
  const reservations = await bed.items("reservation");
  const payments = await bed.items("payment");
  assert.is(fulfilled!.data.reservationId, reservations.find((r) => r.details.orderId === data.orderId)!.reservationId);
  assert.is(fulfilled!.data.paymentId, payments.find((p) => p.details.orderId === data.orderId)!.paymentId);
  assert.is(reservations.find((r) => r.details.orderId === data.orderId)!.status, "reserved");
  assert.is(fulfilled!.data.orderId, data.orderId);
});

test("compensation: a payment above the limit is declined once (no retry), the reservation is released, a failure event goes out", async () => {
  const charges = workflows.invocations["test-fulfilment-charge-payment"] ?? 0;
  const { data, execution } = await run("order-declined", PAYMENT_LIMIT + 1);
  assert.is(execution.status, "FAILED");
  assert.is(execution.error, "WorkflowFailed");
  assert.is(workflows.invocations["test-fulfilment-charge-payment"], charges + 1, "PaymentDeclined is not retried");
  assert.is(workflows.invocations["test-fulfilment-release-stock"], 1);
  const reservation = (await bed.items("reservation")).find((r) => r.details.orderId === data.orderId);
  assert.is(reservation?.status, "released");
  assert.is((await bed.items("payment")).some((p) => p.details.orderId === data.orderId), false);
  assert.is(bed.published("fulfilment.order-fulfilled").some((e) => e.data.orderId === data.orderId), false);
  const failure = bed.failures().find((f) => f.correlationid === "corr-order-declined");
  assert.ok(failure, JSON.stringify(bed.failures()));
  assert.is(failure!.data.reason, "business-rule");
  assert.match(String(failure!.data.message), /payment declined, stock released/);
  assert.match(String(failure!.data.message), /PaymentDeclined/);
});

test.run();
