import type { Envelope, EventData, EventType } from "../contract";
import { catalog, isEventType } from "../contract/catalog";
import { envelopeSchema } from "../contract/envelope";
import { EventSchemaError, InvalidEventError, UnknownEventTypeError } from "./errors";
import { newEventId } from "./event-id";
import { newTraceparent } from "./trace-context";
import { validate } from "./validation";

/** A validated event of one of the types `T`; narrowing on `type` narrows `data`. */
export type ReceivedEvent<T extends EventType = EventType> = {
  [K in T]: Envelope<EventData<K>> & { readonly type: K };
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
 * Builds a catalog event and checks `data` against the catalog schema (an `EventSchemaError` when it does not match:
 * the types stop most mistakes at compile time, this stops the rest).
 * @example
 * const event = createEvent("orders.order-placed", { orderId, customerId, items, total }, { source: "orders" });
 */
export function createEvent<T extends EventType>(type: T, data: EventData<T>, options: EventOptions): ReceivedEvent<T> {
  if (!isEventType(type)) throw new EventSchemaError(type, [{ path: "type", message: "not in the event catalog" }]);
  const checked = validate(catalog[type].schema, data);
  if (!checked.success) throw new EventSchemaError(type, checked.issues);
  return buildEnvelope(type, checked.data as EventData<T>, options) as ReceivedEvent<T>;
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
  const data = validate(catalog[type].schema, envelope.data.data);
  if (!data.success) {
    throw new InvalidEventError(
      `data of ${type} does not match the catalog schema`,
      data.issues.map((issue) => ({ ...issue, path: issue.path ? `data.${issue.path}` : "data" })),
    );
  }
  return { ...envelope.data, data: data.data } as ReceivedEvent;
}

/** The envelope fields that can be read from a message that failed validation (for logs and the failure event). */
export interface EnvelopeHints {
  id?: string;
  type?: string;
  correlationid?: string;
  traceparent?: string;
}

/** Reads whatever envelope fields a (possibly invalid) message has, never throwing. */
export function peekEnvelope(input: unknown): EnvelopeHints {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch {
      return {};
    }
  }
  if (typeof value !== "object" || value === null) return {};
  const record = value as Record<string, unknown>;
  const hints: EnvelopeHints = {};
  for (const key of ["id", "type", "correlationid", "traceparent"] as const) {
    const field = record[key];
    if (typeof field === "string" && field.length > 0 && field.length <= 256) hints[key] = field;
  }
  return hints;
}
