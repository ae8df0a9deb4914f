/**
 * Amazon SNS subscription filter policies: validation and matching, following the SNS developer guide and the
 * behaviour of AWS's matching engine (aws/event-ruler, whose error messages SNS returns).
 *
 * Semantics in short:
 * - A policy maps property names to a list of rules; a message matches when every property matches (AND) and a
 *   property matches when any of its rules matches (OR). `$or` (also nested) lists alternative sub-policies.
 * - Scope `MessageAttributes` (default) looks at message attributes: `String` values are strings, `Number` values
 *   numbers, `String.Array` values the elements of the JSON array (a rule matches when any element does); `Binary`
 *   attributes are not visible to filtering at all. No nesting.
 * - Scope `MessageBody` looks at the message as a JSON object: nested policy objects follow nested properties
 *   (`{"a":{"b":[...]}}` and `{"a.b":[...]}` both match `{"a":{"b":...}}` and `{"a.b":...}`), arrays in the payload
 *   match when any element matches, and several properties matched inside arrays must come from the same array
 *   element. A message that is not a JSON object matches nothing.
 * - Values are typed: the string `"100"` never matches the number `100` and vice versa; `null`, `true`, `false`
 *   match only those JSON literals. A property that is absent matches only `{"exists": false}`.
 * - Numbers compare with six decimal places (AWS documents five digits of accuracy after the point).
 * - Operators: exact string/number/literal, `prefix`, `suffix`, `equals-ignore-case`, `wildcard` (`*` stands for
 *   any run of characters, none included; in the pattern `\*` is a literal star, `\\` a backslash), `anything-but`
 *   (a string or number, a list of strings or of numbers, `{"prefix":..}`, `{"suffix":..}`, `{"wildcard": pattern or
 *   list of patterns}`), `numeric` (`=`, `<`, `<=`, `>`, `>=`, and ranges `>`/`>=` then `<`/`<=`), `exists`, `cidr`
 *   (IPv4 and IPv6; a plain string rule that is an IP address matches that address in any notation).
 * - `anything-but` matches every present value that is not excluded (numbers, booleans and null included).
 * - `exists: true` needs a non-null, non-empty value (key matching page); `exists: false` matches an absent property,
 *   but never a message without any attributes (scope MessageAttributes: "An empty set of attributes results in the
 *   filter not matching").
 * - Scope MessageAttributes compares against the attribute value with `"` and `\` escaped by a backslash (the
 *   constraints page: a policy must double-escape them to match), so `a"b` is matched by the policy string `a\"b`
 *   (JSON `"a\\\"b"`).
 *
 * Limits checked as AWS does: at most 5 top-level keys, at most 150 combinations (the product over the policy's
 * arrays of their value counts times their nesting depth, summed over `$or` alternatives), 256 KiB; wildcard
 * patterns hold at most 3 `*`, and a policy's wildcard complexity is at most 100 points (a pattern with one `*`
 * costs 1 point, with more 3 per `*`; a property costs the sum of its patterns' points times their number).
 */

/** Where a subscription's filter policy applies. */
export type FilterPolicyScope = "MessageAttributes" | "MessageBody";

/** A message attribute as SNS Publish takes it (AWS SDK shape). */
export interface FilterableAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

/** What a filter policy looks at: the message body and its attributes. */
export interface FilterableMessage {
  Message: string;
  MessageAttributes?: Record<string, FilterableAttribute>;
}

/** The limits AWS enforces on a filter policy. */
export const FILTER_POLICY_LIMITS = {
  maxKeys: 5,
  maxCombinations: 150,
  maxBytes: 256 * 1024,
  maxWildcardsPerPattern: 3,
  maxWildcardComplexity: 100,
} as const;

/**
 * The limits {@link FilterPolicy.compile} checks (SNS's are {@link FILTER_POLICY_LIMITS}); the stars per wildcard
 * pattern stay SNS's.
 */
export interface FilterPolicyLimits {
  readonly maxKeys: number;
  readonly maxCombinations: number;
  readonly maxBytes: number;
  readonly maxWildcardComplexity: number;
}

/**
 * A filter policy AWS would reject. The message reads like AWS's (without the `Invalid parameter:` prefix SNS adds),
 * e.g. `FilterPolicy: Unrecognized match type wildcard`.
 */
export class FilterPolicyError extends Error {
  override readonly name = "FilterPolicyError";
}

type Primitive = string | number | boolean | null;

type Matcher =
  | { kind: "exact-string"; value: string; ip?: Uint8Array }
  | { kind: "exact-number"; value: number }
  | { kind: "exact-literal"; value: boolean | null }
  | { kind: "prefix" | "suffix" | "equals-ignore-case"; value: string }
  | { kind: "anything-but-strings"; values: Set<string> }
  | { kind: "anything-but-numbers"; values: number[] }
  | { kind: "anything-but-prefix" | "anything-but-suffix"; value: string }
  | { kind: "wildcard"; pattern: RegExp }
  | { kind: "anything-but-wildcard"; patterns: RegExp[] }
  | { kind: "numeric"; lower?: { value: number; inclusive: boolean }; upper?: { value: number; inclusive: boolean } }
  | { kind: "exists"; value: boolean }
  | { kind: "cidr"; low: Uint8Array; high: Uint8Array };

/** One property of one alternative of a policy: its path and its rules (any of which may match). */
export interface FilterCondition {
  /** Dot-joined property path (`customer_interests`, `detail.scope`). */
  readonly path: string;
  /** The rules as written in the policy. */
  readonly rules: readonly unknown[];
  /** @internal compiled rules */
  readonly matchers: readonly Matcher[];
}

interface Leaf {
  path: string;
  value: Primitive;
  /** [array id, index] for every array the value sits in, outermost first. */
  arrays: Array<[number, number]>;
}

function fail(message: string): never {
  throw new FilterPolicyError(`FilterPolicy: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function jsonText(value: unknown): string {
  if (value === undefined) return "]";
  return typeof value === "string" ? value : JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------------------------
// IP addresses

function parseIpv4(text: string): Uint8Array | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const bytes = match.slice(1).map(Number);
  if (bytes.some((b) => b > 255)) return undefined;
  return Uint8Array.from(bytes);
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return undefined;
  let source = text;
  let tail4: Uint8Array | undefined;
  if (source.includes(".")) {
    const cut = source.lastIndexOf(":");
    tail4 = parseIpv4(source.slice(cut + 1));
    if (!tail4) return undefined;
    source = `${source.slice(0, cut + 1)}0:0`;
  }
  const halves = source.split("::");
  if (halves.length > 2) return undefined;
  const split = (part: string) => (part === "" ? [] : part.split(":"));
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  const groups = head.length + tail.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return undefined;
  const all = [...head, ...Array<string>(8 - groups).fill("0"), ...tail];
  if (all.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    const n = parseInt(group, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  if (tail4) bytes.set(tail4, 12);
  // Java (and so AWS's matcher) reads an IPv4-mapped IPv6 address as the IPv4 address.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12);
  return bytes;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address literal, or undefined when `text` is not one. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  return parseIpv4(text) ?? parseIpv6(text);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function parseCidr(text: string): { low: Uint8Array; high: Uint8Array } {
  const parts = text.split("/");
  if (parts.length !== 2) fail("Malformed CIDR, one '/' required");
  const [address, bitsText] = parts as [string, string];
  if (!/^-?\d+$/.test(bitsText)) fail("Malformed CIDR, mask bits must be an integer");
  const bits = Number(bitsText);
  if (bits < 0) fail("Malformed CIDR, mask bits must not be negative");
  const ip = parseIpAddress(address);
  if (!ip) fail(`Nonstandard IP address: ${address}`);
  const total = ip.length * 8;
  if (bits > total) fail(`${ip.length === 4 ? "IPv4" : "IPv6"} mask bits must be at most ${total}`);
  // AWS's matcher takes the address as written as the bottom of the range (it does not clear the host bits).
  const high = Uint8Array.from(ip);
  let hostBits = total - bits;
  for (let i = high.length - 1; i >= 0 && hostBits > 0; i--, hostBits -= 8) {
    high[i]! |= hostBits >= 8 ? 0xff : (1 << hostBits) - 1;
  }
  return { low: ip, high };
}

// ---------------------------------------------------------------------------------------------------------------
// Wildcards

/**
 * Compiles a wildcard pattern as AWS's matcher reads it: `*` is any run of characters (none included), `\*` a literal
 * star, `\\` a literal backslash; any other backslash and two `*` in a row are errors (event-ruler's wording; AWS
 * recorded "Consecutive wildcard characters at pos N" for EventBridge, which shares the matcher).
 */
function compileWildcard(pattern: unknown): { regex: RegExp; stars: number } {
  if (typeof pattern !== "string") fail("wildcard match pattern must be a string");
  let source = "";
  let stars = 0;
  let afterStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const star = c === "*";
    if (star) {
      if (afterStar) fail(`Consecutive wildcard characters at pos ${i}`);
      stars++;
      source += "[\\s\\S]*";
    } else if (c === "\\") {
      const next = pattern[i + 1];
      if (next !== "*" && next !== "\\") fail(`Invalid escape character at pos ${i + 1}`);
      source += next === "*" ? "\\*" : "\\\\";
      i++;
    } else {
      source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
    afterStar = star;
  }
  if (stars > FILTER_POLICY_LIMITS.maxWildcardsPerPattern) fail(WILDCARD_TOO_COMPLEX);
  return { regex: new RegExp(`^${source}$`), stars };
}

/** event-ruler's message for a wildcard rule past its limits (AWS's SNS wording is not recorded). */
const WILDCARD_TOO_COMPLEX =
  "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/** A wildcard pattern's points toward the policy's wildcard complexity: 1 for a single `*`, 3 per `*` beyond. */
function wildcardPoints(stars: number): number {
  return stars <= 1 ? stars : stars * 3;
}

// ---------------------------------------------------------------------------------------------------------------
// Rules

function compareNumbers(a: number, b: number): number {
  if (Math.abs(a) < 5e9 && Math.abs(b) < 5e9) return Math.round(a * 1e6) - Math.round(b * 1e6);
  return a - b;
}

function parseNumeric(expression: unknown): Matcher {
  if (!Array.isArray(expression)) fail("Value of numeric must be an array.");
  const [operator, value, ...rest] = expression as unknown[];
  if (typeof operator !== "string") fail(`Invalid member in numeric match: ${jsonText(operator)}`);
  const numericValue = (op: string, v: unknown): number => {
    if (typeof v !== "number") fail(`Value of ${op === "=" ? "equals" : op} must be numeric`);
    return v;
  };
  switch (operator) {
    case "=": {
      const n = numericValue("=", value);
      if (rest.length > 0) fail("Too many elements in numeric expression");
      return { kind: "numeric", lower: { value: n, inclusive: true }, upper: { value: n, inclusive: true } };
    }
    case "<":
    case "<=": {
      const n = numericValue(operator, value);
      if (rest.length > 0) fail("Too many elements in numeric expression");
      return { kind: "numeric", upper: { value: n, inclusive: operator === "<=" } };
    }
    case ">":
    case ">=": {
      const bottom = numericValue(operator, value);
      const lower = { value: bottom, inclusive: operator === ">=" };
      if (rest.length === 0) return { kind: "numeric", lower };
      const [topOperator, topValue, ...extra] = rest;
      if (typeof topOperator !== "string") fail(`Bad value in numeric range: ${jsonText(topOperator)}`);
      if (topOperator !== "<" && topOperator !== "<=") fail(`Bad numeric range operator: ${topOperator}`);
      const top = numericValue(topOperator, topValue);
      if (extra.length > 0) fail("Too many terms in numeric range expression");
      if (compareNumbers(bottom, top) >= 0) fail("Bottom must be less than top");
      return { kind: "numeric", lower, upper: { value: top, inclusive: topOperator === "<=" } };
    }
    default:
      return fail(`Unrecognized numeric range operator: ${operator}`);
  }
}

function parseAnythingBut(value: unknown): Matcher {
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) fail("Anything-But expression name not found");
    const operator = keys[0]!;
    if (operator === "wildcard") {
      const patterns = Array.isArray(value.wildcard) ? (value.wildcard as unknown[]) : [value.wildcard];
      const compiled = patterns.map((pattern) => compileWildcard(pattern));
      if (keys.length > 1) fail("Only one key allowed in match expression");
      return { kind: "anything-but-wildcard", patterns: compiled.map((c) => c.regex) };
    }
    if (operator !== "prefix" && operator !== "suffix") fail(`Unsupported anything-but pattern: ${operator}`);
    const text = value[operator];
    if (typeof text !== "string") fail(`${operator} match pattern must be a string`);
    if (text === "") fail("Null prefix/suffix not allowed");
    if (keys.length > 1) fail("Only one key allowed in match expression");
    return { kind: operator === "prefix" ? "anything-but-prefix" : "anything-but-suffix", value: text };
  }
  if (typeof value === "string") return { kind: "anything-but-strings", values: new Set([value]) };
  if (typeof value === "number") return { kind: "anything-but-numbers", values: [value] };
  if (!Array.isArray(value)) fail("Value of anything-but must be an array or single string/number value.");
  let strings = 0;
  let numbers = 0;
  for (const item of value) {
    if (typeof item === "string") strings++;
    else if (typeof item === "number") numbers++;
    else fail("Inside anything but list, start|null|boolean is not supported.");
  }
  if ((strings > 0 && numbers > 0) || strings + numbers === 0) {
    fail("Inside anything but list, either all values are number or string, mixed type is not supported");
  }
  return numbers > 0
    ? { kind: "anything-but-numbers", values: value as number[] }
    : { kind: "anything-but-strings", values: new Set(value as string[]) };
}

const OPERATORS = new Set(["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"]);

function parseRule(rule: unknown): Matcher {
  if (typeof rule === "string") {
    const ip = parseIpAddress(rule);
    return ip ? { kind: "exact-string", value: rule, ip } : { kind: "exact-string", value: rule };
  }
  if (typeof rule === "number") return { kind: "exact-number", value: rule };
  if (rule === null || typeof rule === "boolean") return { kind: "exact-literal", value: rule };
  if (!isPlainObject(rule)) return fail("Match value must be String, number, true, false, or null");
  const keys = Object.keys(rule);
  if (keys.length === 0) fail("Match expression name not found");
  const operator = keys[0]!;
  if (!OPERATORS.has(operator)) fail(`Unrecognized match type ${operator}`);
  const value = rule[operator];
  let matcher: Matcher;
  switch (operator) {
    case "prefix":
    case "suffix":
    case "equals-ignore-case":
      if (typeof value !== "string") fail(`${operator} match pattern must be a string`);
      matcher = { kind: operator, value };
      break;
    case "wildcard":
      matcher = { kind: "wildcard", pattern: compileWildcard(value).regex };
      break;
    case "exists":
      if (typeof value !== "boolean") fail("exists match pattern must be either true or false.");
      matcher = { kind: "exists", value };
      break;
    case "cidr":
      if (typeof value !== "string") fail("cidr match pattern must be a string");
      matcher = { kind: "cidr", ...parseCidr(value) };
      break;
    case "numeric":
      matcher = parseNumeric(value);
      break;
    default:
      matcher = parseAnythingBut(value);
  }
  if (keys.length > 1) fail("Only one key allowed in match expression");
  return matcher;
}

function valueMatches(matcher: Matcher, value: Primitive): boolean {
  switch (matcher.kind) {
    case "exact-string": {
      if (typeof value !== "string") return false;
      if (value === matcher.value) return true;
      if (!matcher.ip) return false;
      const ip = parseIpAddress(value);
      return ip !== undefined && ip.length === matcher.ip.length && compareBytes(ip, matcher.ip) === 0;
    }
    case "exact-number":
      return typeof value === "number" && compareNumbers(value, matcher.value) === 0;
    case "exact-literal":
      return value === matcher.value;
    case "prefix":
      return typeof value === "string" && value.startsWith(matcher.value);
    case "suffix":
      return typeof value === "string" && value.endsWith(matcher.value);
    case "equals-ignore-case":
      return (
        typeof value === "string" &&
        (value.toLowerCase() === matcher.value.toLowerCase() || value.toUpperCase() === matcher.value.toUpperCase())
      );
    case "anything-but-strings":
      return !(typeof value === "string" && matcher.values.has(value));
    case "anything-but-numbers":
      return !(typeof value === "number" && matcher.values.some((n) => compareNumbers(value, n) === 0));
    case "anything-but-prefix":
      return !(typeof value === "string" && value.startsWith(matcher.value));
    case "anything-but-suffix":
      return !(typeof value === "string" && value.endsWith(matcher.value));
    case "wildcard":
      return typeof value === "string" && matcher.pattern.test(value);
    case "anything-but-wildcard":
      return !(typeof value === "string" && matcher.patterns.some((pattern) => pattern.test(value)));
    case "numeric": {
      if (typeof value !== "number") return false;
      const { lower, upper } = matcher;
      if (lower) {
        const c = compareNumbers(value, lower.value);
        if (c < 0 || (c === 0 && !lower.inclusive)) return false;
      }
      if (upper) {
        const c = compareNumbers(value, upper.value);
        if (c > 0 || (c === 0 && !upper.inclusive)) return false;
      }
      return true;
    }
    case "cidr": {
      if (typeof value !== "string") return false;
      const ip = parseIpAddress(value);
      return (
        ip !== undefined &&
        ip.length === matcher.low.length &&
        compareBytes(ip, matcher.low) >= 0 &&
        compareBytes(ip, matcher.high) <= 0
      );
    }
    case "exists":
      return true; // handled by the caller (it is about presence, not value)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Policy structure

const OR = "$or";

interface Walk {
  /** Set when the policy nests objects (only the MessageBody scope allows it; checked after the rules, as AWS does). */
  nested: boolean;
  /** The policy's wildcard complexity so far (at most 100 points). */
  wildcardPoints: number;
}

/** The stars of a rule's wildcard patterns (`wildcard` and `anything-but` `wildcard`), for the complexity count. */
function ruleWildcardStars(rule: unknown): number[] {
  if (!isPlainObject(rule)) return [];
  const count = (pattern: unknown) => (typeof pattern === "string" ? compileWildcard(pattern).stars : 0);
  if ("wildcard" in rule) return [count(rule.wildcard)];
  const but = rule["anything-but"];
  if (isPlainObject(but) && "wildcard" in but) {
    return (Array.isArray(but.wildcard) ? but.wildcard : [but.wildcard]).map(count);
  }
  return [];
}

/** Validates the structure and every rule; returns the policy's combination count. */
function checkObject(object: Record<string, unknown>, depth: number, walk: Walk, top: boolean): number {
  const entries = Object.entries(object);
  if (entries.length === 0 && !top) fail("Empty objects are not allowed");
  let combinations = 1;
  for (const [key, value] of entries) {
    if (key === OR) {
      if (!Array.isArray(value)) fail(`It must be an Array followed with ${OR}.`);
      let alternatives = 0;
      for (const item of value) {
        if (!isPlainObject(item)) fail(`Only JSON object is allowed in array of ${OR} relationship.`);
        alternatives += checkObject(item, depth, walk, false);
      }
      if (value.length < 2) fail(`There must have at least 2 Objects in ${OR} relationship.`);
      combinations *= alternatives;
    } else if (Array.isArray(value)) {
      if (value.length === 0) fail("Empty arrays are not allowed");
      for (const rule of value) parseRule(rule);
      const stars = value.flatMap(ruleWildcardStars).filter((n) => n > 0);
      walk.wildcardPoints += stars.reduce((sum, n) => sum + wildcardPoints(n), 0) * stars.length;
      combinations *= value.length * depth;
    } else if (isPlainObject(value)) {
      walk.nested = true;
      combinations *= checkObject(value, depth + 1, walk, false);
    } else {
      fail(`"${key}" must be an object or an array`);
    }
  }
  return combinations;
}

/** Expands `$or` into alternatives: each alternative is a list of conditions that must all hold. */
function expand(object: Record<string, unknown>, prefix: string): FilterCondition[][] {
  let branches: FilterCondition[][] = [[]];
  const cross = (alternatives: FilterCondition[][]) => {
    branches = branches.flatMap((branch) => alternatives.map((alternative) => [...branch, ...alternative]));
  };
  for (const [key, value] of Object.entries(object)) {
    if (key === OR) {
      cross((value as Array<Record<string, unknown>>).flatMap((item) => expand(item, prefix)));
    } else if (Array.isArray(value)) {
      const condition: FilterCondition = {
        path: prefix ? `${prefix}.${key}` : key,
        rules: value,
        matchers: value.map(parseRule),
      };
      branches = branches.map((branch) => [...branch, condition]);
    } else {
      cross(expand(value as Record<string, unknown>, prefix ? `${prefix}.${key}` : key));
    }
  }
  return branches;
}

/** Checks a `FilterPolicyScope` value; throws {@link FilterPolicyError} with AWS's wording otherwise. */
export function checkFilterPolicyScope(scope: unknown): FilterPolicyScope {
  if (scope === "MessageAttributes" || scope === "MessageBody") return scope;
  throw new FilterPolicyError(
    `FilterPolicyScope: Invalid value [${String(scope)}]. Please use either MessageBody or MessageAttributes`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Message values

function attributeLeaves(attributes: Record<string, FilterableAttribute> | undefined): Map<string, Leaf[]> {
  const leaves = new Map<string, Leaf[]>();
  for (const [name, attribute] of Object.entries(attributes ?? {})) {
    const type = attribute.DataType ?? "";
    const base = type.split(".")[0];
    const text = attribute.StringValue;
    if (base === "Binary" || text === undefined) continue; // binary attributes are not matchable
    const values: Primitive[] = [];
    if (type === "String.Array") {
      try {
        const parsed: unknown = JSON.parse(text);
        if (Array.isArray(parsed)) {
          for (const item of parsed) {
            if (item === null || ["string", "number", "boolean"].includes(typeof item)) values.push(item as Primitive);
          }
        }
      } catch {
        // not a JSON array: nothing to match (SNS rejects it at publish)
      }
    } else if (base === "Number") {
      const n = Number(text);
      values.push(Number.isFinite(n) ? n : text);
    } else {
      // Attribute filtering sees `"` and `\` escaped (the constraints page: a policy double-escapes them to match).
      values.push(text.replace(/["\\]/g, "\\$&"));
    }
    leaves.set(
      name,
      values.map((value) => ({ path: name, value, arrays: [] })),
    );
  }
  return leaves;
}

/**
 * The body's values by path. Only properties on the way to a path in `wanted` (the policy's condition paths and
 * their prefixes) are read: nothing else can match. A body given as a value rather than parsed from JSON is read as
 * its JSON text would be (an `undefined` property is absent, an `undefined` array element is `null`).
 */
function bodyLeaves(body: unknown, wanted: ReadonlySet<string>): Map<string, Leaf[]> {
  const leaves = new Map<string, Leaf[]>();
  let arrayIds = 0;
  const visit = (value: unknown, path: string, arrays: Array<[number, number]>) => {
    if (Array.isArray(value)) {
      const id = arrayIds++;
      value.forEach((item, index) => visit(item === undefined ? null : item, path, [...arrays, [id, index]]));
    } else if (isPlainObject(value)) {
      for (const key of Object.keys(value)) {
        const childPath = path ? `${path}.${key}` : key;
        if (!wanted.has(childPath)) continue;
        const child = value[key];
        if (child !== undefined) visit(child, childPath, arrays);
      }
    } else {
      const leaf: Leaf = { path, value: value as Primitive, arrays };
      const list = leaves.get(path);
      if (list) list.push(leaf);
      else leaves.set(path, [leaf]);
    }
  };
  visit(body, "", []);
  return leaves;
}

function consistent(chosen: Array<Array<[number, number]>>, candidate: Array<[number, number]>): boolean {
  for (const arrays of chosen) {
    for (const [id, index] of arrays) {
      for (const [otherId, otherIndex] of candidate) if (id === otherId && index !== otherIndex) return false;
    }
  }
  return true;
}

/** What a message offers to match: its values by path, and whether it has nothing at all (no attributes). */
interface MessageValues {
  leaves: Map<string, Leaf[]>;
  /** Scope MessageAttributes and no attributes: `exists: false` does not match (key matching page). */
  empty: boolean;
}

/** The ways one condition can hold: a matching leaf each, or `null` for "absent and allowed to be". */
function options(condition: FilterCondition, values: MessageValues): Array<Leaf | null> {
  const present = values.leaves.get(condition.path) ?? [];
  const result: Array<Leaf | null> = [];
  let absentOk = false;
  for (const matcher of condition.matchers) {
    if (matcher.kind === "exists") {
      if (!matcher.value && present.length === 0 && !values.empty) absentOk = true;
      // `exists: true` needs a non-null, non-empty value.
      if (matcher.value) {
        for (const leaf of present) if (leaf.value !== null && leaf.value !== "" && !result.includes(leaf)) result.push(leaf);
      }
      continue;
    }
    for (const leaf of present) if (!result.includes(leaf) && valueMatches(matcher, leaf.value)) result.push(leaf);
  }
  if (absentOk) result.push(null);
  return result;
}

function branchHolds(branch: readonly FilterCondition[], values: MessageValues): boolean {
  const choices = branch.map((condition) => options(condition, values));
  if (choices.some((list) => list.length === 0)) return false;
  const chosen: Array<Array<[number, number]>> = [];
  const search = (i: number): boolean => {
    if (i === choices.length) return true;
    for (const leaf of choices[i]!) {
      if (leaf && !consistent(chosen, leaf.arrays)) continue;
      chosen.push(leaf ? leaf.arrays : []);
      if (search(i + 1)) return true;
      chosen.pop();
    }
    return false;
  };
  return search(0);
}

/** The outcome of matching, with a human-readable reason when the message was filtered out. */
export interface FilterEvaluation {
  matched: boolean;
  reason?: string;
}

/**
 * A validated, compiled filter policy. Build it with {@link compileFilterPolicy}; {@link matches} tells whether a
 * message passes, {@link evaluate} also says why not.
 */
export class FilterPolicy {
  private constructor(
    /** The policy as given (parsed). */
    readonly policy: Readonly<Record<string, unknown>>,
    readonly scope: FilterPolicyScope,
    /** Its combination count, as AWS computes it (at most 150). */
    readonly combinations: number,
    /** Its alternatives after `$or` expansion; a message matches when one alternative holds. */
    readonly alternatives: readonly (readonly FilterCondition[])[],
  ) {
    for (const alternative of alternatives) {
      for (const { path } of alternative) {
        const parts = path.split(".");
        for (let i = 1; i <= parts.length; i++) this.wanted.add(parts.slice(0, i).join("."));
      }
    }
  }

  /** The conditions' paths and their prefixes: the only parts of a message body matching reads. */
  private readonly wanted = new Set<string>();

  /** Validates and compiles; throws {@link FilterPolicyError}. Use {@link compileFilterPolicy}. */
  static compile(
    policy: string | Record<string, unknown>,
    scope: FilterPolicyScope = "MessageAttributes",
    /** SNS's limits by default; other users of the same pattern language (Lambda's event filtering) have their own. */
    limits: FilterPolicyLimits = FILTER_POLICY_LIMITS,
  ): FilterPolicy {
    checkFilterPolicyScope(scope);
    let parsed: unknown = policy;
    if (typeof policy === "string") {
      if (Buffer.byteLength(policy) > limits.maxBytes) fail("Filter policy is too large");
      try {
        parsed = JSON.parse(policy);
      } catch (error) {
        fail(`Filter policy is not valid JSON: ${(error as Error).message}`);
      }
    } else if (Buffer.byteLength(JSON.stringify(policy)) > limits.maxBytes) {
      fail("Filter policy is too large");
    }
    if (!isPlainObject(parsed)) fail("Filter is not an object");
    const walk: Walk = { nested: false, wildcardPoints: 0 };
    const combinations = checkObject(parsed, 1, walk, true);
    if (walk.nested && scope === "MessageAttributes") {
      throw new FilterPolicyError("Filter policy scope MessageAttributes does not support nested filter policy");
    }
    if (Object.keys(parsed).length > limits.maxKeys) fail(`Filter policy can not have more than ${limits.maxKeys} keys`);
    if (combinations > limits.maxCombinations) fail("Filter policy is too complex");
    if (walk.wildcardPoints > limits.maxWildcardComplexity) fail(WILDCARD_TOO_COMPLEX);
    const alternatives = Object.keys(parsed).length === 0 ? [] : expand(parsed, "");
    return new FilterPolicy(parsed, scope, Object.keys(parsed).length === 0 ? 0 : combinations, alternatives);
  }

  /** True when the message passes the policy (an empty policy passes everything). */
  matches(message: FilterableMessage): boolean {
    return this.evaluate(message).matched;
  }

  /** Matches and explains a mismatch (for trace views). */
  evaluate(message: FilterableMessage): FilterEvaluation {
    if (this.alternatives.length === 0) return { matched: true };
    if (this.scope === "MessageAttributes") {
      const empty = Object.keys(message.MessageAttributes ?? {}).length === 0;
      return this.explain({ leaves: attributeLeaves(message.MessageAttributes), empty });
    }
    let body: unknown;
    try {
      body = JSON.parse(message.Message);
    } catch {
      return { matched: false, reason: "the message body is not JSON (scope MessageBody)" };
    }
    return this.evaluateBody(body);
  }

  /**
   * {@link evaluate} for scope MessageBody with the body already a value (what `JSON.parse` of the message would
   * give): a caller holding the value (Lambda's event filtering of a record) spares the text and its parse.
   */
  evaluateBody(body: unknown): FilterEvaluation {
    if (this.scope !== "MessageBody") throw new TypeError("evaluateBody is for filter policies of scope MessageBody");
    if (this.alternatives.length === 0) return { matched: true };
    if (!isPlainObject(body)) return { matched: false, reason: "the message body is not a JSON object (scope MessageBody)" };
    return this.explain({ leaves: bodyLeaves(body, this.wanted), empty: false });
  }

  private explain(values: MessageValues): FilterEvaluation {
    for (const alternative of this.alternatives) if (branchHolds(alternative, values)) return { matched: true };
    const first = this.alternatives[0]!;
    const failing = first.filter((condition) => options(condition, values).length === 0);
    const where = this.scope === "MessageAttributes" ? "message attribute" : "message body property";
    const reason =
      values.empty && failing.some((c) => c.matchers.some((m) => m.kind === "exists" && !m.value))
        ? `the message has no attributes, and "exists": false needs at least one`
        : failing.length > 0
        ? failing.map((c) => `${where} "${c.path}" does not match ${JSON.stringify(c.rules)}`).join("; ")
        : "matching values are in different array elements";
    return { matched: false, reason: this.alternatives.length > 1 ? `no $or alternative matched (first: ${reason})` : reason };
  }
}

/**
 * Validates a filter policy (JSON string or object) as SNS does on Subscribe/SetSubscriptionAttributes and compiles
 * it. Throws {@link FilterPolicyError} naming the problem.
 */
export function compileFilterPolicy(
  policy: string | Record<string, unknown>,
  scope: FilterPolicyScope = "MessageAttributes",
): FilterPolicy {
  return FilterPolicy.compile(policy, scope);
}

/** One-shot convenience: compiles `policy` and matches `message`. */
export function matchesFilterPolicy(
  policy: string | Record<string, unknown>,
  message: FilterableMessage,
  scope: FilterPolicyScope = "MessageAttributes",
): boolean {
  return FilterPolicy.compile(policy, scope).matches(message);
}
