// The serial path in the integration tests, against the local stage by default or a deployed stage: an order is
// invoiced by billing, ledger records an entry for the invoice and puts ledger.entry-posted on its Kinesis stream
// (partition key: the customer), and ledger's stream consumer keeps the customer's balance from it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract";
import { connectStage, eventually, type StageTarget } from "../stage-target";

let stage: StageTarget;

test.before(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  stage = await connectStage(undefined, { services: ["orders", "billing", "ledger"] });
});

test.after(() => stage?.stop());

test("an order's invoice reaches the ledger's stream and its stream consumer, once", async () => {
  const { orderId: _assigned, ...order } = catalog["orders.order-placed"].example;
  const customerId = `customer-${stage.runId}-stream`;
  const response = await stage.request("orders", "/orders", {
    method: "POST",
    headers: { "content-type": "application/json", "x-correlation-id": stage.runId },
    body: JSON.stringify({ ...order, customerId }),
  });
  assert.is(response.status, 201, await response.clone().text());
  const entry = await eventually(`ledger's entry for ${customerId}`, async () =>
    (await stage.items("ledger", "entry")).find((item) => item.details?.customerId === customerId),
  );
  const balance = await eventually(`ledger's balance from the stream for ${customerId}`, async () =>
    (await stage.items("ledger", "balance")).find((item) => item.details?.customerId === customerId),
  );
  assert.equal(balance.details, { customerId, invoiceId: entry.details.invoiceId, amount: order.total.amount });
  const balances = (await stage.items("ledger", "balance")).filter((item) => item.details?.customerId === customerId);
  assert.is(balances.length, 1, "the stream event was applied once");
});

test.run();
