import { test } from "uvu";
import * as assert from "uvu/assert";
import { envelopeSchema } from "../../contract";
import { createEvent, parseEvent, peekEnvelope } from "../envelope";
import { EventSchemaError, InvalidEventError, UnknownEventTypeError } from "../errors";
import { cloudEvent, orderPlaced } from "./helpers/events";

function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

test("createEvent builds a CloudEvents 1.0 envelope the contract accepts", () => {
  const data = orderPlaced();
  const event = createEvent("orders.order-placed", data, {
    source: "orders",
    correlationId: "corr-1",
    causationId: "cause-1",
    subject: data.orderId,
  });
  assert.ok(envelopeSchema.safeParse(event).success);
  assert.is(event.specversion, "1.0");
  assert.is(event.datacontenttype, "application/json");
  assert.is(event.type, "orders.order-placed");
  assert.is(event.source, "orders");
  assert.is(event.correlationid, "corr-1");
  assert.is(event.causationid, "cause-1");
  assert.is(event.subject, data.orderId);
  assert.match(event.id, /^[0-9a-f-]{36}$/);
  assert.match(event.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(event.data, data);
});

test("createEvent refuses data that breaks the schema (for callers that get around the types)", () => {
  const error = thrown(() => createEvent("orders.order-placed", { ...orderPlaced(), items: [] }, { source: "orders" }));
  assert.instance(error, EventSchemaError);
  assert.equal((error as EventSchemaError).issues.map((i) => i.path), ["items"]);
});

test("parseEvent round-trips a created event, from text or from a parsed value", () => {
  const event = createEvent("orders.order-status-changed", { orderId: "o-1", status: "shipped" }, { source: "orders" });
  const text = JSON.stringify(event);
  assert.equal(parseEvent(text), event);
  assert.equal(parseEvent(JSON.parse(text)), event);
  const parsed = parseEvent(text);
  if (parsed.type === "orders.order-status-changed") assert.is(parsed.data.status, "shipped");
  else assert.unreachable("narrowed to the wrong type");
});

test("a body that is not JSON is an invalid event", () => {
  const error = thrown(() => parseEvent("Test message."));
  assert.instance(error, InvalidEventError);
  assert.is((error as InvalidEventError).reason, "invalid-event");
});

test("a broken envelope names the fields", () => {
  const { specversion: _, ...withoutVersion } = cloudEvent("orders.order-placed", orderPlaced(), { time: "yesterday" });
  const error = thrown(() => parseEvent(JSON.stringify(withoutVersion))) as InvalidEventError;
  assert.instance(error, InvalidEventError);
  assert.equal(error.issues.map((i) => i.path).sort(), ["specversion", "time"]);
  assert.match(error.message, /specversion: .*; time: /);
});

test("data that breaks the catalog schema names the paths under data", () => {
  const body = cloudEvent("orders.order-placed", orderPlaced({ items: [{ sku: "a", quantity: 0 }], total: { amount: 1, currency: "euro" } }));
  const error = thrown(() => parseEvent(JSON.stringify(body))) as InvalidEventError;
  assert.instance(error, InvalidEventError);
  assert.equal(error.issues.map((i) => i.path).sort(), ["data.items.0.quantity", "data.total.currency"]);
  assert.match(error.message, /data\.items\.0\.quantity: Too small/);
});

test("a type outside the catalog is an unknown event type", () => {
  const error = thrown(() => parseEvent(JSON.stringify(cloudEvent("orders.order-exploded", {}))));
  assert.instance(error, UnknownEventTypeError);
  assert.is((error as UnknownEventTypeError).reason, "unknown-event-type");
  assert.is((error as UnknownEventTypeError).eventType, "orders.order-exploded");
});

test("peekEnvelope reads what it can from anything, never throwing", () => {
  assert.equal(peekEnvelope("not json"), {});
  assert.equal(peekEnvelope("[1,2]"), {});
  assert.equal(peekEnvelope(null), {});
  assert.equal(peekEnvelope(JSON.stringify({ id: "x", type: 3, correlationid: "c" })), { id: "x", correlationid: "c" });
});

test.run();
