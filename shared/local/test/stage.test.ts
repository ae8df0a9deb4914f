// The local stage from the repository's real programs (platform + every services/* project, plus a test-only
// service that tries what its role does not grant): wiring, routes, admin API, hand publish, IAM, event shapes.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FunctionLogEntry } from "../lambda";
import { signedFetch } from "../../testing/stage-target";
import { discoverServiceDirs, ProgramError, renderTrace, RESOURCE_TYPES, startLocalStage, type LocalStage, type TraceTree } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const INTRUDER = join(__dirname, "fixtures", "intruder-service");
const BROKEN = join(__dirname, "fixtures", "broken-service");
const SAMPLE = join(REPO, "shared", "infra", "test", "fixtures", "sample-service");
const FIXTURES = join(REPO, "shared", "testing", "fixtures", "aws-events");
const fixture = <T>(file: string): T => JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as T;

// Real services when there are any; the infra sample service otherwise.
const real = discoverServiceDirs(REPO);
const serviceDirs = [...(real.length ? real : [SAMPLE]), INTRUDER];

let stage: LocalStage;
const logs: FunctionLogEntry[] = [];
const settled: TraceTree[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs, onLog: (entry) => logs.push(entry), onTrace: (tree) => settled.push(tree) });
});

test.after(async () => {
  await stage?.stop();
});

/**
 * Polls `probe` until it returns something, or fails after `ms`: a bound for a hang, not a measure (a loaded 2-core
 * machine takes seconds for what a quiet one does in milliseconds: cold starts of each function on the way).
 */
async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${stage.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

test("every topic, queue, subscription, function, mapping, table and route maps 1:1 to a captured resource", () => {
  const captured = (type: string) => stage.programs.flatMap((p) => p.resources.filter((r) => r.type === type).map((r) => `${p.project}/${r.name}`)).sort();
  const wired = (list: { origin: { project: string; name: string } }[]) => list.map((w) => `${w.origin.project}/${w.origin.name}`).sort();
  assert.equal(wired(stage.wiring.topics), captured(RESOURCE_TYPES.topic), "topics");
  assert.equal(wired(stage.wiring.queues), captured(RESOURCE_TYPES.queue), "queues");
  assert.equal(wired(stage.wiring.subscriptions), captured(RESOURCE_TYPES.subscription), "subscriptions");
  assert.equal(wired(stage.wiring.functions), captured(RESOURCE_TYPES.function), "functions");
  // SQS mappings and mappings on streams (the outbox relays' on their outbox tables' streams, Kinesis consumers').
  assert.equal(wired([...stage.wiring.mappings, ...(stage.wiring.streamMappings ?? [])]), captured(RESOURCE_TYPES.mapping), "event source mappings");
  assert.equal(wired(stage.wiring.tables), captured(RESOURCE_TYPES.table), "tables");
  assert.equal(wired(stage.wiring.routes), captured(RESOURCE_TYPES.route), "routes");
  assert.equal(stage.kinesis.streams.map((s) => `${s.project}/${s.arn}`).sort(), stage.programs.flatMap((p) => p.resources.filter((r) => r.type === RESOURCE_TYPES.kinesisStream).map((r) => `${p.project}/${String(r.state.arn)}`)).sort(), "Kinesis streams");
  assert.ok(stage.wiring.functions.length >= 3 && stage.wiring.mappings.length >= 1 && stage.wiring.routes.length >= 2);
  assert.equal(stage.wiring.ignored, [], "nothing the programs declared is left out");
});

test("the engines hold exactly the programs' topics, queues and subscriptions, with their settings", () => {
  const resources = stage.programs.flatMap((p) => p.resources);
  const of = (type: string) => resources.filter((r) => r.type === type);
  assert.equal(stage.sns.listTopics().map((t) => t.arn).sort(), of(RESOURCE_TYPES.topic).map((t) => t.state.arn).sort());
  assert.equal(stage.sqs.listQueues().map((q) => q.arn).sort(), of(RESOURCE_TYPES.queue).map((q) => q.state.arn).sort());
  for (const queue of of(RESOURCE_TYPES.queue)) {
    const local = stage.sqs.queue(queue.state.arn);
    if (queue.inputs.visibilityTimeoutSeconds !== undefined) assert.is(local.attributes.visibilityTimeout, queue.inputs.visibilityTimeoutSeconds, queue.name);
    const redrive = queue.inputs.redrivePolicy ? JSON.parse(queue.inputs.redrivePolicy) : undefined;
    assert.equal(local.attributes.redrivePolicy, redrive, `${queue.name} redrive`);
    assert.is(local.fifo, queue.inputs.fifoQueue === true, `${queue.name} fifo`);
  }
  const subscriptions = of(RESOURCE_TYPES.subscription);
  const local = stage.sns.listTopics().flatMap((t) => stage.sns.listSubscriptionsByTopic(t.arn).map((s) => stage.sns.getSubscriptionAttributes(s.SubscriptionArn)));
  assert.is(local.length, subscriptions.length);
  for (const s of subscriptions) {
    const found = local.filter((l) => l.TopicArn === s.inputs.topic && l.Endpoint === s.inputs.endpoint);
    assert.is(found.length, 1, `${s.name} exists once`);
    assert.is(found[0]!.RawMessageDelivery, String(s.inputs.rawMessageDelivery === true));
    assert.is(found[0]!.FilterPolicy, s.inputs.filterPolicy);
    assert.equal(JSON.parse(found[0]!.RedrivePolicy ?? "null"), s.inputs.redrivePolicy ? JSON.parse(s.inputs.redrivePolicy) : null);
  }
});

test("functions get the environment their Function resource declares, with platform values resolved", () => {
  const resources = stage.programs.flatMap((p) => p.resources);
  for (const fn of resources.filter((r) => r.type === RESOURCE_TYPES.function)) {
    const wired = stage.wiring.functions.find((w) => w.arn === fn.state.arn)!;
    assert.equal(wired.environment, fn.inputs.environment.variables, fn.name);
    assert.is(wired.timeoutSeconds, fn.inputs.timeout);
    assert.is(wired.memoryMb, fn.inputs.memorySize);
    assert.ok(wired.environment.PLATFORM_DATA_TABLE === undefined || wired.environment.PLATFORM_DATA_TABLE === "local-data");
    assert.ok(wired.policies.length >= 1, `${fn.name} has its role's policy`);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// HTTP

test("an unknown route answers 404 as API Gateway does", async () => {
  const missing = await request("GET", "/no/such/route");
  assert.is(missing.status, 404);
  assert.equal(missing.json, { message: "Not Found" });
  const wrongMethod = await request("DELETE", "/intruder/probe");
  assert.is(wrongMethod.status, 404);
  assert.equal(wrongMethod.json, { message: "Not Found" });
});

test("the HTTP event a handler gets has the keys and types of AWS's payload 2.0 sample", async () => {
  const answer = await request("GET", "/intruder/echo/abc%20def?x=1&x=2");
  assert.is(answer.status, 200);
  const event = answer.json;
  assert.equal(event.pathParameters, { id: "abc def" });
  assert.equal(event.queryStringParameters, { x: "1,2" });
  assert.is(event.routeKey, "GET /intruder/echo/{id}");
  const sample = fixture<Record<string, unknown>>("apigw-http-v2.json");
  const diffs = shapeDiff(event, sample, {
    maps: ["$.headers", "$.queryStringParameters", "$.pathParameters"],
    // Present only when the route has an authorizer (the sample's had one); these routes have none.
    absent: ["$.requestContext.authorizer"],
    // Present only when the request has them (the sample had neither).
    extra: ["$.queryStringParameters", "$.pathParameters"],
  });
  assert.equal(diffs, []);
});

test("a request's X-Amzn-Trace-Id is continued: API Gateway's span is in that trace, the invocation's span under it", async () => {
  const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  const answer = await fetch(`${stage.url}/intruder/echo/traced`, { headers: { "x-amzn-trace-id": header } });
  assert.is(answer.status, 200);
  assert.is(JSON.parse(await answer.text()).headers["x-amzn-trace-id"], header);
  const tree = await eventually("the request's trace", () =>
    stage
      .traceIds()
      .map((id) => stage.trace(id))
      .find((t) => t?.settled && t.roots.some((r) => r.kind === "request" && r.path === "/intruder/echo/traced")),
  );
  const root = tree.roots[0]!;
  assert.is(root.kind, "request");
  if (root.kind !== "request") return;
  assert.is(root.invocation.traceId, "5759e988bd862e3fe1be46a994272793");
  assert.ok(root.spanId && root.spanId !== "53995c3f42cd8ad8", "API Gateway's span is its own");
  assert.is(root.invocation.parentSpanId, root.spanId);
});

test("an IAM route: a signed request's caller reaches the handler; an unsigned one passes, noted in the trace", async () => {
  const credentials = async () => ({ accessKeyId: "AKIAWHOAMI", secretAccessKey: "local" });
  const signed = await signedFetch(`${stage.url}/intruder/whoami`, {}, credentials);
  assert.is(signed.status, 200);
  const signedEvent = JSON.parse(await signed.text());
  assert.equal(signedEvent.requestContext.authorizer.iam, {
    accessKey: "AKIAWHOAMI",
    accountId: stage.wiring.accountId,
    callerId: "AKIAWHOAMI",
    cognitoIdentity: null,
    principalOrgId: null,
    userArn: `arn:aws:iam::${stage.wiring.accountId}:user/AKIAWHOAMI`,
    userId: "AKIAWHOAMI",
  });
  const unsigned = await fetch(`${stage.url}/intruder/whoami`);
  assert.is(unsigned.status, 200);
  assert.is(JSON.parse(await unsigned.text()).requestContext.authorizer, undefined);
  // The echo handler sets no correlation id: find the two requests' trees by their path.
  const texts = stage
    .traceIds()
    .map((id) => stage.trace(id))
    .filter((tree): tree is TraceTree => tree?.roots.some((r) => r.kind === "request" && r.path === "/intruder/whoami") === true)
    .map((tree) => renderTrace(tree));
  assert.is(texts.length, 2, texts.join("\n"));
  assert.is(texts.filter((t) => /GET \/intruder\/whoami → 200 .*\[unsigned: API Gateway answers 403 to this on an IAM route\]/.test(t)).length, 1, texts.join("\n"));
  assert.ok(stage.routes.some((r) => r.routeKey === "GET /intruder/whoami" && r.auth === "iam"));
});

test("a JWT route: no token is 401, a token without the route's scope 403, a good one reaches the handler with its claims", async () => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: "https://issuer.local.test", aud: "intruder-client", sub: "user-7", exp: now + 600, iat: now };
  const bearer = (extra: Record<string, unknown>) => `Bearer ${part({ alg: "RS256" })}.${part({ ...claims, ...extra })}.c2ln`;
  const call = async (authorization?: string) => {
    const response = await fetch(`${stage.url}/intruder/me`, authorization ? { headers: { authorization } } : {});
    return { status: response.status, json: JSON.parse(await response.text()) };
  };
  assert.equal(await call(), { status: 401, json: { message: "Unauthorized" } });
  assert.equal(await call(bearer({ aud: "someone-else", scope: "intruder/read" })), { status: 401, json: { message: "Unauthorized" } });
  assert.equal(await call(bearer({ scope: "intruder/write" })), { status: 403, json: { message: "Forbidden" } });
  const ok = await call(bearer({ scope: "intruder/read" }));
  assert.is(ok.status, 200);
  assert.equal(ok.json.requestContext.authorizer, {
    jwt: { claims: { ...claims, exp: String(claims.exp), iat: String(claims.iat), scope: "intruder/read" }, scopes: ["intruder/read"] },
  });
  // The shape of AWS's sample of a route with scopes: claims all strings, scopes a list.
  const sample = fixture<{ requestContext: { authorizer: unknown } }>("apigw-http-v2-full.json");
  assert.equal(shapeDiff(ok.json.requestContext.authorizer, sample.requestContext.authorizer, { maps: ["$.jwt.claims"] }), []);
  assert.ok(stage.routes.some((r) => r.routeKey === "GET /intruder/me" && r.auth === "jwt"));
});

// ---------------------------------------------------------------------------------------------------------------
// Admin: hand publish, dead-letter queues, traces

test("a hand publish is checked against the catalog", async () => {
  const unknown = await request("POST", "/_local/publish", { type: "orders.no-such-event", data: {} });
  assert.is(unknown.status, 400);
  assert.match(unknown.json.message, /not in the event catalog/);
  const invalid = await request("POST", "/_local/publish", { type: "billing.invoice-issued", data: { invoiceId: "i-1" } });
  assert.is(invalid.status, 400);
  assert.ok(invalid.json.issues.some((issue: { path: string }) => issue.path === "orderId"), JSON.stringify(invalid.json));
});

test("a hand publish is a CloudEvent from `local`, delivered in the SQS event shape of AWS's sample, and traced", async () => {
  const data = { invoiceId: "inv-hand-1", orderId: "o-1", customerId: "c-1", total: { amount: 5, currency: "EUR" } };
  const published = await request("POST", "/_local/publish", { type: "billing.invoice-issued", data, correlationId: "hand-publish-1" });
  assert.is(published.status, 202);
  assert.is(published.json.correlationId, "hand-publish-1");
  const line = await eventually("the intruder's consumer to log the event", () =>
    logs.find((entry) => entry.message.includes('"recordedEvent"') && entry.message.includes("inv-hand-1")),
  );
  const event = JSON.parse(line.message).recordedEvent;
  const record = event.Records[0];
  const envelope = JSON.parse(record.body);
  assert.is(envelope.source, "local");
  assert.is(envelope.type, "billing.invoice-issued");
  assert.is(envelope.specversion, "1.0");
  assert.is(envelope.correlationid, "hand-publish-1");
  assert.equal(envelope.data, data);
  assert.is(record.messageAttributes.type.stringValue, "billing.invoice-issued");
  // SNS carries the trace on (active tracing): the message's AWSTraceHeader names the delivery's span as Parent.
  const traceHeader = /^Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1$/.exec(record.attributes.AWSTraceHeader);
  assert.ok(traceHeader, `AWSTraceHeader: ${record.attributes.AWSTraceHeader}`);
  const untraced = structuredClone(event);
  delete untraced.Records[0].attributes.AWSTraceHeader;
  const diffs = shapeDiff(untraced, fixture("sqs-raw-full-attributes.json"), { maps: ["$.Records[].messageAttributes"] });
  assert.equal(diffs, []);

  const tree = await eventually("the trace to settle", () => {
    const t = stage.trace("hand-publish-1");
    return t?.settled && t.roots.length ? t : undefined;
  });
  const root = tree.roots[0]!;
  assert.is(root.kind, "publish");
  if (root.kind !== "publish") return;
  assert.is(root.publisher, "local");
  assert.is(root.eventType, "billing.invoice-issued");
  const delivery = root.deliveries.find((d) => d.queue === "local-intruder-record-invoice")!;
  assert.is(delivery.status, "done");
  assert.is(delivery.invocations[0]!.label, "intruder/record-invoice");
  assert.is(delivery.invocations[0]!.status, "ok");
  // One trace, each hop's span under its parent's: publish > delivery (SNS calling SQS) > invocation.
  assert.is(delivery.spanId, traceHeader![3]);
  assert.is(delivery.invocations[0]!.parentSpanId, delivery.spanId);
  assert.is(delivery.invocations[0]!.traceId, `${traceHeader![1]}${traceHeader![2]}`);
  const api = await request("GET", "/_local/trace/hand-publish-1");
  assert.is(api.status, 200);
  assert.match(api.json.text, /published by hand billing\.invoice-issued/);
  assert.match(api.json.text, /intruder\/record-invoice handled it/);
  const reported = await eventually("the settled tree to be reported", () => settled.find((t) => t.correlationId === "hand-publish-1"));
  assert.ok(reported.settled);
});

test("the admin API lists dead-letter queues and redrives their messages to the source queue", async () => {
  const dlq = "local-intruder-record-invoice-dlq";
  const source = "local-intruder-record-invoice";
  const list = await request("GET", "/_local/dlq");
  assert.is(list.status, 200);
  const names = list.json.deadLetterQueues.map((q: { name: string }) => q.name);
  assert.ok(names.includes(dlq) && names.includes("local-intruder-record-invoice-sub-dlq"), names.join(", "));

  // A message that failed maxReceiveCount times, as SQS leaves it in the dead-letter queue.
  const envelope = {
    specversion: "1.0",
    id: "dead-1",
    source: "billing",
    type: "billing.invoice-issued",
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    correlationid: "redrive-1",
    data: { invoiceId: "inv-dead-1", orderId: "o-2", customerId: "c-2", total: { amount: 1, currency: "EUR" } },
  };
  stage.sqs.sendMessage(dlq, { MessageBody: JSON.stringify(envelope), MessageAttributes: { type: { DataType: "String", StringValue: envelope.type } } });
  const depth = (await request("GET", "/_local/dlq")).json.deadLetterQueues.find((q: { name: string }) => q.name === dlq);
  assert.equal(depth, { name: dlq, arn: `arn:aws:sqs:us-east-1:123456789012:${dlq}`, depth: 1, source, kind: "queue" });
  const shown = await request("GET", `/_local/dlq/${dlq}`);
  assert.is(shown.json.messages.length, 1);
  assert.is(JSON.parse(shown.json.messages[0].body).id, "dead-1");

  const moved = await request("POST", `/_local/dlq/${dlq}/redrive`);
  assert.equal(moved.json, { moved: 1, to: source });
  assert.is(stage.deadLetterQueues().find((q) => q.name === dlq)!.depth, 0);
  // Back on the source queue, the consumer handles it again.
  await eventually("the redriven message to be handled", () => logs.find((entry) => entry.message.includes("inv-dead-1")));
  const tree = await eventually("its trace", () => (stage.trace("redrive-1")?.settled ? stage.trace("redrive-1") : undefined));
  assert.is(tree.roots[0]!.kind, "delivery");

  const missing = await request("POST", "/_local/dlq/no-such-queue/redrive");
  assert.is(missing.status, 404);
});

test("the admin API reports each part's health, and its index lists the operations of its route table", async () => {
  const health = await request("GET", "/_local/health");
  assert.is(health.status, 200);
  assert.equal(Object.keys(health.json.parts), ["dynamodb", "messaging", "kinesis", "relational", "workflows", "functions", "pollers", "streams", "gateway", "admin"]);
  for (const [name, part] of Object.entries(health.json.parts as Record<string, { status: string; detail?: string }>)) {
    assert.is(part.status, "ok", `${name}: ${part.detail}`);
  }
  assert.match(health.json.parts.functions.detail, new RegExp(`^${stage.hosts.size} functions`));
  const index = await request("GET", "/_local/");
  assert.is(index.json.operations["POST /_local/dlq/<name>/redrive"], "move a dead-letter queue's messages back to their source queue");
  assert.ok(index.json.operations["GET /_local/health"]);
  const unknown = await request("DELETE", "/_local/dlq");
  assert.is(unknown.status, 404);
  assert.is(unknown.json.see, stage.adminUrl);
});

// ---------------------------------------------------------------------------------------------------------------
// IAM

test("IAM refuses what the function's role does not grant, with AWS's errors, and the trace shows it", async () => {
  const topicArn = stage.sns.listTopics().find((t) => t.name === "local-orders-order-placed")!.arn;
  const othersQueue = stage.sqs.listQueues().find((q) => !q.name.startsWith("local-intruder-"))!;
  const answer = await request("POST", "/intruder/probe", { topicArn, queueUrl: othersQueue.url, table: "local-data" });
  assert.is(answer.status, 200);
  assert.equal(answer.json, {
    publishOthersEvent: "AuthorizationErrorException",
    sendToOthersQueue: "AccessDenied",
    writeOthersItem: "AccessDeniedException",
    writeOwnItem: "ok",
    scanTable: "AccessDeniedException",
  });
  const tree = await eventually("the probe's trace", () => (stage.trace("intruder-probe")?.settled ? stage.trace("intruder-probe") : undefined));
  const root = tree.roots[0]!;
  assert.is(root.kind, "request");
  if (root.kind !== "request") return;
  const invocation = root.invocation;
  assert.equal(
    invocation.denials.map((d) => d.action),
    ["sns:Publish", "sqs:SendMessage"],
  );
  assert.equal(
    invocation.writes.map((w) => [w.operation, w.allowed, w.keys.join()]),
    [
      ["PutItem", false, "$billing#stolen"],
      ["PutItem", true, "$intruder#mine"],
      ["Scan", false, ""],
    ],
  );
  assert.is(invocation.writes[1]!.result, "ok");
});

// ---------------------------------------------------------------------------------------------------------------
// Failures at start

test("a program that fails stops the start with an error that names it", async () => {
  try {
    await startLocalStage({ port: 0, serviceDirs: [BROKEN] });
    assert.unreachable("the start should fail");
  } catch (error) {
    assert.instance(error, ProgramError);
    assert.match((error as Error).message, /the broken program .* failed under the local stage: the broken fixture fails on purpose/);
  }
});

test("a program that fails while its resources' inputs resolve also stops the start with an error that names it", async () => {
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "fixtures", "start-stage.ts"), join(__dirname, "fixtures", "async-broken-service")], { cwd: REPO });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("close", (exitCode) => resolve({ code: exitCode, stdout: out }));
  });
  assert.is(code, 2, stdout);
  assert.match(stdout, /^failed ProgramError: the async-broken program .* failed under the local stage: .*the async-broken fixture fails while its inputs resolve/);
});

test("the CLI reports a taken port in one line and exits non-zero", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const { code, stderr, stdout } = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), "--port", String(port)], { cwd: REPO });
      let stderr = "";
      let stdout = "";
      child.stderr.on("data", (chunk) => (stderr += chunk));
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.on("close", (exitCode) => resolve({ code: exitCode, stderr, stdout }));
    });
    assert.is(code, 1);
    assert.is(stdout, "");
    assert.is(stderr.trim(), `local stage: port ${port} is in use: stop the other process or pass --port`);
  } finally {
    blocker.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Shape comparison: the same keys and value types as AWS's samples, recursively.

type Shape = "null" | "array" | "object" | "string" | "number" | "boolean" | "undefined";
const shapeOf = (v: unknown): Shape => (v === null ? "null" : Array.isArray(v) ? "array" : (typeof v as Shape));

/**
 * Where `actual` differs in shape from `expected`. `maps`: objects whose keys are data (compared by value type);
 * `absent`: sample keys allowed to be missing; `extra`: keys allowed that the sample lacks.
 */
function shapeDiff(actual: unknown, expected: unknown, rules: { maps?: string[]; absent?: string[]; extra?: string[] }, path = "$"): string[] {
  const a = shapeOf(actual);
  const e = shapeOf(expected);
  if (a !== e) return [`${path}: ${a} where the sample has ${e}`];
  const diffs: string[] = [];
  if (a === "array") {
    const first = (expected as unknown[])[0];
    if (first !== undefined) for (const item of actual as unknown[]) diffs.push(...shapeDiff(item, first, rules, `${path}[]`));
  } else if (a === "object") {
    const act = actual as Record<string, unknown>;
    const exp = expected as Record<string, unknown>;
    if (rules.maps?.includes(path)) {
      const types = new Set(Object.values(exp).map(shapeOf));
      for (const [key, value] of Object.entries(act)) {
        if (types.size && !types.has(shapeOf(value))) diffs.push(`${path}.${key}: ${shapeOf(value)} not among ${[...types].join("/")}`);
        else if (shapeOf(value) === "object") {
          // Compare with the sample entry of the same data type (String, Number, Binary), else the first one.
          const sameType = Object.values(exp).find((v) => (v as { dataType?: unknown } | null)?.dataType === (value as { dataType?: unknown }).dataType);
          const sample = sameType ?? Object.values(exp)[0];
          if (sample !== undefined) diffs.push(...shapeDiff(value, sample, rules, `${path}.*`));
        }
      }
      return diffs;
    }
    for (const key of Object.keys(exp)) {
      if (!(key in act)) {
        if (!rules.absent?.includes(`${path}.${key}`)) diffs.push(`${path}.${key}: missing (the sample has it)`);
      } else diffs.push(...shapeDiff(act[key], exp[key], rules, `${path}.${key}`));
    }
    for (const key of Object.keys(act)) if (!(key in exp) && !rules.extra?.includes(`${path}.${key}`)) diffs.push(`${path}.${key}: not in the sample`);
  }
  return diffs;
}

test.run();
