// A consumer of a stream event (ordering "stream"): the EventConsumer reads the event's Kinesis stream through an
// event source mapping, under Pulumi's mocks with the real platform program's outputs.
//
//   node --import tsx shared/infra/test/stream-consumer.test.ts
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog, ENV, streamEventTypes, type EventType } from "../../contract";
import { ConsumerConfigError, EVENT_CONSUMER_TYPE, EventConsumer, type EventConsumerArgs } from "../event-consumer";
import { ServiceFunction } from "../service-function";
import { platformOutputs, policyDocument, underMocks } from "./harness";

const HANDLER = join(__dirname, "fixtures", "handlers", "echo.ts");
const SERVICE = "stream-test";
/** The catalog's stream event (the example the README describes). */
const EVENT: EventType = streamEventTypes[0]!;
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

const ESM = "aws:lambda/eventSourceMapping:EventSourceMapping";
const Q = "aws:sqs/queue:Queue";

function build(args: Partial<EventConsumerArgs> = {}, name = "on-line") {
  return underMocks(
    (p) => new EventConsumer(name, { platform: p, service: SERVICE, event: EVENT, function: { handler: HANDLER }, ...args }),
    { platform },
  );
}

async function refusal(args: Partial<EventConsumerArgs>): Promise<string> {
  try {
    const { result } = await build(args);
    return `accepted: ${String(result)}`;
  } catch (err) {
    assert.instance(err, ConsumerConfigError);
    return (err as Error).message;
  }
}

test("the catalog has a stream event, and the platform a stream for it and no topic", () => {
  assert.ok(EVENT, "no event with ordering \"stream\" in the catalog");
  assert.ok(platform.eventStreams[EVENT]?.arn.startsWith("arn:aws:kinesis:"), JSON.stringify(platform.eventStreams));
  assert.is(platform.eventTopics[EVENT], undefined);
});

test("wiring: the stream -> an event source mapping with bounded retries and age, bisect, partial batch responses -> the function", async () => {
  const { mocks } = await build();
  const stream = platform.eventStreams[EVENT];
  const mapping = mocks.one(ESM, "on-line-mapping");
  const fn = mocks.one("aws:lambda/function:Function", "on-line-function-function");
  const onFailure = mocks.one(Q, "on-line-on-failure");
  assert.equal(mapping.inputs.eventSourceArn, stream.arn);
  assert.equal(mapping.inputs.functionName, fn.state.arn);
  assert.equal(
    {
      startingPosition: mapping.inputs.startingPosition,
      batchSize: mapping.inputs.batchSize,
      maximumBatchingWindowInSeconds: mapping.inputs.maximumBatchingWindowInSeconds,
      parallelizationFactor: mapping.inputs.parallelizationFactor,
      bisectBatchOnFunctionError: mapping.inputs.bisectBatchOnFunctionError,
      maximumRetryAttempts: mapping.inputs.maximumRetryAttempts,
      maximumRecordAgeInSeconds: mapping.inputs.maximumRecordAgeInSeconds,
      functionResponseTypes: mapping.inputs.functionResponseTypes,
      destinationConfig: mapping.inputs.destinationConfig,
    },
    {
      startingPosition: "TRIM_HORIZON",
      batchSize: 100,
      maximumBatchingWindowInSeconds: 0,
      parallelizationFactor: 1,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 10,
      maximumRecordAgeInSeconds: 3600,
      functionResponseTypes: ["ReportBatchItemFailures"],
      destinationConfig: { onFailure: { destinationArn: onFailure.state.arn } },
    },
  );
  // no SNS subscription, no consumer queue: only the on-failure queue
  assert.equal(mocks.byType("aws:sns/topicSubscription:TopicSubscription"), []);
  assert.equal(mocks.byType(Q).map((q) => q.name), ["on-line-on-failure"]);
  assert.is(mapping.inputs.scalingConfig, undefined, "maximum concurrency is an SQS setting");
  // the component registers how it reads the stream (the local stage and the catalog document read it)
  const component = mocks.one(EVENT_CONSUMER_TYPE, "on-line");
  assert.equal(component.inputs.stream, { startingPosition: "TRIM_HORIZON", parallelizationFactor: 1, maxRetryAttempts: 10, maxRecordAgeSeconds: 3600, enhancedFanOut: false });
});

test("the on-failure queue: encrypted with the events key, kept 14 days, only the function's role may send, TLS only", async () => {
  const { mocks } = await build();
  const queue = mocks.one(Q, "on-line-on-failure");
  const role = mocks.one("aws:iam/role:Role", "on-line-function-role");
  assert.is(queue.inputs.name, `dev-${SERVICE}-on-line-on-failure`);
  assert.is(queue.inputs.kmsMasterKeyId, platform.eventsKeyArn);
  assert.is(queue.inputs.messageRetentionSeconds, 1_209_600);
  assert.is(queue.inputs.sqsManagedSseEnabled, undefined);
  const policy = JSON.parse(mocks.one("aws:sqs/queuePolicy:QueuePolicy", "on-line-on-failure-policy").inputs.policy);
  assert.equal(policy.Statement, [
    { Sid: "FunctionRoleSends", Effect: "Allow", Principal: { AWS: role.state.arn }, Action: "sqs:SendMessage", Resource: queue.state.arn },
    {
      Sid: "DenyOtherSenders",
      Effect: "Deny",
      Principal: "*",
      Action: "sqs:SendMessage",
      Resource: queue.state.arn,
      Condition: { ArnNotEquals: { "aws:PrincipalArn": role.state.arn } },
    },
    { Sid: "DenyWithoutTls", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: queue.state.arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
  ]);
});

test("grants: Lambda's read actions on the stream only, decrypting only its records, sending only to its on-failure queue", async () => {
  const { mocks } = await build();
  const stream = platform.eventStreams[EVENT];
  const queue = mocks.one(Q, "on-line-on-failure");
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "on-line-function-policy")).Statement as any[];
  const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
  assert.equal(bySid.ReadOwnStream.Action, ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]);
  assert.is(bySid.ReadOwnStream.Resource, stream.arn);
  assert.is(bySid.ReadOwnStreamConsumer, undefined, "no SubscribeToShard without enhanced fan-out");
  assert.equal(bySid.DecryptOwnStream.Condition, { StringEquals: { "kms:EncryptionContext:aws:kinesis:arn": stream.arn } });
  assert.is(bySid.DecryptOwnStream.Resource, platform.eventsKeyArn);
  assert.is(bySid.SendStreamFailureRecords.Resource, queue.state.arn);
  for (const s of statements) {
    for (const action of [s.Action].flat()) {
      if (String(action).startsWith("kinesis:")) assert.is(s.Resource, stream.arn, `${action} on the stream only`);
    }
  }
});

test("filter: the consumer's policy becomes Lambda's filter criteria on the record's data (the envelope)", async () => {
  const { mocks } = await build({ filter: { policy: { source: [catalog[EVENT].owner] } } });
  assert.equal(mocks.one(ESM, "on-line-mapping").inputs.filterCriteria, { filters: [{ pattern: JSON.stringify({ data: { source: [catalog[EVENT].owner] } }) }] });
  const body = await build({ filter: { policy: { $or: [{ data: { amount: [{ numeric: [">", 100] }] } }, { correlationid: [{ prefix: "ci-" }] }] }, scope: "MessageBody" } });
  assert.equal(
    body.mocks.one(ESM, "on-line-mapping").inputs.filterCriteria.filters.map((f: { pattern: string }) => JSON.parse(f.pattern)),
    [{ data: { data: { amount: [{ numeric: [">", 100] }] } } }, { data: { correlationid: [{ prefix: "ci-" }] } }],
  );
});

test("enhanced fan-out: a stream consumer, the mapping reads through it, SubscribeToShard on it only", async () => {
  const { mocks } = await build({ stream: { enhancedFanOut: true } });
  const fanOut = mocks.one("aws:kinesis/streamConsumer:StreamConsumer", "on-line-stream-consumer");
  assert.is(fanOut.inputs.streamArn, platform.eventStreams[EVENT].arn);
  assert.is(fanOut.inputs.name, `dev-${SERVICE}-on-line`);
  assert.is(mocks.one(ESM, "on-line-mapping").inputs.eventSourceArn, fanOut.state.arn);
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "on-line-function-policy")).Statement as any[];
  assert.equal(statements.find((s) => s.Sid === "ReadOwnStreamConsumer"), { Sid: "ReadOwnStreamConsumer", Effect: "Allow", Action: ["kinesis:SubscribeToShard"], Resource: fanOut.state.arn });
});

test("alarms on the platform's alarm topic: IteratorAge at half the record age, and the on-failure queue's depth", async () => {
  const { mocks } = await build({ stream: { maxRecordAgeSeconds: 600 } });
  const fn = mocks.one("aws:lambda/function:Function", "on-line-function-function");
  const age = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "on-line-iterator-age-alarm");
  assert.equal(
    { namespace: age.inputs.namespace, metricName: age.inputs.metricName, dimensions: age.inputs.dimensions, threshold: age.inputs.threshold, alarmActions: age.inputs.alarmActions },
    { namespace: "AWS/Lambda", metricName: "IteratorAge", dimensions: { FunctionName: fn.state.name }, threshold: 300_000, alarmActions: [platform.alarmTopic.arn] },
  );
  const depth = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "on-line-on-failure-alarm");
  assert.equal(depth.inputs.dimensions, { QueueName: `dev-${SERVICE}-on-line-on-failure` });
  assert.equal(depth.inputs.alarmActions, [platform.alarmTopic.arn]);
});

test("settings are checked: queue-only options, unbounded or out-of-range values, a factor above 1 without reserved concurrency", async () => {
  assert.match(await refusal({ maxConcurrency: 5 }), /consumer stream-test\/on-line: maxConcurrency applies to queue consumers; .* is a stream event/);
  assert.match(await refusal({ maxReceiveCount: 3 }), /maxReceiveCount applies to queue consumers/);
  assert.match(await refusal({ stream: { maxRetryAttempts: -1 } }), /stream\.maxRetryAttempts is -1; it must be a whole number from 0 to 10000/);
  assert.match(await refusal({ stream: { maxRecordAgeSeconds: 30 } }), /stream\.maxRecordAgeSeconds is 30; it must be a whole number from 60 to 604800/);
  assert.match(await refusal({ stream: { parallelizationFactor: 11 } }), /stream\.parallelizationFactor is 11; it must be a whole number from 1 to 10/);
  assert.match(await refusal({ stream: { parallelizationFactor: 4 } }), /stream\.parallelizationFactor 4 runs shards x 4 batches at once, .*set the function's reservedConcurrency/);
  assert.match(await refusal({ batchSize: 10_001 }), /batchSize is 10001; it must be a whole number from 1 to 10000/);
  assert.match(await refusal({ stream: { startingPosition: "AT_TIMESTAMP" as never } }), /stream\.startingPosition is "AT_TIMESTAMP"; it must be TRIM_HORIZON or LATEST/);
  const { mocks } = await build({ stream: { parallelizationFactor: 4 }, function: { handler: HANDLER, reservedConcurrency: 8 } });
  assert.is(mocks.one(ESM, "on-line-mapping").inputs.parallelizationFactor, 4);
});

test("stream options on a topic event are refused", async () => {
  try {
    await underMocks((p) => new EventConsumer("x", { platform: p, service: SERVICE, event: "orders.order-placed", function: { handler: HANDLER }, stream: { enhancedFanOut: true } }), { platform });
    assert.unreachable("accepted");
  } catch (err) {
    assert.match((err as Error).message, /stream options apply to stream events; orders\.order-placed is a standard event/);
  }
});

test("a publisher of the stream event: PutRecord/PutRecords on its stream, a data key for it, the stream's name in its environment", async () => {
  const stream = platform.eventStreams[EVENT];
  const { mocks } = await underMocks(
    (p) => new ServiceFunction("publisher", { platform: p, service: catalog[EVENT].owner, handler: HANDLER, publishes: [EVENT] }),
    { platform },
  );
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "publisher-policy")).Statement as any[];
  const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
  assert.equal(bySid.PutOwnStreamEvents, { Sid: "PutOwnStreamEvents", Effect: "Allow", Action: ["kinesis:PutRecord", "kinesis:PutRecords"], Resource: stream.arn });
  assert.equal(bySid.EncryptForOwnStreams, {
    Sid: "EncryptForOwnStreams",
    Effect: "Allow",
    Action: "kms:GenerateDataKey",
    Resource: platform.eventsKeyArn,
    Condition: { StringEquals: { "kms:EncryptionContext:aws:kinesis:arn": stream.arn } },
  });
  assert.is(bySid.PublishOwnEvents, undefined, "no SNS publish for a stream event");
  const variables = mocks.one("aws:lambda/function:Function", "publisher-function").inputs.environment.variables;
  assert.equal(JSON.parse(variables[ENV.publishStreams]), { [EVENT]: stream.name });
  assert.equal(JSON.parse(variables[ENV.publishTopics]), {});
});

test("its function is a consumer's like a queue consumer's: named after it, idempotent unless told, publishing failure events, transformable", async () => {
  const { mocks } = await build();
  const fn = mocks.one("aws:lambda/function:Function", "on-line-function-function");
  assert.is(fn.inputs.name, `dev-${SERVICE}-on-line`);
  const env = fn.inputs.environment.variables;
  assert.is(env.PLATFORM_FAILURE_TOPIC_ARN, platform.failureTopic.arn);
  assert.is(env.PLATFORM_IDEMPOTENCY_TABLE, platform.idempotencyTable.name);
  const grants = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "on-line-function-policy")).Statement.map((s) => s.Sid);
  assert.ok(grants.includes("PublishFailureEvents") && grants.includes("OwnIdempotencyRecords"), grants.join(", "));
  const off = await build({ function: { handler: HANDLER, idempotency: false }, transform: { function: { function: { memorySize: 1024 } } } });
  const offFn = off.mocks.one("aws:lambda/function:Function", "on-line-function-function");
  assert.is(offFn.inputs.environment.variables.PLATFORM_IDEMPOTENCY_TABLE, undefined);
  assert.is(offFn.inputs.memorySize, 1024, "transform.function reaches the function");
});

test.run();
