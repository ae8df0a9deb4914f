// SNS to SQS deliveries on the local stage are authorized as AWS authorizes them: SNS sends as sns.amazonaws.com
// with aws:SourceArn = the topic, and the queue's policy decides. A queue whose policy names another topic gets
// nothing (its subscription's dead-letter queue gets the message, as SNS does on a client-side error), and the trace
// says why; a queue whose policy is right gets the event.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FunctionLogEntry } from "../lambda";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const MISADDRESSED = join(__dirname, "fixtures", "misaddressed-service");

let stage: LocalStage;
const logs: FunctionLogEntry[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: [MISADDRESSED], onLog: (entry) => logs.push(entry) });
});

test.after(async () => {
  await stage?.stop();
});

/** Polls `probe` until it returns something, or fails after `ms`: a bound for a hang, not a measure (load slows every hop). */
async function eventually<T>(what: string, probe: () => T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("the wiring carries each queue's policy from its QueuePolicy", () => {
  const queue = stage.wiring.queues.find((q) => q.name === "local-misaddressed-misaddressed")!;
  assert.ok(queue, stage.wiring.queues.map((q) => q.name).join(", "));
  assert.match(queue.policy ?? "", /"aws:SourceArn":"arn:aws:sns:[^"]+:local-orders-order-placed"/);
  const right = stage.wiring.queues.find((q) => q.name === "local-misaddressed-addressed")!;
  assert.match(right.policy ?? "", /"aws:SourceArn":"arn:aws:sns:[^"]+:local-billing-invoice-issued"/);
  assert.equal(
    stage.wiring.ignored.filter((i) => i.origin.type === "aws:sqs/queuePolicy:QueuePolicy"),
    [],
    "every queue policy found its queue",
  );
});

test("a queue whose policy names another topic receives nothing, and the trace says why", async () => {
  const data = { invoiceId: "inv-policy-1", orderId: "o-1", customerId: "c-1", total: { amount: 5, currency: "EUR" } };
  const response = await fetch(`${stage.adminUrl}publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "billing.invoice-issued", data, correlationId: "queue-policy-1" }),
  });
  assert.is(response.status, 202, await response.text());

  const tree = await eventually("the trace to settle with the addressed consumer done", () => {
    const t = stage.trace("queue-policy-1");
    const root = t?.roots[0];
    if (!t?.settled || root?.kind !== "publish") return undefined;
    return root.deliveries.some((d) => d.status === "done") ? t : undefined;
  });
  const root = tree.roots[0]!;
  if (root.kind !== "publish") throw new Error("expected a publish");
  const refused = root.deliveries.find((d) => d.queue === "local-misaddressed-misaddressed");
  assert.ok(refused, JSON.stringify(root.deliveries));
  assert.is(refused!.status, "dead-lettered");
  assert.is(refused!.deadLetterQueue, "local-misaddressed-misaddressed-sub-dlq");
  assert.match(refused!.reason ?? "", /^AccessDenied: the queue policy of local-misaddressed-misaddressed does not let sns\.amazonaws\.com send from arn:aws:sns:[^:]+:\d{12}:local-billing-invoice-issued/);
  const addressed = root.deliveries.find((d) => d.queue === "local-misaddressed-addressed");
  assert.is(addressed?.status, "done");

  const printed = renderTrace(tree);
  assert.match(printed, /could not be delivered to local-misaddressed-misaddressed \(AccessDenied: the queue policy of local-misaddressed-misaddressed does not let sns\.amazonaws\.com send/);

  assert.equal(stage.sqs.queue("local-misaddressed-misaddressed").counts(), {
    ApproximateNumberOfMessages: 0,
    ApproximateNumberOfMessagesNotVisible: 0,
    ApproximateNumberOfMessagesDelayed: 0,
  });
  assert.is(stage.sqs.queue("local-misaddressed-misaddressed-sub-dlq").counts().ApproximateNumberOfMessages, 1);
  const received = logs.filter((entry) => entry.message.includes("inv-policy-1"));
  assert.equal(
    received.map((entry) => entry.functionName),
    ["local-misaddressed-addressed"],
    "only the addressed consumer's handler ran",
  );
});

test.run();
