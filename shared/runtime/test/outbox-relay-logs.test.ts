// The outbox relay's log lines, and what writing them costs: each line carries its record's scope (its first event's
// correlation id and trace context, its sequence number), and a batch that writes no line makes no scope, so the
// relay's process never turns on the AsyncLocalStorage's promise hooks (their cost on every await of the SDK).
// Its own file: the first test needs a process in which no scope was made yet.
import { executionAsyncId } from "node:async_hooks";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { outboxRelay } from "../outbox-relay";
import { setFunctionEnvironment, TEST_TOPICS } from "./helpers/aws-environment";
import { lambdaContext } from "./helpers/events";
import { withLogs } from "./helpers/log-lines";
import { failuresOf, placed, record } from "./helpers/outbox-records";
import { snsStubFor, withMaxAttempts } from "./helpers/sns-suite";

const sns = snsStubFor(test, { service: "orders" });

const relay = () => outboxRelay({ service: "orders", topics: TEST_TOPICS });

/** Whether promise hooks are on: a promise's continuation has an async id only then. */
async function promiseHooksOn(): Promise<boolean> {
  await null;
  return executionAsyncId() !== 0;
}

test("a batch published at log level INFO writes no line and turns on no promise hooks", async () => {
  setFunctionEnvironment({ service: "orders", logLevel: "INFO" });
  assert.not.ok(await promiseHooksOn(), "no scope was made in this process before the relay ran");
  const records = [record("quiet-a", placed("quiet-a")), record("quiet-b", placed("quiet-b"), placed("quiet-c"))];
  const [answer, lines] = await withLogs(() => relay()({ Records: records }, lambdaContext()));
  assert.equal(answer, { batchItemFailures: [] });
  assert.equal(sns.published.length, 3);
  assert.equal(lines, []);
  assert.not.ok(await promiseHooksOn());
});

test("an entry SNS failed on its side, sent again and published, leaves promise hooks off too", async () => {
  setFunctionEnvironment({ service: "orders", logLevel: "INFO" });
  const a = placed("again-a");
  let failures = 0;
  sns.failEntries((message) => message.includes(a.id) && failures++ === 0);
  const records = [record("again-a", a), record("again-b", placed("again-b"))];
  const [answer, lines] = await withLogs(() => withMaxAttempts(3, () => relay()({ Records: records }, lambdaContext())));
  assert.equal(answer, { batchItemFailures: [] });
  assert.equal(sns.requests.map((r) => r.entries), [2, 1]);
  assert.equal(lines, []);
  assert.not.ok(await promiseHooksOn());
});

test("at DEBUG each published event has a line in its record's scope; a record not published has an error line in its own", async () => {
  setFunctionEnvironment({ service: "orders", logLevel: "DEBUG" });
  const a = [placed("loud-a1"), placed("loud-a2")];
  const b = placed("loud-b");
  const records = [record("loud-a", ...a), record("loud-b", b)];
  sns.failEntries((message) => message.includes(b.id), { code: "KMSAccessDenied", senderFault: true });
  const context = lambdaContext();
  const [answer, lines] = await withLogs(() => relay()({ Records: records }, context));
  assert.equal(answer, failuresOf(records[1]!));
  const published = lines.filter((l) => l.message === "recorded event published");
  assert.equal(
    published.map((l) => [l.publishedId, l.correlationId, l.traceparent, l.eventId, l.sequenceNumber, l.requestId]),
    a.map((e) => [e.id, a[0]!.correlationid, a[0]!.traceparent, a[0]!.id, records[0]!.dynamodb!.SequenceNumber, context.awsRequestId]),
  );
  const failed = lines.filter((l) => l.message.startsWith("recorded events not published"));
  assert.equal(
    failed.map((l) => [l.level, l.eventIds, l.correlationId, l.traceparent, l.eventId, l.sequenceNumber]),
    [["ERROR", [b.id], b.correlationid, b.traceparent, b.id, records[1]!.dynamodb!.SequenceNumber]],
  );
});

test.run();
