/**
 * The read operations a developer inspects a stage with, through the unmodified `@aws-sdk/client-sns` against the SNS
 * endpoint over the real engine (as the local stage wires it): ListSubscriptions (paged by 100, as SNS does),
 * ListSubscriptionsByTopic, GetTopicAttributes and GetSubscriptionAttributes, with SNS's errors.
 */
import {
  AuthorizationErrorException,
  GetSubscriptionAttributesCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListSubscriptionsCommand,
  NotFoundException,
  paginateListSubscriptions,
  SNSClient,
} from "@aws-sdk/client-sns";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LOCAL_ACCOUNT_ID } from "../aws";
import { createSnsEndpoint, startEndpointServer, type EndpointServer } from "../endpoints";
import { SnsEngine } from "../sns";
import { SqsEngine } from "../sqs";
import { snsBackend } from "../stage/backends";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REGION = "eu-west-1";
let server: EndpointServer;
let engine: SnsEngine;
let client: SNSClient;
let denied: string[];
let topicArn: string;
let fifoArn: string;
let subscriptionArn: string;

test.before.each(async () => {
  const sqs = new SqsEngine({ region: REGION });
  engine = new SnsEngine({ sqs });
  topicArn = engine.createTopic("local-orders-order-placed").arn;
  fifoArn = engine.createTopic("local-orders.fifo", { FifoTopic: true, ContentBasedDeduplication: true }).arn;
  const queue = sqs.createQueue("local-billing-on-order-placed");
  subscriptionArn = engine.subscribe({
    TopicArn: topicArn,
    Protocol: "sqs",
    Endpoint: queue.arn,
    Attributes: { RawMessageDelivery: true, FilterPolicy: { type: [{ wildcard: "orders.*" }] }, FilterPolicyScope: "MessageAttributes" },
  });
  denied = [];
  const endpoint = createSnsEndpoint({
    backend: snsBackend(engine, (input) => engine.publish(input)),
    authorize: (request) => !denied.includes(request.action),
    region: REGION,
  });
  server = await startEndpointServer({ services: [endpoint] });
  client = new SNSClient({ endpoint: server.url, region: REGION, credentials: { accessKeyId: "developer", secretAccessKey: "x" }, maxAttempts: 1 });
});

test.after.each(async () => {
  client.destroy();
  await server.close();
});

test("ListSubscriptions and ListSubscriptionsByTopic list what the programs subscribed", async () => {
  const expected = {
    SubscriptionArn: subscriptionArn,
    Owner: LOCAL_ACCOUNT_ID,
    Protocol: "sqs",
    Endpoint: `arn:aws:sqs:${REGION}:${LOCAL_ACCOUNT_ID}:local-billing-on-order-placed`,
    TopicArn: topicArn,
  };
  const all = await client.send(new ListSubscriptionsCommand({}));
  assert.equal(all.Subscriptions, [expected]);
  assert.is(all.NextToken, undefined);
  const byTopic = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
  assert.equal(byTopic.Subscriptions, [expected]);
  const none = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn: fifoArn }));
  assert.equal(none.Subscriptions, []);
});

test("ListSubscriptions pages by 100 with a NextToken, as SNS does", async () => {
  const sqs = new SqsEngine({ region: REGION });
  for (let i = 0; i < 150; i++) engine.subscribe({ TopicArn: fifoArn, Protocol: "sqs", Endpoint: sqs.createQueue(`q-${i}.fifo`, { FifoQueue: "true" }).arn });
  const first = await client.send(new ListSubscriptionsCommand({}));
  assert.is(first.Subscriptions?.length, 100);
  assert.type(first.NextToken, "string");
  const arns: string[] = [];
  for await (const page of paginateListSubscriptions({ client }, {})) arns.push(...(page.Subscriptions ?? []).map((s) => s.SubscriptionArn!));
  assert.is(arns.length, 151);
  assert.is(new Set(arns).size, 151);
});

test("GetTopicAttributes answers AWS's attributes, FIFO settings on a FIFO topic", async () => {
  const { Attributes: standard = {} } = await client.send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
  assert.is(standard.TopicArn, topicArn);
  assert.is(standard.Owner, LOCAL_ACCOUNT_ID);
  assert.is(standard.SubscriptionsConfirmed, "1");
  assert.is(standard.SubscriptionsPending, "0");
  assert.is(standard.SubscriptionsDeleted, "0");
  assert.is(standard.FifoTopic, undefined);
  const policy = JSON.parse(standard.Policy ?? "{}") as { Id: string; Statement: Array<{ Resource: string; Condition: unknown }> };
  assert.is(policy.Id, "__default_policy_ID");
  assert.is(policy.Statement[0]?.Resource, topicArn);
  assert.equal(policy.Statement[0]?.Condition, { StringEquals: { "AWS:SourceOwner": LOCAL_ACCOUNT_ID } });
  assert.is(JSON.parse(standard.EffectiveDeliveryPolicy ?? "{}").http.defaultHealthyRetryPolicy.numRetries, 3);
  const { Attributes: fifo = {} } = await client.send(new GetTopicAttributesCommand({ TopicArn: fifoArn }));
  assert.is(fifo.FifoTopic, "true");
  assert.is(fifo.ContentBasedDeduplication, "true");
});

test("GetSubscriptionAttributes shows the filter policy, its scope and raw delivery", async () => {
  const { Attributes = {} } = await client.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn }));
  assert.is(Attributes.SubscriptionArn, subscriptionArn);
  assert.is(Attributes.TopicArn, topicArn);
  assert.is(Attributes.Protocol, "sqs");
  assert.is(Attributes.RawMessageDelivery, "true");
  assert.equal(JSON.parse(Attributes.FilterPolicy ?? "{}"), { type: [{ wildcard: "orders.*" }] });
  assert.is(Attributes.FilterPolicyScope, "MessageAttributes");
  assert.is(Attributes.Owner, LOCAL_ACCOUNT_ID);
});

test("missing topics and subscriptions answer SNS's NotFound; a denied caller AuthorizationError", async () => {
  const missingTopic = await client.send(new GetTopicAttributesCommand({ TopicArn: `${topicArn}-gone` })).catch((e: Error) => e);
  assert.instance(missingTopic, NotFoundException);
  assert.is((missingTopic as Error).message, "Topic does not exist");
  assert.is((missingTopic as NotFoundException).$metadata.httpStatusCode, 404);
  const missingByTopic = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn: `${topicArn}-gone` })).catch((e: Error) => e);
  assert.instance(missingByTopic, NotFoundException);
  const missingSubscription = await client.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: `${topicArn}:nope` })).catch((e: Error) => e);
  assert.instance(missingSubscription, NotFoundException);
  assert.is((missingSubscription as Error).message, "Subscription does not exist");
  denied = ["sns:GetTopicAttributes"];
  const refused = await client.send(new GetTopicAttributesCommand({ TopicArn: topicArn })).catch((e: Error) => e);
  assert.instance(refused, AuthorizationErrorException);
  assert.match((refused as Error).message, /is not authorized to perform: sns:GetTopicAttributes on resource: arn:aws:sns:eu-west-1:\d+:local-orders-order-placed/);
});

test.run();
