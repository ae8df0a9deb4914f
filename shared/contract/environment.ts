/**
 * Environment variables the function component sets and the runtime reads: the contract between
 * `shared/infra` (deploy time) and `shared/runtime` (inside Lambda). Both sides import these names.
 */
export const ENV = {
  stage: "PLATFORM_STAGE",
  service: "PLATFORM_SERVICE",
  /** Logical name of the function inside its service (`place-order`). */
  handler: "PLATFORM_HANDLER",
  dataTable: "PLATFORM_DATA_TABLE",
  idempotencyTable: "PLATFORM_IDEMPOTENCY_TABLE",
  failureTopicArn: "PLATFORM_FAILURE_TOPIC_ARN",
  /** JSON object: event type -> topic ARN, for the events this function may publish. */
  publishTopics: "PLATFORM_PUBLISH_TOPICS",
  /**
   * JSON object: event type -> Kinesis stream name, for the stream events (`ordering: "stream"`) this function may
   * publish (PutRecord/PutRecords take the name; the stream is in the function's own account and region).
   */
  publishStreams: "PLATFORM_PUBLISH_STREAMS",
  logLevel: "PLATFORM_LOG_LEVEL",
  /**
   * JSON object: workflow name -> state machine ARN, for the workflows of its service this function may start
   * (`startWorkflow`); set only on functions that start one.
   */
  workflows: "PLATFORM_WORKFLOWS",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
