import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSnsEndpoint, startEndpointServer, type AuthorizationRequest, type SnsCall, type SnsPublishInput } from "../endpoints";
import { formatLogEntry, FunctionHost, type FunctionLogEntry, type InvocationResult, type LocalFunctionDefinition } from "../lambda";

const ENTRY = join(__dirname, "fixtures", "function-host-handler.ts");
const hosts: FunctionHost[] = [];

function host(definition: Partial<LocalFunctionDefinition> & { name: string }, options: ConstructorParameters<typeof FunctionHost>[1] = {}): FunctionHost {
  const created = new FunctionHost({ entry: ENTRY, ...definition }, { region: "eu-west-1", onLog: () => undefined, ...options });
  hosts.push(created);
  return created;
}

function ok(result: InvocationResult): unknown {
  if (!result.ok) throw new assert.Assertion({ message: `invocation failed: ${result.error.errorType}: ${result.error.errorMessage}`, operator: "ok", actual: result, expects: "ok" });
  return result.payload;
}

function failed(result: InvocationResult): Extract<InvocationResult, { ok: false }> {
  if (result.ok) throw new assert.Assertion({ message: "expected the invocation to fail", operator: "ok", actual: result, expects: "failure" });
  return result;
}

test.after.each(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

test("two functions run at once, each worker with its own environment and Lambda's variables", async () => {
  process.env.ONLY_IN_THE_PARENT = "secret";
  const keys = [
    "GREETING",
    "ONLY_IN_THE_PARENT",
    "AWS_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_SNS",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "_X_AMZN_TRACE_ID",
  ];
  const endpoints = { sns: "http://127.0.0.1:1111", sqs: "http://127.0.0.1:2222", dynamodb: "http://127.0.0.1:3333" };
  const orders = host({ name: "local-orders-place-order", memory: 256, environment: { GREETING: "hello from orders" } }, { endpoints });
  const billing = host({ name: "local-billing-issue-invoice", environment: { GREETING: "hello from billing" } }, { endpoints });
  const trace = "Root=1-65f0c0de-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1";
  const [a, b] = await Promise.all([
    orders.invoke({ action: "env", keys }, { requestId: "req-orders", traceHeader: trace }),
    billing.invoke({ action: "env", keys }),
  ]);
  const fromOrders = ok(a) as { env: Record<string, string | null>; context: Record<string, unknown> };
  const fromBilling = ok(b) as { env: Record<string, string | null>; context: Record<string, unknown> };
  assert.equal(fromOrders.env, {
    GREETING: "hello from orders",
    ONLY_IN_THE_PARENT: null,
    AWS_REGION: "eu-west-1",
    AWS_LAMBDA_FUNCTION_NAME: "local-orders-place-order",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
    AWS_ACCESS_KEY_ID: "local-orders-place-order",
    AWS_SECRET_ACCESS_KEY: fromOrders.env.AWS_SECRET_ACCESS_KEY ?? "missing",
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    _X_AMZN_TRACE_ID: trace,
  });
  assert.ok(fromOrders.env.AWS_SECRET_ACCESS_KEY);
  assert.is(fromBilling.env.GREETING, "hello from billing");
  assert.is(fromBilling.env.AWS_ACCESS_KEY_ID, "local-billing-issue-invoice");
  assert.is(fromBilling.env._X_AMZN_TRACE_ID, b.traceHeader);
  assert.match(b.traceHeader, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
  assert.is(process.env.GREETING, undefined);
  assert.is(process.env.AWS_LAMBDA_FUNCTION_NAME, undefined);
  assert.equal(
    { ...fromOrders.context, remaining: undefined },
    {
      functionName: "local-orders-place-order",
      awsRequestId: "req-orders",
      invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:local-orders-place-order",
      memoryLimitInMB: "256",
      logGroupName: "/aws/lambda/local-orders-place-order",
      remaining: undefined,
    },
  );
  const remaining = fromOrders.context.remaining as number;
  assert.ok(remaining > 2_000 && remaining <= 3_000, `remaining ${remaining}`);
  delete process.env.ONLY_IN_THE_PARENT;
});

test("a warm worker is reused: module state survives and only the first invocation is a cold start", async () => {
  const fn = host({ name: "local-test-warm" });
  const first = await fn.invoke({ action: "count" });
  const second = await fn.invoke({ action: "count" });
  assert.equal([ok(first), first.coldStart, typeof first.initDurationMs], [1, true, "number"]);
  assert.equal([ok(second), second.coldStart, second.initDurationMs], [2, false, undefined]);
  assert.equal(fn.stats(), { workers: 1, busy: 0, queued: 0, coldStarts: 1, prewarmed: 0 });
});

test("an event handed over already encoded (eventJson) reaches the handler as it is, without being encoded again", async () => {
  const fn = host({ name: "local-test-event-json" });
  const encoded = `{"action":"echo","value":{"text":"h\u00e9llo ✓","list":[1,null,{"a":"b"}]}}`;
  // Encoding this event would throw: the host must send eventJson instead.
  const event = { toJSON: () => { throw new Error("the event was encoded again"); } };
  assert.equal(ok(await fn.invoke(event, { eventJson: encoded })), JSON.parse(encoded));
  // Without it, the host encodes the event itself.
  assert.equal(ok(await fn.invoke({ action: "echo", value: [1, "é"] })), { action: "echo", value: [1, "é"] });
});

test("an invocation past its timeout fails as Lambda's does, and the next one gets a fresh worker", async () => {
  const fn = host({ name: "local-test-timeout", timeout: 1 });
  await fn.invoke({ action: "count" });
  const started = Date.now();
  const result = failed(await fn.invoke({ action: "sleep", ms: 5_000 }, { requestId: "req-slow" }));
  const elapsed = Date.now() - started;
  // Stopped at its timeout, not at the end of its 5 s sleep (a loaded machine answers late: no tighter bound).
  assert.ok(elapsed >= 990 && elapsed < 5_000, `took ${elapsed} ms`);
  assert.equal(result.error, { errorType: "Sandbox.Timedout", errorMessage: "RequestId: req-slow Error: Task timed out after 1.00 seconds", trace: [] });
  const next = await fn.invoke({ action: "count" });
  assert.is(ok(next), 1, "module state starts over in the new worker");
  assert.ok(next.coldStart);
});

test("with concurrency 1 a second invocation waits for the first", async () => {
  const fn = host({ name: "local-test-serial", reservedConcurrency: 1 });
  assert.is(fn.concurrency, 1);
  const first = fn.invoke({ action: "sleep", ms: 300 });
  const second = fn.invoke({ action: "sleep", ms: 10 });
  while (fn.stats().busy === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.is(fn.stats().queued, 1);
  const [a, b] = (await Promise.all([first, second])).map((r) => ok(r) as { startedAt: number; endedAt: number });
  assert.ok(b!.startedAt >= a!.endedAt, `second started at ${b!.startedAt}, first ended at ${a!.endedAt}`);
  assert.is(fn.stats().coldStarts, 1);
});

test("without a limit, invocations run side by side in separate workers", async () => {
  const fn = host({ name: "local-test-parallel" }, { maxConcurrency: 2 });
  const [a, b] = (await Promise.all([fn.invoke({ action: "sleep", ms: 300 }), fn.invoke({ action: "sleep", ms: 300 })])).map(
    (r) => ok(r) as { startedAt: number; endedAt: number },
  );
  assert.ok(b!.startedAt < a!.endedAt && a!.startedAt < b!.endedAt, "the two overlapped");
  assert.is(fn.stats().workers, 2);
});

test("a thrown error comes back as { errorType, errorMessage, trace } and the worker stays warm", async () => {
  const fn = host({ name: "local-test-throw" });
  const result = failed(await fn.invoke({ action: "throw", message: "quantity must be positive" }));
  assert.is(result.error.errorType, "TypeError");
  assert.is(result.error.errorMessage, "quantity must be positive");
  assert.is(result.error.trace[0], "TypeError: quantity must be positive");
  assert.ok(result.error.trace.length > 1);
  const next = await fn.invoke({ action: "count" });
  assert.equal([ok(next), next.coldStart], [2, false]);
});

test("an unhandled rejection fails the invocation and resets the environment", async () => {
  const fn = host({ name: "local-test-rejection" });
  const result = failed(await fn.invoke({ action: "reject-later" }));
  assert.is(result.error.errorType, "Runtime.UnhandledPromiseRejection");
  assert.is(result.error.errorMessage, "RangeError: nobody awaited me");
  const next = await fn.invoke({ action: "count" });
  assert.ok(next.coldStart);
});

test("a missing handler export is reported as Runtime.HandlerNotFound", async () => {
  const fn = host({ name: "local-test-no-export", exportName: "main" });
  const result = failed(await fn.invoke({ action: "count" }));
  assert.equal(result.error, { errorType: "Runtime.HandlerNotFound", errorMessage: "index.main is undefined or not exported", trace: result.error.trace });
});

test("console output and direct writes reach the log listener, tagged with the request id", async () => {
  const lines: FunctionLogEntry[] = [];
  const fn = host({ name: "local-test-logs" }, { onLog: (entry) => lines.push(entry) });
  await fn.invoke({ action: "log", text: "order placed" }, { requestId: "req-log" });
  assert.equal(
    lines.map(({ functionName, requestId, level, stream, message }) => ({ functionName, requestId, level, stream, message })),
    [
      { functionName: "local-test-logs", requestId: "req-log", level: "INFO", stream: "stdout", message: "console says order placed" },
      { functionName: "local-test-logs", requestId: "req-log", level: "WARN", stream: "stderr", message: "careful" },
      { functionName: "local-test-logs", requestId: "req-log", level: undefined, stream: "stdout", message: `{"level":"INFO","message":"order placed"}` },
    ],
  );
  const [consoleLine, , rawLine] = lines;
  assert.equal(JSON.parse(formatLogEntry(consoleLine!, "JSON")), { timestamp: consoleLine!.timestamp, level: "INFO", requestId: "req-log", message: "console says order placed" });
  assert.is(formatLogEntry(rawLine!), `{"level":"INFO","message":"order placed"}`);
});

/** Every message the host receives from its workers, in order, until `restore()`. */
async function captureWorkerMessages(): Promise<{ received: unknown[]; restore: () => void }> {
  const { Worker } = await import("node:worker_threads");
  const received: unknown[] = [];
  const emit = Worker.prototype.emit;
  Worker.prototype.emit = function (this: InstanceType<typeof Worker>, name: string | symbol, ...args: unknown[]) {
    if (name === "message") received.push(args[0]);
    return emit.call(this, name, ...args);
  } as typeof emit;
  return { received, restore: () => (Worker.prototype.emit = emit) };
}

test("an invocation's log lines and its result cross from the worker in one message, lines first", async () => {
  const { received, restore } = await captureWorkerMessages();
  try {
    const lines: string[] = [];
    const fn = host({ name: "local-test-log-batch" }, { onLog: (entry) => lines.push(entry.message) });
    ok(await fn.invoke({ action: "count" })); // the cold start's messages
    received.length = 0;
    assert.is(ok(await fn.invoke({ action: "log", text: "batched" }, { requestId: "req-batch" })), "logged");
    assert.equal(lines, ["console says batched", "careful", `{"level":"INFO","message":"batched"}`]);
    assert.is(received.length, 1);
    const batch = received[0] as { type: string; messages: { type: string; message?: string }[] };
    assert.is(batch.type, "batch");
    assert.equal(
      batch.messages.map((m) => m.type),
      ["log", "log", "log", "result"],
    );
  } finally {
    restore();
  }
});

test("lines logged before a quick wait on I/O cross with the result: one message per invocation", async () => {
  const { createServer } = await import("node:http");
  // Answers at once, as the local endpoints answer an SDK call: the handler logs, waits on the call, then returns.
  const server = createServer((_req, res) => res.end("answered at once"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { received, restore } = await captureWorkerMessages();
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const lines: string[] = [];
    const fn = host({ name: "local-test-log-quick-wait" }, { onLog: (entry) => lines.push(entry.message) });
    assert.is(ok(await fn.invoke({ action: "log-then-fetch", text: "warming", url })), "answered at once"); // cold start, JIT
    // A call slower than the flush delay (a loaded machine) sends its line early, as it should: a few tries, and one
    // quick one must cross in one message (the worker used to send the line on its own each time it first waited).
    for (let attempt = 0; attempt < 5; attempt++) {
      received.length = 0;
      lines.length = 0;
      assert.is(ok(await fn.invoke({ action: "log-then-fetch", text: "before the call", url })), "answered at once");
      assert.equal(lines, ["before the call"]);
      if (received.length === 1) break;
    }
    assert.is(received.length, 1);
    const batch = received[0] as { type: string; messages: { type: string }[] };
    assert.is(batch.type, "batch");
    assert.equal(
      batch.messages.map((m) => m.type),
      ["log", "result"],
    );
  } finally {
    restore();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a log line reaches the host while the handler still waits (not held back until its result)", async () => {
  const { createServer } = await import("node:http");
  const lines: string[] = [];
  let seen!: () => void;
  const lineSeen = new Promise<void>((resolve) => (seen = resolve));
  // Answers only once the host has the line: if the line waited for the result, the invocation would time out.
  const server = createServer((_req, res) => void lineSeen.then(() => res.end("answered after the line")));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const fn = host(
      // If the line waited for the result, the invocation would time out; 20 s leaves a loaded machine room.
      { name: "local-test-log-early", timeout: 20 },
      {
        onLog: (entry) => {
          lines.push(entry.message);
          if (entry.message === "waiting for the answer") seen();
        },
      },
    );
    assert.is(ok(await fn.invoke({ action: "log-then-fetch", text: "waiting for the answer", url })), "answered after the line");
    assert.equal(lines, ["waiting for the answer"]);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("the JSON log format drops console calls below the application log level", async () => {
  const lines: FunctionLogEntry[] = [];
  const fn = host({ name: "local-test-log-level", logFormat: "JSON", applicationLogLevel: "WARN" }, { onLog: (entry) => lines.push(entry) });
  await fn.invoke({ action: "log", text: "quiet" });
  assert.equal(lines.map((line) => line.level), ["WARN", undefined]);
});

test("the handler's own SDK client reaches the local SNS endpoint, signed with the function's identity", async () => {
  const published: Array<{ request: SnsPublishInput; call: SnsCall }> = [];
  const decisions: AuthorizationRequest[] = [];
  const allowedTopic = "arn:aws:sns:eu-west-1:123456789012:local-orders-order-placed";
  const server = await startEndpointServer({
    services: [
      createSnsEndpoint({
        backend: { publish: async (request, call) => (published.push({ request, call }), { MessageId: "m-77" }) },
        authorize: (request) => (decisions.push(request), request.resource === allowedTopic),
      }),
    ],
  });
  try {
    const fn = host({ name: "local-orders-place-order" }, { endpoints: { sns: server.url } });
    const result = await fn.invoke({ action: "publish", topicArn: allowedTopic, message: `{"orderId":"o-1"}` });
    assert.equal(ok(result), { messageId: "m-77" });
    assert.is(published.length, 1);
    assert.equal(published[0]!.request.MessageAttributes, { type: { DataType: "String", StringValue: "test.published" } });
    const call = published[0]!.call;
    assert.is(call.context.principal, "local-orders-place-order");
    assert.is(call.region, "eu-west-1");
    assert.is(call.context.traceHeader, result.traceHeader, "the SDK forwards the invocation's _X_AMZN_TRACE_ID");
    // The call is a span of its own under the invocation's: the header's Parent, in the same trace.
    const sent = /^Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1$/.exec(result.traceHeader)!;
    assert.is(call.context.parentSpanId, sent[3]);
    assert.is(call.context.traceId, `${sent[1]}${sent[2]}`);
    assert.is.not(call.context.spanId, sent[3]);

    const denied = await fn.invoke({ action: "publish", topicArn: "arn:aws:sns:eu-west-1:123456789012:local-billing-invoice-issued", message: "{}" });
    const answer = ok(denied) as { errorName: string; errorMessage: string };
    assert.is(answer.errorName, "AuthorizationErrorException");
    assert.match(answer.errorMessage, "local-orders-place-order is not authorized to perform: sns:Publish on resource: arn:aws:sns:eu-west-1:123456789012:local-billing-invoice-issued");
    assert.equal(
      decisions.map((d) => d.principal),
      ["local-orders-place-order", "local-orders-place-order"],
    );
  } finally {
    await server.close();
  }
});

test("bundles are cached by content: a second host of the same function reuses the build", async () => {
  const first = await host({ name: "local-test-cache" }).prepare();
  const second = await host({ name: "local-test-cache" }).prepare();
  assert.ok(second.cached);
  assert.is(second.file, first.file);
  assert.match(second.file, /\.build\/functions\/[0-9a-f]{16}\/index\.mjs$/, "the deploy's build folder: one per content");
  assert.is(second.hash, first.hash);
  assert.is(second.format, "esm");
});

test("stop() ends running invocations and refuses new ones", async () => {
  const fn = host({ name: "local-test-stop", timeout: 30 });
  const running = fn.invoke({ action: "sleep", ms: 10_000 });
  while (fn.stats().busy === 0 || fn.stats().workers === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await fn.stop();
  const result = failed(await running);
  assert.is(result.error.errorType, "Runtime.ExitError");
  let refused: unknown;
  await fn.invoke({ action: "count" }).catch((error: unknown) => (refused = error));
  assert.instance(refused, Error);
});

test.run();
