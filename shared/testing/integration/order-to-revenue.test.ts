// The relational path in the integration tests, against the local stage by default or a deployed stage: an order is
// invoiced by billing, ledger puts ledger.entry-posted on its Kinesis stream, reporting's relational writer (a stream
// consumer) adds it to the customer's revenue of the day in PostgreSQL (Aurora behind the Data API, or PGlite behind
// the local one), and GET /reports/revenue reads it back, counted once.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract";
import { connectStage, eventually, type StageTarget } from "../stage-target";

let stage: StageTarget;

test.before(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  stage = await connectStage(undefined, { services: ["orders", "billing", "ledger", "reporting"] });
});

test.after(() => stage?.stop());

test("an order's invoice becomes the customer's revenue in the relational projection, once", async () => {
  const { orderId: _assigned, ...order } = catalog["orders.order-placed"].example;
  const customerId = `customer-${stage.runId}-revenue`;
  const response = await stage.request("orders", "/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "x-correlation-id": stage.runId },
    body: JSON.stringify({ ...order, customerId }),
  });
  assert.is(response.status, 201, await response.clone().text());
  type Report = { days: { customerId: string; day: string; amountCents: number; entries: number }[]; totalCents: number };
  const report = await eventually(`reporting's revenue for ${customerId}`, async () => {
    const answer = await stage.request("reporting", `/reports/revenue?customerId=${encodeURIComponent(customerId)}`);
    if (answer.status !== 200) throw new Error(`GET /reports/revenue answered ${answer.status}: ${await answer.text()}`);
    const body = (await answer.json()) as Report;
    return body.days.length ? body : undefined;
  });
  assert.is(report.days.length, 1);
  assert.equal([report.days[0]!.customerId, report.days[0]!.entries], [customerId, 1]);
  assert.is(report.totalCents, Math.round(order.total.amount * 100));
  assert.match(report.days[0]!.day, /^\d{4}-\d{2}-\d{2}$/);
});

test.run();
