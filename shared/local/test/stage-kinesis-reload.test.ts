// A Kinesis mapping's on-failure send after a watch reload (stage.reconcile with the programs' new runs) is decided by
// the programs as they are now, not as the stage started: a reload that changes the destination's key policy refuses
// the next failed batch as the new policy says, and a reload that points the mapping at another queue (whose queue
// policy now lets the function's role send) delivers the next failed batch there. The stage runs the example service
// ledger (a Kinesis consumer whose on-failure queue is encrypted with the platform's events key); the consumer is made
// to fail, with one retry and no bisect, so each batch is given up on at once.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventually } from "../../testing/stage-target";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { startLocalStage, type LocalStage } from "../stage";
import type { ProgramResult } from "../stage/programs";
import { onFailureDestination } from "../streams";
import type { OnFailureRecord } from "../streams/shard-poller";
import { failInvocations } from "./support/fail-invocations";
import { keepStderrLines } from "./support/stderr-lines";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const CONSUMER = "local-ledger-on-entry-posted";
const OTHER_QUEUE = "ledger-on-invoice-issued-dlq";

let stage: LocalStage;
/** The programs as the stage started (each test reloads from these). */
let started: readonly ProgramResult[];
let stderr: ReturnType<typeof keepStderrLines> | undefined;

test.before(async () => {
  // The stage's line about a refused on-failure record goes to standard error: keep those (the rest passes through).
  stderr = keepStderrLines("on-failure record");
  stage = await startLocalStage({
    port: 0,
    serviceDirs: [join(REPO, "services", "ledger")],
    // One retry, no bisect, on every load (a reload's wiring goes through it too): a failing batch is given up on at once.
    adjustWiring: (wiring) => ({
      ...wiring,
      streamMappings: (wiring.streamMappings ?? []).map((m) => (m.kind === "kinesis" && m.functionArn.endsWith(`:${CONSUMER}`) ? { ...m, maximumRetryAttempts: 1, bisectBatchOnFunctionError: false } : m)),
    }),
  });
  started = stage.programs;
});

test.after(async () => {
  stderr?.restore();
  await stage?.stop();
});

/** The runs with the resource named `name` changed (inputs and state alike), as a program edit would give them. */
function edited(runs: readonly ProgramResult[], changes: Record<string, (inputs: Record<string, any>) => Record<string, any>>): ProgramResult[] {
  const seen = new Set<string>();
  const next = runs.map((run) => ({
    ...run,
    resources: run.resources.map((r): CapturedResource => {
      const change = changes[r.name];
      if (!change) return r;
      seen.add(r.name);
      return { ...r, inputs: change(structuredClone(r.inputs)), state: change(structuredClone(r.state)) };
    }),
  }));
  assert.equal([...seen].sort(), Object.keys(changes).sort(), "every resource to change is in the programs");
  return next;
}

const resource = (name: string) => started.flatMap((run) => run.resources).find((r) => r.name === name)!;
const withStatement = (policy: string, statement: Record<string, unknown>) => {
  const document = JSON.parse(policy) as { Statement: unknown[] };
  return JSON.stringify({ ...document, Statement: [...document.Statement, statement] });
};

/** The consumer fails every batch (an unhandled error, as Lambda reports it) while `run` runs. */
async function failing<T>(run: () => Promise<T>): Promise<T> {
  const restore = failInvocations(stage.hosts.get(CONSUMER)!);
  try {
    return await run();
  } finally {
    restore();
  }
}

async function deliveryFailures(): Promise<number> {
  const { streams } = (await (await fetch(`${stage.adminUrl}streams`)).json()) as { streams: { consumers: { function: string; destinationDeliveryFailures: number }[] }[] };
  return streams.flatMap((s) => s.consumers).find((c) => c.function === CONSUMER)?.destinationDeliveryFailures ?? 0;
}

/** The on-failure records in `queueArn` (peeked, not taken). */
const recordsIn = (queueArn: string) => stage.sqs.peek(queueArn).map((m) => JSON.parse(m.body) as OnFailureRecord);

/** Puts one entry and answers its shard and sequence number. */
async function putEntry(tag: string): Promise<{ shardId: string; sequenceNumber: string }> {
  const data = { customerId: `customer-${tag}-${Date.now()}`, invoiceId: `invoice-${tag}-${Date.now()}`, amount: 5 };
  const sent = stage.publish("ledger.entry-posted", data, { correlationId: tag });
  return (sent as unknown as { put: Promise<{ shardId: string; sequenceNumber: string }> }).put;
}

/** Whether `record` covers the put's sequence number. */
const covers = (record: OnFailureRecord, put: { shardId: string; sequenceNumber: string }) => {
  const info = record.KinesisBatchInfo;
  return !!info && info.shardId === put.shardId && BigInt(info.startSequenceNumber) <= BigInt(put.sequenceNumber) && BigInt(info.endSequenceNumber) >= BigInt(put.sequenceNumber);
};

test("a reload whose key policy denies the role kms:GenerateDataKey: the next failed batch is refused as the new policy says", async () => {
  const mapping = stage.wiring.streamMappings!.find((m) => m.kind === "kinesis" && m.functionArn.endsWith(`:${CONSUMER}`))!;
  const queueArn = mapping.onFailureDestinationArn!;
  const roleArn = stage.wiring.functions.find((f) => f.name === CONSUMER)!.roleArn;
  const key = onFailureDestination(started, queueArn, stage.wiring).key!;
  const keyResource = started.flatMap((run) => run.resources).find((r) => r.type === "aws:kms/key:Key" && r.state.arn === key.arn)!;
  assert.ok(keyResource, "the on-failure queue's key is a program's");
  const deny = { Sid: "NoFailureRecordsFromLedger", Effect: "Deny", Principal: { AWS: roleArn }, Action: "kms:GenerateDataKey", Resource: "*" };
  await stage.reconcile(edited(started, { [keyResource.name]: (inputs) => ({ ...inputs, policy: withStatement(String(inputs.policy), deny) }) }));
  try {
    const before = { failures: await deliveryFailures(), lines: stderr!.lines.length };
    const put = await failing(async () => {
      const put = await putEntry("key-policy-reloaded");
      await eventually("the failed batch's on-failure send, refused or delivered", async () =>
        (await deliveryFailures()) > before.failures || recordsIn(queueArn).some((r) => covers(r, put)) ? true : undefined,
      60_000);
      return put;
    });
    assert.not.ok(recordsIn(queueArn).some((r) => covers(r, put)), "the record did not reach the queue: the reloaded key policy denies its key");
    assert.is(await deliveryFailures(), before.failures + 1);
    const lines = stderr!.lines.slice(before.lines).filter((l) => l.includes(CONSUMER));
    assert.is(lines.length, 1, lines.join(""));
    assert.ok(lines[0]!.includes(`may not kms:GenerateDataKey on ${key.arn} (the key policy of ${key.arn} explicitly denies kms:GenerateDataKey to ${roleArn})`), lines[0]);
  } finally {
    await stage.reconcile(started);
  }
});

test("a reload that points the mapping at another queue, whose policy lets the role send: the next failed batch goes there", async () => {
  const other = resource(OTHER_QUEUE);
  const otherArn = String(other.state.arn);
  const policyOf = started.flatMap((run) => run.resources).find((r) => r.type === "aws:sqs/queuePolicy:QueuePolicy" && r.inputs.queueUrl === other.state.url)!;
  assert.ok(policyOf, `${OTHER_QUEUE} has a queue policy`);
  const roleArn = stage.wiring.functions.find((f) => f.name === CONSUMER)!.roleArn;
  const mappingResource = started
    .flatMap((run) => run.resources)
    .find((r) => r.type === "aws:lambda/eventSourceMapping:EventSourceMapping" && String(r.inputs.functionName).endsWith(`:${CONSUMER}`))!;
  const allow = { Sid: "FailureRecordsFromLedger", Effect: "Allow", Principal: { AWS: roleArn }, Action: "sqs:SendMessage", Resource: otherArn };
  await stage.reconcile(
    edited(started, {
      [mappingResource.name]: (inputs) => ({ ...inputs, destinationConfig: { onFailure: { destinationArn: otherArn } } }),
      [policyOf.name]: (inputs) => ({ ...inputs, policy: withStatement(String(inputs.policy), allow) }),
    }),
  );
  try {
    assert.is(stage.wiring.streamMappings!.find((m) => m.functionArn.endsWith(`:${CONSUMER}`))!.onFailureDestinationArn, otherArn);
    const before = { failures: await deliveryFailures(), lines: stderr!.lines.length };
    const put = await failing(async () => {
      const put = await putEntry("destination-reloaded");
      await eventually("the failed batch's on-failure send, refused or delivered", async () =>
        (await deliveryFailures()) > before.failures || recordsIn(otherArn).some((r) => covers(r, put)) ? true : undefined,
      60_000);
      return put;
    });
    assert.equal(stderr!.lines.slice(before.lines).filter((l) => l.includes(CONSUMER)), [], "no refusal: the reloaded queue policy lets the role send");
    assert.is(await deliveryFailures(), before.failures);
    const record = recordsIn(otherArn).find((r) => covers(r, put))!;
    assert.is(record.requestContext.condition, "RetryAttemptsExhausted");
    assert.match(record.KinesisBatchInfo!.streamArn, /:stream\/local-ledger-entry-posted$/);
  } finally {
    await stage.reconcile(started);
  }
  // Back to the program as it started: the next failed batch goes to the mapping's own queue again.
  const ownArn = stage.wiring.streamMappings!.find((m) => m.functionArn.endsWith(`:${CONSUMER}`))!.onFailureDestinationArn!;
  assert.is.not(ownArn, otherArn);
  const put = await failing(async () => {
    const put = await putEntry("destination-restored");
    await eventually("the failed batch's on-failure record in the mapping's own queue", () => (recordsIn(ownArn).some((r) => covers(r, put)) ? true : undefined), 60_000);
    return put;
  });
  assert.not.ok(recordsIn(otherArn).some((r) => covers(r, put)));
});

test.run();
