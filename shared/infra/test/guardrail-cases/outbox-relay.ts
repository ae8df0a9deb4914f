import { ACCOUNT, fn, fnArn, queueArn, resource, topicArn, type RuleCases } from "./fixtures";

const streamArn = `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/dev-orders-outbox/stream/2026-01-01T00:00:00.000`;
const relay = fn("dev-orders-outbox-relay");
const filterCriteria = { filters: [{ pattern: JSON.stringify({ eventName: ["INSERT"] }) }] };
/** A mapping on orders' outbox table's stream as the OutboxRelay makes it, with `changes` applied (undefined removes). */
const mapping = (changes: Record<string, unknown> = {}) => {
  const inputs: Record<string, unknown> = {
    eventSourceArn: streamArn,
    functionName: fnArn("dev-orders-outbox-relay"),
    startingPosition: "TRIM_HORIZON",
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: 10,
    maximumRecordAgeInSeconds: 3600,
    functionResponseTypes: ["ReportBatchItemFailures"],
    destinationConfig: { onFailure: { destinationArn: queueArn("dev-orders-outbox-relay-failed") } },
    filterCriteria,
    ...changes,
  };
  for (const [key, value] of Object.entries(inputs)) if (value === undefined) delete inputs[key];
  return resource("aws:lambda/eventSourceMapping:EventSourceMapping", "relay-mapping", inputs);
};
/** The same settings on an SQS queue: not a stream, none of these rules apply. */
const queueMapping = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "queue-mapping", {
  eventSourceArn: queueArn("dev-billing-on-order-placed"),
  functionName: fnArn("dev-billing-on-order-placed"),
  functionResponseTypes: ["ReportBatchItemFailures"],
});
const iteratorAlarm = (functionName: string, actions: string[] = [topicArn]) =>
  resource("aws:cloudwatch/metricAlarm:MetricAlarm", `${functionName}-iterator-age`, {
    namespace: "AWS/Lambda",
    metricName: "IteratorAge",
    dimensions: { FunctionName: functionName },
    comparisonOperator: "GreaterThanThreshold",
    threshold: 60000,
    alarmActions: actions,
  });

export const cases: RuleCases = {
  "dynamodb-stream-mapping-filter": {
    good: [[mapping()], [queueMapping]],
    bad: [
      [[mapping({ filterCriteria: undefined })], /mapping relay-mapping on a DynamoDB stream has no filter criteria/],
      [[mapping({ filterCriteria: { filters: [{ pattern: " " }] } })], /has no filter criteria/],
    ],
  },
  "dynamodb-stream-mapping-bisect": {
    good: [[mapping()], [queueMapping]],
    bad: [
      [[mapping({ bisectBatchOnFunctionError: undefined })], /mapping relay-mapping on a DynamoDB stream does not bisect a failing batch/],
      [[mapping({ bisectBatchOnFunctionError: false })], /does not bisect/],
      // one family with Kinesis: a relay that does not report partial batch failures retries the records before the bad one
      [[mapping({ functionResponseTypes: undefined })], /mapping relay-mapping on a DynamoDB stream does not report partial batch failures/],
    ],
  },
  "dynamodb-stream-mapping-bounded-retries": {
    good: [[mapping()], [mapping({ maximumRetryAttempts: 0 })], [queueMapping]],
    bad: [
      [[mapping({ maximumRetryAttempts: undefined })], /retries without bound: maximumRetryAttempts is unset \(infinite\)/],
      [[mapping({ maximumRetryAttempts: -1 })], /maximumRetryAttempts is -1/],
      [[mapping({ maximumRecordAgeInSeconds: -1 })], /maximumRecordAgeInSeconds is -1/],
    ],
  },
  "dynamodb-stream-mapping-on-failure-destination": {
    good: [[mapping()], [queueMapping]],
    bad: [
      [[mapping({ destinationConfig: undefined })], /mapping relay-mapping on a DynamoDB stream has no on-failure destination/],
      // Lambda sends a stream's failed batches only to SQS, SNS or S3: a function ARN is refused
      [
        [mapping({ destinationConfig: { onFailure: { destinationArn: fnArn("dev-orders-dead-letters") } } })],
        /sends failed batches to arn:aws:lambda:.*: Lambda accepts only an SQS queue, an SNS topic or an S3 bucket/,
      ],
    ],
  },
  "dynamodb-stream-mapping-iterator-age-alarm": {
    good: [[relay, mapping(), iteratorAlarm("dev-orders-outbox-relay")], [queueMapping]],
    bad: [
      [[relay, mapping()], /function dev-orders-outbox-relay has no IteratorAge alarm with an action/],
      [[relay, mapping(), iteratorAlarm("dev-orders-outbox-relay", [])], /no IteratorAge alarm with an action/],
      [[relay, mapping(), iteratorAlarm("dev-billing-outbox-relay")], /no IteratorAge alarm/],
    ],
  },
};
