import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatNotification, SnsEngine, type NotificationFields, type SnsTraceEvent } from "../sns";
import { FakeClock, ServiceError, SqsEngine, type SqsTraceEvent } from "../sqs";

const fixtures = join(__dirname, "..", "..", "testing", "fixtures", "aws-events");
const fixtureBody = (file: string): string => JSON.parse(readFileSync(join(fixtures, file), "utf8")).Records[0].body;

function setup() {
  const clock = new FakeClock(Date.UTC(2024, 4, 14, 16, 49, 29, 123));
  const traces: Array<SnsTraceEvent | SqsTraceEvent> = [];
  const sqs = new SqsEngine({ clock, region: "eu-west-1", accountId: "231436140809", onTrace: (e) => traces.push(e) });
  const sns = new SnsEngine({ sqs, onTrace: (e) => traces.push(e) });
  return { clock, sqs, sns, traces };
}

function error(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ServiceError);
    return e as ServiceError;
  }
  return assert.unreachable("expected a ServiceError") as never;
}

test("topics: standard and FIFO, named as AWS requires", () => {
  const { sns } = setup();
  assert.equal(sns.createTopic("orders"), { name: "orders", arn: "arn:aws:sns:eu-west-1:231436140809:orders", fifo: false });
  assert.equal(sns.createTopic("orders").arn, "arn:aws:sns:eu-west-1:231436140809:orders", "idempotent");
  assert.is(sns.createTopic("ledger.fifo", { FifoTopic: true }).fifo, true);
  assert.match(error(() => sns.createTopic("ledger.fifo")).message, /Fifo Topic names must end with .fifo/);
  assert.match(error(() => sns.createTopic("ledger", { FifoTopic: "true" })).message, /Fifo Topic names must end with .fifo/);
  assert.match(error(() => sns.createTopic("x", { ContentBasedDeduplication: true })).message, /only be set for FIFO topics/);
  assert.is(error(() => sns.publish({ TopicArn: "arn:aws:sns:eu-west-1:231436140809:nope", Message: "m" })).code, "NotFound");
  assert.equal(sns.listTopics().map((t) => t.name), ["orders", "ledger.fifo"]);
});

test("non-raw delivery: the body is the SNS Notification exactly as AWS lays it out", () => {
  const { sns, sqs, clock } = setup();
  const topic = sns.createTopic("powertools265");
  const queue = sqs.createQueue("consumer");
  const subscriptionArn = sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  const { MessageId } = sns.publish({ TopicArn: topic.arn, Message: '{"message": "hello world", "username": "lessa"}' });
  const [message] = sqs.receiveNow(queue.url);
  assert.ok(message);
  assert.equal(message.MessageAttributes, {}, "attributes live in the envelope, not on the SQS message");
  const body = JSON.parse(message.Body) as Record<string, string>;
  const fixture = JSON.parse(fixtureBody("sqs-sns-envelope-2.json")) as Record<string, string>;
  assert.equal(Object.keys(body), Object.keys(fixture), "same keys in the same order as AWS (no Subject when none was set)");
  assert.is(body.Type, "Notification");
  assert.is(body.MessageId, MessageId);
  assert.match(MessageId, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.is(body.TopicArn, topic.arn);
  assert.is(body.Message, '{"message": "hello world", "username": "lessa"}');
  assert.is(body.Timestamp, new Date(clock.now()).toISOString());
  assert.is(body.SignatureVersion, "1");
  assert.is(Buffer.from(body.Signature!, "base64").length, 256);
  assert.is(body.Signature!.length, fixture.Signature!.length);
  assert.match(body.SigningCertURL!, /^https:\/\/sns\.eu-west-1\.amazonaws\.com\/SimpleNotificationService-[0-9a-f]{32}\.pem$/);
  assert.is(body.UnsubscribeURL, `https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${subscriptionArn}`);
  assert.is(message.Body, formatNotification(body as unknown as NotificationFields), "AWS's pretty-printing, byte for byte");
  assert.ok(message.Body.startsWith('{\n  "Type" : "Notification",\n  "MessageId" : "'));
  assert.is(message.Attributes.SenderId, "AIDAISMY7JYY5F7RTT6AO");
});

test("the notification formatter reproduces AWS's captured bodies byte for byte", () => {
  for (const file of ["sqs-sns-envelope-2.json", "sqs-sns-envelope-fifo.json"]) {
    const body = fixtureBody(file);
    assert.is(formatNotification(JSON.parse(body) as NotificationFields), body, file);
  }
  const withAttributes = formatNotification({
    MessageId: "c6e8c718-ed12-5a3b-a27a-9da5ac1f4eef",
    SequenceNumber: "10000000000000008000",
    TopicArn: "arn:aws:sns:eu-west-1:103886187339:t.fifo",
    Subject: "TEST MESSAGE",
    Message: 'line1\nline2 "quoted" \\ / é \u0001',
    Timestamp: "2022-03-29T17:15:57.176Z",
    UnsubscribeURL: "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:103886187339:t.fifo:06aa6509",
    MessageAttributes: { key3: { Type: "String", Value: "value3" }, n: { Type: "Number", Value: "2" } },
  });
  assert.is(
    withAttributes,
    [
      "{",
      '  "Type" : "Notification",',
      '  "MessageId" : "c6e8c718-ed12-5a3b-a27a-9da5ac1f4eef",',
      '  "SequenceNumber" : "10000000000000008000",',
      '  "TopicArn" : "arn:aws:sns:eu-west-1:103886187339:t.fifo",',
      '  "Subject" : "TEST MESSAGE",',
      '  "Message" : "line1\\nline2 \\"quoted\\" \\\\ / é \\u0001",',
      '  "Timestamp" : "2022-03-29T17:15:57.176Z",',
      '  "UnsubscribeURL" : "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:103886187339:t.fifo:06aa6509",',
      '  "MessageAttributes" : {',
      '    "key3" : {"Type":"String","Value":"value3"},',
      '    "n" : {"Type":"Number","Value":"2"}',
      "  }",
      "}",
    ].join("\n"),
  );
});

test("non-raw delivery with a subject and attributes: Subject after TopicArn, MessageAttributes last as {Type, Value}", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("q");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  sns.publish({
    TopicArn: topic.arn,
    Message: "hi",
    Subject: "Greeting",
    MessageAttributes: {
      type: { DataType: "String", StringValue: "orders.order-placed" },
      tags: { DataType: "String.Array", StringValue: '["a","b"]' },
      amount: { DataType: "Number", StringValue: "12.5" },
      blob: { DataType: "Binary", BinaryValue: Uint8Array.from([1, 2, 3]) },
    },
  });
  const body = JSON.parse(sqs.receiveNow(queue.url)[0]!.Body);
  assert.equal(Object.keys(body), [
    "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes",
  ]);
  assert.equal(body.MessageAttributes, {
    type: { Type: "String", Value: "orders.order-placed" },
    tags: { Type: "String.Array", Value: '["a","b"]' },
    amount: { Type: "Number", Value: "12.5" },
    blob: { Type: "Binary", Value: "AQID" },
  });
});

test("raw delivery: the body is the message verbatim and SNS attributes become SQS attributes", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("raw");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: "true" } });
  sns.publish({
    TopicArn: topic.arn,
    Message: '{"id":"1"}',
    Subject: "ignored in raw delivery",
    MessageAttributes: {
      type: { DataType: "String", StringValue: "orders.order-placed" },
      tags: { DataType: "String.Array", StringValue: '["a","b"]' },
      amount: { DataType: "Number", StringValue: "12.5" },
      blob: { DataType: "Binary", BinaryValue: Uint8Array.from([1, 2, 3]) },
    },
  });
  const [message] = sqs.receiveNow(queue.url);
  assert.is(message?.Body, '{"id":"1"}');
  assert.equal(message?.MessageAttributes, {
    type: { DataType: "String", StringValue: "orders.order-placed" },
    tags: { DataType: "String.Array", StringValue: '["a","b"]' },
    amount: { DataType: "Number", StringValue: "12.5" },
    blob: { DataType: "Binary", BinaryValue: Uint8Array.from([1, 2, 3]) },
  });
  assert.match(message?.MD5OfMessageAttributes ?? "", /^[0-9a-f]{32}$/);
});

test("fan-out: every subscription gets its copy; a filter drops what does not match, with a reason in the trace", () => {
  const { sns, sqs, traces } = setup();
  const topic = sns.createTopic("orders");
  const all = sqs.createQueue("all");
  const big = sqs.createQueue("big-orders");
  const body = sqs.createQueue("eu-orders");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: all.arn, Attributes: { RawMessageDelivery: true } });
  const bigSubscription = sns.subscribe({
    TopicArn: topic.arn,
    Protocol: "sqs",
    Endpoint: big.arn,
    Attributes: { RawMessageDelivery: true, FilterPolicy: { amount: [{ numeric: [">=", 100] }] } },
  });
  sns.subscribe({
    TopicArn: topic.arn,
    Protocol: "sqs",
    Endpoint: body.arn,
    Attributes: { RawMessageDelivery: true, FilterPolicyScope: "MessageBody", FilterPolicy: '{"order":{"region":[{"prefix":"eu-"}]}}' },
  });
  const publish = (amount: string, region: string) =>
    sns.publish({
      TopicArn: topic.arn,
      Message: JSON.stringify({ order: { region } }),
      MessageAttributes: { amount: { DataType: "Number", StringValue: amount } },
    });
  publish("150", "us-east-1");
  const small = publish("5", "eu-west-1");
  const drain = (url: string) => sqs.receiveNow(url, { MaxNumberOfMessages: 10 }).map((m) => JSON.parse(m.Body).order.region);
  assert.equal(drain(all.url), ["us-east-1", "eu-west-1"]);
  assert.equal(drain(big.url), ["us-east-1"]);
  assert.equal(drain(body.url), ["eu-west-1"]);
  const filtered = traces.find((t) => t.kind === "sns.filtered-out" && t.messageId === small.MessageId);
  assert.ok(filtered);
  assert.is((filtered as { subscriptionArn: string }).subscriptionArn, bigSubscription);
  assert.match((filtered as { reason: string }).reason, /message attribute "amount" does not match/);
});

test("filter policies are validated on subscribe and on change, with SNS's error messages", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("q");
  const subscribe = (Attributes: object) => () => sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes });
  const bad = error(subscribe({ FilterPolicy: { key: [{ "wrong-operator": true }] } }));
  assert.is(bad.code, "InvalidParameter");
  assert.is(bad.message, "Invalid parameter: Attributes Reason: FilterPolicy: Unrecognized match type wrong-operator");
  assert.is(
    error(subscribe({ FilterPolicy: { object: { key: [{ prefix: "auto-" }] } } })).message,
    "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy",
  );
  assert.is(
    error(subscribe({ FilterPolicyScope: "RandomValue" })).message,
    "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. Please use either MessageBody or MessageAttributes",
  );
  const arn = sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  assert.equal(Object.keys(sns.getSubscriptionAttributes(arn)).includes("FilterPolicyScope"), false, "no scope shown without a policy");
  assert.is(
    error(() => sns.setSubscriptionAttributes(arn, "FilterPolicy", JSON.stringify({ key: Array.from({ length: 151 }, (_, i) => i) }))).message,
    "Invalid parameter: FilterPolicy: Filter policy is too complex",
  );
  sns.setSubscriptionAttributes(arn, "FilterPolicyScope", "MessageBody");
  sns.setSubscriptionAttributes(arn, "FilterPolicy", '{"object":{"key":[{"prefix":"auto-"}]}}');
  assert.is(sns.getSubscriptionAttributes(arn).FilterPolicyScope, "MessageBody");
  assert.match(error(() => sns.setSubscriptionAttributes(arn, "FilterPolicyScope", "MessageAttributes")).message, /does not support nested/);
  assert.is(sns.getSubscriptionAttributes(arn).FilterPolicyScope, "MessageBody", "a failed change leaves the subscription as it was");
  sns.setSubscriptionAttributes(arn, "FilterPolicy", "");
  assert.is(sns.getSubscriptionAttributes(arn).FilterPolicy, undefined);
});

test("subscriptions: idempotent, different attributes rejected, FIFO queues only on FIFO topics, unsubscribe", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("q");
  const fifoQueue = sqs.createQueue("q.fifo", { FifoQueue: true });
  const arn = sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: "true" } });
  assert.is(sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } }), arn);
  assert.match(error(() => sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn })).message, /already exists with different attributes/);
  assert.match(error(() => sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: fifoQueue.arn })).message, /FIFO SQS Queues can not be subscribed to standard SNS topics/);
  assert.match(error(() => sns.subscribe({ TopicArn: topic.arn, Protocol: "http" as "sqs", Endpoint: "http://x" })).message, /sqs only/);
  assert.match(arn, new RegExp(`^${topic.arn}:[0-9a-f-]{36}$`));
  assert.equal(sns.listSubscriptionsByTopic(topic.arn), [{ SubscriptionArn: arn, Owner: sns.accountId, Protocol: "sqs", Endpoint: queue.arn, TopicArn: topic.arn }]);
  sns.unsubscribe(arn);
  sns.publish({ TopicArn: topic.arn, Message: "nobody listens" });
  assert.equal(sqs.peek(queue.url), []);
});

test("FIFO topics: group id and deduplication required, 5-minute dedup window, sequence numbers, FIFO envelope", async () => {
  const { sns, sqs, clock, traces } = setup();
  const topic = sns.createTopic("Test.fifo", { FifoTopic: true, ContentBasedDeduplication: true });
  const queue = sqs.createQueue("Test.fifo", { FifoQueue: true });
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  assert.is(error(() => sns.publish({ TopicArn: topic.arn, Message: "m" })).message, "Invalid parameter: The MessageGroupId parameter is required for FIFO topics");
  const first = sns.publish({ TopicArn: topic.arn, Message: '{"message": "hello world"}', MessageGroupId: "powertools-test" });
  assert.match(first.SequenceNumber!, /^\d{20}$/);
  const again = sns.publish({ TopicArn: topic.arn, Message: '{"message": "hello world"}', MessageGroupId: "powertools-test" });
  assert.equal(again, first, "a duplicate within 5 minutes gets the original id and sequence number");
  assert.ok(traces.some((t) => t.kind === "sns.deduplicated"));
  assert.is(sqs.peek(queue.url).length, 1, "and is not delivered again");
  const second = sns.publish({ TopicArn: topic.arn, Message: "other", MessageGroupId: "powertools-test", MessageDeduplicationId: "explicit" });
  assert.ok(BigInt(second.SequenceNumber!) > BigInt(first.SequenceNumber!));
  await clock.advance(5 * 60 * 1000);
  assert.is.not(sns.publish({ TopicArn: topic.arn, Message: '{"message": "hello world"}', MessageGroupId: "powertools-test" }).MessageId, first.MessageId);

  const [message] = sqs.receiveNow(queue.url);
  const body = JSON.parse(message!.Body);
  assert.equal(Object.keys(body), Object.keys(JSON.parse(fixtureBody("sqs-sns-envelope-fifo.json"))), "FIFO envelope: SequenceNumber, no signature");
  assert.is(body.SequenceNumber, first.SequenceNumber);
  assert.is(message!.Attributes.MessageGroupId, "powertools-test");
  assert.match(message!.Attributes.MessageDeduplicationId!, /^[0-9a-f]{64}$/, "SNS passes its content-based dedup id to SQS");

  const strict = sns.createTopic("strict.fifo", { FifoTopic: true });
  assert.match(error(() => sns.publish({ TopicArn: strict.arn, Message: "m", MessageGroupId: "g" })).message, /ContentBasedDeduplication enabled or MessageDeduplicationId/);
  const standard = sns.createTopic("standard");
  assert.match(error(() => sns.publish({ TopicArn: standard.arn, Message: "m", MessageDeduplicationId: "d" })).message, /not valid for this topic type/);
});

test("FIFO topic fans out in order within a group to a FIFO queue", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t.fifo", { FifoTopic: true });
  const queue = sqs.createQueue("q.fifo", { FifoQueue: true });
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } });
  for (let i = 1; i <= 4; i++) sns.publish({ TopicArn: topic.arn, Message: `m${i}`, MessageGroupId: i % 2 ? "odd" : "even", MessageDeduplicationId: `d${i}` });
  const batch = sqs.receiveNow(queue.url, { MaxNumberOfMessages: 10 });
  assert.equal(batch.map((m) => m.Body), ["m1", "m3", "m2", "m4"]);
});

test("PublishBatch: at most 10 entries with distinct ids, per-entry results", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("q");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } });
  const result = sns.publishBatch({
    TopicArn: topic.arn,
    PublishBatchRequestEntries: [
      { Id: "ok-1", Message: "one" },
      { Id: "empty", Message: "" },
      { Id: "bad-number", Message: "x", MessageAttributes: { n: { DataType: "Number", StringValue: "twelve" } } },
      { Id: "ok-2", Message: "two" },
    ],
  });
  assert.equal(result.Successful.map((s) => s.Id), ["ok-1", "ok-2"]);
  assert.equal(result.Failed.map((f) => [f.Id, f.Code, f.SenderFault]), [
    ["empty", "InvalidParameter", true],
    ["bad-number", "InvalidParameter", true],
  ]);
  assert.is(result.Failed[0]!.Message, "Invalid parameter: Empty message");
  assert.equal(sqs.receiveNow(queue.url, { MaxNumberOfMessages: 10 }).map((m) => m.Body), ["one", "two"]);
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, Message: "m" }));
  assert.is(error(() => sns.publishBatch({ TopicArn: topic.arn, PublishBatchRequestEntries: entries(11) })).code, "TooManyEntriesInBatchRequest");
  assert.is(error(() => sns.publishBatch({ TopicArn: topic.arn, PublishBatchRequestEntries: [] })).code, "EmptyBatchRequest");
  assert.is(error(() => sns.publishBatch({ TopicArn: topic.arn, PublishBatchRequestEntries: [{ Id: "a", Message: "x" }, { Id: "a", Message: "y" }] })).code, "BatchEntryIdsNotDistinct");
  assert.is(error(() => sns.publishBatch({ TopicArn: topic.arn, PublishBatchRequestEntries: [{ Id: "a", Message: "x".repeat(200_000) }, { Id: "b", Message: "y".repeat(100_000) }] })).code, "BatchRequestTooLong");
  const fifo = sns.createTopic("b.fifo", { FifoTopic: true, ContentBasedDeduplication: true });
  const fifoResult = sns.publishBatch({ TopicArn: fifo.arn, PublishBatchRequestEntries: [{ Id: "a", Message: "x", MessageGroupId: "g" }, { Id: "b", Message: "y" }] });
  assert.match(fifoResult.Successful[0]!.SequenceNumber ?? "", /^\d{20}$/);
  assert.equal(fifoResult.Failed.map((f) => f.Id), ["b"]);
});

test("publish validation: empty message, size, subject, attribute types and String.Array", () => {
  const { sns } = setup();
  const { arn } = sns.createTopic("t");
  const message = (input: object) => error(() => sns.publish({ TopicArn: arn, Message: "m", ...input })).message;
  assert.is(message({ Message: "" }), "Invalid parameter: Empty message");
  assert.is(message({ Message: "x".repeat(262_145) }), "Invalid parameter: Message too long");
  assert.is(message({ Subject: "line\nbreak" }), "Invalid parameter: Subject");
  assert.match(message({ MessageAttributes: { a: { DataType: "Text", StringValue: "v" } } }), /supported type prefixes is Binary, Number, and String/);
  assert.match(message({ MessageAttributes: { a: { DataType: "String.Array", StringValue: "not json" } } }), /String.Array/);
  assert.match(message({ MessageAttributes: { a: { DataType: "String.Array", StringValue: '[{"nested":1}]' } } }), /String.Array/);
  assert.match(message({ MessageAttributes: { "AWS.x": { DataType: "String", StringValue: "v" } } }), /invalid name/);
  assert.match(message({ MessageStructure: "json", Message: '{"sqs":"x"}' }), /No default entry/);
});

test("MessageStructure json: SQS subscriptions get the sqs entry, else the default", () => {
  const { sns, sqs } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("q");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } });
  sns.publish({ TopicArn: topic.arn, MessageStructure: "json", Message: JSON.stringify({ default: "for everyone", sqs: "for queues" }) });
  sns.publish({ TopicArn: topic.arn, MessageStructure: "json", Message: JSON.stringify({ default: "only default" }) });
  assert.equal(sqs.receiveNow(queue.url, { MaxNumberOfMessages: 10 }).map((m) => m.Body), ["for queues", "only default"]);
});

test("a delivery SQS refuses fails, and goes to the subscription's dead-letter queue when it has one", () => {
  const { sns, sqs, traces } = setup();
  const topic = sns.createTopic("t");
  const dlq = sqs.createQueue("subscription-dlq");
  const missing = "arn:aws:sqs:eu-west-1:231436140809:not-created-yet";
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: missing, Attributes: { RedrivePolicy: { deadLetterTargetArn: dlq.arn } } });
  const { MessageId } = sns.publish({ TopicArn: topic.arn, Message: "lost?" });
  const failed = traces.find((t) => t.kind === "sns.delivery-failed") as { messageId: string; error: string; deadLetterQueueArn?: string };
  assert.is(failed.messageId, MessageId);
  assert.match(failed.error, /NonExistentQueue/);
  assert.is(failed.deadLetterQueueArn, dlq.arn);
  assert.is(JSON.parse(sqs.receiveNow(dlq.url)[0]!.Body).Message, "lost?");

  const raw = sqs.createQueue("raw");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: raw.arn, Attributes: { RawMessageDelivery: true } });
  const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }]));
  sns.publish({ TopicArn: topic.arn, Message: "too many attributes for raw delivery", MessageAttributes: eleven });
  assert.equal(sqs.peek(raw.url), []);
  assert.ok(traces.some((t) => t.kind === "sns.delivery-failed" && t.endpoint === raw.arn && /exceeds the allowed maximum \[10\]/.test(t.error)));
});

test("the trace follows an event: publish (with correlation id) -> delivered -> sqs.sent, joined by ids", () => {
  const { sns, sqs, traces } = setup();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("q");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  const { MessageId } = sns.publish({
    TopicArn: topic.arn,
    Message: "m",
    MessageAttributes: { correlationid: { DataType: "String", StringValue: "corr-1" } },
    MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: "Root=1-6447018c-62cb3d2d583ece3120a3f9f5;Sampled=1" } },
  });
  const published = traces.find((t) => t.kind === "sns.published") as { correlationId?: string; messageId: string };
  assert.is(published.correlationId, "corr-1");
  assert.is(published.messageId, MessageId);
  const delivered = traces.find((t) => t.kind === "sns.delivered") as { sqsMessageId: string; messageId: string };
  assert.is(delivered.messageId, MessageId);
  const sent = traces.find((t) => t.kind === "sqs.sent") as { messageId: string; origin: string };
  assert.is(sent.messageId, delivered.sqsMessageId);
  assert.is(sent.origin, "sns");
  assert.equal(traces.map((t) => t.kind), ["sns.published", "sqs.sent", "sns.delivered"]);
  assert.is(sqs.receiveNow(queue.url)[0]!.Attributes.AWSTraceHeader, "Root=1-6447018c-62cb3d2d583ece3120a3f9f5;Sampled=1");
});

test.run();
