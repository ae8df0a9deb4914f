// Integration tests of the orchestrated path (the example service fulfilment and its fulfil-order saga), against the
// local stage by default or a deployed stage (npm run test:integration -- --stage <stage>): an order placed over
// HTTP reaches fulfilment's consumer, which starts the saga; its effects are read from the data table, so the same
// test holds for a deployed stage, and where the stage can show published events (the local stage) the follow-up too.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract";
import { connectStage, eventually, type StageTarget } from "../stage-target";

let stage: StageTarget;

test.before(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  stage = await connectStage(undefined, { services: ["orders", "fulfilment"] });
});

test.after(() => stage?.stop());

async function placeOrder(amount: number, suffix: string): Promise<string> {
  const { orderId: _assigned, ...order } = catalog["orders.order-placed"].example;
  const response = await stage.request("orders", "/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "x-correlation-id": stage.runId },
    body: JSON.stringify({ ...order, customerId: `customer-${stage.runId}-${suffix}`, total: { amount, currency: "EUR" } }),
  });
  assert.is(response.status, 201, await response.clone().text());
  return ((await response.json()) as { orderId: string }).orderId;
}

test("an order placed over HTTP is fulfilled by the saga: stock reserved, payment charged, fulfilment.order-fulfilled announced", async () => {
  const orderId = await placeOrder(42.5, "fulfilled");
  const reservation = await eventually(`the reservation of order ${orderId}`, async () =>
    (await stage.items("fulfilment", "reservation")).find((item) => item.details?.orderId === orderId),
    60_000,
  );
  assert.is(reservation.status, "reserved");
  const payment = await eventually(`the payment of order ${orderId}`, async () =>
    (await stage.items("fulfilment", "payment")).find((item) => item.details?.orderId === orderId),
    60_000,
  );
  assert.is(payment.status, "charged");
  assert.equal(payment.details.total, { amount: 42.5, currency: "EUR" });
  if ((await stage.publishedEvents("fulfilment.order-fulfilled", stage.runId)) !== undefined) {
    const announced = await eventually("fulfilment.order-fulfilled", async () => {
      const events = await stage.publishedEvents("fulfilment.order-fulfilled", stage.runId);
      return events && events.length > 0 ? events : undefined;
    });
    assert.is(announced.length, 1);
  }
});

test("an order above the payment limit is compensated: its reservation released, nothing charged", async () => {
  const orderId = await placeOrder(900, "declined");
  const released = await eventually(`the released reservation of order ${orderId}`, async () =>
    (await stage.items("fulfilment", "reservation")).find((item) => item.details?.orderId === orderId && item.status === "released"),
    60_000,
  );
  assert.ok(released);
  assert.is((await stage.items("fulfilment", "payment")).some((item) => item.details?.orderId === orderId), false);
});

test.run();
