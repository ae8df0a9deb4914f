/**
 * Lambda's event filtering for an event source mapping (`FilterCriteria.Filters[].Pattern`), applied to DynamoDB
 * stream records (and any JSON record: Kinesis and SQS records are matched the same way once their data is JSON).
 *
 * The Lambda developer guide ("Lambda event filtering") says a pattern follows EventBridge's event pattern syntax and
 * lists its operators: null (`[null]`), empty (`[""]`), equals, and (several properties), or (several values, or
 * `$or`), not (`anything-but`), numeric equals and ranges, exists and does-not-exist, begins with (`prefix`), ends
 * with (`suffix`), equals-ignore-case. The matching itself is the SNS filter matcher's (scope `MessageBody`, the
 * same EventBridge-like language: nested objects follow nested properties, arrays match by any element, values are
 * typed), with Lambda's limits instead of SNS's: a pattern is at most 4,096 characters, an event source mapping has
 * at most 5 filters (10 after a quota increase), and none of SNS's key and combination limits apply. Operators the
 * guide does not list (`wildcard`, `cidr`) are refused.
 *
 * A record passes when any filter matches (filters are ORed); a record that matches none is dropped (for streams:
 * skipped, the iterator moves past it). No filters: every record passes. DynamoDB numbers are strings in the record
 * (`{"N": "101"}`), so a pattern matches them as strings (`{"N": ["101"]}`), as the guide's example does.
 */
import { FilterPolicy, FilterPolicyError, type FilterPolicyLimits } from "../sns/filter-policy";

/** An event source mapping's `FilterCriteria`. */
export interface FilterCriteria {
  Filters?: readonly { Pattern?: string }[];
}

/** Lambda's limits: no key or combination limits, 4,096 characters per pattern. */
const LAMBDA_PATTERN_LIMITS: FilterPolicyLimits = {
  maxKeys: Number.POSITIVE_INFINITY,
  maxCombinations: Number.POSITIVE_INFINITY,
  // Characters are checked before (Lambda counts characters); this only bounds the bytes of multi-byte text.
  maxBytes: 4 * 4096,
  maxWildcardComplexity: 0,
};

export const MAX_PATTERN_LENGTH = 4096;
/** Filters per event source mapping by default (a quota increase allows 10). */
export const DEFAULT_MAX_FILTERS = 5;

/** Lambda's operators (the developer guide's list); anything else in a rule object is refused. */
const LAMBDA_OPERATORS = new Set(["prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"]);

/**
 * Criteria Lambda would refuse (`InvalidParameterValueException` on CreateEventSourceMapping): the message names
 * the filter and the problem.
 */
export class EventFilterError extends Error {
  override readonly name = "EventFilterError";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Refuses operators Lambda does not document, naming the first one found. */
function checkOperators(pattern: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(pattern)) {
    if (key === "$or" && Array.isArray(value)) {
      for (const alternative of value) if (isPlainObject(alternative)) checkOperators(alternative, where);
    } else if (Array.isArray(value)) {
      for (const rule of value) {
        if (!isPlainObject(rule)) continue;
        for (const operator of Object.keys(rule)) {
          if (!LAMBDA_OPERATORS.has(operator)) throw new EventFilterError(`${where}: Lambda event filtering does not support the "${operator}" operator (property "${key}")`);
        }
        const but = rule["anything-but"];
        if (isPlainObject(but)) {
          for (const operator of Object.keys(but)) {
            if (operator !== "prefix" && operator !== "suffix") {
              throw new EventFilterError(`${where}: Lambda event filtering does not support "anything-but" with "${operator}" (property "${key}")`);
            }
          }
        }
      }
    } else if (isPlainObject(value)) {
      checkOperators(value, where);
    }
  }
}

/** One filter: its pattern as given and compiled. */
export interface CompiledFilter {
  readonly pattern: string;
  readonly policy: FilterPolicy;
}

/** Compiled filter criteria. */
export class EventFilter {
  private constructor(readonly filters: readonly CompiledFilter[]) {}

  /**
   * Validates and compiles `FilterCriteria` as CreateEventSourceMapping does; throws {@link EventFilterError}.
   * `maxFilters` is the account's quota (5, or up to 10).
   */
  static compile(criteria: FilterCriteria | undefined, options: { maxFilters?: number } = {}): EventFilter {
    const filters = criteria?.Filters ?? [];
    const maxFilters = options.maxFilters ?? DEFAULT_MAX_FILTERS;
    if (filters.length > maxFilters) {
      throw new EventFilterError(`FilterCriteria: ${filters.length} filters, more than the ${maxFilters} an event source mapping may have`);
    }
    const compiled = filters.map((filter, index) => {
      const where = `FilterCriteria.Filters[${index}].Pattern`;
      const pattern = filter.Pattern;
      if (typeof pattern !== "string") throw new EventFilterError(`${where}: missing (a JSON object as a string)`);
      if (pattern.length > MAX_PATTERN_LENGTH) {
        throw new EventFilterError(`${where}: ${pattern.length} characters, more than ${MAX_PATTERN_LENGTH}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(pattern);
      } catch (error) {
        throw new EventFilterError(`${where}: not valid JSON (${(error as Error).message})`);
      }
      if (!isPlainObject(parsed)) throw new EventFilterError(`${where}: must be a JSON object`);
      checkOperators(parsed, where);
      try {
        return { pattern, policy: FilterPolicy.compile(parsed, "MessageBody", LAMBDA_PATTERN_LIMITS) };
      } catch (error) {
        if (error instanceof FilterPolicyError) throw new EventFilterError(`${where}: ${error.message.replace(/^FilterPolicy: /, "")}`);
        throw error;
      }
    });
    return new EventFilter(compiled);
  }

  /** True when the record passes (some filter matches it, or there are no filters). */
  matches(record: unknown): boolean {
    return this.evaluate(record).matched;
  }

  /** Whether the record passes, and which filter matched it (index) or why none did. */
  evaluate(record: unknown): { matched: boolean; filter?: number; reason?: string } {
    if (this.filters.length === 0) return { matched: true };
    // The record as its JSON would read, without writing and parsing that text (only the properties a pattern
    // names are read).
    const reasons: string[] = [];
    for (const [index, filter] of this.filters.entries()) {
      const result = filter.policy.evaluateBody(record);
      if (result.matched) return { matched: true, filter: index };
      reasons.push(`filter ${index}: ${result.reason ?? "no match"}`);
    }
    return { matched: false, reason: reasons.join("; ") };
  }
}

/** Compiles `FilterCriteria` (see {@link EventFilter.compile}). */
export function compileFilterCriteria(criteria: FilterCriteria | undefined, options: { maxFilters?: number } = {}): EventFilter {
  return EventFilter.compile(criteria, options);
}
