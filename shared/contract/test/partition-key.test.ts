// The one rule for a stream event's partition key (shared/contract/partition-key.ts), used by the runtime's
// publisher, the local stage's admin publish and replay, and the catalog checks.
//
//   node --import tsx shared/contract/test/partition-key.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog, isStreamEvent, streamEventTypes, topicEventTypes, type StreamEventType, type TopicEventType } from "../catalog";
import { isPartitionKey, PARTITION_KEY_MAX_LENGTH, PartitionKeyError, partitionKeyOf } from "../partition-key";

const stream = { ordering: "stream", partitionKeyField: "orderId" } as const;

test("a stream event's key is its key field as text; other events have none", () => {
  assert.is(partitionKeyOf("orders.order-line-recorded", stream, { orderId: "o-7", extra: 1 }), "o-7");
  assert.is(partitionKeyOf("orders.order-line-recorded", stream, { orderId: 42 }), "42");
  assert.is(partitionKeyOf("orders.order-placed", { ordering: "standard" }, { orderId: "o-7" }), undefined);
  assert.is(partitionKeyOf("orders.order-status-changed", { ordering: "fifo" }, { orderId: "o-7" }), undefined);
  // every stream event of the catalog has a key for its own example, and no other event has one
  for (const [type, entry] of Object.entries(catalog)) {
    const key = partitionKeyOf(type, entry, entry.example);
    assert.is(key === undefined, (entry.ordering as string) !== "stream", type);
  }
});

test("1 to 256 characters, as Kinesis allows: any Unicode, punctuation and spaces included", () => {
  assert.ok(isPartitionKey("a"));
  assert.ok(isPartitionKey("x".repeat(PARTITION_KEY_MAX_LENGTH)));
  assert.not.ok(isPartitionKey(""));
  assert.not.ok(isPartitionKey("x".repeat(PARTITION_KEY_MAX_LENGTH + 1)));
  // unlike a FIFO message group (printable ASCII only), a partition key is any Unicode string
  assert.ok(isPartitionKey("Zürich / 東京 #1"));
  assert.ok(isPartitionKey("🙂"));
  // counted in UTF-16 code units, as the local engine counts: 128 emoji are 256 units, 129 are too many
  assert.ok(isPartitionKey("🙂".repeat(128)));
  assert.not.ok(isPartitionKey("🙂".repeat(129)));
  // a lone surrogate is not Unicode text (it cannot be sent as UTF-8)
  assert.not.ok(isPartitionKey("a\ud800"));
  assert.not.ok(isPartitionKey("\udc00b"));
});

test("no fallback: a missing, empty, non-text, too long or malformed key is an error naming the event and the field", () => {
  const error = (data: unknown) => {
    try {
      partitionKeyOf("orders.order-line-recorded", stream, data);
    } catch (e) {
      return e as PartitionKeyError;
    }
    throw new Error(`accepted ${JSON.stringify(data)}`);
  };
  for (const data of [{}, { orderId: "" }, { orderId: null }, { orderId: true }, { orderId: { id: 1 } }, null, "o-1"]) {
    const e = error(data);
    assert.instance(e, PartitionKeyError);
    assert.is(e.eventType, "orders.order-line-recorded");
    assert.is(e.field, "orderId");
    assert.match(e.message, /^orders\.order-line-recorded is a stream event: data\.orderId must be a non-empty string or number \(it is the partition key\)/);
  }
  assert.match(error({ orderId: "x".repeat(257) }).message, /data\.orderId must be at most 256 characters \(it is the partition key\), not 257/);
  assert.match(error({ orderId: "a\ud800" }).message, /data\.orderId must be well-formed Unicode/);
  assert.throws(() => partitionKeyOf("x.y", { ordering: "stream" }, { orderId: "o" }), /x\.y is a stream event: its partitionKeyField is not set in the catalog/);
});

test("the catalog's stream events are known to the types too: a topic event is not a StreamEventType", () => {
  // defineEvent keeps the ordering as a literal type, so the platform contract's eventTopics and eventStreams are
  // keyed by exactly the events that have a topic and a stream (npm run typecheck checks these lines).
  // With the catalog's example stream event, StreamEventType is not empty (it was, `never`, while defineEvent widened
  // every ordering to the union).
  const typed: [StreamEventType] extends [never] ? false : true = true;
  assert.ok(typed);
  // @ts-expect-error orders.order-placed travels on SNS
  const notAStream: StreamEventType = "orders.order-placed";
  const aTopic: TopicEventType = "orders.order-placed";
  assert.is(isStreamEvent(notAStream), false);
  assert.ok(topicEventTypes.includes(aTopic));
  for (const type of streamEventTypes) assert.is(catalog[type].ordering, "stream");
  assert.is(streamEventTypes.length + topicEventTypes.length, Object.keys(catalog).length);
});

test.run();
