// The one envelope peek (shared/contract/envelope-peek.ts): the runtime's failure events and the local stage's
// fault injector read a message's id, type, correlation id and trace context with it.
//
//   node --import tsx shared/contract/test/envelope-peek.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PEEK_MAX_LENGTH, peekEnvelope } from "../envelope-peek";

const envelope = {
  specversion: "1.0",
  id: "e-1",
  source: "orders",
  type: "orders.order-placed",
  correlationid: "c-1",
  causationid: "e-0",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  data: { id: "not-this-one" },
};

test("reads the fields from a CloudEvent as text or as an object", () => {
  const hints = { id: "e-1", type: "orders.order-placed", correlationid: "c-1", causationid: "e-0", traceparent: envelope.traceparent };
  assert.equal(peekEnvelope(JSON.stringify(envelope)), hints);
  assert.equal(peekEnvelope(envelope), hints);
});

test("reads through an SNS notification (delivery without raw message delivery)", () => {
  // disagreed: the runtime's peek and the fault injector's event id did not look inside a notification, the local
  // stage's trace did. All do: a consumer without raw delivery receives its events this way.
  const notification = { Type: "Notification", MessageId: "m-1", TopicArn: "arn:aws:sns:us-east-1:123456789012:t", Message: JSON.stringify(envelope) };
  assert.is(peekEnvelope(JSON.stringify(notification)).id, "e-1");
  assert.equal(peekEnvelope({ Type: "Notification", Message: "not json" }), {});
  assert.equal(peekEnvelope({ Type: "SubscriptionConfirmation", Message: JSON.stringify(envelope) }), {}, "only a Notification carries an event");
});

test("never throws, and takes only non-empty strings up to 256 characters", () => {
  // disagreed: the local stage's trace took strings of any length. 256 at most, everywhere.
  assert.equal(peekEnvelope("not json"), {});
  assert.equal(peekEnvelope("[1,2]"), {});
  assert.equal(peekEnvelope("null"), {});
  assert.equal(peekEnvelope(null), {});
  assert.equal(peekEnvelope(undefined), {});
  assert.equal(peekEnvelope(42), {});
  assert.equal(peekEnvelope({ id: "x", type: 3, correlationid: "", traceparent: null }), { id: "x" });
  assert.equal(peekEnvelope({ id: "x".repeat(PEEK_MAX_LENGTH) }), { id: "x".repeat(256) });
  assert.equal(peekEnvelope({ id: "x".repeat(PEEK_MAX_LENGTH + 1) }), {});
});

test("the envelope's own id, not one inside data, whatever the order of the fields", () => {
  // The fault injector read the id with a pattern over the text before this; parsing needs no assumption on order.
  assert.is(peekEnvelope(JSON.stringify({ data: { id: "inner" }, id: "outer" })).id, "outer");
  assert.is(peekEnvelope(JSON.stringify({ data: { id: "inner" } })).id, undefined);
});

test.run();
