import { test } from "uvu";
import * as assert from "uvu/assert";
import { FakeClock, ServiceError, SqsEngine, type SqsTraceEvent } from "../sqs";
import { firstInvalidCharacter } from "../sqs/validation";

function setup(options: { region?: string } = {}) {
  const clock = new FakeClock();
  const traces: SqsTraceEvent[] = [];
  const sqs = new SqsEngine({ clock, onTrace: (e) => traces.push(e), accountId: "123456789012", ...options });
  return { clock, sqs, traces };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ServiceError);
    return (error as ServiceError).code;
  }
  return assert.unreachable("expected a ServiceError") as never;
}

test("a queue is addressed by name, URL or ARN and created idempotently", () => {
  const { sqs } = setup();
  const info = sqs.createQueue("orders");
  assert.equal(info, {
    name: "orders",
    arn: "arn:aws:sqs:us-east-1:123456789012:orders",
    url: "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
    fifo: false,
  });
  assert.is(sqs.queue("orders"), sqs.queue(info.url));
  assert.is(sqs.queue(info.arn), sqs.queue(info.url));
  assert.equal(sqs.createQueue("orders"), info);
  assert.is(code(() => sqs.createQueue("orders", { VisibilityTimeout: 5 })), "QueueNameExists");
  assert.is(code(() => sqs.queue("missing")), "AWS.SimpleQueueService.NonExistentQueue");
  assert.is(code(() => sqs.createQueue("bad name")), "InvalidParameterValue");
  assert.is(code(() => sqs.createQueue("q.fifo")), "InvalidParameterValue", ".fifo needs FifoQueue");
  assert.is(code(() => sqs.createQueue("q", { FifoQueue: true })), "InvalidParameterValue", "FifoQueue needs .fifo");
  assert.is(code(() => sqs.createQueue("q", { VisibilityTimeout: 50_000 })), "InvalidParameterValue");
  assert.is(code(() => sqs.createQueue("q", { ContentBasedDeduplication: true })), "InvalidAttributeName", "a FIFO-only attribute");
  assert.is(
    code(() => sqs.createQueue("q", { RedrivePolicy: { deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:nope", maxReceiveCount: 3 } })),
    "InvalidParameterValue",
    "the dead-letter queue must exist",
  );
  sqs.deleteQueue("orders");
  assert.equal(sqs.listQueues(), []);
});

test("send and receive carry body, attributes, MD5s and system attributes", () => {
  const { sqs, clock } = setup();
  const { url } = sqs.createQueue("q");
  const sent = sqs.sendMessage(url, {
    MessageBody: "This is a test message",
    MessageAttributes: { SellerName: { DataType: "String", StringValue: "Example Store" } },
    MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: "Root=1-5759e988-bd862e3fe1be46a994272793" } },
  });
  assert.is(sent.MD5OfMessageBody, "fafb00f5732ab283681e124bf8747ed1");
  assert.is(sent.MD5OfMessageAttributes, "cd28f3b68aeee4b2eac9c66f2f694b58");
  assert.is(sent.Duplicate, false);
  const [message] = sqs.receiveNow(url);
  assert.ok(message);
  assert.is(message.MessageId, sent.MessageId);
  assert.is(message.Body, "This is a test message");
  assert.is(message.MD5OfBody, sent.MD5OfMessageBody);
  assert.equal(message.MessageAttributes, { SellerName: { DataType: "String", StringValue: "Example Store" } });
  assert.equal(Object.keys(message.Attributes), [
    "ApproximateReceiveCount",
    "AWSTraceHeader",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
  ]);
  assert.is(message.Attributes.ApproximateReceiveCount, "1");
  assert.is(message.Attributes.SentTimestamp, String(clock.now()));
  assert.match(message.ReceiptHandle, /^AQEB/);
});

test("a received message is invisible for the visibility timeout, then reappears with a higher receive count", async () => {
  const { sqs, clock, traces } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 30 });
  sqs.sendMessage(url, { MessageBody: "hello" });
  const first = sqs.receiveNow(url)[0]!;
  const firstSeen = clock.now();
  assert.equal(sqs.counts(url), { ApproximateNumberOfMessages: 0, ApproximateNumberOfMessagesNotVisible: 1, ApproximateNumberOfMessagesDelayed: 0 });
  await clock.advance(29_999);
  assert.equal(sqs.receiveNow(url), [], "still in flight 1 ms before the timeout");
  await clock.advance(1);
  const second = sqs.receiveNow(url, { VisibilityTimeout: 10 })[0]!;
  assert.is(second.MessageId, first.MessageId);
  assert.is(second.Attributes.ApproximateReceiveCount, "2");
  assert.is(second.Attributes.ApproximateFirstReceiveTimestamp, String(firstSeen), "first receive time is kept");
  assert.is.not(second.ReceiptHandle, first.ReceiptHandle);
  await clock.advance(10_000);
  assert.is(sqs.receiveNow(url)[0]!.Attributes.ApproximateReceiveCount, "3", "the per-receive visibility timeout applied");
  assert.equal(traces.filter((t) => t.kind === "sqs.received").map((t) => (t as { receiveCount: number }).receiveCount), [1, 2, 3]);
});

test("delete needs the latest receipt handle; a superseded one deletes nothing; an unknown one is invalid", async () => {
  const { sqs, clock, traces } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 1 });
  sqs.sendMessage(url, { MessageBody: "m" });
  const old = sqs.receiveNow(url)[0]!;
  await clock.advance(1000);
  const latest = sqs.receiveNow(url)[0]!;
  sqs.delete(url, old.ReceiptHandle);
  assert.ok(traces.some((t) => t.kind === "sqs.stale-receipt-handle"));
  assert.is(sqs.peek(url).length, 1, "the stale handle deleted nothing");
  sqs.delete(url, latest.ReceiptHandle);
  assert.is(sqs.peek(url).length, 0);
  sqs.delete(url, latest.ReceiptHandle); // deleting again succeeds, as in AWS
  assert.is(code(() => sqs.delete(url, "not-a-handle")), "ReceiptHandleIsInvalid");
});

test("a removed message takes every receipt handle it was given with it; a redriven one starts with none", async () => {
  const { sqs, clock } = setup();
  const dlq = sqs.createQueue("handles-dead");
  const { url, arn } = sqs.createQueue("handles", { VisibilityTimeout: 1, RedrivePolicy: { deadLetterTargetArn: dlq.arn, maxReceiveCount: 3 } });
  const issued = (queueArn: string) => (sqs.queue(queueArn) as unknown as { handles: Map<string, string> }).handles;
  sqs.sendMessage(url, { MessageBody: "kept" });
  sqs.sendMessage(url, { MessageBody: "redriven" });
  const first = sqs.receiveNow(url, { MaxNumberOfMessages: 10 });
  await clock.advance(1000);
  const second = sqs.receiveNow(url, { MaxNumberOfMessages: 10 });
  assert.equal(second.map((m) => m.Body), ["kept", "redriven"]);
  assert.is(issued(arn).size, 4, "two handles per message");
  sqs.delete(url, second[0]!.ReceiptHandle);
  assert.is(issued(arn).size, 2, "the deleted message's old and latest handles are gone, the other's stay");
  // Its handles are forgotten with it: each answers as a message already gone (AWS: success, nothing deleted).
  sqs.delete(url, first[0]!.ReceiptHandle);
  sqs.delete(url, second[0]!.ReceiptHandle);
  assert.is(code(() => sqs.changeVisibility(url, first[0]!.ReceiptHandle, 5)), "InvalidParameterValue");
  await clock.advance(1000);
  const third = sqs.receiveNow(url)[0]!;
  await clock.advance(1000);
  assert.equal(sqs.receiveNow(url), [], "the fourth receive moved it to the dead-letter queue");
  assert.is(issued(arn).size, 0, "the source forgot the moved message's handles");
  const dead = sqs.receiveNow(dlq.url)[0]!;
  assert.is(dead.Body, "redriven");
  assert.equal([...issued(dlq.arn).keys()], [dead.ReceiptHandle], "the dead-letter queue's own handle only");
  sqs.delete(dlq.url, third.ReceiptHandle);
  assert.is(sqs.peek(dlq.url).length, 1, "a handle of the source queue deletes nothing in the dead-letter queue");
  sqs.delete(dlq.url, dead.ReceiptHandle);
  assert.is(sqs.peek(dlq.url).length, 0);
  assert.is(issued(dlq.arn).size, 0);
});

test("change visibility extends or ends the timeout of an in-flight message only", async () => {
  const { sqs, clock } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 30 });
  sqs.sendMessage(url, { MessageBody: "m" });
  const message = sqs.receiveNow(url)[0]!;
  sqs.changeVisibility(url, message.ReceiptHandle, 120);
  await clock.advance(60_000);
  assert.equal(sqs.receiveNow(url), [], "extended to 120 s");
  sqs.changeVisibility(url, message.ReceiptHandle, 0);
  const again = sqs.receiveNow(url)[0]!;
  assert.is(again.Attributes.ApproximateReceiveCount, "2", "visible at once after 0");
  assert.is(code(() => sqs.changeVisibility(url, message.ReceiptHandle, 10)), "InvalidParameterValue", "superseded handle");
  sqs.changeVisibility(url, again.ReceiptHandle, 0);
  assert.is(code(() => sqs.changeVisibility(url, again.ReceiptHandle, 10)), "InvalidParameterValue", "not in flight any more");
  assert.is(code(() => sqs.changeVisibility(url, again.ReceiptHandle, 43_201)), "InvalidParameterValue");
});

test("after maxReceiveCount receives the next receive moves the message to the DLQ, which names its source", async () => {
  const { sqs, clock, traces } = setup();
  const dlq = sqs.createQueue("orders-dlq", { MessageRetentionPeriod: 1_209_600 });
  const { url, arn } = sqs.createQueue("orders", {
    VisibilityTimeout: 10,
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: "3" }),
  });
  const sent = sqs.sendMessage(url, { MessageBody: "poison", MessageAttributes: { kind: { DataType: "String", StringValue: "x" } } });
  for (let i = 1; i <= 3; i++) {
    const [m] = sqs.receiveNow(url);
    assert.is(m?.Attributes.ApproximateReceiveCount, String(i));
    await clock.advance(10_000);
  }
  assert.equal(sqs.receiveNow(url), [], "the fourth receive finds nothing: the message moved");
  assert.equal(sqs.peek(url), []);
  const moved = traces.find((t) => t.kind === "sqs.moved-to-dlq");
  assert.equal(moved, { kind: "sqs.moved-to-dlq", time: clock.now(), queueArn: arn, deadLetterQueueArn: dlq.arn, messageId: sent.MessageId, receiveCount: 3 });
  const [dead] = sqs.receiveNow(dlq.url);
  assert.ok(dead);
  assert.is(dead.MessageId, sent.MessageId, "the message keeps its id");
  assert.is(dead.Body, "poison");
  assert.is(dead.Attributes.DeadLetterQueueSourceArn, arn);
  assert.is(dead.Attributes.ApproximateReceiveCount, "1");
  assert.equal(dead.MessageAttributes, { kind: { DataType: "String", StringValue: "x" } });
  assert.is(Object.keys(dead.Attributes).at(-1), "DeadLetterQueueSourceArn");
});

test("messages older than the retention period are dropped (a standard DLQ keeps the original enqueue time)", async () => {
  const { sqs, clock, traces } = setup();
  const dlq = sqs.createQueue("dlq", { MessageRetentionPeriod: 120 });
  const { url } = sqs.createQueue("q", { MessageRetentionPeriod: 60, VisibilityTimeout: 1, RedrivePolicy: { deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 } });
  sqs.sendMessage(url, { MessageBody: "old" });
  await clock.advance(59_999);
  assert.is(sqs.peek(url).length, 1);
  await clock.advance(1);
  assert.equal(sqs.receiveNow(url), []);
  assert.ok(traces.some((t) => t.kind === "sqs.expired"));

  sqs.sendMessage(url, { MessageBody: "to dlq" });
  sqs.receiveNow(url);
  await clock.advance(50_000);
  sqs.receiveNow(url); // moves it
  assert.is(sqs.peek(dlq.url).length, 1);
  await clock.advance(70_000); // 120 s after the original send
  assert.is(sqs.peek(dlq.url).length, 0, "expired by its original enqueue time");
});

test("delays: queue delay and per-message delay hold messages back", async () => {
  const { sqs, clock } = setup();
  const { url } = sqs.createQueue("q", { DelaySeconds: 5 });
  sqs.sendMessage(url, { MessageBody: "queue delay" });
  sqs.sendMessage(url, { MessageBody: "own delay", DelaySeconds: 20 });
  sqs.sendMessage(url, { MessageBody: "no delay", DelaySeconds: 0 });
  assert.is(sqs.counts(url).ApproximateNumberOfMessagesDelayed, 2);
  assert.equal(sqs.receiveNow(url, { MaxNumberOfMessages: 10 }).map((m) => m.Body), ["no delay"]);
  await clock.advance(5000);
  assert.equal(sqs.receiveNow(url, { MaxNumberOfMessages: 10 }).map((m) => m.Body), ["queue delay"]);
  await clock.advance(15_000);
  assert.equal(sqs.receiveNow(url, { MaxNumberOfMessages: 10 }).map((m) => m.Body), ["own delay"]);
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "x", DelaySeconds: 901 })), "InvalidParameterValue");
});

test("batch receive returns up to MaxNumberOfMessages (1..10)", () => {
  const { sqs } = setup();
  const { url } = sqs.createQueue("q");
  for (let i = 0; i < 12; i++) sqs.sendMessage(url, { MessageBody: `m${i}` });
  assert.is(sqs.receiveNow(url).length, 1);
  assert.is(sqs.receiveNow(url, { MaxNumberOfMessages: 10 }).length, 10);
  assert.is(sqs.receiveNow(url, { MaxNumberOfMessages: 10 }).length, 1);
  assert.is(code(() => sqs.receiveNow(url, { MaxNumberOfMessages: 11 })), "InvalidParameterValue");
});

test("long polling waits for a message, wakes when a hidden one becomes visible, and times out empty", async () => {
  const { sqs, clock } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 5 });
  let got: string[] | undefined;
  void sqs.receive(url, { WaitTimeSeconds: 20 }).then((m) => (got = m.map((x) => x.Body)));
  await clock.advance(3000);
  assert.is(got, undefined);
  sqs.sendMessage(url, { MessageBody: "arrived" });
  await clock.flush();
  assert.equal(got, ["arrived"]);

  let again: string[] | undefined;
  void sqs.receive(url, { WaitTimeSeconds: 20 }).then((m) => (again = m.map((x) => x.Body)));
  await clock.advance(4999);
  assert.is(again, undefined);
  await clock.advance(1);
  assert.equal(again, ["arrived"], "woken by the visibility timeout running out");

  const empty = sqs.receive(url, { WaitTimeSeconds: 2 });
  await clock.advance(2000);
  assert.equal(await empty, []);
  const controller = new AbortController();
  const aborted = sqs.receive(url, { WaitTimeSeconds: 20, signal: controller.signal });
  controller.abort();
  assert.equal(await aborted, []);
  assert.is(clock.pendingTimers, 0, "no timers left behind");
});

test("FIFO: order within a group, a group is locked while one of its messages is in flight, other groups flow", async () => {
  const { sqs, clock } = setup();
  const { url } = sqs.createQueue("orders.fifo", { FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 30 });
  for (const [group, body] of [["A", "a1"], ["B", "b1"], ["A", "a2"], ["A", "a3"], ["B", "b2"]] as const) {
    sqs.sendMessage(url, { MessageBody: body, MessageGroupId: group });
  }
  const first = sqs.receiveNow(url, { MaxNumberOfMessages: 2 });
  assert.equal(first.map((m) => m.Body), ["a1", "a2"], "fills the batch from one group first");
  const second = sqs.receiveNow(url, { MaxNumberOfMessages: 10 });
  assert.equal(second.map((m) => m.Body), ["b1", "b2"], "group A is locked, group B is served");
  assert.equal(sqs.receiveNow(url, { MaxNumberOfMessages: 10 }), [], "both groups locked; a3 waits behind a2");
  sqs.delete(url, first[0]!.ReceiptHandle);
  assert.equal(sqs.receiveNow(url), [], "a2 still in flight keeps group A locked");
  sqs.delete(url, first[1]!.ReceiptHandle);
  assert.equal(sqs.receiveNow(url).map((m) => m.Body), ["a3"]);
  await clock.advance(30_000);
  const redelivered = sqs.receiveNow(url, { MaxNumberOfMessages: 10 });
  assert.equal(redelivered.map((m) => m.Body), ["b1", "b2", "a3"], "after the timeout B's messages come back in order");
  const attributes = redelivered[0]!.Attributes;
  assert.equal(Object.keys(attributes), [
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
  ]);
  assert.match(attributes.SequenceNumber!, /^\d{20}$/);
  assert.ok(BigInt(redelivered[1]!.Attributes.SequenceNumber!) > BigInt(attributes.SequenceNumber!));
});

test("FIFO: any in-flight message locks its group, even when an earlier one was made visible again", () => {
  const { sqs } = setup();
  const { url } = sqs.createQueue("lock.fifo", { FifoQueue: true, ContentBasedDeduplication: true });
  sqs.sendMessage(url, { MessageBody: "a1", MessageGroupId: "A" });
  sqs.sendMessage(url, { MessageBody: "a2", MessageGroupId: "A" });
  const [a1, a2] = sqs.receiveNow(url, { MaxNumberOfMessages: 2 });
  sqs.changeVisibility(url, a1!.ReceiptHandle, 0);
  assert.equal(sqs.receiveNow(url), [], "a2 is still in flight: the group stays locked");
  sqs.delete(url, a2!.ReceiptHandle);
  assert.equal(sqs.receiveNow(url).map((m) => m.Body), ["a1"]);
});

test("FIFO: deduplication within 5 minutes, by id or content, per queue or per group", async () => {
  const { sqs, clock, traces } = setup();
  const { url } = sqs.createQueue("q.fifo", { FifoQueue: "true" });
  const first = sqs.sendMessage(url, { MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "d1" });
  const duplicate = sqs.sendMessage(url, { MessageBody: "other body", MessageGroupId: "g2", MessageDeduplicationId: "d1" });
  assert.is(duplicate.Duplicate, true);
  assert.is(duplicate.MessageId, first.MessageId);
  assert.is(duplicate.SequenceNumber, first.SequenceNumber);
  assert.is(sqs.peek(url).length, 1);
  assert.ok(traces.some((t) => t.kind === "sqs.deduplicated"));
  await clock.advance(5 * 60 * 1000);
  assert.is(sqs.sendMessage(url, { MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "d1" }).Duplicate, false, "window over");

  const cbd = sqs.createQueue("cbd.fifo", { FifoQueue: true, ContentBasedDeduplication: true });
  sqs.sendMessage(cbd.url, { MessageBody: "same", MessageGroupId: "g" });
  assert.is(sqs.sendMessage(cbd.url, { MessageBody: "same", MessageGroupId: "g" }).Duplicate, true);
  assert.is(sqs.sendMessage(cbd.url, { MessageBody: "different", MessageGroupId: "g" }).Duplicate, false);
  const [m] = sqs.receiveNow(cbd.url);
  assert.match(m!.Attributes.MessageDeduplicationId!, /^[0-9a-f]{64}$/, "content hash (SHA-256)");

  const perGroup = sqs.createQueue("pg.fifo", { FifoQueue: true, DeduplicationScope: "messageGroup" });
  sqs.sendMessage(perGroup.url, { MessageBody: "a", MessageGroupId: "g1", MessageDeduplicationId: "d" });
  assert.is(sqs.sendMessage(perGroup.url, { MessageBody: "a", MessageGroupId: "g2", MessageDeduplicationId: "d" }).Duplicate, false);
});

test("FIFO send errors: group id required, dedup id or content-based dedup required, no per-message delay", () => {
  const { sqs } = setup();
  const { url } = sqs.createQueue("q.fifo", { FifoQueue: true });
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "x", MessageDeduplicationId: "d" })), "MissingParameter");
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "x", MessageGroupId: "g" })), "InvalidParameterValue");
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "d", DelaySeconds: 5 })), "InvalidParameterValue");
  const standard = sqs.createQueue("s");
  assert.is(code(() => sqs.sendMessage(standard.url, { MessageBody: "x", MessageDeduplicationId: "d" })), "InvalidParameterValue");
});

test("FIFO redrive moves the head of a group and lets the next message through", async () => {
  const { sqs, clock } = setup();
  const dlq = sqs.createQueue("dlq.fifo", { FifoQueue: true });
  const { url } = sqs.createQueue("q.fifo", { FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 5, RedrivePolicy: { deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 } });
  sqs.sendMessage(url, { MessageBody: "first", MessageGroupId: "g" });
  sqs.sendMessage(url, { MessageBody: "second", MessageGroupId: "g" });
  for (let i = 0; i < 2; i++) {
    assert.equal(sqs.receiveNow(url).map((m) => m.Body), ["first"]);
    await clock.advance(5000);
  }
  assert.equal(sqs.receiveNow(url).map((m) => m.Body), ["second"], "first went to the DLQ, second is next");
  const [dead] = sqs.receiveNow(dlq.url);
  assert.is(dead?.Body, "first");
  assert.is(dead?.Attributes.MessageGroupId, "g");
});

test("the characters SQS refuses are found by code point: controls, U+FFFE/U+FFFF, lone surrogates; pairs pass", () => {
  const cases: Array<[string, number | undefined]> = [
    ["plain \t\n\r text", undefined],
    ["\u00e9\u4e2d\ud83d\ude00\u{10FFFF}\uE000\uFFFD\uD7FF", undefined],
    ["", undefined],
    ["a\u0000b", 0x0],
    ["ok \u0008", 0x8],
    ["\u001f", 0x1f],
    ["x\uFFFE", 0xfffe],
    ["x\uFFFF", 0xffff],
    ["lone high \uD800 then more", 0xd800],
    ["lone low \uDC00", 0xdc00],
    ["high at the end \uD83D", 0xd83d],
    ["pair \ud83d\ude00 then \u0001 then \u0002", 0x1],
  ];
  for (const [text, expected] of cases) assert.is(firstInvalidCharacter(text), expected, JSON.stringify(text));
  const { sqs } = setup();
  const { url } = sqs.createQueue("chars");
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "lone \uDC00" })), "InvalidMessageContents");
  sqs.sendMessage(url, { MessageBody: "pair \ud83d\ude00" });
});

test("message validation follows SQS: body, attribute names, types, numbers, count and size", () => {
  const { sqs } = setup();
  const { url } = sqs.createQueue("q", { MaximumMessageSize: 1024 });
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "" })), "MissingParameter");
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "bad \u0000 char" })), "InvalidMessageContents");
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "x".repeat(1025) })), "InvalidParameterValue");
  const attr = (name: string, DataType = "String", StringValue = "v") => ({ MessageBody: "x", MessageAttributes: { [name]: { DataType, StringValue } } });
  assert.is(code(() => sqs.sendMessage(url, attr("AWS.reserved"))), "InvalidParameterValue");
  assert.is(code(() => sqs.sendMessage(url, attr("a..b"))), "InvalidParameterValue");
  assert.is(code(() => sqs.sendMessage(url, attr("ok", "Text"))), "InvalidParameterValue");
  assert.is(code(() => sqs.sendMessage(url, attr("n", "Number", "12abc"))), "InvalidParameterValue");
  sqs.sendMessage(url, attr("n", "Number.int", "-1.5e3"));
  const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }]));
  assert.is(code(() => sqs.sendMessage(url, { MessageBody: "x", MessageAttributes: eleven })), "InvalidParameterValue");
});

test("SendMessageBatch reports each entry and checks the batch", () => {
  const { sqs } = setup();
  const { url } = sqs.createQueue("q");
  const result = sqs.sendMessageBatch(url, [
    { Id: "ok", MessageBody: "fine" },
    { Id: "bad", MessageBody: "" },
  ]);
  assert.equal(result.Successful.map((s) => s.Id), ["ok"]);
  assert.equal(result.Failed, [{ Id: "bad", Code: "MissingParameter", Message: "The request must contain the parameter MessageBody.", SenderFault: true }]);
  assert.is(code(() => sqs.sendMessageBatch(url, [])), "EmptyBatchRequest");
  assert.is(code(() => sqs.sendMessageBatch(url, Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: "x" })))), "TooManyEntriesInBatchRequest");
  assert.is(code(() => sqs.sendMessageBatch(url, [{ Id: "a", MessageBody: "x" }, { Id: "a", MessageBody: "y" }])), "BatchEntryIdsNotDistinct");
});

test("the trace follows one message from send to delete", () => {
  const { sqs, traces } = setup();
  const { url, arn } = sqs.createQueue("q");
  const { MessageId } = sqs.sendMessage(url, { MessageBody: "x" });
  const [m] = sqs.receiveNow(url);
  sqs.delete(url, m!.ReceiptHandle);
  assert.equal(traces.map((t) => [t.kind, t.queueArn, (t as { messageId: string }).messageId]), [
    ["sqs.sent", arn, MessageId],
    ["sqs.received", arn, MessageId],
    ["sqs.deleted", arn, MessageId],
  ]);
});

test("the system clock works too (real timers)", async () => {
  const sqs = new SqsEngine();
  const { url } = sqs.createQueue("real", { VisibilityTimeout: 0 });
  const pending = sqs.receive(url, { WaitTimeSeconds: 1 });
  setTimeout(() => sqs.sendMessage(url, { MessageBody: "real" }), 20);
  assert.equal((await pending).map((m) => m.Body), ["real"]);
});

test.run();
