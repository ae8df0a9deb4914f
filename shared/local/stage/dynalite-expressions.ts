/**
 * dynalite parses every condition expression of every request with its generated PEG parser, and functions send the
 * same few expressions over and over with new values (an idempotency lock's condition names the current time): in the
 * stage's DynamoDB thread that parse was about a fifth of the thread's CPU. This memoizes the parse per expression,
 * its attribute names and the types of its attribute values, and gives each request the parse it would have got:
 *
 * - the parser resolves `:values` to the request's own value objects; the cached tree records where they went and
 *   each hit gets a fresh copy with the request's values put back in those places;
 * - the parser's checks look only at value types, except `BETWEEN` (compares the bounds) and `attribute_type` (reads
 *   the type name): expressions with either are never cached;
 * - the parse marks names and values used (dynalite's "unused in expressions" error): a hit marks the same ones;
 * - a parse that fails (an error message, or a thrown syntax error) is not cached: the next request parses again.
 */

interface ParseOptions {
  context?: ParserContext;
}

interface ParserContext {
  attrNames?: Record<string, string>;
  attrVals?: Record<string, Record<string, unknown>>;
  unusedAttrNames?: Record<string, unknown>;
  unusedAttrVals?: Record<string, unknown>;
  isKeyCondition?: boolean;
}

/** A parser module of dynalite (`db/conditionParser`): `parse(expression, { context })`. */
export interface ExpressionParser {
  parse(expression: string, options?: ParseOptions): unknown;
}

/** Where a request's attribute value sits in a cached tree. */
class ValueSlot {
  constructor(readonly attrVal: string) {}
}

interface Cached {
  /** The parse result with each value object replaced by its slot. */
  template: unknown;
  usedNames: string[];
  usedValues: string[];
}

/** How many expressions (with their names and value types) a parser keeps; past that the cache starts over. */
const MAX_ENTRIES = 2000;
const UNCACHEABLE = /between|attribute_type/i;
const TYPES = ["S", "N", "B", "NULL", "BOOL", "SS", "NS", "BS", "L", "M"];

const memoized = new WeakSet<object>();

/** Replaces `parser.parse` with its memoized form (once per parser object); returns the parser. */
export function memoizeExpressionParser<T extends ExpressionParser>(parser: T): T {
  if (memoized.has(parser)) return parser;
  memoized.add(parser);
  const parse = parser.parse.bind(parser);
  const cache = new Map<string, Cached>();
  parser.parse = (expression: string, options?: ParseOptions): unknown => {
    const context = options?.context;
    const key = context && typeof expression === "string" && !UNCACHEABLE.test(expression) ? cacheKey(expression, context) : undefined;
    if (key === undefined) return parse(expression, options);
    const hit = cache.get(key);
    if (hit) {
      for (const name of hit.usedNames) delete context!.unusedAttrNames?.[name];
      for (const value of hit.usedValues) delete context!.unusedAttrVals?.[value];
      return materialize(hit.template, context!.attrVals ?? {});
    }
    const namesBefore = Object.keys(context!.unusedAttrNames ?? {});
    const valuesBefore = Object.keys(context!.unusedAttrVals ?? {});
    const result = parse(expression, options);
    // The parser answers a semantic error as a string (a syntax error is thrown): neither is cached.
    if (typeof result === "string") return result;
    const slots = new Map<object, ValueSlot>();
    for (const [name, value] of Object.entries(context!.attrVals ?? {})) {
      if (value !== null && typeof value === "object") slots.set(value, new ValueSlot(name));
    }
    const template = toTemplate(result, slots);
    if (template === undefined) return result;
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(key, {
      template,
      usedNames: namesBefore.filter((name) => !(name in (context!.unusedAttrNames ?? {}))),
      usedValues: valuesBefore.filter((name) => !(name in (context!.unusedAttrVals ?? {}))),
    });
    return result;
  };
  return parser;
}

/** The expression, its attribute names, and its attribute values' names and types; `undefined` if not cacheable. */
function cacheKey(expression: string, context: ParserContext): string | undefined {
  let values = "";
  for (const [name, value] of Object.entries(context.attrVals ?? {})) {
    const type = value !== null && typeof value === "object" ? TYPES.find((t) => value[t] != null) : undefined;
    if (type === undefined) return undefined;
    values += `${name}=${type};`;
  }
  return `${context.isKeyCondition ? "k" : "c"}\u0000${expression}\u0000${JSON.stringify(context.attrNames ?? null)}\u0000${values}`;
}

/** A copy of a parse result with value objects replaced by slots; `undefined` when it holds anything else but plain data. */
function toTemplate(node: unknown, slots: ReadonlyMap<object, ValueSlot>): unknown {
  if (node === null || typeof node !== "object") return typeof node === "function" || typeof node === "symbol" ? undefined : node;
  const slot = slots.get(node);
  if (slot) return slot;
  if (Array.isArray(node)) {
    const copy: unknown[] = [];
    for (const item of node) {
      const inner = toTemplate(item, slots);
      if (inner === undefined && item !== undefined) return undefined;
      copy.push(inner);
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(node);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  const copy: Record<string, unknown> = prototype === null ? Object.create(null) : {};
  for (const [name, value] of Object.entries(node)) {
    const inner = toTemplate(value, slots);
    if (inner === undefined && value !== undefined) return undefined;
    copy[name] = inner;
  }
  return copy;
}

/** A fresh tree from a template, with this request's value objects in the slots. */
function materialize(node: unknown, values: Record<string, unknown>): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) return node.map((item) => materialize(item, values));
  if (node instanceof ValueSlot) return values[node.attrVal];
  const copy: Record<string, unknown> = Object.getPrototypeOf(node) === null ? Object.create(null) : {};
  for (const [name, value] of Object.entries(node)) copy[name] = materialize(value, values);
  return copy;
}
