// The fulfil-order saga (made by `npm run new-workflow`, grown into a saga) run by runWorkflowLocally with the local
// stage's interpreter and the service's own step handlers, on real DynamoDB (the test bed): its success path, a
// crashed step its Retry absorbs, and its compensation path. The local stage's test
// (shared/local/test/workflows-stage.test.ts) runs the same saga with the functions' bundles and real worker crashes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../../shared/contract";
import { serviceTestBed, runWorkflowLocally, type ServiceTestBed } from "../../../shared/testing";
import { handler as chargePayment } from "../handlers/charge-payment";
import { PAYMENT_LIMIT } from "../handlers/order-input";
import { handler as releaseStock } from "../handlers/release-stock";
import { handler as reserveStock } from "../handlers/reserve-stock";
import { fulfilOrder } from "../workflows/fulfil-order";

const options = { service: "fulfilment", workflow: "fulfil-order" };
const functions = { "reserve-stock": reserveStock, "charge-payment": chargePayment, "release-stock": releaseStock };
let bed: ServiceTestBed;

test.before(async () => {
  bed = await serviceTestBed({ service: "fulfilment", handler: "charge-payment" });
});

test.after(() => bed?.stop());

const order = (orderId: string, amount: number) => ({ ...catalog["orders.order-placed"].example, orderId, total: { amount, currency: "EUR" } });

test("fulfil-order reserves and charges side by side, then publishes fulfilment.order-fulfilled", async () => {
  const input = order("order-ok", 42.5);
  const run = await runWorkflowLocally(fulfilOrder, input, { ...options, functions });
  assert.is(run.error, undefined);
  assert.is(run.published.length, 1);
  assert.is(run.published[0]!.type, "fulfilment.order-fulfilled");
  const reservation = (await bed.items("reservation")).find((r) => r.details.orderId === "order-ok");
  const payment = (await bed.items("payment")).find((p) => p.details.orderId === "order-ok");
  assert.is(reservation?.status, "reserved");
  assert.is(payment?.status, "charged");
  assert.equal(run.published[0]!.data, { orderId: "order-ok", customerId: input.customerId, reservationId: reservation!.reservationId, paymentId: payment!.paymentId });
  assert.equal(run.failures, []);
});

test("a crashed payment step is retried, and charges once", async () => {
  let attempts = 0;
  const crashOnce = async (stepInput: Parameters<typeof chargePayment>[0]) => {
    attempts += 1;
    if (attempts === 1) throw Object.assign(new Error("Runtime exited with error: signal: killed"), { name: "Runtime.ExitError" });
    return chargePayment(stepInput);
  };
  const run = await runWorkflowLocally(fulfilOrder, order("order-crash", 10), { ...options, functions: { ...functions, "charge-payment": crashOnce } });
  assert.is(run.error, undefined);
  assert.is(run.calls["charge-payment"], 2);
  assert.is((await bed.items("payment")).filter((p) => p.details.orderId === "order-crash").length, 1);
  assert.is(run.published.length, 1);
});

test("a declined payment is not retried: the reservation is released, a failure event goes out, the execution fails", async () => {
  const run = await runWorkflowLocally(fulfilOrder, order("order-declined", PAYMENT_LIMIT + 1), { ...options, functions });
  assert.is(run.error?.name, "WorkflowFailed");
  assert.is(run.calls["charge-payment"], 1, "PaymentDeclined is not retried");
  assert.is(run.calls["release-stock"], 1);
  assert.is((await bed.items("reservation")).find((r) => r.details.orderId === "order-declined")?.status, "released");
  assert.is((await bed.items("payment")).some((p) => p.details.orderId === "order-declined"), false);
  assert.equal(run.published, []);
  assert.is(run.failures.length, 1);
  const failure = run.failures[0]!.data as { reason: string; message: string };
  assert.is(failure.reason, "business-rule");
  assert.match(failure.message, /payment declined, stock released \(PaymentDeclined\)/);
});

test.run();
