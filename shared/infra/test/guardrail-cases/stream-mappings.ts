import { ACCOUNT, denyWithoutTls, doc, fn, fnArn, queue, queueArn, queueUrl, resource, type RuleCases } from "./fixtures";

// The stream-mapping family's rules added with it (shared/infra/guardrails/rules/stream-mappings.ts): the parallelization
// factor for DynamoDB Streams (Kinesis had it), and the settings Lambda accepts, for both sources. The family's
// older names keep their cases in outbox-relay.ts and kinesis.ts, unchanged.

const dynamoStreamArn = `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/dev-data/stream/2026-01-01T00:00:00.000`;
const kinesisStreamArn = `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/dev-ledger-entry-posted`;

/** A stream mapping as the OutboxRelay / EventConsumer make it; `undefined` in `changes` removes a setting. */
const mapping = (eventSourceArn: string, target: string, changes: Record<string, unknown> = {}) => {
  const inputs: Record<string, unknown> = {
    eventSourceArn,
    functionName: fnArn(target),
    startingPosition: "TRIM_HORIZON",
    batchSize: 100,
    maximumBatchingWindowInSeconds: 0,
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: 10,
    maximumRecordAgeInSeconds: 3600,
    parallelizationFactor: 1,
    functionResponseTypes: ["ReportBatchItemFailures"],
    destinationConfig: { onFailure: { destinationArn: queueArn(`${target}-failed`) } },
    ...changes,
  };
  for (const [key, value] of Object.entries(inputs)) if (value === undefined) delete inputs[key];
  return resource("aws:lambda/eventSourceMapping:EventSourceMapping", `${target}-mapping`, inputs);
};
const relayMapping = (changes: Record<string, unknown> = {}) => mapping(dynamoStreamArn, "dev-orders-outbox-relay", changes);
const kinesisMapping = (changes: Record<string, unknown> = {}) => mapping(kinesisStreamArn, "dev-ledger-on-entry-posted", changes);
const relay = (inputs: Record<string, unknown> = {}) => fn("dev-orders-outbox-relay", inputs);
/** The same settings on an SQS queue: not a stream, none of these rules apply. */
const queueMapping = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "queue-mapping", {
  eventSourceArn: queueArn("dev-billing-on-order-placed"),
  functionName: fnArn("dev-billing-on-order-placed"),
  batchSize: 10,
});

// A function with its role and the role's inline policy, as ServiceFunction makes them.
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}-role`;
const role = (name: string) => resource("aws:iam/role:Role", `${name}-role`, { name: `${name}-role` }, { arn: roleArn(name) });
const rolePolicy = (name: string, ...statements: Record<string, unknown>[]) =>
  resource("aws:iam/rolePolicy:RolePolicy", `${name}-policy`, { role: `${name}-role`, policy: doc(...(statements as never[])) });
const sendTo = (arn: string, action = "sqs:SendMessage", effect = "Allow") => ({ Sid: "SendToFailureDestination", Effect: effect, Action: action, Resource: arn });
/** A function, its role and policy, and its mapping on `source`. */
const withRole = (source: "dynamodb" | "kinesis", statements: Record<string, unknown>[], changes: Record<string, unknown> = {}) => {
  const name = source === "dynamodb" ? "dev-orders-outbox-relay" : "dev-ledger-on-entry-posted";
  return [
    fn(name, { role: roleArn(name) }),
    role(name),
    rolePolicy(name, ...statements),
    source === "dynamodb" ? relayMapping(changes) : kinesisMapping(changes),
  ];
};
const relayFailed = queueArn("dev-orders-outbox-relay-failed");
const consumerFailed = queueArn("dev-ledger-on-entry-posted-failed");

// The on-failure queue in the same stack, as onFailureQueue / onFailureQueuePolicy make it: the events key, only the
// function's role sends. `sqs-managed` and `iam-allowed` are what the outbox relay's queue was before (SSE-SQS, a
// TLS-only policy letting any principal with IAM permission send).
const eventsKey = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0000-events`;
const failedQueue = (name: string, encryption: "events-key" | "sqs-managed" = "events-key") =>
  queue(`${name}-failed`, encryption === "events-key" ? { sqsManagedSseEnabled: undefined, kmsMasterKeyId: eventsKey, kmsDataKeyReusePeriodSeconds: 300 } : {});
const failedQueuePolicy = (name: string, senders: "role" | "iam-allowed" = "role") => {
  const arn = queueArn(`${name}-failed`);
  const statements = [
    ...(senders === "role"
      ? [
          { Sid: "FunctionRoleSends", Effect: "Allow", Principal: { AWS: roleArn(name) }, Action: "sqs:SendMessage", Resource: arn },
          { Sid: "DenyOtherSenders", Effect: "Deny", Principal: "*", Action: "sqs:SendMessage", Resource: arn, Condition: { ArnNotEquals: { "aws:PrincipalArn": roleArn(name) } } },
        ]
      : []),
    denyWithoutTls("sqs:*", arn),
  ];
  return resource("aws:sqs/queuePolicy:QueuePolicy", `${name}-failed-policy`, { queueUrl: queueUrl(`${name}-failed`), policy: doc(...(statements as never[])) });
};
const keyFor = (queue: string, actions: string[] = ["kms:GenerateDataKey", "kms:Decrypt"]) => ({
  Sid: "EncryptFailureRecords",
  Effect: "Allow",
  Action: actions,
  Resource: eventsKey,
  Condition: { StringEquals: { "kms:EncryptionContext:aws:sqs:arn": queue } },
});
/** withRole plus the on-failure queue and its policy in the stack. */
const withQueue = (
  source: "dynamodb" | "kinesis",
  statements: Record<string, unknown>[],
  options: { encryption?: "events-key" | "sqs-managed"; senders?: "role" | "iam-allowed" } = {},
) => {
  const name = source === "dynamodb" ? "dev-orders-outbox-relay" : "dev-ledger-on-entry-posted";
  return [...withRole(source, statements), failedQueue(name, options.encryption), failedQueuePolicy(name, options.senders)];
};

export const cases: RuleCases = {
  "dynamodb-stream-mapping-on-failure-grant": {
    good: [
      withRole("dynamodb", [sendTo(relayFailed)]),
      withRole("dynamodb", [sendTo(queueArn("dev-orders-*"), "sqs:Send*")]),
      withRole("dynamodb", [sendTo(`arn:aws:sns:eu-west-1:${ACCOUNT}:dev-orders-failed`, "sns:Publish")], {
        destinationConfig: { onFailure: { destinationArn: `arn:aws:sns:eu-west-1:${ACCOUNT}:dev-orders-failed` } },
      }),
      [queueMapping],
      // the queue in the stack: the events key the role may use for it, only the role sends
      withQueue("dynamodb", [sendTo(relayFailed), keyFor(relayFailed)]),
      withQueue("dynamodb", [sendTo(relayFailed), { ...keyFor(relayFailed), Action: "kms:*", Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/*` }]),
    ],
    bad: [
      [withRole("dynamodb", []), /mapping dev-orders-outbox-relay-mapping on a DynamoDB stream: the role of function dev-orders-outbox-relay may not sqs:SendMessage to arn:aws:sqs:.*dev-orders-outbox-relay-failed/],
      // the relay's queue as it was: SSE-SQS, and any principal with IAM permission may send
      [
        withQueue("dynamodb", [sendTo(relayFailed)], { encryption: "sqs-managed", senders: "iam-allowed" }),
        /mapping dev-orders-outbox-relay-mapping on a DynamoDB stream \(function dev-orders-outbox-relay\): its queue dev-orders-outbox-relay-failed is encrypted with SQS-managed keys \(SSE-SQS\), not a customer managed key; its queue dev-orders-outbox-relay-failed's policy lets principals other than the role send/,
      ],
      [withQueue("dynamodb", [sendTo(relayFailed), keyFor(relayFailed)], { senders: "iam-allowed" }), /policy lets principals other than the role send \(no Deny of sqs:SendMessage when aws:PrincipalArn is not arn:aws:iam::\d+:role\/dev-orders-outbox-relay-role\)$/],
      // a KMS-encrypted queue the role may not use the key for: Lambda's send fails
      [withQueue("dynamodb", [sendTo(relayFailed)]), /the role may not kms:GenerateDataKey or kms:Decrypt on its queue's key arn:aws:kms:\S+key\/0000-events, so Lambda cannot send to it$/],
      [withQueue("dynamodb", [sendTo(relayFailed), keyFor(relayFailed, ["kms:GenerateDataKey"])]), /the role may not kms:Decrypt on its queue's key/],
      [
        withQueue("dynamodb", [sendTo(relayFailed), keyFor(relayFailed), { Effect: "Deny", Action: "kms:Decrypt", Resource: "*" }]),
        /the role may not kms:Decrypt on its queue's key/,
      ],
      // the AWS managed key of SQS is not a customer managed key
      [
        [...withRole("dynamodb", [sendTo(relayFailed), keyFor(relayFailed)]), queue("dev-orders-outbox-relay-failed", { sqsManagedSseEnabled: undefined, kmsMasterKeyId: "alias/aws/sqs" }), failedQueuePolicy("dev-orders-outbox-relay")],
        /its queue dev-orders-outbox-relay-failed is encrypted with alias\/aws\/sqs, not a customer managed key$/,
      ],
      [withRole("dynamodb", [sendTo(queueArn("dev-billing-outbox-relay-failed"))]), /may not sqs:SendMessage/],
      [withRole("dynamodb", [sendTo(relayFailed), sendTo(relayFailed, "sqs:*", "Deny")]), /may not sqs:SendMessage/],
      // an SNS destination needs sns:Publish, not the queue's action
      [
        withRole("dynamodb", [sendTo(`arn:aws:sns:eu-west-1:${ACCOUNT}:dev-orders-failed`)], { destinationConfig: { onFailure: { destinationArn: `arn:aws:sns:eu-west-1:${ACCOUNT}:dev-orders-failed` } } }),
        /may not sns:Publish to arn:aws:sns:/,
      ],
      [[relayMapping()], /its function arn:aws:lambda:.*dev-orders-outbox-relay is not in this stack/],
    ],
  },
  "kinesis-mapping-on-failure-grant": {
    good: [withRole("kinesis", [sendTo(consumerFailed)]), [queueMapping], withQueue("kinesis", [sendTo(consumerFailed), keyFor(consumerFailed)])],
    bad: [
      [withQueue("kinesis", [sendTo(consumerFailed), keyFor(consumerFailed)], { encryption: "sqs-managed", senders: "iam-allowed" }), /on a Kinesis stream \(function dev-ledger-on-entry-posted\): its queue dev-ledger-on-entry-posted-failed is encrypted with SQS-managed keys/],
      [withRole("kinesis", [{ ...sendTo(consumerFailed), Action: "sqs:ReceiveMessage" }]), /mapping dev-ledger-on-entry-posted-mapping on a Kinesis stream: the role of function dev-ledger-on-entry-posted may not sqs:SendMessage/],
    ],
  },
  "dynamodb-stream-mapping-bounded-concurrency": {
    good: [[relay(), relayMapping()], [relay({ reservedConcurrentExecutions: 4 }), relayMapping({ parallelizationFactor: 4 })], [queueMapping]],
    bad: [
      [[relay(), relayMapping({ parallelizationFactor: 4 })], /mapping dev-orders-outbox-relay-mapping on a DynamoDB stream runs 4 batches per shard, and function dev-orders-outbox-relay has no reserved concurrency/],
      [[relay(), relayMapping({ parallelizationFactor: undefined })], /on a DynamoDB stream sets parallelizationFactor unset; set 1 to 10/],
      [[relay(), relayMapping({ parallelizationFactor: 0 })], /sets parallelizationFactor 0; set 1 to 10/],
    ],
  },
  "dynamodb-stream-mapping-settings-accepted": {
    good: [[relayMapping()], [relayMapping({ startingPosition: "LATEST", maximumRetryAttempts: -1, maximumRecordAgeInSeconds: -1 })], [queueMapping]],
    bad: [
      [[relayMapping({ startingPosition: undefined })], /mapping dev-orders-outbox-relay-mapping on a DynamoDB stream: sets no startingPosition/],
      // AT_TIMESTAMP is Kinesis's: Lambda refuses it on a DynamoDB stream.
      [[relayMapping({ startingPosition: "AT_TIMESTAMP", startingPositionTimestamp: "2026-01-01T00:00:00Z" })], /startingPosition AT_TIMESTAMP is not one of TRIM_HORIZON, LATEST/],
      [[relayMapping({ batchSize: 20_000 })], /batchSize 20000 is outside 1 to 10000/],
      [[relayMapping({ maximumRecordAgeInSeconds: 30 })], /maximumRecordAgeInSeconds 30 is outside -1 or 60 to 604800/],
      [[relayMapping({ maximumRetryAttempts: 10_001 })], /maximumRetryAttempts 10001 is outside -1 to 10000/],
      [[relayMapping({ tumblingWindowInSeconds: 901 })], /tumblingWindowInSeconds 901 is outside 0 to 900/],
    ],
  },
  "kinesis-mapping-settings-accepted": {
    good: [
      [kinesisMapping()],
      [kinesisMapping({ startingPosition: "AT_TIMESTAMP", startingPositionTimestamp: "2026-01-01T00:00:00Z", maximumBatchingWindowInSeconds: 300 })],
      [queueMapping],
    ],
    bad: [
      [[kinesisMapping({ startingPosition: undefined })], /mapping dev-ledger-on-entry-posted-mapping on a Kinesis stream: sets no startingPosition/],
      [[kinesisMapping({ startingPosition: "AT_TIMESTAMP" })], /startingPosition AT_TIMESTAMP without a startingPositionTimestamp/],
      [[kinesisMapping({ startingPosition: "EARLIEST" })], /startingPosition EARLIEST is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP/],
      [[kinesisMapping({ maximumBatchingWindowInSeconds: 301 })], /maximumBatchingWindowInSeconds 301 is outside 0 to 300/],
      [[kinesisMapping({ parallelizationFactor: 11, batchSize: 0 })], /batchSize 0 is outside 1 to 10000; parallelizationFactor 11 is outside 1 to 10/],
    ],
  },
};
