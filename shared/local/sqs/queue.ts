import { createHash, randomFillSync, randomUUID } from "node:crypto";
import { isMessageGroupId } from "../../contract/message-group";
import type { Clock, TimerHandle } from "./clock";
import { ServiceError } from "./errors";
import { md5OfBody, md5OfMessageAttributes, type SqsMessageAttributeValue } from "./md5";
import type { SqsTraceEvent, TraceListener } from "./trace";
import { checkIntegerRange, checkSqsMessageAttributes, firstInvalidCharacter } from "./validation";

/** Where a dead-letter queue is and after how many receives a message goes there. */
export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

/**
 * Queue attributes as `CreateQueue` takes them (numbers may be given as the strings AWS uses). Defaults are AWS's:
 * visibility 30 s, retention 4 days, no delay, no long polling, 256 KiB messages.
 */
export interface QueueAttributesInput {
  FifoQueue?: boolean | "true" | "false";
  ContentBasedDeduplication?: boolean | "true" | "false";
  /** FIFO only: deduplicate per queue (default) or per message group. */
  DeduplicationScope?: "queue" | "messageGroup";
  VisibilityTimeout?: number | string;
  MessageRetentionPeriod?: number | string;
  DelaySeconds?: number | string;
  ReceiveMessageWaitTimeSeconds?: number | string;
  MaximumMessageSize?: number | string;
  /** The AWS JSON string (`{"deadLetterTargetArn":"...","maxReceiveCount":"5"}`) or the object. */
  RedrivePolicy?: string | { deadLetterTargetArn: string; maxReceiveCount: number | string };
}

/** Normalised queue attributes. */
export interface QueueAttributes {
  fifo: boolean;
  contentBasedDeduplication: boolean;
  deduplicationScope: "queue" | "messageGroup";
  visibilityTimeout: number;
  messageRetentionPeriod: number;
  delaySeconds: number;
  receiveMessageWaitTimeSeconds: number;
  maximumMessageSize: number;
  redrivePolicy?: RedrivePolicy;
}

/** `SendMessage` input (AWS API field names). */
export interface SendMessageInput {
  MessageBody: string;
  /** Standard queues only (FIFO queues take the queue's delay). 0..900. */
  DelaySeconds?: number;
  MessageAttributes?: Record<string, SqsMessageAttributeValue>;
  /** Only `AWSTraceHeader` exists (the X-Ray trace header). */
  MessageSystemAttributes?: { AWSTraceHeader?: SqsMessageAttributeValue };
  /** Required on FIFO queues. */
  MessageGroupId?: string;
  /** FIFO only; required unless the queue has content-based deduplication. */
  MessageDeduplicationId?: string;
}

/** `SendMessage` result. `Duplicate` is local: true when a FIFO send was deduplicated (AWS answers the same way). */
export interface SendMessageResult {
  MessageId: string;
  MD5OfMessageBody: string;
  MD5OfMessageAttributes?: string;
  SequenceNumber?: string;
  Duplicate: boolean;
}

/** System attributes of a received message, as `ReceiveMessage` with `AttributeNames=All` returns them. */
export interface ReceivedMessageAttributes {
  ApproximateReceiveCount: string;
  AWSTraceHeader?: string;
  SentTimestamp: string;
  SequenceNumber?: string;
  MessageGroupId?: string;
  SenderId: string;
  MessageDeduplicationId?: string;
  ApproximateFirstReceiveTimestamp: string;
  DeadLetterQueueSourceArn?: string;
}

/** A received message (AWS API field names). */
export interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  Body: string;
  MD5OfBody: string;
  MD5OfMessageAttributes?: string;
  Attributes: ReceivedMessageAttributes;
  MessageAttributes: Record<string, SqsMessageAttributeValue>;
}

/** Options of a receive. */
export interface ReceiveOptions {
  /** 1..10, default 1. */
  MaxNumberOfMessages?: number;
  /** Overrides the queue's visibility timeout for these messages (0..43200 s). */
  VisibilityTimeout?: number;
  /** Long polling: wait up to this long (0..20 s) for a message. Defaults to the queue's ReceiveMessageWaitTimeSeconds. */
  WaitTimeSeconds?: number;
  /** Cancels a long poll (it then returns what it has: nothing). */
  signal?: AbortSignal;
}

/** A point-in-time view of a stored message (for trace views and tests). */
export interface StoredMessageView {
  messageId: string;
  body: string;
  state: "delayed" | "visible" | "in-flight";
  receiveCount: number;
  messageGroupId?: string;
  sequenceNumber?: string;
  visibleAt: number;
}

/** Approximate counts, as `GetQueueAttributes` reports them. */
export interface QueueCounts {
  ApproximateNumberOfMessages: number;
  ApproximateNumberOfMessagesNotVisible: number;
  ApproximateNumberOfMessagesDelayed: number;
}

/** Internal: how a message enters a queue. */
export interface EnqueueOptions {
  origin: "api" | "sns" | "redrive";
  senderId: string;
}

interface StoredMessage {
  messageId: string;
  body: string;
  messageAttributes: Record<string, SqsMessageAttributeValue>;
  traceHeader?: string;
  senderId: string;
  sentTimestamp: number;
  /** Retention counts from here (the original enqueue time, reset on redrive for FIFO queues as AWS does). */
  enqueuedAt: number;
  delayedUntil: number;
  visibleAt: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** The latest receipt handle; earlier ones are stale. */
  receiptHandle?: string;
  /** Every receipt handle this queue issued for it (the latest last): they go from the queue's index with it. */
  handles?: string[];
  groupId?: string;
  deduplicationId?: string;
  sequenceNumber?: string;
  deadLetterQueueSourceArn?: string;
  md5Body: string;
  md5Attributes?: string;
}

interface Waiter {
  max: number;
  visibilityTimeout?: number;
  resolve: (messages: ReceivedMessage[]) => void;
  timer: TimerHandle;
  cleanup: () => void;
}

const DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;
const MAX_MESSAGE_SIZE_LIMIT = 1_048_576;

function flag(value: boolean | "true" | "false" | undefined): boolean {
  return value === true || value === "true";
}

function integerAttribute(name: string, value: number | string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = typeof value === "number" ? value : Number(value);
  return checkIntegerRange(name, parsed, min, max);
}

/** Parses the `RedrivePolicy` attribute (JSON string or object). */
export function parseRedrivePolicy(input: QueueAttributesInput["RedrivePolicy"]): RedrivePolicy | undefined {
  if (input === undefined || input === "") return undefined;
  let raw: unknown = input;
  if (typeof input === "string") {
    try {
      raw = JSON.parse(input);
    } catch {
      throw new ServiceError("InvalidParameterValue", `Value ${input} for parameter RedrivePolicy is invalid. Reason: Invalid JSON.`);
    }
  }
  const policy = raw as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  const max = typeof policy.maxReceiveCount === "string" ? Number(policy.maxReceiveCount) : policy.maxReceiveCount;
  if (typeof policy.deadLetterTargetArn !== "string" || !policy.deadLetterTargetArn.startsWith("arn:")) {
    throw new ServiceError(
      "InvalidParameterValue",
      "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain a valid deadLetterTargetArn.",
    );
  }
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 1000) {
    throw new ServiceError(
      "InvalidParameterValue",
      "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
    );
  }
  return { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: max };
}

/** Normalises and validates `CreateQueue` attributes. */
export function normaliseQueueAttributes(input: QueueAttributesInput): QueueAttributes {
  const fifo = flag(input.FifoQueue);
  if (!fifo && (flag(input.ContentBasedDeduplication) || input.DeduplicationScope !== undefined)) {
    throw new ServiceError("InvalidAttributeName", "ContentBasedDeduplication and DeduplicationScope are FIFO queue attributes.");
  }
  const attributes: QueueAttributes = {
    fifo,
    contentBasedDeduplication: flag(input.ContentBasedDeduplication),
    deduplicationScope: input.DeduplicationScope ?? "queue",
    visibilityTimeout: integerAttribute("VisibilityTimeout", input.VisibilityTimeout, 30, 0, 43_200),
    messageRetentionPeriod: integerAttribute("MessageRetentionPeriod", input.MessageRetentionPeriod, 345_600, 60, 1_209_600),
    delaySeconds: integerAttribute("DelaySeconds", input.DelaySeconds, 0, 0, 900),
    receiveMessageWaitTimeSeconds: integerAttribute("ReceiveMessageWaitTimeSeconds", input.ReceiveMessageWaitTimeSeconds, 0, 0, 20),
    maximumMessageSize: integerAttribute("MaximumMessageSize", input.MaximumMessageSize, 262_144, 1024, MAX_MESSAGE_SIZE_LIMIT),
  };
  const redrive = parseRedrivePolicy(input.RedrivePolicy);
  if (redrive) attributes.redrivePolicy = redrive;
  return attributes;
}

/** What a queue needs from its engine. */
export interface QueueHost {
  clock: Clock;
  trace: TraceListener<SqsTraceEvent>;
  /** Looks up a queue by ARN (dead-letter targets). */
  queueByArn(arn: string): Queue | undefined;
}

/**
 * One SQS queue: storage, visibility, receive counts, redrive, retention, delays, FIFO groups and deduplication, and
 * long polling. Time is read lazily from the host clock on every operation; long polls are woken by state changes
 * and by a timer set to the next moment a message becomes visible.
 */
export class Queue {
  private readonly messages = new Map<string, StoredMessage>();
  /** Every receipt handle ever issued for a message still stored, to tell stale handles from unknown ones. */
  private readonly handles = new Map<string, string>();
  /** No message in the queue was enqueued before this (a lower bound: see purgeExpired). */
  private oldestEnqueuedAt = Infinity;
  private readonly deduplication = new Map<string, { messageId: string; sequenceNumber?: string; expiresAt: number }>();
  private readonly waiters: Waiter[] = [];
  private wakeTimer?: TimerHandle;
  private wakeAt?: number;
  private notifyQueued = false;
  private sequence = 0n;

  /** Queues are made by `SqsEngine.createQueue`. */
  constructor(
    /** The queue name (`orders`, `orders.fifo`). */
    readonly name: string,
    readonly arn: string,
    readonly url: string,
    /** Normalised attributes (defaults applied). */
    readonly attributes: QueueAttributes,
    private readonly host: QueueHost,
  ) {}

  /** True for a FIFO queue. */
  get fifo(): boolean {
    return this.attributes.fifo;
  }

  private now(): number {
    return this.host.clock.now();
  }

  /** Adds a message. Validation follows SQS; FIFO duplicates within 5 minutes are accepted but not stored. */
  send(input: SendMessageInput, options: EnqueueOptions): SendMessageResult {
    const body = input.MessageBody;
    if (typeof body !== "string" || body.length === 0) {
      throw new ServiceError("MissingParameter", "The request must contain the parameter MessageBody.");
    }
    const bad = firstInvalidCharacter(body);
    if (bad !== undefined) {
      throw new ServiceError(
        "InvalidMessageContents",
        `Invalid binary character '#x${bad.toString(16).toUpperCase()}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`,
      );
    }
    const attributes = input.MessageAttributes ?? {};
    const size = Buffer.byteLength(body) + checkSqsMessageAttributes(attributes);
    if (size > this.attributes.maximumMessageSize) {
      throw new ServiceError(
        "InvalidParameterValue",
        `One or more parameters are invalid. Reason: Message must be shorter than ${this.attributes.maximumMessageSize} bytes.`,
      );
    }
    const traceHeader = input.MessageSystemAttributes?.AWSTraceHeader?.StringValue;
    let delaySeconds = this.attributes.delaySeconds;
    let groupId: string | undefined;
    let deduplicationId: string | undefined;
    if (this.fifo) {
      if (input.DelaySeconds !== undefined && input.DelaySeconds !== 0) {
        throw new ServiceError(
          "InvalidParameterValue",
          `Value ${input.DelaySeconds} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
        );
      }
      if (!input.MessageGroupId) {
        throw new ServiceError("MissingParameter", "The request must contain the parameter MessageGroupId.");
      }
      checkFifoId("MessageGroupId", input.MessageGroupId);
      groupId = input.MessageGroupId;
      if (input.MessageDeduplicationId !== undefined) {
        checkFifoId("MessageDeduplicationId", input.MessageDeduplicationId);
        deduplicationId = input.MessageDeduplicationId;
      } else if (this.attributes.contentBasedDeduplication) {
        deduplicationId = createHash("sha256").update(body, "utf8").digest("hex");
      } else {
        throw new ServiceError(
          "InvalidParameterValue",
          "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        );
      }
    } else {
      if (input.MessageDeduplicationId !== undefined) {
        throw new ServiceError(
          "InvalidParameterValue",
          `Value ${input.MessageDeduplicationId} for parameter MessageDeduplicationId is invalid. Reason: The request includes a parameter that is not valid for this queue type.`,
        );
      }
      if (input.DelaySeconds !== undefined) delaySeconds = checkIntegerRange("DelaySeconds", input.DelaySeconds, 0, 900);
      // Standard queues accept a MessageGroupId (fair queues); it does not order anything.
      if (input.MessageGroupId !== undefined) {
        checkFifoId("MessageGroupId", input.MessageGroupId);
        groupId = input.MessageGroupId;
      }
    }

    const now = this.now();
    const md5Body = md5OfBody(body);
    const md5Attributes = md5OfMessageAttributes(attributes);
    if (this.fifo) {
      this.purgeDeduplication(now);
      const key = this.deduplicationKey(groupId!, deduplicationId!);
      const seen = this.deduplication.get(key);
      if (seen) {
        this.host.trace({ kind: "sqs.deduplicated", time: now, queueArn: this.arn, messageId: seen.messageId, messageDeduplicationId: deduplicationId! });
        return {
          MessageId: seen.messageId,
          MD5OfMessageBody: md5Body,
          ...(md5Attributes ? { MD5OfMessageAttributes: md5Attributes } : {}),
          ...(seen.sequenceNumber ? { SequenceNumber: seen.sequenceNumber } : {}),
          Duplicate: true,
        };
      }
    }

    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      messageAttributes: cloneAttributes(attributes),
      senderId: options.senderId,
      sentTimestamp: now,
      enqueuedAt: now,
      delayedUntil: now + delaySeconds * 1000,
      visibleAt: now + delaySeconds * 1000,
      receiveCount: 0,
      md5Body,
    };
    if (md5Attributes) message.md5Attributes = md5Attributes;
    if (traceHeader) message.traceHeader = traceHeader;
    if (groupId !== undefined) message.groupId = groupId;
    if (this.fifo) {
      message.deduplicationId = deduplicationId!;
      message.sequenceNumber = this.nextSequenceNumber();
      this.deduplication.set(this.deduplicationKey(groupId!, deduplicationId!), {
        messageId: message.messageId,
        sequenceNumber: message.sequenceNumber,
        expiresAt: now + DEDUPLICATION_WINDOW_MS,
      });
    }
    this.store(message, options.origin, delaySeconds);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: md5Body,
      ...(md5Attributes ? { MD5OfMessageAttributes: md5Attributes } : {}),
      ...(message.sequenceNumber ? { SequenceNumber: message.sequenceNumber } : {}),
      Duplicate: false,
    };
  }

  private store(message: StoredMessage, origin: EnqueueOptions["origin"], delaySeconds: number): void {
    this.messages.set(message.messageId, message);
    if (message.enqueuedAt < this.oldestEnqueuedAt) this.oldestEnqueuedAt = message.enqueuedAt;
    this.host.trace({
      kind: "sqs.sent",
      time: this.now(),
      queueArn: this.arn,
      messageId: message.messageId,
      origin,
      delaySeconds,
      ...(message.groupId !== undefined ? { messageGroupId: message.groupId } : {}),
      ...(message.deduplicationId !== undefined ? { messageDeduplicationId: message.deduplicationId } : {}),
      ...(message.sequenceNumber !== undefined ? { sequenceNumber: message.sequenceNumber } : {}),
    });
    this.notify();
  }

  /** Internal: takes a message moved here from a source queue's redrive. */
  acceptRedrive(source: StoredMessage, sourceArn: string): void {
    const now = this.now();
    const moved: StoredMessage = {
      ...source,
      messageAttributes: cloneAttributes(source.messageAttributes),
      enqueuedAt: this.fifo ? now : source.enqueuedAt,
      delayedUntil: now,
      visibleAt: now,
      receiveCount: 0,
      deadLetterQueueSourceArn: sourceArn,
    };
    delete moved.firstReceiveTimestamp;
    delete moved.receiptHandle;
    delete moved.handles;
    if (this.fifo) moved.sequenceNumber = this.nextSequenceNumber();
    else delete moved.sequenceNumber;
    this.store(moved, "redrive", 0);
  }

  private deduplicationKey(groupId: string, deduplicationId: string): string {
    return this.attributes.deduplicationScope === "messageGroup" ? `${groupId}\u0000${deduplicationId}` : deduplicationId;
  }

  private purgeDeduplication(now: number): void {
    for (const [key, entry] of this.deduplication) if (entry.expiresAt <= now) this.deduplication.delete(key);
  }

  private nextSequenceNumber(): string {
    this.sequence += 1n;
    return (18_000_000_000_000_000_000n + this.sequence * 65_536n).toString();
  }

  /**
   * Drops messages past the retention period. Every receive asks, and a backlog of thousands of messages would be
   * walked each time: the walk happens only once the oldest message the queue may hold (a bound kept as messages
   * arrive) could have expired.
   */
  private purgeExpired(now: number): void {
    const retentionMs = this.attributes.messageRetentionPeriod * 1000;
    if (now < this.oldestEnqueuedAt + retentionMs) return;
    let oldest = Infinity;
    for (const message of [...this.messages.values()]) {
      if (now >= message.enqueuedAt + retentionMs) {
        this.remove(message);
        this.host.trace({ kind: "sqs.expired", time: now, queueArn: this.arn, messageId: message.messageId });
      } else if (message.enqueuedAt < oldest) oldest = message.enqueuedAt;
    }
    this.oldestEnqueuedAt = oldest;
  }

  private remove(message: StoredMessage): void {
    this.messages.delete(message.messageId);
    // Its own handles, not a walk of every handle the queue issued (one per message in flight: a delete cost as much
    // as the queue had in flight).
    if (message.handles) for (const handle of message.handles) this.handles.delete(handle);
  }

  private isAvailable(message: StoredMessage, now: number): boolean {
    return now >= message.delayedUntil && now >= message.visibleAt;
  }

  private isInFlight(message: StoredMessage, now: number): boolean {
    return message.receiptHandle !== undefined && message.visibleAt > now;
  }

  /** Moves the message to the dead-letter queue when it has used up its receives; true when it moved. */
  private redriveIfExhausted(message: StoredMessage, now: number): boolean {
    const policy = this.attributes.redrivePolicy;
    if (!policy || message.receiveCount < policy.maxReceiveCount) return false;
    const target = this.host.queueByArn(policy.deadLetterTargetArn);
    if (!target) return false;
    this.remove(message);
    this.host.trace({
      kind: "sqs.moved-to-dlq",
      time: now,
      queueArn: this.arn,
      deadLetterQueueArn: target.arn,
      messageId: message.messageId,
      receiveCount: message.receiveCount,
    });
    target.acceptRedrive(message, this.arn);
    return true;
  }

  /**
   * Receives what is available now, without waiting: standard queues in arrival order; FIFO queues in order within a
   * message group, skipping groups that have a message in flight, filling the batch from one group before the next.
   */
  receiveNow(options: Omit<ReceiveOptions, "WaitTimeSeconds" | "signal"> = {}): ReceivedMessage[] {
    const max = checkIntegerRange("MaxNumberOfMessages", options.MaxNumberOfMessages ?? 1, 1, 10);
    const visibility =
      options.VisibilityTimeout === undefined
        ? this.attributes.visibilityTimeout
        : checkIntegerRange("VisibilityTimeout", options.VisibilityTimeout, 0, 43_200);
    const now = this.now();
    this.purgeExpired(now);
    const picked: StoredMessage[] = [];
    if (!this.fifo) {
      // In arrival order, stopping at the batch size. A message moved to the dead-letter queue leaves the map while it
      // is walked, which a Map allows; only a queue that is its own dead-letter queue would see it again, so that one
      // walks a copy.
      const messages = this.attributes.redrivePolicy?.deadLetterTargetArn === this.arn ? [...this.messages.values()] : this.messages.values();
      for (const message of messages) {
        if (picked.length >= max) break;
        if (!this.isAvailable(message, now) || this.redriveIfExhausted(message, now)) continue;
        picked.push(message);
      }
    } else {
      const groups = new Map<string, StoredMessage[]>();
      for (const message of this.messages.values()) {
        const list = groups.get(message.groupId!);
        if (list) list.push(message);
        else groups.set(message.groupId!, [message]);
      }
      for (const list of groups.values()) {
        if (picked.length >= max) break;
        if (list.some((message) => this.isInFlight(message, now))) continue;
        for (const message of list) {
          if (picked.length >= max || !this.isAvailable(message, now)) break;
          if (this.redriveIfExhausted(message, now)) continue;
          picked.push(message);
        }
      }
    }
    const received = picked.map((message) => this.markReceived(message, now, visibility));
    if (received.length > 0) this.scheduleWake();
    return received;
  }

  private markReceived(message: StoredMessage, now: number, visibilityTimeout: number): ReceivedMessage {
    message.receiveCount += 1;
    message.firstReceiveTimestamp ??= now;
    message.visibleAt = now + visibilityTimeout * 1000;
    const handle = newReceiptHandle();
    message.receiptHandle = handle;
    (message.handles ??= []).push(handle);
    this.handles.set(handle, message.messageId);
    this.host.trace({
      kind: "sqs.received",
      time: now,
      queueArn: this.arn,
      messageId: message.messageId,
      receiveCount: message.receiveCount,
      visibleAgainAt: message.visibleAt,
    });
    const attributes: ReceivedMessageAttributes = {
      ApproximateReceiveCount: String(message.receiveCount),
      ...(message.traceHeader ? { AWSTraceHeader: message.traceHeader } : {}),
      SentTimestamp: String(message.sentTimestamp),
      ...(message.sequenceNumber ? { SequenceNumber: message.sequenceNumber } : {}),
      ...(message.groupId !== undefined ? { MessageGroupId: message.groupId } : {}),
      SenderId: message.senderId,
      ...(message.deduplicationId !== undefined ? { MessageDeduplicationId: message.deduplicationId } : {}),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
      ...(message.deadLetterQueueSourceArn ? { DeadLetterQueueSourceArn: message.deadLetterQueueSourceArn } : {}),
    };
    return {
      MessageId: message.messageId,
      ReceiptHandle: handle,
      Body: message.body,
      MD5OfBody: message.md5Body,
      ...(message.md5Attributes ? { MD5OfMessageAttributes: message.md5Attributes } : {}),
      Attributes: attributes,
      MessageAttributes: cloneAttributes(message.messageAttributes),
    };
  }

  /** Receives, long-polling up to `WaitTimeSeconds` (or the queue's default) when nothing is available. */
  receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const wait =
      options.WaitTimeSeconds === undefined
        ? this.attributes.receiveMessageWaitTimeSeconds
        : checkIntegerRange("WaitTimeSeconds", options.WaitTimeSeconds, 0, 20);
    return this.receiveWaiting(options, wait * 1000);
  }

  /** Internal: like {@link receive} with the wait in milliseconds (the poller's batching window needs it). */
  receiveWaiting(options: ReceiveOptions, waitMs: number): Promise<ReceivedMessage[]> {
    const immediate = this.receiveNow(options);
    if (immediate.length > 0 || waitMs <= 0 || options.signal?.aborted) return Promise.resolve(immediate);
    return new Promise<ReceivedMessage[]>((resolve) => {
      const waiter: Waiter = {
        max: options.MaxNumberOfMessages ?? 1,
        resolve,
        timer: this.host.clock.setTimer(() => finish([]), waitMs),
        cleanup: () => undefined,
      };
      if (options.VisibilityTimeout !== undefined) waiter.visibilityTimeout = options.VisibilityTimeout;
      const onAbort = () => finish([]);
      const finish = (messages: ReceivedMessage[]) => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        this.host.clock.clearTimer(waiter.timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.scheduleWake();
        resolve(messages);
      };
      waiter.resolve = finish;
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.scheduleWake();
    });
  }

  /**
   * Serves waiting long polls once the current synchronous work is done (a microtask later), so messages sent
   * together reach a waiting consumer together, as they do from SQS.
   */
  private notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      this.serveWaiters();
    });
  }

  /** Serves waiting long polls from what is available now, then re-arms the wake-up timer. */
  private serveWaiters(): void {
    for (const waiter of [...this.waiters]) {
      if (!this.waiters.includes(waiter)) continue;
      const options: ReceiveOptions = { MaxNumberOfMessages: waiter.max };
      if (waiter.visibilityTimeout !== undefined) options.VisibilityTimeout = waiter.visibilityTimeout;
      const messages = this.receiveNow(options);
      if (messages.length === 0) break;
      waiter.resolve(messages);
    }
    this.scheduleWake();
  }

  /** Arms one timer at the next moment a stored message becomes visible, while long polls are waiting. */
  private scheduleWake(): void {
    const now = this.now();
    let next: number | undefined;
    if (this.waiters.length > 0) {
      for (const message of this.messages.values()) {
        const at = Math.max(message.delayedUntil, message.visibleAt);
        if (at > now && (next === undefined || at < next)) next = at;
      }
    }
    if (next === this.wakeAt) return;
    if (this.wakeTimer) this.host.clock.clearTimer(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = next;
    if (next !== undefined) {
      this.wakeTimer = this.host.clock.setTimer(() => {
        this.wakeTimer = undefined;
        this.wakeAt = undefined;
        this.serveWaiters();
      }, next - now);
    }
  }

  private messageForHandle(receiptHandle: string): { message?: StoredMessage; known: boolean } {
    const messageId = this.handles.get(receiptHandle);
    if (messageId === undefined) return { known: false };
    const message = this.messages.get(messageId);
    return message ? { message, known: true } : { known: true };
  }

  /**
   * Deletes a message by receipt handle. A handle superseded by a later receive deletes nothing (AWS: "the request
   * succeeds, but the message might not be deleted"); a handle of a message already gone succeeds; a handle never
   * issued by this queue is `ReceiptHandleIsInvalid`.
   */
  delete(receiptHandle: string): void {
    const { message, known } = this.messageForHandle(receiptHandle);
    if (!known) {
      if (!receiptHandle.startsWith("AQEB")) {
        throw new ServiceError("ReceiptHandleIsInvalid", `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`);
      }
      return; // a well-formed handle of a message deleted or expired since
    }
    if (!message) return;
    const now = this.now();
    if (message.receiptHandle !== receiptHandle) {
      this.host.trace({ kind: "sqs.stale-receipt-handle", time: now, queueArn: this.arn, messageId: message.messageId });
      return;
    }
    this.remove(message);
    this.host.trace({ kind: "sqs.deleted", time: now, queueArn: this.arn, messageId: message.messageId });
    if (this.fifo) this.notify();
  }

  /** Changes the visibility timeout of an in-flight message (0 makes it visible at once). */
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): void {
    checkIntegerRange("VisibilityTimeout", visibilityTimeoutSeconds, 0, 43_200);
    const { message, known } = this.messageForHandle(receiptHandle);
    if (!known && !receiptHandle.startsWith("AQEB")) {
      throw new ServiceError("ReceiptHandleIsInvalid", `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`);
    }
    const now = this.now();
    if (!message || message.receiptHandle !== receiptHandle || !this.isInFlight(message, now)) {
      throw new ServiceError(
        "InvalidParameterValue",
        `Value ${receiptHandle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
      );
    }
    message.visibleAt = now + visibilityTimeoutSeconds * 1000;
    this.host.trace({
      kind: "sqs.visibility-changed",
      time: now,
      queueArn: this.arn,
      messageId: message.messageId,
      visibilityTimeoutSeconds,
    });
    this.notify();
  }

  /** Deletes every message. */
  purge(): void {
    for (const message of [...this.messages.values()]) this.remove(message);
    this.scheduleWake();
  }

  /** Approximate counts, as GetQueueAttributes reports them. */
  counts(): QueueCounts {
    const now = this.now();
    this.purgeExpired(now);
    const counts: QueueCounts = {
      ApproximateNumberOfMessages: 0,
      ApproximateNumberOfMessagesNotVisible: 0,
      ApproximateNumberOfMessagesDelayed: 0,
    };
    for (const message of this.messages.values()) {
      if (now < message.delayedUntil) counts.ApproximateNumberOfMessagesDelayed++;
      else if (this.isInFlight(message, now)) counts.ApproximateNumberOfMessagesNotVisible++;
      else counts.ApproximateNumberOfMessages++;
    }
    return counts;
  }

  /** A snapshot of the stored messages, in storage order (for trace views and tests). */
  peek(): StoredMessageView[] {
    const now = this.now();
    this.purgeExpired(now);
    return [...this.messages.values()].map((message) => ({
      messageId: message.messageId,
      body: message.body,
      state: now < message.delayedUntil ? "delayed" : this.isInFlight(message, now) ? "in-flight" : "visible",
      receiveCount: message.receiveCount,
      visibleAt: Math.max(message.visibleAt, message.delayedUntil),
      ...(message.groupId !== undefined ? { messageGroupId: message.groupId } : {}),
      ...(message.sequenceNumber !== undefined ? { sequenceNumber: message.sequenceNumber } : {}),
    }));
  }

  /** Ends every waiting long poll with no messages and cancels timers (queue deleted). */
  close(): void {
    for (const waiter of [...this.waiters]) waiter.resolve([]);
    if (this.wakeTimer) this.host.clock.clearTimer(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = undefined;
  }
}

function checkFifoId(parameter: string, value: string): void {
  if (!isMessageGroupId(value)) {
    throw new ServiceError(
      "InvalidParameterValue",
      `Value ${value} for parameter ${parameter} is invalid. Reason: ${parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
    );
  }
}

function cloneAttributes(attributes: Record<string, SqsMessageAttributeValue>): Record<string, SqsMessageAttributeValue> {
  const copy: Record<string, SqsMessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    const item: SqsMessageAttributeValue = { DataType: value.DataType };
    if (value.StringValue !== undefined) item.StringValue = value.StringValue;
    if (value.BinaryValue !== undefined) item.BinaryValue = new Uint8Array(value.BinaryValue);
    if (value.StringListValues) item.StringListValues = [...value.StringListValues];
    if (value.BinaryListValues) item.BinaryListValues = value.BinaryListValues.map((b) => new Uint8Array(b));
    copy[name] = item;
  }
  return copy;
}

// A receipt handle is 96 random bytes (base64) after SQS's `AQEB`: drawn from a pool filled 64 handles at a time (as
// randomUUID pools its entropy), instead of a call into OpenSSL's generator and a new buffer per received message.
const RECEIPT_HANDLE_BYTES = 96;
const receiptHandlePool = Buffer.alloc(RECEIPT_HANDLE_BYTES * 64);
let receiptHandleOffset = receiptHandlePool.length;

function newReceiptHandle(): string {
  if (receiptHandleOffset === receiptHandlePool.length) {
    randomFillSync(receiptHandlePool);
    receiptHandleOffset = 0;
  }
  const handle = `AQEB${receiptHandlePool.toString("base64", receiptHandleOffset, receiptHandleOffset + RECEIPT_HANDLE_BYTES)}`;
  receiptHandleOffset += RECEIPT_HANDLE_BYTES;
  return handle;
}
