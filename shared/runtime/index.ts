// The runtime's public API: what handlers import. Deploy-time code imports `./bundle-options` directly.
export {
  BusinessRuleError,
  ConfigurationError,
  EventInProgressError,
  EventSchemaError,
  HttpError,
  InvalidEventError,
  isNonRetryable,
  NonRetryableError,
  PublishError,
  RetryableError,
  RuntimeError,
  UnknownEventTypeError,
  type ValidationIssue,
} from "./errors";
export { validate, type Validation } from "./validation";
export { createEvent, parseEvent, type EventOptions, type ReceivedEvent } from "./envelope";
export { derivedEventId, newEventId } from "./event-id";
export { createPublisher, type OutgoingEvent, type Publisher, type PublishOptions } from "./publisher";
export {
  createOutbox,
  OUTBOX_DEFAULT_EXPIRY_SECONDS,
  OUTBOX_ITEM,
  type Outbox,
  type OutboxOptions,
  type OutboxWrite,
  type RecordedEvent,
} from "./outbox";
export { outboxRelay, type OutboxRelayOptions, type RelayOutcome, type StreamBatchHandler } from "./outbox-relay";
export {
  consume,
  type ActionContext,
  type ConsumeOptions,
  type ConsumerActions,
  type EventAction,
  type IdempotencyOptions,
  type RecordOutcome,
  type SqsBatchHandler,
} from "./consume";
export { readRecordMessage, type Delivery, type RecordMessage } from "./sqs-record";
export { IDEMPOTENCY_RECORD } from "./event-lock";
export {
  CORRELATION_ID_HEADER,
  httpHandler,
  route,
  type HttpHandler,
  type HttpOptions,
  type HttpRequest,
  type HttpResult,
  type Route,
} from "./http";
export type { HttpMethod, RouteKey } from "./http-router";
export { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, type IdempotencyMode } from "./request-idempotency";
export { createLogger, logger, type LogFields, type Logger, type LoggerOptions } from "./logger";
export { currentScope, type InvocationScope } from "./invocation-scope";
export {
  childTraceparent,
  formatTraceparent,
  newTraceparent,
  parseTraceparent,
  traceparentFromXRay,
  type TraceContext,
} from "./trace-context";
export { DATA_TABLE, dataTable, type DataTableClient, type DataTableConfig } from "./data-table";
export { defineEntity, type EntityAccessor, type EntityDefinition, type EntityOf } from "./entity";
export { resetAwsClients } from "./aws-clients";
export {
  executionArnOf,
  resetWorkflowClient,
  startWorkflow,
  type StartWorkflowOptions,
  type WorkflowStarted,
} from "./workflow";
export { workflowStep, type StepContext, type StepHandler } from "./workflow-step";
// The relational store (relationalStore, writeOnce, asSql) is imported from "./relational" directly by the handlers that
// use it: Kysely marks no module side-effect free, so an export here would put it in every function's bundle.
