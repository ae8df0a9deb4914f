import type * as z from "zod/mini";

/**
 * How an event travels: `standard` (an SNS topic: at-least-once, any order), `fifo` (a FIFO topic: ordered per
 * message group) or `stream` (a Kinesis data stream: ordered per partition key, read in batches by sequence number).
 */
export type Ordering = "standard" | "fifo" | "stream";

/** An earlier version of an event that is still published while its consumers move to the current one. */
export interface EventVersionDefinition<S extends z.ZodMiniType = z.ZodMiniType> {
  readonly schema: S;
  /** A valid payload of this version. */
  readonly example: z.infer<S>;
}

/** Earlier versions still published, by version number: `{ 1: eventVersion({ schema, example }) }`. */
export type PreviousVersions = { readonly [version: number]: EventVersionDefinition };

/** One entry of the event catalog. The entry's key in the catalog is its type name. */
export interface EventDefinition<
  S extends z.ZodMiniType = z.ZodMiniType,
  O extends string = string,
  P extends PreviousVersions = {},
  V extends number = number,
  R extends Ordering = Ordering,
> {
  /**
   * Schema version of `data` (the current one: what `publish` sends by default). A change that breaks readers needs
   * a new version (`npm test` compares every version with the committed catalog document, docs/asyncapi.yaml); keep
   * the old one in `previousVersions` while its consumers move.
   */
  readonly version: V;
  /** The only service allowed to publish this event. */
  readonly owner: O;
  /** One sentence a reader of the catalog understands. */
  readonly description: string;
  readonly ordering: R;
  /**
   * For FIFO events: the top-level field of `data` whose value is the message group
   * (events with the same value are delivered in order). Required when `ordering` is `fifo`.
   */
  readonly messageGroupField?: string;
  /**
   * For stream events: the top-level field of `data` whose value is the Kinesis partition key (events with the same
   * value land on the same shard and are read in order; 1 to 256 characters, see partition-key.ts). Required when
   * `ordering` is `stream`.
   */
  readonly partitionKeyField?: string;
  readonly schema: S;
  /** A valid payload: documentation for readers, and the data tests and generated tests start from. */
  readonly example: z.infer<S>;
  /**
   * Earlier versions still published beside the current one, while consumers that declare them move (the migration
   * path in the README). Every message carries its version (`dataversion`); consumers receive the versions they read.
   * @default none
   */
  readonly previousVersions?: P;
}

/** Keeps an earlier version's schema type, so its example is checked against it. */
export function eventVersion<S extends z.ZodMiniType>(definition: EventVersionDefinition<S>): EventVersionDefinition<S> {
  return definition;
}

/**
 * Identity function that keeps the schema's type, the owner's name, the version numbers and the ordering, so the
 * catalog's payload types flow to publishers and consumers, `OwnedBy<S>` knows who owns what, `publish` which
 * versions exist and `StreamEventType` which events travel on a stream.
 */
export function defineEvent<
  S extends z.ZodMiniType,
  O extends string,
  const P extends PreviousVersions = {},
  const V extends number = number,
  const R extends Ordering = Ordering,
>(definition: EventDefinition<S, O, P, V, R>): EventDefinition<S, O, P, V, R> {
  return definition;
}

/** `<domain>.<event>`, both kebab-case: `orders.order-placed`. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Service names are kebab-case, 2 to 24 characters (they become parts of AWS resource names). */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const SERVICE_NAME_MAX_LENGTH = 24;
