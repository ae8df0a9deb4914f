import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { catalog, isEventType, messageAttributeNames, publishedVersions, type EventType } from "../contract";
import { checkLogicalName, checkName, checkServiceName, serviceResourceBase } from "./helpers/names";
import type { PolicyDocument, PolicyStatement } from "./helpers/policy-document";
import { applyTransform, type Transform } from "./helpers/transform";
import type { PlatformReference } from "./platform-reference";
import { FUNCTION_DEFAULTS, ServiceFunction, type FunctionOptions, type ServiceFunctionArgs } from "./service-function";

/** Pulumi type token of the component; the local stage finds consumers by it. */
export const EVENT_CONSUMER_TYPE = "platform:infra:EventConsumer";

/** 14 days, the longest SQS keeps a message: a dead letter waits that long for someone to look. */
export const DLQ_RETENTION_SECONDS = 1_209_600;
/** Lambda's guidance: the queue's visibility timeout is at least 6 times the function's timeout. */
export const VISIBILITY_FACTOR = 6;

/** A subscription filter policy: which events of the topic this consumer receives. */
export interface EventFilter {
  /** The SNS filter policy (https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html). */
  policy: Record<string, unknown>;
  /**
   * What the policy matches: the message attributes every event carries (`type`, `source`, `correlationid`,
   * `dataversion`), or the message body (the CloudEvents envelope, e.g. `{ data: { total: { currency: ["EUR"] } } }`).
   * @default "MessageAttributes"
   */
  scope?: "MessageAttributes" | "MessageBody";
}

export interface EventConsumerArgs {
  /** The platform contract of the stage. */
  platform: PlatformReference;
  /** The service the consumer belongs to. */
  service: string;
  /**
   * Logical name of the consumer inside its service (`bill-order`): names its queue `<stage>-<service>-<name>`
   * and its function.
   * @default the component's name
   */
  name?: string;
  /** The event type consumed: the consumer subscribes to that type's platform topic. */
  event: EventType;
  /**
   * The versions of the event this consumer reads. While the catalog publishes versions it does not read, its
   * subscription receives only these (a `dataversion` filter); a version that is not published is an error.
   * @default the event's current version
   */
  versions?: readonly number[];
  /** The function that handles each batch. */
  function: FunctionOptions;
  /**
   * Only deliver matching events.
   * @default every event of the type
   */
  filter?: EventFilter;
  /**
   * Messages per invocation (FIFO queues: at most 10).
   * @default 10
   */
  batchSize?: number;
  /**
   * Seconds Lambda waits to fill a batch (standard queues only; ignored for FIFO).
   * @default 0
   */
  maxBatchingWindow?: number;
  /**
   * The most concurrent invocations the queue drives (2 to 1000): keeps a burst from exhausting account
   * concurrency or a downstream dependency.
   * @default 5
   */
  maxConcurrency?: number;
  /**
   * Deliveries before a message moves to the dead-letter queue.
   * @default 5
   */
  maxReceiveCount?: number;
  /**
   * Seconds the source queue keeps a message (must stay below the dead-letter queue's 14 days).
   * @default 345600 (4 days)
   */
  retention?: number;
  /**
   * Seconds a received message stays invisible; at least 6 times the function's timeout plus the batching window.
   * @default 6 x timeout + maxBatchingWindow
   */
  visibilityTimeout?: number;
  /** Adjust the child resources. */
  transform?: {
    queue?: Transform<aws.sqs.QueueArgs>;
    deadLetterQueue?: Transform<aws.sqs.QueueArgs>;
    subscriptionDeadLetterQueue?: Transform<aws.sqs.QueueArgs>;
    queuePolicy?: Transform<aws.sqs.QueuePolicyArgs>;
    subscription?: Transform<aws.sns.TopicSubscriptionArgs>;
    mapping?: Transform<aws.lambda.EventSourceMappingArgs>;
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    function?: ServiceFunctionArgs["transform"];
  };
}

/** What the component registers as its inputs (for the local stage and readers of the state). */
export interface EventConsumerRegistration {
  service: string;
  name: string;
  event: EventType;
  /** The versions of the event the consumer reads. */
  versions: number[];
  filter?: { policy: Record<string, unknown>; scope: "MessageAttributes" | "MessageBody" };
}

export const CONSUMER_DEFAULTS = {
  batchSize: 10,
  maxBatchingWindow: 0,
  maxConcurrency: 5,
  maxReceiveCount: 5,
  retention: 345_600,
} as const;

export class ConsumerConfigError extends Error {
  override name = "ConsumerConfigError";
}

/**
 * One asynchronous action of a service: SNS subscription (raw delivery, optional filter, its own dead-letter queue)
 * -> encrypted SQS queue that only the event's topic may send to, over TLS (redrive to a dead-letter queue kept
 * 14 days) -> event source mapping with partial batch responses and bounded concurrency -> the function, with an
 * alarm on each dead-letter queue that reaches the platform's alarm topic. FIFO events get FIFO queues.
 *
 * @example
 * new EventConsumer("bill-order", {
 *   platform,
 *   service: "billing",
 *   event: "orders.order-placed",
 *   function: { handler: "./handlers/bill-order.ts", publishes: ["billing.invoice-issued"] },
 *   filter: { policy: { source: ["orders"] } },
 * });
 */
export class EventConsumer extends pulumi.ComponentResource {
  readonly event: EventType;
  private readonly queue: aws.sqs.Queue;
  private readonly deadLetterQueue: aws.sqs.Queue;
  private readonly subscriptionDeadLetterQueue: aws.sqs.Queue;
  private readonly queuePolicies: aws.sqs.QueuePolicy[];
  private readonly subscription: aws.sns.TopicSubscription;
  private readonly fn: ServiceFunction;
  private readonly mapping: aws.lambda.EventSourceMapping;
  private readonly alarms: aws.cloudwatch.MetricAlarm[];

  constructor(name: string, args: EventConsumerArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const n = normalizeConsumerArgs(name, args);
    const registration: EventConsumerRegistration = { service: n.service, name: n.name, event: n.event, versions: n.versions, filter: n.filter };
    super(EVENT_CONSUMER_TYPE, name, registration, opts);
    this.event = n.event;
    const { platform } = args;
    const parent = { parent: this };
    const topic = platform.topic(n.event);
    const catalogFifo = catalog[n.event].ordering === "fifo";
    const fifo = topic.apply((t) => {
      if (t.fifo !== catalogFifo) {
        throw new ConsumerConfigError(
          `consumer ${n.service}/${n.name}: the platform's topic for ${n.event} is ${t.fifo ? "FIFO" : "standard"} but the catalog says ${catalogFifo ? "fifo" : "standard"}: deploy the platform with the current catalog`,
        );
      }
      return t.fifo;
    });
    const base = n.base;
    const queueName = (suffix: string) => fifo.apply((isFifo) => `${base}${suffix}${isFifo ? ".fifo" : ""}`);
    const fifoSettings = fifo.apply((isFifo) => (isFifo ? true : undefined));

    const deadLetter = (childName: string, suffix: string, transform: Transform<aws.sqs.QueueArgs> | undefined) =>
      new aws.sqs.Queue(
        ...applyTransform(
          transform,
          childName,
          {
            name: queueName(suffix),
            fifoQueue: fifoSettings,
            messageRetentionSeconds: DLQ_RETENTION_SECONDS,
            sqsManagedSseEnabled: true,
          },
          { ...parent },
        ),
      );
    this.deadLetterQueue = deadLetter(`${name}-dlq`, "-dlq", args.transform?.deadLetterQueue);
    this.subscriptionDeadLetterQueue = deadLetter(
      `${name}-subscription-dlq`,
      "-sub-dlq",
      args.transform?.subscriptionDeadLetterQueue,
    );

    this.queue = new aws.sqs.Queue(
      ...applyTransform(
        args.transform?.queue,
        `${name}-queue`,
        {
          name: queueName(""),
          fifoQueue: fifoSettings,
          visibilityTimeoutSeconds: n.visibilityTimeout,
          messageRetentionSeconds: n.retention,
          sqsManagedSseEnabled: true,
          redrivePolicy: pulumi.jsonStringify({
            deadLetterTargetArn: this.deadLetterQueue.arn,
            maxReceiveCount: n.maxReceiveCount,
          }),
        },
        { ...parent },
      ),
    );

    // The queue and the subscription's dead-letter queue accept messages from this topic only; every queue
    // refuses requests without TLS.
    const policyFor = (queue: aws.sqs.Queue, topicSends: boolean): pulumi.Output<string> =>
      pulumi.all([queue.arn, topic.arn]).apply(([queueArn, topicArn]) => JSON.stringify(queuePolicy(queueArn, topicSends ? topicArn : undefined)));
    const policies: [aws.sqs.Queue, string, boolean][] = [
      [this.queue, `${name}-queue-policy`, true],
      [this.subscriptionDeadLetterQueue, `${name}-subscription-dlq-policy`, true],
      [this.deadLetterQueue, `${name}-dlq-policy`, false],
    ];
    this.queuePolicies = policies.map(
      ([queue, childName, topicSends]) =>
        new aws.sqs.QueuePolicy(
          ...applyTransform(
            args.transform?.queuePolicy,
            childName,
            { queueUrl: queue.url, policy: policyFor(queue, topicSends) },
            { ...parent },
          ),
        ),
    );

    this.subscription = new aws.sns.TopicSubscription(
      ...applyTransform(
        args.transform?.subscription,
        `${name}-subscription`,
        {
          topic: topic.arn,
          protocol: "sqs",
          endpoint: this.queue.arn,
          rawMessageDelivery: true,
          filterPolicy: n.filter ? JSON.stringify(n.filter.policy) : undefined,
          filterPolicyScope: n.filter?.scope,
          redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.subscriptionDeadLetterQueue.arn }),
        },
        // SNS may deliver as soon as the subscription exists: the queues must already accept its messages.
        { ...parent, dependsOn: this.queuePolicies },
      ),
    );

    this.fn = new ServiceFunction(
      `${name}-function`,
      {
        ...args.function,
        idempotency: args.function.idempotency ?? true,
        platform,
        service: n.service,
        name: n.name,
        queueArn: this.queue.arn,
        failures: true,
        transform: args.transform?.function,
      },
      { ...parent },
    );

    this.mapping = new aws.lambda.EventSourceMapping(
      ...applyTransform(
        args.transform?.mapping,
        `${name}-mapping`,
        {
          eventSourceArn: this.queue.arn,
          functionName: this.fn.arn,
          batchSize: n.batchSize,
          // FIFO queues take no batching window.
          maximumBatchingWindowInSeconds: fifo.apply((isFifo) => (isFifo ? undefined : n.maxBatchingWindow)),
          functionResponseTypes: ["ReportBatchItemFailures"],
          scalingConfig: { maximumConcurrency: n.maxConcurrency },
          enabled: true,
        },
        { ...parent },
      ),
    );

    const alarmTopicArn = platform.alarmTopic.arn;
    const alarmOn = (childName: string, queue: aws.sqs.Queue, what: string) =>
      new aws.cloudwatch.MetricAlarm(
        ...applyTransform(
          args.transform?.alarm,
          childName,
          {
            name: pulumi.interpolate`${queue.name}-not-empty`,
            alarmDescription: `${what} of ${n.service}/${n.name} (${n.event}) holds messages: look at them, fix the cause, redrive them`,
            namespace: "AWS/SQS",
            metricName: "ApproximateNumberOfMessagesVisible",
            dimensions: { QueueName: queue.name },
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 1,
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
            alarmActions: [alarmTopicArn],
            okActions: [alarmTopicArn],
          },
          { ...parent },
        ),
      );
    this.alarms = [
      alarmOn(`${name}-dlq-alarm`, this.deadLetterQueue, "The dead-letter queue"),
      alarmOn(`${name}-subscription-dlq-alarm`, this.subscriptionDeadLetterQueue, "The subscription's dead-letter queue"),
    ];

    this.registerOutputs({
      queueUrl: this.queue.url,
      queueArn: this.queue.arn,
      deadLetterQueueUrl: this.deadLetterQueue.url,
      functionName: this.fn.name,
    });
  }

  get queueUrl(): pulumi.Output<string> {
    return this.queue.url;
  }
  get queueArn(): pulumi.Output<string> {
    return this.queue.arn;
  }
  get deadLetterQueueUrl(): pulumi.Output<string> {
    return this.deadLetterQueue.url;
  }
  get function(): ServiceFunction {
    return this.fn;
  }
  /** The raw child resources. */
  get nodes(): {
    queue: aws.sqs.Queue;
    deadLetterQueue: aws.sqs.Queue;
    subscriptionDeadLetterQueue: aws.sqs.Queue;
    queuePolicies: aws.sqs.QueuePolicy[];
    subscription: aws.sns.TopicSubscription;
    function: ServiceFunction;
    mapping: aws.lambda.EventSourceMapping;
    alarms: aws.cloudwatch.MetricAlarm[];
  } {
    return {
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      subscriptionDeadLetterQueue: this.subscriptionDeadLetterQueue,
      queuePolicies: this.queuePolicies,
      subscription: this.subscription,
      function: this.fn,
      mapping: this.mapping,
      alarms: this.alarms,
    };
  }
}

/** A queue's resource policy: the topic may send (only when `topicArn` is given); nothing without TLS. */
export function queuePolicy(queueArn: string, topicArn: string | undefined): PolicyDocument {
  const statements: PolicyStatement[] = [];
  if (topicArn) {
    statements.push({
      Sid: "TopicSends",
      Effect: "Allow",
      Principal: { Service: "sns.amazonaws.com" },
      Action: "sqs:SendMessage",
      Resource: queueArn,
      Condition: { ArnEquals: { "aws:SourceArn": topicArn } },
    });
  }
  statements.push({
    Sid: "DenyWithoutTls",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: queueArn,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  });
  return { Version: "2012-10-17", Statement: statements };
}

interface NormalizedConsumerArgs {
  service: string;
  name: string;
  /** `<stage>-<service>-<name>`: the queues' names start with it. */
  base: string;
  event: EventType;
  versions: number[];
  filter: EventConsumerRegistration["filter"];
  batchSize: number;
  maxBatchingWindow: number;
  maxConcurrency: number;
  maxReceiveCount: number;
  retention: number;
  visibilityTimeout: number;
}

function integerIn(label: string, what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConsumerConfigError(`${label}: ${what} is ${value}; it must be a whole number from ${min} to ${max}`);
  }
  return value;
}

const ATTRIBUTE_NAMES = new Set<string>(Object.values(messageAttributeNames));

function normalizeFilter(label: string, filter: EventFilter | undefined): EventConsumerRegistration["filter"] {
  if (!filter) return undefined;
  const scope = filter.scope ?? "MessageAttributes";
  const keys = Object.keys(filter.policy);
  if (keys.length === 0) throw new ConsumerConfigError(`${label}: the filter policy is empty; leave the filter out to receive every event`);
  if (scope === "MessageAttributes") {
    const unknown = keys.filter((key) => !ATTRIBUTE_NAMES.has(key) && !key.startsWith("$"));
    if (unknown.length) {
      throw new ConsumerConfigError(
        `${label}: the filter uses message attributes ${unknown.join(", ")}, which events do not carry (they carry ${[...ATTRIBUTE_NAMES].join(", ")}); filter on the body with scope "MessageBody"`,
      );
    }
  }
  return { policy: filter.policy, scope };
}

/**
 * The versions a consumer reads, checked against the versions the catalog publishes: reading a version that is not
 * published (an old one retired, or one that does not exist yet) is an error naming the event and the consumer.
 */
export function consumerVersions(
  label: string,
  event: EventType,
  declared: readonly number[] | undefined,
  published: readonly number[] = publishedVersions(event),
  current: number = catalog[event].version,
): number[] {
  const versions = [...new Set(declared ?? [current])].sort((a, b) => a - b);
  if (versions.length === 0) throw new ConsumerConfigError(`${label}: versions of ${event} is empty; leave it out to read the current version`);
  const missing = versions.filter((v) => !published.includes(v));
  if (missing.length) {
    throw new ConsumerConfigError(
      `${label} reads ${event} version ${versions.join(", ")}, but the catalog publishes version ${published.join(", ")} of it: ` +
        `version ${missing.join(", ")} cannot reach it. Keep publishing the version it reads (previousVersions in shared/contract/catalog.ts) ` +
        `until it moves, or move it: change its handler and its versions (see the README's migration path)`,
    );
  }
  return versions;
}

/**
 * The consumer's filter with the version rule added: while the catalog publishes versions the consumer does not
 * read, it receives only its own (`dataversion`, a message attribute and an envelope field, so either scope works).
 */
export function withVersionFilter(
  filter: EventConsumerRegistration["filter"],
  versions: readonly number[],
  published: readonly number[],
): EventConsumerRegistration["filter"] {
  if (published.every((v) => versions.includes(v))) return filter;
  const rule = versions.map((v) => ({ numeric: ["=", v] }));
  const scope = filter?.scope ?? "MessageAttributes";
  return { scope, policy: { ...filter?.policy, [messageAttributeNames.version]: rule } };
}

function normalizeConsumerArgs(componentName: string, args: EventConsumerArgs): NormalizedConsumerArgs {
  const service = checkServiceName(args.service);
  const name = checkLogicalName("consumer name", args.name ?? componentName);
  const label = `consumer ${service}/${name}`;
  if (!isEventType(args.event)) {
    throw new ConsumerConfigError(`${label}: "${String(args.event)}" is not an event type in the catalog`);
  }
  const fifo = catalog[args.event].ordering === "fifo";
  const versions = consumerVersions(label, args.event, args.versions);
  const batchSize = integerIn(label, "batchSize", args.batchSize ?? CONSUMER_DEFAULTS.batchSize, 1, fifo ? 10 : 10_000);
  const maxBatchingWindow = fifo
    ? 0
    : integerIn(label, "maxBatchingWindow", args.maxBatchingWindow ?? CONSUMER_DEFAULTS.maxBatchingWindow, 0, 300);
  if (batchSize > 10 && maxBatchingWindow < 1) {
    throw new ConsumerConfigError(`${label}: a batchSize above 10 needs a maxBatchingWindow of at least 1 second (Lambda's rule)`);
  }
  const retention = integerIn(label, "retention", args.retention ?? CONSUMER_DEFAULTS.retention, 60, DLQ_RETENTION_SECONDS - 1);
  const timeout = args.function.timeout ?? FUNCTION_DEFAULTS.timeout;
  const visibilityTimeout = integerIn(
    label,
    "visibilityTimeout",
    args.visibilityTimeout ?? VISIBILITY_FACTOR * timeout + maxBatchingWindow,
    0,
    43_200,
  );
  if (visibilityTimeout < VISIBILITY_FACTOR * timeout + maxBatchingWindow) {
    throw new ConsumerConfigError(
      `${label}: visibilityTimeout ${visibilityTimeout}s is less than ${VISIBILITY_FACTOR} x the function timeout (${timeout}s) + the batching window (${maxBatchingWindow}s); a message would be delivered again while it is still being processed`,
    );
  }
  const base = serviceResourceBase(service, name);
  // Checked before anything is created, longest name first (the catalog's ordering decides `.fifo`).
  for (const suffix of ["-sub-dlq", "-dlq", ""]) checkName("queue", `${base}${suffix}${fifo ? ".fifo" : ""}`);
  return {
    service,
    name,
    base,
    event: args.event,
    versions,
    filter: withVersionFilter(normalizeFilter(label, args.filter), versions, publishedVersions(args.event)),
    batchSize,
    maxBatchingWindow,
    maxConcurrency: integerIn(label, "maxConcurrency", args.maxConcurrency ?? CONSUMER_DEFAULTS.maxConcurrency, 2, 1000),
    maxReceiveCount: integerIn(label, "maxReceiveCount", args.maxReceiveCount ?? CONSUMER_DEFAULTS.maxReceiveCount, 1, 1000),
    retention,
    visibilityTimeout,
  };
}
