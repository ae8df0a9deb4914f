// The local Step Functions engine and its endpoint, against the unmodified @aws-sdk/client-sfn: name idempotency as
// Standard workflows have it, executions, histories, IAM on the endpoint, and definitions the interpreter would run
// differently refused at start with the state named. (The stage with real functions: workflows-stage.test.ts.)
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StopExecutionCommand,
  type HistoryEvent,
} from "@aws-sdk/client-sfn";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LOCAL_ACCOUNT_ID } from "../aws";
import { rootContext } from "../context";
import { startEndpointServer, type EndpointServer } from "../endpoints/server";
import { Authorizer } from "../iam/authorizer";
import { checkDefinition, UnsupportedDefinitionError } from "../stepfunctions/definition";
import { createStepFunctionsEndpoint } from "../stepfunctions/endpoint";
import { StepFunctionsEngine, type FunctionAnswer, type StateMachineConfig, type TaskCall } from "../stepfunctions/engine";
import { installPromiseWithResolvers } from "../stepfunctions/polyfill";
import { parseArgs } from "../cli";
import { TraceRecorder } from "../stage/trace";
import { stateMachinePrincipal, workflowsPart } from "../stage/part-workflows";
import type { StageWiring, StateMachineSpec } from "../stage/wiring";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const region = "eu-west-1";
const smArn = (name: string) => `arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
const fnArn = (name: string) => `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${name}`;
const topicArn = `arn:aws:sns:${region}:${LOCAL_ACCOUNT_ID}:local-fulfilment-done`;

/** Functions as plain JavaScript, run by the runner the way the stage runs hosts (errors as Lambda reports them). */
type Fn = (payload: unknown, call: TaskCall) => Promise<unknown> | unknown;
function machine(name: string, definition: object, type: "STANDARD" | "EXPRESS" = "STANDARD"): StateMachineConfig {
  return { name, arn: smArn(name), definition: JSON.stringify(definition), roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${name}-role`, type };
}

async function setup(functions: Record<string, Fn>, machines: StateMachineConfig[], options: { shortWaitsMs?: number; policies?: object[] } = {}) {
  const published: Record<string, unknown>[] = [];
  const engine = new StepFunctionsEngine({
    region,
    accountId: LOCAL_ACCOUNT_ID,
    ...(options.shortWaitsMs !== undefined ? { shortWaitsMs: options.shortWaitsMs } : {}),
    runner: {
      async invokeFunction(arn, payload, call): Promise<FunctionAnswer> {
        const fn = functions[arn.split(":").pop()!];
        if (!fn) throw Object.assign(new Error(`Function not found: ${arn}`), { code: "ResourceNotFoundException" });
        try {
          return { ok: true, payload: await fn(payload, call) };
        } catch (error) {
          return { ok: false, errorType: (error as Error).name, errorMessage: (error as Error).message };
        }
      },
      async publish(input) {
        published.push(input);
        return { MessageId: `m-${published.length}` };
      },
    },
  });
  await engine.setStateMachines(machines);
  const authorizer = new Authorizer({ accountId: LOCAL_ACCOUNT_ID });
  authorizer.register("starter", options.policies ?? [{ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["states:StartExecution", "states:ListExecutions"], Resource: machines.map((m) => m.arn) }, { Effect: "Allow", Action: ["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"], Resource: machines.flatMap((m) => [`arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:execution:${m.name}:*`, `arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:express:${m.name}:*`]) }] }]);
  const server: EndpointServer = await startEndpointServer({ services: [createStepFunctionsEndpoint({ engine, region, authorize: authorizer.authorize })] });
  const sfn = new SFNClient({ endpoint: server.url, region, credentials: { accessKeyId: "starter", secretAccessKey: "x" } });
  return {
    engine,
    sfn,
    published,
    async close() {
      sfn.destroy();
      await engine.stop();
      await server.close();
    },
  };
}

const saga = {
  StartAt: "Prepare",
  States: {
    Prepare: {
      Type: "Parallel",
      Branches: [
        { StartAt: "Reserve", States: { Reserve: { Type: "Task", Resource: fnArn("reserve"), End: true } } },
        { StartAt: "Charge", States: { Charge: { Type: "Task", Resource: fnArn("charge"), Retry: [{ ErrorEquals: ["Flaky"], IntervalSeconds: 5, MaxAttempts: 2 }], End: true } } },
      ],
      ResultPath: "$.prepared",
      Catch: [{ ErrorEquals: ["PaymentDeclined"], ResultPath: "$.failure", Next: "Undo" }],
      Next: "Pause",
    },
    Pause: { Type: "Wait", Seconds: 60, Next: "Announce" },
    Announce: { Type: "Task", Resource: "arn:aws:states:::sns:publish", Parameters: { TopicArn: topicArn, "Message.$": "$.prepared" }, End: true },
    Undo: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", Parameters: { FunctionName: fnArn("release"), "Payload.$": "$" }, ResultSelector: { "released.$": "$.Payload" }, Next: "Failed" },
    Failed: { Type: "Fail", Error: "OrderNotFulfilled", Cause: "payment declined" },
  },
};

test("polyfill: Promise.withResolvers as the specification has it, defined only when missing", async () => {
  installPromiseWithResolvers();
  const { promise, resolve } = (Promise as unknown as { withResolvers: <T>() => { promise: Promise<T>; resolve: (v: T) => void } }).withResolvers<number>();
  resolve(7);
  assert.is(await promise, 7);
  assert.is(Object.getOwnPropertyDescriptor(Promise, "withResolvers")?.enumerable, false);
});

test("a saga through the SDK: Parallel, a Retry that absorbs a crash, a shortened Wait, an SNS publish, the history", async () => {
  let charges = 0;
  const stage = await setup(
    {
      reserve: (p) => ({ reserved: (p as { sku: string }).sku }),
      charge: () => {
        charges++;
        if (charges === 1) throw Object.assign(new Error("connection reset"), { name: "Flaky" });
        return { charged: 5 };
      },
    },
    [machine("saga", saga)],
    { shortWaitsMs: 5 },
  );
  try {
    const started = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("saga"), name: "order-1", input: JSON.stringify({ sku: "s-1" }) }));
    assert.is(started.executionArn, `arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:execution:saga:order-1`);
    assert.instance(started.startDate, Date);
    await stage.engine.execution(started.executionArn!).done;
    const described = await stage.sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    assert.is(described.status, "SUCCEEDED");
    assert.equal(JSON.parse(described.input!), { sku: "s-1" });
    assert.instance(described.stopDate, Date);
    assert.is(charges, 2, "the Retry ran the crashed task again");
    assert.equal(stage.published, [{ TopicArn: topicArn, Message: JSON.stringify([{ reserved: "s-1" }, { charged: 5 }]) }]);
    const history = (await stage.sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }))).events!;
    const types = history.map((e: HistoryEvent) => e.type);
    assert.is(types[0], "ExecutionStarted");
    assert.is(types.at(-1), "ExecutionSucceeded");
    for (const expected of ["ParallelStateEntered", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionFailed", "LambdaFunctionSucceeded", "WaitStateEntered", "TaskScheduled", "TaskSucceeded", "ParallelStateExited"]) {
      assert.ok(types.includes(expected as never), `history has ${expected}: ${types.join(", ")}`);
    }
    const failed = history.find((e) => e.type === "LambdaFunctionFailed")!;
    assert.is(failed.lambdaFunctionFailedEventDetails?.error, "Flaky");
    assert.equal(JSON.parse(failed.lambdaFunctionFailedEventDetails!.cause!), { errorMessage: "connection reset", errorType: "Flaky" });
    assert.ok(history.every((e, i) => e.id === i + 1 && e.timestamp instanceof Date));
    // A task's events come between its state's entry and exit.
    const chargeEntered = history.findIndex((e) => e.stateEnteredEventDetails?.name === "Charge");
    const chargeExited = history.findIndex((e) => e.stateExitedEventDetails?.name === "Charge");
    const chargeSucceeded = history.findIndex((e, i) => i > chargeEntered && e.type === "LambdaFunctionSucceeded" && e.lambdaFunctionSucceededEventDetails?.output === JSON.stringify({ charged: 5 }));
    assert.ok(chargeEntered < chargeSucceeded && chargeSucceeded < chargeExited, "Charge's task events sit inside its state");
    const states = stage.engine.execution(started.executionArn!).states;
    assert.is(states.find((s) => s.name === "Charge")?.retries, 1);
    assert.is(states.find((s) => s.name === "Pause")?.status, "succeeded");
  } finally {
    await stage.close();
  }
});

test("compensation: a caught error runs the undo task (lambda:invoke) and the Fail state fails the execution", async () => {
  const released: unknown[] = [];
  const stage = await setup(
    {
      reserve: () => ({ reserved: true }),
      charge: () => {
        throw Object.assign(new Error("card declined"), { name: "PaymentDeclined" });
      },
      release: (p) => {
        released.push(p);
        return { released: true };
      },
    },
    [machine("saga", saga)],
    { shortWaitsMs: 5 },
  );
  try {
    const { executionArn } = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("saga"), name: "order-2", input: "{\"sku\":\"s-2\"}" }));
    await stage.engine.execution(executionArn!).done;
    const described = await stage.sfn.send(new DescribeExecutionCommand({ executionArn }));
    assert.is(described.status, "FAILED");
    assert.is(described.error, "OrderNotFulfilled");
    assert.is(described.cause, "payment declined");
    assert.is(released.length, 1);
    const input = released[0] as { sku: string; failure: { Error: string; Cause: string } };
    assert.is(input.sku, "s-2");
    assert.is(input.failure.Error, "PaymentDeclined");
    assert.equal(JSON.parse(input.failure.Cause), { errorMessage: "card declined", errorType: "PaymentDeclined" });
    assert.is(stage.published.length, 0);
    const types = (await stage.sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events!.map((e) => e.type);
    assert.ok(types.includes("TaskScheduled") && types.includes("FailStateEntered") && types.at(-1) === "ExecutionFailed", types.join(", "));
  } finally {
    await stage.close();
  }
});

test("StartExecution: same name and input while running is the same execution; after it closed, or with other input, ExecutionAlreadyExists", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stage = await setup({ slow: async () => { await gate; return "done"; } }, [machine("slow", { StartAt: "Work", States: { Work: { Type: "Task", Resource: fnArn("slow"), End: true } } })]);
  try {
    const first = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("slow"), name: "evt-1", input: "{\"a\":1}" }));
    const again = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("slow"), name: "evt-1", input: "{\"a\":1}" }));
    assert.is(again.executionArn, first.executionArn);
    assert.is(again.startDate!.getTime(), first.startDate!.getTime());
    const other = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("slow"), name: "evt-1", input: "{\"a\":2}" })).catch((e: unknown) => e);
    assert.instance(other, ExecutionAlreadyExists);
    release();
    await stage.engine.execution(first.executionArn!).done;
    const closed = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("slow"), name: "evt-1", input: "{\"a\":1}" })).catch((e: unknown) => e);
    assert.instance(closed, ExecutionAlreadyExists, "a closed execution's name is taken, even with the same input");
    const listed = await stage.sfn.send(new ListExecutionsCommand({ stateMachineArn: smArn("slow") }));
    assert.equal(listed.executions!.map((e) => [e.name, e.status]), [["evt-1", "SUCCEEDED"]]);
  } finally {
    await stage.close();
  }
});

test("Express: every start is a new execution (names are not deduplicated); the API does not keep them, as AWS keeps them in logs", async () => {
  const stage = await setup({}, [machine("quick", { StartAt: "P", States: { P: { Type: "Pass", End: true } } }, "EXPRESS")]);
  try {
    const first = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("quick"), name: "same", input: "{}" }));
    const second = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("quick"), name: "same", input: "{}" }));
    assert.is.not(first.executionArn, second.executionArn);
    assert.match(first.executionArn!, new RegExp(`^arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:express:quick:same:`));
    assert.is(stage.engine.executions().length, 2);
    const described = await stage.sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn })).catch((e: unknown) => e as Error);
    assert.is((described as Error).name, "ExecutionDoesNotExist");
    const listed = await stage.sfn.send(new ListExecutionsCommand({ stateMachineArn: smArn("quick") })).catch((e: unknown) => e as Error);
    assert.is((listed as Error).name, "StateMachineTypeNotSupported");
  } finally {
    await stage.close();
  }
});

test("endpoint errors: unknown state machine, bad name, bad input, IAM denial naming action and resource, StopExecution", async () => {
  const stage = await setup({ wait: () => new Promise(() => undefined) }, [machine("held", { StartAt: "W", States: { W: { Type: "Task", Resource: fnArn("wait"), End: true } } }), machine("other", { StartAt: "P", States: { P: { Type: "Pass", End: true } } })], {
    policies: [{ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "states:StartExecution", Resource: smArn("held") }, { Effect: "Allow", Action: ["states:StopExecution", "states:DescribeExecution"], Resource: "*" }] }],
  });
  try {
    const code = async (input: StartExecutionCommand["input"]) => ((await stage.sfn.send(new StartExecutionCommand(input)).catch((e: unknown) => e)) as SFNServiceException).name;
    const missing = `arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:stateMachine:nope`;
    const denied = (await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: missing })).catch((e: unknown) => e)) as SFNServiceException;
    assert.is(denied.name, "AccessDeniedException", "IAM first, as AWS: the caller may not start it");
    assert.match(denied.message, `is not authorized to perform: states:StartExecution on resource: ${missing}`);
    assert.is(await code({ stateMachineArn: smArn("other") }), "AccessDeniedException");
    assert.is(await code({ stateMachineArn: smArn("held"), name: "has space" }), "InvalidName");
    assert.is(await code({ stateMachineArn: smArn("held"), input: "{not json" }), "InvalidExecutionInput");
    const { executionArn } = await stage.sfn.send(new StartExecutionCommand({ stateMachineArn: smArn("held"), name: "to-stop" }));
    await stage.sfn.send(new StopExecutionCommand({ executionArn, error: "Operator", cause: "stopped by hand" }));
    await stage.engine.execution(executionArn!).done;
    const described = await stage.sfn.send(new DescribeExecutionCommand({ executionArn }));
    assert.is(described.status, "ABORTED");
    assert.is(described.error, "Operator");
  } finally {
    await stage.close();
  }
});

test("definitions the interpreter would run differently are refused, naming the state", async () => {
  const refused = (definition: object, pattern: RegExp) => {
    assert.throws(() => checkDefinition("m", definition), (error: Error) => error instanceof UnsupportedDefinitionError && pattern.test(error.message));
  };
  refused({ QueryLanguage: "JSONata", StartAt: "A", States: { A: { Type: "Pass", End: true } } }, /state machine m: QueryLanguage JSONata/);
  refused({ StartAt: "A", States: { A: { Type: "Pass", Output: "{% $states.input %}", End: true } } }, /state "A": Output is a JSONata field/);
  refused({ StartAt: "A", States: { A: { Type: "Pass", Assign: { x: 1 }, End: true } } }, /state "A": variables \(Assign\)/);
  refused(
    { StartAt: "P", States: { P: { Type: "Parallel", Branches: [{ StartAt: "Inner", States: { Inner: { Type: "Pass", "Parameters": { "t.$": "$$.State.EnteredTime" }, End: true } } }], End: true } } },
    /state "Inner" \(in branch 1 of "P"\): the context path \$\$\.State/,
  );
  refused({ StartAt: "M", States: { M: { Type: "Map", ItemProcessor: { ProcessorConfig: { Mode: "DISTRIBUTED" }, StartAt: "X", States: { X: { Type: "Pass", End: true } } }, End: true } } }, /state "M": Distributed Map/);
  refused({ StartAt: "T", States: { T: { Type: "Task", Resource: "arn:aws:states:::dynamodb:putItem", End: true } } }, /state "T": task resource arn:aws:states:::dynamodb:putItem is not run locally/);
  refused({ StartAt: "T", States: { T: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken", End: true } } }, /state "T": task resource/);
  refused({ StartAt: "T", States: { T: { Type: "Task", Resource: fnArn("f"), HeartbeatSeconds: 10, End: true } } }, /state "T": heartbeats/);
  // The engine refuses the whole set, changing nothing.
  const engine = new StepFunctionsEngine({ region, accountId: LOCAL_ACCOUNT_ID, runner: { invokeFunction: async () => ({ ok: true, payload: null }), publish: async () => ({ MessageId: "m" }) } });
  await engine.setStateMachines([machine("good", { StartAt: "A", States: { A: { Type: "Pass", End: true } } })]);
  try {
    await engine.setStateMachines([machine("bad", { StartAt: "A", States: { A: { Type: "Pass", Assign: {}, End: true } } })]);
    assert.unreachable("refused");
  } catch (error) {
    assert.instance(error, UnsupportedDefinitionError);
  }
  assert.equal(engine.stateMachines().map((m) => m.name), ["good"]);
  // Map (inline), Choice and the context object run.
  await engine.setStateMachines([
    machine("mapper", {
      StartAt: "Each",
      States: {
        Each: { Type: "Map", ItemsPath: "$.items", ItemSelector: { "v.$": "$$.Map.Item.Value", "name.$": "$$.Execution.Name" }, ItemProcessor: { StartAt: "Double", States: { Double: { Type: "Pass", End: true } } }, Next: "Check" },
        Check: { Type: "Choice", Choices: [{ Variable: "$[0].name", StringEquals: "run-1", Next: "Done" }], Default: "Bad" },
        Done: { Type: "Succeed" },
        Bad: { Type: "Fail", Error: "Wrong" },
      },
    }),
  ]);
  const { executionArn } = engine.startExecution({ stateMachineArn: smArn("mapper"), name: "run-1", input: JSON.stringify({ items: [1, 2] }), context: rootContext("test") });
  const done = await engine.execution(executionArn).done;
  assert.is(done.status, "SUCCEEDED", done.cause);
  assert.equal(JSON.parse(done.output!), [{ v: 1, name: "run-1" }, { v: 2, name: "run-1" }]);
  assert.ok(done.history.some((e) => e.type === "MapIterationStarted"));
});

test("the workflows part: reconcile serves a changed definition, refuses one it cannot run and keeps the last good; the role follows", async () => {
  const spec = (definition: object, policies: string[]): StateMachineSpec => ({
    origin: { project: "svc", name: "flow", type: "aws:sfn/stateMachine:StateMachine" },
    name: "local-svc-flow",
    arn: smArn("local-svc-flow"),
    definition: JSON.stringify(definition),
    type: "STANDARD",
    roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local-svc-flow-role`,
    policies,
  });
  const wiring = (machine: StateMachineSpec): StageWiring => ({
    region,
    accountId: LOCAL_ACCOUNT_ID,
    tables: [],
    topics: [],
    queues: [],
    subscriptions: [],
    functions: [],
    mappings: [],
    routes: [],
    stateMachines: [machine],
    ignored: [],
  });
  const allow = (action: string) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: action, Resource: "*" }] });
  const authorizer = new Authorizer({ accountId: LOCAL_ACCOUNT_ID });
  const recorder = new TraceRecorder({ names: { queue: (a) => a, topic: (a) => a, functionLabel: (n) => n } });
  const part = workflowsPart({
    wiring: wiring(spec({ StartAt: "A", States: { A: { Type: "Pass", Result: 1, End: true } } }, [allow("lambda:InvokeFunction")])),
    authorizer,
    recorder,
    hosts: () => new Map(),
    publish: () => ({ MessageId: "m" }),
  });
  await part.start();
  try {
    assert.is(part.health().status, "ok");
    assert.match(part.health().detail!, /1 state machines, 0 executions/);
    const principal = stateMachinePrincipal("local-svc-flow");
    assert.is(authorizer.authorize({ principal, action: "lambda:InvokeFunction", resource: fnArn("x") }).allowed, true);
    await part.reconcile!(wiring(spec({ StartAt: "B", States: { B: { Type: "Pass", Result: 2, End: true } } }, [allow("sns:Publish")])));
    assert.is(JSON.parse(part.engine.stateMachine(smArn("local-svc-flow")).definition).StartAt, "B");
    assert.is(authorizer.authorize({ principal, action: "lambda:InvokeFunction", resource: fnArn("x") }).allowed, false, "the new role's policies");
    const refused = await Promise.resolve(part.reconcile!(wiring(spec({ StartAt: "C", States: { C: { Type: "Pass", Assign: { x: 1 }, End: true } } }, [])))).catch((e: unknown) => e as Error);
    assert.instance(refused, UnsupportedDefinitionError);
    assert.is(JSON.parse(part.engine.stateMachine(smArn("local-svc-flow")).definition).StartAt, "B", "the last good definition serves");
  } finally {
    await part.stop();
    recorder.close();
  }
});

// The task's function never answers; the execution is stopped and the process does nothing more. It must end by itself
// (the interpreter's task timer, TimeoutSeconds or 24 days, once kept it alive: npm test waited on this file).
for (const how of ["stop-execution", "stop-engine"] as const) {
  test(`a stopped execution whose function never answered leaves nothing that keeps the process alive (${how})`, async () => {
    const fixture = join(__dirname, "fixtures", "stopped-workflow.ts");
    const child = spawn(process.execPath, ["--import", "tsx", fixture, how], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let lingering = false;
    const printed = new Promise<void>((resolve) => child.stdout.on("data", () => output.includes("closed ") && resolve()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Generous: start-up under load. Once the execution closed, the process has nothing left to do.
    const bound = setTimeout(() => {
      lingering = true;
      child.kill("SIGKILL");
    }, 90_000);
    await Promise.race([printed, exited]);
    const code = await exited;
    clearTimeout(bound);
    assert.match(output, "closed ABORTED", output);
    assert.not.ok(lingering, `the process was still running after the execution closed:\n${output}`);
    assert.is(code, 0, output);
  });
}

test("npm start -- --short-waits is a flag", () => {
  assert.equal(parseArgs(["--short-waits", "--port", "0"]).flags, { "short-waits": true, port: "0" });
});

test.run();
