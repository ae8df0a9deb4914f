// Integration tests of the example services, against the local stage by default or a deployed stage:
//   npm run test:integration                     the local stage, started here
//   npm run test:integration -- --stage ci-1234  a deployed stage (reads its stack outputs; AWS credentials needed)
// Every request carries the run's id as its correlation id (the CI build id in CI), so its trace can be found.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract";
import { connectStage, eventually, type StageTarget } from "../stage-target";

let stage: StageTarget;

test.before(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  stage = await connectStage(undefined, { services: ["orders", "billing"] });
});

test.after(() => stage?.stop());

test("an order placed over HTTP is invoiced by billing, and billing announces the invoice", async () => {
  const { orderId: _assigned, ...order } = catalog["orders.order-placed"].example;
  const response = await stage.request("orders", "/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "x-correlation-id": stage.runId },
    body: JSON.stringify({ ...order, customerId: `customer-${stage.runId}` }),
  });
  assert.is(response.status, 201, await response.clone().text());
  assert.is(response.headers.get("x-correlation-id"), stage.runId, "the correlation id is the run's id");
  const { orderId } = (await response.json()) as { orderId: string };

  const stored = await eventually(`order ${orderId} in the orders service's data`, async () =>
    (await stage.items("orders", "order")).find((item) => item.orderId === orderId),
  );
  assert.is(stored.createdBy, stage.runId);

  const invoice = await eventually(`billing's invoice for order ${orderId}`, async () =>
    (await stage.items("billing", "invoice")).find((item) => item.details?.orderId === orderId),
  );
  assert.equal(invoice.details.total, order.total);

  const announced = await stage.publishedEvents("billing.invoice-issued", stage.runId);
  if (announced !== undefined) {
    // Where the stage can show published events (the local stage), billing.invoice-issued went out once.
    const issued = await eventually("billing.invoice-issued", async () => {
      const events = await stage.publishedEvents("billing.invoice-issued", stage.runId);
      return events && events.length > 0 ? events : undefined;
    });
    assert.is(issued.length, 1);
  }
});

test("a request that breaks the order schema is refused and leaves nothing behind", async () => {
  const before = (await stage.items("orders", "order")).length;
  const response = await stage.request("orders", "/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "x-correlation-id": stage.runId },
    body: JSON.stringify({ customerId: "c", items: [], total: { amount: -1, currency: "euro" } }),
  });
  assert.is(response.status, 400);
  const problem = (await response.json()) as { error: string; issues?: { path: string }[] };
  assert.ok(problem.issues?.some((i) => i.path.includes("items")), JSON.stringify(problem));
  assert.is((await stage.items("orders", "order")).length, before);
});

test.run();
