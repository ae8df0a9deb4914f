import { catalog, isEventType, type EventType } from "../contract";
import { messageAttributeNames } from "../contract/envelope";
import { FAILURE_EVENT_TYPE, failureReasons, type FailureReason } from "../contract/failure-event";
import { WORKFLOW_INPUT_KEY } from "../contract/workflow";
import type { FunctionOptions } from "./service-function";
import { aslAccepted, recordAslAccepted } from "./helpers/asl-validation";

/**
 * Workflows written in TypeScript: `defineWorkflow({ startAt, states, functions })` with the state helpers of this
 * module (`invoke`, `publish`, `choice`, `parallel`, `map`, `wait`, `pass`, `succeed`, `fail`, `failure`) gives a
 * definition that produces Amazon States Language (ASL) in its JSONPath form, checked with asl-validator when it is
 * defined. JSONPath, not JSONata: the local stage's interpreter (aws-local-stepfunctions) runs JSONPath and ignores
 * JSONata without a word, so a definition that would run differently there is refused here, naming the state.
 *
 * The service's workflow component (`shared/infra/workflow-component.ts`) resolves the ARNs (its own functions, the
 * topics of the events it owns, the failure topic) and registers the state machine with the resolved definition.
 */

/** A JSON value as ASL templates hold it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A payload template (ASL `Parameters` in JSONPath): static values, and keys ending in `.$` whose value is a path
 * (`"$.orderId"`, `"$$.Execution.Input.orderId"`) or an intrinsic function (`"States.UUID()"`).
 * @example { "orderId.$": "$.orderId", "reason": "out of stock" }
 */
export type PayloadTemplate = { [key: string]: JsonValue };

/** Retry one kind of error (ASL `Retry`): `errors` are error names (`"States.Timeout"`, `"RetryableError"`). */
export interface RetryRule {
  errors: readonly string[];
  /** @default 1 */
  intervalSeconds?: number;
  /** @default 3 */
  maxAttempts?: number;
  /** @default 2 */
  backoffRate?: number;
  maxDelaySeconds?: number;
  jitter?: "FULL" | "NONE";
}

/** Catch errors and go on at `next` (ASL `Catch`). The error (`{ Error, Cause }`) is put at `resultPath`. */
export interface CatchRule<T extends string> {
  errors: readonly string[];
  next: T;
  /**
   * @default "$.error": the state's input with the error (`{ Error, Cause }`) beside it, so compensating states still
   * see the input and a `failure` state finds the error (ASL's own default, "$", would replace the input by the error)
   */
  resultPath?: string | null;
}

/** Where a state goes next: `next: "<state>"`, or `end: true`. */
export type Transition<T extends string> = { next: T; end?: never } | { end: true; next?: never };

interface DataFlow {
  inputPath?: string | null;
  /** Where the state's result goes in its input (`null`: the result is dropped, the input passes on). */
  resultPath?: string | null;
  resultSelector?: PayloadTemplate;
  outputPath?: string | null;
  comment?: string;
}

interface Recovery<T extends string> {
  retry?: readonly RetryRule[];
  catch?: readonly CatchRule<T>[];
}

/** A task that runs one of the workflow's own functions (declared in its `functions`), by the function's ARN. */
export type InvokeOptions<T extends string = string> = {
  /** The function's event. @default the state's input */
  payload?: PayloadTemplate;
  timeoutSeconds?: number;
} & DataFlow &
  Recovery<T> &
  Transition<T>;
export type InvokeState<T extends string = string> = { type: "invoke"; function: string } & InvokeOptions<T>;

/**
 * A task that publishes a catalog event the service owns through SNS (`arn:aws:states:::sns:publish`), in the
 * envelope `publish()` makes: CloudEvents fields, `dataversion`, the execution's correlation id, trace and
 * causation, and the same four message attributes.
 */
export type PublishOptions<T extends string = string> = {
  /** The event's `data`: a path (`"$.order"`) or a template. It must match the catalog schema: consumers check it. */
  data: string | PayloadTemplate;
  /** CloudEvents `subject`: a literal, or a path (`"$.orderId"`). */
  subject?: string;
} & Omit<DataFlow, "resultSelector"> &
  Recovery<T> &
  Transition<T>;
export type PublishState<T extends string = string> = { type: "publish"; event: EventType } & PublishOptions<T>;

/** A JSONPath choice rule (ASL names): `{ Variable: "$.status", StringEquals: "paid" }`, `{ And: [...] }`. */
export type ChoiceRule =
  | ({ Variable: string } & { [operator in ComparisonOperator]?: JsonValue })
  | { And: readonly ChoiceRule[] }
  | { Or: readonly ChoiceRule[] }
  | { Not: ChoiceRule };

export type ComparisonOperator =
  | "StringEquals" | "StringEqualsPath" | "StringLessThan" | "StringLessThanPath" | "StringGreaterThan" | "StringGreaterThanPath"
  | "StringLessThanEquals" | "StringLessThanEqualsPath" | "StringGreaterThanEquals" | "StringGreaterThanEqualsPath" | "StringMatches"
  | "NumericEquals" | "NumericEqualsPath" | "NumericLessThan" | "NumericLessThanPath" | "NumericGreaterThan" | "NumericGreaterThanPath"
  | "NumericLessThanEquals" | "NumericLessThanEqualsPath" | "NumericGreaterThanEquals" | "NumericGreaterThanEqualsPath"
  | "BooleanEquals" | "BooleanEqualsPath" | "TimestampEquals" | "TimestampEqualsPath" | "TimestampLessThan" | "TimestampLessThanPath"
  | "TimestampGreaterThan" | "TimestampGreaterThanPath" | "TimestampLessThanEquals" | "TimestampLessThanEqualsPath"
  | "TimestampGreaterThanEquals" | "TimestampGreaterThanEqualsPath" | "IsNull" | "IsPresent" | "IsNumeric" | "IsString" | "IsBoolean" | "IsTimestamp";

export interface ChoiceOptions<T extends string = string> {
  choices: readonly { when: ChoiceRule; next: T }[];
  default?: T;
  inputPath?: string | null;
  outputPath?: string | null;
  comment?: string;
}
export type ChoiceState<T extends string = string> = { type: "choice" } & ChoiceOptions<T>;

/** States run side by side; the output is the array of the branches' outputs. */
export type ParallelOptions<T extends string = string> = {
  branches: readonly WorkflowBranch[];
} & DataFlow &
  Recovery<T> &
  Transition<T>;
export type ParallelState<T extends string = string> = { type: "parallel" } & ParallelOptions<T>;

/** One sub-workflow per item of an array (inline mode: the local interpreter runs no distributed map). */
export type MapOptions<T extends string = string> = {
  itemsPath: string;
  /** Each item's input (`$$.Map.Item.Value` is the item). @default the item */
  itemSelector?: PayloadTemplate;
  /** @default 0 (as many as Step Functions allows) */
  maxConcurrency?: number;
  processor: WorkflowBranch;
} & DataFlow &
  Recovery<T> &
  Transition<T>;
export type MapState<T extends string = string> = { type: "map" } & MapOptions<T>;

export type WaitOptions<T extends string = string> = {
  comment?: string;
} & ({ seconds: number } | { secondsPath: string } | { timestamp: string } | { timestampPath: string }) &
  Transition<T>;
export type WaitState<T extends string = string> = { type: "wait" } & WaitOptions<T>;

export type PassOptions<T extends string = string> = {
  result?: JsonValue;
  parameters?: PayloadTemplate;
} & Omit<DataFlow, "resultSelector"> &
  Transition<T>;
export type PassState<T extends string = string> = { type: "pass" } & PassOptions<T>;

export interface SucceedState {
  type: "succeed";
  comment?: string;
}

/** Stops the execution as failed (nothing is published: use `failure` for an error someone must see). */
export interface FailState {
  type: "fail";
  error: string;
  cause: string;
  comment?: string;
}

/**
 * Where a caught error that no retry can fix ends: publishes a `platform.event-failed` event to the platform's
 * failure topic (like a consumer's failure events: the service, the workflow as `handler`, the reason, the message
 * with the caught error's name, the starter's event id and type, the execution input as `originalBody`), then stops
 * the execution as failed (a Fail state named `<state> (stopped)`). It reads the caught error at `$.error`: reach it
 * from a `catch` (which puts the error there), or after compensating states that keep it (`resultPath: null`).
 */
export interface FailureState {
  type: "failure";
  /** @default "business-rule" */
  reason?: FailureReason;
  /** What went wrong, for a person; the caught error's name is appended. No `{`, `}`, `'` or `\`. */
  message: string;
  /** The Fail state's error name. @default "WorkflowFailed" */
  error?: string;
  comment?: string;
}

export type WorkflowState<T extends string = string> =
  | InvokeState<T>
  | PublishState<T>
  | ChoiceState<T>
  | ParallelState<T>
  | MapState<T>
  | WaitState<T>
  | PassState<T>
  | SucceedState
  | FailState
  | FailureState;

/** States and where to start: the workflow itself, a Parallel branch, a Map's processor. */
export interface StateGraph<S extends string = string> {
  startAt: NoInfer<S>;
  states: { [K in S]: WorkflowState<NoInfer<S>> };
  comment?: string;
}

/** A Parallel branch or a Map processor (see `branch`). */
export interface WorkflowBranch {
  readonly kind: "branch";
  readonly graph: StateGraph;
}

/** A function that only workflows invoke: its options are a route's or consumer's (`publishes` a subset of the service's). */
export type StepFunctionOptions = FunctionOptions;

export type WorkflowType = "standard" | "express";

export interface WorkflowSpec<S extends string> extends StateGraph<S> {
  /**
   * Standard (exactly-once state transitions, executions up to a year, a repeated execution name starts nothing) or
   * Express (at-least-once, up to five minutes, names not deduplicated: every state must be idempotent).
   * @default "standard"
   */
  type?: WorkflowType;
  /** The execution fails with States.Timeout after this many seconds. @default none (Standard: one year) */
  timeoutSeconds?: number;
  /** The functions the workflow's `invoke` states run, by logical name (kebab-case, unique in the service). */
  functions?: Record<string, StepFunctionOptions>;
}

/** What the workflow component resolves before it writes the definition. */
export interface AslTargets {
  service: string;
  workflow: string;
  functionArn(name: string): string;
  topicArn(type: EventType): string;
  failureTopicArn: string;
}

/** An ASL document (JSONPath). */
export interface AslDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
  TimeoutSeconds?: number;
}

export class WorkflowDefinitionError extends Error {
  override name = "WorkflowDefinitionError";
}

/** The version of the failure event's data (`FAILURE_EVENT_VERSION` in shared/runtime/failure-event.ts; a test keeps them equal). */
export const WORKFLOW_FAILURE_EVENT_VERSION = 1;

/** Lambda's transient errors, retried on every `invoke` before the state's own rules (Step Functions developer guide, "Handling Lambda service exceptions"). */
export const LAMBDA_TRANSIENT_ERRORS = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
] as const;

/** SNS's throttling and internal errors, retried on every publish (service integration errors are `SNS.<exception>`). */
export const SNS_TRANSIENT_ERRORS = ["SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException"] as const;

/** The Resource of a publishing task (the optimized SNS integration, request-response). */
export const SNS_PUBLISH_RESOURCE = "arn:aws:states:::sns:publish";

/** The Fail state that follows a `failure` state. */
export function stoppedStateName(failureState: string): string {
  return `${failureState} (stopped)`;
}

const START = `$$.Execution.Input.${WORKFLOW_INPUT_KEY}`;

/**
 * A service's workflow, checked when defined: every transition names a state, functions are declared, events are in
 * the catalog (topic events, not FIFO or stream ones), no JSONata, and asl-validator accepts the ASL.
 */
export class WorkflowDefinition {
  readonly kind = "workflow";
  readonly type: WorkflowType;
  readonly timeoutSeconds: number | undefined;
  readonly functions: Readonly<Record<string, StepFunctionOptions>>;
  readonly graph: StateGraph;
  /** Functions the states invoke. */
  readonly invokes: readonly string[];
  /** Events the states publish. */
  readonly publishes: readonly EventType[];
  /** Whether a `failure` state publishes failure events. */
  readonly publishesFailures: boolean;

  constructor(spec: WorkflowSpec<string>) {
    const { type = "standard", timeoutSeconds, functions = {}, ...graph } = spec;
    if (type !== "standard" && type !== "express") throw new WorkflowDefinitionError(`workflow type "${String(type)}" is neither "standard" nor "express"`);
    if (timeoutSeconds !== undefined && (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1)) {
      throw new WorkflowDefinitionError(`timeoutSeconds is ${timeoutSeconds}; give a whole number of seconds, at least 1`);
    }
    if (type === "express" && timeoutSeconds !== undefined && timeoutSeconds > 300) {
      throw new WorkflowDefinitionError(`timeoutSeconds is ${timeoutSeconds}; an Express workflow runs at most 300 seconds`);
    }
    this.type = type;
    this.timeoutSeconds = timeoutSeconds;
    this.functions = functions;
    this.graph = graph;
    const invokes = new Set<string>();
    const publishes = new Set<EventType>();
    let failures = false;
    walk(graph, "", (name, state) => {
      if (state.type === "invoke") invokes.add(state.function);
      if (state.type === "publish") publishes.add(state.event);
      if (state.type === "failure") failures = true;
      return name;
    });
    this.invokes = [...invokes];
    this.publishes = [...publishes];
    this.publishesFailures = failures;
    checkGraph(graph, "", new Set(Object.keys(functions)), type);
    // The whole document, with stand-in ARNs, through the validator the local interpreter also runs.
    validateAsl(this.toAsl(placeholderTargets()), "");
  }

  /** The ASL document, with the ARNs `targets` resolves. */
  toAsl(targets: AslTargets): AslDefinition {
    const asl: AslDefinition = { ...(this.graph.comment ? { Comment: this.graph.comment } : {}), StartAt: this.graph.startAt, States: compileStates(this.graph, targets) };
    if (this.timeoutSeconds !== undefined) asl.TimeoutSeconds = this.timeoutSeconds;
    return asl;
  }
}

/**
 * Defines a workflow. State names are checked by the compiler: `next`, `default`, a catch's `next` and `startAt`
 * must name a state of the same graph.
 * @example
 * workflows: {
 *   fulfil: defineWorkflow({
 *     functions: { "reserve-stock": { handler: "./handlers/reserve-stock.ts" } },
 *     startAt: "Reserve",
 *     states: {
 *       Reserve: invoke("reserve-stock", { resultPath: "$.reservation", next: "Announce", catch: [{ errors: ["OutOfStock"], next: "Rejected" }] }),
 *       Announce: publish("shipping.order-shipped", { data: { "orderId.$": "$.orderId" }, end: true }),
 *       Rejected: failure({ message: "stock could not be reserved" }),
 *     },
 *   }),
 * }
 */
export function defineWorkflow<const S extends string>(spec: WorkflowSpec<S>): WorkflowDefinition {
  return new WorkflowDefinition(spec as unknown as WorkflowSpec<string>);
}

/** A Parallel branch or Map processor: its own states, checked like the workflow's. */
export function branch<const S extends string>(graph: StateGraph<S>): WorkflowBranch {
  return { kind: "branch", graph: graph as unknown as StateGraph };
}

/** Runs the workflow's function `fn` (by its ARN) with the state's input, or with `payload`. */
export function invoke<const T extends string = never>(fn: string, options: InvokeOptions<T>): InvokeState<NoInfer<T>> {
  return { ...options, type: "invoke", function: fn } as InvokeState<T>;
}

/** Publishes `event` (owned by the service) with `data` in `publish()`'s envelope. */
export function publish<const T extends string = never>(event: EventType, options: PublishOptions<T>): PublishState<NoInfer<T>> {
  return { ...options, type: "publish", event } as PublishState<T>;
}

export function choice<const T extends string = never>(options: ChoiceOptions<T>): ChoiceState<NoInfer<T>> {
  return { ...options, type: "choice" };
}

export function parallel<const T extends string = never>(options: ParallelOptions<T>): ParallelState<NoInfer<T>> {
  return { ...options, type: "parallel" } as ParallelState<T>;
}

export function map<const T extends string = never>(options: MapOptions<T>): MapState<NoInfer<T>> {
  return { ...options, type: "map" } as MapState<T>;
}

export function wait<const T extends string = never>(options: WaitOptions<T>): WaitState<NoInfer<T>> {
  return { ...options, type: "wait" } as WaitState<T>;
}

export function pass<const T extends string = never>(options: PassOptions<T>): PassState<NoInfer<T>> {
  return { ...options, type: "pass" } as PassState<T>;
}

export function succeed(options: Omit<SucceedState, "type"> = {}): SucceedState {
  return { ...options, type: "succeed" };
}

export function fail(options: Omit<FailState, "type">): FailState {
  return { ...options, type: "fail" };
}

/** The end of a caught error a retry cannot fix: a failure event, then a failed execution (see `FailureState`). */
export function failure(options: Omit<FailureState, "type">): FailureState {
  return { ...options, type: "failure" };
}


// --- checks -------------------------------------------------------------------------------------------------------

const FORBIDDEN_MESSAGE_CHARACTERS = /[{}'\\]/;
const MAX_STATE_NAME = 80;

function where(prefix: string, name: string): string {
  return prefix ? `state "${name}" (in ${prefix})` : `state "${name}"`;
}

/** Calls `visit` for every state of `graph` and of its branches, depth first. */
function walk(graph: StateGraph, prefix: string, visit: (name: string, state: WorkflowState, prefix: string) => void): void {
  for (const [name, state] of Object.entries(graph.states) as [string, WorkflowState][]) {
    visit(name, state, prefix);
    const inner = prefix ? `${prefix} > ${name}` : name;
    if (state.type === "parallel") state.branches.forEach((b, i) => walk(b.graph, `${inner} branch ${i + 1}`, visit));
    if (state.type === "map") walk(state.processor.graph, `${inner} processor`, visit);
  }
}

/** Strings that are JSONata (`{% ... %}`) or its `$states` variable: the local interpreter would not evaluate them. */
function findJsonata(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return /\{%|\$states\b/.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findJsonata(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (/\{%/.test(key)) return `${path}.${key}`;
      const found = findJsonata(inner, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/** Fields a state may carry, per type: anything else (JSONata's `arguments`, `output`, `assign`...) is refused. */
const ALLOWED_FIELDS: Record<WorkflowState["type"], readonly string[]> = {
  invoke: ["type", "function", "payload", "timeoutSeconds", "inputPath", "resultPath", "resultSelector", "outputPath", "comment", "retry", "catch", "next", "end"],
  publish: ["type", "event", "data", "subject", "inputPath", "resultPath", "outputPath", "comment", "retry", "catch", "next", "end"],
  choice: ["type", "choices", "default", "inputPath", "outputPath", "comment"],
  parallel: ["type", "branches", "inputPath", "resultPath", "resultSelector", "outputPath", "comment", "retry", "catch", "next", "end"],
  map: ["type", "itemsPath", "itemSelector", "maxConcurrency", "processor", "inputPath", "resultPath", "resultSelector", "outputPath", "comment", "retry", "catch", "next", "end"],
  wait: ["type", "seconds", "secondsPath", "timestamp", "timestampPath", "comment", "next", "end"],
  pass: ["type", "result", "parameters", "inputPath", "resultPath", "outputPath", "comment", "next", "end"],
  succeed: ["type", "comment"],
  fail: ["type", "error", "cause", "comment"],
  failure: ["type", "reason", "message", "error", "comment"],
};

function checkGraph(graph: StateGraph, prefix: string, functions: ReadonlySet<string>, type: WorkflowType): void {
  const label = prefix ? `branch ${prefix}` : "the workflow";
  const names = Object.keys(graph.states);
  if (names.length === 0) throw new WorkflowDefinitionError(`${label} has no states`);
  if (!names.includes(graph.startAt)) {
    throw new WorkflowDefinitionError(`${label} starts at "${graph.startAt}", which is not one of its states (${names.join(", ")})`);
  }
  const failureStates = new Set(names.filter((n) => (graph.states as Record<string, WorkflowState>)[n]!.type === "failure"));
  if (failureStates.has(graph.startAt)) throw new WorkflowDefinitionError(`${label} starts at failure state "${graph.startAt}": a failure state is reached only from a catch`);
  const reached = new Set<string>([graph.startAt]);
  for (const [name, state] of Object.entries(graph.states) as [string, WorkflowState][]) {
    const at = where(prefix, name);
    if (name.length > MAX_STATE_NAME || name.length === 0) throw new WorkflowDefinitionError(`${at}: a state name has 1 to ${MAX_STATE_NAME} characters`);
    if (!(state.type in ALLOWED_FIELDS)) throw new WorkflowDefinitionError(`${at} has type "${String(state.type)}"; use the state helpers (invoke, publish, choice, parallel, map, wait, pass, succeed, fail, failure)`);
    for (const key of Object.keys(state)) {
      if (!ALLOWED_FIELDS[state.type].includes(key)) {
        throw new WorkflowDefinitionError(`${at} has "${key}", which a ${state.type} state does not take (JSONPath only: the local interpreter runs no JSONata)`);
      }
    }
    const jsonata = findJsonata(state, "");
    if (jsonata) throw new WorkflowDefinitionError(`${at} uses JSONata at ${jsonata.slice(1)}; workflows use JSONPath (the local interpreter ignores JSONata, so it would run differently)`);
    const targets: string[] = [];
    if ("next" in state && state.next !== undefined) targets.push(state.next);
    if (state.type === "choice") {
      if (state.choices.length === 0) throw new WorkflowDefinitionError(`${at} has no choices`);
      targets.push(...state.choices.map((c) => c.next));
      if (state.default !== undefined) targets.push(state.default);
    }
    if (!["choice", "succeed", "fail", "failure"].includes(state.type)) {
      const s = state as { next?: string; end?: boolean };
      if ((s.next === undefined) === (s.end !== true)) throw new WorkflowDefinitionError(`${at} needs either next or end: true`);
    }
    for (const target of targets) {
      if (!names.includes(target)) throw new WorkflowDefinitionError(`${at} goes to "${target}", which is not a state of ${label}`);
      reached.add(target);
    }
    for (const rule of "catch" in state && state.catch ? state.catch : []) {
      if (!names.includes(rule.next)) throw new WorkflowDefinitionError(`${at} catches ${rule.errors.join(", ")} into "${rule.next}", which is not a state of ${label}`);
      if (failureStates.has(rule.next) && rule.resultPath !== undefined && rule.resultPath !== "$.error") {
        throw new WorkflowDefinitionError(`${at} catches into failure state "${rule.next}" with resultPath ${String(rule.resultPath)}; it reads the error at $.error`);
      }
      if (rule.errors.length === 0) throw new WorkflowDefinitionError(`${at} has a catch without errors`);
      reached.add(rule.next);
    }
    for (const rule of "retry" in state && state.retry ? state.retry : []) {
      if (rule.errors.length === 0) throw new WorkflowDefinitionError(`${at} has a retry without errors`);
    }
    if (state.type === "invoke" && !functions.has(state.function)) {
      throw new WorkflowDefinitionError(
        `${at} invokes "${state.function}", which is not one of the workflow's functions (${[...functions].join(", ") || "none declared"}): declare it in functions`,
      );
    }
    if (state.type === "publish") {
      checkPublishedEvent(at, state.event);
      if (typeof state.data !== "string") checkDataFields(at, state.event, state.data);
    }
    if (state.type === "failure") {
      if (FORBIDDEN_MESSAGE_CHARACTERS.test(state.message)) throw new WorkflowDefinitionError(`${at}: its message may not contain { } ' or \\ (it becomes an intrinsic function's template)`);
      if (state.reason !== undefined && !failureReasons.includes(state.reason)) {
        throw new WorkflowDefinitionError(`${at}: reason "${String(state.reason)}" is not one of ${failureReasons.join(", ")}`);
      }
      if (names.includes(stoppedStateName(name))) throw new WorkflowDefinitionError(`${at}: "${stoppedStateName(name)}" is taken by another state; it is the name of this failure state's Fail state`);
      if (stoppedStateName(name).length > MAX_STATE_NAME) throw new WorkflowDefinitionError(`${at}: the name is too long for its Fail state "${stoppedStateName(name)}" (at most ${MAX_STATE_NAME} characters)`);
    }
    if (state.type === "map" && state.maxConcurrency !== undefined && (!Number.isInteger(state.maxConcurrency) || state.maxConcurrency < 0)) {
      throw new WorkflowDefinitionError(`${at}: maxConcurrency must be a whole number, 0 or more`);
    }
    if (state.type === "parallel") {
      if (state.branches.length === 0) throw new WorkflowDefinitionError(`${at} has no branches`);
      state.branches.forEach((b, i) => checkGraph(b.graph, `${prefix ? `${prefix} > ` : ""}${name} branch ${i + 1}`, functions, type));
    }
    if (state.type === "map") checkGraph(state.processor.graph, `${prefix ? `${prefix} > ` : ""}${name} processor`, functions, type);
  }
  const unreachable = names.filter((n) => !reached.has(n));
  if (unreachable.length) throw new WorkflowDefinitionError(`${label}: no transition reaches ${unreachable.map((n) => `"${n}"`).join(", ")}`);
}

function checkPublishedEvent(at: string, type: EventType): void {
  if (!isEventType(type)) throw new WorkflowDefinitionError(`${at} publishes "${String(type)}", which is not in the event catalog (shared/contract/catalog.ts)`);
  const ordering = (catalog[type] as { ordering?: string }).ordering ?? "standard";
  if (ordering !== "standard") {
    throw new WorkflowDefinitionError(
      `${at} publishes ${type}, whose ordering is "${ordering}"; a workflow publishes standard topic events only (publish the others from a function it invokes)`,
    );
  }
}

/**
 * A `data` template's fields against the event's schema (its top-level fields): every required field given, none the
 * schema lacks. Their values are checked by consumers (and by the local stage's delivery).
 */
function checkDataFields(at: string, type: EventType, data: PayloadTemplate): void {
  const shape = (catalog[type].schema as { def?: { shape?: Record<string, { def?: { type?: string } }> } }).def?.shape;
  if (!shape) return;
  const given = Object.keys(data).map((key) => (key.endsWith(".$") ? key.slice(0, -2) : key));
  const unknown = given.filter((field) => !(field in shape));
  if (unknown.length) {
    throw new WorkflowDefinitionError(`${at} publishes ${type} with ${unknown.map((f) => `"${f}"`).join(", ")}, which its schema does not have (fields: ${Object.keys(shape).join(", ")})`);
  }
  const missing = Object.entries(shape)
    .filter(([field, schema]) => schema.def?.type !== "optional" && !given.includes(field))
    .map(([field]) => field);
  if (missing.length) throw new WorkflowDefinitionError(`${at} publishes ${type} without ${missing.map((f) => `"${f}"`).join(", ")}, which its schema requires`);
}

// --- ASL ----------------------------------------------------------------------------------------------------------

function placeholderTargets(): AslTargets {
  const account = "123456789012";
  return {
    service: "service",
    workflow: "workflow",
    functionArn: (name) => `arn:aws:lambda:us-east-1:${account}:function:${name}`,
    topicArn: (type) => `arn:aws:sns:us-east-1:${account}:${type.replace(/\./g, "-")}`,
    failureTopicArn: `arn:aws:sns:us-east-1:${account}:platform-event-failed`,
  };
}

type AslValidator = (definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }) => {
  isValid: boolean;
  errors: { "Error code"?: string; Message?: string }[];
};

/** Runs asl-validator (the one aws-local-stepfunctions runs) and throws its findings. */
export function validateAsl(asl: AslDefinition, what: string): void {
  const options = { checkPaths: true, checkArn: true };
  // Accepted before (in this process or an earlier start): not checked again (see helpers/asl-validation.ts).
  if (aslAccepted(asl, options)) return;
  const validator = require("asl-validator") as AslValidator;
  // The validator writes QueryLanguage into the states it reads: it gets a copy.
  const result = validator(structuredClone(asl), options);
  if (!result.isValid) {
    const problems = result.errors.map((e) => e.Message ?? e["Error code"] ?? "invalid").join("; ");
    throw new WorkflowDefinitionError(`${what ? `${what}: ` : ""}the Amazon States Language is invalid: ${problems}`);
  }
  recordAslAccepted(asl, options);
}

function retryOf(rules: readonly RetryRule[] | undefined, transient: readonly string[] = []): Record<string, unknown>[] {
  const own = (rules ?? []).map((r) => ({
    ErrorEquals: [...r.errors],
    IntervalSeconds: r.intervalSeconds ?? 1,
    MaxAttempts: r.maxAttempts ?? 3,
    BackoffRate: r.backoffRate ?? 2,
    ...(r.maxDelaySeconds !== undefined ? { MaxDelaySeconds: r.maxDelaySeconds } : {}),
    ...(r.jitter !== undefined ? { JitterStrategy: r.jitter } : {}),
  }));
  return transient.length ? [{ ErrorEquals: [...transient], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 }, ...own] : own;
}

function catchOf(rules: readonly CatchRule<string>[] | undefined): Record<string, unknown> | undefined {
  if (!rules?.length) return undefined;
  return {
    Catch: rules.map((r) => {
      return { ErrorEquals: [...r.errors], Next: r.next, ResultPath: r.resultPath === undefined ? "$.error" : r.resultPath };
    }),
  };
}

function flowOf(state: { next?: string; end?: boolean }): Record<string, unknown> {
  return state.next !== undefined ? { Next: state.next } : { End: true };
}

function dataFlowOf(state: DataFlow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (state.comment !== undefined) out.Comment = state.comment;
  if (state.inputPath !== undefined) out.InputPath = state.inputPath;
  if (state.resultSelector !== undefined) out.ResultSelector = state.resultSelector;
  if (state.resultPath !== undefined) out.ResultPath = state.resultPath;
  if (state.outputPath !== undefined) out.OutputPath = state.outputPath;
  return out;
}

/** A template value: a path or intrinsic (`$...`, `States.`) under `<key>.$`, anything else as a literal. */
function templateField(key: string, value: string): Record<string, string> {
  return value.startsWith("$") || value.startsWith("States.") ? { [`${key}.$`]: value } : { [key]: value };
}

/**
 * The envelope the runtime builds (shared/runtime/envelope.ts), field by field, in its order: `dataversion` as
 * `createEvent` adds it for catalog events; none for the failure event, as `publishFailureEvent` sends it.
 */
function envelopeTemplate(
  type: string,
  source: string,
  data: Record<string, JsonValue>,
  dataversion: number | undefined,
  subject?: string,
): Record<string, JsonValue> {
  return {
    specversion: "1.0",
    // Each attempt gets a new id, as publish() outside a consumer does.
    "id.$": "States.UUID()",
    source,
    type,
    // ASL has no clock: the execution's start time (the local interpreter sets it too; $$.State.EnteredTime it does not).
    "time.$": "$$.Execution.StartTime",
    datacontenttype: "application/json",
    "correlationid.$": `${START}.correlationId`,
    "traceparent.$": `${START}.traceparent`,
    ...data,
    "causationid.$": `${START}.causationId`,
    ...(subject !== undefined ? templateField("subject", subject) : {}),
    ...(dataversion !== undefined ? { dataversion } : {}),
  };
}

/** The four message attributes `publish()` sets (shared/runtime/sns-publish.ts, `messageAttributes`). */
function messageAttributesTemplate(type: string, source: string, dataversion: number): Record<string, JsonValue> {
  return {
    [messageAttributeNames.type]: { DataType: "String", StringValue: type },
    [messageAttributeNames.source]: { DataType: "String", StringValue: source },
    [messageAttributeNames.correlationId]: { DataType: "String", "StringValue.$": `${START}.correlationId` },
    [messageAttributeNames.version]: { DataType: "Number", StringValue: String(dataversion) },
  };
}

function compileStates(graph: StateGraph, targets: AslTargets): Record<string, Record<string, unknown>> {
  const states: Record<string, Record<string, unknown>> = {};
  for (const [name, state] of Object.entries(graph.states) as [string, WorkflowState][]) {
    switch (state.type) {
      case "invoke":
        states[name] = {
          Type: "Task",
          Resource: targets.functionArn(state.function),
          ...(state.payload !== undefined ? { Parameters: state.payload } : {}),
          ...(state.timeoutSeconds !== undefined ? { TimeoutSeconds: state.timeoutSeconds } : {}),
          ...dataFlowOf(state),
          Retry: retryOf(state.retry, LAMBDA_TRANSIENT_ERRORS),
          ...catchOf(state.catch),
          ...flowOf(state),
        };
        break;
      case "publish": {
        const version = catalog[state.event].version;
        const data: Record<string, JsonValue> = typeof state.data === "string" ? { "data.$": state.data } : { data: state.data };
        states[name] = {
          Type: "Task",
          Resource: SNS_PUBLISH_RESOURCE,
          Parameters: {
            TopicArn: targets.topicArn(state.event),
            // An object: Step Functions sends it as its JSON text.
            Message: envelopeTemplate(state.event, targets.service, data, version, state.subject),
            MessageAttributes: messageAttributesTemplate(state.event, targets.service, version),
          },
          ...dataFlowOf({ ...state, resultPath: state.resultPath === undefined ? null : state.resultPath }),
          Retry: retryOf(state.retry, SNS_TRANSIENT_ERRORS),
          ...catchOf(state.catch),
          ...flowOf(state),
        };
        break;
      }
      case "choice":
        states[name] = {
          Type: "Choice",
          ...(state.comment !== undefined ? { Comment: state.comment } : {}),
          ...(state.inputPath !== undefined ? { InputPath: state.inputPath } : {}),
          ...(state.outputPath !== undefined ? { OutputPath: state.outputPath } : {}),
          Choices: state.choices.map((c) => ({ ...c.when, Next: c.next })),
          ...(state.default !== undefined ? { Default: state.default } : {}),
        };
        break;
      case "parallel":
        states[name] = {
          Type: "Parallel",
          Branches: state.branches.map((b) => ({ StartAt: b.graph.startAt, States: compileStates(b.graph, targets) })),
          ...dataFlowOf(state),
          ...(state.retry?.length ? { Retry: retryOf(state.retry) } : {}),
          ...catchOf(state.catch),
          ...flowOf(state),
        };
        break;
      case "map":
        states[name] = {
          Type: "Map",
          ItemsPath: state.itemsPath,
          ...(state.itemSelector !== undefined ? { ItemSelector: state.itemSelector } : {}),
          ...(state.maxConcurrency !== undefined ? { MaxConcurrency: state.maxConcurrency } : {}),
          ItemProcessor: {
            ProcessorConfig: { Mode: "INLINE" },
            StartAt: state.processor.graph.startAt,
            States: compileStates(state.processor.graph, targets),
          },
          ...dataFlowOf(state),
          ...(state.retry?.length ? { Retry: retryOf(state.retry) } : {}),
          ...catchOf(state.catch),
          ...flowOf(state),
        };
        break;
      case "wait": {
        const s = state as WaitState & { seconds?: number; secondsPath?: string; timestamp?: string; timestampPath?: string };
        states[name] = {
          Type: "Wait",
          ...(s.comment !== undefined ? { Comment: s.comment } : {}),
          ...(s.seconds !== undefined ? { Seconds: s.seconds } : {}),
          ...(s.secondsPath !== undefined ? { SecondsPath: s.secondsPath } : {}),
          ...(s.timestamp !== undefined ? { Timestamp: s.timestamp } : {}),
          ...(s.timestampPath !== undefined ? { TimestampPath: s.timestampPath } : {}),
          ...flowOf(s),
        };
        break;
      }
      case "pass":
        states[name] = {
          Type: "Pass",
          ...(state.result !== undefined ? { Result: state.result } : {}),
          ...(state.parameters !== undefined ? { Parameters: state.parameters } : {}),
          ...dataFlowOf(state),
          ...flowOf(state),
        };
        break;
      case "succeed":
        states[name] = { Type: "Succeed", ...(state.comment !== undefined ? { Comment: state.comment } : {}) };
        break;
      case "fail":
        states[name] = { Type: "Fail", Error: state.error, Cause: state.cause, ...(state.comment !== undefined ? { Comment: state.comment } : {}) };
        break;
      case "failure": {
        const data: Record<string, JsonValue> = {
          data: {
            service: targets.service,
            handler: targets.workflow,
            reason: state.reason ?? "business-rule",
            "message.$": `States.Format('${state.message} ({})', $.error.Error)`,
            "originalType.$": `${START}.causationType`,
            "originalId.$": `${START}.causationId`,
            "originalBody.$": "States.JsonToString($$.Execution.Input)",
          },
        };
        states[name] = {
          Type: "Task",
          ...(state.comment !== undefined ? { Comment: state.comment } : {}),
          Resource: SNS_PUBLISH_RESOURCE,
          Parameters: {
            TopicArn: targets.failureTopicArn,
            Message: envelopeTemplate(FAILURE_EVENT_TYPE, targets.service, data, undefined),
            MessageAttributes: messageAttributesTemplate(FAILURE_EVENT_TYPE, targets.service, WORKFLOW_FAILURE_EVENT_VERSION),
          },
          ResultPath: null,
          Retry: retryOf(undefined, SNS_TRANSIENT_ERRORS),
          Next: stoppedStateName(name),
        };
        states[stoppedStateName(name)] = { Type: "Fail", Error: state.error ?? "WorkflowFailed", Cause: state.message };
        break;
      }
    }
  }
  return states;
}
