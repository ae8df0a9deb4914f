// End to end through the local stage with the example services: POST /orders (orders: the order and its event in one
// write, the outbox) -> orders' outbox table's stream -> orders' outbox relay -> orders.order-placed -> billing's consumer ->
// the invoice and its event in one write -> billing's relay -> billing.invoice-issued, and the trace of it all.
import { join } from "node:path";
import { ScanCommand, DynamoDBClient, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventually } from "../../testing/stage-target";
import { catalog } from "../../contract/catalog";
import type { MessagingTraceEvent } from "../sns";
import {
  renderTrace,
  startLocalStage,
  tracePaths,
  type InvocationTrace,
  type LocalStage,
  type PublishTrace,
  type StreamRecordTrace,
  type TraceTree,
} from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// The services this conversation crosses (orders, billing): the stage starts no other service's functions.
const SERVICES = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "services", name));

let stage: LocalStage;
let dynamo: DynamoDBClient;
/** The SNS engine's deliveries, with the request context each ran under. */
const delivered: Extract<MessagingTraceEvent, { kind: "sns.delivered" }>[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: SERVICES });
  stage.sns.addTraceListener((event) => {
    if (event.kind === "sns.delivered") delivered.push(event);
  });
  // Straight to dynalite, past the IAM proxy: the test looks at the data, it is not a function.
  dynamo = new DynamoDBClient({ region: "us-east-1", endpoint: stage.endpoints.dynalite, credentials: { accessKeyId: "e2e-test", secretAccessKey: "e2e" } });
});

test.after(async () => {
  dynamo?.destroy();
  await stage?.stop();
});

async function items(prefix: string): Promise<Record<string, any>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: "local-data", ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out.map((item) => unmarshall(item)).filter((item) => String(item.pk).startsWith(prefix));
}

function publishesOf(invocation: InvocationTrace, type: string): PublishTrace[] {
  return invocation.publishes.filter((p) => p.eventType === type);
}

/** The stream record of an invocation's outbox write (an INSERT of a `$outbox#` item) and the relay that took it. */
function relayOf(invocation: InvocationTrace, relay: string): { record: StreamRecordTrace; relay: InvocationTrace } | undefined {
  for (const write of invocation.writes) {
    for (const record of write.streamRecords ?? []) {
      const found = record.eventName === "INSERT" && record.invocations.find((i) => i.label === relay && i.status === "ok");
      if (found) return { record, relay: found };
    }
  }
  return undefined;
}

test("POST /orders reaches billing: the invoice is stored, billing.invoice-issued is published, the trace shows the path", async () => {
  const { orderId: _omitted, ...order } = catalog["orders.order-placed"].example;
  const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });
  assert.is(response.status, 201, await response.clone().text());
  const { orderId } = (await response.json()) as { orderId: string };
  const correlationId = response.headers.get("x-correlation-id");
  assert.type(orderId, "string");
  assert.ok(correlationId, "the response carries the correlation id");

  const invoice = await eventually("billing's invoice in the data table", async () =>
    (await items("$billing#")).find((item) => item.details?.orderId === orderId),
  );
  assert.equal(invoice.details.customerId, order.customerId);
  assert.equal(invoice.details.total, order.total);

  const tree: TraceTree = await eventually("billing.invoice-issued to be published and the trace to settle", () => {
    const t = stage.trace(correlationId!);
    const found = t && JSON.stringify(t).includes('"eventType":"billing.invoice-issued"');
    return found && t.settled ? t : undefined;
  });

  // request -> invocation -> write -> stream record -> relay -> publish -> delivery -> invocation -> write, and on to
  // billing's relay and its publish. A path may go on past these (whoever consumes billing.invoice-issued adds its
  // hops), so each is looked for as the start of a path.
  const paths = tracePaths(tree).map((p) => p.join(" > "));
  const reaches = (path: string) => paths.some((p) => p === path || p.startsWith(`${path} > `));
  const outbox = "write > stream-record > invocation > publish";
  assert.ok(reaches("request > invocation > write"), paths.join("\n"));
  assert.ok(reaches(`request > invocation > ${outbox} > delivery > invocation > write`), paths.join("\n"));
  assert.ok(reaches(`request > invocation > ${outbox} > delivery > invocation > ${outbox}`), paths.join("\n"));

  const root = tree.roots.find((r) => r.kind === "request");
  assert.ok(root && root.kind === "request");
  if (!root || root.kind !== "request") return;
  assert.is(root.routeKey, "POST /orders");
  assert.is(root.status, 201);
  assert.is(root.invocation.label, "orders/create-order");
  assert.ok(root.invocation.writes.some((w) => w.allowed && w.result === "ok" && w.keys.some((k) => k.startsWith("$orders#"))));
  assert.equal(root.invocation.publishes, [], "create-order publishes nothing itself: it records the event");
  const ordersRelay = relayOf(root.invocation, "orders/outbox-relay");
  assert.ok(ordersRelay, renderTrace(tree));
  const [placed] = publishesOf(ordersRelay!.relay, "orders.order-placed");
  assert.ok(placed, "orders' relay published orders.order-placed");
  const delivery = placed!.deliveries.find((d) => d.queue === "local-billing-on-order-placed");
  assert.is(delivery?.status, "done");
  const billing = delivery!.invocations.find((i) => i.label === "billing/on-order-placed" && i.status === "ok");
  assert.ok(billing, renderTrace(tree));
  // The invoice and its outbox item: one transaction over the data table and billing's own outbox table.
  assert.ok(billing!.writes.some((w) => w.table === "local-data, local-billing-outbox" && w.result === "ok" && w.keys.some((k) => k.startsWith("$billing#"))), renderTrace(tree));
  const billingRelay = relayOf(billing!, "billing/outbox-relay");
  assert.ok(billingRelay, renderTrace(tree));
  // Each relay reads its own service's outbox table's stream (one reader per stream), not the shared data table's.
  assert.equal([ordersRelay!.record.table, billingRelay!.record.table], ["local-orders-outbox", "local-billing-outbox"]);
  const [issued] = publishesOf(billingRelay!.relay, "billing.invoice-issued");
  assert.ok(issued, renderTrace(tree));
  assert.is(issued!.correlationId, correlationId);
  assert.is(issued!.outcome, "published");

  // One trace: every hop's span names its parent's, the functions' own SDK calls included (their X-Amzn-Trace-Id
  // names the invocation's span), and the request context carries who called and the correlation id.
  const traceId = root.invocation.traceId;
  assert.is(root.invocation.parentSpanId, root.spanId);
  assert.is(ordersRelay!.record.parentSpanId, root.invocation.spanId, "the stream record comes from create-order's write");
  assert.is(ordersRelay!.relay.parentSpanId, ordersRelay!.record.spanId, "the relay ran for that record");
  assert.is(ordersRelay!.relay.traceId, traceId);
  assert.is(placed!.parentSpanId, ordersRelay!.relay.spanId, "the publish is the relay invocation's SDK call");
  const deliveredEvent = delivered.find((e) => e.sqsMessageId && e.context?.spanId === delivery!.spanId);
  assert.ok(deliveredEvent, "the engine reported the delivery under its span");
  assert.equal(
    { principal: deliveredEvent!.context!.principal, parent: deliveredEvent!.context!.parentSpanId, trace: deliveredEvent!.context!.traceId, correlation: deliveredEvent!.context!.correlationId },
    { principal: "sns.amazonaws.com", parent: placed!.spanId, trace: traceId, correlation: correlationId },
  );
  assert.is(billing!.parentSpanId, delivery!.spanId);
  assert.is(billing!.traceId, traceId);
  assert.is(billing!.correlationId, correlationId, "the poller's context carries the message's correlation id");
  assert.is(billingRelay!.record.parentSpanId, billing!.spanId, "billing's write made the stream record");
  assert.is(issued!.parentSpanId, billingRelay!.relay.spanId, "billing.invoice-issued is billing's relay's SDK call");
  assert.is(issued!.correlationId, correlationId, "the recorded event carries the request's correlation id");

  const text = renderTrace(tree);
  assert.match(text, /POST \/orders → 201 from orders\/create-order/);
  assert.match(text, /stream record INSERT on local-data/);
  assert.match(text, /orders\/outbox-relay/);
  assert.match(text, /published orders\.order-placed .* to local-orders-order-placed/);
  assert.match(text, /delivered to local-billing-on-order-placed/);
  assert.match(text, /billing\/on-order-placed handled it/);
  assert.match(text, /published billing\.invoice-issued/);
});

test("an invalid order is refused at the edge and nothing is published", async () => {
  const response = await fetch(`${stage.url}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-correlation-id": "e2e-invalid-order" },
    body: JSON.stringify({ customerId: "c-1", items: [], total: { amount: -1, currency: "euro" } }),
  });
  assert.is(response.status, 400);
  const tree = await eventually("the request's trace", () => (stage.trace("e2e-invalid-order")?.settled ? stage.trace("e2e-invalid-order") : undefined));
  const root = tree.roots[0];
  assert.ok(root?.kind === "request" && root.status === 400);
  if (root?.kind !== "request") return;
  assert.equal(root.invocation.publishes, []);
  assert.equal(root.invocation.writes, []);
});

test.run();
