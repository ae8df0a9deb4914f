// The orchestrated path through the local stage with the example service fulfilment: orders.order-placed (published
// by hand) -> fulfilment's on-order-placed starts the fulfil-order saga (StartExecution through the stage's Step
// Functions endpoint, named after the event) -> reserve-stock and charge-payment in parallel (the same bundles, in
// the function hosts) -> fulfilment.order-fulfilled published by the state machine (sns:publish, as its role). Then
// the compensation path, a crashed task its Retry absorbs, a starter crash whose redelivered event starts nothing
// twice, the SDK's view, IAM, the admin API and the trace; and a definition the interpreter cannot run exactly.
import { join } from "node:path";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { PlatformOutputs } from "../../contract";
import { eventually } from "../../testing/stage-target";
import { formatExecutionDetail } from "../cli";
import { functionAccessKeyId } from "../lambda/function-host";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";
import type { StageWiring } from "../stage/wiring";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const FULFILMENT = join(REPO, "services", "fulfilment");
const STARTER = "local-fulfilment-on-order-placed";
let stage: LocalStage;
let dynamo: DynamoDBClient;
let sfn: SFNClient;
let platform: PlatformOutputs;
let audit: { fulfilled: string; failures: string };

/**
 * The starter's queue and function get shorter timeouts, so a crashed start is redelivered within a test's wait. Not
 * 3 s / 4 s: on a loaded machine (CI runs test files side by side on 2 cores) a start can take longer, and a start
 * that times out before its StartExecution is not the crash the test makes (the redelivery comes on receive 3). 20 s
 * is out of reach (a consumer's slowest invocation in the loaded fault run: 12.9 s); the visibility stays above it.
 */
function quickRedelivery(wiring: StageWiring): StageWiring {
  return {
    ...wiring,
    queues: wiring.queues.map((q) => (q.name === STARTER ? { ...q, visibilityTimeoutSeconds: 21 } : q)),
    functions: wiring.functions.map((f) => (f.name === STARTER ? { ...f, timeoutSeconds: 20 } : f)),
  };
}

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: [FULFILMENT], shortWaits: 5, adjustWiring: quickRedelivery });
  platform = stage.programs[0]!.outputs as unknown as PlatformOutputs;
  dynamo = new DynamoDBClient({ region: "us-east-1", endpoint: stage.endpoints.dynalite, credentials: { accessKeyId: "workflow-test", secretAccessKey: "k" } });
  sfn = new SFNClient({ region: stage.wiring.region, endpoint: stage.endpoints.sfn, credentials: { accessKeyId: "workflow-test", secretAccessKey: "k" } });
  // Queues of our own on the follow-up's topic and the failure topic: what the saga published.
  const subscribe = (name: string, topicArn: string) => {
    const queue = stage.sqs.createQueue(`workflow-audit-${name}`, {});
    stage.sns.subscribe({ TopicArn: topicArn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } });
    return queue.arn;
  };
  audit = { fulfilled: subscribe("fulfilled", platform.eventTopics["fulfilment.order-fulfilled"].arn), failures: subscribe("failures", platform.failureTopic.arn) };
});

test.after(async () => {
  dynamo?.destroy();
  sfn?.destroy();
  await stage?.stop();
});

async function items(prefix: string): Promise<Record<string, any>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: platform.dataTable.name, ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out.map((item) => unmarshall(item)).filter((item) => String(item.pk).startsWith(prefix));
}

const envelopes = (queueArn: string) => stage.sqs.peek(queueArn).map((m) => JSON.parse(m.body) as { id: string; type: string; data: Record<string, unknown>; correlationid: string; causationid?: string });

let ordinal = 0;
function order(amount: number) {
  ordinal++;
  return { orderId: `wf-order-${ordinal}-${Date.now()}`, customerId: `wf-customer-${ordinal}`, items: [{ sku: "sku-1", quantity: 2 }], total: { amount, currency: "EUR" } };
}

/**
 * The trace once its execution closed and the starter's invocation ended. (It does not settle: our audit queues keep
 * the follow-ups, waiting for a consumer.)
 */
function closedTrace(correlationId: string) {
  return eventually("the trace with the execution closed", () => {
    const t = stage.trace(correlationId);
    const text = t ? renderTrace(t) : "";
    return /started workflow \S+ execution \S+: (succeeded|failed)/.test(text) && !/ is running/.test(text) && !/ running\b/.test(text) ? t : undefined;
  });
}

/** Publishes an order by hand and waits for the execution it starts (named after the event) to close. */
async function runSaga(amount: number) {
  const data = order(amount);
  const sent = stage.publish("orders.order-placed", data);
  const execution = await eventually("the saga's execution to close", () => {
    const found = stage.workflows.executions().find((e) => e.name === sent.eventId);
    return found && found.status !== "RUNNING" ? found : undefined;
  });
  const tree = await closedTrace(sent.correlationId);
  return { data, sent, execution, tree };
}

test("the workflows part runs the program's state machine, and functions get its endpoint", () => {
  const health = stage.health();
  assert.is(health.workflows?.status, "ok", health.workflows?.detail);
  assert.match(health.workflows!.detail!, /1 state machines/);
  const machine = stage.workflows.stateMachines()[0]!;
  assert.is(machine.name, "local-fulfilment-fulfil-order");
  assert.is(machine.arn, `arn:aws:states:${stage.wiring.region}:${stage.wiring.accountId}:stateMachine:local-fulfilment-fulfil-order`);
  assert.is(stage.wiring.stateMachines![0]!.origin.project, "fulfilment");
  assert.ok(stage.wiring.stateMachines![0]!.policies.length > 0, "the role's policies were found");
  assert.is(stage.endpoints.sfn.startsWith("http://127.0.0.1:"), true);
});

test("success: the event starts the saga, both branches run, fulfilment.order-fulfilled goes out in publish()'s envelope; the trace shows it", async () => {
  const { data, sent, execution, tree } = await runSaga(42.5);
  assert.is(execution.status, "SUCCEEDED", `${execution.error}: ${execution.cause}`);
  assert.is(execution.startedBy, STARTER);
  const input = JSON.parse(execution.input);
  assert.equal({ orderId: input.orderId, total: input.total }, { orderId: data.orderId, total: data.total });
  assert.is(input._workflow.correlationId, sent.correlationId);
  const fulfilled = await eventually("order-fulfilled", () => envelopes(audit.fulfilled).find((e) => e.data.orderId === data.orderId));
  assert.is(fulfilled.type, "fulfilment.order-fulfilled");
  assert.is(fulfilled.correlationid, sent.correlationId, "the follow-up carries the starter's correlation id");
  assert.is(fulfilled.data.customerId, data.customerId);
  const reservation = (await items("$fulfilment#reservationid_")).find((i) => i.details?.orderId === data.orderId);
  const payment = (await items("$fulfilment#paymentid_")).find((i) => i.details?.orderId === data.orderId);
  assert.is(reservation?.status, "reserved");
  assert.is(payment?.status, "charged");
  assert.is(fulfilled.data.reservationId, reservation!.reservationId);
  assert.is(fulfilled.data.paymentId, payment!.paymentId);

  // The trace: the execution under the invocation that started it, each state with its duration and its task's work.
  const text = renderTrace(tree);
  assert.match(text, /fulfilment\/on-order-placed handled it/);
  assert.match(text, /started workflow local-fulfilment-fulfil-order execution [0-9a-f]{8}…: succeeded in \d/);
  assert.match(text, /state Prepare \(Parallel\) in \d/);
  assert.match(text, /state ReserveStock \(Task\) in [\d.]+ ms\n.*fulfilment\/reserve-stock handled it/);
  assert.match(text, /state Fulfilled \(Task\) in [\d.]+ ms\n.*published fulfilment\.order-fulfilled/);
  const starter = tree.roots[0]!.kind === "publish" ? tree.roots[0]!.deliveries[0]!.invocations[0]! : undefined;
  const node = starter?.executions?.[0];
  assert.ok(node, "the execution hangs under the starting invocation");
  assert.is(node!.parentSpanId !== undefined, true);
  assert.equal(node!.states.map((s) => s.name).sort(), ["ChargePayment", "Fulfilled", "Prepare", "ReserveStock"]);
  assert.is(node!.states.find((s) => s.name === "ReserveStock")!.invocations[0]!.trigger, "workflow");

  // The unmodified SDK client sees the same execution and its history.
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
  assert.is(described.status, "SUCCEEDED");
  const history = (await sfn.send(new GetExecutionHistoryCommand({ executionArn: execution.executionArn }))).events!.map((e) => e.type);
  for (const type of ["ExecutionStarted", "ParallelStateEntered", "LambdaFunctionSucceeded", "TaskSucceeded", "ExecutionSucceeded"]) assert.ok(history.includes(type as never), `${type} in ${history.join(", ")}`);
  const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: execution.stateMachineArn }));
  assert.ok(listed.executions!.some((e) => e.name === sent.eventId));

  // The admin API and the CLI's rendering of it.
  const all = (await (await fetch(`${stage.adminUrl}executions`)).json()) as { executions: { name: string; status: string }[] };
  assert.ok(all.executions.some((e) => e.name === sent.eventId && e.status === "SUCCEEDED"));
  const one = (await (await fetch(`${stage.adminUrl}executions/${sent.eventId}`)).json()) as Record<string, unknown>;
  assert.is(one.executionArn, execution.executionArn);
  const detail = formatExecutionDetail(one);
  assert.match(detail, /ChargePayment \(Task\) succeeded in \d+ ms/);
  assert.match(detail, /LambdaFunctionScheduled/);
});

test("compensation: a declined payment releases the reservation, publishes a failure event and fails the execution; nothing is fulfilled", async () => {
  const { data, sent, execution, tree } = await runSaga(900);
  assert.is(execution.status, "FAILED");
  assert.is(execution.error, "WorkflowFailed");
  const reservation = await eventually("the released reservation", async () => (await items("$fulfilment#reservationid_")).find((i) => i.details?.orderId === data.orderId && i.status === "released"));
  assert.ok(reservation);
  assert.is((await items("$fulfilment#paymentid_")).some((i) => i.details?.orderId === data.orderId), false, "nothing was charged");
  const failure = await eventually("the failure event", () => envelopes(audit.failures).find((e) => JSON.stringify(e.data).includes(data.orderId)));
  assert.is(failure.type, "platform.event-failed");
  assert.is(failure.correlationid, sent.correlationId);
  assert.is(envelopes(audit.fulfilled).some((e) => e.data.orderId === data.orderId), false);
  const states = execution.states.map((s) => `${s.name}:${s.status}`);
  assert.ok(states.includes("ChargePayment:failed") && states.includes("Prepare:caught") && states.includes("ReleaseStock:succeeded"), states.join(", "));
  const charge = execution.states.find((s) => s.name === "ChargePayment")!;
  assert.is(charge.retries, 0, "a declined payment is not retried");
  assert.match(renderTrace(tree), /state Prepare \(Parallel\) failed in [\d.]+ ms, caught: PaymentDeclined/);
  assert.match(renderTrace(tree), /started workflow local-fulfilment-fulfil-order execution [0-9a-f]{8}…: failed in \d+ ms \(WorkflowFailed/);
});

test("a crashed task (its worker killed mid-invocation) is retried by its Retry, and the saga succeeds once", async () => {
  const host = stage.hosts.get("local-fulfilment-charge-payment")!;
  const invoke = host.invoke;
  let crashed = false;
  host.invoke = async function crashFirst(this: typeof host, event, options) {
    const running = invoke.call(this, event, options);
    if (!crashed && options?.requestId) {
      crashed = true;
      for (let i = 0; i < 200 && !(await this.crash({ requestId: options.requestId })); i++) await new Promise((resolve) => setImmediate(resolve));
    }
    return running;
  };
  try {
    const { data, execution, tree } = await runSaga(17);
    assert.is(execution.status, "SUCCEEDED", `${execution.error}: ${execution.cause}`);
    const charge = execution.states.find((s) => s.name === "ChargePayment")!;
    assert.is(charge.retries, 1);
    const failed = execution.history.find((e) => e.type === "LambdaFunctionFailed") as { lambdaFunctionFailedEventDetails?: { error?: string } } | undefined;
    assert.is(failed?.lambdaFunctionFailedEventDetails?.error, "Runtime.ExitError");
    assert.is((await items("$fulfilment#paymentid_")).filter((i) => i.details?.orderId === data.orderId).length, 1);
    const text = renderTrace(tree);
    assert.match(text, /state ChargePayment \(Task\) in [\d.]+ ms, retried 1 time/);
    assert.match(text, /fulfilment\/charge-payment failed in [\d.]+ ms: Runtime\.ExitError/);
    assert.is(envelopes(audit.fulfilled).filter((e) => e.data.orderId === data.orderId).length, 1);
  } finally {
    delete (host as Partial<Pick<typeof host, "invoke">>).invoke;
  }
});

test("a starter killed after its StartExecution: the redelivered event starts nothing twice (same name, ExecutionAlreadyExists or the running one)", async () => {
  const engine = stage.workflows;
  const start = engine.startExecution;
  const calls: { name: string | undefined; answer: string }[] = [];
  let victim: string | undefined;
  engine.startExecution = function crashAfterFirstStart(this: typeof engine, request) {
    try {
      const result = start.call(this, request);
      calls.push({ name: request.name, answer: result.existing ? "existing" : "started" });
      if (victim === undefined && request.context.traceHeader) {
        victim = request.name;
        const header = request.context.traceHeader;
        // The execution has started; the starter dies before it hears the answer (it is still waiting for it now).
        void stage.hosts.get(STARTER)!.crash({ traceHeader: header });
      }
      return result;
    } catch (error) {
      calls.push({ name: request.name, answer: (error as { code?: string }).code ?? String(error) });
      throw error;
    }
  };
  try {
    const data = order(12);
    const sent = stage.publish("orders.order-placed", data);
    // Redelivered after the visibility (21 s): a bound for a hang, well past it.
    await eventually("the redelivered start", () => (calls.filter((c) => c.name === sent.eventId).length >= 2 ? true : undefined), 90_000);
    const done = await eventually("the execution to close", () => {
      const found = engine.executions().find((e) => e.name === sent.eventId);
      return found && found.status !== "RUNNING" ? found : undefined;
    });
    assert.is(victim, sent.eventId);
    assert.is(done.status, "SUCCEEDED");
    const mine = calls.filter((c) => c.name === sent.eventId);
    assert.is(mine[0]!.answer, "started");
    assert.ok(mine.slice(1).every((c) => c.answer === "existing" || c.answer === "ExecutionAlreadyExists"), JSON.stringify(mine));
    assert.is(engine.executions().filter((e) => e.name === sent.eventId).length, 1, "one execution");
    assert.is(done.history.filter((e) => e.type === "ExecutionStarted").length, 1);
    // The redelivery was handled (not dead-lettered) and exactly one follow-up went out.
    await eventually("the starter's queue to drain", () => {
      const counts = stage.sqs.counts(stage.sqs.queue(STARTER).arn);
      return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible === 0 ? true : undefined;
    }, 60_000);
    await eventually("order-fulfilled", () => envelopes(audit.fulfilled).find((e) => e.data.orderId === data.orderId));
    assert.is(envelopes(audit.fulfilled).filter((e) => e.data.orderId === data.orderId).length, 1);
    const tree = await closedTrace(sent.correlationId);
    const text = renderTrace(tree);
    assert.match(text, /fulfilment\/on-order-placed failed in [\d.]+ ms: Runtime\.ExitError/);
    assert.match(text, /done on receive 2/);
  } finally {
    delete (engine as Partial<Pick<typeof engine, "startExecution">>).startExecution;
  }
});

test("IAM: StartExecution only for functions whose role allows it on the state machine", async () => {
  const stateMachineArn = stage.workflows.stateMachines()[0]!.arn;
  const asTask = new SFNClient({ region: stage.wiring.region, endpoint: stage.endpoints.sfn, credentials: { accessKeyId: functionAccessKeyId("local-fulfilment-reserve-stock"), secretAccessKey: "k" } });
  try {
    const denied = await asTask.send(new StartExecutionCommand({ stateMachineArn, name: "not-allowed", input: "{}" })).catch((e: unknown) => e as Error);
    assert.is((denied as Error).name, "AccessDeniedException");
    assert.match((denied as Error).message, `is not authorized to perform: states:StartExecution on resource: ${stateMachineArn}`);
  } finally {
    asTask.destroy();
  }
  assert.is(stage.workflows.executions().some((e) => e.name === "not-allowed"), false);
});

test("the state machine calls as its role: a publish its policies do not allow fails the task with SNS's error, and the trace shows the denial", async () => {
  // The role without its sns:Publish statements: the saga's publish is refused as AWS would refuse it.
  const withoutPublish = (wiring: StageWiring): StageWiring => ({
    ...wiring,
    stateMachines: wiring.stateMachines!.map((m) => ({
      ...m,
      policies: m.policies.map((text) => {
        const policy = JSON.parse(text) as { Statement: { Action: string | string[] }[] };
        const actions = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
        return JSON.stringify({ ...policy, Statement: policy.Statement.filter((s) => !actions(s).includes("sns:Publish")) });
      }),
    })),
  });
  const denied = await startLocalStage({ port: 0, serviceDirs: [FULFILMENT], shortWaits: 1, adjustWiring: withoutPublish });
  try {
    const sent = denied.publish("orders.order-placed", order(20));
    const execution = await eventually("the execution to close", () => {
      const found = denied.workflows.executions().find((e) => e.name === sent.eventId);
      return found && found.status !== "RUNNING" ? found : undefined;
    });
    assert.is(execution.status, "FAILED");
    assert.is(execution.error, "SNS.AuthorizationErrorException");
    assert.match(execution.cause!, /is not authorized to perform: sns:Publish on resource: arn:aws:sns:[^ ]+:local-fulfilment-order-fulfilled/);
    const failed = execution.history.find((e) => e.type === "TaskFailed") as { taskFailedEventDetails?: { resourceType?: string; error?: string } } | undefined;
    assert.equal([failed?.taskFailedEventDetails?.resourceType, failed?.taskFailedEventDetails?.error], ["sns", "SNS.AuthorizationErrorException"]);
    const tree = await eventually("the denial in the trace", () => {
      const t = denied.trace(sent.correlationId);
      return t && /DENIED sns:Publish/.test(renderTrace(t)) ? t : undefined;
    });
    assert.match(renderTrace(tree), /state Fulfilled \(Task\) failed[^\n]*\n\s*[│ ]*└─ DENIED sns:Publish on arn:aws:sns:/);
  } finally {
    await denied.stop();
  }
});

test("a definition the interpreter cannot run exactly stops the start, naming the state", async () => {
  const withAssign = (wiring: StageWiring): StageWiring => ({
    ...wiring,
    stateMachines: wiring.stateMachines!.map((m) => {
      const definition = JSON.parse(m.definition);
      definition.States.Fulfilled.Assign = { fulfilled: true };
      return { ...m, definition: JSON.stringify(definition) };
    }),
  });
  const error = await startLocalStage({ port: 0, serviceDirs: [FULFILMENT], adjustWiring: withAssign }).then(
    async (started) => {
      await started.stop();
      return undefined;
    },
    (e: unknown) => e as Error,
  );
  assert.ok(error, "the stage did not start");
  assert.match(error!.message, /^workflows: state machine local-fulfilment-fulfil-order: state "Fulfilled": variables \(Assign\) are not supported/);
});

test.run();
