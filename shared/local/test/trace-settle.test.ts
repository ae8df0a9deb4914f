import { test } from "uvu";
import * as assert from "uvu/assert";
import { rootContext, childContext } from "../context";
import { TraceRecorder, type TraceTree } from "../stage/trace";

const names = { queue: (arn: string) => arn, topic: (arn: string) => arn, functionLabel: (name: string) => name };
const topicArn = "arn:aws:sns:eu-west-1:000000000000:local-orders-order-placed";

function publish(recorder: TraceRecorder, correlationId: string, n: number): void {
  const message = JSON.stringify({ id: `event-${n}`, type: "orders.order-placed", correlationid: correlationId });
  recorder.publishing({ topicArn, message }, childContext(rootContext("local-orders-place-order", correlationId)), () => ({ MessageId: `message-${n}` }));
}

test("a tree settles once, no sooner than settleMs after its last change, with one timer re-armed for all its changes", async () => {
  const settled: TraceTree[] = [];
  const recorder = new TraceRecorder({ names, settleMs: 1000, onSettled: (tree) => settled.push(tree) });
  const original = globalThis.setTimeout;
  let armed = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed++;
    return original(...args);
  }) as typeof setTimeout;
  try {
    // Ten hops of one conversation, each in a turn of its own: each pushes the settle check back.
    for (let n = 0; n < 10; n++) {
      publish(recorder, "conversation-1", n);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    globalThis.setTimeout = original;
  }
  const lastChange = Date.now();
  assert.is(settled.length, 0, "settled while still changing");
  // One timer for the tree, re-armed by each change after the first (a timer per change cost an allocation per hop).
  assert.is(armed, 1);
  for (let i = 0; i < 600 && settled.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.is(settled.length, 1);
  assert.is(settled[0]!.correlationId, "conversation-1");
  assert.is(settled[0]!.roots.length, 10);
  // Timers never fire early: a check armed by the first change and not pushed back could come sooner than this.
  assert.ok(Date.now() - lastChange >= 990, "settled before settleMs had passed since the last change");
});

test("a forgotten tree's pending check is dropped; touching it again later is harmless", async () => {
  const settled: TraceTree[] = [];
  const recorder = new TraceRecorder({ names, settleMs: 30, maxTrees: 1, onSettled: (tree) => settled.push(tree) });
  publish(recorder, "first", 1);
  publish(recorder, "second", 2);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(settled.map((tree) => tree.correlationId), ["second"]);
  assert.is(recorder.tree("first"), undefined);
});

test("beyond maxTrees the oldest trees are forgotten first, however many came and went", () => {
  const recorder = new TraceRecorder({ names, settleMs: 60_000, maxTrees: 3 });
  // Past the point where the recorder compacts its list of trees (a thousand forgotten), and a tree touched again
  // (a later publish of the same conversation) keeps its place: it is forgotten by when it began.
  for (let n = 0; n < 2500; n++) publish(recorder, `conversation-${n}`, n);
  publish(recorder, "conversation-2498", 2500);
  assert.equal(recorder.correlationIds(), ["conversation-2497", "conversation-2498", "conversation-2499"]);
  assert.is(recorder.tree("conversation-2496"), undefined);
  assert.is(recorder.tree("conversation-2498")!.roots.length, 2);
  publish(recorder, "conversation-new", 2501);
  assert.equal(recorder.correlationIds(), ["conversation-2498", "conversation-2499", "conversation-new"]);
  recorder.close();
});

test.run();
