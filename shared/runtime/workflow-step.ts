import type { Context } from "aws-lambda";
import { WORKFLOW_INPUT_KEY, type WorkflowStart } from "../contract/workflow";
import { runInScope, type InvocationScope } from "./invocation-scope";
import { logger as rootLogger, type Logger } from "./logger";
import { childTraceparent, newTraceparent } from "./trace-context";
import { newEventId } from "./event-id";

/** What a workflow step gets besides its input. */
export interface StepContext {
  /** The logger (its lines carry the workflow's correlation id). */
  readonly logger: Logger;
  /** The starter's context (correlation id, trace, what caused the execution), when the input carries it. */
  readonly start: WorkflowStart | undefined;
  readonly lambdaContext?: Context;
}

/** A Lambda handler for a workflow's `invoke` state. */
export type StepHandler<I, O> = (input: I & { [WORKFLOW_INPUT_KEY]?: WorkflowStart }, context?: Context) => Promise<O>;

function startOf(input: unknown): WorkflowStart | undefined {
  const start = (input as Record<string, unknown> | null)?.[WORKFLOW_INPUT_KEY] as Partial<WorkflowStart> | undefined;
  if (!start || typeof start.correlationId !== "string" || typeof start.traceparent !== "string") return undefined;
  return start as WorkflowStart;
}

/**
 * A function a workflow's `invoke` state runs: `step` gets the state's input without the starter's `_workflow`
 * context, and runs with that context as its scope, so its log lines carry the workflow's correlation id and what it
 * publishes continues the workflow's correlation and trace (caused by the event that started the workflow). Its
 * result is the state's result. Errors go back to Step Functions under their `name`: a state's `retry` and `catch`
 * match `RetryableError`, `BusinessRuleError` and the rest by that name.
 * @example
 * export const handler = workflowStep(async (input: { orderId: string }, { logger }) => {
 *   logger.info("reserving", { orderId: input.orderId });
 *   return { reserved: true };
 * });
 */
export function workflowStep<I extends object, O>(step: (input: I, context: StepContext) => Promise<O> | O): StepHandler<I, O> {
  return async (input, lambdaContext) => {
    const start = startOf(input);
    const { [WORKFLOW_INPUT_KEY]: _, ...own } = (input ?? {}) as Record<string, unknown>;
    const scope: InvocationScope = {
      correlationId: start?.correlationId ?? newEventId(),
      traceparent: start ? childTraceparent(start.traceparent) : newTraceparent(),
      ...(start ? { eventId: start.causationId, eventType: start.causationType } : {}),
      requestId: lambdaContext?.awsRequestId,
      sequence: new Map(),
    };
    return runInScope(scope, async () => {
      const logger = rootLogger.child({ correlationId: scope.correlationId });
      return step(own as I, { logger, start, ...(lambdaContext ? { lambdaContext } : {}) });
    });
  };
}
