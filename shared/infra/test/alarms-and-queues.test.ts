// The alarms and on-failure queues every component builds through helpers/alarms.ts and helpers/queues.ts, pinned
// whole (every input) as each component and the platform register them under Pulumi's mocks: a shared builder that
// dropped or changed a property (an OK action, datapointsToAlarm, the KMS data key period, a policy statement) fails
// here even where the component's own test reads only some of them.
//
//   node --import tsx shared/infra/test/alarms-and-queues.test.ts
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { streamEventTypes, type EventType } from "../../contract";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { runProgram, type ProgramRun } from "../../capture/run-program";
import { EventConsumer } from "../event-consumer";
import { REPO_ROOT } from "../helpers/bundle";
import { defineService } from "../service";
import { defineWorkflow, invoke } from "../workflow";
import { policyDocument, underMocks } from "./harness";

const HANDLER = join(__dirname, "fixtures", "handlers", "echo.ts");
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const Q = "aws:sqs/queue:Queue";
const STREAM_EVENT: EventType = streamEventTypes[0]!;
let platformRun: ProgramRun;
let platform: Record<string, any>;

test.before(async () => {
  platformRun = await runProgram({ projectDir: REPO_ROOT, stage: "dev" });
  platform = platformRun.outputs;
});

/** A service with a queue consumer that records an event (so an outbox relay) and a workflow. */
function billing(transform?: { alarm?: Record<string, unknown> }) {
  return underMocks(
    () =>
      defineService({
        name: "billing",
        publishes: ["billing.invoice-issued"],
        consumers: {
          "on-order": {
            event: "orders.order-placed",
            handler: HANDLER,
            records: ["billing.invoice-issued"],
            starts: ["issue"],
            ...(transform ? { transform: { alarm: transform.alarm } } : {}),
          },
        },
        workflows: { issue: defineWorkflow({ functions: { step: { handler: HANDLER } }, startAt: "Step", states: { Step: invoke("step", { end: true }) } }) },
      }),
    { platform, project: "billing" },
  );
}

function streamConsumer(transform?: { alarm?: Record<string, unknown> }) {
  return underMocks(
    (p) =>
      new EventConsumer("on-line", {
        platform: p,
        service: "stream-test",
        event: STREAM_EVENT,
        function: { handler: HANDLER },
        stream: { maxRecordAgeSeconds: 600 },
        ...(transform ? { transform: { alarm: transform.alarm } } : {}),
      }),
    { platform },
  );
}

const alarmTopic = () => [platform.alarmTopic.arn];
const inputsOf = (resource: CapturedResource) => resource.inputs;

/** Every depth alarm of a queue that should stay empty, spelled out here (not taken from the helper), so it is pinned. */
const expectedDepthAlarm = (queue: string, alarmDescription: string) => ({
  name: `${queue}-not-empty`,
  alarmDescription,
  namespace: "AWS/SQS",
  metricName: "ApproximateNumberOfMessagesVisible",
  dimensions: { QueueName: queue },
  statistic: "Maximum",
  period: 60,
  evaluationPeriods: 1,
  threshold: 0,
  comparisonOperator: "GreaterThanThreshold",
  treatMissingData: "notBreaching",
  alarmActions: alarmTopic(),
  okActions: alarmTopic(),
});

test("a queue consumer's dead-letter alarms: depth above 0 for a minute, to the alarm topic and back", async () => {
  const { mocks } = await billing();
  for (const [child, queue, what] of [
    ["billing-on-order-dlq-alarm", "dev-billing-on-order-dlq", "The dead-letter queue"],
    ["billing-on-order-subscription-dlq-alarm", "dev-billing-on-order-sub-dlq", "The subscription's dead-letter queue"],
  ] as const) {
    assert.equal(
      inputsOf(mocks.one(ALARM, child)),
      expectedDepthAlarm(queue, `${what} of billing/on-order (orders.order-placed) holds messages: look at them, fix the cause, redrive them`),
    );
  }
});

test("the outbox relay: IteratorAge over a minute in 3 of 5 minutes, its failure queue's depth; the queue (the events key) and its policy (only the relay's role sends, TLS only)", async () => {
  const { mocks } = await billing();
  assert.equal(inputsOf(mocks.one(ALARM, "billing-outbox-relay-iterator-age-alarm")), {
    name: "dev-billing-outbox-relay-iterator-age",
    alarmDescription:
      "The outbox relay of billing is behind: recorded events wait more than 60s for their publish (a failing publish, throttling): look at its logs",
    namespace: "AWS/Lambda",
    metricName: "IteratorAge",
    dimensions: { FunctionName: "dev-billing-outbox-relay" },
    statistic: "Maximum",
    period: 60,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    threshold: 60_000,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    alarmActions: alarmTopic(),
    okActions: alarmTopic(),
  });
  assert.equal(
    inputsOf(mocks.one(ALARM, "billing-outbox-relay-failed-alarm")),
    expectedDepthAlarm(
      "dev-billing-outbox-relay-failed",
      "The on-failure destination of billing's outbox relay holds batches it gave up on: their outbox items (kept until their TTL) name the events to publish again",
    ),
  );
  const queue = mocks.one(Q, "billing-outbox-relay-failed");
  // As a stream consumer's on-failure queue: the platform's events key, and only the relay's role may send.
  assert.equal(inputsOf(queue), {
    name: "dev-billing-outbox-relay-failed",
    messageRetentionSeconds: 1_209_600,
    kmsMasterKeyId: platform.eventsKeyArn,
    kmsDataKeyReusePeriodSeconds: 300,
  });
  const roleArn = mocks.one("aws:iam/role:Role", "billing-outbox-relay-function-role").state.arn;
  const policy = mocks.one("aws:sqs/queuePolicy:QueuePolicy", "billing-outbox-relay-failed-policy");
  assert.is(policy.inputs.queueUrl, queue.state.url);
  const arn = queue.state.arn;
  assert.equal(policyDocument(policy), {
    Version: "2012-10-17",
    Statement: [
      { Sid: "FunctionRoleSends", Effect: "Allow", Principal: { AWS: roleArn }, Action: "sqs:SendMessage", Resource: arn },
      { Sid: "DenyOtherSenders", Effect: "Deny", Principal: "*", Action: "sqs:SendMessage", Resource: arn, Condition: { ArnNotEquals: { "aws:PrincipalArn": roleArn } } },
      { Sid: "DenyWithoutTls", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
    ],
  });
});

test("a workflow's failed and timed-out alarms: any in a minute, summed, to the alarm topic and back", async () => {
  const { mocks } = await billing();
  const machine = mocks.one("aws:sfn/stateMachine:StateMachine", "billing-issue-state-machine");
  for (const [suffix, metric, what] of [
    ["failed", "ExecutionsFailed", "executions failed"],
    ["timed-out", "ExecutionsTimedOut", "executions timed out"],
  ] as const) {
    assert.equal(inputsOf(mocks.one(ALARM, `billing-issue-${suffix}-alarm`)), {
      name: `dev-billing-issue-${suffix}`,
      alarmDescription: `Workflow billing/issue: ${what}. Open the execution in the Step Functions console (its history names the state and the error).`,
      namespace: "AWS/States",
      metricName: metric,
      dimensions: { StateMachineArn: machine.state.arn },
      statistic: "Sum",
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      alarmActions: alarmTopic(),
      okActions: alarmTopic(),
    });
  }
});

test("a stream consumer: IteratorAge at half the record age in all 5 minutes, its on-failure queue (events key) and policy, its depth", async () => {
  const { mocks } = await streamConsumer();
  const label = `stream-test/on-line (${STREAM_EVENT})`;
  assert.equal(inputsOf(mocks.one(ALARM, "on-line-iterator-age-alarm")), {
    name: "dev-stream-test-on-line-iterator-age",
    alarmDescription: `${label} reads records older than 300s: it falls behind or a batch keeps failing; at 600s records go to its on-failure queue`,
    namespace: "AWS/Lambda",
    metricName: "IteratorAge",
    dimensions: { FunctionName: "dev-stream-test-on-line" },
    statistic: "Maximum",
    period: 60,
    evaluationPeriods: 5,
    threshold: 300_000,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    alarmActions: alarmTopic(),
    okActions: alarmTopic(),
  });
  assert.equal(
    inputsOf(mocks.one(ALARM, "on-line-on-failure-alarm")),
    expectedDepthAlarm(
      "dev-stream-test-on-line-on-failure",
      `The on-failure queue of ${label} holds records of batches Lambda gave up on: read the shard and sequence range, fetch the records from the stream while its retention lasts, fix the cause, replay them`,
    ),
  );
  const queue = mocks.one(Q, "on-line-on-failure");
  assert.equal(inputsOf(queue), {
    name: "dev-stream-test-on-line-on-failure",
    messageRetentionSeconds: 1_209_600,
    kmsMasterKeyId: platform.eventsKeyArn,
    kmsDataKeyReusePeriodSeconds: 300,
  });
  const role = mocks.one("aws:iam/role:Role", "on-line-function-role");
  const policy = mocks.one("aws:sqs/queuePolicy:QueuePolicy", "on-line-on-failure-policy");
  assert.is(policy.inputs.queueUrl, queue.state.url);
  assert.equal(
    policyDocument(policy).Statement.map((s) => s.Sid),
    ["FunctionRoleSends", "DenyOtherSenders", "DenyWithoutTls"],
  );
  assert.ok(policyDocument(policy).Statement.every((s) => s.Resource === queue.state.arn));
  assert.ok(JSON.stringify(policyDocument(policy)).includes(role.state.arn));
});

test("the components' transform.alarm reaches every alarm they build, and each alarm is the component's child", async () => {
  const relayAndWorkflow = await billing({ alarm: { evaluationPeriods: 7 } });
  const stream = await streamConsumer({ alarm: { evaluationPeriods: 7 } });
  const consumerOnly = (await billing()).mocks;
  // The consumer's transform reaches its own alarms only (the relay and the workflow take theirs from elsewhere).
  for (const child of ["billing-on-order-dlq-alarm", "billing-on-order-subscription-dlq-alarm"]) {
    assert.is(relayAndWorkflow.mocks.one(ALARM, child).inputs.evaluationPeriods, 7, child);
    assert.is(consumerOnly.one(ALARM, child).inputs.evaluationPeriods, 1, child);
  }
  for (const child of ["on-line-iterator-age-alarm", "on-line-on-failure-alarm"]) assert.is(stream.mocks.one(ALARM, child).inputs.evaluationPeriods, 7, child);
  const parentOf = (mocks: typeof consumerOnly, child: string) => mocks.resources.find((r) => r.urn === mocks.one(ALARM, child).parent)?.type;
  assert.is(parentOf(consumerOnly, "billing-on-order-dlq-alarm"), "platform:infra:EventConsumer");
  assert.is(parentOf(consumerOnly, "billing-outbox-relay-failed-alarm"), "platform:infra:OutboxRelay");
  assert.is(parentOf(consumerOnly, "billing-issue-failed-alarm"), "platform:infra:Workflow");
  assert.is(parentOf(stream.mocks, "on-line-on-failure-alarm"), "platform:infra:EventConsumer");
  assert.is(parentOf(stream.mocks, "on-line-iterator-age-alarm"), "platform:infra:EventConsumer");
});

test("the platform's alarms: the failure sink's two queues' depth, and the relational store's capacity", () => {
  const mocks = platformRun.mocks;
  for (const [child, queue, description] of [
    [
      "failure-queue-alarm",
      "dev-platform-event-failed",
      "Failure events are waiting: a consumer rejected events a retry cannot fix. Read them, fix the cause, publish each original event to its topic again, delete it (README: Failure events)",
    ],
    [
      "failure-subscription-dlq-alarm",
      "dev-platform-event-failed-sub-dlq",
      "SNS could not deliver failure events to the failure queue: check the queue and its policy, then move these messages to it",
    ],
  ] as const) {
    assert.equal(inputsOf(mocks.one(ALARM, child)), expectedDepthAlarm(queue, description));
  }
  const capacity = inputsOf(mocks.one(ALARM, "relational-capacity-alarm"));
  const cluster = mocks.byType("aws:rds/cluster:Cluster")[0]!;
  const { alarmDescription, ...rest } = capacity;
  assert.match(String(alarmDescription), /^The dev relational store has used over \d+% of its maximum capacity \(2 ACUs\) for five minutes/);
  assert.equal(rest, {
    name: rest.name,
    namespace: "AWS/RDS",
    metricName: "ACUUtilization",
    dimensions: { DBClusterIdentifier: cluster.state.clusterIdentifier },
    statistic: "Average",
    period: 60,
    evaluationPeriods: 5,
    threshold: rest.threshold,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    alarmActions: alarmTopic(),
    okActions: alarmTopic(),
  });
  assert.match(String(rest.name), /-relational-capacity$/);
  assert.type(rest.threshold, "number");
});

test.run();
