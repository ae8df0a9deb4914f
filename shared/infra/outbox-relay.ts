import { join } from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { catalog, type EventType } from "../contract";
import { OUTBOX_TABLE_LAYOUT, OUTBOX_TABLE_NAME, outboxFilterPattern } from "../contract/outbox";
import { PRODUCTION_STAGES } from "./guardrails/rules/data";
import { iteratorAgeAlarm, queueNotEmptyAlarm } from "./helpers/alarms";
import { REPO_ROOT } from "./helpers/bundle";
import { SQS_ENCRYPTION_CONTEXT, TOPIC_KEY_ACTIONS } from "./helpers/grants";
import { checkName, checkServiceName, currentStage, serviceResourceBase } from "./helpers/names";
import type { PolicyDocument } from "./helpers/policy-document";
import { onFailureQueue, onFailureQueuePolicyResource } from "./helpers/queues";
import { applyTransform, type Transform } from "./helpers/transform";
import type { PlatformReference } from "./platform-reference";
import { ServiceFunction, type FunctionOptions, type ServiceFunctionArgs } from "./service-function";

/** Pulumi type token of the component. */
export const OUTBOX_RELAY_TYPE = "platform:infra:OutboxRelay";

/** The relay function's logical name inside its service (a consumer or route may not take it). */
export const OUTBOX_RELAY_NAME = "outbox-relay";

/** The handler every relay runs: the runtime's, bundled per service like a user handler. */
export const OUTBOX_RELAY_HANDLER = join(REPO_ROOT, "shared/runtime/outbox-relay-handler.ts");

/**
 * What Lambda's DynamoDB stream poller does with the function's role: the four stream actions of AWS's managed
 * policy AWSLambdaDynamoDBExecutionRole (which grants them on "*"), here on the service's outbox table's stream only.
 */
export const STREAM_READ_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"] as const;

export const OUTBOX_RELAY_DEFAULTS = {
  /** Records per invocation (Lambda's default for streams). */
  batchSize: 100,
  /** Seconds Lambda waits to fill a batch: none, the events are on their way at once. */
  maxBatchingWindow: 0,
  /** Retries of a failing batch (bisected on each) before it goes to the on-failure destination. */
  maxRetries: 10,
  /** A record older than this goes to the on-failure destination instead of being retried (1 hour). */
  maxRecordAgeSeconds: 3600,
  /** The iterator-age alarm fires when the oldest record waits longer than this (1 minute), in milliseconds. */
  iteratorAgeAlarmMs: 60_000,
} as const;

/** The outbox table a relay reads: its stream is the relay mapping's source, read by nothing else. */
export interface OutboxTableStream {
  name: pulumi.Input<string>;
  streamArn: pulumi.Input<string>;
}

export interface OutboxRelayArgs {
  platform: PlatformReference;
  service: string;
  /** The service's outbox table (`outboxTable`): the relay's mapping reads its stream, the only reader. */
  table: OutboxTableStream;
  /** The event types the relay publishes (those the service's functions record). */
  publishes: readonly EventType[];
  /** Function settings (runtime, timeout, memory, log level). */
  function?: Pick<FunctionOptions, "runtime" | "timeout" | "memory" | "logLevel">;
  /** @default 100 */
  batchSize?: number;
  /** @default 10 */
  maxRetries?: number;
  /** @default 3600 */
  maxRecordAgeSeconds?: number;
  /** Adjust the child resources. */
  transform?: {
    function?: ServiceFunctionArgs["transform"];
    streamPolicy?: Transform<aws.iam.RolePolicyArgs>;
    failureQueue?: Transform<aws.sqs.QueueArgs>;
    failureQueuePolicy?: Transform<aws.sqs.QueuePolicyArgs>;
    mapping?: Transform<aws.lambda.EventSourceMappingArgs>;
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
  };
}

/** What the component registers as its inputs. */
export interface OutboxRelayRegistration {
  service: string;
  publishes: EventType[];
  filterPattern: Record<string, unknown>;
}

export class OutboxRelayConfigError extends Error {
  override name = "OutboxRelayConfigError";
}

/**
 * The role statements the stream poller and the on-failure destination need, exactly. The failure queue is encrypted
 * with the platform's events key: Lambda sends to it with the function's role, which needs kms:GenerateDataKey and
 * kms:Decrypt on the key (AWS Lambda developer guide, on-failure destinations: an SQS destination encrypted with
 * your own KMS key), only for that queue's encryption context (SQS passes the queue's ARN), as a stream consumer's.
 */
export function relayStreamPolicy(streamArn: string, failureQueueArn: string, eventsKeyArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadOutboxStream", Effect: "Allow", Action: [...STREAM_READ_ACTIONS], Resource: streamArn },
      // Lambda sends a batch's description to the on-failure destination with the function's role.
      { Sid: "SendToFailureDestination", Effect: "Allow", Action: "sqs:SendMessage", Resource: failureQueueArn },
      {
        Sid: "EncryptFailureRecords",
        Effect: "Allow",
        Action: [...TOPIC_KEY_ACTIONS],
        Resource: eventsKeyArn,
        Condition: { StringEquals: { [SQS_ENCRYPTION_CONTEXT]: failureQueueArn } },
      },
    ],
  };
}

/**
 * A service's outbox table, `<stage>-<service>-outbox`: where its functions' `createOutbox` writes the outbox item, in
 * the same TransactWriteItems as the state change on the data table. Its stream (NEW_IMAGE: the relay reads the keys
 * and the new image) has one reader, the service's relay: DynamoDB Streams serves at most two readers per shard at a
 * time (more are throttled), so the relays of several services cannot share one stream. On demand, items expire
 * through `expiresAt` (TTL), point-in-time recovery, the AWS owned key (no serverSideEncryption block, as the
 * platform's tables: see platform/tables.ts), deletion protection as the platform's tables (`platform:deletionProtection`,
 * read from the platform's `deletionProtection` output); tags from the service's provider (`useStageProvider`).
 * Pulumi's `protect` is a deployment option that must be known before any platform output is: it is on in
 * production stages, where the guardrail requires deletion protection anyway.
 */
export function outboxTable(
  name: string,
  args: { service: string; platform: PlatformReference; transform?: Transform<aws.dynamodb.TableArgs> },
  opts: pulumi.CustomResourceOptions = {},
): aws.dynamodb.Table {
  const service = checkServiceName(args.service);
  const { partitionKey, sortKey, ttlAttribute, streamViewType } = OUTBOX_TABLE_LAYOUT;
  const protect = (PRODUCTION_STAGES as readonly string[]).includes(currentStage());
  return new aws.dynamodb.Table(
    ...applyTransform(
      args.transform,
      name,
      {
        name: serviceResourceBase(service, OUTBOX_TABLE_NAME),
        billingMode: "PAY_PER_REQUEST",
        hashKey: partitionKey,
        rangeKey: sortKey,
        attributes: [
          { name: partitionKey, type: "S" },
          { name: sortKey, type: "S" },
        ],
        ttl: { attributeName: ttlAttribute, enabled: true },
        pointInTimeRecovery: { enabled: true },
        // No serverSideEncryption block: the AWS owned key (see platform/tables.ts).
        streamEnabled: true,
        streamViewType,
        deletionProtectionEnabled: args.platform.deletionProtection,
      },
      { ...opts, protect },
    ),
  );
}

/**
 * The relay of a service's outbox: an event source mapping on the service's outbox table's stream (its only reader),
 * filtered to INSERTs of the service's outbox items (its own keys, `outboxService` = the service), invoking the runtime's relay function,
 * which publishes each recorded event to its topic. Partial batch responses, bisect on error, bounded retries and
 * record age, an on-failure destination (an SQS queue encrypted with the platform's events key, only the relay's role
 * may send, TLS only, kept 14 days, with a depth alarm), and an
 * IteratorAge alarm on the platform's alarm topic. The function's role may publish exactly the recorded events'
 * topics (and use their key); a second policy lets it read the table's stream and send to its failure queue (with
 * the key, for that queue only).
 */
export class OutboxRelay extends pulumi.ComponentResource {
  private readonly fn: ServiceFunction;
  private readonly streamPolicy: aws.iam.RolePolicy;
  private readonly failureQueue: aws.sqs.Queue;
  private readonly failureQueuePolicy: aws.sqs.QueuePolicy;
  private readonly mapping: aws.lambda.EventSourceMapping;
  private readonly alarms: aws.cloudwatch.MetricAlarm[];

  constructor(name: string, args: OutboxRelayArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const service = checkServiceName(args.service);
    const label = `outbox relay of ${service}`;
    const publishes = [...new Set(args.publishes)];
    if (publishes.length === 0) throw new OutboxRelayConfigError(`${label}: it relays no event type`);
    for (const type of publishes) {
      if (catalog[type]?.owner !== service) throw new OutboxRelayConfigError(`${label}: ${type} is not an event ${service} owns`);
      if ((catalog[type].ordering as string) === "stream") {
        throw new OutboxRelayConfigError(`${label}: ${type} is a stream event (Kinesis); the relay publishes to SNS topics only: publish it directly`);
      }
    }
    const batchSize = whole(label, "batchSize", args.batchSize ?? OUTBOX_RELAY_DEFAULTS.batchSize, 1, 10_000);
    const maxRetries = whole(label, "maxRetries", args.maxRetries ?? OUTBOX_RELAY_DEFAULTS.maxRetries, 0, 10_000);
    const maxRecordAge = whole(label, "maxRecordAgeSeconds", args.maxRecordAgeSeconds ?? OUTBOX_RELAY_DEFAULTS.maxRecordAgeSeconds, 60, 604_800);
    const filterPattern = outboxFilterPattern(service);
    const registration: OutboxRelayRegistration = { service, publishes, filterPattern };
    super(OUTBOX_RELAY_TYPE, name, registration, opts);
    const parent = { parent: this };
    const { platform } = args;
    const base = serviceResourceBase(service, OUTBOX_RELAY_NAME);
    checkName("queue", `${base}-failed`);

    this.fn = new ServiceFunction(
      `${name}-function`,
      {
        ...args.function,
        handler: OUTBOX_RELAY_HANDLER,
        platform,
        service,
        name: OUTBOX_RELAY_NAME,
        publishes,
        data: "none",
        idempotency: false,
        transform: args.transform?.function,
      },
      { ...parent },
    );

    const role = this.fn.nodes.role;
    // As a stream consumer's on-failure queue: the platform's events key, and only the relay's role may send.
    this.failureQueue = onFailureQueue(`${name}-failed`, {
      name: `${base}-failed`,
      encryption: { kmsKeyArn: platform.eventsKeyArn },
      transform: args.transform?.failureQueue,
      opts: parent,
    });
    this.failureQueuePolicy = onFailureQueuePolicyResource(`${name}-failed-policy`, this.failureQueue, { functionRoleArn: role.arn }, {
      transform: args.transform?.failureQueuePolicy,
      opts: parent,
    });

    const streamArn = pulumi.output(args.table.streamArn).apply((arn) => {
      if (!arn) throw new OutboxRelayConfigError(`${label}: its outbox table has no stream ARN: the table needs streamEnabled`);
      return arn;
    });
    this.streamPolicy = new aws.iam.RolePolicy(
      ...applyTransform(
        args.transform?.streamPolicy,
        `${name}-stream-policy`,
        {
          role: role.name,
          name: "read-outbox-stream",
          policy: pulumi
            .all([streamArn, this.failureQueue.arn, platform.eventsKeyArn])
            .apply(([stream, queue, key]) => JSON.stringify(relayStreamPolicy(stream, queue, key))),
        },
        { ...parent },
      ),
    );

    this.mapping = new aws.lambda.EventSourceMapping(
      ...applyTransform(
        args.transform?.mapping,
        `${name}-mapping`,
        {
          eventSourceArn: streamArn,
          functionName: this.fn.arn,
          // From the oldest record the stream keeps (24 hours): events recorded before the mapping existed go out too.
          startingPosition: "TRIM_HORIZON",
          batchSize,
          maximumBatchingWindowInSeconds: OUTBOX_RELAY_DEFAULTS.maxBatchingWindow,
          // One batch per shard at a time: records of one partition key stay in order.
          parallelizationFactor: 1,
          bisectBatchOnFunctionError: true,
          maximumRetryAttempts: maxRetries,
          maximumRecordAgeInSeconds: maxRecordAge,
          functionResponseTypes: ["ReportBatchItemFailures"],
          destinationConfig: { onFailure: { destinationArn: this.failureQueue.arn } },
          filterCriteria: { filters: [{ pattern: JSON.stringify(filterPattern) }] },
          enabled: true,
        },
        // Lambda checks the role's stream and destination permissions when the mapping is created.
        { ...parent, dependsOn: [this.streamPolicy, this.failureQueuePolicy] },
      ),
    );

    const alarmTarget = { alarmTopicArn: platform.alarmTopic.arn, transform: args.transform?.alarm, opts: parent };
    this.alarms = [
      iteratorAgeAlarm(
        `${name}-iterator-age-alarm`,
        this.fn.name,
        {
          thresholdMs: OUTBOX_RELAY_DEFAULTS.iteratorAgeAlarmMs,
          datapointsToAlarm: 3,
          alarmDescription: `The outbox relay of ${service} is behind: recorded events wait more than ${OUTBOX_RELAY_DEFAULTS.iteratorAgeAlarmMs / 1000}s for their publish (a failing publish, throttling): look at its logs`,
        },
        alarmTarget,
      ),
      queueNotEmptyAlarm(
        `${name}-failed-alarm`,
        this.failureQueue,
        `The on-failure destination of ${service}'s outbox relay holds batches it gave up on: their outbox items (kept until their TTL) name the events to publish again`,
        alarmTarget,
      ),
    ];

    this.registerOutputs({ functionName: this.fn.name, failureQueueUrl: this.failureQueue.url });
  }

  get function(): ServiceFunction {
    return this.fn;
  }
  get failureQueueUrl(): pulumi.Output<string> {
    return this.failureQueue.url;
  }
  /** The raw child resources. */
  get nodes(): {
    function: ServiceFunction;
    streamPolicy: aws.iam.RolePolicy;
    failureQueue: aws.sqs.Queue;
    failureQueuePolicy: aws.sqs.QueuePolicy;
    mapping: aws.lambda.EventSourceMapping;
    alarms: aws.cloudwatch.MetricAlarm[];
  } {
    return {
      function: this.fn,
      streamPolicy: this.streamPolicy,
      failureQueue: this.failureQueue,
      failureQueuePolicy: this.failureQueuePolicy,
      mapping: this.mapping,
      alarms: this.alarms,
    };
  }
}

function whole(label: string, what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OutboxRelayConfigError(`${label}: ${what} is ${value}; it must be a whole number from ${min} to ${max}`);
  }
  return value;
}
