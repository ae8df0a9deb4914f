// Failure events end to end in the local stage with the example services: an event billing rejects is kept in the
// platform's failure queue (wired from the platform program, as deployed), listed and read through the admin API and
// the CLI, and replayed to its own topic with the same envelope and id: billing applies what it had not applied,
// and skips what it had.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventually } from "../../testing/stage-target";
import { catalog } from "../../contract/catalog";
import type { FunctionLogEntry } from "../lambda";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// The services this conversation crosses (orders, billing): the stage starts no other service's functions.
const SERVICES = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "services", name));

const REPO = join(__dirname, "..", "..", "..");
const run = promisify(execFile);
const credentials = { accessKeyId: "operator", secretAccessKey: "operator" };

let stage: LocalStage;
let sns: SNSClient;
let dynamo: DynamoDBClient;
const logs: FunctionLogEntry[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: SERVICES, onLog: (entry) => logs.push(entry) });
  sns = new SNSClient({ endpoint: stage.endpoints.sns, region: stage.wiring.region, credentials, maxAttempts: 1 });
  dynamo = new DynamoDBClient({ endpoint: stage.endpoints.dynalite, region: stage.wiring.region, credentials });
});

test.after(async () => {
  sns?.destroy();
  dynamo?.destroy();
  await stage?.stop();
});

async function admin(method: "GET" | "POST", path: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${stage.url}/_local/${path}`, { method });
  return { status: response.status, json: await response.json() };
}

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", join(REPO, "shared", "local", "cli.ts"), ...args, "--url", stage.url], { cwd: REPO });
  return stdout;
}

async function invoices(createdBy: string): Promise<Record<string, any>[]> {
  const page = await dynamo.send(new ScanCommand({ TableName: "local-data", ConsistentRead: true }));
  return (page.Items ?? []).map((item: Record<string, AttributeValue>) => unmarshall(item)).filter((item) => String(item.pk).startsWith("$billing#") && item.createdBy === createdBy);
}

function envelope(id: string, data: unknown, correlationId: string) {
  return {
    specversion: "1.0",
    id,
    source: "orders",
    type: "orders.order-placed",
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    correlationid: correlationId,
    data,
  };
}

/** A failure event as billing's consumer publishes it, for an original event it rejected. */
function failureEvent(original: ReturnType<typeof envelope>, reason: "business-rule" | "invalid-event", message: string) {
  return {
    specversion: "1.0",
    id: `failure-of-${original.id}-${Math.random().toString(16).slice(2)}`,
    source: "billing",
    type: "platform.event-failed",
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    correlationid: original.correlationid,
    causationid: original.id,
    data: { service: "billing", handler: "on-order-placed", reason, message, originalType: original.type, originalId: original.id, originalBody: JSON.stringify(original) },
  };
}

test("the failure queue and its subscription come from the platform program, as deployed", () => {
  const queue = stage.wiring.queues.find((q) => q.origin.project === "platform" && q.origin.name === "failure-queue");
  assert.ok(queue, "the platform's failure queue is wired");
  assert.is(stage.failureQueue, "local-platform-event-failed");
  assert.is(queue!.messageRetentionSeconds, 1_209_600);
  const topic = stage.sns.listTopics().find((t) => t.name === "local-platform-event-failed")!;
  const subscriptions = stage.sns.listSubscriptionsByTopic(topic.arn).map((s) => stage.sns.getSubscriptionAttributes(s.SubscriptionArn));
  assert.is(subscriptions.length, 1);
  assert.is(subscriptions[0]!.Endpoint, queue!.arn);
  assert.is(subscriptions[0]!.RawMessageDelivery, "true");
  // SNS's own dead-letter queue for the subscription shows among the dead-letter queues.
  assert.ok(stage.deadLetterQueues().some((d) => d.name === "local-platform-event-failed-sub-dlq" && d.kind === "subscription"));
});

test("an event billing rejects is kept, listed, read, and replayed to its topic with the same id", async () => {
  const { customerId: _dropped, ...invalidData } = catalog["orders.order-placed"].example;
  const original = envelope("rejected-order-1", { ...invalidData, orderId: "o-rejected-1" }, "failures-invalid-1");
  await sns.send(
    new PublishCommand({
      TopicArn: stage.sns.listTopics().find((t) => t.name === "local-orders-order-placed")!.arn,
      Message: JSON.stringify(original),
      MessageAttributes: {
        type: { DataType: "String", StringValue: original.type },
        source: { DataType: "String", StringValue: original.source },
        correlationid: { DataType: "String", StringValue: original.correlationid },
        dataversion: { DataType: "Number", StringValue: "1" },
      },
    }),
  );

  // Billing's: other services that consume orders.order-placed may reject the event too.
  const byBilling = (f: any) => f.originalId === original.id && f.rejectedBy === "billing/on-order-placed";
  const listed = await eventually("billing's failure event in the failure queue", async () => {
    const { json } = await admin("GET", "failures");
    return (json.failures as any[]).find(byBilling);
  });
  assert.is(listed.reason, "invalid-event");
  assert.is(listed.rejectedBy, "billing/on-order-placed");
  assert.is(listed.originalType, "orders.order-placed");
  assert.is(listed.originalTopic, "local-orders-order-placed");
  assert.is(listed.correlationId, original.correlationid);
  assert.match(listed.message, /customerId/);
  assert.is(listed.notReplayable, undefined);

  const read = await admin("GET", `failures/${listed.id}`);
  assert.is(read.status, 200);
  assert.equal(JSON.parse(read.json.originalBody), original, "the original event exactly as billing received it");
  assert.is(read.json.failureEvent.type, "platform.event-failed");

  const list = await cli("failures");
  assert.match(list, /local-platform-event-failed: \d+ failure events?/);
  assert.ok(list.includes(`- ${listed.id} `) && list.includes("orders.order-placed rejected-order-1"), list);
  assert.match(list, /rejected by billing\/on-order-placed \(invalid-event\)/);
  assert.match(list, /replay publishes it to local-orders-order-placed/);
  const one = await cli("failures", listed.id);
  assert.ok(one.includes(`original message: ${JSON.stringify(original)}`), one);

  // Replayed as it is, billing receives the same event again and rejects it again: a new failure, the old one gone.
  const replayed = await cli("replay", listed.id);
  assert.match(replayed, new RegExp(`published orders\\.order-placed rejected-order-1 to local-orders-order-placed again \\(correlation id failures-invalid-1\\); failure ${listed.id} deleted`));
  const again = await eventually("the replayed event's new failure", async () => {
    const { json } = await admin("GET", "failures");
    return (json.failures as any[]).find((f) => byBilling(f) && f.id !== listed.id);
  });
  assert.is(again.reason, "invalid-event");
  assert.not.ok(stage.failures().some((f) => f.id === listed.id), "the replayed failure left the queue");
  // The trace settles: nothing consumes the failure queue, so a failure event ends its path there, for a person.
  const tree = await eventually("the trace of both deliveries to settle", () => {
    const t = stage.trace(original.correlationid);
    const deliveries = JSON.stringify(t).match(/"queue":"local-billing-on-order-placed"/g) ?? [];
    return t?.settled && deliveries.length === 2 ? t : undefined;
  });
  // Billing's branch (other consumers' branches may come between the publish and it).
  assert.match(renderTrace(tree), /published by hand orders\.order-placed .*\n(?:.*\n)*?.*delivered to local-billing-on-order-placed\n.*billing\/on-order-placed handled it.*\n.*published platform\.event-failed .* to local-platform-event-failed\n.*kept in local-platform-event-failed: a failure event, waiting for a person/);
  assert.ok(JSON.stringify(tree).includes('"eventId":"rejected-order-1"'));
});

test("once fixed, a replay applies what was not applied and is skipped where it was", async () => {
  const queueArn = stage.wiring.queues.find((q) => q.name === stage.failureQueue)!.arn;
  const original = envelope("rejected-order-2", { ...catalog["orders.order-placed"].example, orderId: "o-rejected-2" }, "failures-fixed-2");
  // As an earlier billing left it: rejected by a business rule since fixed.
  stage.sqs.sendMessage(queueArn, { MessageBody: JSON.stringify(failureEvent(original, "business-rule", "customer is blocked")) });
  const [failure] = stage.failures().filter((f) => f.originalId === original.id);
  assert.ok(failure, "listed");

  const replayed = await admin("POST", `failures/${failure!.id}/replay`);
  assert.is(replayed.status, 200, JSON.stringify(replayed.json));
  assert.equal(
    { eventId: replayed.json.eventId, eventType: replayed.json.eventType, correlationId: replayed.json.correlationId },
    { eventId: original.id, eventType: original.type, correlationId: original.correlationid },
  );
  const [invoice] = await eventually("billing's invoice for the replayed event", async () => {
    const found = await invoices(original.id);
    return found.length ? found : undefined;
  });
  assert.is(invoice!.details.orderId, "o-rejected-2");

  // The same event replayed once more (say another consumer had rejected it too): billing skips it.
  stage.sqs.sendMessage(queueArn, { MessageBody: JSON.stringify(failureEvent(original, "business-rule", "another consumer said no")) });
  const second = stage.failures().find((f) => f.originalId === original.id)!;
  assert.is((await admin("POST", `failures/${second.id}/replay`)).status, 200);
  await eventually("billing to skip the duplicate", () =>
    logs.find((entry) => entry.message.includes("duplicate event skipped") && entry.message.includes(original.id)),
  );
  assert.is((await invoices(original.id)).length, 1, "one invoice");
  assert.not.ok(stage.failures().some((f) => f.originalId === original.id));
});

test("the CLI's health command lists each part of the stage with its health", async () => {
  const lines = (await cli("health")).trim().split("\n");
  assert.equal(lines.map((line) => line.split(":")[0]), ["dynamodb", "messaging", "kinesis", "relational", "workflows", "functions", "pollers", "streams", "gateway", "admin"]);
  assert.ok(lines.every((line) => / ok \(/.test(line)), lines.join("\n"));
});

test("a failure whose original is no event cannot be replayed, and says so", async () => {
  const queueArn = stage.wiring.queues.find((q) => q.name === stage.failureQueue)!.arn;
  const broken = failureEvent(envelope("x", {}, "failures-broken-3"), "invalid-event", "the message body is not JSON");
  broken.data.originalBody = "not json at all";
  delete (broken.data as { originalType?: string }).originalType;
  stage.sqs.sendMessage(queueArn, { MessageBody: JSON.stringify(broken) });
  const failure = stage.failures().find((f) => f.failureEventId === broken.id)!;
  assert.match(failure.notReplayable!, /not an event envelope/);
  const answer = await admin("POST", `failures/${failure.id}/replay`);
  assert.is(answer.status, 400);
  assert.match(answer.json.message, /cannot be replayed: the original message is not an event envelope/);
  assert.ok(stage.failures().some((f) => f.id === failure.id), "it stays in the queue");
  assert.is((await admin("POST", "failures/no-such-failure/replay")).status, 404);
});

test.run();
