/**
 * Which changes to an event's JSON Schema break its readers. A reader is a consumer that was written against one
 * version: it must still read what is published under that version (old readers, new events) and what waits in
 * queues and dead-letter queues (new readers, old events). So, for the same version:
 *
 * - breaking: a field removed (or renamed: the old name is gone), a changed type (or constant), a new required
 *   field, a field that became required or optional, an enum that lost a value;
 * - compatible: a new optional field, an enum that gained a value, descriptions.
 *
 * Not compared: constraints inside one type (lengths, patterns, bounds) and `anyOf` alternatives beyond equality.
 */

export type JsonSchema = { [key: string]: unknown };

export type BreakingKind = "removed" | "type" | "required" | "optional" | "enum";

export interface BreakingChange {
  kind: BreakingKind;
  /** Dotted path of the field inside `data` (`total.currency`, `items[].sku`); empty for `data` itself. */
  field: string;
  /** What changed, in words. */
  detail: string;
}

function asSchema(value: unknown): JsonSchema {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonSchema) : {};
}

function types(schema: JsonSchema): string {
  const type = schema.type;
  if (Array.isArray(type)) return [...type].map(String).sort().join("|");
  if (typeof type === "string") return type;
  if ("const" in schema) return typeof schema.const;
  return "any";
}

/** Keywords that change what a value is, beyond its type: any difference in them changes the type. */
const SHAPE_KEYWORDS = ["anyOf", "oneOf", "allOf", "not", "$ref", "format"] as const;

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** The breaking changes from `before` to `after` (the JSON Schemas of one version of `data`). */
export function breakingChanges(before: JsonSchema, after: JsonSchema, path = ""): BreakingChange[] {
  const changes: BreakingChange[] = [];
  const [was, now] = [types(before), types(after)];
  if (was !== now) {
    changes.push({ kind: "type", field: path, detail: `changed type from ${was} to ${now}` });
    return changes;
  }
  if ("const" in before || "const" in after) {
    if (JSON.stringify(before.const) !== JSON.stringify(after.const)) {
      changes.push({ kind: "type", field: path, detail: `changed its constant from ${JSON.stringify(before.const)} to ${JSON.stringify(after.const)}` });
    }
    return changes;
  }
  for (const keyword of SHAPE_KEYWORDS) {
    if (JSON.stringify(before[keyword]) !== JSON.stringify(after[keyword])) {
      changes.push({ kind: "type", field: path, detail: `changed type (${keyword} differs)` });
      return changes;
    }
  }
  const beforeEnum = Array.isArray(before.enum) ? before.enum : undefined;
  const afterEnum = Array.isArray(after.enum) ? after.enum : undefined;
  if (afterEnum) {
    const lost = beforeEnum ? beforeEnum.filter((value) => !afterEnum.some((v) => JSON.stringify(v) === JSON.stringify(value))) : undefined;
    if (!beforeEnum) {
      changes.push({ kind: "enum", field: path, detail: `was narrowed to the values ${afterEnum.map((v) => JSON.stringify(v)).join(", ")}` });
    } else if (lost && lost.length) {
      changes.push({ kind: "enum", field: path, detail: `was narrowed: it lost ${lost.map((v) => JSON.stringify(v)).join(", ")}` });
    }
  }
  if (now === "object") {
    const beforeProps = asSchema(before.properties);
    const afterProps = asSchema(after.properties);
    const beforeRequired = new Set(Array.isArray(before.required) ? before.required.map(String) : []);
    const afterRequired = new Set(Array.isArray(after.required) ? after.required.map(String) : []);
    for (const key of Object.keys(beforeProps)) {
      const field = join(path, key);
      if (!(key in afterProps)) {
        changes.push({ kind: "removed", field, detail: "was removed (or renamed)" });
        continue;
      }
      if (beforeRequired.has(key) && !afterRequired.has(key)) {
        changes.push({ kind: "optional", field, detail: "became optional (readers expect it)" });
      } else if (!beforeRequired.has(key) && afterRequired.has(key)) {
        changes.push({ kind: "required", field, detail: "became required (events without it exist)" });
      }
      changes.push(...breakingChanges(asSchema(beforeProps[key]), asSchema(afterProps[key]), field));
    }
    for (const key of Object.keys(afterProps)) {
      if (!(key in beforeProps) && afterRequired.has(key)) {
        changes.push({ kind: "required", field: join(path, key), detail: "is a new required field (events without it exist)" });
      }
    }
  }
  if (now === "array") changes.push(...breakingChanges(asSchema(before.items), asSchema(after.items), `${path}[]`));
  return changes;
}

/** One event version's schema, before (the committed document) and after (the catalog). */
export interface VersionPair {
  type: string;
  version: number;
  before: JsonSchema;
  after: JsonSchema;
}

/** The lines that report breaking changes, each naming the event, its version and the field. */
export function describeBreakingChanges(pairs: readonly VersionPair[]): string[] {
  const lines: string[] = [];
  for (const { type, version, before, after } of pairs) {
    for (const change of breakingChanges(before, after)) {
      lines.push(`${type} version ${version}: field ${change.field ? `"${change.field}"` : "data"} ${change.detail}`);
    }
  }
  return lines;
}

/** Thrown when the catalog breaks readers of a version the committed document records. */
export class BreakingSchemaChangeError extends Error {
  override name = "BreakingSchemaChangeError";
  constructor(
    readonly lines: readonly string[],
    documentPath: string,
  ) {
    super(
      `the event catalog changes published versions in ways that break their readers (compared with ${documentPath}):\n` +
        lines.map((line) => `  - ${line}`).join("\n") +
        "\nA change that breaks readers needs a new version: give the event the next `version` with the new schema, keep the " +
        "old one in its `previousVersions` while consumers move (publish both), then retire it (the README's migration path). " +
        "A new optional field or a new enum value needs no new version.",
    );
  }
}
