/**
 * An IAM identity-policy evaluator for the local stage: given the policies attached to a principal (as the Pulumi
 * program renders them) and one authorization request (action, resource, request context), it answers the way AWS's
 * documented evaluation logic does for identity-based policies in one account:
 *
 * 1. A `Deny` statement that applies (action, resource and every condition match) wins: `ExplicitDeny`.
 * 2. Otherwise an `Allow` statement that applies allows: `Allow`.
 * 3. Otherwise the request is denied by default: `ImplicitDeny`.
 *
 * Other policy types (SCPs, permission boundaries, session policies, resource policies) are out of scope.
 *
 * Where the local stage cannot know what AWS would compute, the evaluator fails closed instead of guessing: a
 * statement whose outcome is *indeterminate* (a policy variable such as `${aws:username}` in a 2012-10-17 policy, a
 * context key the caller marks as unresolved, a multivalued request key under an operator without a set qualifier)
 * never allows, and always denies when its effect is `Deny`.
 */
import { BlockList, isIP } from "node:net";

/** A value of a request context key: one string, or a set of strings for a multivalued key. */
export type ContextValue = string | readonly string[];

/**
 * The request context: condition key name -> value(s). Key names are matched case-insensitively, as IAM does.
 * An absent key, `undefined` and an empty array all mean "the key is not in the request".
 */
export type ConditionContext = Readonly<Record<string, ContextValue | undefined>>;

/** The policy language versions IAM knows. `2008-10-17` (or no `Version`) has no policy variables. */
export type PolicyVersion = "2012-10-17" | "2008-10-17";

/** What {@link evaluate} decides. */
export type Decision = "Allow" | "ExplicitDeny" | "ImplicitDeny";

/** Which statement decided: the policy's position in the list given, the statement's position in it, its `Sid`. */
export interface StatementRef {
  /** Index of the policy in the list given to {@link evaluate} (0 for a single policy). */
  policyIndex: number;
  /** Name given to the policy when it was parsed, if any. */
  policyName?: string;
  /** Index of the statement in the policy's `Statement` array (0 for a single statement object). */
  statementIndex: number;
  /** The statement's `Sid`, if it has one. */
  sid?: string;
}

/** The answer of {@link evaluate}. */
export interface EvaluationResult {
  decision: Decision;
  /** The deciding statement: the first applicable `Deny` for `ExplicitDeny`, the first applicable `Allow` for `Allow`. */
  matchedStatement?: StatementRef;
  /** One sentence on why, naming the statement. */
  reason: string;
  /**
   * Details worth knowing: statements whose action and resource matched but whose conditions did not (and why), and
   * AWS behaviours that decided the outcome, such as `ForAllValues` evaluating to true on a key with no values.
   */
  notes: string[];
}

/** What is evaluated: the action, the resource ARN and the request context. */
export interface EvaluationRequest {
  /** `service:Action`, e.g. `dynamodb:PutItem`. */
  action: string;
  /** The resource ARN, or `*` for actions without resource-level permissions. */
  resource: string;
  /** Condition keys and their values in this request. */
  context?: ConditionContext;
  /**
   * Keys whose value exists in AWS but cannot be determined for this request locally (for example
   * `dynamodb:LeadingKeys` when the table's key schema is unknown). Any condition on such a key is indeterminate:
   * it never allows, and a `Deny` statement with it applies.
   */
  unresolvedKeys?: Iterable<string>;
}

/** Thrown when a document is not a valid identity-based policy (IAM would refuse to create it). */
export class PolicyValidationError extends Error {
  override name = "PolicyValidationError";
}

type Effect = "Allow" | "Deny";
type SetQualifier = "ForAllValues" | "ForAnyValue";
type Family = "String" | "Numeric" | "Date" | "Bool" | "Binary" | "Ip" | "Arn" | "Null";

interface OperatorSpec {
  family: Family;
  /** Negated operators (`StringNotEquals`, `ArnNotLike`, ...) hold when no policy value matches. */
  negated: boolean;
  /** Whether policy variables are substituted in this operator's values (else `${...}` is literal text). */
  variables: boolean;
  compare: (requestValue: string, policyValue: string, cond: ParsedCondition) => boolean;
}

interface ParsedCondition {
  /** The operator as written, e.g. `ForAllValues:StringLike`. */
  operator: string;
  base: string;
  spec: OperatorSpec;
  qualifier: SetQualifier | undefined;
  ifExists: boolean;
  key: string;
  values: string[];
  /** For `IpAddress`/`NotIpAddress`: the policy's ranges. */
  ipRanges?: BlockList;
}

/** @internal */
export interface ParsedStatement {
  index: number;
  sid: string | undefined;
  effect: Effect;
  actions: { negated: boolean; patterns: string[] };
  resources: { negated: boolean; patterns: string[] };
  conditions: ParsedCondition[];
}

/** A validated identity-based policy, ready for {@link evaluate}. Build one with {@link IamPolicy.parse}. */
export class IamPolicy {
  private constructor(
    readonly version: PolicyVersion,
    /** @internal */ readonly statements: readonly ParsedStatement[],
    /** A name for messages (the Pulumi resource name, the policy ARN, ...). */
    readonly name: string | undefined,
  ) {}

  /**
   * Validates a policy document: a JSON string or the parsed object (`Version`, `Statement` as one object or an
   * array). Throws {@link PolicyValidationError} for anything IAM would refuse: unknown elements, a missing `Effect`,
   * both or neither of `Action`/`NotAction` (or `Resource`/`NotResource`), a `Principal` (not allowed in identity
   * policies), an unknown condition operator, a non-numeric value under a numeric operator, and so on.
   */
  static parse(document: unknown, name?: string): IamPolicy {
    const where = name ? `policy ${name}` : "policy";
    let doc = document;
    if (typeof doc === "string") {
      try {
        doc = JSON.parse(doc);
      } catch (error) {
        throw new PolicyValidationError(`${where}: not valid JSON (${(error as Error).message})`);
      }
    }
    if (!isRecord(doc)) throw new PolicyValidationError(`${where}: a policy document must be a JSON object`);
    for (const key of Object.keys(doc)) {
      if (!["Version", "Id", "Statement"].includes(key)) throw new PolicyValidationError(`${where}: unknown element ${key}`);
    }
    const version = doc.Version === undefined ? "2008-10-17" : doc.Version;
    if (version !== "2012-10-17" && version !== "2008-10-17") {
      throw new PolicyValidationError(`${where}: Version must be "2012-10-17" or "2008-10-17", got ${JSON.stringify(version)}`);
    }
    const raw = doc.Statement;
    if (raw === undefined) throw new PolicyValidationError(`${where}: Statement is missing`);
    const list = Array.isArray(raw) ? raw : [raw];
    const statements = list.map((statement, index) => parseStatement(statement, index, `${where} statement ${index}`));
    return new IamPolicy(version, statements, name);
  }
}

const STATEMENT_ELEMENTS = ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"];

function parseStatement(raw: unknown, index: number, where: string): ParsedStatement {
  if (!isRecord(raw)) throw new PolicyValidationError(`${where}: a statement must be a JSON object`);
  for (const key of Object.keys(raw)) {
    if (key === "Principal" || key === "NotPrincipal") {
      throw new PolicyValidationError(`${where}: ${key} is not allowed in an identity-based policy`);
    }
    if (!STATEMENT_ELEMENTS.includes(key)) throw new PolicyValidationError(`${where}: unknown element ${key}`);
  }
  if (raw.Sid !== undefined && typeof raw.Sid !== "string") throw new PolicyValidationError(`${where}: Sid must be a string`);
  if (raw.Effect !== "Allow" && raw.Effect !== "Deny") {
    throw new PolicyValidationError(`${where}: Effect must be "Allow" or "Deny", got ${JSON.stringify(raw.Effect)}`);
  }
  const actions = exactlyOne(raw, "Action", "NotAction", where);
  for (const pattern of actions.patterns) {
    if (pattern !== "*" && !/^[A-Za-z0-9*?-]+:[^:]*$/.test(pattern)) {
      throw new PolicyValidationError(`${where}: action ${JSON.stringify(pattern)} is not of the form service:Action`);
    }
  }
  const resources = exactlyOne(raw, "Resource", "NotResource", where);
  return {
    index,
    sid: raw.Sid,
    effect: raw.Effect,
    actions,
    resources,
    conditions: raw.Condition === undefined ? [] : parseConditionBlock(raw.Condition, where),
  };
}

function exactlyOne(raw: Record<string, unknown>, positive: string, negative: string, where: string) {
  const hasPositive = raw[positive] !== undefined;
  const hasNegative = raw[negative] !== undefined;
  if (hasPositive === hasNegative) {
    throw new PolicyValidationError(`${where}: exactly one of ${positive} and ${negative} is required`);
  }
  const name = hasPositive ? positive : negative;
  const value = raw[name];
  const patterns = Array.isArray(value) ? value : [value];
  if (patterns.length === 0 || !patterns.every((p): p is string => typeof p === "string" && p !== "")) {
    throw new PolicyValidationError(`${where}: ${name} must be a non-empty string or array of strings`);
  }
  return { negated: hasNegative, patterns };
}

function parseConditionBlock(raw: unknown, where: string): ParsedCondition[] {
  if (!isRecord(raw)) throw new PolicyValidationError(`${where}: Condition must be an object`);
  const conditions: ParsedCondition[] = [];
  for (const [operator, keys] of Object.entries(raw)) {
    const { base, spec, qualifier, ifExists } = parseOperator(operator, where);
    if (!isRecord(keys)) throw new PolicyValidationError(`${where}: Condition ${operator} must map keys to values`);
    for (const [key, value] of Object.entries(keys)) {
      const list = Array.isArray(value) ? value : [value];
      const values = list.map((v) => {
        if (typeof v === "string") return v;
        if (typeof v === "number" || typeof v === "boolean") return String(v);
        throw new PolicyValidationError(`${where}: ${operator} ${key}: values must be strings, numbers or booleans`);
      });
      const condition: ParsedCondition = { operator, base, spec, qualifier, ifExists, key, values };
      validateValues(condition, where);
      conditions.push(condition);
    }
  }
  return conditions;
}

function parseOperator(operator: string, where: string) {
  let rest = operator;
  let qualifier: SetQualifier | undefined;
  for (const q of ["ForAllValues", "ForAnyValue"] as const) {
    if (rest.startsWith(`${q}:`)) {
      qualifier = q;
      rest = rest.slice(q.length + 1);
    }
  }
  let ifExists = false;
  if (rest.endsWith("IfExists") && rest !== "IfExists") {
    ifExists = true;
    rest = rest.slice(0, -"IfExists".length);
  }
  const spec = OPERATORS[rest];
  if (!spec) throw new PolicyValidationError(`${where}: unknown condition operator ${operator}`);
  if (spec.family === "Null" && (ifExists || qualifier)) {
    throw new PolicyValidationError(`${where}: ${operator}: Null takes neither IfExists nor a set qualifier`);
  }
  return { base: rest, spec, qualifier, ifExists };
}

function validateValues(condition: ParsedCondition, where: string): void {
  const { spec, operator, key, values } = condition;
  const bad = (value: string, what: string) =>
    new PolicyValidationError(`${where}: ${operator} ${key}: ${JSON.stringify(value)} is not ${what}`);
  for (const value of values) {
    switch (spec.family) {
      case "Numeric":
        if (parseNumber(value) === undefined) throw bad(value, "a number");
        break;
      case "Date":
        if (parseDate(value) === undefined) throw bad(value, "an ISO 8601 date or epoch time");
        break;
      case "Bool":
      case "Null":
        if (!/^(true|false)$/i.test(value) && !value.includes("${")) throw bad(value, "true or false");
        break;
      case "Ip":
        if (parseCidr(value) === undefined) throw bad(value, "an IP address or CIDR range");
        break;
      default:
        break;
    }
  }
  if (spec.family === "Ip") {
    const ranges = new BlockList();
    for (const value of values) {
      const cidr = parseCidr(value)!;
      ranges.addSubnet(cidr.address, cidr.prefix, cidr.type);
    }
    condition.ipRanges = ranges;
  }
}

const str = (compare: OperatorSpec["compare"], negated: boolean): OperatorSpec => ({ family: "String", negated, variables: true, compare });
const num = (compare: (a: number, b: number) => boolean, negated = false): OperatorSpec => ({
  family: "Numeric",
  negated,
  variables: false,
  compare: (request, policy) => {
    const a = parseNumber(request);
    const b = parseNumber(policy);
    return a !== undefined && b !== undefined && compare(a, b);
  },
});
const date = (compare: (a: number, b: number) => boolean, negated = false): OperatorSpec => ({
  family: "Date",
  negated,
  variables: false,
  compare: (request, policy) => {
    const a = parseDate(request);
    const b = parseDate(policy);
    return a !== undefined && b !== undefined && compare(a, b);
  },
});
const arn = (negated: boolean): OperatorSpec => ({ family: "Arn", negated, variables: true, compare: (request, policy) => arnMatches(policy, request) });
const ip = (negated: boolean): OperatorSpec => ({
  family: "Ip",
  negated,
  variables: false,
  compare: (request, _policy, cond) => {
    const type = isIP(request);
    // All ranges of the condition are in one BlockList: a match against any of them is a match.
    return type !== 0 && cond.ipRanges !== undefined && cond.ipRanges.check(request, type === 4 ? "ipv4" : "ipv6");
  },
});

const equals = (a: string, b: string) => a === b;
const equalsIgnoreCase = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const like = (a: string, b: string) => wildcard(b, false).test(a);

/** The condition operators IAM defines (without the `IfExists` suffix and set qualifiers). */
const OPERATORS: Readonly<Record<string, OperatorSpec>> = {
  StringEquals: str(equals, false),
  StringNotEquals: str(equals, true),
  StringEqualsIgnoreCase: str(equalsIgnoreCase, false),
  StringNotEqualsIgnoreCase: str(equalsIgnoreCase, true),
  StringLike: str(like, false),
  StringNotLike: str(like, true),
  NumericEquals: num((a, b) => a === b),
  NumericNotEquals: num((a, b) => a === b, true),
  NumericLessThan: num((a, b) => a < b),
  NumericLessThanEquals: num((a, b) => a <= b),
  NumericGreaterThan: num((a, b) => a > b),
  NumericGreaterThanEquals: num((a, b) => a >= b),
  DateEquals: date((a, b) => a === b),
  DateNotEquals: date((a, b) => a === b, true),
  DateLessThan: date((a, b) => a < b),
  DateLessThanEquals: date((a, b) => a <= b),
  DateGreaterThan: date((a, b) => a > b),
  DateGreaterThanEquals: date((a, b) => a >= b),
  Bool: { family: "Bool", negated: false, variables: true, compare: equalsIgnoreCase },
  BinaryEquals: { family: "Binary", negated: false, variables: false, compare: equals },
  IpAddress: ip(false),
  NotIpAddress: ip(true),
  ArnEquals: arn(false),
  ArnLike: arn(false),
  ArnNotEquals: arn(true),
  ArnNotLike: arn(true),
  Null: { family: "Null", negated: false, variables: false, compare: equalsIgnoreCase },
};

/** The condition operator names {@link evaluate} understands (each also with `IfExists`, except `Null`). */
export const SUPPORTED_CONDITION_OPERATORS: readonly string[] = Object.keys(OPERATORS);

type Tri = "true" | "false" | "indeterminate";

/** @internal */
export interface Outcome {
  value: Tri;
  note?: string;
}

/**
 * Evaluates one request against a principal's identity-based policies.
 *
 * `policies` are {@link IamPolicy} instances or raw documents (JSON strings or objects, validated here; an invalid one
 * throws {@link PolicyValidationError}). Several policies behave as one list of statements.
 *
 * Semantics (IAM User Guide, "Policy evaluation logic", "Condition operators", "Conditions with multiple context keys
 * or values", "Single-valued vs. multivalued context keys"):
 * - `Action`/`NotAction` match case-insensitively with `*` and `?`; `Resource`/`NotResource` match case-sensitively,
 *   each of the ARN's first five colon-separated parts separately and the resource part as a whole (`*` alone matches
 *   any resource).
 * - Operators in a `Condition` block are ANDed, keys under one operator are ANDed, values of one key are ORed (NOR
 *   for negated operators: `StringNotEquals` holds when the request value equals none of them).
 * - A key missing from the request makes a condition false, except: negated operators are then true, `...IfExists`
 *   operators are then true, and `Null` tests exactly for absence.
 * - `ForAllValues:` is true when every request value matches; **it is also true when the key is missing or has no
 *   values** (AWS documents this: "also returns true if there are no context keys in the request"). So a
 *   `dynamodb:LeadingKeys` condition does not restrict a request without leading keys (a `Scan`): AWS's own examples
 *   leave `Scan` out of such policies for this reason. The result's `notes` say when this happened.
 * - `ForAnyValue:` is true when at least one request value matches; false when the key is missing or empty.
 * - Policy variables (`${...}` in a `2012-10-17` policy) are not substituted: the statement is indeterminate and fails
 *   closed (never allows; a `Deny` applies). In a `2008-10-17` policy `${...}` is literal text, as in IAM.
 */
export function evaluate(policies: unknown, request: EvaluationRequest): EvaluationResult {
  const list = (Array.isArray(policies) ? policies : [policies]).map((policy, index) =>
    policy instanceof IamPolicy ? policy : IamPolicy.parse(policy, `#${index}`),
  );
  return evaluateApplicable(applicableStatements(list, request.action, request.resource), request);
}

/**
 * The statements of `policies` whose action and resource apply to one action on one resource, in order: all that
 * {@link evaluateApplicable} reads of the policies. It depends on nothing else, so it holds as long as the policies
 * do (an {@link Authorizer} keeps it per principal, action and resource until the principal's policies change).
 */
export interface ApplicableStatements {
  readonly action: string;
  readonly resource: string;
  readonly entries: readonly { ref: StatementRef; statement: ParsedStatement; version: PolicyVersion; resource: Outcome }[];
  /**
   * Whether any of them has conditions: without any, the evaluation reads nothing of the request's context and its
   * result is the same for every request with this action and resource.
   */
  readonly conditional: boolean;
  /** The condition keys they read, lower-cased: nothing else of the context is looked at. */
  readonly keys: ReadonlySet<string>;
}

/** The statements of `policies` that apply to `action` on `resource` (see {@link ApplicableStatements}). */
export function applicableStatements(policies: readonly IamPolicy[], action: string, resource: string): ApplicableStatements {
  const entries: ApplicableStatements["entries"][number][] = [];
  let conditional = false;
  const keys = new Set<string>();
  for (const [policyIndex, policy] of policies.entries()) {
    for (const statement of policy.statements) {
      if (!actionApplies(statement, action)) continue;
      const applies = resourceApplies(statement, policy.version, resource);
      if (applies.value === "false") continue;
      const ref: StatementRef = { policyIndex, statementIndex: statement.index };
      if (policy.name !== undefined) ref.policyName = policy.name;
      if (statement.sid !== undefined) ref.sid = statement.sid;
      entries.push({ ref, statement, version: policy.version, resource: applies });
      for (const condition of statement.conditions) {
        conditional = true;
        keys.add(condition.key.toLowerCase());
      }
    }
  }
  return { action, resource, entries, conditional, keys };
}

/**
 * {@link evaluate}'s decision from the statements that apply (`request`'s action and resource are the ones they were
 * selected for; its context is read only when `applicable.conditional`).
 */
export function evaluateApplicable(applicable: ApplicableStatements, request: Pick<EvaluationRequest, "context" | "unresolvedKeys">): EvaluationResult {
  const { action, resource: resourceArn } = applicable;
  const context = new Map<string, ContextValue>();
  let unresolved: ReadonlySet<string> = new Set<string>();
  if (applicable.conditional) {
    // Only the keys the conditions read (a later key wins over an earlier one spelled in another case, as before).
    const given = request.context ?? {};
    for (const key of Object.keys(given)) {
      const value = given[key];
      if (value === undefined) continue;
      const lower = key.toLowerCase();
      if (applicable.keys.has(lower)) context.set(lower, value);
    }
    unresolved = new Set([...(request.unresolvedKeys ?? [])].map((key) => key.toLowerCase()));
  }

  const notes: string[] = [];
  let allow: StatementRef | undefined;
  let allowNotes: string[] = [];
  for (const { ref, statement, version, resource } of applicable.entries) {
    const conditions = conditionsHold(statement, version, context, unresolved);
    const outcome = and(resource, conditions.outcome);
    const label = describe(ref);
    if (statement.effect === "Deny") {
      if (outcome.value === "false") {
        notes.push(`Deny ${label} does not apply: ${outcome.note ?? "its conditions do not match"}`);
        continue;
      }
      const why = outcome.value === "indeterminate" ? ` (fails closed: ${outcome.note})` : "";
      return {
        decision: "ExplicitDeny",
        matchedStatement: copyRef(ref),
        reason: `${action} on ${resourceArn} is explicitly denied by ${label}${why}`,
        notes: [...notes, ...conditions.notes],
      };
    }
    if (outcome.value === "true") {
      if (!allow) {
        allow = ref;
        allowNotes = conditions.notes;
      }
    } else {
      const verb = outcome.value === "indeterminate" ? "cannot be evaluated locally (fails closed)" : "does not match";
      notes.push(`Allow ${label} matches the action and resource but ${verb}: ${outcome.note ?? "its conditions are false"}`);
    }
  }
  if (allow) {
    return {
      decision: "Allow",
      matchedStatement: copyRef(allow),
      reason: `${action} on ${resourceArn} is allowed by ${describe(allow)}`,
      notes: [...allowNotes, ...notes],
    };
  }
  return { decision: "ImplicitDeny", reason: `no identity-based policy allows the ${action} action`, notes };
}

/**
 * A copy of a statement reference (the ones {@link ApplicableStatements} hold are shared), field by field: V8 (Node
 * 20) spreads objects of varying shapes on a slow path.
 */
export function copyRef(ref: StatementRef): StatementRef {
  const copy: StatementRef = { policyIndex: ref.policyIndex, statementIndex: ref.statementIndex };
  if (ref.policyName !== undefined) copy.policyName = ref.policyName;
  if (ref.sid !== undefined) copy.sid = ref.sid;
  return copy;
}

function describe(ref: StatementRef): string {
  const policy = ref.policyName ?? `#${ref.policyIndex}`;
  return `statement ${ref.sid ? `"${ref.sid}"` : `#${ref.statementIndex}`} of policy ${policy}`;
}

function and(a: Outcome, b: Outcome): Outcome {
  if (a.value === "false") return a;
  if (b.value === "false") return b;
  if (a.value === "indeterminate") return a;
  return b;
}

// Each statement's action patterns, compiled once (a statement is immutable once parsed).
const actionMatchers = new WeakMap<ParsedStatement, RegExp[]>();

function actionApplies(statement: ParsedStatement, action: string): boolean {
  let matchers = actionMatchers.get(statement);
  if (!matchers) {
    matchers = statement.actions.patterns.map((pattern) => wildcard(pattern, true));
    actionMatchers.set(statement, matchers);
  }
  const matched = matchers.some((matcher) => matcher.test(action));
  return statement.actions.negated ? !matched : matched;
}

function resourceApplies(statement: ParsedStatement, version: PolicyVersion, resource: string): Outcome {
  let indeterminate = false;
  let matched = false;
  for (const pattern of statement.resources.patterns) {
    if (version === "2012-10-17" && pattern.includes("${")) {
      indeterminate = true;
      continue;
    }
    if (arnMatches(pattern, resource)) matched = true;
  }
  const positive = statement.resources.negated ? !matched : matched;
  if (!positive) return { value: "false" };
  if (indeterminate) {
    return { value: "indeterminate", note: "its resource uses a policy variable, which the local stage does not substitute" };
  }
  return { value: "true" };
}

function conditionsHold(
  statement: ParsedStatement,
  version: PolicyVersion,
  context: ReadonlyMap<string, ContextValue>,
  unresolved: ReadonlySet<string>,
): { outcome: Outcome; notes: string[] } {
  let outcome: Outcome = { value: "true" };
  const notes: string[] = [];
  for (const condition of statement.conditions) {
    const result = evaluateCondition(condition, version, context, unresolved);
    if (result.value === "true" && result.note) notes.push(result.note);
    outcome = and(outcome, result);
    if (outcome.value === "false") break;
  }
  return { outcome, notes };
}

function evaluateCondition(
  condition: ParsedCondition,
  version: PolicyVersion,
  context: ReadonlyMap<string, ContextValue>,
  unresolved: ReadonlySet<string>,
): Outcome {
  const { operator, key, spec, qualifier, values: policyValues } = condition;
  const label = `${operator} ${key}`;
  if (unresolved.has(key.toLowerCase())) {
    return { value: "indeterminate", note: `${label}: the request's ${key} cannot be determined locally` };
  }
  if (version === "2012-10-17" && spec.variables && policyValues.some((value) => value.includes("${"))) {
    return { value: "indeterminate", note: `${label}: policy variables are not substituted by the local stage` };
  }
  const raw = context.get(key.toLowerCase());
  const requestValues = raw === undefined ? [] : typeof raw === "string" ? [raw] : [...raw];
  const present = requestValues.length > 0;

  if (spec.family === "Null") {
    const holds = policyValues.some((value) => (value.toLowerCase() === "true") === !present);
    return holds ? { value: "true" } : { value: "false", note: `${label}: the key is ${present ? "present" : "absent"}` };
  }

  const matchOne = (requestValue: string): boolean => {
    const any = policyValues.some((policyValue) => spec.compare(requestValue, policyValue, condition));
    return spec.negated ? !any : any;
  };
  const shown = (list: readonly string[]) => list.map((v) => JSON.stringify(v)).join(", ");

  if (qualifier === "ForAllValues") {
    if (!present) {
      return {
        value: "true",
        note: `${label}: the request has no values for ${key}; AWS evaluates ForAllValues on an empty set as true`,
      };
    }
    const failing = requestValues.filter((value) => !matchOne(value));
    return failing.length === 0
      ? { value: "true" }
      : { value: "false", note: `${label}: request value(s) ${shown(failing)} do not satisfy ${shown(policyValues)}` };
  }
  if (qualifier === "ForAnyValue") {
    if (!present) {
      return condition.ifExists ? { value: "true" } : { value: "false", note: `${label}: the request has no values for ${key}` };
    }
    return requestValues.some(matchOne)
      ? { value: "true" }
      : { value: "false", note: `${label}: none of ${shown(requestValues)} satisfies ${shown(policyValues)}` };
  }
  if (!present) {
    if (condition.ifExists || spec.negated) return { value: "true" };
    return { value: "false", note: `${label}: the request has no ${key}` };
  }
  if (requestValues.length > 1) {
    return {
      value: "indeterminate",
      note: `${label}: ${key} has several values in the request; use ForAllValues: or ForAnyValue: with a multivalued key`,
    };
  }
  const value = requestValues[0]!;
  return matchOne(value) ? { value: "true" } : { value: "false", note: `${label}: ${JSON.stringify(value)} does not satisfy ${shown(policyValues)}` };
}

const patternCache = new Map<string, RegExp>();

/** A pattern with IAM's wildcards (`*` any run of characters, `?` one character) as an anchored RegExp. */
function wildcard(pattern: string, ignoreCase: boolean): RegExp {
  const cacheKey = `${ignoreCase ? "i" : "c"}${pattern}`;
  let regex = patternCache.get(cacheKey);
  if (!regex) {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    regex = new RegExp(`^${source}$`, ignoreCase ? "is" : "s");
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(cacheKey, regex);
  }
  return regex;
}

/**
 * ARN matching as `ArnLike` and the `Resource` element do it: case-sensitive, wildcards allowed, each of the first five
 * colon-separated parts (`arn`, partition, service, region, account) matched separately and the rest (the resource,
 * which may itself hold colons) as a whole. A pattern of `*` alone matches anything.
 */
export function arnMatches(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  const p = arnPattern(pattern);
  if (!p) return false;
  const v = splitArn(value);
  if (!v) return false;
  for (let i = 0; i < p.length; i++) {
    const part = p[i]!;
    if (typeof part === "string" ? part !== v[i] : !part.test(v[i]!)) return false;
  }
  return true;
}

// ARN patterns split and compiled once: a part without wildcards matches only itself (what its anchored, escaped
// RegExp would test), so it is compared as a string.
const arnPatternCache = new Map<string, Array<string | RegExp> | null>();

function arnPattern(pattern: string): Array<string | RegExp> | undefined {
  let compiled = arnPatternCache.get(pattern);
  if (compiled === undefined) {
    const parts = splitArn(pattern);
    compiled = parts ? parts.map((part) => (part.includes("*") || part.includes("?") ? wildcard(part, false) : part)) : null;
    if (arnPatternCache.size > 10_000) arnPatternCache.clear();
    arnPatternCache.set(pattern, compiled);
  }
  return compiled ?? undefined;
}

function splitArn(arn: string): string[] | undefined {
  const parts: string[] = [];
  let rest = arn;
  for (let i = 0; i < 5; i++) {
    const colon = rest.indexOf(":");
    if (colon < 0) return undefined;
    parts.push(rest.slice(0, colon));
    rest = rest.slice(colon + 1);
  }
  parts.push(rest);
  return parts;
}

function parseNumber(value: string): number | undefined {
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) return undefined;
  return Number(value);
}

/** ISO 8601 (`2026-01-01`, `2026-01-01T00:00:00Z`, ...) or epoch seconds; milliseconds since the epoch. */
function parseDate(value: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (!/^\d{4}-\d{2}(-\d{2})?([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function parseCidr(value: string): { address: string; prefix: number; type: "ipv4" | "ipv6" } | undefined {
  const [address = "", prefixText, extra] = value.trim().split("/");
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, type: version === 4 ? "ipv4" : "ipv6" };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
