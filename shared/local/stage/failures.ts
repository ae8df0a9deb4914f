/**
 * Failure events in the local stage: what consumers rejected (invalid event, broken business rule, unknown type),
 * kept in the platform's failure queue as in a deployed stage. Listed, read, and replayed: the original event, as
 * it was first published (same id, same envelope), goes back to its own topic, so every subscriber sees it again
 * and the ones that applied it already skip it.
 */
import { catalog, isEventType, type EventType } from "../../contract/catalog";
import { envelopeSchema, type Envelope } from "../../contract/envelope";
import { FAILURE_EVENT_TYPE, failureEventData, type FailureEventData } from "../../contract/failure-event";
import { messageGroupOf } from "../../contract/message-group";
import { messageAttributes } from "../../runtime/message-attributes";
import type { PublishInput, PublishResult } from "../sns/engine";
import type { SqsEngine } from "../sqs/engine";
import { ServiceError } from "../sqs/errors";
import type { ReceivedMessage, StoredMessageView } from "../sqs/queue";

/** One failure event as the list shows it. `id` (the SQS message id) names it for reading and replaying. */
export interface FailureSummary {
  id: string;
  /** The failure event's own id. */
  failureEventId?: string;
  time?: string;
  correlationId?: string;
  /** Who gave up on the event: `<service>/<handler>`. */
  rejectedBy?: string;
  reason?: FailureEventData["reason"];
  message?: string;
  originalType?: string;
  originalId?: string;
  /** The topic a replay publishes to (by name), when the original event has one. */
  originalTopic?: string;
  /** Why it cannot be replayed as it is, when it cannot. */
  notReplayable?: string;
  state: StoredMessageView["state"];
  receiveCount: number;
}

/** One failure event in full. */
export interface FailureDetail extends FailureSummary {
  /** The failure event as published (the queue's message body: raw delivery). */
  failureEvent: unknown;
  /** The original message body exactly as the consumer received it. */
  originalBody?: string;
}

export interface ReplayResult {
  /** The failure's SQS message id (deleted from the failure queue). */
  id: string;
  eventId: string;
  eventType: string;
  correlationId: string;
  topicArn: string;
  messageId: string;
}

export interface FailureDeskOptions {
  sqs: SqsEngine;
  /** The platform's failure queue (`failureQueue.arn` of the platform outputs). */
  queueArn: string;
  /** The platform's topics by event type (`eventTopics` of the platform outputs). */
  topics: Readonly<Record<string, { arn: string; fifo?: boolean }>>;
  /** Publishes to SNS (traced like any publish). */
  publish: (input: PublishInput) => PublishResult;
}

interface Parsed {
  failureEvent: unknown;
  data?: FailureEventData;
  original?: Envelope;
  topic?: { arn: string; fifo?: boolean };
  notReplayable?: string;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parse(body: string, topics: FailureDeskOptions["topics"]): Parsed {
  const failureEvent = parseJson(body);
  const event = failureEvent as Partial<Envelope> | undefined;
  const checked = event?.type === FAILURE_EVENT_TYPE ? failureEventData.safeParse(event.data) : undefined;
  if (!checked?.success) return { failureEvent: failureEvent ?? body, notReplayable: "the message is not a platform.event-failed event" };
  const data = checked.data;
  const original = envelopeSchema.safeParse(parseJson(data.originalBody));
  if (!original.success) {
    return { failureEvent, data, notReplayable: "the original message is not an event envelope: fix it and publish it by hand" };
  }
  const envelope = original.data as Envelope;
  const topic = topics[envelope.type];
  if (!topic || !isEventType(envelope.type)) {
    return { failureEvent, data, original: envelope, notReplayable: `${envelope.type} is not in the event catalog: no topic to publish it to` };
  }
  return { failureEvent, data, original: envelope, topic };
}

function summary(view: StoredMessageView, parsed: Parsed): FailureSummary {
  const event = parsed.failureEvent as Partial<Envelope> | undefined;
  const data = parsed.data;
  return {
    id: view.messageId,
    ...(typeof event?.id === "string" ? { failureEventId: event.id } : {}),
    ...(typeof event?.time === "string" ? { time: event.time } : {}),
    ...(typeof event?.correlationid === "string" ? { correlationId: event.correlationid } : {}),
    ...(data
      ? {
          rejectedBy: `${data.service}/${data.handler}`,
          reason: data.reason,
          message: data.message,
          ...(data.originalType !== undefined ? { originalType: data.originalType } : {}),
          ...(data.originalId !== undefined ? { originalId: data.originalId } : {}),
        }
      : {}),
    ...(parsed.topic ? { originalTopic: parsed.topic.arn.split(":").pop()! } : {}),
    ...(parsed.notReplayable ? { notReplayable: parsed.notReplayable } : {}),
    state: view.state,
    receiveCount: view.receiveCount,
  };
}

/** The failure queue of a running local stage: list, read, replay. */
export class FailureDesk {
  constructor(private readonly options: FailureDeskOptions) {}

  get queueName(): string {
    return this.options.queueArn.split(":").pop()!;
  }

  /** Every failure event in the queue, oldest first. */
  list(): FailureSummary[] {
    return this.options.sqs.peek(this.options.queueArn).map((view) => summary(view, parse(view.body, this.options.topics)));
  }

  /** One failure event, by its SQS message id (or its failure event id, when only one message carries it). */
  read(id: string): FailureDetail {
    const view = this.find(id);
    const parsed = parse(view.body, this.options.topics);
    return {
      ...summary(view, parsed),
      failureEvent: parsed.failureEvent,
      ...(parsed.data ? { originalBody: parsed.data.originalBody } : {}),
    };
  }

  /**
   * Publishes the original event of a failure to its topic again, exactly as it was received (same envelope, same
   * id; the filterable attributes rebuilt from it), then deletes the failure from the queue.
   */
  replay(id: string): ReplayResult {
    const view = this.find(id);
    const parsed = parse(view.body, this.options.topics);
    if (parsed.notReplayable || !parsed.original || !parsed.topic || !parsed.data) {
      throw new ServiceError("InvalidParameterValue", `failure ${view.messageId} cannot be replayed: ${parsed.notReplayable ?? "unreadable"}`);
    }
    const { original, topic } = parsed;
    const type = original.type as EventType;
    const entry = catalog[type];
    // The group first: an event without a valid one is refused before its message is held.
    const group = topic.fifo ? messageGroupOf(type, entry, original.data) : undefined;
    // Hold the message (as an operator's ReceiveMessage would) so nobody else replays it meanwhile.
    const held = this.hold(view.messageId);
    const input: PublishInput = {
      TopicArn: topic.arn,
      Message: parsed.data.originalBody,
      // The version the original was published in (an older one while consumers migrate), not the catalog's newest.
      MessageAttributes: messageAttributes(original, versionOf(original, entry.version)) as PublishInput["MessageAttributes"],
    };
    if (topic.fifo) {
      input.MessageGroupId = group;
      input.MessageDeduplicationId = original.id;
    }
    let published: PublishResult;
    try {
      published = this.options.publish(input);
    } catch (error) {
      this.options.sqs.changeVisibility(this.options.queueArn, held.ReceiptHandle, 0);
      throw error;
    }
    // Published first, deleted after: a failure between the two leaves a duplicate, never a loss.
    this.options.sqs.delete(this.options.queueArn, held.ReceiptHandle);
    return {
      id: view.messageId,
      eventId: original.id,
      eventType: original.type,
      correlationId: original.correlationid,
      topicArn: topic.arn,
      messageId: published.MessageId,
    };
  }

  private find(id: string): StoredMessageView {
    const views = this.options.sqs.peek(this.options.queueArn);
    const byMessage = views.find((v) => v.messageId === id);
    if (byMessage) return byMessage;
    const byEvent = views.filter((v) => (parseJson(v.body) as { id?: unknown } | undefined)?.id === id);
    if (byEvent.length === 1) return byEvent[0]!;
    if (byEvent.length > 1) {
      throw new ServiceError("InvalidParameterValue", `${byEvent.length} failures carry failure event id ${id}: name one by its id (${byEvent.map((v) => v.messageId).join(", ")})`);
    }
    throw new ServiceError("NotFound", `no failure ${id} in ${this.queueName} (it holds ${views.length})`);
  }

  /** Receives messages until `messageId` is among them; the others are made visible again at once. */
  private hold(messageId: string): ReceivedMessage {
    const others: ReceivedMessage[] = [];
    try {
      for (;;) {
        const batch = this.options.sqs.receiveNow(this.options.queueArn, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
        if (batch.length === 0) {
          throw new ServiceError("InvalidParameterValue", `failure ${messageId} is being read by someone else (in flight): try again once its visibility timeout ends`);
        }
        const found = batch.find((message) => message.MessageId === messageId);
        others.push(...batch.filter((message) => message !== found));
        if (found) return found;
      }
    } finally {
      for (const other of others) this.options.sqs.changeVisibility(this.options.queueArn, other.ReceiptHandle, 0);
    }
  }
}

/** The `dataversion` an envelope carries, or `fallback` for one published before envelopes carried it. */
function versionOf(envelope: unknown, fallback: number): number {
  const version = (envelope as { dataversion?: unknown }).dataversion;
  return typeof version === "number" && Number.isInteger(version) ? version : fallback;
}
