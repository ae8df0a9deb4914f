import type { CurrentVersion, EventType, OwnedBy, PublishedVersion, VersionData } from "../contract";
import { catalog, isEventType, isStreamEvent } from "../contract/catalog";
import { ENV } from "../contract/environment";
import { MessageGroupError, messageGroupOf } from "../contract/message-group";
import { PartitionKeyError, partitionKeyOf } from "../contract/partition-key";
import { createEvent, type ReceivedEvent } from "./envelope";
import { ConfigurationError, EventSchemaError } from "./errors";
import { derivedEventId, newEventId } from "./event-id";
import { publishStreams, publishTopics, readEnv } from "./function-environment";
import { inFunction, prepareEventSchemas } from "./init";
import { currentScope } from "./invocation-scope";
import { logger } from "./logger";
import { sendToTopics, type TopicMessage } from "./sns-publish";
import type { StreamMessage } from "./stream-publish";
import { streams } from "./streams";
import { childTraceparent } from "./trace-context";

/** Envelope fields a publisher may set; by default they come from the event or request being handled. */
export interface PublishOptions {
  /**
   * @default derived from the handled event's id, this type and the publish order (a retried action republishes
   * the same id); a new UUID outside a consumer
   */
  id?: string;
  /** CloudEvents `subject`. */
  subject?: string;
  /** @default the correlation id of the event or request being handled, else a new one */
  correlationId?: string;
  /** @default the id of the event being handled */
  causationId?: string;
  /** Trace to continue (with a new span id). @default the trace of the event or request being handled, else a new one */
  traceparent?: string;
  /** @default now */
  time?: Date;
}

/** The version to publish, while the catalog publishes two versions of a type. @default the current version */
export interface VersionOption<V extends number> {
  version?: V;
}

/** One event of a batch: a type `T` owns, its data (of its current version, or of `version`) and options. */
export type OutgoingEvent<T extends EventType> = {
  [K in T]: {
    [V in PublishedVersion<K>]: { readonly type: K; readonly data: VersionData<K, V> } & PublishOptions &
      (V extends CurrentVersion<K> ? { version?: V } : { version: V });
  }[PublishedVersion<K>];
}[T];

/** Publishes the events service `S` owns. Built by `createPublisher`. */
export interface Publisher<S extends string> {
  readonly service: S;
  /**
   * Validates `data` against the catalog and publishes one event to its topic (PutRecord on its Kinesis data stream
   * for a stream event, the partition key from the catalog's `partitionKeyField`). Resolves to the envelope sent.
   * The current version by default; while the catalog keeps an earlier version, `{ version }` publishes that one.
   * @example
   * await orders.publish("orders.order-placed", { orderId, customerId, items, total });
   * await orders.publish("orders.order-placed", { orderId, customerId, items, total }, { version: 1 });
   */
  publish<T extends OwnedBy<S>, V extends PublishedVersion<T> = CurrentVersion<T>>(
    type: T,
    data: VersionData<T, V>,
    options?: PublishOptions & VersionOption<V>,
  ): Promise<ReceivedEvent<T>>;
  /**
   * Publishes several events (PublishBatch per topic, chunks of 10; PutRecords per stream, retrying the records a
   * partial failure returns). All are validated before any is sent.
   */
  publishBatch(events: ReadonlyArray<OutgoingEvent<OwnedBy<S>>>): Promise<ReceivedEvent<OwnedBy<S>>[]>;
}

/**
 * Checks that `service` may send `type` from this function: a catalog type it owns, in a function of that service.
 * Returns the catalog entry.
 */
export function checkOwnedEvent(service: string, type: string): (typeof catalog)[EventType] {
  if (!isEventType(type)) throw new ConfigurationError(`"${type}" is not in the event catalog`);
  const entry = catalog[type];
  if (entry.owner !== service) {
    throw new ConfigurationError(`service "${service}" cannot publish ${type}: its owner is "${entry.owner}"`);
  }
  const deployedAs = readEnv(ENV.service);
  if (deployedAs !== undefined && deployedAs !== service) {
    throw new ConfigurationError(`a publisher for "${service}" runs in a function of service "${deployedAs}"`);
  }
  return entry;
}

/** An event ready to send: its envelope, its data version and (FIFO) its message group. */
export type OutgoingMessage = Omit<TopicMessage, "topicArn">;

/**
 * Builds the envelope of an event `service` sends, as `publish()` sends it: the id derived from the scope's seed,
 * this type and its count in the scope (else `options.id`, else a new UUID), the correlation id, causation id and a
 * child of the trace of the work in progress; validated against the catalog schema; the message group of a FIFO
 * event. Call `checkOwnedEvent` first.
 */
export function buildOutgoing(
  service: string,
  type: EventType,
  data: unknown,
  options: PublishOptions & VersionOption<number>,
): OutgoingMessage {
  const entry = catalog[type];
  const scope = currentScope();
  let id = options.id;
  if (id === undefined && scope?.idSeed !== undefined) {
    const n = (scope.sequence.get(type) ?? 0) + 1;
    scope.sequence.set(type, n);
    id = derivedEventId(scope.idSeed, type, String(n));
  }
  const envelope = createEvent(type, data as never, {
    source: service,
    id: id ?? newEventId(),
    time: options.time,
    correlationId: options.correlationId ?? scope?.correlationId,
    causationId: options.causationId ?? scope?.eventId,
    traceparent: childTraceparent(options.traceparent ?? scope?.traceparent),
    subject: options.subject,
    version: options.version as never,
  });
  let messageGroupId: string | undefined;
  try {
    messageGroupId = messageGroupOf(type, entry, envelope.data);
  } catch (error) {
    if (!(error instanceof MessageGroupError)) throw error;
    throw new EventSchemaError(type, [{ path: error.field, message: error.message }], { cause: error });
  }
  return { envelope, dataVersion: envelope.dataversion, ...(messageGroupId !== undefined ? { messageGroupId } : {}) };
}

type Outgoing = ({ kind: "topic" } & TopicMessage) | ({ kind: "stream" } & StreamMessage);

function prepare(service: string, type: string, data: unknown, options: PublishOptions & VersionOption<number>): Outgoing {
  const entry = checkOwnedEvent(service, type);
  if (isStreamEvent(type as EventType)) {
    const streamName = publishStreams()[type];
    if (!streamName) {
      throw new ConfigurationError(
        `no stream for ${type} in ${ENV.publishStreams}: declare that this function publishes it (the grant and the stream name come with it)`,
      );
    }
    const { envelope } = buildOutgoing(service, type as EventType, data, options);
    try {
      return { kind: "stream", streamName, envelope, partitionKey: partitionKeyOf(type, entry, envelope.data)! };
    } catch (error) {
      if (!(error instanceof PartitionKeyError)) throw error;
      throw new EventSchemaError(type, [{ path: error.field, message: error.message }], { cause: error });
    }
  }
  const topicArn = publishTopics()[type];
  if (!topicArn) {
    throw new ConfigurationError(
      `no topic for ${type} in ${ENV.publishTopics}: declare that this function publishes it (the grant and the ARN come with it)`,
    );
  }
  return { kind: "topic", topicArn, ...buildOutgoing(service, type as EventType, data, options) };
}

/**
 * A publisher for the events `service` owns. Publishing another service's event does not compile (`OwnedBy<S>`)
 * and, for callers that cast, fails at run time; so does a publisher whose function belongs to another service or
 * whose topic is missing from `ENV.publishTopics`.
 * Correlation id, causation id and trace context come from the event or HTTP request being handled.
 * @example
 * export const orders = createPublisher("orders");
 * await orders.publish("orders.order-placed", { orderId, customerId, items, total });
 */
export function createPublisher<const S extends string>(service: S): Publisher<S> {
  // In a function (module scope is Lambda's init phase): compile the schemas of the events it may publish now. A
  // malformed topic list is left for `publish` to report, with its context.
  if (inFunction()) {
    let topics: readonly string[] = [];
    try {
      topics = Object.keys(publishTopics());
    } catch {}
    prepareEventSchemas(topics.filter((type) => isEventType(type) && catalog[type].owner === service));
  }
  async function send(events: ReadonlyArray<{ type: string; data: unknown } & PublishOptions & VersionOption<number>>) {
    const messages = events.map(({ type, data, ...options }) => prepare(service, type, data, options));
    const toTopics = messages.filter((m) => m.kind === "topic");
    const toStreams = messages.filter((m) => m.kind === "stream");
    if (toTopics.length) await sendToTopics(toTopics);
    if (toStreams.length) {
      if (!streams) {
        const types = [...new Set(toStreams.map((m) => m.envelope.type))].join(", ");
        throw new ConfigurationError(`this function's bundle was built without the Kinesis client, so it cannot publish ${types}: declare that it publishes it (the function component then bundles the client)`);
      }
      await streams.send(toStreams);
    }
    for (const message of messages) {
      const to = message.kind === "topic" ? { topicArn: message.topicArn } : { streamName: message.streamName, partitionKey: message.partitionKey };
      logger.debug("event published", { publishedId: message.envelope.id, publishedType: message.envelope.type, ...to });
    }
    return messages.map((m) => m.envelope as ReceivedEvent<OwnedBy<S>>);
  }
  return {
    service,
    async publish(type, data, options = {}) {
      const [event] = await send([{ ...options, type, data }]);
      return event as unknown as ReceivedEvent<typeof type>;
    },
    publishBatch: (events) => send(events),
  };
}
