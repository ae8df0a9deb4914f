// Stream events (ordering "stream") in the AsyncAPI document: a channel per Kinesis stream with its partition key,
// stream consumers' receive operations with their event source mapping, and the document still valid AsyncAPI 3.0.
//
//   node --import tsx shared/catalog/test/streams.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as z from "zod/mini";
import { parse } from "yaml";
import { defineEvent } from "../../contract/define-event";
import { buildDocument, renderDocument, type CatalogLike, type ConsumerWiring } from "../document";
import { documentProblems } from "../system";

const catalog: CatalogLike = {
  "orders.order-line-recorded": defineEvent({
    version: 1,
    owner: "orders",
    description: "A line of an order was recorded.",
    ordering: "stream",
    partitionKeyField: "orderId",
    schema: z.object({ orderId: z.string(), sku: z.string(), quantity: z.int() }),
    example: { orderId: "order-1", sku: "sku-1", quantity: 2 },
  }),
  "orders.order-placed": defineEvent({
    version: 1,
    owner: "orders",
    description: "A customer placed an order.",
    ordering: "standard",
    schema: z.object({ orderId: z.string() }),
    example: { orderId: "order-1" },
  }),
};

const streamConsumer: ConsumerWiring = {
  service: "billing",
  name: "on-order-line-recorded",
  event: "orders.order-line-recorded",
  versions: [1],
  filter: { policy: { source: ["orders"] }, scope: "MessageAttributes" },
  stream: {
    startingPosition: "TRIM_HORIZON",
    batchSize: 100,
    maxBatchingWindow: 0,
    parallelizationFactor: 1,
    bisectBatchOnFunctionError: true,
    maxRetryAttempts: 10,
    maxRecordAgeSeconds: 3600,
    enhancedFanOut: false,
    filterPatterns: [{ data: { source: ["orders"] } }],
    onFailureQueue: { name: "{stage}-billing-on-order-line-recorded-on-failure", retention: 1_209_600 },
  },
};

test("a stream event is a channel on its Kinesis stream, with its partition key field and no SNS binding", async () => {
  const text = renderDocument(buildDocument({ catalog, consumers: [streamConsumer], version: "0.1.0" }));
  assert.equal(await documentProblems(text), []);
  const document = parse(text);
  const channel = document.channels["orders.order-line-recorded"];
  assert.is(channel.address, "{stage}-orders-order-line-recorded");
  assert.is(channel["x-ordering"], "stream");
  assert.is(channel["x-partition-key-field"], "orderId");
  assert.equal(channel["x-kinesis"], { streamName: "{stage}-orders-order-line-recorded", partitionKeyField: "orderId", encryption: "KMS (the platform's events key)" });
  assert.is(channel.bindings, undefined, "no SNS binding for a stream");
  assert.match(channel.description, /ordered per `orderId` \(the partition key\)/);
  // a Kinesis record carries no attributes: no headers on its messages
  const message = document.components.messages["orders.order-line-recorded.v1"];
  assert.is(message.headers, undefined);
  assert.is(message.examples[0].headers, undefined);
  assert.equal(message.examples[0].payload.data, { orderId: "order-1", sku: "sku-1", quantity: 2 });
  // the topic event keeps its SNS binding and headers
  assert.is(document.channels["orders.order-placed"].bindings.sns.ordering.type, "standard");
  assert.ok(document.components.messages["orders.order-placed.v1"].headers);
});

test("a stream consumer's receive operation carries its event source mapping and on-failure queue", () => {
  const document = buildDocument({ catalog, consumers: [streamConsumer], version: "0.1.0" }) as any;
  const operation = document.operations["billing.on-order-line-recorded.receive"];
  assert.is(operation.action, "receive");
  assert.equal(operation.channel, { $ref: "#/channels/orders.order-line-recorded" });
  assert.match(operation.summary, /Through an event source mapping on the stream \(in order per partition key\); reads version 1\. Only events its filter matches\./);
  assert.equal(operation["x-stream-mapping"], streamConsumer.stream);
  assert.is(operation.bindings, undefined, "no SQS queue");
});

test.run();
