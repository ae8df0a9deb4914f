import { randomUUID } from "node:crypto";
import type { Envelope, EventType, FailureEventData } from "../contract";
import { WORKFLOW_INPUT_KEY, type WorkflowStart } from "../contract/workflow";
import { type AslTargets, type StateGraph, type WorkflowDefinition, type WorkflowState } from "../infra/workflow";
// The local stage's own checks and polyfill: a definition runs here exactly as `npm start` runs it, or not at all.
import { checkDefinition, runnableCopy } from "../local/stepfunctions/definition";
import "../local/stepfunctions/polyfill";

/** A workflow's function as a test runs it: the handler module's export (a `workflowStep`, or any async function). */
export type WorkflowFunction = (input: any) => Promise<unknown> | unknown;

export interface WorkflowRun {
  /** The execution's output, when it succeeded. */
  output?: any;
  /** Why it failed (a Fail state's error and cause, or an error no state caught). */
  error?: { name: string; message: string };
  /** Catalog events its publish states sent, as consumers receive them. */
  published: Envelope[];
  /** Failure events its failure states sent (`platform.event-failed`: `data.reason`, `data.message`, ...). */
  failures: Envelope<FailureEventData>[];
  /** How often each function ran (retries included). */
  calls: Record<string, number>;
}

export interface RunWorkflowOptions {
  service: string;
  workflow: string;
  /** The workflow's functions, by logical name (its `functions`). */
  functions: Record<string, WorkflowFunction>;
  /** The starter's context. @default a new correlation, as if started outside a consumer */
  start?: Partial<WorkflowStart>;
}

/** State name -> function, over the whole graph (branches and Map processors share the override table). */
function invokesByState(graph: StateGraph, into = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries(graph.states) as [string, WorkflowState][]) {
    if (state.type === "invoke") {
      const other = into.get(name);
      if (other !== undefined && other !== state.function) throw new Error(`two states named "${name}" run different functions; rename one`);
      into.set(name, state.function);
    }
    if (state.type === "parallel") for (const b of state.branches) invokesByState(b.graph, into);
    if (state.type === "map") invokesByState(state.processor.graph, into);
  }
  return into;
}

function statesOf(graph: StateGraph, type: WorkflowState["type"], into: string[] = []): string[] {
  for (const [name, state] of Object.entries(graph.states) as [string, WorkflowState][]) {
    if (state.type === type) into.push(name);
    if (state.type === "parallel") for (const b of state.branches) statesOf(b.graph, type, into);
    if (state.type === "map") statesOf(state.processor.graph, type, into);
  }
  return into;
}

/**
 * Runs a workflow definition in-process with the ASL interpreter the local stage uses (aws-local-stepfunctions, after
 * the stage's own checks of what it would run differently), for
 * a service's unit tests: its `invoke` states call the given functions (what each returns or throws is the state's
 * result or error, so retries and catches run as written), its publish and failure states are recorded instead of
 * sent. The input carries the starter's context as startWorkflow would add it. Waits run for real: keep them short.
 * @example
 * const run = await runWorkflowLocally(fulfilOrder, { orderId: "o-1" }, { service: "fulfilment", workflow: "fulfil-order", functions: { "reserve-stock": reserve } });
 * assert.is(run.published[0]?.type, "fulfilment.order-fulfilled");
 */
export async function runWorkflowLocally(definition: WorkflowDefinition, input: Record<string, unknown>, options: RunWorkflowOptions): Promise<WorkflowRun> {
  const account = "123456789012";
  const targets: AslTargets = {
    service: options.service,
    workflow: options.workflow,
    functionArn: (name) => `arn:aws:lambda:eu-west-1:${account}:function:test-${options.service}-${name}`,
    topicArn: (type: EventType) => `arn:aws:sns:eu-west-1:${account}:test-${type.replace(/\./g, "-")}`,
    failureTopicArn: `arn:aws:sns:eu-west-1:${account}:test-platform-event-failed`,
  };
  const run: WorkflowRun = { published: [], failures: [], calls: {} };
  const handlers: Record<string, (input: any) => Promise<unknown>> = {};
  for (const [state, fn] of invokesByState(definition.graph)) {
    const implementation = options.functions[fn];
    if (!implementation) throw new Error(`no implementation of function "${fn}" (state "${state}") in functions`);
    handlers[state] = async (stateInput) => {
      run.calls[fn] = (run.calls[fn] ?? 0) + 1;
      // The function sees JSON, as Lambda hands it over.
      return JSON.parse(JSON.stringify((await implementation(JSON.parse(JSON.stringify(stateInput)))) ?? null));
    };
  }
  for (const state of statesOf(definition.graph, "publish")) {
    handlers[state] = async (parameters: { Message: Envelope }) => {
      run.published.push(JSON.parse(JSON.stringify(parameters.Message)));
      return { MessageId: randomUUID() };
    };
  }
  for (const state of statesOf(definition.graph, "failure")) {
    handlers[state] = async (parameters: { Message: Envelope<FailureEventData> }) => {
      run.failures.push(JSON.parse(JSON.stringify(parameters.Message)));
      return { MessageId: randomUUID() };
    };
  }
  const start: WorkflowStart = {
    correlationId: options.start?.correlationId ?? randomUUID(),
    traceparent: options.start?.traceparent ?? `00-${randomUUID().replace(/-/g, "")}-${randomUUID().replace(/-/g, "").slice(0, 16)}-01`,
    causationId: options.start?.causationId ?? randomUUID(),
    causationType: options.start?.causationType ?? "direct",
  };
  const { StateMachine } = await import("aws-local-stepfunctions");
  const checked = checkDefinition(`${options.service}/${options.workflow}`, definition.toAsl(targets));
  const machine = new StateMachine(runnableCopy(checked.definition) as never);
  const execution = machine.run({ ...input, [WORKFLOW_INPUT_KEY]: start } as never, { overrides: { taskResourceLocalHandlers: handlers as never } });
  try {
    run.output = await execution.result;
  } catch (error) {
    const cause = (error as { cause?: { name?: string; message?: string } }).cause;
    run.error = { name: cause?.name ?? (error as Error).name, message: cause?.message ?? (error as Error).message };
  }
  return run;
}

