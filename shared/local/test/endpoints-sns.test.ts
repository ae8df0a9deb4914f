import {
  AuthorizationErrorException,
  BatchEntryIdsNotDistinctException,
  CreateTopicCommand,
  InternalErrorException,
  InvalidParameterException,
  ListTopicsCommand,
  NotFoundException,
  PublishBatchCommand,
  PublishCommand,
  SNSClient,
  SNSServiceException,
  SubscribeCommand,
  TooManyEntriesInBatchRequestException,
} from "@aws-sdk/client-sns";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AwsServiceError,
  createSnsEndpoint,
  startEndpointServer,
  type AuthorizationDecision,
  type AuthorizationRequest,
  type EndpointServer,
  type SnsBackend,
  type SnsCall,
  type SnsPublishBatchInput,
  type SnsPublishInput,
} from "../endpoints";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:local-orders-order-placed";
const FIFO_TOPIC = "arn:aws:sns:eu-west-1:123456789012:local-orders-order-placed.fifo";
const CALLER = "local-orders-place-order";

/** A fake engine that records what reaches it. */
class FakeSns implements SnsBackend {
  published: Array<{ request: SnsPublishInput; call: SnsCall }> = [];
  batches: SnsPublishBatchInput[] = [];
  failWith: Error | undefined;
  publishBatch?: SnsBackend["publishBatch"];
  createTopic?: SnsBackend["createTopic"];
  listTopics?: SnsBackend["listTopics"];
  subscribe?: SnsBackend["subscribe"];

  async publish(request: SnsPublishInput, call: SnsCall): Promise<{ MessageId: string; SequenceNumber?: string }> {
    if (this.failWith) throw this.failWith;
    if (request.TopicArn.endsWith(":missing")) throw new AwsServiceError("NotFound", "Topic does not exist");
    this.published.push({ request, call });
    const n = this.published.length;
    return request.TopicArn.endsWith(".fifo") ? { MessageId: `m-${n}`, SequenceNumber: `1000000000000000000${n}` } : { MessageId: `m-${n}` };
  }
}

let backend: FakeSns;
let decisions: AuthorizationRequest[];
let decide: (request: AuthorizationRequest) => AuthorizationDecision;
let server: EndpointServer;
let sns: SNSClient;

function client(accessKeyId = CALLER): SNSClient {
  return new SNSClient({ endpoint: server.url, region: "eu-west-1", credentials: { accessKeyId, secretAccessKey: "x" }, maxAttempts: 1 });
}

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new assert.Assertion({ message: "expected the call to fail", operator: "rejects", actual: "resolved", expects: "rejection" });
}

test.before.each(async () => {
  backend = new FakeSns();
  decisions = [];
  decide = () => true;
  const endpoint = createSnsEndpoint({
    backend,
    authorize: (request) => {
      decisions.push(request);
      return decide(request);
    },
  });
  server = await startEndpointServer({ services: [endpoint] });
  sns = client();
});

test.after.each(async () => {
  sns.destroy();
  await server.close();
});

test("Publish reaches the engine with attributes, subject, FIFO group and deduplication ids, and the caller's identity", async () => {
  const output = await sns.send(
    new PublishCommand({
      TopicArn: FIFO_TOPIC,
      Message: `{"orderId":"o-1","note":"a & b <c>"}`,
      Subject: "Order placed",
      MessageGroupId: "customer-7",
      MessageDeduplicationId: "event-42",
      MessageAttributes: {
        type: { DataType: "String", StringValue: "orders.order-placed" },
        attempt: { DataType: "Number", StringValue: "3" },
        tags: { DataType: "String.Array", StringValue: `["a","b"]` },
        blob: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 254, 255]) },
      },
    }),
  );
  assert.is(output.MessageId, "m-1");
  assert.is(output.SequenceNumber, "10000000000000000001");
  const [received] = backend.published;
  assert.ok(received);
  assert.equal(
    { ...received.request, MessageAttributes: { ...received.request.MessageAttributes, blob: undefined } },
    {
      TopicArn: FIFO_TOPIC,
      Message: `{"orderId":"o-1","note":"a & b <c>"}`,
      Subject: "Order placed",
      MessageGroupId: "customer-7",
      MessageDeduplicationId: "event-42",
      MessageAttributes: {
        type: { DataType: "String", StringValue: "orders.order-placed" },
        attempt: { DataType: "Number", StringValue: "3" },
        tags: { DataType: "String.Array", StringValue: `["a","b"]` },
        blob: undefined,
      },
    },
    "the SDK's PublishInput, as the client sent it",
  );
  const blob = received.request.MessageAttributes?.blob;
  assert.is(blob?.DataType, "Binary");
  assert.equal([...(blob?.BinaryValue ?? [])], [0, 1, 254, 255]);
  assert.is(received.call.context.principal, CALLER);
  assert.is(received.call.region, "eu-west-1");
  assert.equal(
    decisions.map((d) => [d.principal, d.action, d.resource, d.context.operation]),
    [[CALLER, "sns:Publish", FIFO_TOPIC, "Publish"]],
  );
});

test("PublishBatch reaches the engine's publishBatch with each entry's fields, and answers per entry", async () => {
  backend.publishBatch = async (request) => {
    backend.batches.push(request);
    return {
      Successful: [{ Id: "first", MessageId: "m-a", SequenceNumber: "1" }],
      Failed: [{ Id: "second", Code: "InvalidParameter", Message: "Invalid parameter: Message too long", SenderFault: true }],
    };
  };
  const output = await sns.send(
    new PublishBatchCommand({
      TopicArn: FIFO_TOPIC,
      PublishBatchRequestEntries: [
        { Id: "first", Message: "one", MessageGroupId: "g-1", MessageDeduplicationId: "d-1", MessageAttributes: { type: { DataType: "String", StringValue: "t" } } },
        { Id: "second", Message: "two", MessageGroupId: "g-2", Subject: "s" },
      ],
    }),
  );
  assert.equal(backend.batches, [
    {
      TopicArn: FIFO_TOPIC,
      PublishBatchRequestEntries: [
        { Id: "first", Message: "one", MessageGroupId: "g-1", MessageDeduplicationId: "d-1", MessageAttributes: { type: { DataType: "String", StringValue: "t" } } },
        { Id: "second", Message: "two", MessageGroupId: "g-2", Subject: "s" },
      ],
    },
  ]);
  assert.equal(output.Successful, [{ Id: "first", MessageId: "m-a", SequenceNumber: "1" }]);
  assert.equal(output.Failed, [{ Id: "second", Code: "InvalidParameter", Message: "Invalid parameter: Message too long", SenderFault: true }]);
  assert.equal(decisions.map((d) => [d.action, d.context.operation]), [["sns:Publish", "PublishBatch"]]);
});

test("PublishBatch without an engine batch publishes each entry and reports an entry's AWS error as its failure", async () => {
  backend.publish = async function (this: FakeSns, request, call) {
    if (request.Message === "bad") throw new AwsServiceError("InvalidParameter", "Invalid parameter: bad message");
    return FakeSns.prototype.publish.call(this, request, call);
  };
  const output = await sns.send(
    new PublishBatchCommand({
      TopicArn: TOPIC,
      PublishBatchRequestEntries: [
        { Id: "a", Message: "good" },
        { Id: "b", Message: "bad" },
      ],
    }),
  );
  assert.equal(output.Successful, [{ Id: "a", MessageId: "m-1" }]);
  assert.equal(output.Failed, [{ Id: "b", Code: "InvalidParameter", Message: "Invalid parameter: bad message", SenderFault: true }]);
});

/** Runs `work` as inside Lambda, where the SDK sends `_X_AMZN_TRACE_ID` as the request's X-Amzn-Trace-Id. */
async function inInvocation<T>(traceHeader: string, work: () => Promise<T>): Promise<T> {
  const saved = { name: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
  process.env.AWS_LAMBDA_FUNCTION_NAME = CALLER;
  process.env._X_AMZN_TRACE_ID = traceHeader;
  try {
    return await work();
  } finally {
    for (const [key, value] of [["AWS_LAMBDA_FUNCTION_NAME", saved.name], ["_X_AMZN_TRACE_ID", saved.trace]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

const INVOCATION_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

test("PublishBatch's entries are traced under the caller: the backend gets the caller's span, the authorization the call's own", async () => {
  const calls: SnsCall[] = [];
  backend.publishBatch = async (request, call) => {
    calls.push(call);
    return { Successful: request.PublishBatchRequestEntries.map((e, i) => ({ Id: e.Id, MessageId: `m-${i}` })), Failed: [] };
  };
  await inInvocation(INVOCATION_TRACE, () =>
    sns.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [{ Id: "a", Message: "one" }, { Id: "b", Message: "two" }] })),
  );
  const [call] = calls;
  assert.is(call!.context.spanId, "53995c3f42cd8ad8", "the caller's span: each entry's publish is its child, as one Publish would be");
  assert.is(call!.context.traceId, "5759e988bd862e3fe1be46a994272793");
  assert.is(call!.context.parentSpanId, undefined);
  assert.is(call!.context.principal, CALLER);
  const own = decisions[0]!.context.requestContext!;
  assert.is(own.parentSpanId, "53995c3f42cd8ad8", "the call itself is a span under the caller");
  assert.is.not(own.spanId, "53995c3f42cd8ad8");

  // Without the backend's publishBatch: each entry through publish, each with a span of its own under the caller.
  backend.publishBatch = undefined;
  await inInvocation(INVOCATION_TRACE, () =>
    sns.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [{ Id: "a", Message: "one" }, { Id: "b", Message: "two" }] })),
  );
  const contexts = backend.published.map((p) => p.call.context);
  assert.equal(contexts.map((c) => [c.traceId, c.parentSpanId]), [
    ["5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"],
    ["5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"],
  ]);
  assert.is.not(contexts[0]!.spanId, contexts[1]!.spanId);
});

test("a missing topic raises NotFoundException (HTTP 404)", async () => {
  const error = await rejection(sns.send(new PublishCommand({ TopicArn: "arn:aws:sns:eu-west-1:123456789012:missing", Message: "x" })));
  assert.instance(error, NotFoundException);
  assert.is(error.message, "Topic does not exist");
  assert.is(error.$metadata?.httpStatusCode, 404);
});

test("an engine error named by its exception class maps to the wire code (InvalidParameterException)", async () => {
  backend.failWith = Object.assign(new Error("Invalid parameter: MessageGroupId"), { code: "InvalidParameterException" });
  const error = await rejection(sns.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" })));
  assert.instance(error, InvalidParameterException);
  assert.is(error.message, "Invalid parameter: MessageGroupId");
  assert.is(error.$metadata?.httpStatusCode, 400);
});

test("an engine failure that is not an AWS error raises InternalErrorException (HTTP 500)", async () => {
  backend.failWith = new Error("disk on fire");
  const error = await rejection(sns.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" })));
  assert.instance(error, InternalErrorException);
  assert.match(error.message, "disk on fire");
});

test("a denied publish raises AuthorizationErrorException with AWS's message, and never reaches the engine", async () => {
  decide = () => false;
  const error = await rejection(sns.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" })));
  assert.instance(error, AuthorizationErrorException);
  assert.is(error.$metadata?.httpStatusCode, 403);
  assert.is(
    error.message,
    `User: arn:aws:sts::123456789012:assumed-role/${CALLER}/${CALLER} is not authorized to perform: sns:Publish on resource: ${TOPIC} because no identity-based policy allows the sns:Publish action`,
  );
  assert.is(backend.published.length, 0);
});

test("a denial may name the caller's role ARN and the reason", async () => {
  decide = () => ({
    allowed: false,
    principalArn: "arn:aws:sts::123456789012:assumed-role/local-orders-place-order/local-orders-place-order",
    reason: "an explicit deny in an identity-based policy",
  });
  const error = await rejection(sns.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [{ Id: "a", Message: "x" }] })));
  assert.instance(error, AuthorizationErrorException);
  assert.match(error.message, "assumed-role/local-orders-place-order/local-orders-place-order is not authorized");
  assert.match(error.message, "because an explicit deny in an identity-based policy");
});

test("batch rules: distinct ids and at most ten entries", async () => {
  const duplicate = await rejection(
    sns.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: [{ Id: "a", Message: "1" }, { Id: "a", Message: "2" }] })),
  );
  assert.instance(duplicate, BatchEntryIdsNotDistinctException);
  const entries = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, Message: "m" }));
  const tooMany = await rejection(sns.send(new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: entries })));
  assert.instance(tooMany, TooManyEntriesInBatchRequestException);
  assert.is(backend.published.length, 0);
});

test("Publish without a message or a topic raises the SDK's errors, not a crash", async () => {
  const noTopic = await rejection(sns.send(new PublishCommand({ Message: "x" })));
  assert.instance(noTopic, InvalidParameterException);
  const empty = await rejection(sns.send(new PublishCommand({ TopicArn: TOPIC, Message: "" })));
  assert.instance(empty, InvalidParameterException);
  assert.is(empty.message, "Invalid parameter: Empty message");
});

test("CreateTopic, ListTopics and Subscribe reach the engine when it has them", async () => {
  const topics: string[] = [];
  const subscriptions: unknown[] = [];
  backend.createTopic = async ({ Name, Attributes, Tags }) => {
    topics.push(`arn:aws:sns:eu-west-1:123456789012:${Name}`);
    assert.equal(Attributes, { FifoTopic: "true" });
    assert.equal(Tags, [{ Key: "team", Value: "orders" }]);
    return { TopicArn: topics[topics.length - 1]! };
  };
  backend.listTopics = async () => ({ Topics: topics.map((TopicArn) => ({ TopicArn })) });
  backend.subscribe = async (request) => {
    subscriptions.push(request);
    return { SubscriptionArn: `${request.TopicArn}:sub-1` };
  };
  const created = await sns.send(new CreateTopicCommand({ Name: "t.fifo", Attributes: { FifoTopic: "true" }, Tags: [{ Key: "team", Value: "orders" }] }));
  assert.is(created.TopicArn, "arn:aws:sns:eu-west-1:123456789012:t.fifo");
  const listed = await sns.send(new ListTopicsCommand({}));
  assert.equal(listed.Topics, [{ TopicArn: "arn:aws:sns:eu-west-1:123456789012:t.fifo" }]);
  const subscribed = await sns.send(
    new SubscribeCommand({ TopicArn: created.TopicArn, Protocol: "sqs", Endpoint: "arn:aws:sqs:eu-west-1:123456789012:q", Attributes: { RawMessageDelivery: "true" } }),
  );
  assert.is(subscribed.SubscriptionArn, "arn:aws:sns:eu-west-1:123456789012:t.fifo:sub-1");
  assert.equal(subscriptions, [
    { TopicArn: created.TopicArn, Protocol: "sqs", Endpoint: "arn:aws:sqs:eu-west-1:123456789012:q", Attributes: { RawMessageDelivery: "true" }, ReturnSubscriptionArn: false },
  ]);
  assert.equal(
    decisions.map((d) => [d.action, d.resource]),
    [
      ["sns:CreateTopic", "arn:aws:sns:eu-west-1:123456789012:t.fifo"],
      ["sns:ListTopics", "arn:aws:sns:eu-west-1:123456789012:*"],
      ["sns:Subscribe", "arn:aws:sns:eu-west-1:123456789012:t.fifo"],
    ],
  );
});

test("an operation the engine lacks answers InvalidAction", async () => {
  const error = await rejection(sns.send(new CreateTopicCommand({ Name: "t" })));
  assert.instance(error, SNSServiceException);
  assert.is(error.name, "InvalidAction");
  assert.match(error.message, "CreateTopic is not supported");
});

test("an unsigned request is refused as AWS refuses it", async () => {
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `Action=Publish&Version=2010-03-31&TopicArn=${encodeURIComponent(TOPIC)}&Message=x`,
  });
  assert.is(response.status, 403);
  const body = await response.text();
  assert.match(body, "<Code>MissingAuthenticationToken</Code>");
  assert.is(backend.published.length, 0);
});

test.run();
