import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { catalog, isEventType, isStreamEvent, messageAttributeNames, publishedVersions, type EventType, type StreamRef } from "../contract";
import { iteratorAgeAlarm, queueNotEmptyAlarm } from "./helpers/alarms";
import { checkLogicalName, checkName, checkServiceName, serviceResourceBase } from "./helpers/names";
import { DLQ_RETENTION_SECONDS, onFailureQueue, onFailureQueuePolicyResource, queuePolicy } from "./helpers/queues";
import { applyTransform, type Transform } from "./helpers/transform";
import type { PlatformReference } from "./platform-reference";
import { FUNCTION_DEFAULTS, ServiceFunction, type FunctionOptions, type ServiceFunctionArgs } from "./service-function";

/** Pulumi type token of the component; the local stage finds consumers by it. */
export const EVENT_CONSUMER_TYPE = "platform:infra:EventConsumer";

// The queue builders and policies every component shares (helpers/queues.ts), where the consumer's users find them.
export { DLQ_RETENTION_SECONDS, onFailureQueuePolicy, queuePolicy } from "./helpers/queues";
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

/** Where a stream consumer starts reading when its mapping is created. */
export type StreamStartingPosition = "TRIM_HORIZON" | "LATEST";

/**
 * How a consumer of a stream event (`ordering: "stream"`) reads its Kinesis stream; ignored for topic events.
 * Every stream consumer bisects a failing batch, retries a bounded number of times for a bounded record age, and
 * sends the record of a batch it gives up on (shard and sequence range, not the data) to its on-failure queue.
 */
export interface StreamConsumerOptions {
  /**
   * Where a new mapping starts: the oldest record the stream keeps, or only records written after it exists.
   * @default "TRIM_HORIZON"
   */
  startingPosition?: StreamStartingPosition;
  /**
   * Batches of one shard processed at once (1 to 10), split by partition key: order per partition key still holds.
   * The consumer's concurrency is at most shards x this factor.
   * @default 1
   */
  parallelizationFactor?: number;
  /**
   * Retries of a failing batch before its record goes to the on-failure queue (0 to 10,000; never unbounded: a
   * batch retried forever blocks its shard).
   * @default 10
   */
  maxRetryAttempts?: number;
  /**
   * Age in seconds past which a record is not retried but sent to the on-failure queue (60 to 604,800; never
   * unbounded). Keep it well under the stream's retention, so the records can still be read back from the stream.
   * @default 3600
   */
  maxRecordAgeSeconds?: number;
  /**
   * Read through an enhanced fan-out consumer (`aws.kinesis.StreamConsumer`): a dedicated 2 MB/s per shard pushed to
   * this consumer alone. Worth it once more than two consumers read one stream (standard readers share each shard's
   * 2 MB/s and 5 GetRecords calls a second); billed per consumer-shard hour and per GB read.
   * @default false
   */
  enhancedFanOut?: boolean;
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
   * Only deliver matching events. For a stream event the same policy becomes the event source mapping's filter
   * criteria on the record's `data` (the envelope: attributes are its fields of the same names).
   * @default every event of the type
   */
  filter?: EventFilter;
  /**
   * How a consumer of a stream event reads its stream (only for `ordering: "stream"` events).
   * @default TRIM_HORIZON, parallelization factor 1, 10 retries, records up to an hour old, no enhanced fan-out
   */
  stream?: StreamConsumerOptions;
  /**
   * Messages per invocation (FIFO queues: at most 10; streams: records, up to 10,000).
   * @default 10 (streams: 100)
   */
  batchSize?: number;
  /**
   * Seconds Lambda waits to fill a batch (standard queues and streams; ignored for FIFO).
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
    /** Stream consumers: the on-failure queue, its policy and the enhanced fan-out consumer. */
    onFailureQueue?: Transform<aws.sqs.QueueArgs>;
    onFailureQueuePolicy?: Transform<aws.sqs.QueuePolicyArgs>;
    streamConsumer?: Transform<aws.kinesis.StreamConsumerArgs>;
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
  /** Set for a consumer of a stream event: how it reads the stream. */
  stream?: Required<StreamConsumerOptions>;
}

export const CONSUMER_DEFAULTS = {
  batchSize: 10,
  maxBatchingWindow: 0,
  maxConcurrency: 5,
  maxReceiveCount: 5,
  retention: 345_600,
} as const;

export const STREAM_CONSUMER_DEFAULTS = {
  batchSize: 100,
  maxBatchingWindow: 0,
  startingPosition: "TRIM_HORIZON",
  parallelizationFactor: 1,
  maxRetryAttempts: 10,
  maxRecordAgeSeconds: 3600,
  enhancedFanOut: false,
} as const;

/** Lambda's bounds for a Kinesis event source mapping (its API reference), without the unbounded -1 it allows. */
export const STREAM_MAPPING_LIMITS = {
  batchSize: { min: 1, max: 10_000 },
  maxBatchingWindow: { min: 0, max: 300 },
  parallelizationFactor: { min: 1, max: 10 },
  maxRetryAttempts: { min: 0, max: 10_000 },
  maxRecordAgeSeconds: { min: 60, max: 604_800 },
} as const;

/** Lambda accepts at most 5 filters per event source mapping. */
export const MAX_MAPPING_FILTERS = 5;

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
  // Queue consumers (topic events) set these; a stream consumer sets `streamWiring` instead.
  private readonly queue!: aws.sqs.Queue;
  private readonly deadLetterQueue!: aws.sqs.Queue;
  private readonly subscriptionDeadLetterQueue!: aws.sqs.Queue;
  private readonly queuePolicies!: aws.sqs.QueuePolicy[];
  private readonly subscription!: aws.sns.TopicSubscription;
  private readonly fn: ServiceFunction;
  private readonly mapping!: aws.lambda.EventSourceMapping;
  private readonly alarms!: aws.cloudwatch.MetricAlarm[];
  private readonly streamWiring: StreamWiring | undefined;

  constructor(name: string, args: EventConsumerArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const n = normalizeConsumerArgs(name, args);
    const registration: EventConsumerRegistration = { service: n.service, name: n.name, event: n.event, versions: n.versions, filter: n.filter };
    if (n.stream) registration.stream = n.stream;
    super(EVENT_CONSUMER_TYPE, name, registration, opts);
    this.event = n.event;
    const { platform } = args;
    const parent = { parent: this };
    if (n.stream) {
      // A stream event: the component reads the event's Kinesis stream (the catalog decides, not the caller).
      this.streamWiring = createStreamWiring(this, name, args, n, n.stream);
      this.fn = this.streamWiring.function;
      this.registerOutputs({
        onFailureQueueUrl: this.streamWiring.onFailureQueue.url,
        onFailureQueueArn: this.streamWiring.onFailureQueue.arn,
        functionName: this.fn.name,
      });
      return;
    }
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

    this.fn = consumerFunction(this, name, args, n, { queueArn: this.queue.arn });

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

    const alarmTarget = { alarmTopicArn: platform.alarmTopic.arn, transform: args.transform?.alarm, opts: parent };
    const alarmOn = (childName: string, queue: aws.sqs.Queue, what: string) =>
      queueNotEmptyAlarm(
        childName,
        queue,
        `${what} of ${n.service}/${n.name} (${n.event}) holds messages: look at them, fix the cause, redrive them`,
        alarmTarget,
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

  /** Whether this consumer reads a Kinesis stream (a stream event) rather than a queue. */
  get readsStream(): boolean {
    return this.streamWiring !== undefined;
  }
  get queueUrl(): pulumi.Output<string> {
    return this.queueConsumer("queueUrl").url;
  }
  get queueArn(): pulumi.Output<string> {
    return this.queueConsumer("queueArn").arn;
  }
  /** Where what the consumer gives up on waits: its dead-letter queue, or a stream consumer's on-failure queue. */
  get deadLetterQueueUrl(): pulumi.Output<string> {
    return this.streamWiring ? this.streamWiring.onFailureQueue.url : this.deadLetterQueue.url;
  }
  get function(): ServiceFunction {
    return this.fn;
  }
  /** The child resources of a stream consumer (undefined for a queue consumer). */
  get streamNodes(): StreamWiring | undefined {
    return this.streamWiring;
  }
  private queueConsumer(what: string): aws.sqs.Queue {
    if (this.streamWiring) throw new ConsumerConfigError(`${what}: ${this.event} is a stream event; its consumer reads a Kinesis stream, not a queue`);
    return this.queue;
  }
  /** The raw child resources of a queue consumer (a stream consumer's are `streamNodes`). */
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
    this.queueConsumer("nodes");
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
  /** Set for a consumer of a stream event. */
  stream?: Required<StreamConsumerOptions>;
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
  if (isStreamEvent(args.event)) return normalizeStreamConsumerArgs(label, service, name, args);
  if (args.stream) {
    throw new ConsumerConfigError(`${label}: stream options apply to stream events; ${args.event} is a ${catalog[args.event].ordering} event (a topic), so leave stream out`);
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

/** What a queue consumer has and a stream consumer does not: set, it is a mistake to name. */
const QUEUE_ONLY_OPTIONS = ["maxConcurrency", "maxReceiveCount", "retention", "visibilityTimeout"] as const;

function normalizeStreamConsumerArgs(label: string, service: string, name: string, args: EventConsumerArgs): NormalizedConsumerArgs {
  const event = args.event;
  for (const option of QUEUE_ONLY_OPTIONS) {
    if (args[option] !== undefined) {
      throw new ConsumerConfigError(
        `${label}: ${option} applies to queue consumers; ${event} is a stream event (a Kinesis stream, no queue): its concurrency is shards x stream.parallelizationFactor, its retries stream.maxRetryAttempts and stream.maxRecordAgeSeconds`,
      );
    }
  }
  const limits = STREAM_MAPPING_LIMITS;
  const options = args.stream ?? {};
  const startingPosition = options.startingPosition ?? STREAM_CONSUMER_DEFAULTS.startingPosition;
  if (startingPosition !== "TRIM_HORIZON" && startingPosition !== "LATEST") {
    throw new ConsumerConfigError(`${label}: stream.startingPosition is ${JSON.stringify(startingPosition)}; it must be TRIM_HORIZON or LATEST`);
  }
  const within = (what: string, value: number, bounds: { min: number; max: number }) => integerIn(label, what, value, bounds.min, bounds.max);
  const stream: Required<StreamConsumerOptions> = {
    startingPosition,
    parallelizationFactor: within("stream.parallelizationFactor", options.parallelizationFactor ?? STREAM_CONSUMER_DEFAULTS.parallelizationFactor, limits.parallelizationFactor),
    maxRetryAttempts: within("stream.maxRetryAttempts", options.maxRetryAttempts ?? STREAM_CONSUMER_DEFAULTS.maxRetryAttempts, limits.maxRetryAttempts),
    maxRecordAgeSeconds: within("stream.maxRecordAgeSeconds", options.maxRecordAgeSeconds ?? STREAM_CONSUMER_DEFAULTS.maxRecordAgeSeconds, limits.maxRecordAgeSeconds),
    enhancedFanOut: options.enhancedFanOut ?? STREAM_CONSUMER_DEFAULTS.enhancedFanOut,
  };
  if (stream.parallelizationFactor > 1 && args.function.reservedConcurrency === undefined) {
    throw new ConsumerConfigError(
      `${label}: stream.parallelizationFactor ${stream.parallelizationFactor} runs shards x ${stream.parallelizationFactor} batches at once, unbounded as the stream adds shards: set the function's reservedConcurrency to bound it`,
    );
  }
  const versions = consumerVersions(label, event, args.versions);
  const base = serviceResourceBase(service, name);
  checkName("queue", `${base}${ON_FAILURE_SUFFIX}`);
  const filter = withVersionFilter(normalizeFilter(label, args.filter), versions, publishedVersions(event));
  if (filter) streamFilterCriteria(label, filter);
  return {
    service,
    name,
    base,
    event,
    versions,
    filter,
    batchSize: within("batchSize", args.batchSize ?? STREAM_CONSUMER_DEFAULTS.batchSize, limits.batchSize),
    maxBatchingWindow: within("maxBatchingWindow", args.maxBatchingWindow ?? STREAM_CONSUMER_DEFAULTS.maxBatchingWindow, limits.maxBatchingWindow),
    maxConcurrency: 0,
    maxReceiveCount: 0,
    retention: DLQ_RETENTION_SECONDS,
    visibilityTimeout: 0,
    stream,
  };
}

/** The on-failure queue of a stream consumer is `<stage>-<service>-<name>-on-failure`. */
export const ON_FAILURE_SUFFIX = "-on-failure";

/**
 * The consumer's filter as Lambda's filter criteria for a Kinesis mapping. Lambda filters a Kinesis record on its
 * `data` key: the base64 payload decoded and read as JSON (Lambda developer guide, "Filtering Kinesis events"). The
 * payload is the CloudEvents envelope, so a body filter applies to it as written, and an attribute filter too:
 * `type`, `source`, `correlationid` and `dataversion` are envelope fields of the same names. SNS's and Lambda's
 * filter grammars share the operators the consumers use (exact values, prefix, anything-but, numeric, exists).
 */
export function streamFilterCriteria(
  label: string,
  filter: NonNullable<EventConsumerRegistration["filter"]>,
): { filters: { pattern: string }[] } {
  const { $or, ...rest } = filter.policy as { $or?: Record<string, unknown>[] } & Record<string, unknown>;
  // SNS's top-level $or becomes one Lambda filter per branch (Lambda ORs its filters); the rest applies to each.
  const branches = Array.isArray($or) && $or.length ? $or.map((branch) => ({ ...rest, ...branch })) : [rest];
  if (branches.length > MAX_MAPPING_FILTERS) {
    throw new ConsumerConfigError(`${label}: the filter has ${branches.length} $or branches; a stream consumer's mapping takes at most ${MAX_MAPPING_FILTERS} filters`);
  }
  return { filters: branches.map((branch) => ({ pattern: JSON.stringify({ data: branch }) })) };
}

/**
 * A consumer's function, reading its queue or its stream: idempotent unless the handler says otherwise, allowed to
 * publish failure events (what a retry cannot fix becomes one), named after the consumer.
 */
function consumerFunction(
  component: EventConsumer,
  name: string,
  args: EventConsumerArgs,
  n: NormalizedConsumerArgs,
  source: Pick<ServiceFunctionArgs, "queueArn"> | Pick<ServiceFunctionArgs, "stream">,
): ServiceFunction {
  return new ServiceFunction(
    `${name}-function`,
    {
      ...args.function,
      idempotency: args.function.idempotency ?? true,
      platform: args.platform,
      service: n.service,
      name: n.name,
      ...source,
      failures: true,
      transform: args.transform?.function,
    },
    { parent: component },
  );
}

/** The child resources of a stream consumer. */
export interface StreamWiring {
  onFailureQueue: aws.sqs.Queue;
  onFailureQueuePolicy: aws.sqs.QueuePolicy;
  /** The enhanced fan-out consumer, when asked for. */
  streamConsumer: aws.kinesis.StreamConsumer | undefined;
  function: ServiceFunction;
  mapping: aws.lambda.EventSourceMapping;
  /** IteratorAge and the on-failure queue's depth, on the platform's alarm topic. */
  alarms: aws.cloudwatch.MetricAlarm[];
}

/**
 * A stream event's consumer: Kinesis stream (or its enhanced fan-out consumer) -> event source mapping (bisect on
 * error, bounded retries and record age, partial batch responses by sequence number, parallelization factor,
 * filter criteria) -> the function; the record of a batch Lambda gives up on -> a KMS-encrypted on-failure queue
 * only the function's role may send to; an IteratorAge alarm and an on-failure depth alarm on the alarm topic.
 */
function createStreamWiring(
  component: EventConsumer,
  name: string,
  args: EventConsumerArgs,
  n: NormalizedConsumerArgs,
  stream: Required<StreamConsumerOptions>,
): StreamWiring {
  const { platform } = args;
  const parent = { parent: component };
  const ref: pulumi.Output<StreamRef> = platform.get("eventStreams").apply((streams) => {
    const found = (streams as Partial<Record<EventType, StreamRef>>)[n.event];
    if (!found) {
      throw new ConsumerConfigError(`consumer ${n.service}/${n.name}: the platform has no stream for ${n.event}: deploy the platform with the current catalog`);
    }
    return found;
  });
  const onFailure = onFailureQueue(`${name}-on-failure`, {
    name: `${n.base}${ON_FAILURE_SUFFIX}`,
    encryption: { kmsKeyArn: platform.eventsKeyArn },
    transform: args.transform?.onFailureQueue,
    opts: parent,
  });

  const streamConsumer = stream.enhancedFanOut
    ? new aws.kinesis.StreamConsumer(
        ...applyTransform(args.transform?.streamConsumer, `${name}-stream-consumer`, { name: n.base, streamArn: ref.arn }, { ...parent }),
      )
    : undefined;

  const fn = consumerFunction(component, name, args, n, {
    stream: pulumi.all([ref.arn, onFailure.arn, streamConsumer?.arn]).apply(([streamArn, onFailureQueueArn, consumerArn]) => ({
      streamArn,
      onFailureQueueArn,
      ...(consumerArn ? { streamConsumerArn: consumerArn } : {}),
    })),
  });

  const onFailurePolicy = onFailureQueuePolicyResource(
    `${name}-on-failure-policy`,
    onFailure,
    { functionRoleArn: fn.nodes.role.arn },
    { transform: args.transform?.onFailureQueuePolicy, opts: parent },
  );

  const mapping = new aws.lambda.EventSourceMapping(
    ...applyTransform(
      args.transform?.mapping,
      `${name}-mapping`,
      {
        eventSourceArn: streamConsumer ? streamConsumer.arn : ref.arn,
        functionName: fn.arn,
        startingPosition: stream.startingPosition,
        batchSize: n.batchSize,
        maximumBatchingWindowInSeconds: n.maxBatchingWindow,
        parallelizationFactor: stream.parallelizationFactor,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: stream.maxRetryAttempts,
        maximumRecordAgeInSeconds: stream.maxRecordAgeSeconds,
        functionResponseTypes: ["ReportBatchItemFailures"],
        destinationConfig: { onFailure: { destinationArn: onFailure.arn } },
        filterCriteria: n.filter ? streamFilterCriteria(`consumer ${n.service}/${n.name}`, n.filter) : undefined,
        enabled: true,
      },
      // Lambda checks at creation that the role may send to the destination: its queue policy comes first.
      { ...parent, dependsOn: [onFailurePolicy] },
    ),
  );

  const alarmTarget = { alarmTopicArn: platform.alarmTopic.arn, transform: args.transform?.alarm, opts: parent };
  const label = `${n.service}/${n.name} (${n.event})`;
  const alarms = [
    // Records waiting longer and longer: the consumer falls behind or a batch keeps failing. Alarmed at half the age
    // at which Lambda gives the records up, so someone can act before they go to the on-failure queue.
    iteratorAgeAlarm(
      `${name}-iterator-age-alarm`,
      fn.name,
      {
        thresholdMs: (stream.maxRecordAgeSeconds / 2) * 1000,
        alarmDescription: `${label} reads records older than ${stream.maxRecordAgeSeconds / 2}s: it falls behind or a batch keeps failing; at ${stream.maxRecordAgeSeconds}s records go to its on-failure queue`,
      },
      alarmTarget,
    ),
    queueNotEmptyAlarm(
      `${name}-on-failure-alarm`,
      onFailure,
      `The on-failure queue of ${label} holds records of batches Lambda gave up on: read the shard and sequence range, fetch the records from the stream while its retention lasts, fix the cause, replay them`,
      alarmTarget,
    ),
  ];
  return { onFailureQueue: onFailure, onFailureQueuePolicy: onFailurePolicy, streamConsumer, function: fn, mapping, alarms };
}
