/**
 * The local Step Functions engine: the stage's state machines run on aws-local-stepfunctions (an ASL interpreter,
 * in-process), with executions kept as Step Functions keeps them (name idempotency of Standard workflows, status,
 * input and output, and a history in GetExecutionHistory's shapes). Task states go to a {@link TaskRunner} the stage
 * supplies (the function hosts, the SNS engine); what each state did is reported to an {@link ExecutionObserver} (the
 * trace). A definition the interpreter would run differently is refused when the state machine is set
 * (definition.ts).
 */
import "./polyfill";
import { randomUUID } from "node:crypto";
import { AwsServiceError } from "../aws";
import { childContext, type RequestContext } from "../context";
import { aslAccepted, recordAslAccepted } from "../../infra/helpers/asl-validation";
import { checkDefinition, runnableCopy, UnsupportedDefinitionError, type AslDefinition, type TaskKind } from "./definition";

type Interpreter = typeof import("aws-local-stepfunctions");
/** The checks aws-local-stepfunctions' StateMachine runs on a definition (its asl-validator options). */
const INTERPRETER_CHECKS = { checkArn: true, checkPaths: true };
let interpreter: Promise<Interpreter> | undefined;
/** The interpreter, loaded on first use (it loads the Lambda client: about 250 ms, paid only by stages with workflows). */
function loadInterpreter(): Promise<Interpreter> {
  interpreter ??= import("aws-local-stepfunctions");
  return interpreter;
}

/** A state machine as the stage runs it. */
export interface StateMachineConfig {
  name: string;
  arn: string;
  /** The ASL definition (JSON). */
  definition: string;
  roleArn: string;
  type: "STANDARD" | "EXPRESS";
}

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** One event of an execution's history, in GetExecutionHistory's shape (`timestamp` as a Date). */
export interface HistoryEvent {
  timestamp: Date;
  type: string;
  id: number;
  previousEventId: number;
  [details: string]: unknown;
}

/** One state's run within an execution (a Map's item runs its states once per item). */
export interface StateRun {
  name: string;
  type: string;
  /** The state's span (a child of the execution's); its tasks' calls are its children. */
  context: RequestContext;
  enteredAt: number;
  exitedAt?: number;
  status: "running" | "succeeded" | "failed" | "caught";
  error?: string;
  retries: number;
  /** A task of this run is under way (Map items running the same state each take their own run). */
  busy: boolean;
}

/** One execution. */
export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  stateMachineName: string;
  type: "STANDARD" | "EXPRESS";
  name: string;
  status: ExecutionStatus;
  /** The input as given (JSON text). */
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
  /** The execution's span, under the StartExecution call's. */
  context: RequestContext;
  /** Who started it (the caller's access key id: a function's name, or a tool's key). */
  startedBy: string;
  /** The span of the StartExecution call's caller (a function's invocation), when its trace header named one. */
  callerSpanId?: string;
  history: HistoryEvent[];
  states: StateRun[];
  /** Settles when the execution closes. */
  readonly done: Promise<ExecutionRecord>;
}

/** What a task is doing and for whom. */
export interface TaskCall {
  execution: ExecutionRecord;
  stateMachine: StateMachineConfig;
  state: StateRun;
}

/** How a Lambda function answered. */
export type FunctionAnswer = { ok: true; payload: unknown } | { ok: false; errorType: string; errorMessage: string; trace?: string[] };

/** Runs the tasks of the state machines. Throwing an error with a string `code` fails the task with that AWS error. */
export interface TaskRunner {
  invokeFunction(functionArn: string, payload: unknown, call: TaskCall): Promise<FunctionAnswer>;
  publish(input: Record<string, unknown>, call: TaskCall): Promise<{ MessageId: string }>;
}

/** Told about every execution, state and task (the stage's trace). */
export interface ExecutionObserver {
  executionStarted?(execution: ExecutionRecord): void;
  stateEntered?(execution: ExecutionRecord, state: StateRun): void;
  stateChanged?(execution: ExecutionRecord, state: StateRun): void;
  executionFinished?(execution: ExecutionRecord): void;
}

/** Options of a {@link StepFunctionsEngine}. */
export interface StepFunctionsEngineOptions {
  region: string;
  accountId: string;
  runner: TaskRunner;
  observer?: ExecutionObserver;
  /**
   * Shortens every Wait state and every Retry interval to this many milliseconds (quick local runs and tests).
   * @default waits and retries as the definition says
   */
  shortWaitsMs?: number;
}

interface Machine {
  config: StateMachineConfig;
  definition: AslDefinition;
  runnable: AslDefinition;
  tasks: Map<string, TaskKind>;
  waitStates: string[];
  retryingStates: string[];
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const MAX_INPUT_BYTES = 256 * 1024;

/** An error a task reports to the interpreter: `name` is the ASL error name, `message` its cause. */
class TaskError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

/**
 * The engine.
 *
 * @example
 * const engine = new StepFunctionsEngine({ region, accountId, runner });
 * await engine.setStateMachines([{ name, arn, definition, roleArn, type: "STANDARD" }]);
 * const { executionArn } = engine.startExecution({ stateMachineArn: arn, name: eventId, input: "{}", context });
 * await engine.execution(executionArn).done;
 */
export class StepFunctionsEngine {
  private readonly machines = new Map<string, Machine>();
  private readonly executionsByArn = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, () => void>();
  private stopped = false;

  constructor(private readonly options: StepFunctionsEngineOptions) {}

  /**
   * Replaces the state machines: every definition is checked first (nothing changes when one is refused). Running
   * executions finish on the definition they started with.
   * @throws UnsupportedDefinitionError naming the state machine and the state
   */
  async setStateMachines(configs: readonly StateMachineConfig[]): Promise<void> {
    const next = new Map<string, Machine>();
    for (const config of configs) {
      const { definition, tasks } = checkDefinition(config.name, config.definition);
      const names = allStates(definition);
      next.set(config.arn, {
        config,
        definition,
        runnable: runnableCopy(definition),
        tasks,
        waitStates: names.filter(([, state]) => state.Type === "Wait").map(([name]) => name),
        retryingStates: names.filter(([, state]) => Array.isArray(state.Retry)).map(([name]) => name),
      });
    }
    // The interpreter's own checks (asl-validator): a definition it would not run is refused now, not at its first
    // start. It runs asl-validator with these options; a definition it accepted before is not checked again (see
    // shared/infra/helpers/asl-validation.ts: its constructor does nothing else with checks off), one it has not is,
    // and recorded when accepted. So the interpreter (with the Lambda client, asl-validator and JSONata it loads) is
    // loaded here only when some definition is new to it; otherwise by the first execution.
    const unchecked = [...next.values()].filter((machine) => !aslAccepted(structuredClone(machine.runnable), INTERPRETER_CHECKS));
    if (unchecked.length > 0) {
      const { StateMachine } = await loadInterpreter();
      for (const machine of unchecked) {
        try {
          const checked = structuredClone(machine.runnable);
          new StateMachine(machine.runnable as never);
          recordAslAccepted(checked, INTERPRETER_CHECKS);
        } catch (error) {
          throw new UnsupportedDefinitionError(`state machine ${machine.config.name}: the local interpreter refuses its definition: ${(error as Error).message}`);
        }
      }
    }
    this.machines.clear();
    for (const [arn, machine] of next) this.machines.set(arn, machine);
  }

  /** The state machines, in the order set. */
  stateMachines(): StateMachineConfig[] {
    return [...this.machines.values()].map((m) => m.config);
  }

  /** A state machine by ARN. @throws StateMachineDoesNotExist */
  stateMachine(arn: string): StateMachineConfig {
    const machine = this.machines.get(arn);
    if (!machine) {
      if (!arn.startsWith("arn:aws:states:")) throw new AwsServiceError("InvalidArn", `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
      throw new AwsServiceError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${arn}'`);
    }
    return machine.config;
  }

  /**
   * Starts an execution. Standard workflows are idempotent by name, as in AWS: the same name and input while the
   * execution runs answer that execution (`existing: true`); the same name once it closed, or with other input, is
   * `ExecutionAlreadyExists`. Express workflows start a new execution every time.
   * @throws AwsServiceError StateMachineDoesNotExist, InvalidName, InvalidExecutionInput, ExecutionAlreadyExists
   */
  startExecution(request: { stateMachineArn: string; name?: string; input?: string; context: RequestContext }): { executionArn: string; startDate: Date; existing: boolean } {
    if (this.stopped) throw new AwsServiceError("ServiceUnavailable", "the local stage is stopping", { status: 503, senderFault: false });
    const machine = this.machines.get(request.stateMachineArn);
    if (!machine) this.stateMachine(request.stateMachineArn);
    const { config } = machine!;
    const name = request.name ?? randomUUID();
    if (!EXECUTION_NAME.test(name)) throw new AwsServiceError("InvalidName", `Invalid Name: '${name}' (1 to 80 letters, digits, - and _)`);
    const input = request.input ?? "{}";
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) throw new AwsServiceError("InvalidExecutionInput", "Invalid State Machine Execution Input: exceeds the maximum of 262144 bytes");
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      throw new AwsServiceError("InvalidExecutionInput", `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    const region = this.options.region;
    const accountId = this.options.accountId;
    let executionArn: string;
    if (config.type === "STANDARD") {
      executionArn = `arn:aws:states:${region}:${accountId}:execution:${config.name}:${name}`;
      const existing = this.executionsByArn.get(executionArn);
      if (existing) {
        // AWS: idempotent only while running and only for the same input; otherwise the name is taken.
        if (existing.status === "RUNNING" && existing.input === input) return { executionArn, startDate: existing.startDate, existing: true };
        throw new AwsServiceError("ExecutionAlreadyExists", `Execution Already Exists: '${executionArn}'`);
      }
    } else {
      executionArn = `arn:aws:states:${region}:${accountId}:express:${config.name}:${name}:${randomUUID()}`;
    }
    let settle!: (record: ExecutionRecord) => void;
    const done = new Promise<ExecutionRecord>((resolve) => (settle = resolve));
    const execution: ExecutionRecord = {
      executionArn,
      stateMachineArn: config.arn,
      stateMachineName: config.name,
      type: config.type,
      name,
      status: "RUNNING",
      input,
      startDate: new Date(),
      context: childContext(request.context, "states.amazonaws.com"),
      startedBy: request.context.principal,
      ...(request.context.parentSpanId ? { callerSpanId: request.context.parentSpanId } : {}),
      history: [],
      states: [],
      done,
    };
    this.executionsByArn.set(executionArn, execution);
    this.push(execution, "ExecutionStarted", { executionStartedEventDetails: { input, inputDetails: { truncated: false }, roleArn: config.roleArn } });
    this.options.observer?.executionStarted?.(execution);
    void this.run(machine!, execution, parsed).then(() => settle(execution));
    return { executionArn, startDate: execution.startDate, existing: false };
  }

  /** One execution. @throws ExecutionDoesNotExist, InvalidArn */
  execution(executionArn: string): ExecutionRecord {
    const found = this.executionsByArn.get(executionArn);
    if (!found) {
      if (!executionArn.startsWith("arn:aws:states:")) throw new AwsServiceError("InvalidArn", `Invalid Arn: '${executionArn}'`);
      throw new AwsServiceError("ExecutionDoesNotExist", `Execution Does Not Exist: '${executionArn}'`);
    }
    return found;
  }

  /** Executions, newest first (of one state machine, when given). */
  executions(stateMachineArn?: string): ExecutionRecord[] {
    const all = [...this.executionsByArn.values()].filter((e) => stateMachineArn === undefined || e.stateMachineArn === stateMachineArn);
    return all.reverse();
  }

  /** Stops a running execution (ABORTED), as StopExecution does. */
  stopExecution(executionArn: string, error?: string, cause?: string): { stopDate: Date } {
    const execution = this.execution(executionArn);
    const abort = this.running.get(executionArn);
    if (execution.status === "RUNNING" && abort) {
      execution.error = error;
      execution.cause = cause;
      abort();
    }
    return { stopDate: execution.stopDate ?? new Date() };
  }

  /** Aborts every running execution (the stage is stopping) and waits for them to close. */
  async stop(): Promise<void> {
    this.stopped = true;
    const open = [...this.executionsByArn.values()].filter((e) => e.status === "RUNNING");
    for (const execution of open) this.running.get(execution.executionArn)?.();
    await Promise.all(open.map((e) => e.done));
  }

  private push(execution: ExecutionRecord, type: string, details: Record<string, unknown> = {}, at = Date.now()): void {
    const id = execution.history.length + 1;
    execution.history.push({ timestamp: new Date(at), type, id, previousEventId: id - 1, ...details });
  }

  private async run(machine: Machine, execution: ExecutionRecord, input: unknown): Promise<void> {
    const { StateMachine, ExecutionAbortedError, ExecutionTimeoutError } = await loadInterpreter();
    const shortMs = this.options.shortWaitsMs;
    // A task still under way when the execution is stopped (StopExecution, or the stage stopping) is let go: the
    // interpreter waits for it against a timer of the state's TimeoutSeconds (24 days by default), which would keep
    // the process alive after stop() until the function answered, if it ever does.
    const stopped = new AbortController();
    const letGo = new Promise<never>((_, reject) => {
      stopped.signal.addEventListener("abort", () => reject(Object.assign(new Error(`execution ${execution.executionArn} was stopped`), { name: "States.Runtime", isRetryable: false })), { once: true });
    });
    letGo.catch(() => undefined);
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, kind] of machine.tasks) handlers[stateName] = (taskInput) => Promise.race([this.runTask(machine, execution, stateName, kind, taskInput), letGo]);
    const overrides = {
      taskResourceLocalHandlers: handlers,
      ...(shortMs !== undefined
        ? {
            waitTimeOverrides: Object.fromEntries(machine.waitStates.map((name) => [name, shortMs])),
            retryIntervalOverrides: Object.fromEntries(machine.retryingStates.map((name) => [name, shortMs])),
          }
        : {}),
    };
    const stateMachine = new StateMachine(machine.runnable as never, { validationOptions: { noValidate: true } });
    const context = {
      Execution: {
        Id: execution.executionArn,
        Input: input,
        Name: execution.name,
        RoleArn: machine.config.roleArn,
        StartTime: execution.startDate.toISOString(),
        RedriveCount: 0,
      },
      StateMachine: { Id: machine.config.arn, Name: machine.config.name },
    };
    const run = stateMachine.run(input as never, { overrides: overrides as never, context: context as never });
    this.running.set(execution.executionArn, () => {
      run.abort();
      stopped.abort();
    });
    const events = this.follow(machine, execution, run.eventLogs as AsyncGenerator<Record<string, unknown>>);
    try {
      const output = await run.result;
      execution.status = "SUCCEEDED";
      execution.output = JSON.stringify(output ?? null);
    } catch (error) {
      if (error instanceof ExecutionAbortedError) {
        execution.status = "ABORTED";
      } else if (error instanceof ExecutionTimeoutError) {
        execution.status = "TIMED_OUT";
        execution.error = "States.Timeout";
      } else {
        const cause = (error as Error).cause as Error | undefined;
        execution.status = "FAILED";
        execution.error = cause?.name ?? "States.Runtime";
        execution.cause = cause?.message ?? (error as Error).message;
      }
    }
    await events;
    this.running.delete(execution.executionArn);
    execution.stopDate = new Date();
    const at = execution.stopDate.getTime();
    const errorDetails = { ...(execution.error !== undefined ? { error: execution.error } : {}), ...(execution.cause !== undefined ? { cause: execution.cause } : {}) };
    switch (execution.status) {
      case "SUCCEEDED":
        this.push(execution, "ExecutionSucceeded", { executionSucceededEventDetails: { output: execution.output, outputDetails: { truncated: false } } }, at);
        break;
      case "ABORTED":
        this.push(execution, "ExecutionAborted", { executionAbortedEventDetails: errorDetails }, at);
        break;
      case "TIMED_OUT":
        this.push(execution, "ExecutionTimedOut", { executionTimedOutEventDetails: errorDetails }, at);
        break;
      default:
        this.push(execution, "ExecutionFailed", { executionFailedEventDetails: errorDetails }, at);
    }
    for (const state of execution.states) {
      if (state.status === "running") {
        state.status = "failed";
        state.exitedAt = at;
        this.options.observer?.stateChanged?.(execution, state);
      }
    }
    this.options.observer?.executionFinished?.(execution);
  }

  /** Turns the interpreter's events into the history and the state runs. */
  private async follow(machine: Machine, execution: ExecutionRecord, events: AsyncGenerator<Record<string, unknown>>): Promise<void> {
    const observer = this.options.observer;
    const open = (name: string) => execution.states.find((s) => s.name === name && (s.status === "running" || s.status === "failed") && s.exitedAt === undefined);
    for await (const event of events) {
      const at = typeof event.timestamp === "number" ? event.timestamp : Date.now();
      const state = event.state as { name: string; type: string; input?: unknown; output?: unknown } | undefined;
      switch (event.type) {
        case "StateEntered": {
          if (!state) break;
          const run: StateRun = { name: state.name, type: state.type, context: childContext(execution.context), enteredAt: at, status: "running", retries: 0, busy: false };
          execution.states.push(run);
          this.push(execution, `${state.type}StateEntered`, { stateEnteredEventDetails: { name: state.name, input: JSON.stringify(state.input ?? null), inputDetails: { truncated: false } } }, at);
          if (state.type === "Parallel") this.push(execution, "ParallelStateStarted", {}, at);
          if (state.type === "Map") this.push(execution, "MapStateStarted", {}, at);
          observer?.stateEntered?.(execution, run);
          break;
        }
        case "StateExited": {
          if (!state) break;
          if (state.type === "Parallel") this.push(execution, "ParallelStateSucceeded", {}, at);
          if (state.type === "Map") this.push(execution, "MapStateSucceeded", {}, at);
          this.push(execution, `${state.type}StateExited`, { stateExitedEventDetails: { name: state.name, output: JSON.stringify(state.output ?? null), outputDetails: { truncated: false } } }, at);
          const run = open(state.name);
          if (run) {
            run.status = "succeeded";
            delete run.error;
            run.exitedAt = at;
            observer?.stateChanged?.(execution, run);
          }
          break;
        }
        case "StateFailed": {
          if (!state) break;
          if (state.type === "Parallel") this.push(execution, "ParallelStateFailed", {}, at);
          if (state.type === "Map") this.push(execution, "MapStateFailed", {}, at);
          const run = open(state.name);
          if (run) {
            run.status = "failed";
            run.error = `${String(event.Error)}: ${String(event.Cause ?? "")}`;
            observer?.stateChanged?.(execution, run);
          }
          break;
        }
        case "StateRetried": {
          const run = state && open(state.name);
          if (run) {
            run.status = "running";
            run.retries++;
            observer?.stateChanged?.(execution, run);
          }
          break;
        }
        case "StateCaught": {
          const run = state && open(state.name);
          if (run) {
            run.status = "caught";
            run.exitedAt = at;
            observer?.stateChanged?.(execution, run);
          }
          break;
        }
        case "MapIterationStarted":
        case "MapIterationSucceeded":
        case "MapIterationFailed": {
          const parent = event.parentState as { name: string } | undefined;
          const key = `${event.type.slice(0, 1).toLowerCase()}${event.type.slice(1)}EventDetails`;
          this.push(execution, event.type, { [key]: { name: parent?.name, index: event.index } }, at);
          break;
        }
        default:
          break;
      }
    }
    void machine;
  }

  /** One task: its history events around the runner's call; a failure becomes the ASL error the interpreter matches. */
  private async runTask(machine: Machine, execution: ExecutionRecord, stateName: string, kind: TaskKind, input: unknown): Promise<unknown> {
    // The interpreter calls this right after queueing the state's StateEntered: one turn of the event loop lets the
    // history catch up first, so the task's events follow its state's.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let state = execution.states.find((s) => s.name === stateName && s.exitedAt === undefined && !s.busy);
    if (!state) {
      state = { name: stateName, type: "Task", context: childContext(execution.context), enteredAt: Date.now(), status: "running", retries: 0, busy: false };
      execution.states.push(state);
    }
    state.busy = true;
    const call: TaskCall = { execution, stateMachine: machine.config, state };
    try {
      if (kind.kind === "lambda") return await this.lambdaTask(call, kind.functionArn, input);
      if (kind.kind === "lambda:invoke") return await this.lambdaInvokeTask(call, input);
      return await this.snsPublishTask(call, input);
    } finally {
      state.busy = false;
    }
  }

  private async lambdaTask(call: TaskCall, functionArn: string, input: unknown): Promise<unknown> {
    const { execution } = call;
    const payload = JSON.stringify(input ?? null);
    this.push(execution, "LambdaFunctionScheduled", { lambdaFunctionScheduledEventDetails: { resource: functionArn, input: payload, inputDetails: { truncated: false } } });
    this.push(execution, "LambdaFunctionStarted");
    let answer: FunctionAnswer;
    try {
      answer = await this.options.runner.invokeFunction(functionArn, input ?? null, call);
    } catch (error) {
      const name = `Lambda.${(error as { code?: string }).code ?? "ServiceException"}`;
      this.push(execution, "LambdaFunctionFailed", { lambdaFunctionFailedEventDetails: { error: name, cause: (error as Error).message } });
      throw new TaskError(name, (error as Error).message);
    }
    if (!answer.ok) {
      // As Step Functions reports a function's error: its errorType names the error, the cause is the error as JSON.
      const cause = JSON.stringify({ errorMessage: answer.errorMessage, errorType: answer.errorType, ...(answer.trace ? { trace: answer.trace } : {}) });
      this.push(execution, "LambdaFunctionFailed", { lambdaFunctionFailedEventDetails: { error: answer.errorType, cause } });
      throw new TaskError(answer.errorType, cause);
    }
    this.push(execution, "LambdaFunctionSucceeded", { lambdaFunctionSucceededEventDetails: { output: JSON.stringify(answer.payload ?? null), outputDetails: { truncated: false } } });
    return answer.payload ?? null;
  }

  private async lambdaInvokeTask(call: TaskCall, input: unknown): Promise<unknown> {
    const { execution } = call;
    const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const region = this.options.region;
    this.push(execution, "TaskScheduled", { taskScheduledEventDetails: { resourceType: "lambda", resource: "invoke", region, parameters: JSON.stringify(parameters) } });
    this.push(execution, "TaskStarted", { taskStartedEventDetails: { resourceType: "lambda", resource: "invoke" } });
    const fail = (error: string, cause: string): never => {
      this.push(execution, "TaskFailed", { taskFailedEventDetails: { resourceType: "lambda", resource: "invoke", error, cause } });
      throw new TaskError(error, cause);
    };
    const name = typeof parameters.FunctionName === "string" ? parameters.FunctionName : "";
    const functionArn = name.startsWith("arn:") ? name.replace(/:\$LATEST$/, "") : `arn:aws:lambda:${region}:${this.options.accountId}:function:${name}`;
    let answer: FunctionAnswer;
    try {
      answer = await this.options.runner.invokeFunction(functionArn, parameters.Payload ?? null, call);
    } catch (error) {
      return fail(`Lambda.${(error as { code?: string }).code ?? "ServiceException"}`, (error as Error).message);
    }
    if (!answer.ok) {
      return fail(answer.errorType, JSON.stringify({ errorMessage: answer.errorMessage, errorType: answer.errorType, ...(answer.trace ? { trace: answer.trace } : {}) }));
    }
    const requestId = randomUUID();
    const output = {
      ExecutedVersion: "$LATEST",
      Payload: answer.payload ?? null,
      SdkHttpMetadata: { HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: requestId },
      StatusCode: 200,
    };
    this.push(execution, "TaskSucceeded", { taskSucceededEventDetails: { resourceType: "lambda", resource: "invoke", output: JSON.stringify(output), outputDetails: { truncated: false } } });
    return output;
  }

  private async snsPublishTask(call: TaskCall, input: unknown): Promise<unknown> {
    const { execution } = call;
    const parameters = (input ?? {}) as Record<string, unknown>;
    this.push(execution, "TaskScheduled", {
      taskScheduledEventDetails: { resourceType: "sns", resource: "publish", region: this.options.region, parameters: JSON.stringify(parameters) },
    });
    this.push(execution, "TaskStarted", { taskStartedEventDetails: { resourceType: "sns", resource: "publish" } });
    // Step Functions sends a Message that is not a string as its JSON.
    const message = parameters.Message;
    const request = { ...parameters, ...(message !== undefined && typeof message !== "string" ? { Message: JSON.stringify(message) } : {}) };
    try {
      const result = await this.options.runner.publish(request, call);
      const output = { MessageId: result.MessageId, SdkHttpMetadata: { HttpStatusCode: 200 }, SdkResponseMetadata: { RequestId: randomUUID() } };
      this.push(execution, "TaskSucceeded", { taskSucceededEventDetails: { resourceType: "sns", resource: "publish", output: JSON.stringify(output), outputDetails: { truncated: false } } });
      return output;
    } catch (error) {
      // Service integrations name a service's error `<Service>.<code>`.
      // Step Functions names it after the SDK's exception: `SNS.AuthorizationErrorException`, `SNS.NotFoundException`.
      const code = (error as { code?: string }).code;
      const name = `SNS.${code === undefined ? "InternalErrorException" : code.endsWith("Exception") ? code : `${code}Exception`}`;
      const cause = `${(error as Error).message} (Service: Sns, Status Code: 400, Error Code: ${code ?? "InternalError"})`;
      this.push(execution, "TaskFailed", { taskFailedEventDetails: { resourceType: "sns", resource: "publish", error: name, cause } });
      throw new TaskError(name, cause);
    }
  }
}

/** Every state of a definition, nested ones included, with its name. */
function allStates(definition: AslDefinition): [string, Record<string, unknown> & { Type?: string }][] {
  const out: [string, Record<string, unknown> & { Type?: string }][] = [];
  const visit = (machine: AslDefinition): void => {
    for (const [name, state] of Object.entries(machine.States ?? {})) {
      out.push([name, state]);
      if (state.Type === "Parallel" && Array.isArray(state.Branches)) for (const branch of state.Branches as AslDefinition[]) visit(branch);
      const processor = (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
      if (state.Type === "Map" && processor) visit(processor);
    }
  };
  visit(definition);
  return out;
}
