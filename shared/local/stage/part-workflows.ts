/**
 * The workflows part: the programs' Step Functions state machines on the local engine (shared/local/stepfunctions,
 * aws-local-stepfunctions underneath), their Step Functions endpoint (AWS JSON 1.0, for the functions' unmodified
 * `@aws-sdk/client-sfn`), and their tasks: a Lambda function ARN or `arn:aws:states:::lambda:invoke` runs the
 * function's host (the same bundle), `arn:aws:states:::sns:publish` publishes on the local SNS engine. Every call a
 * state machine makes is authorized against its role's policies first, as the role it assumes in AWS.
 */
import { randomUUID } from "node:crypto";
import { WORKFLOW_INPUT_KEY } from "../../contract/workflow";
import { AwsServiceError } from "../aws";
import { childContext, traceHeaderOf, type RequestContext } from "../context";
import { startEndpointServer, type EndpointServer } from "../endpoints/server";
import type { Authorizer } from "../iam/authorizer";
import type { FunctionHost, InvocationResult } from "../lambda/function-host";
import type { PublishInput, PublishResult } from "../sns/engine";
import { createStepFunctionsEndpoint } from "../stepfunctions/endpoint";
import { StepFunctionsEngine, type ExecutionRecord, type FunctionAnswer, type StateMachineConfig, type TaskCall } from "../stepfunctions/engine";
import type { PartHealth, StagePart } from "./parts";
import { envelopeHints, type TraceRecorder } from "./trace";
import type { StageWiring, StateMachineSpec } from "./wiring";

/** What the workflows part needs. */
export interface WorkflowsPartOptions {
  wiring: StageWiring;
  authorizer: Authorizer;
  recorder: TraceRecorder;
  /** The function hosts (known once the functions part started: tasks run only after that). */
  hosts: () => ReadonlyMap<string, FunctionHost>;
  /** Publishes on the SNS engine, traced (the messaging part's). */
  publish: (input: PublishInput, context: RequestContext) => PublishResult;
  /**
   * Every Wait state and Retry interval lasts this many milliseconds (`npm start -- --short-waits`).
   * @default as the definitions say
   */
  shortWaitsMs?: number;
}

/** The workflows part; its products are there once it started. */
export interface WorkflowsPart extends StagePart<StageWiring> {
  /** The Step Functions endpoint (`AWS_ENDPOINT_URL_SFN` of the functions). */
  readonly url: string;
  readonly engine: StepFunctionsEngine;
}

/** The principal a state machine's calls are authorized as (its role, assumed by Step Functions). */
export function stateMachinePrincipal(stateMachineName: string): string {
  return `states:${stateMachineName}`;
}

function configOf(spec: StateMachineSpec): StateMachineConfig {
  return { name: spec.name, arn: spec.arn, definition: spec.definition, roleArn: spec.roleArn, type: spec.type };
}

/** The correlation id an execution's input carries: the starter's (`_workflow`, see startWorkflow), or a CloudEvent's. */
function correlationOf(input: string): string | undefined {
  const hints = envelopeHints(input);
  if (hints.correlationId) return hints.correlationId;
  try {
    const value = JSON.parse(input) as Record<string, { correlationId?: unknown } | undefined> & { correlationId?: unknown };
    const id = value?.[WORKFLOW_INPUT_KEY]?.correlationId ?? value?.correlationId;
    return typeof id === "string" && id ? id : undefined;
  } catch {
    return undefined;
  }
}

export function workflowsPart(options: WorkflowsPartOptions): WorkflowsPart {
  const { authorizer, recorder } = options;
  let wiring = options.wiring;
  let server: EndpointServer | undefined;
  let state: PartHealth = { status: "starting" };
  const registered = new Set<string>();

  const register = (specs: readonly StateMachineSpec[]): void => {
    for (const principal of registered) authorizer.unregister(principal);
    registered.clear();
    for (const spec of specs) {
      const principal = stateMachinePrincipal(spec.name);
      authorizer.register(principal, spec.policies, { roleName: spec.roleArn.split("/").pop() || spec.name, sessionName: spec.name, accountId: wiring.accountId });
      registered.add(principal);
    }
  };

  /** Asks IAM as the state machine's role; throws `code` with AWS's denial message when refused. */
  const authorize = (call: TaskCall, action: string, resource: string, code: string, context: RequestContext): void => {
    const decision = authorizer.authorize({
      principal: stateMachinePrincipal(call.stateMachine.name),
      action,
      resource,
      context: { region: wiring.region, conditionKeys: { "aws:CurrentTime": new Date().toISOString() }, requestContext: context } as never,
    });
    if (!decision.allowed) {
      const reason = decision.explicitDeny ? "with an explicit deny in an identity-based policy" : `because ${decision.reason}`;
      throw new AwsServiceError(code, `User: ${decision.principalArn} is not authorized to perform: ${action} on resource: ${resource} ${reason}`);
    }
  };

  const invokeFunction = async (functionArn: string, payload: unknown, call: TaskCall): Promise<FunctionAnswer> => {
    const context = childContext(call.state.context, "states.amazonaws.com", correlationOf(call.execution.input));
    authorize(call, "lambda:InvokeFunction", functionArn, "AccessDeniedException", context);
    const name = functionArn.split(":").pop() ?? functionArn;
    const host = options.hosts().get(name);
    if (!host) throw new AwsServiceError("ResourceNotFoundException", `Function not found: ${functionArn}`);
    const requestId = randomUUID();
    const node = recorder.invocationStarted({ functionName: host.name, context, requestId });
    let result: InvocationResult;
    try {
      result = await host.invoke(payload, { requestId, traceHeader: traceHeaderOf(context) });
    } catch (error) {
      recorder.invocationFinished(node, { status: "failed", error: (error as Error).message });
      throw new AwsServiceError("ServiceException", (error as Error).message, { senderFault: false });
    }
    if (!result.ok) {
      const timedOut = result.error.errorType === "Sandbox.Timedout";
      recorder.invocationFinished(node, { status: timedOut ? "timeout" : "failed", error: `${result.error.errorType}: ${result.error.errorMessage}`, durationMs: result.durationMs });
      return { ok: false, errorType: result.error.errorType, errorMessage: result.error.errorMessage, ...(result.error.trace ? { trace: result.error.trace } : {}) };
    }
    recorder.invocationFinished(node, {
      status: "ok",
      durationMs: result.durationMs,
      ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}),
    });
    return { ok: true, payload: result.payload };
  };

  const publish = async (input: Record<string, unknown>, call: TaskCall): Promise<{ MessageId: string }> => {
    const context = childContext(call.state.context, stateMachinePrincipal(call.stateMachine.name), correlationOf(call.execution.input));
    const topicArn = typeof input.TopicArn === "string" ? input.TopicArn : "";
    if (!topicArn) throw new AwsServiceError("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
    authorize(call, "sns:Publish", topicArn, "AuthorizationError", context);
    return options.publish(input as unknown as PublishInput, context);
  };

  const engine = new StepFunctionsEngine({
    region: wiring.region,
    accountId: wiring.accountId,
    runner: { invokeFunction, publish },
    ...(options.shortWaitsMs !== undefined ? { shortWaitsMs: options.shortWaitsMs } : {}),
    observer: {
      executionStarted: (execution: ExecutionRecord) => {
        const correlationId = correlationOf(execution.input);
        recorder.executionStarted({
          stateMachine: execution.stateMachineName,
          executionArn: execution.executionArn,
          name: execution.name,
          startedBy: execution.startedBy,
          context: execution.context,
          ...(execution.callerSpanId ? { callerSpanId: execution.callerSpanId } : {}),
          ...(correlationId ? { correlationId } : {}),
        });
      },
      stateEntered: (execution, run) => {
        recorder.stateEntered(execution.executionArn, { name: run.name, type: run.type, spanId: run.context.spanId, enteredAt: run.enteredAt });
      },
      stateChanged: (_execution, run) => {
        recorder.stateChanged(run.context.spanId, {
          status: run.status,
          retries: run.retries,
          ...(run.error !== undefined ? { error: run.error } : {}),
          ...(run.exitedAt !== undefined ? { exitedAt: run.exitedAt } : {}),
        });
      },
      executionFinished: (execution) => {
        recorder.executionFinished(execution.executionArn, {
          status: execution.status,
          ...(execution.error !== undefined ? { error: execution.cause ? `${execution.error}: ${execution.cause}` : execution.error } : {}),
          durationMs: (execution.stopDate ?? new Date()).getTime() - execution.startDate.getTime(),
        });
      },
    },
  });

  const detail = () => {
    const all = engine.executions();
    const running = all.filter((e) => e.status === "RUNNING").length;
    const machines = wiring.stateMachines ?? [];
    return `${machines.length} state machines, ${all.length} executions (${running} running)${options.shortWaitsMs !== undefined ? `, waits and retry intervals ${options.shortWaitsMs} ms` : ""}; Step Functions at ${server?.url ?? "?"}`;
  };

  return {
    name: "workflows",
    // Starts alongside the other engines (see parts.ts).
    needs: [],
    engine,
    get url() {
      if (!server) throw new Error("the workflows part has not started");
      return server.url;
    },
    async start() {
      const machines = wiring.stateMachines ?? [];
      // A definition the interpreter cannot run exactly stops the start here, naming the state.
      await engine.setStateMachines(machines.map(configOf));
      register(machines);
      server = await startEndpointServer({
        services: [createStepFunctionsEndpoint({ engine, authorize: authorizer.authorize, accountId: wiring.accountId, region: wiring.region })],
      });
      state = { status: "ok", detail: detail() };
    },
    async stop() {
      state = { status: "stopped" };
      await engine.stop();
      for (const principal of registered) authorizer.unregister(principal);
      await server?.close();
    },
    health: () => (state.status === "ok" ? { status: "ok", detail: detail() } : state),
    /** New definitions serve the next StartExecution; executions under way finish on the definition they started with. */
    async reconcile(next) {
      const machines = next.stateMachines ?? [];
      await engine.setStateMachines(machines.map(configOf));
      wiring = next;
      register(machines);
    },
  };
}
