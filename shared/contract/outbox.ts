import { DATA_TABLE_LAYOUT } from "./tables";

/**
 * Each service that records events owns an outbox table, `<stage>-<service>-outbox` (created by its `Service`
 * component): a state change (in the data table) and the outbox item holding the events it causes are written in one
 * TransactWriteItems, and the outbox table's stream carries the item's INSERT to the service's relay, its only
 * reader. One table per service, not items in the shared data table: DynamoDB Streams serves at most two readers per
 * shard at a time (more are throttled: LimitExceededException), so one stream read by every service's relay would
 * throttle them all once a third service records events.
 *
 * The table takes the data table's key names: an outbox item keeps the partition key of the entity written with it,
 * so the records of one entity's changes come from one partition key of the stream, in the order they were written.
 */
export const OUTBOX_TABLE_LAYOUT = {
  partitionKey: DATA_TABLE_LAYOUT.partitionKey,
  sortKey: DATA_TABLE_LAYOUT.sortKey,
  /** Items expire through it (epoch seconds): the relay has published their events long before. */
  ttlAttribute: DATA_TABLE_LAYOUT.ttlAttribute,
  /**
   * What the relay reads of a record: the keys and the new image (`recordedEvents` in shared/runtime). Neither an
   * item's old image (an outbox item is put once) nor a REMOVE's content is needed.
   */
  streamViewType: "NEW_IMAGE",
} as const;

/** The logical name of the outbox table inside its service: its AWS name is `<stage>-<service>-outbox`. */
export const OUTBOX_TABLE_NAME = "outbox";

/** The outbox items: what `createOutbox` writes and the relay reads. */
export const OUTBOX_ITEM = {
  /** Sort key prefix: `$outbox#<id of the first event>` (the partition key is that of the entity written with it). */
  sortKeyPrefix: "$outbox#",
  /** The service whose relay publishes the item's events (its partition key starts with `$<service>#` too). */
  service: "outboxService",
  /** The events, in the order they were recorded: each a CloudEvents envelope as JSON (a list of strings). */
  events: "outboxEvents",
} as const;

/**
 * The Lambda event filter pattern (DynamoDB Streams syntax) of a service's relay on its outbox table's stream:
 * INSERTs of items under the service's own keys (`$<service>#...`) that name it as their outbox's service. The
 * table is the service's own, so the keys and service are what `createOutbox` always writes; the filter still keeps
 * the MODIFY of a retried write (the same key put again) and the REMOVEs of expired items from invoking the relay.
 */
export function outboxFilterPattern(service: string): Record<string, unknown> {
  return {
    eventName: ["INSERT"],
    dynamodb: {
      Keys: { [OUTBOX_TABLE_LAYOUT.partitionKey]: { S: [{ prefix: `$${service}#` }] } },
      NewImage: { [OUTBOX_ITEM.service]: { S: [service] } },
    },
  };
}
