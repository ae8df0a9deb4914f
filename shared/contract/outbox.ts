import { DATA_TABLE_LAYOUT } from "./tables";

/**
 * The outbox items of the data table: a state change and the events it causes are one transaction, whose outbox
 * item holds the events; the table's stream carries its INSERT to the service's relay. Shared by the runtime (which
 * writes and relays them) and the relay's event source mapping (which filters the stream on them).
 */
export const OUTBOX_ITEM = {
  /** Sort key prefix: `$outbox#<id of the first event>` (the partition key is that of the entity written with it). */
  sortKeyPrefix: "$outbox#",
  /** The service whose relay publishes the item's events (its partition key starts with `$<service>#` too). */
  service: "outboxService",
  /** The events, in the order they were recorded: each a CloudEvents envelope as JSON (a list of strings). */
  events: "outboxEvents",
} as const;

/**
 * The Lambda event filter pattern (DynamoDB Streams syntax) of a service's relay: INSERTs of items under the
 * service's own keys (`$<service>#...`, what its IAM grant lets it write) that name it as their outbox's service.
 * Everything else on the table's stream (entity changes, other services' items, MODIFYs of a retried write, TTL
 * deletions) never reaches the relay.
 */
export function outboxFilterPattern(service: string): Record<string, unknown> {
  return {
    eventName: ["INSERT"],
    dynamodb: {
      Keys: { [DATA_TABLE_LAYOUT.partitionKey]: { S: [{ prefix: `$${service}#` }] } },
      NewImage: { [OUTBOX_ITEM.service]: { S: [service] } },
    },
  };
}
