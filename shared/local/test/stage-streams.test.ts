// DynamoDB Streams in the running local stage: a test service (fixtures/stream-service) writes to a table of its own
// from a route, and a function reads that table's stream through an event source mapping. The records
// come from the DynamoDB thread's write engine, the mapping's settings from the program, the function is the real
// bundle in its host; the trace shows write -> stream record -> invocation, and a failing batch ends as Lambda's
// on-failure record on the mapping's queue.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DynamoDBClient, PutItemCommand, TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { evaluateGuardrails, guardrailPolicies } from "../../infra/guardrails";
import type { FunctionLogEntry } from "../lambda";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";
import type { InvocationTrace, StreamRecordTrace, TraceTree } from "../stage/trace";
import { eventually } from "../../testing/stage-target";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const SERVICE = join(__dirname, "fixtures", "stream-service");
// The repository's copy of the sample (shared/testing/fixtures/aws-events, see SOURCES.md): a clone has nothing outside it.
const SAMPLE = join(__dirname, "../../testing/fixtures/aws-events/dynamodb-stream-2.json");

let stage: LocalStage;
const logs: FunctionLogEntry[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: [SERVICE], onLog: (entry) => logs.push(entry) });
});

test.after(async () => {
  await stage?.stop();
});

/** What on-change logged: each record it got. */
function seen(): { seen: string; eventName: string; version?: string; record: Record<string, unknown> }[] {
  return logs
    .filter((l) => l.functionName === "local-streamer-on-change" && l.message.includes('"seen"'))
    .map((l) => JSON.parse(l.message.slice(l.message.indexOf("{"))) as { seen: string; eventName: string; version?: string; record: Record<string, unknown> });
}

async function write(body: Record<string, unknown>, correlationId: string): Promise<void> {
  const response = await fetch(`${stage.url}/things`, { method: "POST", headers: { "content-type": "application/json", "x-correlation-id": correlationId }, body: JSON.stringify(body) });
  assert.is(response.status, 201, await response.text());
}

/** The service's own table, whose stream its mapping reads (not the platform's data table, shared by every service). */
const THINGS = "local-streamer-things";
const thingsTable = () => stage.wiring.tables.find((t) => t.name === THINGS)!;

test("the wiring has the service's table's stream and the mapping's settings from the program", async () => {
  assert.equal(thingsTable().stream?.viewType, "NEW_AND_OLD_IMAGES");
  assert.match(thingsTable().stream!.arn, /^arn:aws:dynamodb:[^:]+:\d{12}:table\/local-streamer-things\/stream\//);
  const mappings = stage.wiring.streamMappings ?? [];
  assert.is(mappings.length, 1);
  const [m] = mappings;
  assert.is(m!.kind, "dynamodb");
  assert.is(m!.eventSourceArn, thingsTable().stream!.arn);
  assert.is(m!.startingPosition, "LATEST");
  assert.is(m!.batchSize, 10);
  assert.is(m!.parallelizationFactor, 2);
  assert.is(m!.bisectBatchOnFunctionError, true);
  assert.is(m!.maximumRetryAttempts, 1);
  assert.is(m!.maximumRecordAgeInSeconds, 3600);
  assert.is(m!.reportBatchItemFailures, true);
  assert.match(m!.onFailureDestinationArn ?? "", /:local-streamer-on-change-failed$/);
  assert.is(m!.filterCriteria?.Filters.length, 1);
  assert.is(stage.health().streams?.status, "ok");
  // A deployed service could read no other stream: the stream-reader guardrails pass on the program's resources.
  const streamer = stage.programs.find((p) => p.project === "streamer")!;
  const readers = guardrailPolicies.filter((p) => ["dynamodb-stream-reader-own-table", "dynamodb-stream-at-most-two-readers"].includes(p.name));
  assert.is(readers.length, 2);
  assert.equal(await evaluateGuardrails([...streamer.resources], readers), []);
});

test("a write's stream record reaches the function in DynamoDB Streams' shape, and the trace shows write -> stream record -> invocation", async () => {
  await write({ id: "a" }, "streams-a");
  const got = await eventually("on-change to see the item", () => seen().find((s) => s.seen === "$streamer#thing_a"));
  assert.is(got.eventName, "INSERT");
  const sample = (JSON.parse(readFileSync(SAMPLE, "utf8")) as { Records: Record<string, unknown>[] }).Records[1]!;
  assert.equal(Object.keys(got.record), Object.keys(sample));
  assert.equal(Object.keys(got.record.dynamodb as object), Object.keys(sample.dynamodb as object));
  assert.is(got.record.eventSourceARN, thingsTable().stream!.arn);
  assert.equal((got.record.dynamodb as { Keys: unknown }).Keys, { pk: { S: "$streamer#thing_a" }, sk: { S: "thing" } });

  const tree: TraceTree = await eventually("the trace to settle with the stream invocation", () => {
    const t = stage.trace("streams-a");
    return t?.settled && JSON.stringify(t).includes('"trigger":"stream"') ? t : undefined;
  });
  const root = tree.roots[0]!;
  assert.is(root.kind, "request");
  const writer = (root as { invocation: InvocationTrace }).invocation;
  const put = writer.writes.find((w) => w.operation === "PutItem" && w.table === THINGS)!;
  assert.ok(put, renderTrace(tree));
  const record: StreamRecordTrace = put.streamRecords![0]!;
  assert.is(record.eventName, "INSERT");
  assert.is(record.parentSpanId, writer.spanId, "the record's span is the writer's child");
  assert.equal(record.outcomes, ["processed"]);
  const invocation = record.invocations[0]!;
  assert.is(invocation.trigger, "stream");
  assert.is(invocation.function, "local-streamer-on-change");
  assert.is(invocation.parentSpanId, record.spanId, "the invocation continues the record's span");
  assert.is(invocation.traceId, writer.traceId);
  assert.is(invocation.status, "ok");
  const text = renderTrace(tree);
  assert.match(text, /wrote PutItem on local-streamer-things[^\n]*\n[^\n]*stream record INSERT on local-streamer-things \(\$streamer#thing_a, thing\)\n[^\n]*streamer\/on-change handled it/);
});

test("records no filter matches are skipped; the mapping's shards move past them (admin API)", async () => {
  const client = new DynamoDBClient({ endpoint: stage.endpoints.dynamodbProxy, region: stage.wiring.region, credentials: { accessKeyId: "AKIDSEEDING", secretAccessKey: "x" } });
  try {
    await client.send(new PutItemCommand({ TableName: THINGS, Item: { pk: { S: "$other#x" }, sk: { S: "x" } } }));
    // TransactWriteItems through the stage's IAM proxy: both items written at once, both streamed.
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: THINGS, Item: { pk: { S: "$other#y" }, sk: { S: "y" } } } },
          { Put: { TableName: THINGS, Item: { pk: { S: "$streamer#thing_t" }, sk: { S: "thing" }, version: { N: "7" } } } },
        ],
      }),
    );
  } finally {
    client.destroy();
  }
  await eventually("the transaction's item of the service", () => seen().find((s) => s.seen === "$streamer#thing_t"));
  assert.not.ok(seen().some((s) => s.seen.startsWith("$other#")), "no record of another service reached the function");
  const last = stage.parts.parts.find((p) => p.name === "dynamodb") as unknown as { streams: { records(t: string): { dynamodb: { SequenceNumber: string } }[] } };
  const newest = last.streams.records(THINGS).map((r) => BigInt(r.dynamodb.SequenceNumber)).reduce((a, b) => (a > b ? a : b));
  const listed = await eventually("the checkpoint at the newest record", async () => {
    const body = (await (await fetch(`${stage.adminUrl}stream-mappings`)).json()) as { mappings: { function: string; filtered: number; shards: { checkpoint?: string }[] }[] };
    const mapping = body.mappings.find((m) => m.function === "local-streamer-on-change");
    return mapping?.shards.some((s) => s.checkpoint !== undefined && BigInt(s.checkpoint) === newest) ? mapping : undefined;
  });
  assert.ok(listed.filtered >= 2, JSON.stringify(listed));
});

test("the records of one item reach the function in write order", async () => {
  for (let version = 1; version <= 5; version++) await write({ id: "ordered", version }, `streams-order-${version}`);
  const versions = await eventually("five versions", () => {
    const list = seen().filter((s) => s.seen === "$streamer#thing_ordered").map((s) => s.version);
    return list.length >= 5 ? list : undefined;
  });
  assert.equal(versions, ["1", "2", "3", "4", "5"]);
});

test("a poison record is retried, bisected, then given up on: Lambda's on-failure record on the mapping's queue (admin API)", async () => {
  await write({ id: "poison", poison: true }, "streams-poison");
  const failure = await eventually("the on-failure record", async () => {
    const body = (await (await fetch(`${stage.adminUrl}stream-mappings/failures`)).json()) as {
      failures: { queue: string; function: string; record: { requestContext: Record<string, unknown>; responseContext?: Record<string, unknown>; DDBStreamBatchInfo?: Record<string, unknown> } }[];
    };
    return body.failures[0];
  });
  assert.is(failure.queue, "local-streamer-on-change-failed");
  assert.is(failure.function, "local-streamer-on-change");
  assert.is(failure.record.requestContext.condition, "RetryAttemptsExhausted");
  assert.is(failure.record.requestContext.approximateInvokeCount, 2);
  assert.is(failure.record.responseContext?.functionError, "Unhandled");
  const info = failure.record.DDBStreamBatchInfo!;
  assert.is(info.streamArn, thingsTable().stream!.arn);
  assert.is(info.batchSize, 1);
  assert.is(info.startSequenceNumber, info.endSequenceNumber);
  const tree = await eventually("the trace to settle", () => {
    const t = stage.trace("streams-poison");
    return t?.settled && JSON.stringify(t).includes("given-up") ? t : undefined;
  });
  assert.match(renderTrace(tree), /stream record INSERT on local-streamer-things \(\$streamer#thing_poison, thing\) \(given up on by a mapping: described to the on-failure destination\)/);
  // The shard goes on: a later write is processed.
  await write({ id: "after-poison" }, "streams-after");
  await eventually("the next record", () => seen().find((s) => s.seen === "$streamer#thing_after-poison"));
});

test("the CLI lists the stream mappings with their shards, and the on-failure records", async () => {
  const cli = (command: string) =>
    new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), command, "--url", stage.url], (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
  const mappings = await cli("stream-mappings");
  assert.match(mappings, /^local-streamer-on-change <- table\/local-streamer-things\/stream\/\S+ \(Enabled, LATEST\): \d+ invocations, \d+ records filtered out, 1 given up on \(to local-streamer-on-change-failed\)$/m);
  assert.match(mappings, /^  shardId-\S+: done to \d+, 0 waiting, 0 in flight/m);
  const failures = await cli("stream-mapping-failures");
  assert.match(failures, /^1 on-failure record\n- local-streamer-on-change gave up \(RetryAttemptsExhausted\) on 1 records of arn:aws:dynamodb:\S+ shardId-\S+ \d+ \.\. \d+ \(in local-streamer-on-change-failed\)$/m);
});

test("replay: the mapping's function is invoked again with a shard's range read back from the stream (admin API and CLI)", async () => {
  const replay = async (body: Record<string, unknown>) => {
    const response = await fetch(`${stage.adminUrl}stream-mappings/replay`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const fn = "local-streamer-on-change";
  // The poison batch's on-failure record: its range, replayed, fails again (the record still carries poison).
  const { failures } = (await (await fetch(`${stage.adminUrl}stream-mappings/failures`)).json()) as { failures: { record: { DDBStreamBatchInfo: { shardId: string; startSequenceNumber: string; endSequenceNumber: string } } }[] };
  const info = failures[0]!.record.DDBStreamBatchInfo;
  const poison = await replay({ function: fn, shardId: info.shardId, from: info.startSequenceNumber, to: info.endSequenceNumber });
  assert.is(poison.status, 200, JSON.stringify(poison.body));
  assert.equal({ ...poison.body, error: undefined }, { function: fn, shardId: info.shardId, reinvoked: 1, filtered: 0, outcome: "failed", error: undefined });
  assert.match(poison.body.error, /poison record \$streamer#thing_poison/);

  // The five records of "ordered" (one shard: one partition key), and the transaction's records, one of another service.
  const dynamodb = stage.parts.parts.find((p) => p.name === "dynamodb") as unknown as { streams: { records(t: string): { eventID: string; dynamodb: { SequenceNumber: string; Keys: { pk: { S: string } } } }[] } };
  const records = dynamodb.streams.records(THINGS);
  const ordered = records.filter((r) => r.dynamodb.Keys.pk.S === "$streamer#thing_ordered").map((r) => r.dynamodb.SequenceNumber);
  assert.is(ordered.length, 5);
  const before = seen().filter((s) => s.seen === "$streamer#thing_ordered").length;
  const ok = await replay({ function: fn, shardId: info.shardId, from: ordered[0], to: ordered[4] });
  assert.equal(ok.body, { function: fn, shardId: info.shardId, reinvoked: 5, filtered: 0, outcome: "ok" });
  assert.equal(seen().filter((s) => s.seen === "$streamer#thing_ordered").slice(before).map((s) => s.version), ["1", "2", "3", "4", "5"], "again, in order");

  // Records the mapping's filter leaves out are not sent (Lambda never gave them to the function).
  const other = records.find((r) => r.dynamodb.Keys.pk.S === "$other#y")!.dynamodb.SequenceNumber;
  const mine = records.find((r) => r.dynamodb.Keys.pk.S === "$streamer#thing_t")!.dynamodb.SequenceNumber;
  const [from, to] = BigInt(other) < BigInt(mine) ? [other, mine] : [mine, other];
  const filtered = await replay({ function: fn, shardId: info.shardId, from, to });
  assert.equal(filtered.body, { function: fn, shardId: info.shardId, reinvoked: 1, filtered: 1, outcome: "ok" });

  // Refusals name what is wrong: records past retention (or never there), an unknown function, a bad range, a missing field.
  const gone = await replay({ function: fn, shardId: info.shardId, from: "1", to: "2" });
  assert.is(gone.status, 400);
  assert.match(gone.body.message, /the records of shardId-\S+ from 1 are no longer in the stream \(a DynamoDB stream keeps them 24 hours\)/);
  const unknown = await replay({ function: "local-nothing", shardId: info.shardId, from: ordered[0], to: ordered[4] });
  assert.is(unknown.status, 404);
  assert.match(unknown.body.message, /no running stream mapping invokes function local-nothing \(mappings: local-streamer-on-change\)/);
  assert.is((await replay({ function: fn, shardId: "shardId-nope", from: ordered[0], to: ordered[4] })).status, 404);
  assert.is((await replay({ function: fn, shardId: info.shardId, from: ordered[4], to: ordered[0] })).status, 400);
  const missing = await replay({ function: fn, shardId: info.shardId });
  assert.is(missing.status, 400);
  assert.match(missing.body.message, /\{ function, shardId, from, to \}/);

  // The CLI, as the admin index lists the operation.
  const index = (await (await fetch(stage.adminUrl)).json()) as { operations: Record<string, string> };
  assert.ok(index.operations["POST /_local/stream-mappings/replay"]);
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), ...args, "--url", stage.url], (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout })),
    );
  const again = await cli(["stream-mapping-replay", fn, info.shardId, ordered[0]!, ordered[4]!]);
  assert.is(again.code, 0);
  assert.is(again.stdout, `sent 5 records of ${info.shardId} to ${fn} again, and it took them\n`);
  const failed = await cli(["stream-mapping-replay", fn, info.shardId, info.startSequenceNumber, info.endSequenceNumber]);
  assert.is(failed.code, 1);
  assert.match(failed.stdout, /^sent 1 record of \S+ to local-streamer-on-change again, and it failed: Error: poison record \$streamer#thing_poison/);
});

test.run();
