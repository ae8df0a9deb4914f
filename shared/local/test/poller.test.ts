import type { SQSEvent } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FakeClock, interpretBatchResponse, QueuePoller, ServiceError, SqsEngine, type PollerTraceEvent, type SqsTraceEvent } from "../sqs";

function setup() {
  const clock = new FakeClock();
  const sqsTraces: SqsTraceEvent[] = [];
  const sqs = new SqsEngine({ clock, onTrace: (e) => sqsTraces.push(e) });
  return { clock, sqs, sqsTraces };
}

/** A handler whose invocations stay open until the test settles them. */
function controlledHandler() {
  const calls: Array<{ event: SQSEvent; resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  const handler = (event: SQSEvent) =>
    new Promise((resolve, reject) => {
      calls.push({ event, resolve, reject });
    });
  return { calls, handler };
}

const bodies = (event: SQSEvent) => event.Records.map((r) => r.body);

test("a successful invocation deletes the whole batch; the event is a real SQS event", async () => {
  const { clock, sqs } = setup();
  const { url, arn } = sqs.createQueue("orders");
  const traces: PollerTraceEvent[] = [];
  const events: SQSEvent[] = [];
  const poller = new QueuePoller({ sqs, queue: url, functionName: "consume", handler: (event) => void events.push(event), onTrace: (e) => traces.push(e) });
  poller.start();
  sqs.sendMessage(url, { MessageBody: "one" });
  sqs.sendMessage(url, { MessageBody: "two" });
  await clock.flush();
  assert.is(events.length, 1);
  const record = events[0]!.Records[0]!;
  assert.is(record.eventSource, "aws:sqs");
  assert.is(record.eventSourceARN, arn);
  assert.is(record.awsRegion, "us-east-1");
  assert.equal(bodies(events[0]!), ["one", "two"]);
  assert.equal(sqs.peek(url), [], "deleted");
  assert.equal(traces.map((t) => t.kind), ["poller.batch", "poller.result"]);
  assert.is((traces[1] as { outcome: string }).outcome, "success");
  await poller.stop();
  assert.is(poller.running, false);
});

test("ReportBatchItemFailures: successes are deleted, failures reappear after the visibility timeout", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 30 });
  const events: SQSEvent[] = [];
  const poller = new QueuePoller({
    sqs,
    queue: url,
    reportBatchItemFailures: true,
    handler: (event) => {
      events.push(event);
      return { batchItemFailures: event.Records.filter((r) => r.body.startsWith("bad")).map((r) => ({ itemIdentifier: r.messageId })) };
    },
  });
  poller.start();
  sqs.sendMessageBatch(url, [
    { Id: "1", MessageBody: "good-1" },
    { Id: "2", MessageBody: "bad-2" },
    { Id: "3", MessageBody: "good-3" },
  ]);
  await clock.flush();
  assert.equal(events.map(bodies), [["good-1", "bad-2", "good-3"]]);
  assert.equal(sqs.peek(url).map((m) => [m.body, m.state]), [["bad-2", "in-flight"]]);
  await clock.advance(29_999);
  assert.is(events.length, 1);
  await clock.advance(1);
  assert.equal(bodies(events[1]!), ["bad-2"], "the failed message comes back after the visibility timeout");
  assert.is(events[1]!.Records[0]!.attributes.ApproximateReceiveCount, "2");
  await clock.advance(30_000);
  assert.is(events[2]!.Records[0]!.attributes.ApproximateReceiveCount, "3");
  await poller.stop();
});

test("a thrown error fails the whole batch: nothing deleted, all of it reappears", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 10 });
  const traces: PollerTraceEvent[] = [];
  let calls = 0;
  const poller = new QueuePoller({
    sqs,
    queue: url,
    reportBatchItemFailures: true,
    onTrace: (e) => traces.push(e),
    handler: () => {
      calls++;
      if (calls === 1) throw new TypeError("boom");
      return undefined;
    },
  });
  poller.start();
  sqs.sendMessage(url, { MessageBody: "a" });
  sqs.sendMessage(url, { MessageBody: "b" });
  await clock.flush();
  assert.equal(sqs.peek(url).map((m) => m.state), ["in-flight", "in-flight"]);
  const failure = traces.find((t) => t.kind === "poller.result")!;
  assert.is((failure as { outcome: string }).outcome, "failure");
  assert.is((failure as { error?: string }).error, "TypeError: boom");
  assert.is((failure as { failedMessageIds: string[] }).failedMessageIds.length, 2);
  await clock.advance(10_000);
  assert.is(calls, 2);
  assert.equal(sqs.peek(url), [], "the retry succeeded and deleted both");
  await poller.stop();
});

test("an invalid batch response fails the whole batch", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 10 });
  const traces: PollerTraceEvent[] = [];
  const poller = new QueuePoller({
    sqs,
    queue: url,
    reportBatchItemFailures: true,
    onTrace: (e) => traces.push(e),
    handler: () => ({ batchItemFailures: [{ itemIdentifier: "not-a-message-of-this-batch" }] }),
  });
  poller.start();
  sqs.sendMessage(url, { MessageBody: "a" });
  await clock.flush();
  await poller.stop();
  const result = traces.find((t) => t.kind === "poller.result") as { outcome: string; error?: string };
  assert.is(result.outcome, "failure");
  assert.match(result.error ?? "", /not a message of this batch/);
  assert.is(sqs.peek(url).length, 1);
});

test("the batch response is read as Lambda reads it", () => {
  const ids = ["m1", "m2"];
  assert.equal(interpretBatchResponse(undefined, ids, true), { ok: true, failed: [] });
  assert.equal(interpretBatchResponse(null, ids, true), { ok: true, failed: [] });
  assert.equal(interpretBatchResponse({}, ids, true), { ok: true, failed: [] });
  assert.equal(interpretBatchResponse({ batchItemFailures: [] }, ids, true), { ok: true, failed: [] });
  assert.equal(interpretBatchResponse({ batchItemFailures: null }, ids, true), { ok: true, failed: [] });
  assert.equal(interpretBatchResponse({ batchItemFailures: [{ itemIdentifier: "m2" }, { itemIdentifier: "m2" }] }, ids, true), { ok: true, failed: ["m2"] });
  assert.is(interpretBatchResponse({ batchItemFailures: [{ itemIdentifier: "" }] }, ids, true).ok, false);
  assert.is(interpretBatchResponse({ batchItemFailures: [{ itemIdentifier: null }] }, ids, true).ok, false);
  assert.is(interpretBatchResponse({ batchItemFailures: [{ id: "m1" }] }, ids, true).ok, false);
  assert.is(interpretBatchResponse({ batchItemFailures: "m1" }, ids, true).ok, false);
  assert.is(interpretBatchResponse("m1", ids, true).ok, false);
  assert.equal(interpretBatchResponse({ batchItemFailures: [{ itemIdentifier: "m1" }] }, ids, false), { ok: true, failed: [] }, "ignored without ReportBatchItemFailures");
});

test("a handler that runs past its timeout fails the batch; its late result is ignored", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 60 });
  const traces: PollerTraceEvent[] = [];
  const { calls, handler } = controlledHandler();
  const poller = new QueuePoller({ sqs, queue: url, functionTimeoutSeconds: 5, handler, onTrace: (e) => traces.push(e) });
  poller.start();
  sqs.sendMessage(url, { MessageBody: "slow" });
  await clock.flush();
  assert.is(calls.length, 1);
  await clock.advance(5000);
  const result = traces.find((t) => t.kind === "poller.result") as { outcome: string; error?: string; durationMs: number };
  assert.is(result.outcome, "timeout");
  assert.is(result.error, "Task timed out after 5 seconds");
  assert.is(result.durationMs, 5000);
  calls[0]!.resolve(undefined);
  await clock.flush();
  assert.is(sqs.peek(url).length, 1, "not deleted by the late success");
  await poller.stop();
});

test("batching window: waits up to the window to fill the batch, then invokes with what it has", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q");
  const seen: string[][] = [];
  const poller = new QueuePoller({ sqs, queue: url, batchSize: 5, maximumBatchingWindowInSeconds: 2, handler: (e) => void seen.push(bodies(e)) });
  poller.start();
  sqs.sendMessage(url, { MessageBody: "1" });
  await clock.advance(1000);
  sqs.sendMessage(url, { MessageBody: "2" });
  sqs.sendMessage(url, { MessageBody: "3" });
  await clock.advance(999);
  assert.equal(seen, [], "window still open");
  await clock.advance(1);
  assert.equal(seen, [["1", "2", "3"]]);
  for (let i = 0; i < 6; i++) sqs.sendMessage(url, { MessageBody: `b${i}` });
  await clock.flush();
  assert.equal(seen[1], ["b0", "b1", "b2", "b3", "b4"], "a full batch goes at once");
  await clock.advance(2000);
  assert.equal(seen[2], ["b5"]);
  await poller.stop();
});

test("batch sizes above 10 gather several receives (and need a batching window)", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q");
  assert.throws(() => new QueuePoller({ sqs, queue: url, batchSize: 25, handler: () => undefined }), (e: Error) => e instanceof ServiceError);
  const seen: number[] = [];
  const poller = new QueuePoller({ sqs, queue: url, batchSize: 25, maximumBatchingWindowInSeconds: 1, handler: (e) => void seen.push(e.Records.length) });
  for (let i = 0; i < 30; i++) sqs.sendMessage(url, { MessageBody: `m${i}` });
  poller.start();
  await clock.flush();
  assert.equal(seen, [25]);
  await clock.advance(1000);
  assert.equal(seen, [25, 5]);
  await poller.stop();
});

test("FIFO: order within a group across batches, groups in parallel up to maximum concurrency", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q.fifo", { FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 60 });
  const { calls, handler } = controlledHandler();
  const poller = new QueuePoller({ sqs, queue: url, batchSize: 2, maximumConcurrency: 2, handler });
  for (const [group, body] of [["A", "a1"], ["A", "a2"], ["B", "b1"], ["A", "a3"], ["B", "b2"], ["C", "c1"]] as const) {
    sqs.sendMessage(url, { MessageBody: body, MessageGroupId: group });
  }
  poller.start();
  await clock.flush();
  assert.equal(calls.map((c) => bodies(c.event)), [["a1", "a2"], ["b1", "b2"]], "two groups at once");
  assert.is(poller.inFlight, 2);
  calls[1]!.resolve(undefined);
  await clock.flush();
  assert.equal(bodies(calls[2]!.event), ["c1"], "a free slot goes to a group not in flight; A stays locked");
  calls[0]!.resolve(undefined);
  await clock.flush();
  assert.equal(bodies(calls[3]!.event), ["a3"], "a3 only after a1 and a2 are done");
  calls[2]!.resolve(undefined);
  calls[3]!.resolve(undefined);
  await clock.flush();
  assert.equal(sqs.peek(url), []);
  await poller.stop();
});

test("FIFO: a failed batch blocks its group until it is retried", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q.fifo", { FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 20 });
  const order: string[] = [];
  let failOnce = true;
  const poller = new QueuePoller({
    sqs,
    queue: url,
    batchSize: 1,
    handler: (event) => {
      const body = event.Records[0]!.body;
      order.push(body);
      if (body === "1" && failOnce) {
        failOnce = false;
        throw new Error("transient");
      }
      return undefined;
    },
  });
  for (const body of ["1", "2", "3"]) sqs.sendMessage(url, { MessageBody: body, MessageGroupId: "g" });
  poller.start();
  await clock.flush();
  assert.equal(order, ["1"]);
  await clock.advance(20_000);
  assert.equal(order, ["1", "1", "2", "3"], "the group waited for the retry of 1");
  await poller.stop();
});

test("maximum concurrency caps parallel invocations on a standard queue", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q");
  const { calls, handler } = controlledHandler();
  const poller = new QueuePoller({ sqs, queue: url, batchSize: 1, maximumConcurrency: 3, handler });
  for (let i = 0; i < 5; i++) sqs.sendMessage(url, { MessageBody: `m${i}` });
  poller.start();
  await clock.flush();
  assert.is(calls.length, 3);
  assert.is(poller.inFlight, 3);
  calls[0]!.resolve(undefined);
  await clock.flush();
  assert.is(calls.length, 4);
  for (const call of calls) call.resolve(undefined);
  await clock.flush();
  for (const call of calls) call.resolve(undefined);
  await clock.flush();
  assert.is(calls.length, 5);
  assert.equal(sqs.peek(url), []);
  await poller.stop();
});

test("stop waits for invocations under way, releases a half-gathered batch; start resumes", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q", { VisibilityTimeout: 300 });
  const { calls, handler } = controlledHandler();
  const poller = new QueuePoller({ sqs, queue: url, batchSize: 1, maximumBatchingWindowInSeconds: 0, handler });
  poller.start();
  sqs.sendMessage(url, { MessageBody: "first" });
  await clock.flush();
  let stopped = false;
  const stopping = poller.stop().then(() => (stopped = true));
  await clock.flush();
  assert.is(stopped, false, "waits for the running invocation");
  calls[0]!.resolve(undefined);
  await stopping;
  assert.equal(sqs.peek(url), [], "its result was applied");

  sqs.sendMessage(url, { MessageBody: "while stopped" });
  await clock.advance(60_000);
  assert.is(calls.length, 1, "nothing is polled while stopped");
  poller.start();
  await clock.flush();
  assert.equal(bodies(calls[1]!.event), ["while stopped"]);
  calls[1]!.resolve(undefined);
  await clock.flush();
  await poller.stop();

  const windowed = new QueuePoller({ sqs, queue: url, batchSize: 5, maximumBatchingWindowInSeconds: 10, handler });
  windowed.start();
  sqs.sendMessage(url, { MessageBody: "gathered" });
  await clock.advance(1000);
  await windowed.stop();
  assert.is(calls.length, 2, "not invoked");
  assert.equal(sqs.peek(url).map((m) => m.state), ["visible"], "the gathered message was made visible again");
});

test("poller settings are checked like Lambda's", () => {
  const { sqs } = setup();
  const { url } = sqs.createQueue("q");
  const fifo = sqs.createQueue("q.fifo", { FifoQueue: true });
  const make = (options: object, queue = url) => () => new QueuePoller({ sqs, queue, handler: () => undefined, ...options });
  assert.throws(make({ batchSize: 0 }));
  assert.throws(make({ batchSize: 10_001, maximumBatchingWindowInSeconds: 1 }));
  assert.throws(make({ batchSize: 11 }, fifo.url));
  assert.throws(make({ maximumBatchingWindowInSeconds: 301 }));
  assert.throws(make({ maximumConcurrency: 1 }));
  assert.throws(make({ functionTimeoutSeconds: 901 }));
  assert.throws(make({}, "missing"));
});

test("the poller stops with an error when its queue is deleted", async () => {
  const { clock, sqs } = setup();
  const { url } = sqs.createQueue("q");
  const poller = new QueuePoller({ sqs, queue: url, handler: () => undefined });
  poller.start();
  await clock.flush();
  sqs.deleteQueue(url);
  await clock.flush();
  assert.is(poller.running, false);
  assert.match(poller.lastError?.message ?? "", /does not exist/);
  await poller.stop();
});

test("with the system clock the poller delivers in real time", async () => {
  const sqs = new SqsEngine();
  const { url } = sqs.createQueue("real");
  const received = new Promise<SQSEvent>((resolve) => {
    const poller = new QueuePoller({ sqs, queue: url, pollWaitSeconds: 1, handler: async (event) => {
      resolve(event);
      void poller.stop();
    } });
    poller.start();
  });
  sqs.sendMessage(url, { MessageBody: "now" });
  assert.equal(bodies(await received), ["now"]);
});

test.run();
