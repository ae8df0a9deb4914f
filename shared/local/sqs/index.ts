/** The in-process SQS engine of the local stage: queues, the clock they run on, and the Lambda-like queue poller. */
export { FakeClock, flushMicrotasks, systemClock, type Clock, type TimerHandle } from "./clock";
export {
  checkBatchEntries,
  SqsEngine,
  type InternalSendOptions,
  type QueueInfo,
  type SendMessageBatchEntry,
  type SendMessageBatchResult,
  type SqsEngineOptions,
} from "./engine";
export { ServiceError } from "./errors";
export { md5OfBody, md5OfMessageAttributes, type SqsMessageAttributeValue } from "./md5";
export {
  interpretBatchResponse,
  QueuePoller,
  type PollerInvocationContext,
  type QueuePollerOptions,
  type SqsBatchHandler,
} from "./poller";
export {
  normaliseQueueAttributes,
  parseRedrivePolicy,
  Queue,
  type QueueAttributes,
  type QueueAttributesInput,
  type QueueCounts,
  type ReceivedMessage,
  type ReceivedMessageAttributes,
  type ReceiveOptions,
  type RedrivePolicy,
  type SendMessageInput,
  type SendMessageResult,
  type StoredMessageView,
} from "./queue";
export type * from "./trace";
