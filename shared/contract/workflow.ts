/**
 * What a workflow (a Step Functions state machine of a service) and the code that starts it agree on: the shape of
 * an execution's input and the rules of execution names. `shared/infra/workflow.ts` writes states that read these
 * fields; `shared/runtime/workflow.ts` (`startWorkflow`) writes them.
 */

/**
 * The key of the execution input that carries the starter's context. `startWorkflow` adds it beside the caller's
 * input (`{ ...input, _workflow: { ... } }`); the states that publish events read it through the context object
 * (`$$.Execution.Input._workflow`), so it is reachable from every state whatever the state data has become.
 */
export const WORKFLOW_INPUT_KEY = "_workflow";

/** The starter's context, as the execution input carries it under `WORKFLOW_INPUT_KEY`. */
export interface WorkflowStart {
  /** The conversation the execution belongs to: every event it publishes carries it. */
  correlationId: string;
  /** W3C trace context of the start: every event the execution publishes continues this trace. */
  traceparent: string;
  /**
   * What caused the execution: the id of the event whose consumer started it (also the execution name), or, when
   * started from an HTTP route or elsewhere, the execution name. Events the execution publishes carry it as
   * `causationid`; its failure events as `originalId`.
   */
  causationId: string;
  /** The type of that event, or `"http"` / `"direct"` when no event started it. */
  causationType: string;
}

/** Execution names: 1 to 80 characters; no whitespace, brackets, wildcards, control characters or `"#%\^|~\`$&,;:/` (Step Functions API reference, StartExecution). */
export const EXECUTION_NAME_PATTERN = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

/** Whether a string is a valid execution name. */
export function isExecutionName(name: string): boolean {
  return EXECUTION_NAME_PATTERN.test(name);
}
