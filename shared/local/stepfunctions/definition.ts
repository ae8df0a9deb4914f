/**
 * What the embedded interpreter (aws-local-stepfunctions 3.0) can run exactly as Step Functions does, checked before a
 * state machine starts: a definition it would run differently is refused with a message naming the state, never run.
 *
 * The interpreter speaks JSONPath only: it ignores JSONata (a `{% %}` expression comes back unchanged), has no
 * `Assign`, no Distributed Map, no heartbeats, and never fills `$$.State` or `$$.Task` in the context object. Its task
 * states call handlers we supply by state name: the local stage runs Lambda functions (their ARN, or
 * `arn:aws:states:::lambda:invoke`) and SNS publishes (`arn:aws:states:::sns:publish`); any other resource is refused.
 */

/** One state of an ASL definition (JSONPath), as far as the checks read it. */
export type AslState = Record<string, unknown> & { Type?: string };

/** A parsed ASL definition. */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  QueryLanguage?: string;
  TimeoutSeconds?: number;
  Comment?: string;
  Version?: string;
}

/** The definition cannot run locally exactly as Step Functions would run it; the message names the state. */
export class UnsupportedDefinitionError extends Error {
  override name = "UnsupportedDefinitionError";
}

/** The task resources the local stage runs. */
export const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
export const SNS_PUBLISH = "arn:aws:states:::sns:publish";
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:\$LATEST)?$/;

/** What a Task state's `Resource` asks for. */
export type TaskKind = { kind: "lambda"; functionArn: string } | { kind: "lambda:invoke" } | { kind: "sns:publish" };

/** What a task resource is, or `undefined` when the local stage does not run it. */
export function taskKind(resource: string): TaskKind | undefined {
  if (resource === LAMBDA_INVOKE) return { kind: "lambda:invoke" };
  if (resource === SNS_PUBLISH) return { kind: "sns:publish" };
  if (LAMBDA_ARN.test(resource)) return { kind: "lambda", functionArn: resource.replace(/:\$LATEST$/, "") };
  return undefined;
}

/** Fields that exist only in JSONata or in features the interpreter does not have. */
const REFUSED_FIELDS: Record<string, string> = {
  QueryLanguage: "JSONata is not run by the local interpreter (it would leave {% %} expressions unevaluated)",
  Assign: "variables (Assign) are not supported by the local interpreter",
  Output: "Output is a JSONata field; the local interpreter runs JSONPath only",
  Arguments: "Arguments is a JSONata field; the local interpreter runs JSONPath only",
  Condition: "Condition is a JSONata field; the local interpreter runs JSONPath only",
  Items: "Items is a JSONata field; the local interpreter runs JSONPath only",
  ItemReader: "Distributed Map (ItemReader) is not supported by the local interpreter",
  ItemBatcher: "Distributed Map (ItemBatcher) is not supported by the local interpreter",
  ResultWriter: "Distributed Map (ResultWriter) is not supported by the local interpreter",
  ToleratedFailurePercentage: "Distributed Map (ToleratedFailurePercentage) is not supported by the local interpreter",
  ToleratedFailurePercentagePath: "Distributed Map (ToleratedFailurePercentagePath) is not supported by the local interpreter",
  ToleratedFailureCount: "Distributed Map (ToleratedFailureCount) is not supported by the local interpreter",
  ToleratedFailureCountPath: "Distributed Map (ToleratedFailureCountPath) is not supported by the local interpreter",
  Label: "Distributed Map (Label) is not supported by the local interpreter",
  HeartbeatSeconds: "heartbeats are not enforced by the local interpreter",
  HeartbeatSecondsPath: "heartbeats are not enforced by the local interpreter",
  Credentials: "cross-account task credentials are not supported locally",
};

/** Context object paths the local run fills (`$$.Execution.*`, `$$.StateMachine.*`, and `$$.Map.Item.*` in a Map). */
const CONTEXT_PATH = /\$\$\.?([A-Za-z]*)/g;
const FILLED_CONTEXT = new Set(["Execution", "StateMachine", "Map"]);

/** Every string in a value (keys ending in `.$` and their paths, intrinsic function calls). */
function* strings(value: unknown): Generator<string> {
  if (typeof value === "string") yield value;
  else if (Array.isArray(value)) for (const item of value) yield* strings(item);
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      yield key;
      yield* strings(item);
    }
  }
}

/** The nested state machines of a Parallel or Map state. */
function nested(state: AslState): { label: string; definition: AslDefinition }[] {
  const out: { label: string; definition: AslDefinition }[] = [];
  if (state.Type === "Parallel" && Array.isArray(state.Branches)) {
    (state.Branches as AslDefinition[]).forEach((branch, index) => out.push({ label: `branch ${index + 1}`, definition: branch }));
  }
  if (state.Type === "Map") {
    const processor = (state.ItemProcessor ?? state.Iterator) as (AslDefinition & { ProcessorConfig?: { Mode?: string } }) | undefined;
    if (processor) out.push({ label: "item processor", definition: processor });
  }
  return out;
}

/**
 * Parses a definition and checks every state (nested ones too) for what the local interpreter would run differently.
 * Returns the parsed definition and each Task state's kind by state name.
 * @throws UnsupportedDefinitionError naming the state machine and the state
 */
export function checkDefinition(stateMachine: string, definitionJson: string | object): { definition: AslDefinition; tasks: Map<string, TaskKind> } {
  let definition: AslDefinition;
  try {
    definition = (typeof definitionJson === "string" ? JSON.parse(definitionJson) : structuredClone(definitionJson)) as AslDefinition;
  } catch (error) {
    throw new UnsupportedDefinitionError(`state machine ${stateMachine}: its definition is not JSON (${(error as Error).message})`);
  }
  if (definition === null || typeof definition !== "object" || typeof definition.StartAt !== "string" || typeof definition.States !== "object") {
    throw new UnsupportedDefinitionError(`state machine ${stateMachine}: its definition has no StartAt and States`);
  }
  if (definition.QueryLanguage !== undefined && definition.QueryLanguage !== "JSONPath") {
    throw new UnsupportedDefinitionError(`state machine ${stateMachine}: QueryLanguage ${definition.QueryLanguage}: ${REFUSED_FIELDS.QueryLanguage}`);
  }
  const tasks = new Map<string, TaskKind>();
  const visit = (machine: AslDefinition, where: string): void => {
    for (const [name, state] of Object.entries(machine.States ?? {})) {
      const at = `state machine ${stateMachine}: state "${name}"${where}`;
      if (state.QueryLanguage !== undefined && state.QueryLanguage !== "JSONPath") throw new UnsupportedDefinitionError(`${at}: ${REFUSED_FIELDS.QueryLanguage}`);
      for (const field of Object.keys(state)) {
        if (field !== "QueryLanguage" && REFUSED_FIELDS[field]) throw new UnsupportedDefinitionError(`${at}: ${REFUSED_FIELDS[field]}`);
      }
      if (state.Type === "Choice" && Array.isArray(state.Choices)) {
        for (const choice of state.Choices as Record<string, unknown>[]) {
          if ("Condition" in choice) throw new UnsupportedDefinitionError(`${at}: ${REFUSED_FIELDS.Condition}`);
          if ("Assign" in choice) throw new UnsupportedDefinitionError(`${at}: ${REFUSED_FIELDS.Assign}`);
        }
      }
      // The state's own fields (its branches and item processor are checked as states of their own).
      const own = Object.fromEntries(Object.entries(state).filter(([key]) => key !== "Branches" && key !== "ItemProcessor" && key !== "Iterator"));
      for (const text of strings(own)) {
        if (text.includes("{%")) throw new UnsupportedDefinitionError(`${at}: a JSONata expression (${text.slice(0, 60)}); the local interpreter runs JSONPath only`);
        for (const match of text.matchAll(CONTEXT_PATH)) {
          const root = match[1] ?? "";
          if (root !== "" && !FILLED_CONTEXT.has(root)) {
            throw new UnsupportedDefinitionError(`${at}: the context path $$.${root} is not filled by the local interpreter (only $$.Execution, $$.StateMachine and $$.Map.Item are)`);
          }
        }
      }
      if (state.Type === "Task") {
        const resource = String(state.Resource ?? "");
        const kind = taskKind(resource);
        if (!kind) {
          throw new UnsupportedDefinitionError(
            `${at}: task resource ${resource || "(none)"} is not run locally (a Lambda function ARN, ${LAMBDA_INVOKE} and ${SNS_PUBLISH} are)`,
          );
        }
        if (tasks.has(name)) throw new UnsupportedDefinitionError(`${at}: two Task states are named "${name}"; state names must be unique in a state machine`);
        tasks.set(name, kind);
      }
      if (state.Type === "Map") {
        const processor = (state.ItemProcessor ?? state.Iterator) as { ProcessorConfig?: { Mode?: string } } | undefined;
        if (processor?.ProcessorConfig?.Mode === "DISTRIBUTED") throw new UnsupportedDefinitionError(`${at}: Distributed Map is not supported by the local interpreter`);
      }
      for (const inner of nested(state)) visit(inner.definition, ` (in ${inner.label} of "${name}"${where})`);
    }
  };
  visit(definition, "");
  return { definition, tasks };
}

/** The largest timer Node.js keeps (about 24.8 days); longer ones fire at once. */
const MAX_TIMER_SECONDS = 2_147_483;

/**
 * The copy of a definition the interpreter runs: a Task without `TimeoutSeconds` gets Step Functions' own default
 * (99999999 s, capped to the longest timer Node.js keeps) instead of the interpreter's 60 s.
 */
export function runnableCopy(definition: AslDefinition): AslDefinition {
  const copy = structuredClone(definition);
  const visit = (machine: AslDefinition): void => {
    for (const state of Object.values(machine.States ?? {})) {
      if (state.Type === "Task" && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = MAX_TIMER_SECONDS;
      for (const inner of nested(state)) visit(inner.definition);
    }
  };
  visit(copy);
  return copy;
}
