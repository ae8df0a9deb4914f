// Two orders relayed in one batch by orders' outbox relay (its events sent together in one PublishBatch): each
// order's trace still reads POST -> write -> stream record -> relay -> publish -> delivery -> consumer, the publish
// of its own event the relay invocation's SDK call, under its own correlation id.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventually } from "../../testing/stage-target";
import { catalog } from "../../contract/catalog";
import { renderTrace, startLocalStage, tracePaths, type InvocationTrace, type LocalStage, type TraceTree } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const SERVICES = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "services", name));

let stage: LocalStage;

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: SERVICES });
});

test.after(async () => {
  await stage?.stop();
});

async function placeOrder(): Promise<string> {
  const { orderId: _omitted, ...order } = catalog["orders.order-placed"].example;
  const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });
  assert.is(response.status, 201, await response.clone().text());
  await response.arrayBuffer();
  return response.headers.get("x-correlation-id")!;
}

/** The relay invocation of `tree`'s order: its request's write, the write's stream record, the relay that took it. */
function relayOf(tree: TraceTree): InvocationTrace | undefined {
  const root = tree.roots.find((r) => r.kind === "request");
  if (root?.kind !== "request") return undefined;
  for (const write of root.invocation.writes) {
    for (const record of write.streamRecords ?? []) {
      const relay = record.invocations.find((i) => i.label === "orders/outbox-relay" && i.status === "ok");
      if (relay) return relay;
    }
  }
  return undefined;
}

test("two orders relayed in one batch: each order's trace shows its own publish under the relay, delivered and consumed", async () => {
  // Orders placed side by side: while the relay handles the first record, the next ones wait on the stream and come
  // in one batch (batch size 100, no batching window). Up to a few rounds until a batch holds two orders.
  let pair: { relay: InvocationTrace; correlationIds: string[] } | undefined;
  for (let attempt = 0; attempt < 5 && !pair; attempt++) {
    const correlationIds = await Promise.all(Array.from({ length: 8 }, () => placeOrder()));
    const relays = await eventually("the orders' relay invocations", () => {
      const found = correlationIds.map((id) => [id, stage.trace(id)] as const).map(([id, tree]) => [id, tree && relayOf(tree)] as const);
      return found.every(([, relay]) => relay !== undefined) ? found : undefined;
    });
    // Each trace is a copy: the relay invocation is known by its span.
    const byRelay = new Map<string, { relay: InvocationTrace; ids: string[] }>();
    for (const [id, relay] of relays) {
      const entry = byRelay.get(relay!.spanId) ?? { relay: relay!, ids: [] };
      entry.ids.push(id);
      byRelay.set(relay!.spanId, entry);
    }
    const shared = [...byRelay.values()].find(({ ids }) => ids.length >= 2);
    if (shared) pair = { relay: shared.relay, correlationIds: shared.ids.slice(0, 2) };
  }
  assert.ok(pair, "two orders were relayed in one invocation");
  const { relay, correlationIds } = pair!;
  assert.ok(relay.messages! >= 2);

  for (const correlationId of correlationIds) {
    const tree: TraceTree = await eventually(`the trace of ${correlationId} to settle with billing's consumer`, () => {
      const t = stage.trace(correlationId);
      return t?.settled && JSON.stringify(t).includes('"label":"billing/on-order-placed"') ? t : undefined;
    });
    const text = renderTrace(tree);
    const relayHere = relayOf(tree);
    assert.is(relayHere?.spanId, relay.spanId, text);
    const paths = tracePaths(tree).map((p) => p.join(" > "));
    assert.ok(
      paths.some((p) => p.startsWith("request > invocation > write > stream-record > invocation > publish > delivery > invocation")),
      `${paths.join("\n")}\n${text}`,
    );
    // Its own event's publish: the relay invocation's SDK call, in its own correlation, delivered to billing.
    const own = relayHere!.publishes.filter((p) => p.correlationId === correlationId);
    assert.is(own.length, 1, text);
    const [publish] = own;
    assert.is(publish!.eventType, "orders.order-placed");
    assert.is(publish!.parentSpanId, relay.spanId, `the publish hangs under the relay invocation\n${text}`);
    assert.is(publish!.outcome, "published");
    const delivery = publish!.deliveries.find((d) => d.queue === "local-billing-on-order-placed");
    assert.ok(delivery?.invocations.some((i) => i.label === "billing/on-order-placed" && i.status === "ok"), text);
    // Not a root of its tree (it is reached through the request).
    assert.not.ok(tree.roots.some((r) => r.kind === "publish"), text);
    assert.match(text, /POST \/orders → 201 from orders\/create-order/);
    assert.match(text, /orders\/outbox-relay/);
    assert.match(text, /published orders\.order-placed .* to local-orders-order-placed/);
    assert.match(text, /billing\/on-order-placed handled it/);
  }
  const [first, second] = correlationIds.map((id) => relay.publishes.find((p) => p.correlationId === id)!);
  assert.is.not(first!.spanId, second!.spanId, "each entry has a span of its own");
});

test.run();
