import { ACCOUNT, fnArn, queueArn, resource, type RuleCases } from "./fixtures";

// Who reads a DynamoDB stream: a stack reads only the streams of the tables it creates, and at most two mappings read
// one stream (DynamoDB Streams throttles more readers of a shard).

const tableArn = (name: string) => `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/${name}`;
const streamArn = (name: string) => `${tableArn(name)}/stream/2026-01-01T00:00:00.000`;
/** A table with its stream on, as the mocks capture it (the stream ARN computed). */
const table = (name: string) =>
  resource("aws:dynamodb/table:Table", name, { name, streamEnabled: true, streamViewType: "NEW_IMAGE" }, { arn: tableArn(name), streamArn: streamArn(name) });
/** A mapping of `reader` on the stream of table `source`. */
const reader = (reader: string, source: string, inputs: Record<string, unknown> = {}) =>
  resource("aws:lambda/eventSourceMapping:EventSourceMapping", `${reader}-mapping`, {
    eventSourceArn: streamArn(source),
    functionName: fnArn(reader),
    startingPosition: "TRIM_HORIZON",
    ...inputs,
  });
/** A queue mapping: no stream, not a stream reader. */
const queueReader = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "queue-mapping", {
  eventSourceArn: queueArn("dev-billing-on-order-placed"),
  functionName: fnArn("dev-billing-on-order-placed"),
});

export const cases: RuleCases = {
  "dynamodb-stream-reader-own-table": {
    good: [
      // A service's relay on its own outbox table.
      [table("dev-orders-outbox"), reader("dev-orders-outbox-relay", "dev-orders-outbox")],
      // Known by the table's name when the stream ARN is not (yet) the one the table reports.
      [resource("aws:dynamodb/table:Table", "t", { name: "dev-orders-outbox", streamEnabled: true }), reader("dev-orders-outbox-relay", "dev-orders-outbox")],
      // A disabled mapping reads nothing; a queue mapping is no stream reader.
      [reader("dev-orders-outbox-relay", "dev-data", { enabled: false }), queueReader],
    ],
    bad: [
      // The old wiring: a service's relay on the platform's shared data table's stream.
      [
        [reader("dev-orders-outbox-relay", "dev-data")],
        /mapping dev-orders-outbox-relay-mapping reads the stream of table dev-data, which this stack does not create: .*DynamoDB Streams throttles more than 2/,
      ],
      // Owning some table does not make another's stream its own.
      [[table("dev-billing-outbox"), reader("dev-billing-outbox-relay", "dev-orders-outbox")], /reads the stream of table dev-orders-outbox, which this stack does not create/],
    ],
  },
  "dynamodb-stream-at-most-two-readers": {
    good: [
      [table("dev-orders-outbox"), reader("dev-orders-outbox-relay", "dev-orders-outbox"), reader("dev-orders-audit", "dev-orders-outbox")],
      // Three mappings, but one is disabled.
      [
        table("dev-orders-outbox"),
        reader("a", "dev-orders-outbox"),
        reader("b", "dev-orders-outbox"),
        reader("c", "dev-orders-outbox", { enabled: false }),
      ],
      // Two streams, two readers each.
      [reader("a", "dev-orders-outbox"), reader("b", "dev-orders-outbox"), reader("c", "dev-billing-outbox"), reader("d", "dev-billing-outbox")],
    ],
    bad: [
      [
        [table("dev-orders-outbox"), reader("a", "dev-orders-outbox"), reader("b", "dev-orders-outbox"), reader("c", "dev-orders-outbox")],
        /3 mappings read the stream of table dev-orders-outbox \(a-mapping, b-mapping, c-mapping\): DynamoDB Streams throttles more than 2 readers of a shard/,
      ],
    ],
  },
};
