import { LOCAL_ACCOUNT_ID } from "../aws";
import { systemClock, type Clock } from "./clock";
import { ServiceError } from "./errors";
import {
  normaliseQueueAttributes,
  Queue,
  type QueueAttributesInput,
  type QueueCounts,
  type ReceivedMessage,
  type ReceiveOptions,
  type SendMessageInput,
  type SendMessageResult,
  type StoredMessageView,
} from "./queue";
import type { SqsTraceEvent, TraceListener } from "./trace";

/** Options of an {@link SqsEngine}. */
export interface SqsEngineOptions {
  /** Default `us-east-1`. */
  region?: string;
  /** Default {@link LOCAL_ACCOUNT_ID}. */
  accountId?: string;
  /** Default {@link systemClock}. */
  clock?: Clock;
  /** Receives every trace event. */
  onTrace?: TraceListener<SqsTraceEvent>;
  /** Base of queue URLs; default `https://sqs.<region>.amazonaws.com`. */
  queueUrlBase?: string;
  /** SenderId of messages sent through {@link SqsEngine.sendMessage} (an IAM unique id in AWS). */
  defaultSenderId?: string;
}

/** Identity of a queue. */
export interface QueueInfo {
  name: string;
  arn: string;
  url: string;
  fifo: boolean;
}

/** One entry of {@link SqsEngine.sendMessageBatch}. */
export interface SendMessageBatchEntry extends SendMessageInput {
  Id: string;
}

/** Result of {@link SqsEngine.sendMessageBatch}: per-entry success or failure, as AWS reports it. */
export interface SendMessageBatchResult {
  Successful: Array<{ Id: string; MessageId: string; MD5OfMessageBody: string; MD5OfMessageAttributes?: string; SequenceNumber?: string }>;
  Failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }>;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** Extra send options for other local engines (SNS deliveries carry SNS's sender id). */
export interface InternalSendOptions {
  origin?: "api" | "sns";
  senderId?: string;
}

/**
 * The in-process SQS service of the local stage: a registry of {@link Queue}s addressed by name, URL or ARN, with the
 * SQS operations the platform uses. All time comes from the injected clock; every state change is reported to the
 * trace listener.
 */
export class SqsEngine {
  /** The region in queue ARNs and URLs. */
  readonly region: string;
  /** The account in queue ARNs and URLs. */
  readonly accountId: string;
  /** The clock every queue reads and schedules on. */
  readonly clock: Clock;
  private readonly queues = new Map<string, Queue>();
  private readonly queueUrlBase: string;
  private readonly defaultSenderId: string;
  private readonly listeners: Array<TraceListener<SqsTraceEvent>> = [];

  constructor(options: SqsEngineOptions = {}) {
    this.region = options.region ?? "us-east-1";
    this.accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
    this.clock = options.clock ?? systemClock;
    this.queueUrlBase = options.queueUrlBase ?? `https://sqs.${this.region}.amazonaws.com`;
    this.defaultSenderId = options.defaultSenderId ?? "AIDAIENQZJOLO23YVJ4VO";
    if (options.onTrace) this.listeners.push(options.onTrace);
  }

  /** Adds a trace listener (the trace view subscribes here); returns a function that removes it. */
  addTraceListener(listener: TraceListener<SqsTraceEvent>): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  private readonly trace = (event: SqsTraceEvent): void => {
    for (const listener of this.listeners) listener(event);
  };

  /**
   * Creates a queue (idempotent for the same name and attributes, `QueueNameExists` otherwise). A FIFO queue needs
   * `FifoQueue: true` and a name ending in `.fifo`; a redrive target must exist and be of the same type.
   */
  createQueue(name: string, attributesInput: QueueAttributesInput = {}): QueueInfo {
    const attributes = normaliseQueueAttributes(attributesInput);
    const fifoName = name.endsWith(".fifo");
    const bare = fifoName ? name.slice(0, -5) : name;
    if (!QUEUE_NAME.test(bare) || name.length > 80 || fifoName !== attributes.fifo) {
      throw new ServiceError(
        "InvalidParameterValue",
        attributes.fifo || fifoName
          ? "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length (and FifoQueue must be true)."
          : "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
      );
    }
    if (attributes.redrivePolicy) {
      const target = this.queueByArn(attributes.redrivePolicy.deadLetterTargetArn);
      if (!target) {
        throw new ServiceError(
          "InvalidParameterValue",
          `Value ${JSON.stringify(attributes.redrivePolicy)} for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist.`,
        );
      }
      if (target.fifo !== attributes.fifo) {
        throw new ServiceError(
          "InvalidParameterValue",
          `Value ${JSON.stringify(attributes.redrivePolicy)} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.`,
        );
      }
    }
    const arn = `arn:aws:sqs:${this.region}:${this.accountId}:${name}`;
    const existing = this.queues.get(arn);
    if (existing) {
      if (JSON.stringify(existing.attributes) !== JSON.stringify(attributes)) {
        throw new ServiceError("QueueNameExists", `A queue already exists with the same name and a different value for attribute(s).`);
      }
      return this.info(existing);
    }
    const queue = new Queue(name, arn, `${this.queueUrlBase}/${this.accountId}/${name}`, attributes, {
      clock: this.clock,
      trace: this.trace,
      queueByArn: (target) => this.queueByArn(target),
    });
    this.queues.set(arn, queue);
    return this.info(queue);
  }

  private info(queue: Queue): QueueInfo {
    return { name: queue.name, arn: queue.arn, url: queue.url, fifo: queue.fifo };
  }

  private queueByArn(arn: string): Queue | undefined {
    return this.queues.get(arn);
  }

  /** Finds a queue by name, URL or ARN. */
  findQueue(ref: string): Queue | undefined {
    const direct = this.queues.get(ref);
    if (direct) return direct;
    for (const queue of this.queues.values()) if (queue.url === ref || queue.name === ref) return queue;
    return undefined;
  }

  /** The queue named by `ref` (name, URL or ARN); `AWS.SimpleQueueService.NonExistentQueue` if there is none. */
  queue(ref: string): Queue {
    const queue = this.findQueue(ref);
    if (!queue) throw new ServiceError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");
    return queue;
  }

  /** Identity of every queue. */
  listQueues(): QueueInfo[] {
    return [...this.queues.values()].map((queue) => this.info(queue));
  }

  /** Deletes a queue and ends its pending long polls. */
  deleteQueue(ref: string): void {
    const queue = this.queue(ref);
    queue.close();
    this.queues.delete(queue.arn);
  }

  /** SendMessage. */
  sendMessage(ref: string, input: SendMessageInput, options: InternalSendOptions = {}): SendMessageResult {
    return this.queue(ref).send(input, { origin: options.origin ?? "api", senderId: options.senderId ?? this.defaultSenderId });
  }

  /** SendMessageBatch: 1..10 entries with distinct ids; each succeeds or fails on its own. */
  sendMessageBatch(ref: string, entries: SendMessageBatchEntry[]): SendMessageBatchResult {
    const queue = this.queue(ref);
    checkBatchEntries(entries.map((entry) => entry.Id));
    const result: SendMessageBatchResult = { Successful: [], Failed: [] };
    for (const { Id, ...input } of entries) {
      try {
        const sent = queue.send(input, { origin: "api", senderId: this.defaultSenderId });
        result.Successful.push({
          Id,
          MessageId: sent.MessageId,
          MD5OfMessageBody: sent.MD5OfMessageBody,
          ...(sent.MD5OfMessageAttributes ? { MD5OfMessageAttributes: sent.MD5OfMessageAttributes } : {}),
          ...(sent.SequenceNumber ? { SequenceNumber: sent.SequenceNumber } : {}),
        });
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        result.Failed.push({ Id, Code: error.code, Message: error.message, SenderFault: error.senderFault });
      }
    }
    return result;
  }

  /** ReceiveMessage without waiting. */
  receiveNow(ref: string, options: Omit<ReceiveOptions, "WaitTimeSeconds" | "signal"> = {}): ReceivedMessage[] {
    return this.queue(ref).receiveNow(options);
  }

  /** ReceiveMessage, long-polling when `WaitTimeSeconds` (or the queue's default) is above 0. */
  receive(ref: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    return this.queue(ref).receive(options);
  }

  /** DeleteMessage. */
  delete(ref: string, receiptHandle: string): void {
    this.queue(ref).delete(receiptHandle);
  }

  /** ChangeMessageVisibility. */
  changeVisibility(ref: string, receiptHandle: string, visibilityTimeoutSeconds: number): void {
    this.queue(ref).changeVisibility(receiptHandle, visibilityTimeoutSeconds);
  }

  /** PurgeQueue. */
  purge(ref: string): void {
    this.queue(ref).purge();
  }

  /** The approximate message counts of GetQueueAttributes. */
  counts(ref: string): QueueCounts {
    return this.queue(ref).counts();
  }

  /** A snapshot of the messages stored in a queue. */
  peek(ref: string): StoredMessageView[] {
    return this.queue(ref).peek();
  }
}

/** Batch-level checks shared by SQS SendMessageBatch and SNS PublishBatch (AWS error codes). */
export function checkBatchEntries(ids: string[]): void {
  if (ids.length === 0) throw new ServiceError("EmptyBatchRequest", "There should be at least one entry in the request.");
  if (ids.length > 10) {
    throw new ServiceError("TooManyEntriesInBatchRequest", `Maximum number of entries per request are 10. You have sent ${ids.length}.`);
  }
  for (const id of ids) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
      throw new ServiceError(
        "InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
      );
    }
  }
  if (new Set(ids).size !== ids.length) {
    throw new ServiceError("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.");
  }
}
