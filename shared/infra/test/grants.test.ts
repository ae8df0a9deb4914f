import { test } from "uvu";
import * as assert from "uvu/assert";
import { grantStatements, type FunctionAccess, type GrantTargets } from "../helpers/grants";
import type { PolicyStatement } from "../helpers/policy-document";

const targets: GrantTargets = {
  logGroupArn: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/dev-billing-bill-order",
  tracing: "Active",
  eventsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1111",
  topicArns: {
    "orders.order-placed": "arn:aws:sns:eu-west-1:123456789012:dev-orders-order-placed",
    "billing.invoice-issued": "arn:aws:sns:eu-west-1:123456789012:dev-billing-invoice-issued",
  },
  failureTopicArn: "arn:aws:sns:eu-west-1:123456789012:dev-platform-event-failed",
  dataTableArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-data",
  dataIndexNames: ["gsi1", "gsi2"],
  idempotencyTableArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-idempotency",
};

const nothing: FunctionAccess = { service: "billing", publishes: [], failures: false, data: "none", idempotency: false };

const bySid = (statements: PolicyStatement[]) => Object.fromEntries(statements.map((s) => [s.Sid, s]));

test("a function that does nothing may only write its own logs and send traces", () => {
  assert.equal(grantStatements(nothing, targets), [
    {
      Sid: "WriteOwnLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: `${targets.logGroupArn}:*`,
    },
    { Sid: "SendTraces", Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" },
  ]);
});

test("without active tracing there is no X-Ray grant, so no wildcard resource at all", () => {
  const statements = grantStatements(nothing, { ...targets, tracing: "PassThrough" });
  assert.equal(statements.map((s) => s.Sid), ["WriteOwnLogs"]);
});

test("a consumer gets its queue, the failure topic, the events key, its items and its idempotency records", () => {
  const statements = bySid(
    grantStatements(
      { service: "billing", publishes: ["billing.invoice-issued"], failures: true, data: "read-write", idempotency: true },
      { ...targets, queueArn: "arn:aws:sqs:eu-west-1:123456789012:dev-billing-bill-order" },
    ),
  );
  assert.equal(Object.keys(statements), [
    "WriteOwnLogs",
    "SendTraces",
    "ConsumeOwnQueue",
    "PublishOwnedEvents",
    "PublishFailureEvents",
    "EncryptForEventTopics",
    "OwnItems",
    "QueryOwnIndexes",
    "OwnIdempotencyRecords",
  ]);
  assert.equal(statements.ConsumeOwnQueue?.Action, [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
  ]);
  assert.equal(statements.ConsumeOwnQueue?.Resource, "arn:aws:sqs:eu-west-1:123456789012:dev-billing-bill-order");
  assert.equal(statements.PublishOwnedEvents?.Resource, targets.topicArns["billing.invoice-issued"]);
  assert.equal(statements.PublishFailureEvents?.Resource, targets.failureTopicArn);
  assert.equal(statements.EncryptForEventTopics, {
    Sid: "EncryptForEventTopics",
    Effect: "Allow",
    Action: ["kms:GenerateDataKey", "kms:Decrypt"],
    Resource: targets.eventsKeyArn,
  });
  assert.equal(statements.OwnItems?.Resource, targets.dataTableArn);
  // Null: false, or ForAllValues would pass a request that carries no leading keys at all (a Scan).
  const ownItems = { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$billing#*"] }, Null: { "dynamodb:LeadingKeys": "false" } };
  assert.equal(statements.OwnItems?.Condition, ownItems);
  assert.equal(statements.QueryOwnIndexes?.Condition, ownItems);
  assert.equal(statements.QueryOwnIndexes?.Resource, [`${targets.dataTableArn}/index/gsi1`, `${targets.dataTableArn}/index/gsi2`]);
  assert.equal(statements.QueryOwnIndexes?.Action, "dynamodb:Query");
  assert.equal(statements.OwnIdempotencyRecords, {
    Sid: "OwnIdempotencyRecords",
    Effect: "Allow",
    Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    Resource: targets.idempotencyTableArn,
    Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["billing#*"] }, Null: { "dynamodb:LeadingKeys": "false" } },
  });
});

test("data access never includes Scan, and read access has no writes", () => {
  const readWrite = bySid(grantStatements({ ...nothing, data: "read-write" }, targets)).OwnItems?.Action as string[];
  const read = bySid(grantStatements({ ...nothing, data: "read" }, targets)).OwnItems?.Action as string[];
  assert.not.ok(readWrite.includes("dynamodb:Scan"));
  assert.not.ok(read.includes("dynamodb:Scan"));
  assert.equal(read, ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]);
  assert.ok(readWrite.includes("dynamodb:PutItem") && readWrite.includes("dynamodb:DeleteItem"));
});

test("publishing several events lists exactly those topics; the key grant comes with any publish", () => {
  const statements = bySid(grantStatements({ ...nothing, publishes: ["orders.order-placed", "billing.invoice-issued"] }, targets));
  assert.equal(statements.PublishOwnedEvents?.Resource, [targets.topicArns["orders.order-placed"], targets.topicArns["billing.invoice-issued"]]);
  assert.ok(statements.EncryptForEventTopics);
  assert.not.ok(statements.PublishFailureEvents);
});

test("a published event without a platform topic is an error, not a silent gap", () => {
  assert.throws(() => grantStatements({ ...nothing, publishes: ["orders.order-status-changed"] }, targets), /no topic for orders.order-status-changed/);
});

test("a stream consumer reads its own stream only, as Lambda's guide lists the actions, and decrypts only its records", () => {
  const streamArn = "arn:aws:kinesis:eu-west-1:123456789012:stream/dev-orders-order-line-recorded";
  const onFailureQueueArn = "arn:aws:sqs:eu-west-1:123456789012:dev-billing-on-order-line-recorded-on-failure";
  const statements = grantStatements({ ...nothing, failures: true }, { ...targets, stream: { streamArn, onFailureQueueArn } });
  const sids = bySid(statements);
  assert.equal(sids.ReadOwnStream, {
    Sid: "ReadOwnStream",
    Effect: "Allow",
    Action: ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
    Resource: streamArn,
  });
  // no ListStreams (it would need "*"), no SubscribeToShard without an enhanced fan-out consumer
  const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  assert.not.ok(actions.includes("kinesis:ListStreams"));
  assert.not.ok(actions.includes("kinesis:SubscribeToShard"));
  assert.equal(sids.DecryptOwnStream, {
    Sid: "DecryptOwnStream",
    Effect: "Allow",
    Action: "kms:Decrypt",
    Resource: targets.eventsKeyArn,
    Condition: { StringEquals: { "kms:EncryptionContext:aws:kinesis:arn": streamArn } },
  });
  assert.equal(sids.SendStreamFailureRecords, { Sid: "SendStreamFailureRecords", Effect: "Allow", Action: "sqs:SendMessage", Resource: onFailureQueueArn });
  assert.equal(sids.EncryptStreamFailureRecords?.Condition, { StringEquals: { "kms:EncryptionContext:aws:sqs:arn": onFailureQueueArn } });
  assert.not.ok(statements.some((s) => s.Resource === "*" && s.Sid !== "SendTraces"), "no other wildcard resource");

  // through an enhanced fan-out consumer: SubscribeToShard on that consumer only
  const streamConsumerArn = `${streamArn}/consumer/dev-billing-on-order-line-recorded:1767225600`;
  const fanOut = bySid(grantStatements(nothing, { ...targets, stream: { streamArn, onFailureQueueArn, streamConsumerArn } }));
  assert.equal(fanOut.ReadOwnStreamConsumer, { Sid: "ReadOwnStreamConsumer", Effect: "Allow", Action: ["kinesis:SubscribeToShard"], Resource: streamConsumerArn });
});

test.run();
