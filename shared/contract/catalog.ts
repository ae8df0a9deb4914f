import * as z from "zod/mini";
import { defineEvent, type EventDefinition, type PreviousVersions } from "./define-event";

const money = z.object({
  amount: z.number().check(z.nonnegative()),
  currency: z.string().check(z.regex(/^[A-Z]{3}$/)),
});

const id = z.string().check(z.minLength(1), z.maxLength(128));

/**
 * The event catalog: every event type in the system, its owner (the only publisher), schema and ordering.
 * The platform creates one SNS topic per entry (a Kinesis data stream for `ordering: "stream"`). Adding an event is
 * adding one entry (`npm run new-event`).
 */
export const catalog = {
  "orders.order-placed": defineEvent({
    version: 1,
    owner: "orders",
    description: "A customer placed an order; it is waiting for payment.",
    ordering: "standard",
    schema: z.object({
      orderId: id,
      customerId: id,
      items: z.array(z.object({ sku: id, quantity: z.int().check(z.positive()) })).check(z.minLength(1)),
      total: money,
    }),
    example: {
      orderId: "order-1",
      customerId: "customer-1",
      items: [{ sku: "sku-1", quantity: 2 }],
      total: { amount: 42.5, currency: "EUR" },
    },
  }),
  "billing.invoice-issued": defineEvent({
    version: 1,
    owner: "billing",
    description: "An invoice was issued for an order.",
    ordering: "standard",
    schema: z.object({
      invoiceId: id,
      orderId: id,
      customerId: id,
      total: money,
    }),
    example: { invoiceId: "invoice-1", orderId: "order-1", customerId: "customer-1", total: { amount: 42.5, currency: "EUR" } },
  }),
  "orders.order-status-changed": defineEvent({
    version: 1,
    owner: "orders",
    description: "An order moved to a new status; consumers see the changes of one order in order.",
    ordering: "fifo",
    messageGroupField: "orderId",
    schema: z.object({
      orderId: id,
      status: z.enum(["placed", "invoiced", "shipped", "cancelled"]),
    }),
    example: { orderId: "order-1", status: "placed" },
  }),
  "ledger.entry-posted": defineEvent({
    version: 1,
    owner: "ledger",
    description: "A ledger entry was posted to a customer's account for an issued invoice; a customer's entries are read in order.",
    ordering: "stream",
    partitionKeyField: "customerId",
    schema: z.object({
      customerId: z.string().check(z.minLength(1)),
      invoiceId: z.string().check(z.minLength(1)),
      amount: z.number(),
    }),
    example: { customerId: "customer-1", invoiceId: "invoice-1", amount: 1 },
  }),
  "fulfilment.order-fulfilled": defineEvent({
    version: 1,
    owner: "fulfilment",
    description: "An order's stock was reserved and its payment charged; it is ready to ship.",
    ordering: "standard",
    schema: z.object({
      orderId: z.string().check(z.minLength(1)),
      customerId: z.string().check(z.minLength(1)),
      reservationId: z.string().check(z.minLength(1)),
      paymentId: z.string().check(z.minLength(1)),
    }),
    example: { orderId: "order-1", customerId: "customer-1", reservationId: "reservation-1", paymentId: "payment-1" },
  }),
  // new events are added above this line
} as const;

export type Catalog = typeof catalog;
export type EventType = keyof Catalog;
/** The payload type of an event type, from its catalog schema (its current version). */
export type EventData<T extends EventType> = z.infer<Catalog[T]["schema"]>;
/** The current version of an event type. */
export type CurrentVersion<T extends EventType> = Catalog[T]["version"];
type PreviousOf<T extends EventType> = Catalog[T] extends { readonly previousVersions?: infer P } ? NonNullable<P> : {};
/** Every version of an event type that is published: the current one and those kept while consumers move. */
export type PublishedVersion<T extends EventType> = CurrentVersion<T> | Extract<keyof PreviousOf<T>, number>;
/** The payload type of one version of an event type. */
export type VersionData<T extends EventType, V extends PublishedVersion<T>> = V extends CurrentVersion<T>
  ? EventData<T>
  : V extends keyof PreviousOf<T>
    ? PreviousOf<T>[V] extends { readonly schema: infer S extends z.ZodMiniType }
      ? z.infer<S>
      : never
    : never;
/** Event types a service owns (may publish). */
export type OwnedBy<S extends string> = {
  [T in EventType]: Catalog[T]["owner"] extends S ? T : never;
}[EventType];

export const eventTypes = Object.keys(catalog) as EventType[];

/** Event types with `ordering: "stream"`: each has a Kinesis data stream (and no topic). */
export type StreamEventType = {
  [T in EventType]: Catalog[T]["ordering"] extends "stream" ? T : never;
}[EventType];
/** Event types that travel on an SNS topic (standard and FIFO). */
export type TopicEventType = Exclude<EventType, StreamEventType>;

/** Whether an event type travels on a Kinesis data stream (`ordering: "stream"`). */
export function isStreamEvent(type: EventType): type is StreamEventType {
  return (catalog[type].ordering as string) === "stream";
}
/** Event types that have a Kinesis data stream, in catalog order. */
export const streamEventTypes: StreamEventType[] = eventTypes.filter(isStreamEvent);
/** Event types that have an SNS topic, in catalog order. */
export const topicEventTypes = eventTypes.filter((type) => !isStreamEvent(type)) as TopicEventType[];

export function isEventType(value: string): value is EventType {
  return Object.prototype.hasOwnProperty.call(catalog, value);
}

/** One version of an event type: its schema and example, or undefined when the catalog does not publish it. */
export function eventVersionOf(type: EventType, version: number): { version: number; schema: z.ZodMiniType; example: unknown } | undefined {
  const entry: EventDefinition<z.ZodMiniType, string, PreviousVersions> = catalog[type];
  if (version === entry.version) return { version, schema: entry.schema, example: entry.example };
  const previous = entry.previousVersions?.[version];
  return previous ? { version, schema: previous.schema, example: previous.example } : undefined;
}

/** The versions of an event type that are published, oldest first (the current one last). */
export function publishedVersions(type: EventType): number[] {
  const entry: EventDefinition<z.ZodMiniType, string, PreviousVersions> = catalog[type];
  const previous = Object.keys(entry.previousVersions ?? {}).map(Number);
  return [...new Set([...previous, entry.version])].sort((a, b) => a - b);
}

/** Event types owned by a service, at run time (the compile-time twin is `OwnedBy`). */
export function eventsOwnedBy(service: string): EventType[] {
  return eventTypes.filter((type) => catalog[type].owner === service);
}
