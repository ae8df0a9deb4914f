// Stream event source mappings send their on-failure record as Lambda does: with the function's execution role. A role
// that may not send to the destination (or use its KMS key) loses the record, as a deployment would: nothing in the
// destination, a DENIED line in the trace, one log line naming the function, destination, action and ARN, Lambda's
// DestinationDeliveryFailures counted, and the shard goes on. The grants the repo's own services declare let every
// one of their mappings deliver.
//
// The stage runs the test service fixtures/stream-service (a table's stream read by on-change, with an SSE-SQS
// on-failure queue) and the example service ledger (a Kinesis consumer whose on-failure queue is encrypted with the
// platform's events key and has a queue policy), with grants taken away from their roles' policies as a deploy that
// lacks them would have.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runWholeSystem } from "../../testing/whole-system";
import { stacksOf } from "../../capture/system";
import { eventually } from "../../testing/stage-target";
import { Authorizer } from "../iam/authorizer";
import { functionAccessKeyId, type FunctionLogEntry } from "../lambda/function-host";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";
import type { StreamMappingInfo } from "../stage/part-streams";
import { wiringFrom, type FunctionSpec, type StageWiring } from "../stage/wiring";
import { authorizeOnFailureSend, onFailureDestination, type OnFailureSend } from "../streams";
import { failInvocations } from "./support/fail-invocations";
import { keepStderrLines } from "./support/stderr-lines";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const STREAMER = join(__dirname, "fixtures", "stream-service");
const ON_CHANGE = "local-streamer-on-change";
const ON_ENTRY_POSTED = "local-ledger-on-entry-posted";

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource?: unknown; Condition?: unknown };

/** The function's policies with `drop` taken out of every statement (statements left with no action go). */
function withoutActions(fn: FunctionSpec, drop: readonly string[]): FunctionSpec {
  const policies = fn.policies.map((text) => {
    const document = JSON.parse(text) as { Version?: string; Statement: Statement | Statement[] };
    const statements = (Array.isArray(document.Statement) ? document.Statement : [document.Statement]).flatMap((s) => {
      const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]).filter((a) => !drop.includes(a));
      return actions.length ? [{ ...s, Action: actions }] : [];
    });
    return JSON.stringify({ ...document, Statement: statements });
  });
  return { ...fn, policies };
}

/** A deploy without the grants: on-change may not send to its queue, the ledger consumer may not encrypt for its queue. */
function withoutGrants(wiring: StageWiring): StageWiring {
  return {
    ...wiring,
    functions: wiring.functions.map((fn) =>
      fn.name === ON_CHANGE ? withoutActions(fn, ["sqs:SendMessage"]) : fn.name === ON_ENTRY_POSTED ? withoutActions(fn, ["kms:GenerateDataKey"]) : fn,
    ),
  };
}

let stage: LocalStage;
const logs: FunctionLogEntry[] = [];
let stderr: ReturnType<typeof keepStderrLines> | undefined;

test.before(async () => {
  // The stage's own lines go to standard error: keep those about on-failure records (the rest passes through).
  stderr = keepStderrLines("on-failure record");
  stage = await startLocalStage({ port: 0, serviceDirs: [STREAMER, join(REPO, "services", "ledger")], adjustWiring: withoutGrants, onLog: (entry) => logs.push(entry) });
});

test.after(async () => {
  stderr?.restore();
  await stage?.stop();
});

const seen = (key: string) => logs.some((l) => l.functionName === ON_CHANGE && l.message.includes('"seen"') && l.message.includes(key));

test("a DynamoDB stream mapping whose role may not sqs:SendMessage to its on-failure queue: the record is lost, the refusal reported, the shard goes on", async () => {
  const queueArn = stage.wiring.streamMappings!.find((m) => m.kind === "dynamodb" && m.functionArn.endsWith(`:${ON_CHANGE}`))!.onFailureDestinationArn!;
  const response = await fetch(`${stage.url}/things`, { method: "POST", headers: { "content-type": "application/json", "x-correlation-id": "refused-poison" }, body: JSON.stringify({ id: "refused", poison: true }) });
  assert.is(response.status, 201, await response.text());

  const mapping = await eventually("the mapping to give up on the batch", async () => {
    const { mappings } = (await (await fetch(`${stage.adminUrl}stream-mappings`)).json()) as { mappings: StreamMappingInfo[] };
    const found = mappings.find((m) => m.function === ON_CHANGE)!;
    return found.destinationDeliveryFailures > 0 ? found : undefined;
  });
  assert.is(mapping.destinationDeliveryFailures, 1);
  assert.is(mapping.discarded.RetryAttemptsExhausted, 1, "the batch is given up on all the same");
  // Nothing reached the queue.
  const { failures } = (await (await fetch(`${stage.adminUrl}stream-mappings/failures`)).json()) as { failures: unknown[] };
  assert.equal(failures, []);
  const sqs = (stage.parts.parts.find((p) => p.name === "messaging") as unknown as { sqs: { peek(arn: string): unknown[] } }).sqs;
  assert.equal(sqs.peek(queueArn), []);

  // One line naming the function, the destination, the action and the ARN.
  const lines = stderr!.lines.filter((l) => l.includes(ON_CHANGE));
  assert.is(lines.length, 1, lines.join(""));
  assert.match(
    lines[0]!,
    new RegExp(
      `^local stage: ${ON_CHANGE} gave up on a batch, and its on-failure record was not delivered to ${queueArn}: the function's role may not sqs:SendMessage on ${queueArn} \\(User: arn:aws:sts::\\d{12}:assumed-role/${ON_CHANGE}\\S*/${ON_CHANGE} is not authorized to perform: sqs:SendMessage on resource: ${queueArn} because no identity-based policy allows the sqs:SendMessage action\\)\\. Lambda drops such a record \\(DestinationDeliveryFailures\\) and goes on with the shard`,
    ),
  );

  // The trace: the refusal under the batch's last invocation, and the record given up on with nothing recording it.
  const tree = await eventually("the trace to settle", () => {
    const t = stage.trace("refused-poison");
    return t?.settled && JSON.stringify(t).includes("given-up-unrecorded") ? t : undefined;
  });
  const text = renderTrace(tree);
  assert.match(text, /stream record INSERT on local-streamer-things \(\$streamer#thing_refused, thing\) \(given up on by a mapping: not recorded, its on-failure record was refused\)/);
  assert.match(text, new RegExp(`streamer/on-change[^\\n]*\\n(?:[^\\n]*\\n)*?[^\\n]*DENIED sqs:SendMessage on ${queueArn}: User: arn:aws:sts::`), text);
  assert.not.match(text, /described to the on-failure destination/);

  // The CLI's listing says it too.
  const listing = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), "stream-mappings", "--url", stage.url], (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  assert.match(listing, new RegExp(`^${ON_CHANGE} <- [^\n]*1 given up on \\(to local-streamer-on-change-failed\\); 1 on-failure record refused by the destination \\(the function's role may not send them\\): lost$`, "m"));

  // The shard goes on: a later write is processed.
  const next = await fetch(`${stage.url}/things`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: "after-refusal" }) });
  assert.is(next.status, 201);
  await eventually("the next record", () => (seen("$streamer#thing_after-refusal") ? true : undefined));
});

test("a Kinesis mapping whose role may not kms:GenerateDataKey on its encrypted on-failure queue's key: the record is lost, the refusal names the key", async () => {
  const mapping = stage.wiring.streamMappings!.find((m) => m.kind === "kinesis" && m.functionArn.endsWith(`:${ON_ENTRY_POSTED}`))!;
  const queueArn = mapping.onFailureDestinationArn!;
  // One retry, no bisect: the batch is given up on quickly.
  await stage.kinesis.reconcile!({
    ...stage.wiring,
    streamMappings: stage.wiring.streamMappings!.map((m) => (m === mapping ? { ...m, maximumRetryAttempts: 1, bisectBatchOnFunctionError: false } : m)),
  });
  const host = stage.hosts.get(ON_ENTRY_POSTED)!;
  // The function fails (an unhandled error, as Lambda reports it).
  const restore = failInvocations(host);
  try {
    const data = { customerId: `customer-refused-${Date.now()}`, invoiceId: `invoice-refused-${Date.now()}`, amount: 5 };
    stage.publish("ledger.entry-posted", data, { correlationId: "refused-kinesis" });
    const consumer = await eventually("the consumer to give up on the batch", async () => {
      const { streams } = (await (await fetch(`${stage.adminUrl}streams`)).json()) as { streams: { consumers: { function: string; destinationDeliveryFailures: number }[] }[] };
      const found = streams.flatMap((s) => s.consumers).find((c) => c.function === ON_ENTRY_POSTED);
      return found && found.destinationDeliveryFailures > 0 ? found : undefined;
    });
    assert.is(consumer.destinationDeliveryFailures, 1);
    const { failures } = (await (await fetch(`${stage.adminUrl}streams/failures`)).json()) as { failures: unknown[] };
    assert.equal(failures, [], "nothing reached the queue");

    // The queue's key is the platform's events key; its policy lets the account's IAM policies decide.
    const key = onFailureDestination(stage.programs, queueArn, stage.wiring).key!;
    assert.match(key.arn, /^arn:aws:kms:[^:]+:\d{12}:key\//);
    const lines = stderr!.lines.filter((l) => l.includes(ON_ENTRY_POSTED));
    assert.is(lines.length, 1, lines.join(""));
    assert.ok(
      lines[0]!.startsWith(`local stage: ${ON_ENTRY_POSTED} gave up on a batch, and its on-failure record was not delivered to ${queueArn}: the function's role may not kms:GenerateDataKey on ${key.arn} (User: `),
      lines[0],
    );
    const tree = await eventually("the trace with the refusal", () => {
      const t = stage.trace("refused-kinesis");
      return t && renderTrace(t).includes("DENIED kms:GenerateDataKey") ? t : undefined;
    });
    assert.match(renderTrace(tree), new RegExp(`DENIED kms:GenerateDataKey on ${key.arn}: User: arn:aws:sts::\\d{12}:assumed-role/`));
  } finally {
    restore();
  }
});

test("every stream mapping of the repo's own services may send its on-failure record (their roles, queue policies and key policies)", async () => {
  const system = await runWholeSystem("dev");
  const programs = stacksOf(system).map((s) => ({ project: s.label, resources: s.resources }));
  const sample = programs.flatMap((p) => p.resources).find((r) => r.type === "aws:lambda/function:Function")!;
  const [, , , region, accountId] = String(sample.state.arn).split(":") as [string, string, string, string, string];
  const wiring = wiringFrom(programs, { region, accountId });
  const authorizer = new Authorizer({ accountId });
  for (const fn of wiring.functions) authorizer.register(functionAccessKeyId(fn.name), fn.policies, { roleName: fn.roleArn.split("/").pop()!, sessionName: fn.name, accountId });
  const sends = (wiring.streamMappings ?? [])
    .filter((m) => m.onFailureDestinationArn)
    .map((m): OnFailureSend & { name: string } => {
      const fn = wiring.functions.find((f) => f.arn === m.functionArn)!;
      return { name: fn.name, authorizer, principal: functionAccessKeyId(fn.name), roleArn: fn.roleArn, region, accountId, destination: onFailureDestination(programs, m.onFailureDestinationArn!, wiring) };
    });
  // The outbox relays (DynamoDB streams) and the Kinesis consumers, each with a queue encrypted with the events key.
  assert.ok(sends.length >= 3, `${sends.length} mappings with an on-failure destination`);
  for (const send of sends) {
    assert.ok(send.destination.key?.policy, `${send.name}: its queue's key and key policy are known`);
    assert.is(authorizeOnFailureSend(send), undefined, `${send.name} may send to ${send.destination.arn}`);
  }

  // Each grant counts: the check is not one that always passes.
  const [send] = sends as [OnFailureSend & { name: string }];
  const fn = wiring.functions.find((f) => f.name === send.name)!;
  const refusedWithout = (drop: string[]) => {
    const limited = new Authorizer({ accountId });
    limited.register(send.principal, withoutActions(fn, drop).policies, { roleName: fn.roleArn.split("/").pop()!, sessionName: fn.name, accountId });
    return authorizeOnFailureSend({ ...send, authorizer: limited });
  };
  assert.is(refusedWithout(["kms:Decrypt"])?.action, "kms:Decrypt");
  assert.is(refusedWithout(["kms:GenerateDataKey"])?.resource, send.destination.key!.arn);
  // Same account: the queue's policy lets the role send on its own (IAM's evaluation within one account)...
  assert.is(refusedWithout(["sqs:SendMessage"]), undefined);
  // ...but not another principal, which its Deny of every other sender refuses whatever the principal's policies say.
  const other = wiring.functions.find((f) => f.name !== send.name && f.service !== fn.service) ?? wiring.functions.find((f) => f.name !== send.name)!;
  const intruder = new Authorizer({ accountId });
  intruder.register("intruder", [JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] })], { roleName: other.roleArn.split("/").pop()!, accountId });
  const refused = authorizeOnFailureSend({ ...send, authorizer: intruder, principal: "intruder", roleArn: other.roleArn });
  assert.is(refused?.action, "sqs:SendMessage");
  assert.match(refused!.message, /explicitly denies sqs:SendMessage/);

  // A topic as the destination: sns:Publish, then the KMS actions on the topic's key (the platform's failure topic,
  // encrypted with the events key, which functions reporting failure events may publish to).
  const failureTopic = programs.flatMap((p) => p.resources).find((r) => r.type === "aws:sns/topic:Topic" && String(r.state.arn).endsWith("-platform-event-failed"))!;
  const publisher = wiring.functions.find((f) => f.policies.some((p) => p.includes(`"${String(failureTopic?.state.arn)}"`) && p.includes("sns:Publish")))!;
  assert.ok(failureTopic && publisher, "a failure topic and a function that publishes to it");
  const topic = onFailureDestination(programs, String(failureTopic.state.arn), wiring);
  assert.is(topic.kind, "sns");
  assert.ok(topic.key?.policy, "the topic's key is the events key, with its policy");
  const toTopic = (policies: string[]) => {
    const roles = new Authorizer({ accountId });
    roles.register(functionAccessKeyId(publisher.name), policies, { roleName: publisher.roleArn.split("/").pop()!, sessionName: publisher.name, accountId });
    return authorizeOnFailureSend({ authorizer: roles, principal: functionAccessKeyId(publisher.name), roleArn: publisher.roleArn, region, accountId, destination: topic });
  };
  assert.is(toTopic(publisher.policies), undefined);
  assert.equal(toTopic(withoutActions(publisher, ["sns:Publish"]).policies)?.action, "sns:Publish");
  assert.equal(toTopic(withoutActions(publisher, ["kms:GenerateDataKey"]).policies)?.resource, topic.key!.arn);
});

test.run();
