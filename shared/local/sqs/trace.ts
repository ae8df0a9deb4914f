/**
 * Structured trace events of the SQS engine and the queue poller. Every event has `kind` and `time` (the engine
 * clock, ms since the epoch); the ids in them join up into an event's path: an SNS `delivered` event names the
 * `sqsMessageId`, SQS events name `messageId`, poller events name the `messageIds` of a batch.
 */

/** A message entered a queue (from a producer, an SNS delivery or a redrive). */
export interface SqsSentTrace {
  kind: "sqs.sent";
  time: number;
  queueArn: string;
  messageId: string;
  /** Where it came from: `api` (sendMessage), `sns` (a subscription delivery) or `redrive` (moved to this DLQ). */
  origin: "api" | "sns" | "redrive";
  messageGroupId?: string;
  messageDeduplicationId?: string;
  sequenceNumber?: string;
  delaySeconds: number;
}

/** A FIFO send was dropped as a duplicate within the 5-minute deduplication window. */
export interface SqsDeduplicatedTrace {
  kind: "sqs.deduplicated";
  time: number;
  queueArn: string;
  /** The message id of the original (accepted) message. */
  messageId: string;
  messageDeduplicationId: string;
}

/** A consumer received a message (its receive count went up). */
export interface SqsReceivedTrace {
  kind: "sqs.received";
  time: number;
  queueArn: string;
  messageId: string;
  receiveCount: number;
  visibleAgainAt: number;
}

/** A message was deleted with its current receipt handle. */
export interface SqsDeletedTrace {
  kind: "sqs.deleted";
  time: number;
  queueArn: string;
  messageId: string;
}

/** A delete used a receipt handle that a later receive of the same message superseded: nothing was deleted. */
export interface SqsStaleReceiptTrace {
  kind: "sqs.stale-receipt-handle";
  time: number;
  queueArn: string;
  messageId: string;
}

/** ChangeMessageVisibility succeeded. */
export interface SqsVisibilityChangedTrace {
  kind: "sqs.visibility-changed";
  time: number;
  queueArn: string;
  messageId: string;
  visibilityTimeoutSeconds: number;
}

/** The message exceeded `maxReceiveCount` and moved to the dead-letter queue. */
export interface SqsMovedToDlqTrace {
  kind: "sqs.moved-to-dlq";
  time: number;
  queueArn: string;
  deadLetterQueueArn: string;
  messageId: string;
  receiveCount: number;
}

/** The message outlived the queue's retention period and was dropped. */
export interface SqsExpiredTrace {
  kind: "sqs.expired";
  time: number;
  queueArn: string;
  messageId: string;
}

/** Every trace event the SQS engine emits. */
export type SqsTraceEvent =
  | SqsSentTrace
  | SqsDeduplicatedTrace
  | SqsReceivedTrace
  | SqsDeletedTrace
  | SqsStaleReceiptTrace
  | SqsVisibilityChangedTrace
  | SqsMovedToDlqTrace
  | SqsExpiredTrace;

/** The poller gathered a batch and is about to invoke the handler. */
export interface PollerBatchTrace {
  kind: "poller.batch";
  time: number;
  functionName: string;
  queueArn: string;
  messageIds: string[];
}

/** How an invocation ended and what the poller did with the batch. */
export interface PollerResultTrace {
  kind: "poller.result";
  time: number;
  functionName: string;
  queueArn: string;
  /**
   * `success`: all deleted; `partial`: a ReportBatchItemFailures response, the listed ones left to reappear;
   * `failure`: the handler threw or answered an invalid batch response, nothing deleted; `timeout`: the handler ran
   * past its timeout, nothing deleted.
   */
  outcome: "success" | "partial" | "failure" | "timeout";
  messageIds: string[];
  /** Messages left on the queue (they reappear after the visibility timeout). */
  failedMessageIds: string[];
  durationMs: number;
  error?: string;
}

/** Every trace event the queue poller emits. */
export type PollerTraceEvent = PollerBatchTrace | PollerResultTrace;

/** Receives trace events; it must not throw. */
export type TraceListener<E> = (event: E) => void;
