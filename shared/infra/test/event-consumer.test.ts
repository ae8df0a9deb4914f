import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DLQ_RETENTION_SECONDS, EVENT_CONSUMER_TYPE, EventConsumer, type EventConsumerArgs } from "../event-consumer";
import { SERVICE_FUNCTION_TYPE } from "../service-function";
import { platformOutputs, policyDocument, underMocks } from "./harness";

const HANDLER = join(__dirname, "fixtures", "handlers", "echo.ts");
const SERVICE = "consumer-test";
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

function build(args: Partial<EventConsumerArgs> = {}, name = "bill-order") {
  return underMocks(
    (p) =>
      new EventConsumer(name, {
        platform: p,
        service: SERVICE,
        event: "orders.order-placed",
        function: { handler: HANDLER, publishes: ["billing.invoice-issued"] },
        ...args,
      }),
    { platform },
  );
}

const Q = "aws:sqs/queue:Queue";

test("wiring: subscription -> queue -> mapping -> function, each queue redriving to its own dead-letter queue", async () => {
  const { mocks } = await build();
  const topicArn = platform.eventTopics["orders.order-placed"].arn;
  const queue = mocks.one(Q, "bill-order-queue");
  const dlq = mocks.one(Q, "bill-order-dlq");
  const subscriptionDlq = mocks.one(Q, "bill-order-subscription-dlq");
  const subscription = mocks.one("aws:sns/topicSubscription:TopicSubscription", "bill-order-subscription");
  const mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping", "bill-order-mapping");
  const fn = mocks.one("aws:lambda/function:Function", "bill-order-function-function");

  assert.equal(subscription.inputs.topic, topicArn);
  assert.equal(subscription.inputs.protocol, "sqs");
  assert.equal(subscription.inputs.endpoint, queue.state.arn, "the subscription writes the queue");
  assert.equal(mapping.inputs.eventSourceArn, queue.state.arn, "the mapping reads the queue the subscription writes");
  assert.equal(mapping.inputs.functionName, fn.state.arn);
  assert.equal(JSON.parse(queue.inputs.redrivePolicy), { deadLetterTargetArn: dlq.state.arn, maxReceiveCount: 5 });
  assert.equal(JSON.parse(subscription.inputs.redrivePolicy), { deadLetterTargetArn: subscriptionDlq.state.arn });
  assert.equal(queue.inputs.name, `dev-${SERVICE}-bill-order`);
  assert.equal(dlq.inputs.name, `dev-${SERVICE}-bill-order-dlq`);
  assert.equal(subscriptionDlq.inputs.name, `dev-${SERVICE}-bill-order-sub-dlq`);
});

test("queues are encrypted (SSE-SQS); visibility is 6 x the function timeout; dead letters are kept 14 days", async () => {
  const { mocks } = await build({ function: { handler: HANDLER, timeout: 25 }, maxBatchingWindow: 2, maxReceiveCount: 3 });
  const queue = mocks.one(Q, "bill-order-queue");
  assert.equal(queue.inputs.sqsManagedSseEnabled, true);
  assert.equal(queue.inputs.visibilityTimeoutSeconds, 6 * 25 + 2);
  assert.equal(queue.inputs.messageRetentionSeconds, 345_600);
  assert.equal(JSON.parse(queue.inputs.redrivePolicy).maxReceiveCount, 3);
  for (const name of ["bill-order-dlq", "bill-order-subscription-dlq"]) {
    const dlq = mocks.one(Q, name);
    assert.equal(dlq.inputs.sqsManagedSseEnabled, true);
    assert.equal(dlq.inputs.messageRetentionSeconds, DLQ_RETENTION_SECONDS);
    assert.equal(DLQ_RETENTION_SECONDS, 14 * 24 * 3600);
  }
});

test("queue policies: only the event's topic may send (aws:SourceArn), and nothing without TLS", async () => {
  const { mocks } = await build();
  const topicArn = platform.eventTopics["orders.order-placed"].arn;
  const denyWithoutTls = (arn: string) => ({
    Sid: "DenyWithoutTls",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: arn,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  });
  const topicSends = (arn: string) => ({
    Sid: "TopicSends",
    Effect: "Allow",
    Principal: { Service: "sns.amazonaws.com" },
    Action: "sqs:SendMessage",
    Resource: arn,
    Condition: { ArnEquals: { "aws:SourceArn": topicArn } },
  });
  const expectations: [string, string, boolean][] = [
    ["bill-order-queue-policy", "bill-order-queue", true],
    ["bill-order-subscription-dlq-policy", "bill-order-subscription-dlq", true],
    ["bill-order-dlq-policy", "bill-order-dlq", false],
  ];
  for (const [policyName, queueName, snsSends] of expectations) {
    const queue = mocks.one(Q, queueName);
    const policy = mocks.one("aws:sqs/queuePolicy:QueuePolicy", policyName);
    assert.equal(policy.inputs.queueUrl, queue.state.url);
    const arn = queue.state.arn as string;
    assert.equal(policyDocument(policy).Statement, snsSends ? [topicSends(arn), denyWithoutTls(arn)] : [denyWithoutTls(arn)]);
  }
});

test("subscription: raw delivery and the filter policy with its scope", async () => {
  const { mocks } = await build({ filter: { policy: { data: { total: { currency: ["EUR"] } } }, scope: "MessageBody" } });
  const subscription = mocks.one("aws:sns/topicSubscription:TopicSubscription", "bill-order-subscription");
  assert.equal(subscription.inputs.rawMessageDelivery, true);
  assert.equal(JSON.parse(subscription.inputs.filterPolicy), { data: { total: { currency: ["EUR"] } } });
  assert.equal(subscription.inputs.filterPolicyScope, "MessageBody");

  const plain = (await build()).mocks.one("aws:sns/topicSubscription:TopicSubscription", "bill-order-subscription");
  assert.is(plain.inputs.filterPolicy, undefined, "no filter: every event of the type");
});

test("event source mapping: partial batch responses, batch size and window, bounded concurrency", async () => {
  const { mocks } = await build({ batchSize: 20, maxBatchingWindow: 5, maxConcurrency: 7 });
  const mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping", "bill-order-mapping");
  assert.equal(mapping.inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
  assert.equal(mapping.inputs.batchSize, 20);
  assert.equal(mapping.inputs.maximumBatchingWindowInSeconds, 5);
  assert.equal(mapping.inputs.scalingConfig, { maximumConcurrency: 7 });
});

test("alarms watch both dead-letter queues and notify the platform's alarm topic", async () => {
  const { mocks } = await build();
  const alarms = mocks.byType("aws:cloudwatch/metricAlarm:MetricAlarm");
  const watched = alarms.map((a) => a.inputs.dimensions.QueueName).sort();
  assert.equal(watched, [mocks.one(Q, "bill-order-dlq").state.name, mocks.one(Q, "bill-order-subscription-dlq").state.name].sort());
  for (const alarm of alarms) {
    assert.equal(alarm.inputs.namespace, "AWS/SQS");
    assert.equal(alarm.inputs.metricName, "ApproximateNumberOfMessagesVisible");
    assert.equal(alarm.inputs.comparisonOperator, "GreaterThanThreshold");
    assert.equal(alarm.inputs.threshold, 0);
    assert.equal(alarm.inputs.alarmActions, [platform.alarmTopic.arn]);
    assert.equal(alarm.inputs.okActions, [platform.alarmTopic.arn]);
  }
});

test("the function's role holds exactly the consumer's grants", async () => {
  const { mocks } = await build();
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "bill-order-function-policy")).Statement;
  const grants = Object.fromEntries(statements.map((s) => [s.Sid, s.Resource]));
  const queueArn = mocks.one(Q, "bill-order-queue").state.arn;
  assert.equal(grants, {
    WriteOwnLogs: `${mocks.one("aws:cloudwatch/logGroup:LogGroup", "bill-order-function-logs").state.arn}:*`,
    SendTraces: "*",
    ConsumeOwnQueue: queueArn,
    PublishOwnedEvents: platform.eventTopics["billing.invoice-issued"].arn,
    PublishFailureEvents: platform.failureTopic.arn,
    EncryptForEventTopics: platform.eventsKeyArn,
    OwnItems: platform.dataTable.arn,
    QueryOwnIndexes: [`${platform.dataTable.arn}/index/gsi1`, `${platform.dataTable.arn}/index/gsi2`],
    OwnIdempotencyRecords: platform.idempotencyTable.arn,
  });
  const env = mocks.one("aws:lambda/function:Function", "bill-order-function-function").inputs.environment.variables;
  assert.equal(env.PLATFORM_FAILURE_TOPIC_ARN, platform.failureTopic.arn);
  assert.equal(env.PLATFORM_IDEMPOTENCY_TABLE, platform.idempotencyTable.name);
});

test("a FIFO event gets FIFO queues and FIFO dead-letter queues, without a batching window", async () => {
  const { mocks } = await build({ event: "orders.order-status-changed", maxBatchingWindow: 30 });
  for (const name of ["bill-order-queue", "bill-order-dlq", "bill-order-subscription-dlq"]) {
    const queue = mocks.one(Q, name);
    assert.equal(queue.inputs.fifoQueue, true, `${name} is FIFO`);
    assert.match(queue.inputs.name, /\.fifo$/);
  }
  const mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping", "bill-order-mapping");
  assert.is(mapping.inputs.maximumBatchingWindowInSeconds, undefined);
  const subscription = mocks.one("aws:sns/topicSubscription:TopicSubscription", "bill-order-subscription");
  assert.equal(subscription.inputs.topic, platform.eventTopics["orders.order-status-changed"].arn);
});

test("every child is parented to its component; the function's children to the function component", async () => {
  const { mocks } = await build();
  const component = mocks.one(EVENT_CONSUMER_TYPE, "bill-order");
  assert.equal(component.inputs, { service: SERVICE, name: "bill-order", event: "orders.order-placed", versions: [1] });
  const children = mocks.childrenOf(component.urn).map((c) => c.name).sort();
  assert.equal(children, [
    "bill-order-dlq",
    "bill-order-dlq-alarm",
    "bill-order-dlq-policy",
    "bill-order-function",
    "bill-order-mapping",
    "bill-order-queue",
    "bill-order-queue-policy",
    "bill-order-subscription",
    "bill-order-subscription-dlq",
    "bill-order-subscription-dlq-alarm",
    "bill-order-subscription-dlq-policy",
  ]);
  const fn = mocks.one(SERVICE_FUNCTION_TYPE, "bill-order-function");
  assert.equal(mocks.childrenOf(fn.urn).length, 4);
  // The program's own AWS provider (stage tags) is not the component's.
  const orphans = mocks.resources.filter(
    (r) => r.custom && r.type !== "pulumi:pulumi:StackReference" && r.type !== "pulumi:providers:aws" && !r.parent.includes("EventConsumer"),
  );
  assert.equal(orphans.map((r) => r.name), [], "no resource outside the component");
});

test("refuses what would not work, with a message that says why", async () => {
  const longName = "a-consumer-name-that-is-long-enough-to-push-the-queue-name-over";
  const cases: [Partial<EventConsumerArgs>, RegExp, string?][] = [
    [{ event: "orders.unknown" as never }, /"orders.unknown" is not an event type in the catalog/],
    [{ filter: { policy: { customer: ["x"] } } }, /message attributes customer, which events do not carry/],
    [{ filter: { policy: {} } }, /the filter policy is empty/],
    [{ visibilityTimeout: 30 }, /visibilityTimeout 30s is less than 6 x the function timeout \(10s\)/],
    [{ batchSize: 50 }, /a batchSize above 10 needs a maxBatchingWindow/],
    [{ event: "orders.order-status-changed", batchSize: 20 }, /batchSize is 20; it must be a whole number from 1 to 10/],
    [{ maxConcurrency: 1 }, /maxConcurrency is 1; it must be a whole number from 2 to 1000/],
    [{ retention: DLQ_RETENTION_SECONDS }, /retention is 1209600/],
    [{}, /queue name "dev-consumer-test-a-consumer-name-.*-over-sub-dlq" is 89 characters; AWS allows at most 80/, longName],
    [{ event: "orders.order-status-changed" }, /queue name "dev-consumer-test-a-consumer-.*-over-sub-dlq\.fifo" is 94 characters/, longName],
  ];
  for (const [args, message, name] of cases) {
    try {
      await build(args, name);
      assert.unreachable(`expected ${message}`);
    } catch (err) {
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
