import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { ENV } from "../contract/environment";
import { isExecutionName, WORKFLOW_INPUT_KEY, type WorkflowStart } from "../contract/workflow";
import { ConfigurationError } from "./errors";
import { derivedEventId, newEventId } from "./event-id";
import { readEnv } from "./function-environment";
import { inFunction } from "./init";
import { currentScope } from "./invocation-scope";
import { logger } from "./logger";
import { formatTraceparent, newTraceparent, parseTraceparent } from "./trace-context";

// Only a function that calls startWorkflow bundles the Step Functions client: this module is imported through the
// runtime's index, and esbuild drops it (the SDK package is free of side effects) when nothing uses startWorkflow.
// In a function that does, the client is created in the init phase (below), as the SNS and DynamoDB clients are.

let sfn: SFNClient | undefined;

/** The process's Step Functions client (created at init in a function that starts workflows, else on first use). */
export function sfnClient(): SFNClient {
  sfn ??= new SFNClient({});
  return sfn;
}

/** Forgets the client, so the next start builds one from the current environment (tests, the local stage). */
export function resetWorkflowClient(): void {
  sfn?.destroy();
  sfn = undefined;
}

function prepareWorkflowClient(): boolean {
  if (!inFunction() || readEnv(ENV.workflows) === undefined) return false;
  sfnClient();
  return true;
}

// Pure for esbuild: kept (and so run at init) only in a bundle that uses startWorkflow, which reads it.
const preparedAtInit = /* @__PURE__ */ prepareWorkflowClient();

/** The largest execution input Step Functions accepts (256 KiB, UTF-8). */
export const MAX_INPUT_BYTES = 262_144;

let workflowsCache: { raw: string; arns: Readonly<Record<string, string>> } | undefined;

/** Workflow name -> state machine ARN, for the workflows this function may start (`ENV.workflows`, a JSON object). */
export function workflowArns(): Readonly<Record<string, string>> {
  const raw = readEnv(ENV.workflows) ?? "{}";
  if (workflowsCache?.raw === raw) return workflowsCache.arns;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigurationError(`${ENV.workflows} is not JSON`, { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(`${ENV.workflows} must be a JSON object of workflow name -> state machine ARN`);
  }
  for (const [name, arn] of Object.entries(parsed)) {
    if (typeof arn !== "string" || !/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]+$/.test(arn)) {
      throw new ConfigurationError(`${ENV.workflows}: the state machine of "${name}" is not a state machine ARN`);
    }
  }
  workflowsCache = { raw, arns: Object.freeze(parsed as Record<string, string>) };
  return workflowsCache.arns;
}

export interface StartWorkflowOptions {
  /**
   * The execution's name: a Standard workflow starts one execution per name (a repeated start is answered with the
   * first one), so it is what makes a start idempotent.
   * @default the id of the event being handled (a redelivered event starts nothing twice), else a new UUID
   */
  executionName?: string;
}

export interface WorkflowStarted {
  /** `arn:aws:states:<region>:<account>:execution:<state machine>:<execution name>` */
  executionArn: string;
  executionName: string;
  /**
   * False when an execution of this name was already there (ExecutionAlreadyExists: the event was delivered again
   * after its execution finished, or the action built another input for the same event): nothing new started.
   */
  started: boolean;
}

/** The execution ARN for a state machine ARN and an execution name. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${executionName}`;
}

/**
 * The starter's context for the execution input. Deterministic for one event: a redelivery sends the same input
 * (Standard workflows answer a repeated name with the same input as the same execution; another input would be
 * refused). The trace continues the handled event's trace with a span id derived from the execution.
 */
function startContext(workflow: string, executionName: string): WorkflowStart {
  const scope = currentScope();
  const parent = parseTraceparent(scope?.traceparent);
  const spanId = derivedEventId("workflow", workflow, executionName).replace(/-/g, "").slice(0, 16);
  return {
    correlationId: scope?.correlationId ?? newEventId(),
    traceparent: parent ? formatTraceparent({ ...parent, parentId: spanId }) : newTraceparent(),
    causationId: scope?.eventId ?? executionName,
    causationType: scope?.eventType ?? (scope ? "http" : "direct"),
  };
}

/**
 * Starts an execution of one of its service's workflows (`starts: ["<name>"]` on the consumer or route gives the
 * function the state machine's ARN and the grant). The execution input is `input` plus the starter's context under
 * `_workflow` (correlation id, trace, causation), which the workflow's publishing states put in their envelopes.
 *
 * In a consumer the execution is named after the event's id: Standard workflows start one execution per name, so a
 * redelivered event starts nothing twice (`started: false`). Express workflows do not deduplicate names: their
 * executions run at least once and their states must be idempotent.
 * @example
 * export const handler = consume({
 *   "orders.order-placed": async (event) => {
 *     await startWorkflow("fulfil-order", { orderId: event.data.orderId, items: event.data.items });
 *   },
 * });
 */
export async function startWorkflow(workflow: string, input: Record<string, unknown>, options: StartWorkflowOptions = {}): Promise<WorkflowStarted> {
  void preparedAtInit;
  const stateMachineArn = workflowArns()[workflow];
  if (!stateMachineArn) {
    const known = Object.keys(workflowArns());
    throw new ConfigurationError(
      `no state machine for workflow "${workflow}" in ${ENV.workflows} (${known.join(", ") || "none"}): list it in this function's starts (the grant and the ARN come with it)`,
    );
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigurationError(`the input of workflow "${workflow}" must be a JSON object`);
  }
  if (Object.hasOwn(input, WORKFLOW_INPUT_KEY)) {
    throw new ConfigurationError(`the input of workflow "${workflow}" may not have "${WORKFLOW_INPUT_KEY}": startWorkflow sets it`);
  }
  const executionName = options.executionName ?? currentScope()?.eventId ?? newEventId();
  if (!isExecutionName(executionName)) {
    throw new ConfigurationError(
      `"${executionName}" is not a valid execution name: 1 to 80 characters, no whitespace, brackets, wildcards or "#%\\^|~\`$&,;:/`,
    );
  }
  const start = startContext(workflow, executionName);
  const body = JSON.stringify({ ...input, [WORKFLOW_INPUT_KEY]: start });
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_INPUT_BYTES) {
    throw new ConfigurationError(`the input of workflow "${workflow}" is ${bytes} bytes; Step Functions accepts at most ${MAX_INPUT_BYTES} (pass ids, not documents)`);
  }
  const command = new StartExecutionCommand({
    stateMachineArn,
    name: executionName,
    input: body,
    // The function's X-Ray trace, so the execution's segments join it (Lambda sets it per invocation).
    ...(process.env._X_AMZN_TRACE_ID ? { traceHeader: process.env._X_AMZN_TRACE_ID } : {}),
  });
  try {
    const answer = await sfnClient().send(command);
    const executionArn = answer.executionArn ?? executionArnOf(stateMachineArn, executionName);
    logger.info("workflow started", { workflow, executionArn });
    return { executionArn, executionName, started: true };
  } catch (error) {
    if ((error as { name?: string }).name !== "ExecutionAlreadyExists") throw error;
    const executionArn = executionArnOf(stateMachineArn, executionName);
    logger.info("workflow already started under this execution name: nothing new started", { workflow, executionArn });
    return { executionArn, executionName, started: false };
  }
}
