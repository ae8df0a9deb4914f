import { createHash, randomUUID } from "node:crypto";
import { messageAttributeNames } from "../../contract/envelope";
import { isMessageGroupId } from "../../contract/message-group";
import { childContext, traceHeaderOf, type RequestContext } from "../context";
import type { Clock } from "../sqs/clock";
import { checkBatchEntries, type SqsEngine } from "../sqs/engine";
import { ServiceError } from "../sqs/errors";
import type { SqsMessageAttributeValue } from "../sqs/md5";
import type { TraceListener } from "../sqs/trace";
import { checkAttributeName, baseDataType, isValidNumberAttribute } from "../sqs/validation";
import { checkFilterPolicyScope, compileFilterPolicy, FilterPolicy, FilterPolicyError, type FilterPolicyScope } from "./filter-policy";
import { formatNotification, localSignature, snsMessageId, type NotificationAttribute, type NotificationFields } from "./notification";

/** An SNS message attribute (AWS SDK shape): `String`, `String.Array`, `Number` or `Binary` (custom suffixes allowed). */
export interface SnsMessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

/** `CreateTopic` attributes. */
export interface TopicAttributesInput {
  FifoTopic?: boolean | "true" | "false";
  ContentBasedDeduplication?: boolean | "true" | "false";
  /** `1` (SHA1, default) or `2` (SHA256): shows in the notification's SignatureVersion. */
  SignatureVersion?: "1" | "2";
}

/** `Subscribe` / `SetSubscriptionAttributes` attributes. */
export interface SubscriptionAttributesInput {
  RawMessageDelivery?: boolean | "true" | "false";
  /** JSON text or object; validated as SNS does. */
  FilterPolicy?: string | Record<string, unknown>;
  FilterPolicyScope?: FilterPolicyScope;
  /** The subscription's own dead-letter queue for messages SNS cannot deliver (JSON text or object). */
  RedrivePolicy?: string | { deadLetterTargetArn: string };
}

/** `Subscribe` input. Only the `sqs` protocol exists locally (the platform's consumers are SNS -> SQS -> Lambda). */
export interface SubscribeInput {
  TopicArn: string;
  Protocol: "sqs";
  /** The queue ARN. */
  Endpoint: string;
  Attributes?: SubscriptionAttributesInput;
}

/** `Publish` input (AWS API field names). */
export interface PublishInput {
  TopicArn: string;
  Message: string;
  Subject?: string;
  MessageAttributes?: Record<string, SnsMessageAttributeValue>;
  /** `json`: Message is a JSON object with a `default` entry and optional per-protocol entries (`sqs`). */
  MessageStructure?: "json";
  /** Required for FIFO topics. */
  MessageGroupId?: string;
  /** FIFO topics: required unless the topic has content-based deduplication. */
  MessageDeduplicationId?: string;
  /** The X-Ray trace header (active tracing), passed on to SQS as the `AWSTraceHeader` system attribute. */
  MessageSystemAttributes?: { AWSTraceHeader?: { DataType: "String"; StringValue: string } };
}

/** `Publish` result. */
export interface PublishResult {
  MessageId: string;
  /** FIFO topics only. */
  SequenceNumber?: string;
}

/** One `PublishBatch` entry. */
export interface PublishBatchEntry extends Omit<PublishInput, "TopicArn"> {
  Id: string;
}

/** `PublishBatch` result: per-entry success or failure. */
export interface PublishBatchResult {
  Successful: Array<{ Id: string; MessageId: string; SequenceNumber?: string }>;
  Failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }>;
}

/** Identity of a topic. */
export interface TopicInfo {
  name: string;
  arn: string;
  fifo: boolean;
}

/** A subscription as `GetSubscriptionAttributes` reports it (string values, as AWS). */
export type SubscriptionAttributes = Record<string, string>;

/** A subscription as `ListSubscriptions` and `ListSubscriptionsByTopic` list it. */
export interface SubscriptionSummary {
  SubscriptionArn: string;
  Owner: string;
  Protocol: "sqs";
  Endpoint: string;
  TopicArn: string;
}

/** A message was accepted by a topic. */
export interface SnsPublishedTrace {
  kind: "sns.published";
  time: number;
  topicArn: string;
  /** The publish's request context (its span is the publish's), when the publisher passed one. */
  context?: RequestContext;
  messageId: string;
  sequenceNumber?: string;
  messageGroupId?: string;
  subject?: string;
  /** The `correlationid` message attribute, when the publisher set it. */
  correlationId?: string;
  attributeNames: string[];
}

/** A FIFO publish was dropped as a duplicate within the 5-minute window. */
export interface SnsDeduplicatedTrace {
  kind: "sns.deduplicated";
  time: number;
  topicArn: string;
  /** The publish's request context (its span is the publish's), when the publisher passed one. */
  context?: RequestContext;
  /** The original message's id. */
  messageId: string;
  messageDeduplicationId: string;
}

/** A subscription's filter policy dropped the message. */
export interface SnsFilteredOutTrace {
  kind: "sns.filtered-out";
  time: number;
  topicArn: string;
  /** The delivery's request context (SNS calling SQS; its parent span is the publish's), when the publisher passed one. */
  context?: RequestContext;
  subscriptionArn: string;
  endpoint: string;
  messageId: string;
  reason: string;
}

/** The message reached the subscribed queue. */
export interface SnsDeliveredTrace {
  kind: "sns.delivered";
  time: number;
  topicArn: string;
  /** The delivery's request context (SNS calling SQS; its parent span is the publish's), when the publisher passed one. */
  context?: RequestContext;
  subscriptionArn: string;
  endpoint: string;
  messageId: string;
  /** The id SQS gave the delivered message (joins with SQS and poller traces). */
  sqsMessageId: string;
  raw: boolean;
}

/** The queue refused the delivery (missing queue, too many attributes for raw delivery, ...). */
export interface SnsDeliveryFailedTrace {
  kind: "sns.delivery-failed";
  time: number;
  topicArn: string;
  /** The delivery's request context (SNS calling SQS; its parent span is the publish's), when the publisher passed one. */
  context?: RequestContext;
  subscriptionArn: string;
  endpoint: string;
  messageId: string;
  error: string;
  /** Set when the message went to the subscription's dead-letter queue. */
  deadLetterQueueArn?: string;
  deadLetterMessageId?: string;
}

/** Every trace event the SNS engine emits. */
export type SnsTraceEvent =
  | SnsPublishedTrace
  | SnsDeduplicatedTrace
  | SnsFilteredOutTrace
  | SnsDeliveredTrace
  | SnsDeliveryFailedTrace;

/** Options of an {@link SnsEngine}. */
export interface SnsEngineOptions {
  /** Where `sqs` subscriptions deliver. */
  sqs: SqsEngine;
  /** Defaults to the SQS engine's region. */
  region?: string;
  /** Defaults to the SQS engine's account. */
  accountId?: string;
  /** Defaults to the SQS engine's clock. */
  clock?: Clock;
  onTrace?: TraceListener<SnsTraceEvent>;
  /** Base of SigningCertURL and UnsubscribeURL; default `https://sns.<region>.amazonaws.com`. */
  urlBase?: string;
  /** SenderId of SQS messages SNS delivers; default the SNS principal id seen in AWS captures. */
  senderId?: string;
  /**
   * Authorizes each delivery as AWS does: SNS sends to a queue as `sns.amazonaws.com`, with `aws:SourceArn` the
   * topic, and the queue's policy decides. Returns why the delivery is refused, or `undefined` to let it through. A
   * refused delivery fails with `AccessDenied` (the `sns.delivery-failed` trace carries the reason) and goes to the
   * subscription's dead-letter queue when it has one (itself authorized the same way).
   * @default every delivery is allowed
   */
  authorizeDelivery?: (request: DeliveryAuthorization) => string | undefined;
}

/** What {@link SnsEngineOptions.authorizeDelivery} decides on. */
export interface DeliveryAuthorization {
  topicArn: string;
  subscriptionArn: string;
  /** The queue SNS sends to (the subscribed queue, or the subscription's dead-letter queue). */
  queueArn: string;
  /**
   * The delivery's request context: SNS (`sns.amazonaws.com`) calling, a child of the publish's span. Absent when
   * the publisher passed no context.
   */
  context?: RequestContext;
}

interface Topic {
  name: string;
  arn: string;
  fifo: boolean;
  contentBasedDeduplication: boolean;
  signatureVersion: "1" | "2";
  subscriptions: Subscription[];
  deduplication: Map<string, { messageId: string; sequenceNumber: string; expiresAt: number }>;
  sequence: bigint;
}

interface Subscription {
  arn: string;
  topicArn: string;
  endpoint: string;
  raw: boolean;
  filterPolicyText?: string;
  filterPolicyScope?: FilterPolicyScope;
  filter?: FilterPolicy;
  deadLetterTargetArn?: string;
}

const MAX_MESSAGE_BYTES = 262_144;
const DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;

function invalid(message: string): ServiceError {
  return new ServiceError("InvalidParameter", `Invalid parameter: ${message}`);
}

function flag(value: boolean | "true" | "false" | undefined): boolean {
  return value === true || value === "true";
}

/**
 * The in-process SNS service of the local stage: topics (standard and FIFO), SQS subscriptions with raw or
 * enveloped delivery, filter policies with their scope, fan-out, FIFO deduplication and ordering data, PublishBatch.
 * Delivery is synchronous: when `publish` returns, every matching subscription's queue holds the message.
 */
export class SnsEngine {
  /** The region in topic ARNs and notification URLs. */
  readonly region: string;
  /** The account in topic ARNs. */
  readonly accountId: string;
  /** Timestamps and the FIFO deduplication window follow this clock. */
  readonly clock: Clock;
  private readonly sqs: SqsEngine;
  private readonly topics = new Map<string, Topic>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly listeners: Array<TraceListener<SnsTraceEvent>> = [];
  private readonly urlBase: string;
  private readonly senderId: string;
  private readonly certificateName: string;
  private readonly authorizeDelivery: SnsEngineOptions["authorizeDelivery"];

  constructor(options: SnsEngineOptions) {
    this.authorizeDelivery = options.authorizeDelivery;
    this.sqs = options.sqs;
    this.region = options.region ?? options.sqs.region;
    this.accountId = options.accountId ?? options.sqs.accountId;
    this.clock = options.clock ?? options.sqs.clock;
    this.urlBase = options.urlBase ?? `https://sns.${this.region}.amazonaws.com`;
    this.senderId = options.senderId ?? "AIDAISMY7JYY5F7RTT6AO";
    this.certificateName = `SimpleNotificationService-${createHash("md5").update(`local:${this.region}`).digest("hex")}.pem`;
    if (options.onTrace) this.listeners.push(options.onTrace);
  }

  /** Adds a trace listener; returns a function that removes it. */
  addTraceListener(listener: TraceListener<SnsTraceEvent>): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  private trace(event: SnsTraceEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Creates a topic (idempotent by name). A FIFO topic needs `FifoTopic: true` and a name ending in `.fifo`, and
   * only a FIFO topic may have `ContentBasedDeduplication`.
   */
  createTopic(name: string, attributes: TopicAttributesInput = {}): TopicInfo {
    const fifo = flag(attributes.FifoTopic);
    const bare = name.endsWith(".fifo") ? name.slice(0, -5) : name;
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(bare) || name.length > 256 || name.endsWith(".fifo") !== fifo) {
      throw invalid("Topic Name: Fifo Topic names must end with .fifo and Standard Topic cannot end with .fifo");
    }
    if (!fifo && flag(attributes.ContentBasedDeduplication)) {
      throw invalid("ContentBasedDeduplication: Content-based deduplication can only be set for FIFO topics");
    }
    const arn = `arn:aws:sns:${this.region}:${this.accountId}:${name}`;
    const existing = this.topics.get(arn);
    if (existing) return { name, arn, fifo: existing.fifo };
    this.topics.set(arn, {
      name,
      arn,
      fifo,
      contentBasedDeduplication: flag(attributes.ContentBasedDeduplication),
      signatureVersion: attributes.SignatureVersion ?? "1",
      subscriptions: [],
      deduplication: new Map(),
      sequence: 0n,
    });
    return { name, arn, fifo };
  }

  /** Every topic. */
  listTopics(): TopicInfo[] {
    return [...this.topics.values()].map((topic) => ({ name: topic.name, arn: topic.arn, fifo: topic.fifo }));
  }

  /** Deletes a topic and its subscriptions. */
  deleteTopic(topicArn: string): void {
    const topic = this.topic(topicArn);
    for (const subscription of topic.subscriptions) this.subscriptions.delete(subscription.arn);
    this.topics.delete(topicArn);
  }

  private topic(topicArn: string): Topic {
    const topic = this.topics.get(topicArn);
    if (!topic) throw new ServiceError("NotFound", "Topic does not exist");
    return topic;
  }

  private subscription(subscriptionArn: string): Subscription {
    const subscription = this.subscriptions.get(subscriptionArn);
    if (!subscription) throw new ServiceError("NotFound", "Subscription does not exist");
    return subscription;
  }

  /**
   * Subscribes an SQS queue (by ARN). The queue need not exist yet (deliveries to a missing queue fail, as in AWS).
   * A standard topic cannot feed a FIFO queue. Subscribing the same endpoint twice returns the same subscription
   * when the attributes agree and fails otherwise.
   */
  subscribe(input: SubscribeInput): string {
    const topic = this.topic(input.TopicArn);
    if (input.Protocol !== "sqs") throw invalid(`Protocol: ${String(input.Protocol)} is not supported by the local stage (sqs only)`);
    if (!/^arn:aws[\w-]*:sqs:[\w-]+:\d{12}:[\w-]+(\.fifo)?$/.test(input.Endpoint)) throw invalid("SQS endpoint ARN");
    if (input.Endpoint.endsWith(".fifo") && !topic.fifo) {
      throw invalid("Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics");
    }
    const candidate: Subscription = { arn: "", topicArn: topic.arn, endpoint: input.Endpoint, raw: false };
    this.applyAttributes(candidate, input.Attributes ?? {}, true);
    const existing = topic.subscriptions.find((s) => s.endpoint === input.Endpoint);
    if (existing) {
      const same =
        existing.raw === candidate.raw &&
        existing.filterPolicyText === candidate.filterPolicyText &&
        (existing.filterPolicyScope ?? "MessageAttributes") === (candidate.filterPolicyScope ?? "MessageAttributes") &&
        existing.deadLetterTargetArn === candidate.deadLetterTargetArn;
      if (!same) throw invalid("Attributes Reason: Subscription already exists with different attributes");
      return existing.arn;
    }
    candidate.arn = `${topic.arn}:${randomUUID()}`;
    topic.subscriptions.push(candidate);
    this.subscriptions.set(candidate.arn, candidate);
    return candidate.arn;
  }

  private applyAttributes(subscription: Subscription, attributes: SubscriptionAttributesInput, subscribing: boolean): void {
    const reason = subscribing ? "Attributes Reason: " : "";
    for (const name of Object.keys(attributes)) {
      if (!["RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"].includes(name)) {
        throw invalid(`${reason}Unknown attribute: ${name}`);
      }
    }
    if (attributes.RawMessageDelivery !== undefined) {
      const value = attributes.RawMessageDelivery;
      if (![true, false, "true", "false"].includes(value)) throw invalid(`${reason}RawMessageDelivery: Invalid value [${String(value)}]. Must be true or false.`);
      subscription.raw = flag(value);
    }
    let scope = subscription.filterPolicyScope;
    if (attributes.FilterPolicyScope !== undefined) {
      try {
        scope = checkFilterPolicyScope(attributes.FilterPolicyScope);
      } catch (error) {
        throw invalid((error as Error).message);
      }
    }
    let text = subscription.filterPolicyText;
    if (attributes.FilterPolicy !== undefined) {
      text = typeof attributes.FilterPolicy === "string" ? attributes.FilterPolicy : JSON.stringify(attributes.FilterPolicy);
      if (text === "") text = undefined;
    }
    if (text !== undefined) {
      try {
        subscription.filter = compileFilterPolicy(text, scope ?? "MessageAttributes");
      } catch (error) {
        if (!(error instanceof FilterPolicyError)) throw error;
        const message = error.message.startsWith("FilterPolicy:") ? `${reason}${error.message}` : error.message;
        throw invalid(message);
      }
      subscription.filterPolicyText = text;
    } else {
      delete subscription.filter;
      delete subscription.filterPolicyText;
    }
    if (scope !== undefined) subscription.filterPolicyScope = scope;
    if (attributes.RedrivePolicy !== undefined) {
      if (attributes.RedrivePolicy === "") {
        delete subscription.deadLetterTargetArn;
      } else {
        let policy: unknown = attributes.RedrivePolicy;
        try {
          if (typeof policy === "string") policy = JSON.parse(policy);
        } catch {
          throw invalid(`${reason}RedrivePolicy: Invalid JSON`);
        }
        const target = (policy as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
        if (typeof target !== "string" || !target.startsWith("arn:")) {
          throw invalid(`${reason}RedrivePolicy: deadLetterTargetArn is missing or not an ARN`);
        }
        subscription.deadLetterTargetArn = target;
      }
    }
  }

  /** SetSubscriptionAttributes: one attribute; `FilterPolicy: ""` and `RedrivePolicy: ""` remove them. */
  setSubscriptionAttributes<K extends keyof SubscriptionAttributesInput>(
    subscriptionArn: string,
    name: K,
    value: SubscriptionAttributesInput[K] | "",
  ): void {
    const subscription = this.subscription(subscriptionArn);
    const updated: Subscription = { ...subscription };
    this.applyAttributes(updated, { [name]: value } as SubscriptionAttributesInput, false);
    Object.assign(subscription, updated);
    if (!updated.filter) delete subscription.filter;
    if (updated.filterPolicyText === undefined) delete subscription.filterPolicyText;
    if (updated.deadLetterTargetArn === undefined) delete subscription.deadLetterTargetArn;
  }

  /** GetSubscriptionAttributes (FilterPolicyScope shows only once a FilterPolicy is set, as in AWS). */
  getSubscriptionAttributes(subscriptionArn: string): SubscriptionAttributes {
    const s = this.subscription(subscriptionArn);
    const attributes: SubscriptionAttributes = {
      Endpoint: s.endpoint,
      Owner: this.accountId,
      PendingConfirmation: "false",
      ConfirmationWasAuthenticated: "true",
      Protocol: "sqs",
      RawMessageDelivery: String(s.raw),
      SubscriptionArn: s.arn,
      TopicArn: s.topicArn,
    };
    if (s.filterPolicyText !== undefined) {
      attributes.FilterPolicy = s.filterPolicyText;
      attributes.FilterPolicyScope = s.filterPolicyScope ?? "MessageAttributes";
    }
    if (s.deadLetterTargetArn) attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: s.deadLetterTargetArn });
    return attributes;
  }

  /** The subscriptions of a topic, in creation order (ListSubscriptionsByTopic's members). */
  listSubscriptionsByTopic(topicArn: string): SubscriptionSummary[] {
    return this.topic(topicArn).subscriptions.map((s) => this.summary(s));
  }

  /** Every subscription, topic by topic in creation order (ListSubscriptions' members). */
  listSubscriptions(): SubscriptionSummary[] {
    return [...this.topics.values()].flatMap((topic) => topic.subscriptions.map((s) => this.summary(s)));
  }

  private summary(s: Subscription): SubscriptionSummary {
    return { SubscriptionArn: s.arn, Owner: this.accountId, Protocol: "sqs", Endpoint: s.endpoint, TopicArn: s.topicArn };
  }

  /**
   * GetTopicAttributes, with the attributes AWS reports for a topic the local stage knows (recorded AWS answers): the
   * default access policy, the default delivery policy, subscription counts, and the FIFO settings of a FIFO topic.
   */
  getTopicAttributes(topicArn: string): Record<string, string> {
    const topic = this.topic(topicArn);
    const policy = {
      Version: "2008-10-17",
      Id: "__default_policy_ID",
      Statement: [
        {
          Sid: "__default_statement_ID",
          Effect: "Allow",
          Principal: { AWS: "*" },
          Action: [
            "SNS:GetTopicAttributes",
            "SNS:SetTopicAttributes",
            "SNS:AddPermission",
            "SNS:RemovePermission",
            "SNS:DeleteTopic",
            "SNS:Subscribe",
            "SNS:ListSubscriptionsByTopic",
            "SNS:Publish",
          ],
          Resource: topic.arn,
          Condition: { StringEquals: { "AWS:SourceOwner": this.accountId } },
        },
      ],
    };
    const deliveryPolicy = {
      http: {
        defaultHealthyRetryPolicy: {
          minDelayTarget: 20,
          maxDelayTarget: 20,
          numRetries: 3,
          numMaxDelayRetries: 0,
          numNoDelayRetries: 0,
          numMinDelayRetries: 0,
          backoffFunction: "linear",
        },
        disableSubscriptionOverrides: false,
        defaultRequestPolicy: { headerContentType: "text/plain; charset=UTF-8" },
      },
    };
    return {
      Policy: JSON.stringify(policy),
      Owner: this.accountId,
      SubscriptionsPending: "0",
      TopicArn: topic.arn,
      EffectiveDeliveryPolicy: JSON.stringify(deliveryPolicy),
      SubscriptionsConfirmed: String(topic.subscriptions.length),
      DisplayName: "",
      SubscriptionsDeleted: "0",
      ...(topic.signatureVersion === "2" ? { SignatureVersion: "2" } : {}),
      ...(topic.fifo ? { FifoTopic: "true", ContentBasedDeduplication: String(topic.contentBasedDeduplication) } : {}),
    };
  }

  /** Unsubscribe. */
  unsubscribe(subscriptionArn: string): void {
    const subscription = this.subscription(subscriptionArn);
    const topic = this.topics.get(subscription.topicArn);
    if (topic) topic.subscriptions = topic.subscriptions.filter((s) => s !== subscription);
    this.subscriptions.delete(subscriptionArn);
  }

  /**
   * Publish: validates as SNS does, deduplicates on FIFO topics (5 minutes), then fans out to every subscription
   * whose filter policy matches. Returns the message id (and the sequence number on FIFO topics).
   */
  /**
   * @param context the publisher's request context: its span parents every delivery, and deliveries carry it on as
   *   the SQS messages' `AWSTraceHeader` (unless the input sets one)
   */
  publish(input: PublishInput, context?: RequestContext): PublishResult {
    const topic = this.topic(input.TopicArn);
    return this.publishTo(topic, input, context);
  }

  /**
   * PublishBatch: 1..10 entries with distinct ids, at most 256 KiB together; each entry succeeds or fails on its own
   * (`Failed` carries the error code and message SNS would give).
   */
  /** @param context the publisher's request context; each entry is a publish of its own under it */
  publishBatch(input: { TopicArn: string; PublishBatchRequestEntries: PublishBatchEntry[] }, context?: RequestContext): PublishBatchResult {
    const topic = this.topic(input.TopicArn);
    const entries = input.PublishBatchRequestEntries;
    checkBatchEntries(entries.map((entry) => entry.Id));
    const total = entries.reduce((sum, entry) => sum + messageSize(entry.Message ?? "", entry.MessageAttributes), 0);
    if (total > MAX_MESSAGE_BYTES) {
      throw new ServiceError("BatchRequestTooLong", "The length of all the messages put together is more than the limit.");
    }
    const result: PublishBatchResult = { Successful: [], Failed: [] };
    for (const { Id, ...entry } of entries) {
      try {
        const published = this.publishTo(topic, { ...entry, TopicArn: topic.arn }, context ? childContext(context) : undefined);
        result.Successful.push({ Id, MessageId: published.MessageId, ...(published.SequenceNumber ? { SequenceNumber: published.SequenceNumber } : {}) });
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        result.Failed.push({ Id, Code: error.code, Message: error.message, SenderFault: error.senderFault });
      }
    }
    return result;
  }

  private publishTo(topic: Topic, input: PublishInput, context?: RequestContext): PublishResult {
    const { deduplicationId } = this.checkPublish(topic, input);
    const now = this.clock.now();
    if (topic.fifo) {
      for (const [key, entry] of topic.deduplication) if (entry.expiresAt <= now) topic.deduplication.delete(key);
      const seen = topic.deduplication.get(deduplicationId!);
      if (seen) {
        this.trace({ kind: "sns.deduplicated", time: now, topicArn: topic.arn, ...(context ? { context } : {}), messageId: seen.messageId, messageDeduplicationId: deduplicationId! });
        return { MessageId: seen.messageId, SequenceNumber: seen.sequenceNumber };
      }
    }
    const messageId = snsMessageId();
    let sequenceNumber: string | undefined;
    if (topic.fifo) {
      topic.sequence += 1n;
      sequenceNumber = (10_000_000_000_000_000_000n + topic.sequence * 1000n).toString();
      topic.deduplication.set(deduplicationId!, { messageId, sequenceNumber, expiresAt: now + DEDUPLICATION_WINDOW_MS });
    }
    const attributes = input.MessageAttributes ?? {};
    const correlation = attributes[messageAttributeNames.correlationId]?.StringValue;
    this.trace({
      kind: "sns.published",
      time: now,
      topicArn: topic.arn,
      ...(context ? { context } : {}),
      messageId,
      attributeNames: Object.keys(attributes),
      ...(sequenceNumber ? { sequenceNumber } : {}),
      ...(input.MessageGroupId !== undefined ? { messageGroupId: input.MessageGroupId } : {}),
      ...(input.Subject !== undefined ? { subject: input.Subject } : {}),
      ...(correlation !== undefined ? { correlationId: correlation } : {}),
    });
    const timestamp = new Date(now).toISOString();
    for (const subscription of [...topic.subscriptions]) {
      this.deliver(topic, subscription, input, { messageId, sequenceNumber, deduplicationId, timestamp, now, context });
    }
    return sequenceNumber ? { MessageId: messageId, SequenceNumber: sequenceNumber } : { MessageId: messageId };
  }

  private checkPublish(topic: Topic, input: PublishInput): { deduplicationId?: string } {
    if (typeof input.Message !== "string" || input.Message.length === 0) throw invalid("Empty message");
    if (input.Subject !== undefined) {
      if (input.Subject.length === 0 || input.Subject.length > 100 || /[\u0000-\u001f\u007f]/.test(input.Subject)) {
        throw invalid("Subject");
      }
    }
    if (input.MessageStructure !== undefined) {
      if (input.MessageStructure !== "json") throw invalid("MessageStructure");
      let parsed: unknown;
      try {
        parsed = JSON.parse(input.Message);
      } catch {
        throw invalid("Message Structure - JSON message body failed to parse");
      }
      if (typeof parsed !== "object" || parsed === null || typeof (parsed as { default?: unknown }).default !== "string") {
        throw invalid("Message Structure - No default entry in JSON message body");
      }
    }
    checkSnsAttributes(input.MessageAttributes);
    if (messageSize(input.Message, input.MessageAttributes) > MAX_MESSAGE_BYTES) throw invalid("Message too long");
    if (topic.fifo) {
      if (!input.MessageGroupId) throw invalid("The MessageGroupId parameter is required for FIFO topics");
      if (!isMessageGroupId(input.MessageGroupId)) throw invalid("MessageGroupId Reason: must be 1 to 128 alphanumeric or punctuation characters");
      if (input.MessageDeduplicationId !== undefined) {
        if (!isMessageGroupId(input.MessageDeduplicationId)) {
          throw invalid("MessageDeduplicationId Reason: must be 1 to 128 alphanumeric or punctuation characters");
        }
        return { deduplicationId: input.MessageDeduplicationId };
      }
      if (!topic.contentBasedDeduplication) {
        throw invalid("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
      }
      return { deduplicationId: createHash("sha256").update(input.Message, "utf8").digest("hex") };
    }
    if (input.MessageDeduplicationId !== undefined) {
      throw invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type");
    }
    return {};
  }

  private deliver(
    topic: Topic,
    subscription: Subscription,
    input: PublishInput,
    meta: { messageId: string; sequenceNumber: string | undefined; deduplicationId: string | undefined; timestamp: string; now: number; context: RequestContext | undefined },
  ): void {
    // SNS calls SQS: a hop of its own, under the publish (its span is the delivery's in the trace events).
    const delivery = meta.context ? childContext(meta.context, "sns.amazonaws.com") : undefined;
    const base = { topicArn: topic.arn, ...(delivery ? { context: delivery } : {}), subscriptionArn: subscription.arn, endpoint: subscription.endpoint, messageId: meta.messageId };
    if (subscription.filter) {
      const evaluation = subscription.filter.evaluate({ Message: input.Message, ...(input.MessageAttributes ? { MessageAttributes: input.MessageAttributes } : {}) });
      if (!evaluation.matched) {
        this.trace({ kind: "sns.filtered-out", time: meta.now, ...base, reason: evaluation.reason ?? "filter policy did not match" });
        return;
      }
    }
    let text = input.Message;
    if (input.MessageStructure === "json") {
      const structure = JSON.parse(input.Message) as Record<string, unknown>;
      text = typeof structure.sqs === "string" ? structure.sqs : (structure.default as string);
    }
    const attributes = input.MessageAttributes ?? {};
    let body: string;
    let sqsAttributes: Record<string, SqsMessageAttributeValue> | undefined;
    if (subscription.raw) {
      body = text;
      sqsAttributes = {};
      for (const [name, value] of Object.entries(attributes)) {
        sqsAttributes[name] =
          value.BinaryValue !== undefined
            ? { DataType: value.DataType, BinaryValue: value.BinaryValue }
            : { DataType: value.DataType, StringValue: value.StringValue! };
      }
    } else {
      body = formatNotification(this.notificationFields(topic, subscription, input, text, meta));
    }
    const traceHeader = input.MessageSystemAttributes?.AWSTraceHeader ?? (delivery ? { DataType: "String" as const, StringValue: traceHeaderOf(delivery) } : undefined);
    const send = (queueArn: string) => {
      const queue = this.sqs.queue(queueArn);
      const refused = this.authorizeDelivery?.({ topicArn: topic.arn, subscriptionArn: subscription.arn, queueArn: queue.arn, ...(delivery ? { context: delivery } : {}) });
      if (refused !== undefined) throw new ServiceError("AccessDenied", refused);
      return this.sqs.sendMessage(
        queue.arn,
        {
          MessageBody: body,
          ...(sqsAttributes && Object.keys(sqsAttributes).length > 0 ? { MessageAttributes: sqsAttributes } : {}),
          ...(traceHeader ? { MessageSystemAttributes: { AWSTraceHeader: traceHeader } } : {}),
          ...(queue.fifo
            ? { MessageGroupId: input.MessageGroupId!, MessageDeduplicationId: meta.deduplicationId! }
            : !topic.fifo && input.MessageGroupId !== undefined
              ? { MessageGroupId: input.MessageGroupId }
              : {}),
        },
        { origin: "sns", senderId: this.senderId },
      );
    };
    try {
      const sent = send(subscription.endpoint);
      this.trace({ kind: "sns.delivered", time: meta.now, ...base, sqsMessageId: sent.MessageId, raw: subscription.raw });
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      const failure: SnsDeliveryFailedTrace = { kind: "sns.delivery-failed", time: meta.now, ...base, error: `${error.code}: ${error.message}` };
      if (subscription.deadLetterTargetArn) {
        try {
          const dead = send(subscription.deadLetterTargetArn);
          failure.deadLetterQueueArn = subscription.deadLetterTargetArn;
          failure.deadLetterMessageId = dead.MessageId;
        } catch (dlqError) {
          failure.error += `; dead-letter queue: ${(dlqError as Error).message}`;
        }
      }
      this.trace(failure);
    }
  }

  private notificationFields(
    topic: Topic,
    subscription: Subscription,
    input: PublishInput,
    text: string,
    meta: { messageId: string; sequenceNumber: string | undefined; timestamp: string },
  ): NotificationFields {
    const attributes: Record<string, NotificationAttribute> = {};
    for (const [name, value] of Object.entries(input.MessageAttributes ?? {})) {
      attributes[name] = {
        Type: value.DataType,
        Value: value.BinaryValue !== undefined ? Buffer.from(value.BinaryValue).toString("base64") : value.StringValue!,
      };
    }
    const fields: NotificationFields = {
      MessageId: meta.messageId,
      ...(meta.sequenceNumber ? { SequenceNumber: meta.sequenceNumber } : {}),
      TopicArn: topic.arn,
      ...(input.Subject !== undefined ? { Subject: input.Subject } : {}),
      Message: text,
      Timestamp: meta.timestamp,
      UnsubscribeURL: `${this.urlBase}/?Action=Unsubscribe&SubscriptionArn=${subscription.arn}`,
      ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
    };
    if (!topic.fifo) {
      fields.SignatureVersion = topic.signatureVersion;
      fields.Signature = localSignature(fields);
      fields.SigningCertURL = `${this.urlBase}/${this.certificateName}`;
    }
    return fields;
  }
}

/** Bytes counted against SNS's 256 KiB limit: the message plus every attribute's name, type and value. */
function messageSize(message: string, attributes: Record<string, SnsMessageAttributeValue> | undefined): number {
  let size = Buffer.byteLength(message);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? "");
    size += value.BinaryValue !== undefined ? value.BinaryValue.length : Buffer.byteLength(value.StringValue ?? "");
  }
  return size;
}

/** Validates SNS message attributes (names, types, values; `String.Array` must be a JSON array of scalars). */
function checkSnsAttributes(attributes: Record<string, SnsMessageAttributeValue> | undefined): void {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    try {
      checkAttributeName(name);
    } catch {
      throw invalid(`The message attribute '${name}' has an invalid name`);
    }
    const base = baseDataType(value.DataType ?? "");
    if (!base) {
      throw invalid(`The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
    }
    if (base === "Binary") {
      if (value.BinaryValue === undefined) throw invalid(`The message attribute '${name}' with type 'Binary' must have a binary value`);
      continue;
    }
    if (value.StringValue === undefined || value.StringValue === "") {
      throw invalid(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${value.DataType}'.`);
    }
    if (base === "Number" && !isValidNumberAttribute(value.StringValue)) {
      throw invalid(`Could not cast message attribute '${name}' value to number.`);
    }
    if (value.DataType === "String.Array") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value.StringValue);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || parsed.some((item) => item !== null && typeof item === "object")) {
        throw invalid(`The message attribute '${name}' with type 'String.Array' must be a JSON array of strings, numbers, true, false or null`);
      }
    }
  }
}
