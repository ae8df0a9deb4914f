import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { catalog, streamEventTypes, topicEventTypes } from "../../shared/contract";
import { runProgram, type ProgramRun } from "../../shared/capture/run-program";
import { platformTestOverrides, TEST_ALARM_RECIPIENT } from "../../shared/testing/whole-system";

const root = join(__dirname, "..", "..");
const runs: Record<string, ProgramRun> = {};

// Programs share Pulumi's global runtime: run them one after another, once each, before the assertions.
test.before(async () => {
  runs.dev = await runProgram({ projectDir: root, stage: "dev" });
  runs.prod = await runProgram({ projectDir: root, stage: "prod", overrides: platformTestOverrides("prod") });
});

function policyOf(run: ProgramRun, name: string): any {
  return JSON.parse(run.mocks.one("aws:sns/topicPolicy:TopicPolicy", name).inputs.policy);
}

test("one encrypted, traced topic per catalog entry that travels on SNS, FIFO where the catalog says so", () => {
  for (const stage of ["dev", "prod"]) {
    const run = runs[stage]!;
    const key = run.mocks.one("aws:kms/key:Key", "events-key");
    for (const type of topicEventTypes) {
      const topic = run.mocks.one("aws:sns/topic:Topic", `event-${type}`);
      const fifo = catalog[type].ordering === "fifo";
      assert.is(topic.inputs.kmsMasterKeyId, key.state.arn, `${type} encrypted with the events key`);
      assert.is(topic.inputs.tracingConfig, "Active");
      assert.is(Boolean(topic.inputs.fifoTopic), fifo, `${type} fifo`);
      assert.is(topic.state.name, `${stage}-${type.replace(".", "-")}${fifo ? ".fifo" : ""}`);
      assert.equal(run.outputs.eventTopics[type], { arn: topic.state.arn, name: topic.state.name, fifo });
    }
    assert.is(run.mocks.byType("aws:sns/topic:Topic").length, topicEventTypes.length + 2, "event topics + failure + alarm");
  }
});

test("one encrypted Kinesis stream per stream event, none for the others; capacity and retention from the stage", () => {
  const expected = {
    dev: { streamModeDetails: { streamMode: "PROVISIONED" }, shardCount: 1, retentionPeriod: 24 },
    prod: { streamModeDetails: { streamMode: "ON_DEMAND" }, shardCount: undefined, retentionPeriod: 168 },
  };
  assert.ok(streamEventTypes.length > 0, "the catalog has a stream event (the example of the serial path)");
  for (const stage of ["dev", "prod"] as const) {
    const run = runs[stage]!;
    const key = run.mocks.one("aws:kms/key:Key", "events-key");
    const streams = run.mocks.byType("aws:kinesis/stream:Stream");
    assert.equal(streams.map((s) => s.name).sort(), streamEventTypes.map((type) => `stream-${type}`).sort(), "opt-in: only stream events");
    for (const type of streamEventTypes) {
      const stream = run.mocks.one("aws:kinesis/stream:Stream", `stream-${type}`);
      assert.is(stream.inputs.encryptionType, "KMS", `${type} encrypted`);
      assert.is(stream.inputs.kmsKeyId, key.state.arn, `${type} with the events key`);
      assert.is(stream.state.name, `${stage}-${String(type).replace(".", "-")}`);
      assert.equal(
        { streamModeDetails: stream.inputs.streamModeDetails, shardCount: stream.inputs.shardCount, retentionPeriod: stream.inputs.retentionPeriod },
        expected[stage],
      );
      assert.equal(run.outputs.eventStreams[type], { arn: stream.state.arn, name: stream.state.name });
      assert.is(run.outputs.eventTopics[type], undefined, `${type} has no topic`);
    }
  }
});

test("every topic policy denies publishing without TLS", () => {
  const run = runs.dev!;
  for (const topic of run.mocks.byType("aws:sns/topic:Topic")) {
    const policy = policyOf(run, `${topic.name}-policy`);
    const deny = policy.Statement.find((s: any) => s.Effect === "Deny");
    assert.ok(deny, `${topic.name} has a deny statement`);
    assert.is(deny.Principal, "*");
    assert.is(deny.Action, "sns:Publish");
    assert.is(deny.Resource, topic.state.arn);
    assert.equal(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
    assert.is(run.mocks.one("aws:sns/topicPolicy:TopicPolicy", `${topic.name}-policy`).inputs.arn, topic.state.arn);
  }
});

test("only CloudWatch (of this account) may publish alarms; the events key lets CloudWatch alarms use it", () => {
  const run = runs.dev!;
  const alarm = policyOf(run, "alarm-topic-policy");
  const allow = alarm.Statement.find((s: any) => s.Effect === "Allow");
  assert.equal(allow.Principal, { Service: ["cloudwatch.amazonaws.com"] });
  assert.equal(allow.Condition, { StringEquals: { "aws:SourceAccount": run.outputs.accountId } });
  assert.not.ok(policyOf(run, "failure-topic-policy").Statement.some((s: any) => s.Effect === "Allow"));

  const key = run.mocks.one("aws:kms/key:Key", "events-key");
  assert.is(key.inputs.enableKeyRotation, true);
  const keyPolicy = JSON.parse(key.inputs.policy);
  // As the SNS developer guide writes it for AWS services publishing to encrypted topics; only CloudWatch needs it.
  // The one other service principal is CloudWatch Logs' delivery service, which decrypts (only that) the logs of
  // the services' state machines (the Step Functions developer guide; its statement is checked in deployment.test.ts).
  const services = keyPolicy.Statement.filter((s: any) => s.Principal?.Service !== undefined);
  assert.equal(
    services.map((s: any) => [s.Sid, s.Principal.Service]),
    [
      ["CloudWatchAlarmsPublish", "cloudwatch.amazonaws.com"],
      ["StateMachineLogDelivery", "delivery.logs.amazonaws.com"],
    ],
  );
  assert.equal(services[1].Action, ["kms:Decrypt"]);
  assert.equal(services[0].Action, ["kms:GenerateDataKey*", "kms:Decrypt"]);
  assert.equal(services[0].Condition, {
    StringEquals: { "aws:SourceAccount": run.outputs.accountId },
    ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:eu-west-1:${run.outputs.accountId}:alarm:*` },
  });
  assert.is(run.outputs.eventsKeyArn, key.state.arn);
});

test("the data table is built for ElectroDB single-table use", () => {
  for (const stage of ["dev", "prod"]) {
    const run = runs[stage]!;
    const table = run.mocks.one("aws:dynamodb/table:Table", "data-table");
    const i = table.inputs;
    assert.is(i.name, `${stage}-data`);
    assert.is(i.billingMode, "PAY_PER_REQUEST");
    assert.is(i.hashKey, "pk");
    assert.is(i.rangeKey, "sk");
    assert.equal(
      i.globalSecondaryIndexes.map((g: any) => [g.name, g.keySchemas.map((k: any) => `${k.attributeName}:${k.keyType}`), g.projectionType]),
      [
        ["gsi1", ["gsi1pk:HASH", "gsi1sk:RANGE"], "ALL"],
        ["gsi2", ["gsi2pk:HASH", "gsi2sk:RANGE"], "ALL"],
      ],
    );
    assert.equal(i.attributes.map((a: any) => a.name).sort(), ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "pk", "sk"]);
    assert.equal(i.ttl, { attributeName: "expiresAt", enabled: true });
    assert.equal(i.pointInTimeRecovery, { enabled: true });
    // The free AWS owned key: no serverSideEncryption block (enabled without a key ARN would be the billed aws/dynamodb).
    assert.is(i.serverSideEncryption, undefined);
    assert.is(i.streamEnabled, true);
    assert.is(i.streamViewType, "NEW_AND_OLD_IMAGES");
    assert.equal(run.outputs.dataTable.indexes.gsi1, { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" });
    assert.is(run.outputs.dataTable.streamArn, table.state.streamArn);

    const idem = run.mocks.one("aws:dynamodb/table:Table", "idempotency-table").inputs;
    assert.is(idem.hashKey, "id");
    assert.equal(idem.ttl, { attributeName: "expiration", enabled: true });
    assert.is(idem.serverSideEncryption, undefined);
    assert.equal(run.outputs.idempotencyTable.keyAttribute, "id");
  }
});

test("dev and prod differ where the stage configs say: retention, log level, deletion protection, alarm e-mail", () => {
  const dev = runs.dev!;
  const prod = runs.prod!;
  assert.equal(dev.outputs.logs, { retentionDays: 14, level: "DEBUG" });
  assert.equal(prod.outputs.logs, { retentionDays: 365, level: "INFO" });
  for (const name of ["data-table", "idempotency-table"]) {
    assert.is(dev.mocks.one("aws:dynamodb/table:Table", name).inputs.deletionProtectionEnabled, false);
    assert.is(prod.mocks.one("aws:dynamodb/table:Table", name).inputs.deletionProtectionEnabled, true);
  }
  // The setting is exported too: the services' own tables (their outbox tables) follow it.
  assert.is(dev.outputs.deletionProtection, false);
  assert.is(prod.outputs.deletionProtection, true);
  assert.is(dev.mocks.one("aws:kms/key:Key", "events-key").inputs.deletionWindowInDays, 7);
  assert.is(prod.mocks.one("aws:kms/key:Key", "events-key").inputs.deletionWindowInDays, 30);
  const emails = (run: ProgramRun) => run.mocks.byType("aws:sns/topicSubscription:TopicSubscription").filter((s) => s.inputs.protocol === "email");
  assert.is(emails(dev).length, 0, "no e-mail in dev");
  assert.is(emails(prod).length, 1);
  const email = prod.mocks.one("aws:sns/topicSubscription:TopicSubscription", "alarm-email").inputs;
  assert.equal(email, { ...email, protocol: "email", endpoint: TEST_ALARM_RECIPIENT, topic: prod.outputs.alarmTopic.arn });
  assert.is(dev.outputs.stage, "dev");
  assert.is(prod.outputs.stage, "prod");
  assert.is(prod.outputs.region, "eu-west-1");
});

test("failure events have a durable sink: the failure topic feeds an encrypted queue kept 14 days, with alarms", () => {
  for (const stage of ["dev", "prod"]) {
    const run = runs[stage]!;
    const topic = run.mocks.one("aws:sns/topic:Topic", "failure-topic");
    assert.equal(topic.inputs.tags, { "platform:role": "failure-events" });
    const queue = run.mocks.one("aws:sqs/queue:Queue", "failure-queue");
    assert.is(queue.inputs.name, `${stage}-platform-event-failed`);
    assert.is(queue.inputs.messageRetentionSeconds, 1_209_600);
    assert.is(queue.inputs.sqsManagedSseEnabled, true);
    assert.equal(run.outputs.failureQueue, { name: queue.state.name, arn: queue.state.arn, url: queue.state.url });

    // Raw delivery: the queue's message is the failure event itself, its attributes SQS message attributes.
    const subscriptions = run.mocks
      .byType("aws:sns/topicSubscription:TopicSubscription")
      .filter((s) => s.inputs.topic === topic.state.arn);
    assert.is(subscriptions.length, 1);
    const subscription = subscriptions[0]!;
    assert.equal(
      { protocol: subscription.inputs.protocol, endpoint: subscription.inputs.endpoint, raw: subscription.inputs.rawMessageDelivery },
      { protocol: "sqs", endpoint: queue.state.arn, raw: true },
    );
    const deliveryDlq = run.mocks.one("aws:sqs/queue:Queue", "failure-subscription-dlq");
    assert.equal(JSON.parse(subscription.inputs.redrivePolicy), { deadLetterTargetArn: deliveryDlq.state.arn });
    assert.is(deliveryDlq.inputs.messageRetentionSeconds, 1_209_600);
    assert.is(deliveryDlq.inputs.sqsManagedSseEnabled, true);

    // Only the failure topic may send, and nothing without TLS.
    for (const [policyName, target] of [["failure-queue-policy", queue], ["failure-subscription-dlq-policy", deliveryDlq]] as const) {
      const policy = run.mocks.one("aws:sqs/queuePolicy:QueuePolicy", policyName);
      assert.is(policy.inputs.queueUrl, target.state.url);
      const statements = JSON.parse(policy.inputs.policy).Statement;
      assert.equal(statements, [
        {
          Sid: "TopicSends",
          Effect: "Allow",
          Principal: { Service: "sns.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: target.state.arn,
          Condition: { ArnEquals: { "aws:SourceArn": topic.state.arn } },
        },
        {
          Sid: "DenyWithoutTls",
          Effect: "Deny",
          Principal: "*",
          Action: "sqs:*",
          Resource: target.state.arn,
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]);
    }

    // Someone hears of it: a depth alarm on each queue, on the platform's alarm topic.
    for (const [alarmName, watched] of [["failure-queue-alarm", queue], ["failure-subscription-dlq-alarm", deliveryDlq]] as const) {
      const alarm = run.mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", alarmName).inputs;
      assert.equal(
        [alarm.namespace, alarm.metricName, alarm.dimensions, alarm.comparisonOperator, alarm.threshold, alarm.alarmActions],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: watched.state.name }, "GreaterThanThreshold", 0, [run.outputs.alarmTopic.arn]],
      );
    }
  }
});

test("the private network is off by default and costs nothing", async () => {
  // Pulumi.yaml's defaults (the repository's dev and prod turn it on for their relational store).
  const off = await runProgram({ projectDir: root, stage: "dev", overrides: { "platform:vpcEnabled": false, "platform:relational": false } });
  for (const run of [off]) {
    assert.equal(run.outputs.vpc, { enabled: false });
    assert.is(run.mocks.byType("awsx:ec2:Vpc").length, 0);
    assert.is(run.mocks.byType("aws:ec2/vpcEndpoint:VpcEndpoint").length, 0);
  }
});

test.run();
