import type { CurrentVersion, Envelope, EventType, PublishedVersion, VersionData } from "../contract";
import { catalog, eventVersionOf, isEventType, publishedVersions } from "../contract/catalog";
import { envelopeSchema } from "../contract/envelope";
import { EventSchemaError, InvalidEventError, UnknownEventTypeError } from "./errors";
import { newEventId } from "./event-id";
import { newTraceparent } from "./trace-context";
import { validate } from "./validation";

/**
 * A validated event of one of the types `T`, of one of the versions the catalog publishes; narrowing on `type` (and
 * `dataversion`) narrows `data`.
 */
export type ReceivedEvent<T extends EventType = EventType> = {
  [K in T]: {
    [V in PublishedVersion<K>]: Envelope<VersionData<K, V>> & { readonly type: K; readonly dataversion: V };
  }[PublishedVersion<K>];
}[T];

/** Envelope fields of a new event; everything but `source` has a default. */
export interface EventOptions {
  /** The publishing service (CloudEvents `source`, also an SNS filter attribute). */
  source: string;
  /** @default a new UUID */
  id?: string;
  /** @default now */
  time?: Date;
  /** @default a new UUID (a new conversation) */
  correlationId?: string;
  /** The id of the event that caused this one. */
  causationId?: string;
  /** @default a new trace */
  traceparent?: string;
  /** CloudEvents `subject`: what the event is about inside the source (an order id). */
  subject?: string;
}

/**
 * Builds an envelope without schema checks; for the runtime's own events (the failure event is not in the catalog).
 * Use `createEvent` for catalog events.
 */
export function buildEnvelope<D>(type: string, data: D, options: EventOptions): Envelope<D> {
  const envelope: Envelope<D> = {
    specversion: "1.0",
    id: options.id ?? newEventId(),
    source: options.source,
    type,
    time: (options.time ?? new Date()).toISOString(),
    datacontenttype: "application/json",
    correlationid: options.correlationId ?? newEventId(),
    traceparent: options.traceparent ?? newTraceparent(),
    data,
  };
  if (options.causationId !== undefined) envelope.causationid = options.causationId;
  if (options.subject !== undefined) envelope.subject = options.subject;
  return envelope;
}

/**
 * Builds a catalog event and checks `data` against the schema of its version (an `EventSchemaError` when it does not
 * match: the types stop most mistakes at compile time, this stops the rest). The current version unless `version`
 * names another one the catalog still publishes; the envelope carries it as `dataversion`.
 * @example
 * const event = createEvent("orders.order-placed", { orderId, customerId, items, total }, { source: "orders" });
 */
export function createEvent<T extends EventType, V extends PublishedVersion<T> = CurrentVersion<T>>(
  type: T,
  data: VersionData<T, V>,
  options: EventOptions & { version?: V },
): ReceivedEvent<T> {
  if (!isEventType(type)) throw new EventSchemaError(type, [{ path: "type", message: "not in the event catalog" }]);
  const { version: requested, ...envelopeOptions } = options;
  const version: number = requested ?? catalog[type].version;
  const definition = eventVersionOf(type, version);
  if (!definition) {
    throw new EventSchemaError(type, [{ path: "dataversion", message: `version ${version} is not published (published: ${publishedVersions(type).join(", ")})` }]);
  }
  const checked = validate(definition.schema, data);
  if (!checked.success) throw new EventSchemaError(type, checked.issues);
  const envelope = buildEnvelope(type, checked.data, envelopeOptions);
  return { ...envelope, dataversion: version } as unknown as ReceivedEvent<T>;
}

/**
 * Parses and validates a received event: the CloudEvents envelope, the type against the catalog, `data` against the
 * type's schema. Throws `InvalidEventError` (with field paths) or `UnknownEventTypeError`; both are non-retryable.
 * @param input the message body (JSON text) or the already parsed value
 */
export function parseEvent(input: unknown): ReceivedEvent {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch {
      throw new InvalidEventError("the message body is not JSON");
    }
  }
  const envelope = validate(envelopeSchema, value);
  if (!envelope.success) throw new InvalidEventError("the message is not a valid event envelope", envelope.issues);
  const { type } = envelope.data;
  if (!isEventType(type)) throw new UnknownEventTypeError(type, `event type "${type}" is not in the event catalog`);
  const version = envelope.data.dataversion ?? catalog[type].version;
  const definition = eventVersionOf(type, version);
  if (!definition) {
    throw new InvalidEventError(`${type} version ${version} is not published (the catalog publishes ${publishedVersions(type).join(", ")})`, [
      { path: "dataversion", message: `version ${version} is not in the catalog` },
    ]);
  }
  const data = validate(definition.schema, envelope.data.data);
  if (!data.success) {
    throw new InvalidEventError(
      `data of ${type} version ${version} does not match the catalog schema`,
      data.issues.map((issue) => ({ ...issue, path: issue.path ? `data.${issue.path}` : "data" })),
    );
  }
  return { ...envelope.data, dataversion: version, data: data.data } as ReceivedEvent;
}

/**
 * The envelope fields that can be read from a message that failed validation (for logs and the failure event): the
 * one envelope peek, `shared/contract/envelope-peek.ts`.
 */
export { peekEnvelope, type EnvelopeHints } from "../contract/envelope-peek";
