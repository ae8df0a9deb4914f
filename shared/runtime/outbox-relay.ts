import type { Context, DynamoDBBatchItemFailure, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { Envelope } from "../contract";
import { catalog, isEventType } from "../contract/catalog";
import { MessageGroupError, messageGroupOf } from "../contract/message-group";
import { prepareAwsClients } from "./aws-clients";
import { ownKeyPrefix } from "./data-table";
import { ConfigurationError, InvalidEventError } from "./errors";
import { newEventId } from "./event-id";
import { logLevel, publishTopics, serviceName } from "./function-environment";
import { inFunction } from "./init";
import { runInScope, type InvocationScope } from "./invocation-scope";
import { logger as rootLogger } from "./logger";
import { OUTBOX_ITEM, OUTBOX_TABLE_LAYOUT } from "../contract/outbox";
import { chunkMessages, prepareMessage, publishChunk, type PreparedMessage, type TopicMessage } from "./sns-publish";
import { newTraceparent, parseTraceparent } from "./trace-context";
import { groupBy, mapConcurrently } from "./collections";

// The outbox relay: the function a service's event source mapping on its outbox table's stream invokes (the mapping
// passes only INSERTs of the service's outbox items, see shared/infra/outbox-relay.ts). It publishes each recorded
// envelope, unchanged, to its topic.

/** A DynamoDB Streams batch handler with partial batch responses (`ReportBatchItemFailures`). */
export type StreamBatchHandler = (event: DynamoDBStreamEvent, context?: Context) => Promise<DynamoDBBatchResponse>;

export interface OutboxRelayOptions {
  /** The service whose outbox items are relayed. @default the function's service (`ENV.service`) */
  service?: string;
  /** Publish and PublishBatch calls in flight at the same time (each round sends one or more per topic). @default 10 */
  maxConcurrency?: number;
  /**
   * Event type -> topic ARN of the events relayed (tests that run the relay beside another handler).
   * @default the function's `ENV.publishTopics`
   */
  topics?: Readonly<Record<string, string>>;
}

/**
 * How long before the invocation's end (`context.getRemainingTimeInMillis()`) the relay stops sending failed
 * PublishBatch entries again: time left for the calls under way and for returning `batchItemFailures` before Lambda's
 * timeout (a timed-out invocation reports nothing, so its whole batch is retried).
 */
export const RELAY_RETRY_MARGIN_MS = 2_000;

/** How one stream record ended. */
export type RelayOutcome = "published" | "skipped" | "failed";

/** The events an outbox item's stream record carries, checked; `skip` with a reason for a record that is not one. */
export function recordedEvents(record: DynamoDBRecord, service: string): { events: Envelope[] } | { skip: string } {
  if (record.eventName !== "INSERT") return { skip: `a ${record.eventName ?? "?"} record (only INSERTs of outbox items are relayed)` };
  const image = record.dynamodb?.NewImage;
  const pk = record.dynamodb?.Keys?.[OUTBOX_TABLE_LAYOUT.partitionKey]?.S;
  if (!image) return { skip: "the record carries no new image (the outbox table's stream view type must include NEW_IMAGE)" };
  if (image[OUTBOX_ITEM.service]?.S !== service) return { skip: `not an outbox item of ${service}` };
  // Only the service's own keys: another service could write an item naming this service, under its own keys.
  if (pk === undefined || !pk.startsWith(ownKeyPrefix(service))) return { skip: `an outbox item outside ${service}'s keys (${pk ?? "no pk"})` };
  const list = image[OUTBOX_ITEM.events]?.L;
  if (!list) throw new InvalidEventError(`outbox item ${pk} has no ${OUTBOX_ITEM.events} list`);
  const events = list.map((value, index) => {
    if (value.S === undefined) throw new InvalidEventError(`outbox item ${pk}: event ${index} is not a string`);
    return JSON.parse(value.S) as Envelope;
  });
  return { events };
}

/**
 * The partition a record belongs to: its partition key's string (an outbox item's is one), else the key's JSON
 * (prefixed apart, so no string can stand for another key).
 */
function partitionOf(record: DynamoDBRecord): string {
  const key = record.dynamodb?.Keys?.[OUTBOX_TABLE_LAYOUT.partitionKey];
  return typeof key?.S === "string" ? `S${key.S}` : `J${JSON.stringify(key ?? null)}`;
}

/** The message for one recorded envelope: its topic (from the relay's grant), data version and FIFO group. */
function messageOf(envelope: Envelope, service: string, topics: Readonly<Record<string, string>>): TopicMessage {
  const type = envelope.type;
  if (!isEventType(type) || catalog[type].owner !== service) {
    throw new ConfigurationError(`outbox event ${envelope.id} has type ${type}, which service ${service} does not own`);
  }
  const topicArn = topics[type];
  if (!topicArn) {
    throw new ConfigurationError(`the relay of ${service} has no topic for ${type}: declare it in the \`records\` of the function that records it`);
  }
  let messageGroupId: string | undefined;
  try {
    messageGroupId = messageGroupOf(type, catalog[type], envelope.data);
  } catch (error) {
    if (error instanceof MessageGroupError) throw new InvalidEventError(`outbox event ${envelope.id}: ${error.message}`, [], { cause: error });
    throw error;
  }
  const dataVersion = typeof envelope.dataversion === "number" ? envelope.dataversion : catalog[type].version;
  return { topicArn, envelope, dataVersion, ...(messageGroupId !== undefined ? { messageGroupId } : {}) };
}

/** A record read and ready to send: its events' messages, and whether it failed. */
interface Outgoing {
  readonly record: DynamoDBRecord;
  readonly events: readonly Envelope[];
  readonly messages: readonly TopicMessage[];
  /** Why it was not published (the first error of its events), once known. */
  error?: unknown;
}

/** One event of an outgoing record, ready for a PublishBatch entry. */
type Entry = PreparedMessage & { readonly owner: Outgoing };

/**
 * The relay's handler. Records are grouped by partition key (an entity's changes and their outbox items share
 * one) and relayed in rounds: each round takes the next record of every partition still going and sends their events
 * together, in PublishBatch calls per topic (at most 10 entries and 256 KiB each and one entry per FIFO message group,
 * in the rounds' order; one Publish when a topic gets a single event), so a partition's records go out in stream
 * order, partitions side by side.
 * PublishBatch entries SNS failed on its side (`SenderFault: false`) are sent again before the topic's next call
 * (`publishChunk`: the SNS client's retry strategy and maxAttempts, until `RELAY_RETRY_MARGIN_MS` before the
 * invocation's end), so a record's later events never go out before its earlier ones succeeded. A
 * record one of whose events fails (the call, or its entry in a PublishBatch) stops its partition (the records after
 * it are not published, so an item's events never overtake each other; other partitions go on) and is reported in
 * `batchItemFailures` by its sequence number: Lambda retries the batch from the lowest reported record (records of
 * other partitions after it go out again with the same event ids and, for FIFO topics, deduplication ids; consumers
 * apply each once). After the mapping's retries the batch goes to its on-failure destination.
 *
 * Each entry is the recorded envelope unchanged, so it carries its own trace context (`traceparent`) and correlation
 * id to its consumers whichever call sent it; the record's log lines carry its first event's.
 * @example
 * export const handler = outboxRelay();
 */
export function outboxRelay(options: OutboxRelayOptions = {}): StreamBatchHandler {
  const maxConcurrency = options.maxConcurrency ?? 10;
  if (inFunction()) prepareAwsClients();

  /** A record's logger: its lines carry its sequence number. */
  const logOf = (record: DynamoDBRecord) => rootLogger.child({ sequenceNumber: record.dynamodb?.SequenceNumber });

  /**
   * Writes a record's lines in its scope: its first event's correlation id and trace context. Made only for a line
   * written (the scope turns on the AsyncLocalStorage, whose promise hooks every later await in the process pays).
   */
  function logIn(outgoing: Outgoing, context: Context | undefined, write: (log: ReturnType<typeof logOf>) => void): void {
    const first = outgoing.events[0];
    const scope: InvocationScope = {
      correlationId: first?.correlationid ?? newEventId(),
      traceparent: (first?.traceparent && parseTraceparent(first.traceparent) && first.traceparent) || newTraceparent(),
      eventId: first?.id,
      eventType: first?.type,
      requestId: context?.awsRequestId,
      sequence: new Map<string, number>(),
    };
    runInScope(scope, () => write(logOf(outgoing.record)));
  }

  /** Reads a record: what to send, or how it ended (`skipped`, or `failed` when it cannot be read or sent). */
  function read(record: DynamoDBRecord, service: string, topics: () => Readonly<Record<string, string>>): Outgoing | "skipped" | "failed" {
    let recorded: ReturnType<typeof recordedEvents>;
    try {
      recorded = recordedEvents(record, service);
    } catch (error) {
      logOf(record).error("outbox record unreadable: it will be retried, then go to the on-failure destination", { error });
      return "failed";
    }
    if ("skip" in recorded) {
      logOf(record).warn("stream record skipped", { reason: recorded.skip });
      return "skipped";
    }
    const { events } = recorded;
    const messages: TopicMessage[] = [];
    try {
      const byType = topics();
      for (const envelope of events) messages.push(messageOf(envelope, service, byType));
    } catch (error) {
      return { record, events, messages: [], error };
    }
    return { record, events, messages };
  }

  /** Sends one round's records: their events grouped by topic, each topic's chunks in order, topics side by side. */
  async function send(round: readonly Outgoing[], deadline: number | undefined): Promise<void> {
    const ready: Entry[] = [];
    for (const outgoing of round) {
      if (outgoing.error !== undefined) continue;
      const entries: Entry[] = [];
      try {
        for (const message of outgoing.messages) entries.push({ ...prepareMessage(message), owner: outgoing });
      } catch (error) {
        outgoing.error = error;
        continue;
      }
      ready.push(...entries);
    }
    await mapConcurrently([...groupBy(ready, (entry) => entry.topicArn)], maxConcurrency, async ([topicArn, entries]) => {
      for (const planned of chunkMessages(entries)) {
        // A record whose earlier events failed sends none of its later ones (a record may span chunks).
        const chunk = planned.some((e) => e.owner.error !== undefined) ? planned.filter((e) => e.owner.error === undefined) : planned;
        if (chunk.length === 0) continue;
        const outcome = await publishChunk(topicArn, chunk, { groupOf: (index) => chunk[index]!.owner, ...(deadline === undefined ? {} : { deadline }) });
        for (const index of outcome.failed) chunk[index]!.owner.error ??= outcome.error;
      }
    });
  }

  return async (event, context) => {
    if (!event || !Array.isArray(event.Records)) throw new ConfigurationError("outboxRelay() expects a DynamoDB Streams event (Records[])");
    const service = options.service ?? serviceName("the outbox relay");
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline = remaining === undefined ? undefined : Date.now() + remaining - RELAY_RETRY_MARGIN_MS;
    // The event types' topics, read once an invocation (and again after a record could not have them).
    let topics: Readonly<Record<string, string>> | undefined;
    const topicsOf = () => (topics ??= options.topics ?? publishTopics());
    // A published record's only lines are debug lines: below DEBUG it writes none and needs no scope.
    const debug = logLevel() === "DEBUG";
    const partitions = groupBy(event.Records, partitionOf);
    const failed = new Set<DynamoDBRecord>();
    // Each partition's position; a partition leaves the list when it ends or one of its records failed.
    let going = [...partitions.values()].map((records) => ({ records, next: 0 }));
    while (going.length) {
      const round: Outgoing[] = [];
      const from = new Map<Outgoing, (typeof going)[number]>();
      for (const partition of going) {
        while (partition.next < partition.records.length) {
          const record = partition.records[partition.next++]!;
          const outgoing = read(record, service, topicsOf);
          if (outgoing === "skipped") continue;
          if (outgoing === "failed") {
            failed.add(record);
            partition.next = Number.POSITIVE_INFINITY;
          } else {
            round.push(outgoing);
            from.set(outgoing, partition);
          }
          break;
        }
      }
      await send(round, deadline);
      for (const outgoing of round) {
        if (outgoing.error === undefined) {
          if (!debug) continue;
          logIn(outgoing, context, (log) => {
            for (const { envelope, topicArn } of outgoing.messages) {
              log.debug("recorded event published", { publishedId: envelope.id, publishedType: envelope.type, topicArn });
            }
          });
          continue;
        }
        failed.add(outgoing.record);
        from.get(outgoing)!.next = Number.POSITIVE_INFINITY;
        logIn(outgoing, context, (log) =>
          log.error("recorded events not published: the record will be retried", {
            error: outgoing.error,
            eventIds: outgoing.events.map((e) => e.id),
          }),
        );
      }
      going = going.filter((p) => p.next < p.records.length);
    }
    const batchItemFailures: DynamoDBBatchItemFailure[] = event.Records.filter((r) => failed.has(r)).map((r) => ({
      itemIdentifier: r.dynamodb?.SequenceNumber ?? "",
    }));
    return { batchItemFailures };
  };
}
