import type { AttributeValue, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { CurrentVersion, EventType, OwnedBy, PublishedVersion, VersionData } from "../contract";
import { ENV } from "../contract/environment";
import { DOCUMENT_MARSHALL_OPTIONS, dynamoDbClient, dynamoDbModule } from "./aws-clients";
import { DATA_TABLE, ownKeyPrefix } from "./data-table";
import type { ReceivedEvent } from "./envelope";
import { ConfigurationError } from "./errors";
import { inFunction, prepareEventSchemas } from "./init";
import { buildOutgoing, checkOwnedEvent, type OutgoingEvent, type PublishOptions, type VersionOption } from "./publisher";
import { logger } from "./logger";
import { readEnv, requireEnv } from "./function-environment";
import { catalog, isEventType } from "../contract/catalog";
import { OUTBOX_ITEM, OUTBOX_TABLE_LAYOUT } from "../contract/outbox";

// The outbox: a state change and the events it causes, written in one DynamoDB transaction (see README.md, "The
// outbox"). The entity's writes (in the data table) and one outbox item holding the events' envelopes (in the
// service's own outbox table, `ENV.outboxTable`) go into one TransactWriteItems, which spans tables; the outbox
// table's stream carries the item's INSERT to the service's relay (outbox-relay.ts), its only reader, which publishes
// the envelopes exactly as they were written.

export { OUTBOX_ITEM };

/** How long an outbox item stays after it was written (its events are on their way long before). One day. */
export const OUTBOX_DEFAULT_EXPIRY_SECONDS = 86_400;

/** DynamoDB's item size limit, less room for the keys and the other attributes. */
const OUTBOX_EVENT_BYTES = 390_000;

/**
 * One write of the change: an ElectroDB operation (`orders().put({...})`, `.create`, `.update(...).set(...)`,
 * `.patch`, `.delete`, `.remove`, `.upsert`: anything with `params()`), or a document-client `TransactWriteItems`
 * entry (`{ Put }`, `{ Update }`, `{ Delete }`, `{ ConditionCheck }`) for what ElectroDB does not build.
 */
export type OutboxWrite =
  | { params(options?: Record<string, unknown>): Record<string, unknown> }
  | { readonly Put: Record<string, unknown> }
  | { readonly Update: Record<string, unknown> }
  | { readonly Delete: Record<string, unknown> }
  | { readonly ConditionCheck: Record<string, unknown> };

/** One recorded event: as `publishBatch` takes it. */
export type RecordedEvent<S extends string> = OutgoingEvent<OwnedBy<S>>;

export interface OutboxOptions {
  /**
   * Seconds an outbox item is kept (the outbox table's TTL attribute, `expiresAt`); the relay publishes its events
   * within seconds, so this only bounds what stays behind for inspection or a manual replay.
   * @default 86400 (one day: as long as the table's stream keeps a record)
   */
  expiresAfterSeconds?: number;
}

/** Records state changes together with the events they cause. Built by `createOutbox`. */
export interface Outbox<S extends string> {
  readonly service: S;
  /**
   * Writes `writes` and the events in one transaction: all of it, or nothing (a failed condition throws
   * `TransactionCanceledException`, and no event is recorded). The service's relay publishes the events, in this
   * order, after the transaction commits. Resolves to the envelopes recorded.
   * Event ids (and so a retried write's events) follow `publish()`'s rules: derived from the handled event's id, or
   * the request's Idempotency-Key, with this type and its count; a retry of the write records the same ids.
   * @example
   * await outbox.record(orders().put({ orderId, details: body }), [
   *   { type: "orders.order-placed", data: { ...body, orderId } },
   * ]);
   */
  record(writes: OutboxWrite | readonly OutboxWrite[], events: ReadonlyArray<RecordedEvent<S>>): Promise<ReceivedEvent<OwnedBy<S>>[]>;
  /** One event: `record(writes, [{ type, data, ...options }])`. */
  recordOne<T extends OwnedBy<S>, V extends PublishedVersion<T> = CurrentVersion<T>>(
    writes: OutboxWrite | readonly OutboxWrite[],
    type: T,
    data: VersionData<T, V>,
    options?: PublishOptions & VersionOption<V>,
  ): Promise<ReceivedEvent<T>>;
}

type TransactEntry = Record<string, Record<string, unknown>>;

const ENTRY_KINDS = ["Put", "Update", "Delete", "ConditionCheck"] as const;

let recordedCache: { raw: string; types: readonly string[] } | undefined;

/** The event types this function records (`ENV.recordEvents`), when the function component set them. */
function recordedTypes(): readonly string[] | undefined {
  const raw = readEnv(ENV.recordEvents);
  if (raw === undefined) return undefined;
  if (recordedCache?.raw === raw) return recordedCache.types;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigurationError(`${ENV.recordEvents} is not JSON`, { cause });
  }
  if (!Array.isArray(parsed) || !parsed.every((t) => typeof t === "string")) {
    throw new ConfigurationError(`${ENV.recordEvents} must be a JSON array of event types`);
  }
  recordedCache = { raw, types: parsed as string[] };
  return recordedCache.types;
}

/** A write as a `TransactWriteItems` entry of the document client. */
export function transactEntry(write: OutboxWrite, index: number): TransactEntry {
  if (typeof (write as { params?: unknown }).params === "function") {
    const { ReturnValues: _ignored, ...params } = (write as { params(): Record<string, unknown> }).params();
    if ("Item" in params) return { Put: params };
    if ("UpdateExpression" in params) return { Update: params };
    if ("Key" in params) return { Delete: params };
    throw new ConfigurationError(`write ${index} of the outbox record: its params() hold neither Item, UpdateExpression nor Key`);
  }
  const kinds = ENTRY_KINDS.filter((kind) => kind in (write as object));
  if (kinds.length !== 1) {
    throw new ConfigurationError(
      `write ${index} of the outbox record is neither an ElectroDB operation (with params()) nor one of ${ENTRY_KINDS.join(", ")}`,
    );
  }
  return write as unknown as TransactEntry;
}

/** lib-dynamodb's options for each attribute value: the document client's, with its convertTopLevelContainer. */
const MARSHALL_OPTIONS = { ...DOCUMENT_MARSHALL_OPTIONS, convertTopLevelContainer: true } as const;

/** The attribute-value maps of each kind of entry that lib-dynamodb's TransactWriteCommand marshalls. */
const MARSHALLED: Readonly<Record<(typeof ENTRY_KINDS)[number], readonly string[]>> = {
  ConditionCheck: ["Key", "ExpressionAttributeValues"],
  Put: ["Item", "ExpressionAttributeValues"],
  Delete: ["Key", "ExpressionAttributeValues"],
  Update: ["Key", "ExpressionAttributeValues"],
};

/** An attribute map as lib-dynamodb marshalls it: each value on its own, undefined and function values left out. */
function marshallValues(values: Record<string, unknown>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const name of Object.keys(values)) {
    const value = values[name];
    if (value === undefined || typeof value === "function") continue;
    out[name] = marshall(value, MARSHALL_OPTIONS) as AttributeValue;
  }
  return out;
}

/**
 * A document-client `TransactWriteItems` entry as the low-level client takes it: what lib-dynamodb's
 * TransactWriteCommand would send (the same keys in the same order, function values left out, each attribute value
 * marshalled with the document client's options), so the outbox's transaction goes through `dynamoDbClient()`.
 */
export function marshallTransactEntry(entry: TransactEntry): TransactWriteItem {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(entry)) {
    const value = entry[key];
    if (typeof value !== "function") out[key] = value;
  }
  for (const kind of ENTRY_KINDS) {
    const operation = entry[kind];
    if (operation === undefined || typeof operation === "function") continue;
    const marshalled: Record<string, unknown> = {};
    for (const key of Object.keys(operation)) {
      const value = operation[key];
      if (typeof value !== "function") marshalled[key] = value;
    }
    for (const key of MARSHALLED[kind]) {
      const values = operation[key];
      if (values !== undefined && typeof values !== "function") marshalled[key] = marshallValues(values as Record<string, unknown>);
    }
    out[kind] = marshalled;
  }
  return out as TransactWriteItem;
}

/** The partition key a transaction entry writes (the data table's `pk`), if it writes that table. */
function partitionKeyOf(entry: TransactEntry, table: string): string | undefined {
  const operation = Object.values(entry)[0]!;
  if (operation.TableName !== table) return undefined;
  const item = (operation.Item ?? operation.Key) as Record<string, unknown> | undefined;
  const pk = item?.[DATA_TABLE.partitionKey];
  return typeof pk === "string" ? pk : undefined;
}

/**
 * An outbox for the events `service` owns. Recording another service's event does not compile (`OwnedBy<S>`) and,
 * for callers that cast, fails at run time, as with `createPublisher`.
 * @example
 * const outbox = createOutbox("orders");
 * await outbox.record(orders().put({ orderId, details }), [{ type: "orders.order-placed", data: { ...details, orderId } }]);
 */
export function createOutbox<const S extends string>(service: S, options: OutboxOptions = {}): Outbox<S> {
  const expiresAfter = options.expiresAfterSeconds ?? OUTBOX_DEFAULT_EXPIRY_SECONDS;
  if (!Number.isInteger(expiresAfter) || expiresAfter < 1) {
    throw new ConfigurationError(`createOutbox("${service}"): expiresAfterSeconds must be a whole number of at least 1, not ${expiresAfter}`);
  }
  if (inFunction()) prepareEventSchemas(Object.keys(catalog).filter((type) => isEventType(type) && catalog[type].owner === service));

  async function record(
    writes: OutboxWrite | readonly OutboxWrite[],
    events: ReadonlyArray<{ type: string; data: unknown } & PublishOptions & VersionOption<number>>,
  ): Promise<ReceivedEvent<OwnedBy<S>>[]> {
    const list: readonly OutboxWrite[] = Array.isArray(writes) ? writes : [writes as OutboxWrite];
    if (list.length === 0) throw new ConfigurationError("an outbox record needs at least one write (use publish() for events that change no state)");
    if (events.length === 0) throw new ConfigurationError("an outbox record needs at least one event (write with the entity alone otherwise)");
    if (list.length > 99) throw new ConfigurationError(`an outbox record takes at most 99 writes (a transaction holds 100 items with the outbox item); got ${list.length}`);
    const table = requireEnv(ENV.dataTable, "the outbox (the outbox item takes the key of the first data table item written)");
    const outboxTable = requireEnv(ENV.outboxTable, "the outbox (its items go to the service's outbox table: declare the event in the function's records)");
    const entries = list.map(transactEntry);
    const declared = recordedTypes();
    const messages = events.map(({ type, data, ...eventOptions }) => {
      checkOwnedEvent(service, type);
      if (declared !== undefined && !declared.includes(type)) {
        throw new ConfigurationError(
          `this function does not record ${type} (${ENV.recordEvents}: ${declared.join(", ") || "none"}): add it to the function's records in the service's index.ts, so the service's relay publishes it`,
        );
      }
      return buildOutgoing(service, type as EventType, data, eventOptions);
    });
    const prefix = ownKeyPrefix(service);
    // The outbox item shares the partition key of the first item the record writes: the records of one entity's
    // changes then come from one partition key, in the order they were written.
    const pk = entries.map((entry) => partitionKeyOf(entry, table)).find((key) => key !== undefined);
    if (pk === undefined) {
      throw new ConfigurationError(`an outbox record writes no item of the data table (${table}); the outbox item shares the key of the first one`);
    }
    if (!pk.startsWith(prefix)) {
      throw new ConfigurationError(`the outbox record's first item has partition key "${pk}", outside service ${service}'s keys (${prefix}...)`);
    }
    const serialized = messages.map((message) => JSON.stringify(message.envelope));
    const bytes = serialized.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    if (bytes > OUTBOX_EVENT_BYTES) {
      throw new ConfigurationError(`the events of one outbox record are ${bytes} bytes; one item holds at most ${OUTBOX_EVENT_BYTES} of them (DynamoDB's 400 KB)`);
    }
    const outboxItem = {
      [OUTBOX_TABLE_LAYOUT.partitionKey]: pk,
      [OUTBOX_TABLE_LAYOUT.sortKey]: `${OUTBOX_ITEM.sortKeyPrefix}${messages[0]!.envelope.id}`,
      [OUTBOX_ITEM.service]: service,
      [OUTBOX_ITEM.events]: serialized,
      [OUTBOX_TABLE_LAYOUT.ttlAttribute]: Math.floor(Date.now() / 1000) + expiresAfter,
    };
    // A retry of the same record (same event ids) puts the same key again: DynamoDB's stream shows that as a
    // MODIFY, which the relay's filter (INSERT only) leaves out, so the events go out once. The outbox item is the
    // last entry: a cancelled transaction's reasons follow the writes' order, the outbox item's after them.
    // Marshalled here and sent by dynamoDbClient() (its middleware resolved once): the request lib-dynamodb's
    // TransactWriteCommand would send.
    const transactItems = [...entries, { Put: { TableName: outboxTable, Item: outboxItem } }].map(marshallTransactEntry);
    const { TransactWriteItemsCommand } = dynamoDbModule();
    await dynamoDbClient().send(new TransactWriteItemsCommand({ TransactItems: transactItems }));
    for (const { envelope } of messages) {
      logger.debug("event recorded", { recordedId: envelope.id, recordedType: envelope.type, outboxKey: pk });
    }
    return messages.map((m) => m.envelope as ReceivedEvent<OwnedBy<S>>);
  }

  return {
    service,
    record: (writes, events) => record(writes, events),
    async recordOne(writes, type, data, eventOptions = {}) {
      const [event] = await record(writes, [{ ...eventOptions, type, data }]);
      return event as unknown as ReceivedEvent<typeof type>;
    },
  };
}

