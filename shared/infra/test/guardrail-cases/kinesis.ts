import { ACCOUNT, fn, fnArn, queueArn, resource, type RuleCases } from "./fixtures";

// Kinesis streams (shared/infra/guardrails/rules/kinesis.ts) and the event source mappings that read them (the
// stream-mapping family, rules/stream-mappings.ts).

const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1111`;
const streamArn = `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/dev-orders-order-line-recorded`;
const alarmTopicArn = `arn:aws:sns:eu-west-1:${ACCOUNT}:dev-platform-alarms`;

const stream = (inputs: Record<string, any> = {}, stack = "dev") =>
  resource(
    "aws:kinesis/stream:Stream",
    "stream-orders.order-line-recorded",
    { name: "dev-orders-order-line-recorded", encryptionType: "KMS", kmsKeyId: keyArn, retentionPeriod: 24, ...inputs },
    { arn: streamArn },
    stack,
  );

/** A mapping as the EventConsumer makes it for a stream event. */
const streamMapping = (inputs: Record<string, any> = {}) =>
  resource("aws:lambda/eventSourceMapping:EventSourceMapping", "on-line-recorded-mapping", {
    eventSourceArn: streamArn,
    functionName: fnArn("dev-billing-on-line-recorded"),
    startingPosition: "TRIM_HORIZON",
    batchSize: 100,
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: 10,
    maximumRecordAgeInSeconds: 3600,
    parallelizationFactor: 1,
    functionResponseTypes: ["ReportBatchItemFailures"],
    destinationConfig: { onFailure: { destinationArn: queueArn("dev-billing-on-line-recorded-on-failure") } },
    ...inputs,
  });
const consumerFn = (inputs: Record<string, any> = {}) => fn("dev-billing-on-line-recorded", inputs);
const iteratorAgeAlarm = (inputs: Record<string, any> = {}) =>
  resource("aws:cloudwatch/metricAlarm:MetricAlarm", "on-line-recorded-iterator-age-alarm", {
    namespace: "AWS/Lambda",
    metricName: "IteratorAge",
    dimensions: { FunctionName: "dev-billing-on-line-recorded" },
    statistic: "Maximum",
    threshold: 1_800_000,
    comparisonOperator: "GreaterThanThreshold",
    alarmActions: [alarmTopicArn],
    ...inputs,
  });
/** A mapping on an SQS queue: none of these rules' business. */
const queueMapping = (inputs: Record<string, any> = {}) =>
  resource("aws:lambda/eventSourceMapping:EventSourceMapping", "queue-mapping", {
    eventSourceArn: queueArn("dev-billing-on-order-placed"),
    functionName: fnArn("dev-billing-on-order-placed"),
    ...inputs,
  });
const fanOutArn = `${streamArn}/consumer/dev-billing-on-line-recorded:1767225600`;

export const cases: RuleCases = {
  "kinesis-stream-encrypted": {
    good: [[stream()], [stream({ kmsKeyId: "alias/dev-events" })]],
    bad: [
      [[stream({ encryptionType: "NONE", kmsKeyId: undefined })], /stream stream-orders\.order-line-recorded is not encrypted \(encryptionType NONE\)/],
      [[stream({ encryptionType: undefined, kmsKeyId: undefined })], /is not encrypted \(encryptionType unset\)/],
      [[stream({ kmsKeyId: "alias/aws/kinesis" })], /is encrypted with alias\/aws\/kinesis, not a customer managed key/],
      [[stream({ kmsKeyId: undefined })], /is encrypted with no key/],
    ],
  },
  "kinesis-stream-retention": {
    good: [[stream()], [stream({ retentionPeriod: 168 }, "prod")], [stream({ retentionPeriod: 8760 })]],
    bad: [
      [[stream({ retentionPeriod: undefined })], /stream stream-orders\.order-line-recorded sets no retentionPeriod/],
      [[stream({ retentionPeriod: 12 })], /keeps records 12 hours; Kinesis accepts 24 to 8760/],
      [[stream({ retentionPeriod: 9000 })], /keeps records 9000 hours; Kinesis accepts 24 to 8760/],
      [[stream({ retentionPeriod: 24 }, "prod")], /keeps records 24 hours in production stage prod; at least 168 hours/],
    ],
  },
  "kinesis-mapping-on-failure-destination": {
    good: [[streamMapping()], [streamMapping({ eventSourceArn: fanOutArn })], [queueMapping()]],
    bad: [
      [[streamMapping({ destinationConfig: undefined })], /mapping on-line-recorded-mapping on a Kinesis stream has no on-failure destination/],
      [[streamMapping({ eventSourceArn: fanOutArn, destinationConfig: { onFailure: {} } })], /has no on-failure destination/],
      [
        [streamMapping({ destinationConfig: { onFailure: { destinationArn: `arn:aws:events:eu-west-1:${ACCOUNT}:event-bus/default` } } })],
        /on a Kinesis stream sends failed batches to arn:aws:events:.*: Lambda accepts only an SQS queue, an SNS topic or an S3 bucket/,
      ],
    ],
  },
  "kinesis-mapping-bisect": {
    good: [[streamMapping()], [queueMapping()]],
    bad: [
      [[streamMapping({ bisectBatchOnFunctionError: false })], /mapping on-line-recorded-mapping on a Kinesis stream does not bisect a failing batch$/],
      [[streamMapping({ bisectBatchOnFunctionError: undefined, functionResponseTypes: [] })], /does not bisect a failing batch and does not report partial batch failures/],
      [[streamMapping({ functionResponseTypes: undefined })], /on a Kinesis stream does not report partial batch failures/],
    ],
  },
  "kinesis-mapping-bounded-retries": {
    good: [[streamMapping()], [streamMapping({ maximumRetryAttempts: 0, maximumRecordAgeInSeconds: 60 })], [queueMapping()]],
    bad: [
      [[streamMapping({ maximumRetryAttempts: -1 })], /retries without bound: maximumRetryAttempts is -1 \(infinite\)/],
      [[streamMapping({ maximumRetryAttempts: undefined, maximumRecordAgeInSeconds: undefined })], /maximumRetryAttempts is unset \(infinite\); maximumRecordAgeInSeconds is unset \(infinite\)/],
      [[streamMapping({ maximumRecordAgeInSeconds: -1 })], /maximumRecordAgeInSeconds is -1 \(infinite\)/],
    ],
  },
  "kinesis-mapping-iterator-age-alarm": {
    good: [[consumerFn(), streamMapping(), iteratorAgeAlarm()], [consumerFn(), queueMapping()]],
    bad: [
      [[consumerFn(), streamMapping()], /mapping on-line-recorded-mapping on a Kinesis stream: function dev-billing-on-line-recorded has no IteratorAge alarm with an action/],
      [[consumerFn(), streamMapping(), iteratorAgeAlarm({ alarmActions: [] })], /has no IteratorAge alarm with an action/],
      // an alarm on another function does not count
      [[consumerFn(), streamMapping(), iteratorAgeAlarm({ dimensions: { FunctionName: "dev-billing-other" } })], /has no IteratorAge alarm/],
    ],
  },
  "kinesis-mapping-bounded-concurrency": {
    good: [
      [consumerFn(), streamMapping()],
      [consumerFn({ reservedConcurrentExecutions: 20 }), streamMapping({ parallelizationFactor: 10 })],
      [consumerFn(), queueMapping()],
    ],
    bad: [
      [[consumerFn(), streamMapping({ parallelizationFactor: 4 })], /runs 4 batches per shard, and function dev-billing-on-line-recorded has no reserved concurrency/],
      [[consumerFn(), streamMapping({ parallelizationFactor: undefined })], /sets parallelizationFactor unset; set 1 to 10/],
      [[consumerFn({ reservedConcurrentExecutions: 5 }), streamMapping({ parallelizationFactor: 11 })], /sets parallelizationFactor 11; set 1 to 10/],
    ],
  },
};
