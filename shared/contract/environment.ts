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
  /**
   * JSON array of the event types this function records through the outbox (its service's relay publishes them);
   * set only on functions that record one.
   */
  recordEvents: "PLATFORM_RECORD_EVENTS",
  /**
   * The name of the service's outbox table (`<stage>-<service>-outbox`), where `createOutbox` writes the outbox item
   * in the same transaction as the state change; set only on functions that record an event.
   */
  outboxTable: "PLATFORM_OUTBOX_TABLE",
  logLevel: "PLATFORM_LOG_LEVEL",
  /**
   * JSON object: workflow name -> state machine ARN, for the workflows of its service this function may start
   * (`startWorkflow`); set only on functions that start one.
   */
  workflows: "PLATFORM_WORKFLOWS",
  /**
   * The relational store (a service that declares `relational`, shared/infra/relational-store.ts): the Aurora
   * PostgreSQL cluster's ARN, the `resourceArn` of every RDS Data API call. Set on every function of such a service
   * and on its migration function; on no other function.
   */
  relationalClusterArn: "PLATFORM_RELATIONAL_CLUSTER_ARN",
  /**
   * The Secrets Manager secret the Data API connects with (`secretArn` of every call): on a service's functions, the
   * secret of the service's own database role (JSON `{ "username", "password" }`: the role owns only the service's
   * schema); on its migration function, the cluster's master secret (managed by RDS), which creates the schema and
   * the role. No password is ever in a function's environment: the Data API reads the secret with the caller's IAM.
   */
  relationalSecretArn: "PLATFORM_RELATIONAL_SECRET_ARN",
  /** The database name in the cluster (the Data API's `database`); every service's schema lives in it. */
  relationalDatabase: "PLATFORM_RELATIONAL_DATABASE",
  /**
   * The service's schema (`<service>` with `-` as `_`, e.g. `reporting`, `order_history`): its tables live there, and
   * its role's `search_path` is set to it, so queries name tables without the schema.
   */
  relationalSchema: "PLATFORM_RELATIONAL_SCHEMA",
  /**
   * Migration function only: the secret of the service's database role (JSON `{ "username", "password" }`), whose
   * username and password the migration gives the role it creates (`CREATE ROLE ... LOGIN PASSWORD`, or `ALTER ROLE`
   * when it exists).
   */
  relationalRoleSecretArn: "PLATFORM_RELATIONAL_ROLE_SECRET_ARN",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
