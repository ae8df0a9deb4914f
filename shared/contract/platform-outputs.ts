import * as z from "zod/mini";
import { streamEventTypes, topicEventTypes, type StreamEventType, type TopicEventType } from "./catalog";

const arn = z.string().check(z.regex(/^arn:aws[a-z-]*:[a-z0-9-]+:/, "must be an ARN"));

export const topicRefSchema = z.object({ arn, name: z.string(), fifo: z.boolean() });
export type TopicRef = z.infer<typeof topicRefSchema>;

/** A Kinesis data stream of a stream event (`ordering: "stream"`). */
export const streamRefSchema = z.object({ arn, name: z.string() });
export type StreamRef = z.infer<typeof streamRefSchema>;

export const tableIndexSchema = z.object({ name: z.string(), partitionKey: z.string(), sortKey: z.string() });

export const logLevels = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
export type LogLevel = (typeof logLevels)[number];
export const tracingModes = ["Active", "PassThrough"] as const;
export type TracingMode = (typeof tracingModes)[number];

/**
 * The platform contract: what the platform stack exports and what services may rely on.
 * The platform program's exports are checked against this schema key by key (a test fails when they disagree),
 * and the typed stack reference validates a deployed stack's outputs against it.
 */
export const platformOutputsSchema = z.object({
  stage: z.string(),
  region: z.string(),
  accountId: z.string(),
  /** One topic per catalog entry that travels on SNS (standard and FIFO), keyed by event type. */
  eventTopics: z.record(z.enum(topicEventTypes as [TopicEventType, ...TopicEventType[]]), topicRefSchema),
  /**
   * One Kinesis data stream per stream event (`ordering: "stream"`), keyed by event type; empty when the catalog has
   * none. Encrypted with the events key: producers need kms:GenerateDataKey on it, consumers kms:Decrypt.
   */
  eventStreams: z.record(z.enum(streamEventTypes as [StreamEventType, ...StreamEventType[]]), streamRefSchema),
  /** Customer managed KMS key that encrypts every platform topic and stream; publishers need GenerateDataKey/Decrypt on it. */
  eventsKeyArn: arn,
  /** Failure events (errors a retry cannot fix) go here. */
  failureTopic: topicRefSchema,
  /**
   * Where failure events are kept (SNS keeps nothing): an SQS queue subscribed to the failure topic with raw
   * delivery, kept 14 days. Operators read it, fix the cause and publish the original event again.
   */
  failureQueue: z.object({ name: z.string(), arn, url: z.string() }),
  /** Operator notifications: dead-letter alarms and the like. */
  alarmTopic: topicRefSchema,
  dataTable: z.object({
    name: z.string(),
    arn,
    streamArn: arn,
    partitionKey: z.string(),
    sortKey: z.string(),
    ttlAttribute: z.string(),
    indexes: z.object({ gsi1: tableIndexSchema, gsi2: tableIndexSchema }),
  }),
  idempotencyTable: z.object({ name: z.string(), arn, keyAttribute: z.string(), ttlAttribute: z.string() }),
  /**
   * `platform:deletionProtection`: whether the stage's tables refuse deletion (the platform's data and idempotency
   * tables, and each service's own tables, such as its outbox table, which take it from here).
   */
  deletionProtection: z.boolean(),
  tracing: z.object({ mode: z.enum(tracingModes) }),
  logs: z.object({ retentionDays: z.int(), level: z.enum(logLevels) }),
  vpc: z.object({
    enabled: z.boolean(),
    vpcId: z.optional(z.string()),
    privateSubnetIds: z.optional(z.array(z.string())),
    securityGroupId: z.optional(z.string()),
  }),
  /**
   * The relational store (`platform:relational`): an Aurora PostgreSQL Serverless v2 cluster behind the RDS Data API.
   * `clusterArn` is the Data API's resourceArn, `database` its database; each service that declares `relational` gets
   * its own schema, role and secret (shared/infra/relational-store.ts). `masterSecretArn` (the master user's secret,
   * managed by RDS, encrypted with the events key) is for the services' migration functions only.
   */
  relational: z.object({
    enabled: z.boolean(),
    clusterArn: z.optional(arn),
    database: z.optional(z.string()),
    masterSecretArn: z.optional(arn),
  }),
});

export type PlatformOutputs = z.infer<typeof platformOutputsSchema>;
export type PlatformOutputKey = keyof PlatformOutputs;
export const platformOutputKeys = Object.keys(platformOutputsSchema.shape) as PlatformOutputKey[];
