import type { Context, DynamoDBBatchItemFailure, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { Envelope } from "../contract";
import { catalog, isEventType } from "../contract/catalog";
import { MessageGroupError, messageGroupOf } from "../contract/message-group";
import { prepareAwsClients } from "./aws-clients";
import { ownKeyPrefix } from "./data-table";
import { ConfigurationError, InvalidEventError } from "./errors";
import { newEventId } from "./event-id";
import { publishTopics, serviceName } from "./function-environment";
import { inFunction } from "./init";
import { runInScope } from "./invocation-scope";
import { logger as rootLogger } from "./logger";
import { OUTBOX_ITEM, OUTBOX_TABLE_LAYOUT } from "../contract/outbox";
import { sendToTopics, type TopicMessage } from "./sns-publish";
import { newTraceparent, parseTraceparent } from "./trace-context";

// The outbox relay: the function a service's event source mapping on its outbox table's stream invokes (the mapping
// passes only INSERTs of the service's outbox items, see shared/infra/outbox-relay.ts). It publishes each recorded
// envelope, unchanged, to its topic.

/** A DynamoDB Streams batch handler with partial batch responses (`ReportBatchItemFailures`). */
export type StreamBatchHandler = (event: DynamoDBStreamEvent, context?: Context) => Promise<DynamoDBBatchResponse>;

export interface OutboxRelayOptions {
  /** The service whose outbox items are relayed. @default the function's service (`ENV.service`) */
  service?: string;
  /** Partition keys whose records are relayed at the same time. @default 10 */
  maxConcurrency?: number;
  /**
   * Event type -> topic ARN of the events relayed (tests that run the relay beside another handler).
   * @default the function's `ENV.publishTopics`
   */
  topics?: Readonly<Record<string, string>>;
}

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

async function mapConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * The relay's handler. Records are grouped by partition key (an entity's changes and their outbox items share
 * one), each group is relayed in stream order, groups side by side. A record whose publish fails stops its group
 * (the records after it are not published, so an item's events never overtake each other) and is reported in
 * `batchItemFailures` by its sequence number: Lambda retries the batch from the lowest reported record (records of
 * other groups after it go out again with the same event ids and, for FIFO topics, deduplication ids; consumers
 * apply each once). After the mapping's retries the batch goes to its on-failure destination.
 * @example
 * export const handler = outboxRelay();
 */
export function outboxRelay(options: OutboxRelayOptions = {}): StreamBatchHandler {
  const maxConcurrency = options.maxConcurrency ?? 10;
  if (inFunction()) prepareAwsClients();

  async function relay(record: DynamoDBRecord, service: string, context: Context | undefined): Promise<RelayOutcome> {
    const log = rootLogger.child({ sequenceNumber: record.dynamodb?.SequenceNumber });
    let read: ReturnType<typeof recordedEvents>;
    try {
      read = recordedEvents(record, service);
    } catch (error) {
      log.error("outbox record unreadable: it will be retried, then go to the on-failure destination", { error });
      return "failed";
    }
    if ("skip" in read) {
      log.warn("stream record skipped", { reason: read.skip });
      return "skipped";
    }
    const first = read.events[0];
    const scope = {
      correlationId: first?.correlationid ?? newEventId(),
      traceparent: (first?.traceparent && parseTraceparent(first.traceparent) && first.traceparent) || newTraceparent(),
      eventId: first?.id,
      eventType: first?.type,
      requestId: context?.awsRequestId,
      sequence: new Map<string, number>(),
    };
    return runInScope(scope, async () => {
      try {
        const messages = read.events.map((envelope) => messageOf(envelope, service, options.topics ?? publishTopics()));
        await sendToTopics(messages);
        for (const { envelope, topicArn } of messages) {
          log.debug("recorded event published", { publishedId: envelope.id, publishedType: envelope.type, topicArn });
        }
        return "published";
      } catch (error) {
        log.error("recorded events not published: the record will be retried", {
          error,
          eventIds: read.events.map((e) => e.id),
        });
        return "failed";
      }
    });
  }

  return async (event, context) => {
    if (!event || !Array.isArray(event.Records)) throw new ConfigurationError("outboxRelay() expects a DynamoDB Streams event (Records[])");
    const service = options.service ?? serviceName("the outbox relay");
    const partitions = new Map<string, DynamoDBRecord[]>();
    for (const record of event.Records) {
      const key = JSON.stringify(record.dynamodb?.Keys?.[OUTBOX_TABLE_LAYOUT.partitionKey] ?? null);
      const list = partitions.get(key);
      if (list) list.push(record);
      else partitions.set(key, [record]);
    }
    const failed = new Set<DynamoDBRecord>();
    await mapConcurrently([...partitions.values()], maxConcurrency, async (records) => {
      for (const record of records) {
        if ((await relay(record, service, context)) === "failed") {
          failed.add(record);
          return;
        }
      }
    });
    const batchItemFailures: DynamoDBBatchItemFailure[] = event.Records.filter((r) => failed.has(r)).map((r) => ({
      itemIdentifier: r.dynamodb?.SequenceNumber ?? "",
    }));
    return { batchItemFailures };
  };
}
