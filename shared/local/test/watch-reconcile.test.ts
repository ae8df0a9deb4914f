// Applying a wiring's difference to the real SNS and SQS engines (watch mode): a new consumer's queue and
// subscription, a changed filter policy in place, messages already in queues kept, removed pieces gone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SnsEngine } from "../sns/engine";
import { SqsEngine } from "../sqs/engine";
import { createQueues } from "../stage/part-messaging";
import type { QueueSpec, StageWiring, SubscriptionSpec, TopicSpec } from "../stage";
import { diffWiring, hostChanges, reconcileMessaging } from "../watch";

const account = "123456789012";
const origin = { project: "watched", name: "x", type: "t" };
const topic: TopicSpec = { origin, name: "local-orders-order-placed", arn: `arn:aws:sns:us-east-1:${account}:local-orders-order-placed`, fifo: false, contentBasedDeduplication: false };
const queue = (name: string, extra: Partial<QueueSpec> = {}): QueueSpec => ({
  origin,
  name,
  arn: `arn:aws:sqs:us-east-1:${account}:${name}`,
  deployedUrl: "",
  fifo: false,
  contentBasedDeduplication: false,
  ...extra,
});
const subscription = (queueName: string, filterPolicy?: string): SubscriptionSpec => ({
  origin,
  deployedArn: "arn:mock",
  topicArn: topic.arn,
  queueArn: `arn:aws:sqs:us-east-1:${account}:${queueName}`,
  raw: true,
  ...(filterPolicy ? { filterPolicy } : {}),
});
const wiring = (parts: Partial<StageWiring>): StageWiring => ({
  region: "us-east-1",
  accountId: account,
  tables: [],
  topics: [topic],
  queues: [],
  subscriptions: [],
  functions: [],
  mappings: [],
  routes: [],
  ignored: [],
  ...parts,
});

function engines() {
  const sqs = new SqsEngine({ region: "us-east-1", accountId: account });
  const sns = new SnsEngine({ sqs });
  return { sns, sqs, createQueues: (queues: readonly QueueSpec[]) => createQueues(sqs, queues) };
}

function apply(target: ReturnType<typeof engines>, w: StageWiring): void {
  reconcileMessaging(target, diffWiring(wiring({ topics: [] }), w));
}

const publish = (sns: SnsEngine, source: string) =>
  sns.publish({ TopicArn: topic.arn, Message: JSON.stringify({ source }), MessageAttributes: { source: { DataType: "String", StringValue: source } } });
const depth = (sqs: SqsEngine, name: string) => sqs.counts(`arn:aws:sqs:us-east-1:${account}:${name}`).ApproximateNumberOfMessages;

test("a new consumer's queue and subscription, and a filter policy changed in place; the queued message stays", () => {
  const target = engines();
  const before = wiring({
    queues: [queue("local-watched-a-dlq"), queue("local-watched-a", { redrive: { deadLetterTargetArn: `arn:aws:sqs:us-east-1:${account}:local-watched-a-dlq`, maxReceiveCount: 5 } })],
    subscriptions: [subscription("local-watched-a", '{"source":["shop"]}')],
  });
  apply(target, before);
  publish(target.sns, "shop");
  publish(target.sns, "till");
  assert.is(depth(target.sqs, "local-watched-a"), 1, "the filter lets only the shop's event through");
  const subscriptionArn = target.sns.listSubscriptionsByTopic(topic.arn)[0]!.SubscriptionArn;

  const after = wiring({
    queues: [...before.queues, queue("local-watched-b")],
    subscriptions: [subscription("local-watched-a", '{"source":["till"]}'), subscription("local-watched-b")],
  });
  const notApplied = reconcileMessaging(target, diffWiring(before, after));
  assert.equal(notApplied, []);
  assert.is(depth(target.sqs, "local-watched-a"), 1, "the message queued before the change is still there");
  assert.is(target.sns.listSubscriptionsByTopic(topic.arn).find((s) => s.Endpoint.endsWith(":local-watched-a"))!.SubscriptionArn, subscriptionArn, "the same subscription");
  assert.is(target.sns.getSubscriptionAttributes(subscriptionArn).FilterPolicy, '{"source":["till"]}');
  publish(target.sns, "shop");
  publish(target.sns, "till");
  assert.is(depth(target.sqs, "local-watched-a"), 2, "the new policy: the till's event now, not the shop's");
  assert.is(depth(target.sqs, "local-watched-b"), 2, "the new consumer gets every event");

  // Back again: the consumer goes, with its queue; the filter policy is the old one.
  assert.equal(reconcileMessaging(target, diffWiring(after, before)), []);
  assert.is(target.sqs.findQueue(`arn:aws:sqs:us-east-1:${account}:local-watched-b`), undefined);
  assert.is(target.sns.listSubscriptionsByTopic(topic.arn).length, 1);
  publish(target.sns, "shop");
  assert.is(depth(target.sqs, "local-watched-a"), 3);
});

test("a filter policy removed delivers everything; a queue's attributes that cannot change in place are reported", () => {
  const target = engines();
  const before = wiring({ queues: [queue("local-watched-a", { visibilityTimeoutSeconds: 30 })], subscriptions: [subscription("local-watched-a", '{"source":["shop"]}')] });
  apply(target, before);
  const after = wiring({ queues: [queue("local-watched-a", { visibilityTimeoutSeconds: 60 })], subscriptions: [subscription("local-watched-a")] });
  assert.equal(reconcileMessaging(target, diffWiring(before, after)), ["queue local-watched-a (visibilityTimeoutSeconds)"]);
  publish(target.sns, "till");
  assert.is(depth(target.sqs, "local-watched-a"), 1);
});

test("hostChanges: a changed policy is IAM's only; anything the host holds replaces the host", () => {
  const fn = { origin, name: "local-watched-a", arn: "arn:f", service: "watched", logicalName: "a", entry: "a.ts", exportName: "handler", runtime: "nodejs24.x", timeoutSeconds: 10, memoryMb: 256, environment: {}, logFormat: "JSON" as const, roleArn: "arn:r", policies: ["{}"] };
  const base = wiring({ functions: [fn] });
  assert.equal(hostChanges(diffWiring(base, wiring({ functions: [{ ...fn, policies: ['{"Version":"2012-10-17"}'] }] }))).iamOnly.map((f) => f.name), ["local-watched-a"]);
  assert.equal(hostChanges(diffWiring(base, wiring({ functions: [{ ...fn, timeoutSeconds: 20 }] }))).replaced.map((f) => f.name), ["local-watched-a"]);
});

test.run();
