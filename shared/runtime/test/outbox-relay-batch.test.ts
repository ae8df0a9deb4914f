// The outbox relay's calls: records of several partitions relayed in rounds, each round's events in PublishBatch
// calls per topic, against the local SNS endpoint (shared/local/endpoints) with the unmodified SDK client.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { DynamoDBRecord } from "aws-lambda";
import { snsClient } from "../aws-clients";
import { outboxRelay, RELAY_RETRY_MARGIN_MS } from "../outbox-relay";
import { SNS_LIMITS } from "../sns-publish";
import { TEST_TOPICS } from "./helpers/aws-environment";
import { lambdaContext } from "./helpers/events";
import { withLogs } from "./helpers/log-lines";
import { failuresOf, placed, record, statusChanged, type Event } from "./helpers/outbox-records";
import { THROTTLED } from "./helpers/sns-server";
import { snsStubFor, withMaxAttempts } from "./helpers/sns-suite";

const sns = snsStubFor(test, { service: "orders" });


const relay = (maxConcurrency?: number) =>
  outboxRelay({ service: "orders", topics: TEST_TOPICS, ...(maxConcurrency === undefined ? {} : { maxConcurrency }) });
const sentIds = () => sns.published.map((m) => JSON.parse(m.message).id as string);

test("several partitions: each round's events go out in one PublishBatch per topic, a partition's records in stream order", async () => {
  const a = [placed("a-1"), placed("a-2"), placed("a-3")];
  const b = [placed("b-1"), placed("b-2")];
  const c = placed("c-1");
  const d = [statusChanged("d", "placed"), statusChanged("d", "invoiced")];
  const e = statusChanged("e", "placed");
  // Stream order: the partitions' records interleaved; record d-0 holds two events.
  const records = [record("a", a[0]!), record("b", b[0]!), record("d", ...d), record("a", a[1]!), record("c", c), record("e", e), record("b", b[1]!), record("a", a[2]!)];
  const answer = await relay()({ Records: records });
  assert.equal(answer, { batchItemFailures: [] });
  const placedTopic = TEST_TOPICS["orders.order-placed"];
  const fifoTopic = TEST_TOPICS["orders.order-status-changed"];
  // Round 1: the first record of a, b, c, d, e (the two topics' calls side by side; d's two events share a message
  // group, so its second starts the FIFO topic's next call); round 2: the second of a and b; round 3: a's third.
  const [first, second, third, ...rest] = sns.requests;
  assert.equal([first, second, third].sort((p, q) => p!.topicArn.localeCompare(q!.topicArn) || p!.entries - q!.entries), [
    { action: "PublishBatch", topicArn: placedTopic, entries: 3 },
    { action: "Publish", topicArn: fifoTopic, entries: 1 },
    { action: "PublishBatch", topicArn: fifoTopic, entries: 2 },
  ]);
  assert.equal(sns.requests.filter((r) => r.topicArn === fifoTopic).map((r) => r.entries), [1, 2]);
  assert.equal(rest, [
    { action: "PublishBatch", topicArn: placedTopic, entries: 2 },
    { action: "Publish", topicArn: placedTopic, entries: 1 },
  ]);
  const order = sentIds();
  for (const partition of [a, b, d]) {
    const at = partition.map((event) => order.indexOf(event.id));
    assert.ok(at.every((index, i) => index >= 0 && (i === 0 || index > at[i - 1]!)), `in stream order: ${at.join(", ")}`);
  }
  assert.is(order.length, 9);
  // Each entry is its envelope unchanged (its own trace context and correlation id), with its own attributes and,
  // on the FIFO topic, its own message group and deduplication id.
  const all = [...a, ...b, c, ...d, e];
  for (const message of sns.published) {
    const body = JSON.parse(message.message);
    const recorded = all.find((event) => event.id === body.id)!;
    assert.equal(body, JSON.parse(JSON.stringify(recorded)));
    assert.is(message.attributes.correlationid!.value, recorded.correlationid);
    assert.is(message.attributes.type!.value, recorded.type);
    if (message.topicArn === fifoTopic) {
      assert.is(message.messageGroupId, recorded.data.orderId);
      assert.is(message.messageDeduplicationId, recorded.id);
    } else {
      assert.is(message.messageGroupId, undefined);
    }
  }
});

test("limits: 11 records of one topic take two calls (10 entries, then 1); 256 KiB per batch splits big events", async () => {
  const events = Array.from({ length: 11 }, (_, i) => placed(`many-${i}`));
  const answer = await relay()({ Records: events.map((event, i) => record(`many-${i}`, event)) });
  assert.equal(answer, { batchItemFailures: [] });
  const topicArn = TEST_TOPICS["orders.order-placed"];
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: SNS_LIMITS.batchEntries },
    { action: "Publish", topicArn, entries: 1 },
  ]);
  assert.equal(sentIds(), events.map((e) => e.id));

  sns.reset();
  // Three events of ~100 KB: two fit in one batch's 256 KiB, the third does not.
  const big = Array.from({ length: 3 }, (_, i) => placed(`big-${i}`, { note: "x".repeat(100_000) }));
  const bigAnswer = await relay()({ Records: big.map((event, i) => record(`big-${i}`, event)) });
  assert.equal(bigAnswer, { batchItemFailures: [] });
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 2 },
    { action: "Publish", topicArn, entries: 1 },
  ]);
});

test("a failed entry stops only its partition: later records of it are not sent, it is reported; a retry sends them with the same ids", async () => {
  const a = [placed("fa-1"), placed("fa-2"), placed("fa-3")];
  const b = [placed("fb-1"), placed("fb-2")];
  const c = placed("fc-1");
  const records = [record("fa", a[0]!), record("fb", b[0]!), record("fa", a[1]!), record("fc", c), record("fb", b[1]!), record("fa", a[2]!)];
  sns.failEntries((message) => message.includes(a[0]!.id));
  const answer = await relay()({ Records: records });
  assert.equal(answer, failuresOf(records[0]!));
  const topicArn = TEST_TOPICS["orders.order-placed"];
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 3 },
    { action: "Publish", topicArn, entries: 1 },
  ]);
  assert.equal(sentIds(), [b[0]!.id, c.id, b[1]!.id], "nothing of fa after its failed record; fb and fc published");

  // Lambda retries the batch from the reported record: fa goes out in order, the others again with the same ids.
  sns.reset();
  const retried = await relay()({ Records: records });
  assert.equal(retried, { batchItemFailures: [] });
  const ids = sentIds();
  assert.equal(ids.filter((id) => a.some((e) => e.id === id)), a.map((e) => e.id));
  assert.equal(new Set(ids), new Set([...a, ...b, c].map((e) => e.id)));
});

test("a failed call fails the partitions of its entries only: another topic's partitions go on", async () => {
  const x = [placed("x-1"), placed("x-2")];
  const y = [statusChanged("y", "placed"), statusChanged("y", "invoiced")];
  const records = [record("x", x[0]!), record("y", y[0]!), record("x", x[1]!), record("y", y[1]!)];
  sns.fail(THROTTLED, { topicArn: TEST_TOPICS["orders.order-placed"] });
  const answer = await relay()({ Records: records });
  assert.equal(answer, failuresOf(records[0]!));
  assert.equal(sentIds(), y.map((e) => e.id));
});

test("a record whose events span two batches: a failure in the first keeps its later events out of the second", async () => {
  const many = Array.from({ length: 12 }, (_, i) => placed(`span-${i}`));
  const other = placed("span-other");
  const records = [record("span", ...many), record("span-other", other), record("span", placed("span-next"))];
  sns.failEntries((message) => message.includes(many[2]!.id));
  const answer = await relay(1)({ Records: records });
  assert.equal(answer, failuresOf(records[0]!));
  const topicArn = TEST_TOPICS["orders.order-placed"];
  // [10 of span], then [span's 11th and 12th, other] without span's: other alone.
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 10 },
    { action: "Publish", topicArn, entries: 1 },
  ]);
  const ids = sentIds();
  assert.ok(ids.includes(other.id));
  assert.not.ok(ids.includes(many[10]!.id) || ids.includes(many[11]!.id), "the record's later events wait for its retry");
});

/** Runs the relay with `strategy` as the SNS client's retry strategy. */
async function withRetryStrategy<T>(strategy: unknown, work: () => Promise<T>): Promise<T> {
  return withMaxAttempts(3, async () => {
    const config = snsClient().config;
    const original = config.retryStrategy;
    config.retryStrategy = async () => strategy as Awaited<ReturnType<typeof original>>;
    try {
      return await work();
    } finally {
      config.retryStrategy = original;
    }
  });
}

/** Fails the entries of `events` the first `times` times each is sent. */
function failing(events: readonly Event[], times: number): (message: string) => boolean {
  const seen = new Map<string, number>();
  return (message) => {
    const event = events.find((e) => message.includes(e.id));
    if (!event) return false;
    const count = (seen.get(event.id) ?? 0) + 1;
    seen.set(event.id, count);
    return count <= times;
  };
}

test("an entry SNS failed on its side (SenderFault false) is sent again alone before the topic's next call: the record is published", async () => {
  const a = [placed("ra-1"), placed("ra-2")];
  const b = placed("rb-1");
  const records = [record("ra", a[0]!), record("rb", b), record("ra", a[1]!)];
  sns.failEntries(failing([a[0]!], 1));
  const answer = await withMaxAttempts(3, () => relay()({ Records: records }, lambdaContext()));
  assert.equal(answer, { batchItemFailures: [] });
  const topicArn = TEST_TOPICS["orders.order-placed"];
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 2 },
    { action: "PublishBatch", topicArn, entries: 1 },
    { action: "Publish", topicArn, entries: 1 },
  ]);
  assert.equal(sentIds(), [b.id, a[0]!.id, a[1]!.id]);
});

test("a record spanning two batches: its failed entry in the first is sent again before the second carries its later events", async () => {
  const many = Array.from({ length: 12 }, (_, i) => placed(`rspan-${i}`));
  const records = [record("rspan", ...many)];
  sns.failEntries(failing([many[2]!, many[5]!], 1));
  const answer = await withMaxAttempts(3, () => relay(1)({ Records: records }));
  assert.equal(answer, { batchItemFailures: [] });
  const topicArn = TEST_TOPICS["orders.order-placed"];
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 10 },
    { action: "PublishBatch", topicArn, entries: 2 },
    { action: "PublishBatch", topicArn, entries: 2 },
  ]);
  const ids = sentIds();
  assert.equal(ids.slice(-4), [many[2]!.id, many[5]!.id, many[10]!.id, many[11]!.id]);
  assert.equal(new Set(ids), new Set(many.map((e) => e.id)));
  assert.is(ids.length, 12);
});

test("an entry the sender caused (SenderFault true) is not sent again: its partition stops at once", async () => {
  const a = [placed("sa-1"), placed("sa-2")];
  const b = placed("sb-1");
  const records = [record("sa", a[0]!), record("sb", b), record("sa", a[1]!)];
  sns.failEntries((message) => message.includes(a[0]!.id), { code: "KMSAccessDenied", senderFault: true });
  const answer = await withMaxAttempts(3, () => relay()({ Records: records }, lambdaContext()));
  assert.equal(answer, failuresOf(records[0]!));
  assert.equal(sns.requests, [{ action: "PublishBatch", topicArn: TEST_TOPICS["orders.order-placed"], entries: 2 }]);
  assert.equal(sentIds(), [b.id]);
});

test("in one batch, only the entries SNS failed on its side go again; the sender's stay failed", async () => {
  const s = placed("mix-s");
  const t = placed("mix-t");
  const ok = placed("mix-ok");
  const records = [record("mix-s", s), record("mix-t", t), record("mix-ok", ok)];
  const tOnce = failing([t], 1);
  sns.failEntries((message) => (message.includes(s.id) ? { code: "InvalidParameter", senderFault: true } : tOnce(message)));
  const answer = await withMaxAttempts(3, () => relay()({ Records: records }));
  assert.equal(answer, failuresOf(records[0]!));
  const topicArn = TEST_TOPICS["orders.order-placed"];
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 3 },
    { action: "PublishBatch", topicArn, entries: 1 },
  ]);
  assert.equal(sentIds(), [ok.id, t.id]);
});

test("a record's event failed by the sender keeps its later events of the same call from going again", async () => {
  const [x, y] = [placed("grp-x"), placed("grp-y")];
  const other = placed("grp-other");
  const records = [record("grp", x, y), record("grp-other", other)];
  const otherOnce = failing([other], 1);
  sns.failEntries((message) =>
    message.includes(x.id) ? { code: "InvalidParameter", senderFault: true } : message.includes(y.id) || otherOnce(message),
  );
  const answer = await withMaxAttempts(3, () => relay()({ Records: records }));
  assert.equal(answer, failuresOf(records[0]!));
  // y failed on SNS's side but comes after x, failed for good: only the other record's entry goes again.
  assert.equal(sns.requests.map((r) => r.entries), [3, 1]);
  assert.equal(sentIds(), [other.id]);
});

test("a failure on SNS's side that persists stops only its partition, after the client's maxAttempts", async () => {
  const a = [placed("pa-1"), placed("pa-2")];
  const b = [placed("pb-1"), placed("pb-2")];
  const records = [record("pa", a[0]!), record("pb", b[0]!), record("pa", a[1]!), record("pb", b[1]!)];
  sns.failEntries((message) => message.includes(a[0]!.id));
  const answer = await withMaxAttempts(4, () => relay()({ Records: records }, lambdaContext()));
  assert.equal(answer, failuresOf(records[0]!));
  const topicArn = TEST_TOPICS["orders.order-placed"];
  // The first call and 3 more of the failed entry alone (4 attempts), then pb's next record.
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 2 },
    { action: "PublishBatch", topicArn, entries: 1 },
    { action: "PublishBatch", topicArn, entries: 1 },
    { action: "PublishBatch", topicArn, entries: 1 },
    { action: "Publish", topicArn, entries: 1 },
  ]);
  assert.equal(sentIds(), b.map((e) => e.id));
});

test("no entry is sent again within RELAY_RETRY_MARGIN_MS of the invocation's end", async () => {
  const a = placed("ta-1");
  const b = placed("tb-1");
  const records = [record("ta", a), record("tb", b)];
  sns.failEntries(failing([a], 1));
  const late = await withMaxAttempts(3, () => relay()({ Records: records }, lambdaContext(RELAY_RETRY_MARGIN_MS)));
  assert.equal(late, failuresOf(records[0]!));
  assert.equal(sns.requests.map((r) => r.entries), [2]);

  // The same failure with time left: sent again and published.
  sns.reset();
  sns.failEntries(failing([a], 1));
  const inTime = await withMaxAttempts(3, () => relay()({ Records: records }, lambdaContext(RELAY_RETRY_MARGIN_MS + 60_000)));
  assert.equal(inTime, { batchItemFailures: [] });
  assert.equal(sns.requests.map((r) => r.entries), [2, 1]);
});

test("FIFO: an entry SNS failed on its side never lets a later event of its message group go out first", async () => {
  // SNS publishes a FIFO batch's entries in order but reports each on its own: had the record's two events of group
  // "fo" shared one call, the second would be published while the first waits to be sent again.
  const first = statusChanged("fo-first", "placed");
  const d = [statusChanged("fo", "placed"), statusChanged("fo", "invoiced")];
  const other = statusChanged("fo-other", "placed");
  const records = [record("fo-first", first), record("fo", ...d), record("fo-other", other)];
  sns.failEntries(failing([d[0]!], 1));
  const answer = await withMaxAttempts(3, () => relay()({ Records: records }, lambdaContext()));
  assert.equal(answer, { batchItemFailures: [] });
  const group = sns.published.filter((m) => m.messageGroupId === "fo").map((m) => JSON.parse(m.message).id);
  assert.equal(group, d.map((e) => e.id));
  // No call carries two entries of one group (the group's second event starts the next call); groups share calls.
  const topicArn = TEST_TOPICS["orders.order-status-changed"];
  assert.equal(sns.requests, [
    { action: "PublishBatch", topicArn, entries: 2 },
    { action: "PublishBatch", topicArn, entries: 1 },
    { action: "PublishBatch", topicArn, entries: 2 },
  ]);
});

test("the retry strategy's delay in its token (the SDK's retry middleware waits it) is waited too, up to the deadline", async () => {
  // A retry strategy may hand its backoff back in the token (getRetryDelay) instead of waiting inside
  // refreshRetryTokenForRetry; the SDK's retry middleware waits it. Here it asks for a minute: past the invocation's
  // deadline (500 ms away), so the failed entry must not be sent again at once.
  const a = placed("delay-a");
  const b = placed("delay-b");
  const records = [record("delay-a", a), record("delay-b", b)];
  sns.failEntries(failing([a], 1));
  const token = (count: number, delay: number) => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  const givenBack: number[] = [];
  const strategy = {
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (previous: { getRetryCount(): number }) => token(previous.getRetryCount() + 1, 60_000),
    recordSuccess: (used: { getRetryCount(): number }) => void givenBack.push(used.getRetryCount()),
  };
  const answer = await withRetryStrategy(strategy, () => relay()({ Records: records }, lambdaContext(RELAY_RETRY_MARGIN_MS + 500)));
  assert.equal(answer, failuresOf(records[0]!));
  assert.equal(sns.requests.map((r) => r.entries), [2]);
  // The retry its token was for never happened: the token goes back to the strategy (recordSuccess returns its cost).
  // (The SDK's own calls with this strategy record their first tokens, count 0, too.)
  assert.equal(givenBack.filter((count) => count > 0), [1]);
});

const timers = () => process.getActiveResourcesInfo().filter((name) => name === "Timeout").length;

test("a backoff the deadline cuts ends with the invocation: no timer left behind, the retry quota it took given back", async () => {
  // The SDK's own StandardRetryStrategy (the client's class) with a 15 s backoff: it takes its retry cost from the
  // quota, then waits inside refreshRetryTokenForRetry, past the deadline (300 ms away).
  const a = placed("cut-a");
  const b = placed("cut-b");
  const records = [record("cut-a", a), record("cut-b", b)];
  sns.failEntries(failing([a], 1));
  const Standard = (await withMaxAttempts(3, async () => (await snsClient().config.retryStrategy()).constructor)) as new (options: object) => {
    getCapacity(): number;
  };
  const strategy = new Standard({ maxAttempts: 3, backoff: { setDelayBase: () => undefined, computeNextBackoffDelay: () => 15_000 } });
  const quota = strategy.getCapacity();
  const before = timers();
  const started = Date.now();
  const answer = await withRetryStrategy(strategy, () => relay()({ Records: records }, lambdaContext(RELAY_RETRY_MARGIN_MS + 300)));
  assert.equal(answer, failuresOf(records[0]!));
  assert.equal(sns.requests.map((r) => r.entries), [2]);
  assert.ok(Date.now() - started < 15_000, "the relay stopped waiting at its deadline");
  assert.equal(timers(), before, "no timer of the cut backoff is pending after the handler returned");
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(strategy.getCapacity(), quota, "the retry that never happened gave its cost back");
});

test("a record given up on says why its entries were not sent again: the calls made and the limit reached", async () => {
  const a = placed("why-a");
  const b = placed("why-b");
  const records = [record("why-a", a), record("why-b", b)];
  sns.failEntries((message) => message.includes(a.id));
  const errorOf = (lines: any[]) => lines.find((l) => l.message.startsWith("recorded events not published"))?.error?.message as string;

  const [spent, spentLogs] = await withLogs(() => withMaxAttempts(2, () => relay()({ Records: records }, lambdaContext())));
  assert.equal(spent, failuresOf(records[0]!));
  assert.match(errorOf(spentLogs), /InternalError: injected failure\); not sent again after 2 calls: .*maxAttempts or retry quota/);

  sns.reset();
  sns.failEntries((message) => message.includes(a.id));
  const [late, lateLogs] = await withLogs(() => withMaxAttempts(2, () => relay()({ Records: records }, lambdaContext(RELAY_RETRY_MARGIN_MS))));
  assert.equal(late, failuresOf(records[0]!));
  assert.match(errorOf(lateLogs), /not sent again after 1 call: the deadline/);

  // Failed by the sender: nothing about retries.
  sns.reset();
  sns.failEntries((message) => message.includes(a.id), { code: "KMSAccessDenied", senderFault: true });
  const [, senderLogs] = await withLogs(() => withMaxAttempts(2, () => relay()({ Records: records }, lambdaContext())));
  assert.not.match(errorOf(senderLogs), /not sent again/);
});

test.run();
