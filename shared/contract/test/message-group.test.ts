// The one rule for a FIFO event's message group (shared/contract/message-group.ts), used by the runtime's
// publisher, the local stage's admin publish and the failure desk's replay.
//
//   node --import tsx shared/contract/test/message-group.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../catalog";
import { isMessageGroupId, MessageGroupError, messageGroupOf } from "../message-group";

const fifo = { ordering: "fifo", messageGroupField: "orderId" } as const;

test("a FIFO event's group is its group field as text; a standard event has none", () => {
  assert.is(messageGroupOf("orders.order-shipped", fifo, { orderId: "o-7", extra: 1 }), "o-7");
  assert.is(messageGroupOf("orders.order-shipped", fifo, { orderId: 42 }), "42");
  assert.is(messageGroupOf("orders.order-placed", { ordering: "standard" }, { orderId: "o-7" }), undefined);
  // every FIFO event of the catalog has a group for its own example
  for (const [type, entry] of Object.entries(catalog)) {
    const group = messageGroupOf(type, entry, entry.example);
    assert.is(group === undefined, entry.ordering !== "fifo", type);
  }
});

test("no fallback: a missing, empty or non-text group is an error naming the event and the field", () => {
  // disagreed: the runtime's publisher threw, the local stage's admin publish and failure replay fell back to the
  // event id (each message its own group: the order the event asks for silently gone). An error, everywhere.
  const error = (data: unknown) => {
    try {
      messageGroupOf("orders.order-shipped", fifo, data);
    } catch (e) {
      return e as MessageGroupError;
    }
    return undefined;
  };
  assert.instance(error({}), MessageGroupError);
  assert.is(error({})?.message, "orders.order-shipped is a FIFO event: data.orderId must be a non-empty string or number (it is the message group), not missing");
  assert.is(error({})?.field, "orderId");
  assert.match(error({ orderId: "" })!.message, /data\.orderId must be a non-empty string or number/);
  assert.match(error({ orderId: { id: 1 } })!.message, /not \{"id":1\}/);
  assert.match(error({ orderId: null })!.message, /not null/);
  assert.match(error(undefined)!.message, /not missing/);
  assert.throws(() => messageGroupOf("x.y", { ordering: "fifo" }, { orderId: "o" }), /x\.y is a FIFO event: its messageGroupField is not set in the catalog/);
});

test("a group is a valid MessageGroupId: 1 to 128 alphanumeric or punctuation characters (AWS's API reference)", () => {
  // disagreed: only the local SNS and SQS endpoints checked this; the publisher sent any text and let SNS refuse it.
  assert.ok(isMessageGroupId("a".repeat(128)));
  assert.ok(isMessageGroupId("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
  assert.not.ok(isMessageGroupId("a".repeat(129)));
  assert.not.ok(isMessageGroupId(""));
  assert.not.ok(isMessageGroupId("with space"));
  assert.not.ok(isMessageGroupId("é"));
  assert.throws(() => messageGroupOf("orders.order-shipped", fifo, { orderId: "o 7" }), /data\.orderId must be 1 to 128 alphanumeric or punctuation characters \(it is the message group\), not "o 7"/);
  assert.throws(() => messageGroupOf("orders.order-shipped", fifo, { orderId: "x".repeat(129) }), /must be 1 to 128/);
});

test.run();
