import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV, envelopeSchema, failureEventData, WORKFLOW_INPUT_KEY } from "../../contract";
import { FAILURE_EVENT_VERSION } from "../../runtime/failure-event";
import { parseEvent } from "../../runtime/envelope";
import { messageAttributes } from "../../runtime/sns-publish";
import { evaluateGuardrails, guardrailPolicies } from "../guardrails";
import { defineService, type ServiceDefinition } from "../service";
import {
  branch,
  choice,
  defineWorkflow,
  failure,
  invoke,
  map,
  parallel,
  pass,
  publish,
  succeed,
  wait,
  WORKFLOW_FAILURE_EVENT_VERSION,
  WorkflowDefinitionError,
  type AslTargets,
  type WorkflowSpec,
} from "../workflow";
import { LOG_DELIVERY_ACTIONS, WORKFLOW_TYPE } from "../workflow-component";
import { runProgram } from "../../capture/run-program";
import { checkDefinition } from "../../local/stepfunctions/definition";
import { REPO_ROOT } from "../helpers/bundle";
import { doc, resource } from "./guardrail-cases/fixtures";
import { platformOutputs, policyDocument, underMocks } from "./harness";

// aws-local-stepfunctions 3.x calls Promise.withResolvers (Node.js 22): the local stage's polyfill.
import "../../local/stepfunctions/polyfill";

const HANDLER = join(__dirname, "fixtures", "handlers", "echo.ts");
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const START = { correlationId: "corr-1", traceparent: TRACEPARENT, causationId: "event-1", causationType: "orders.order-placed" };
const TARGETS: AslTargets = {
  service: "billing",
  workflow: "issue",
  functionArn: (name) => `arn:aws:lambda:eu-west-1:123456789012:function:dev-billing-${name}`,
  topicArn: (type) => `arn:aws:sns:eu-west-1:123456789012:dev-${type.replace(/\./g, "-")}`,
  failureTopicArn: "arn:aws:sns:eu-west-1:123456789012:dev-platform-event-failed",
};

/** The saga shape: two steps side by side, one that can fail and be compensated, an event at the end. */
function saga() {
  return defineWorkflow({
    functions: { reserve: { handler: HANDLER }, charge: { handler: HANDLER }, release: { handler: HANDLER } },
    startAt: "Steps",
    states: {
      Steps: parallel({
        branches: [
          branch({ startAt: "Reserve", states: { Reserve: invoke("reserve", { end: true }) } }),
          branch({ startAt: "Charge", states: { Charge: invoke("charge", { retry: [{ errors: ["RetryableError"], intervalSeconds: 1, maxAttempts: 2 }], end: true }) } }),
        ],
        resultPath: "$.steps",
        catch: [{ errors: ["BusinessRuleError"], next: "Release" }],
        next: "Issued",
      }),
      Issued: publish("billing.invoice-issued", {
        data: { "invoiceId.$": "$.invoiceId", "orderId.$": "$.orderId", "customerId.$": "$.customerId", "total.$": "$.total" },
        subject: "$.orderId",
        end: true,
      }),
      Release: invoke("release", { resultPath: null, next: "Rejected" }),
      Rejected: failure({ message: "the invoice could not be issued" }),
    },
  });
}

type Handlers = Record<string, (input: any) => Promise<unknown>>;

async function run(asl: unknown, input: unknown, handlers: Handlers): Promise<{ result?: unknown; error?: Error }> {
  const { StateMachine } = await import("aws-local-stepfunctions");
  const machine = new StateMachine(asl as never);
  const execution = machine.run(input as never, { overrides: { taskResourceLocalHandlers: handlers as never } });
  try {
    return { result: await execution.result };
  } catch (error) {
    return { error: error as Error };
  }
}

const sagaInput = { invoiceId: "inv-1", orderId: "order-1", customerId: "customer-1", total: { amount: 42.5, currency: "EUR" }, [WORKFLOW_INPUT_KEY]: START };

test("a workflow becomes JSONPath ASL: functions by ARN with Lambda's transient errors retried, publishing through the SNS integration", () => {
  const asl = saga().toAsl(TARGETS);
  assert.equal(asl.StartAt, "Steps");
  const steps = asl.States.Steps as any;
  assert.equal(steps.Type, "Parallel");
  const charge = steps.Branches[1].States.Charge;
  assert.equal(charge.Resource, "arn:aws:lambda:eu-west-1:123456789012:function:dev-billing-charge");
  assert.equal(charge.Retry[0].ErrorEquals, ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]);
  assert.equal(charge.Retry[1], { ErrorEquals: ["RetryableError"], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 });
  assert.equal(steps.Catch, [{ ErrorEquals: ["BusinessRuleError"], Next: "Release", ResultPath: "$.error" }]);
  const issued = asl.States.Issued as any;
  assert.equal(issued.Resource, "arn:aws:states:::sns:publish");
  assert.equal(issued.Parameters.TopicArn, "arn:aws:sns:eu-west-1:123456789012:dev-billing-invoice-issued");
  assert.equal(issued.Parameters.Message["id.$"], "States.UUID()");
  assert.equal(issued.ResultPath, null, "a publish passes its input on");
  assert.equal(asl.States["Rejected (stopped)"], { Type: "Fail", Error: "WorkflowFailed", Cause: "the invoice could not be issued" });
  assert.not.ok(JSON.stringify(asl).includes("QueryLanguage"), "JSONPath is the default; nothing names JSONata");
});

test("the local interpreter runs the success path and the event it publishes is the runtime's envelope and attributes", async () => {
  const published: any[] = [];
  const outcome = await run(saga().toAsl(TARGETS), sagaInput, {
    Reserve: async () => ({ reserved: true }),
    Charge: async () => ({ charged: true }),
    Issued: async (parameters) => {
      published.push(parameters);
      return { MessageId: "m-1" };
    },
  });
  assert.not.ok(outcome.error, String(outcome.error));
  assert.equal((outcome.result as any).steps, [{ reserved: true }, { charged: true }]);
  assert.equal(published.length, 1);
  const [{ Message, MessageAttributes, TopicArn }] = published;
  assert.equal(TopicArn, "arn:aws:sns:eu-west-1:123456789012:dev-billing-invoice-issued");
  // Step Functions sends the Message object as its JSON text: consumers parse it as any published event.
  const event = parseEvent(JSON.stringify(Message));
  assert.equal(event.type, "billing.invoice-issued");
  assert.equal(event.source, "billing");
  assert.equal(event.correlationid, "corr-1");
  assert.equal(event.causationid, "event-1");
  assert.equal(event.traceparent, TRACEPARENT);
  assert.equal(event.subject, "order-1");
  assert.equal(event.dataversion, 1);
  assert.equal(event.data, { invoiceId: "inv-1", orderId: "order-1", customerId: "customer-1", total: { amount: 42.5, currency: "EUR" } });
  assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // The same keys, in the same order, as the runtime's createEvent gives them.
  assert.equal(Object.keys(Message), ["specversion", "id", "source", "type", "time", "datacontenttype", "correlationid", "traceparent", "data", "causationid", "subject", "dataversion"]);
  assert.equal(MessageAttributes, messageAttributes(event, 1));
});

test("the compensation path releases, then publishes a failure event the failure topic's readers accept, then fails", async () => {
  const published: any[] = [];
  const calls: string[] = [];
  const outcome = await run(saga().toAsl(TARGETS), sagaInput, {
    Reserve: async () => ({ reserved: true }),
    Charge: async () => {
      const error = new Error("card declined");
      error.name = "BusinessRuleError";
      throw error;
    },
    Release: async (input) => {
      calls.push(`release ${input.orderId} after ${input.error.Error}`);
      return { released: true };
    },
    Rejected: async (parameters) => {
      published.push(parameters);
      return { MessageId: "m-2" };
    },
  });
  assert.match(String(outcome.error?.message), /the invoice could not be issued/);
  assert.equal(calls, ["release order-1 after BusinessRuleError"]);
  const [{ Message, MessageAttributes, TopicArn }] = published;
  assert.equal(TopicArn, TARGETS.failureTopicArn);
  const envelope = envelopeSchema.parse(JSON.parse(JSON.stringify(Message)));
  assert.equal(envelope.type, "platform.event-failed");
  assert.equal(envelope.dataversion, undefined, "the runtime's failure envelope carries no dataversion field");
  const data = failureEventData.parse(envelope.data);
  assert.equal(data.service, "billing");
  assert.equal(data.handler, "issue");
  assert.equal(data.reason, "business-rule");
  assert.equal(data.message, "the invoice could not be issued (BusinessRuleError)");
  assert.equal(data.originalId, "event-1");
  assert.equal(data.originalType, "orders.order-placed");
  assert.equal(JSON.parse(data.originalBody), sagaInput);
  assert.equal(MessageAttributes.dataversion, { DataType: "Number", StringValue: String(FAILURE_EVENT_VERSION) });
  assert.equal(WORKFLOW_FAILURE_EVENT_VERSION, FAILURE_EVENT_VERSION);
});

test("a task crash is absorbed by its Retry", async () => {
  let attempts = 0;
  const outcome = await run(saga().toAsl(TARGETS), sagaInput, {
    Reserve: async () => ({ reserved: true }),
    Charge: async () => {
      attempts += 1;
      if (attempts === 1) {
        const error = new Error("database busy");
        error.name = "RetryableError";
        throw error;
      }
      return { charged: true };
    },
    Issued: async () => ({ MessageId: "m-3" }),
  });
  assert.not.ok(outcome.error, String(outcome.error));
  assert.equal(attempts, 2);
});

test("Choice, Map, Wait and Pass compile and run as written", async () => {
  const workflow = defineWorkflow({
    startAt: "Route",
    states: {
      Route: choice({ choices: [{ when: { Variable: "$.express", BooleanEquals: true }, next: "Each" }], default: "Pause" }),
      Pause: wait({ seconds: 0, next: "Each" }),
      Each: map({
        itemsPath: "$.items",
        maxConcurrency: 2,
        processor: branch({ startAt: "Double", states: { Double: pass({ parameters: { "sku.$": "$.sku", "twice.$": "States.MathAdd($.quantity, $.quantity)" }, end: true }) } }),
        resultPath: "$.doubled",
        next: "Done",
      }),
      Done: succeed(),
    },
  });
  const outcome = await run(workflow.toAsl(TARGETS), { express: false, items: [{ sku: "a", quantity: 2 }, { sku: "b", quantity: 5 }] }, {});
  assert.not.ok(outcome.error, String(outcome.error));
  assert.equal((outcome.result as any).doubled, [{ sku: "a", twice: 4 }, { sku: "b", twice: 10 }]);
  const asl = workflow.toAsl(TARGETS) as any;
  assert.equal(asl.States.Each.ItemProcessor.ProcessorConfig, { Mode: "INLINE" });
});

test("the local stage accepts every definition the helpers write (it refuses what its interpreter would run differently)", async () => {
  const all = defineWorkflow({
    functions: { f: { handler: HANDLER } },
    startAt: "Route",
    states: {
      Route: choice({ choices: [{ when: { Not: { Variable: "$.skip", IsPresent: true } }, next: "Each" }], default: "Pause" }),
      Pause: wait({ secondsPath: "$.delay", next: "Each" }),
      Each: map({ itemsPath: "$.items", itemSelector: { "item.$": "$$.Map.Item.Value" }, processor: branch({ startAt: "F", states: { F: invoke("f", { end: true }) } }), resultPath: "$.each", next: "Steps" }),
      Steps: parallel({ branches: [branch({ startAt: "P", states: { P: pass({ result: { ok: true }, end: true }) } })], resultPath: null, next: "Announce", catch: [{ errors: ["States.ALL"], next: "Failed" }] }),
      Announce: publish("billing.invoice-issued", { data: "$.invoice", end: true }),
      Failed: failure({ message: "it failed", reason: "invalid-event" }),
    },
  });
  for (const definition of [saga(), all]) {
    const { tasks } = checkDefinition("test", definition.toAsl(TARGETS));
    assert.ok(tasks.size > 0);
  }
});

function refuses(spec: () => unknown, message: RegExp): void {
  try {
    spec();
    assert.unreachable(`expected ${message}`);
  } catch (error) {
    assert.instance(error, WorkflowDefinitionError);
    assert.match((error as Error).message, message);
  }
}

const loose = (spec: Record<string, unknown>) => defineWorkflow(spec as unknown as WorkflowSpec<string>);

test("definitions the local interpreter would run differently, or that cannot run, are refused naming the state", () => {
  refuses(() => loose({ startAt: "A", states: { A: { type: "pass", end: true, parameters: { "x.$": "{% $states.input.x %}" } } } }), /state "A" uses JSONata at parameters\.x\.\$/);
  refuses(() => loose({ startAt: "A", states: { A: { type: "pass", end: true, assign: { x: 1 } } } }), /state "A" has "assign", which a pass state does not take/);
  refuses(() => loose({ startAt: "A", states: { A: { type: "pass", next: "B" } } }), /state "A" goes to "B", which is not a state of the workflow/);
  refuses(() => loose({ startAt: "A", states: { A: { type: "invoke", function: "ghost", end: true } } }), /state "A" invokes "ghost", which is not one of the workflow's functions/);
  refuses(
    () => loose({ startAt: "A", states: { A: { type: "publish", event: "orders.order-status-changed", data: "$", end: true } } }),
    /state "A" publishes orders\.order-status-changed, whose ordering is "fifo"/,
  );
  refuses(() => loose({ startAt: "A", states: { A: { type: "publish", event: "orders.nope", data: "$", end: true } } }), /not in the event catalog/);
  refuses(
    () => loose({ startAt: "A", states: { A: { type: "publish", event: "billing.invoice-issued", data: { "invoiceId.$": "$.i", "orderId.$": "$.o", "customerId.$": "$.c" }, end: true } } }),
    /state "A" publishes billing\.invoice-issued without "total", which its schema requires/,
  );
  refuses(
    () => loose({ startAt: "A", states: { A: { type: "publish", event: "billing.invoice-issued", data: { "invoiceId.$": "$.i", "orderId.$": "$.o", "customerId.$": "$.c", total: 1, "totl.$": "$.t" }, end: true } } }),
    /publishes billing\.invoice-issued with "totl", which its schema does not have \(fields: invoiceId, orderId, customerId, total\)/,
  );
  refuses(
    () =>
      loose({
        startAt: "A",
        states: { A: { type: "pass", end: true }, F: { type: "failure", message: "it's {broken}" } },
      }),
    /state "F": its message may not contain/,
  );
  refuses(() => loose({ startAt: "A", states: { A: { type: "pass", end: true }, B: { type: "pass", end: true } } }), /no transition reaches "B"/);
  refuses(
    () =>
      loose({
        startAt: "P",
        states: { P: { type: "parallel", branches: [branch({ startAt: "X", states: { X: pass({ next: "Y" as never }) } })], end: true } },
      }),
    /state "X" \(in P branch 1\) goes to "Y"/,
  );
  refuses(() => loose({ type: "express", timeoutSeconds: 600, startAt: "A", states: { A: { type: "pass", end: true } } }), /Express workflow runs at most 300 seconds/);
  refuses(() => loose({ startAt: "A", states: { A: { type: "wait", seconds: -1, end: true } } }), /Amazon States Language is invalid/);
});

test("a transition to a state of another graph, or to none, does not compile (and is refused when forced)", () => {
  refuses(
    () =>
      defineWorkflow({
        startAt: "A",
        states: {
          // @ts-expect-error "B" is not a state of this workflow
          A: pass({ next: "B" }),
        },
      }),
    /state "A" goes to "B"/,
  );
  refuses(
    () =>
      defineWorkflow({
        startAt: "A",
        states: {
          // @ts-expect-error a catch goes to a state of the same graph
          A: invoke("f", { end: true, catch: [{ errors: ["States.ALL"], next: "Elsewhere" }] }),
        },
        functions: { f: { handler: HANDLER } },
      }),
    /catches States\.ALL into "Elsewhere"/,
  );
});

// --- the component, under Pulumi's mocks ---------------------------------------------------------------------------

let platform: Record<string, any>;
test.before(async () => {
  platform = await platformOutputs("dev");
});

function billing(extra: Partial<ServiceDefinition> = {}) {
  return underMocks(
    () =>
      defineService({
        name: "billing",
        publishes: ["billing.invoice-issued"],
        consumers: { "on-order-placed": { event: "orders.order-placed", handler: HANDLER, starts: ["issue"] } },
        http: { routes: { "GET /invoices/{invoiceId}": { handler: HANDLER, data: "read" } } },
        workflows: { issue: saga() },
        ...extra,
      }),
    { platform, project: "billing" },
  );
}

test("a service's workflow: the state machine with the resolved ASL, logging, tracing, the platform's key and alarms", async () => {
  const { mocks } = await billing();
  const [component] = mocks.byType(WORKFLOW_TYPE);
  assert.equal(component!.inputs.stateMachineName, "dev-billing-issue");
  const machine = mocks.one("aws:sfn/stateMachine:StateMachine", "billing-issue-state-machine");
  assert.equal(machine.inputs.name, "dev-billing-issue");
  assert.equal(machine.inputs.type, "STANDARD");
  const asl = JSON.parse(machine.inputs.definition);
  const reserve = mocks.one("aws:lambda/function:Function", "billing-reserve-function");
  assert.equal(asl.States.Steps.Branches[0].States.Reserve.Resource, reserve.state.arn);
  assert.equal(asl.States.Issued.Parameters.TopicArn, platform.eventTopics["billing.invoice-issued"].arn);
  assert.equal(asl.States.Rejected.Parameters.TopicArn, platform.failureTopic.arn);
  const logs = mocks.one("aws:cloudwatch/logGroup:LogGroup", "billing-issue-logs");
  assert.equal(logs.inputs.name, "/aws/vendedlogs/states/dev-billing-issue");
  assert.equal(machine.inputs.loggingConfiguration, { logDestination: `${logs.state.arn}:*`, level: "ERROR", includeExecutionData: false });
  assert.equal(machine.inputs.tracingConfiguration, { enabled: true });
  assert.equal(machine.inputs.encryptionConfiguration, { type: "CUSTOMER_MANAGED_KMS_KEY", kmsKeyId: platform.eventsKeyArn, kmsDataKeyReusePeriodSeconds: 300 });
  const alarms = mocks.byType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.inputs.namespace === "AWS/States");
  assert.equal(alarms.map((a) => a.inputs.metricName).sort(), ["ExecutionsFailed", "ExecutionsTimedOut"]);
  for (const alarm of alarms) {
    assert.equal(alarm.inputs.dimensions, { StateMachineArn: machine.state.arn });
    assert.equal(alarm.inputs.alarmActions, [platform.alarmTopic.arn]);
  }
});

test("the state machine's role holds exactly what its states do, on exactly the ARNs they name", async () => {
  const { mocks } = await billing();
  const machineArn = "arn:aws:states:eu-west-1:" + platform.accountId + ":stateMachine:dev-billing-issue";
  const role = mocks.one("aws:iam/role:Role", "billing-issue-role");
  const trust = policyDocument(role, "assumeRolePolicy");
  assert.equal(trust.Statement[0]!.Principal, { Service: "states.amazonaws.com" });
  assert.equal(trust.Statement[0]!.Condition, { StringEquals: { "aws:SourceAccount": platform.accountId }, ArnLike: { "aws:SourceArn": machineArn } });
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-issue-policy")).Statement;
  const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
  const fnArn = (n: string) => mocks.one("aws:lambda/function:Function", `billing-${n}-function`).state.arn;
  assert.equal(bySid.InvokeOwnFunctions!.Resource, [fnArn("reserve"), fnArn("charge"), fnArn("release")]);
  assert.equal(bySid.InvokeOwnFunctions!.Action, "lambda:InvokeFunction");
  assert.equal(bySid.PublishOwnedEvents!.Resource, platform.eventTopics["billing.invoice-issued"].arn);
  assert.equal(bySid.PublishFailureEvents!.Resource, platform.failureTopic.arn);
  assert.equal(bySid.UseStateMachineKey!.Condition, { StringEquals: { "kms:EncryptionContext:aws:states:stateMachineArn": machineArn } });
  assert.equal(bySid.DeliverLogs!.Action, [...LOG_DELIVERY_ACTIONS]);
  assert.equal(Object.keys(bySid), ["InvokeOwnFunctions", "PublishOwnedEvents", "PublishFailureEvents", "EncryptForEventTopics", "UseStateMachineKey", "EncryptLogDeliveries", "DeliverLogs", "SendTraces"]);
});

test("only the function that starts the workflow gets its ARN and states:StartExecution on it", async () => {
  const { mocks } = await billing();
  const machineArn = "arn:aws:states:eu-west-1:" + platform.accountId + ":stateMachine:dev-billing-issue";
  const starter = mocks.one("aws:lambda/function:Function", "billing-on-order-placed-function-function");
  assert.equal(JSON.parse(starter.inputs.environment.variables[ENV.workflows]), { issue: machineArn });
  const start = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-on-order-placed-function-start-workflows"));
  assert.equal(start.Statement[0], { Sid: "StartOwnWorkflows", Effect: "Allow", Action: "states:StartExecution", Resource: machineArn });
  assert.equal(start.Statement[1]!.Condition, { StringEquals: { "kms:EncryptionContext:aws:states:stateMachineArn": machineArn } });
  for (const fn of mocks.byType("aws:lambda/function:Function").filter((f) => f.name !== starter.name)) {
    assert.equal(fn.inputs.environment.variables[ENV.workflows], undefined, `${fn.name} starts nothing`);
  }
  const startPolicies = mocks.byType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.name === "start-workflows");
  assert.equal(startPolicies.length, 1);
});

test("Express on request; the stage config sets the log level and execution data", async () => {
  const express = defineWorkflow({ type: "express", startAt: "A", states: { A: pass({ end: true }) } });
  const { mocks } = await underMocks(
    () => {
      const { setAllConfig } = require("@pulumi/pulumi").runtime;
      setAllConfig({ "aws:region": "eu-west-1", "billing:platformStack": "organization/platform/dev", "billing:workflowLogLevel": "ALL", "billing:workflowLogExecutionData": "true" });
      return defineService({
        name: "billing",
        consumers: { "on-order-placed": { event: "orders.order-placed", handler: HANDLER, starts: ["quick"] } },
        workflows: { quick: express },
      });
    },
    { platform, project: "billing" },
  );
  const machine = mocks.one("aws:sfn/stateMachine:StateMachine", "billing-quick-state-machine");
  assert.equal(machine.inputs.type, "EXPRESS");
  assert.equal(machine.inputs.loggingConfiguration.level, "ALL");
  assert.equal(machine.inputs.loggingConfiguration.includeExecutionData, true);
  const statements = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-quick-policy")).Statement;
  assert.not.ok(statements.some((s) => s.Sid === "InvokeOwnFunctions" || s.Sid === "PublishOwnedEvents"), "a workflow that invokes and publishes nothing gets neither");
});

test("a service with a workflow passes every guardrail (the state machine role's log delivery and X-Ray reads take Resource \"*\")", async () => {
  const { mocks } = await billing();
  const violations = await evaluateGuardrails(mocks.resources, guardrailPolicies);
  assert.equal(violations.map((v) => `${v.policy}: ${v.message}`), []);
});

test("the platform's key lets CloudWatch Logs' delivery service decrypt (only that) for the state machines' logs, in its own account", async () => {
  const run = await runProgram({ projectDir: REPO_ROOT, stage: "dev" });
  const [key] = run.mocks.byType("aws:kms/key:Key");
  const statement = policyDocument(key!).Statement.find((s) => s.Sid === "StateMachineLogDelivery");
  assert.equal(statement, {
    Sid: "StateMachineLogDelivery",
    Effect: "Allow",
    Principal: { Service: "delivery.logs.amazonaws.com" },
    Action: ["kms:Decrypt"],
    Resource: "*",
    Condition: { StringEquals: { "aws:SourceAccount": run.outputs.accountId } },
  });
  const rule = guardrailPolicies.filter((p) => p.name === "kms-service-principal-actions");
  assert.equal(await evaluateGuardrails(run.mocks.resources, rule), []);
  const broader = resource("aws:kms/key:Key", "events-key", { enableKeyRotation: true, policy: doc({ ...statement!, Action: ["kms:GenerateDataKey*", "kms:Decrypt"] }) });
  const violations = await evaluateGuardrails([broader], rule);
  assert.match(violations[0]!.message, /\(delivery\.logs\.amazonaws\.com\) grants kms:GenerateDataKey\*; the Step Functions developer guide lists exactly kms:Decrypt for log delivery/);
});

async function serviceRejects(extra: Partial<ServiceDefinition>, message: RegExp): Promise<void> {
  try {
    await billing(extra);
    assert.unreachable(`expected ${message}`);
  } catch (error) {
    assert.match((error as Error).message, message);
  }
}

test("a service refuses a start of an unknown workflow, a name clash and an event it does not publish", async () => {
  await serviceRejects(
    { consumers: { "on-order-placed": { event: "orders.order-placed", handler: HANDLER, starts: ["ghost"] } } },
    /consumer "on-order-placed" of service "billing" starts workflow "ghost", which the service does not define \(workflows: issue\)/,
  );
  await serviceRejects(
    { consumers: { reserve: { event: "orders.order-placed", handler: HANDLER } } },
    /consumer "reserve" and a function of workflow "issue" would both be named "reserve"/,
  );
  await serviceRejects({ publishes: [] }, /workflow "issue" of service "billing" publishes "billing.invoice-issued", which the service does not declare/);
});

test.run();
