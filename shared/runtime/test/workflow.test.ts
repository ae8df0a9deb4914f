import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV, WORKFLOW_INPUT_KEY } from "../../contract";
import { consume } from "../consume";
import { ConfigurationError } from "../errors";
import { currentScope, runInScope } from "../invocation-scope";
import { parseTraceparent } from "../trace-context";
import { executionArnOf, resetWorkflowClient, startWorkflow } from "../workflow";
import { workflowStep } from "../workflow-step";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { httpHandler, route } from "../http";
import { cloudEvent, httpRequest, lambdaContext, orderPlaced, sqsEvent, sqsRecord } from "./helpers/events";
import { SfnStub } from "./helpers/sfn-server";

const MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:test-orders-fulfil";

const stub = new SfnStub();

test.before(async () => {
  useLocalAwsEnvironment();
  await stub.start();
  process.env.AWS_ENDPOINT_URL_SFN = stub.url;
});
test.after(async () => {
  resetWorkflowClient();
  delete process.env.AWS_ENDPOINT_URL_SFN;
  delete process.env[ENV.workflows];
  await stub.close();
});
test.before.each(() => {
  stub.requests.length = 0;
  stub.executions.clear();
  setFunctionEnvironment({ service: "orders" });
  process.env[ENV.workflows] = JSON.stringify({ fulfil: MACHINE });
  resetWorkflowClient();
});

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function consumerScope(eventId: string) {
  return { correlationId: "corr-7", traceparent: TRACEPARENT, eventId, eventType: "orders.order-placed", sequence: new Map<string, number>() };
}

test("startWorkflow sends StartExecution (JSON 1.0, signed) with the ARN from the environment and the starter's context in the input", async () => {
  const started = await startWorkflow("fulfil", { orderId: "o-1" });
  assert.equal(stub.requests.length, 1);
  const [request] = stub.requests;
  assert.is(request!.target, "AWSStepFunctions.StartExecution");
  assert.is(request!.contentType, "application/x-amz-json-1.0");
  assert.match(String(request!.authorization), /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/eu-west-1\/states\/aws4_request/);
  assert.is(request!.body.stateMachineArn, MACHINE);
  assert.match(request!.body.name, /^[0-9a-f-]{36}$/, "outside a consumer: a new UUID");
  const input = JSON.parse(request!.body.input);
  assert.is(input.orderId, "o-1");
  assert.is(input[WORKFLOW_INPUT_KEY].causationType, "direct");
  assert.is(input[WORKFLOW_INPUT_KEY].causationId, request!.body.name);
  assert.ok(parseTraceparent(input[WORKFLOW_INPUT_KEY].traceparent));
  assert.equal(started, { executionArn: executionArnOf(MACHINE, request!.body.name), executionName: request!.body.name, started: true });
});

test("in a consumer the execution is named after the event, continues its correlation and trace, and a repeat sends the same input", async () => {
  const first = await runInScope(consumerScope("event-42"), () => startWorkflow("fulfil", { orderId: "o-2" }));
  const again = await runInScope(consumerScope("event-42"), () => startWorkflow("fulfil", { orderId: "o-2" }));
  assert.is(first.started, true);
  assert.is(again.started, true, "still running: Step Functions answers the first start");
  const [a, b] = stub.requests;
  assert.is(a!.body.name, "event-42");
  assert.is(a!.body.input, b!.body.input, "deterministic input: a redelivery is the same execution");
  const start = JSON.parse(a!.body.input)[WORKFLOW_INPUT_KEY];
  assert.equal({ ...start, traceparent: undefined }, { correlationId: "corr-7", causationId: "event-42", causationType: "orders.order-placed", traceparent: undefined });
  const trace = parseTraceparent(start.traceparent)!;
  assert.is(trace.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.is.not(trace.parentId, "00f067aa0ba902b7", "a span of its own");
});

test("a redelivery after the execution closed gets ExecutionAlreadyExists: nothing new starts, and it is not an error", async () => {
  await runInScope(consumerScope("event-43"), () => startWorkflow("fulfil", { orderId: "o-3" }));
  stub.closeAll();
  const again = await runInScope(consumerScope("event-43"), () => startWorkflow("fulfil", { orderId: "o-3" }));
  assert.equal(again, { executionArn: executionArnOf(MACHINE, "event-43"), executionName: "event-43", started: false });
  assert.is(stub.requests.length, 2);
});

test("a consumer whose event is delivered twice starts one execution", async () => {
  process.env[ENV.idempotencyTable] = "";
  const handler = consume({ "orders.order-placed": async (event) => void (await startWorkflow("fulfil", { orderId: event.data.orderId })) }, { idempotency: false });
  const body = JSON.stringify(cloudEvent("orders.order-placed", orderPlaced({ orderId: "o-9" })));
  const first = await handler(sqsEvent(sqsRecord(body)), lambdaContext());
  stub.closeAll();
  const second = await handler(sqsEvent(sqsRecord(body, { attributes: { ApproximateReceiveCount: "2" } })), lambdaContext());
  assert.equal(first.batchItemFailures, []);
  assert.equal(second.batchItemFailures, [], "the redelivery is acknowledged");
  assert.is(stub.executions.size, 1);
  assert.is(stub.requests[0]!.body.name, JSON.parse(body).id);
});

test("from an HTTP route: the request's correlation id, causation 'http', a new execution name per request", async () => {
  const handler = httpHandler({
    "POST /fulfilments": route({
      idempotency: "off",
      handler: async () => {
        const started = await startWorkflow("fulfil", { orderId: "o-http" });
        return { status: 202, body: { executionArn: started.executionArn } };
      },
    }),
  });
  const response = (await handler(httpRequest("POST", "/fulfilments", { headers: { "x-correlation-id": "corr-http" } }), lambdaContext())) as { statusCode: number; body: string };
  assert.is(response.statusCode, 202, JSON.stringify(response));
  const [request] = stub.requests;
  const start = JSON.parse(request!.body.input)[WORKFLOW_INPUT_KEY];
  assert.equal({ correlationId: start.correlationId, causationType: start.causationType, causationId: start.causationId }, { correlationId: "corr-http", causationType: "http", causationId: request!.body.name });
  assert.is(JSON.parse(response.body).executionArn, executionArnOf(MACHINE, request!.body.name));
});

test("errors name what to fix: an unknown workflow, an input startWorkflow cannot carry, a bad execution name", async () => {
  const rejection = async (promise: Promise<unknown>): Promise<Error> => {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error("expected a rejection");
  };
  const unknown = await rejection(startWorkflow("ship", {}));
  assert.instance(unknown, ConfigurationError);
  assert.match(unknown.message, /no state machine for workflow "ship" in PLATFORM_WORKFLOWS \(fulfil\): list it in this function's starts/);
  assert.match((await rejection(startWorkflow("fulfil", { [WORKFLOW_INPUT_KEY]: {} }))).message, /may not have "_workflow"/);
  assert.match((await rejection(startWorkflow("fulfil", [] as never))).message, /must be a JSON object/);
  assert.match((await rejection(startWorkflow("fulfil", {}, { executionName: "has space" }))).message, /"has space" is not a valid execution name/);
  assert.match((await rejection(startWorkflow("fulfil", { blob: "x".repeat(262_144) }))).message, /is 26\d{4} bytes; Step Functions accepts at most 262144/);
  process.env[ENV.workflows] = JSON.stringify({ fulfil: "arn:aws:sns:eu-west-1:123456789012:topic" });
  assert.match((await rejection(startWorkflow("fulfil", {}))).message, /PLATFORM_WORKFLOWS: the state machine of "fulfil" is not a state machine ARN/);
  assert.is(stub.requests.length, 0);
});

test("a workflow step gets its input without _workflow and runs in the starter's correlation, trace and causation", async () => {
  const seen: unknown[] = [];
  const handler = workflowStep(async (input: { orderId: string }) => {
    const scope = currentScope()!;
    seen.push(input, { correlationId: scope.correlationId, eventId: scope.eventId, eventType: scope.eventType, traceId: parseTraceparent(scope.traceparent)?.traceId });
    return { reserved: input.orderId };
  });
  const start = { correlationId: "corr-9", traceparent: TRACEPARENT, causationId: "event-9", causationType: "orders.order-placed" };
  const result = await handler({ orderId: "o-9", [WORKFLOW_INPUT_KEY]: start });
  assert.equal(result, { reserved: "o-9" });
  assert.equal(seen, [{ orderId: "o-9" }, { correlationId: "corr-9", eventId: "event-9", eventType: "orders.order-placed", traceId: "4bf92f3577b34da6a3ce929d0e0e4736" }]);
  // Started without startWorkflow (no _workflow): a new correlation of its own.
  seen.length = 0;
  await handler({ orderId: "o-10" } as never);
  assert.equal((seen[1] as { eventId?: string }).eventId, undefined);
  assert.match(String((seen[1] as { correlationId: string }).correlationId), /^[0-9a-f-]{36}$/);
});

test.run();
