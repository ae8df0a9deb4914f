/**
 * Faults on a workflow's starter (a consumer whose action calls `startWorkflow`, named after the event), installed by
 * wrapping the Step Functions engine's `startExecution` on the instance (removed again by the function it returns),
 * so the engine stays free of fault code. For a share of the starting events, drawn from the run's seed and the
 * event id (the execution's name):
 * - throttled: StartExecution answers `ThrottlingException` to the starter's first attempts, more of them than the SDK
 *   retries, so the consumer reports the record failed and it comes back after the visibility timeout;
 * - crash after start: the execution starts, then the starter's worker is killed before it hears the answer, so
 *   the event is delivered again and the starter calls StartExecution again with the same name and input (answered
 *   with the running execution, or `ExecutionAlreadyExists` once it closed: nothing starts twice).
 * The check ({@link checkWorkflowRun}) then asks: one execution per valid event (or the event in the starter's
 * dead-letter queue, given up on), none for a poison one, each succeeded, and one follow-up per execution.
 */
import { AwsServiceError } from "../aws";
import type { StepFunctionsEngine } from "../stepfunctions/engine";
import { SDK_MAX_ATTEMPTS } from "./plan";
import { drawFor } from "./relay-faults";

export interface WorkflowFaultRates {
  /** Share of starting events whose first StartExecution calls are throttled. @default 0.03 */
  throttle: number;
  /** Share of starting events after whose StartExecution the starter's worker is killed. @default 0.03 */
  crashAfterStart: number;
}

export const DEFAULT_WORKFLOW_FAULT_RATES: Readonly<WorkflowFaultRates> = { throttle: 0.03, crashAfterStart: 0.03 };

export interface WorkflowFaultCounters {
  /** StartExecution calls answered ThrottlingException, and the events they were for. */
  throttledStarts: number;
  throttledEvents: number;
  /** Starter workers killed right after their StartExecution took effect. */
  crashes: number;
  /** StartExecution calls that started an execution, per execution name. */
  started: Map<string, number>;
  /** Calls for a name already started: answered with the running execution, or ExecutionAlreadyExists. */
  sameExecution: number;
  alreadyExists: number;
}

export interface WorkflowFaultOptions {
  seed: number;
  rates?: Partial<WorkflowFaultRates>;
  /** The starters' function names (the principal of their StartExecution calls). */
  starters: ReadonlySet<string>;
  /** Kills the starter invocation that made the call (its host's `crash`). */
  crash(functionName: string, traceHeader: string | undefined): Promise<boolean>;
  /** One line per injected fault. */
  note?(eventId: string, what: string): void;
}

/** The draws that decide an event's starter faults (below the rates: throttled, crashed after its start). */
export function workflowFaultDraws(seed: number, eventId: string): { throttle: number; crashAfterStart: number } {
  return { throttle: drawFor(seed ^ 0x2f6b_1d3c, eventId), crashAfterStart: drawFor(seed ^ 0x7a3c_9e11, eventId) };
}

/**
 * Installs the starter faults on `engine`.
 * @returns the counters and a function that removes the faults
 */
export function installWorkflowFaults(engine: StepFunctionsEngine, options: WorkflowFaultOptions): { counters: WorkflowFaultCounters; uninstall: () => void } {
  const rates = { ...DEFAULT_WORKFLOW_FAULT_RATES, ...options.rates };
  const counters: WorkflowFaultCounters = { throttledStarts: 0, throttledEvents: 0, crashes: 0, started: new Map(), sameExecution: 0, alreadyExists: 0 };
  const throttlesLeft = new Map<string, number>();
  const crashed = new Set<string>();
  const start = engine.startExecution;
  engine.startExecution = function startWithFaults(this: StepFunctionsEngine, request) {
    const principal = request.context.principal;
    const name = request.name;
    if (!options.starters.has(principal) || name === undefined) return start.call(this, request);
    const draws = workflowFaultDraws(options.seed, name);
    if (draws.throttle < rates.throttle) {
      if (!throttlesLeft.has(name)) {
        // One more than the SDK's attempts: the start fails, the consumer reports the record, SQS brings it back.
        throttlesLeft.set(name, SDK_MAX_ATTEMPTS + 1);
        counters.throttledEvents++;
      }
      const left = throttlesLeft.get(name)!;
      if (left > 0) {
        throttlesLeft.set(name, left - 1);
        counters.throttledStarts++;
        options.note?.(name, "StartExecution throttled");
        throw new AwsServiceError("ThrottlingException", "Rate exceeded");
      }
    }
    let result: ReturnType<StepFunctionsEngine["startExecution"]>;
    try {
      result = start.call(this, request);
    } catch (error) {
      if ((error as { code?: string }).code === "ExecutionAlreadyExists") counters.alreadyExists++;
      throw error;
    }
    if (result.existing) counters.sameExecution++;
    else counters.started.set(name, (counters.started.get(name) ?? 0) + 1);
    if (!crashed.has(name) && draws.crashAfterStart < rates.crashAfterStart) {
      crashed.add(name);
      const traceHeader = request.context.traceHeader;
      // The execution has started; the starter dies before it hears the answer (it is waiting for it now, so the
      // kill always finds it).
      void options.crash(principal, traceHeader).then((killed) => {
        if (killed) counters.crashes++;
        options.note?.(name, killed ? "starter worker killed after its StartExecution" : "no starter worker to kill");
      });
    }
    return result;
  };
  return {
    counters,
    uninstall: () => {
      // The wrapper is an own property of the instance: deleting it restores the class's method.
      delete (engine as Partial<Pick<StepFunctionsEngine, "startExecution">>).startExecution;
    },
  };
}

/** What the workflow check reads once the run has drained. */
export interface WorkflowObservations {
  /** Ids of the events the starter should start an execution for (valid ones), and of those it must not (poison). */
  valid: readonly string[];
  poison: readonly string[];
  /** The executions (name = the starting event's id) and how they closed. */
  executions: readonly { name: string; status: string; error?: string }[];
  /** StartExecution calls that started an execution, per name (see {@link WorkflowFaultCounters.started}). */
  started: ReadonlyMap<string, number>;
  /** The causation id of every copy of every follow-up the executions published. */
  followUps: readonly (string | undefined)[];
  /** Ids of the events in the starters' dead-letter queues (given up on: a redrive starts them). */
  deadLettered?: readonly string[];
}

export interface WorkflowViolation {
  rule: "not-started" | "started-twice" | "poison-started" | "not-succeeded" | "follow-up-count";
  eventId: string;
  detail: string;
}

/** One execution per valid event, none for poison, each succeeded, one follow-up each. A pure function of its input. */
export function checkWorkflowRun(observed: WorkflowObservations): { violations: WorkflowViolation[]; executions: number; succeeded: number; deadLettered: number } {
  const violations: WorkflowViolation[] = [];
  const byName = new Map<string, { name: string; status: string; error?: string }[]>();
  for (const execution of observed.executions) byName.set(execution.name, [...(byName.get(execution.name) ?? []), execution]);
  const followUps = new Map<string, number>();
  for (const causation of observed.followUps) if (causation !== undefined) followUps.set(causation, (followUps.get(causation) ?? 0) + 1);
  const deadLettered = new Set(observed.deadLettered ?? []);
  for (const id of observed.valid) {
    const executions = byName.get(id) ?? [];
    const starts = observed.started.get(id) ?? 0;
    if (executions.length === 0) {
      if (!deadLettered.has(id)) violations.push({ rule: "not-started", eventId: id, detail: `no execution named ${id}, and not in the starter's dead-letter queue` });
    } else if (executions.length > 1 || starts > 1) violations.push({ rule: "started-twice", eventId: id, detail: `${executions.length} executions, ${starts} starts` });
    else if (executions[0]!.status !== "SUCCEEDED") violations.push({ rule: "not-succeeded", eventId: id, detail: `execution ${id} ${executions[0]!.status}${executions[0]!.error ? `: ${executions[0]!.error}` : ""}` });
    if (executions.length === 1 && executions[0]!.status === "SUCCEEDED" && followUps.get(id) !== 1) {
      violations.push({ rule: "follow-up-count", eventId: id, detail: `${followUps.get(id) ?? 0} follow-ups for execution ${id}` });
    }
  }
  for (const id of observed.poison) {
    if (byName.has(id)) violations.push({ rule: "poison-started", eventId: id, detail: `a poison event started execution ${id}` });
  }
  return {
    violations,
    executions: observed.executions.length,
    succeeded: observed.executions.filter((e) => e.status === "SUCCEEDED").length,
    deadLettered: observed.valid.filter((id) => deadLettered.has(id) && !byName.has(id)).length,
  };
}
