/**
 * The difference between two wirings of the stage (before and after a program ran again): what to add, remove or
 * change, piece by piece, so the stage can apply it without starting again (tables keep their data, queues their
 * messages).
 */
import type { FunctionSpec, MappingSpec, QueueSpec, RouteSpec, StageWiring, SubscriptionSpec, TableSpec, TopicSpec } from "../stage/wiring";

/** One piece that exists in both wirings but differs. */
export interface Changed<T> {
  before: T;
  after: T;
  /** The fields that differ (`filterPolicy`, `environment`, `policies`, ...). */
  fields: string[];
}

/** What happened to one kind of piece. */
export interface PieceChanges<T> {
  added: T[];
  removed: T[];
  changed: Changed<T>[];
}

/** Every difference between two wirings. */
export interface WiringChanges {
  tables: PieceChanges<TableSpec>;
  topics: PieceChanges<TopicSpec>;
  queues: PieceChanges<QueueSpec>;
  subscriptions: PieceChanges<SubscriptionSpec>;
  functions: PieceChanges<FunctionSpec>;
  mappings: PieceChanges<MappingSpec>;
  routes: PieceChanges<RouteSpec>;
}

/** The key a piece keeps across runs (ARNs and names are derived from logical names, so they are stable). */
export const wiringKeys = {
  tables: (t: TableSpec) => t.name,
  topics: (t: TopicSpec) => t.arn,
  queues: (q: QueueSpec) => q.arn,
  subscriptions: (s: SubscriptionSpec) => `${s.topicArn} -> ${s.queueArn}`,
  functions: (f: FunctionSpec) => f.name,
  mappings: (m: MappingSpec) => `${m.queueArn} -> ${m.functionArn}`,
  routes: (r: RouteSpec) => `${r.api} ${r.routeKey}`,
} as const;

/** Fields that only say where a piece came from, or what a deployment would call it: not a change to apply. */
const NOT_COMPARED = new Set(["origin", "deployedArn"]);

function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...fields].filter((field) => !NOT_COMPARED.has(field) && stable(a[field]) !== stable(b[field])).sort();
}

function diffPieces<T extends object>(before: readonly T[], after: readonly T[], key: (piece: T) => string): PieceChanges<T> {
  const old = new Map(before.map((piece) => [key(piece), piece]));
  const next = new Map(after.map((piece) => [key(piece), piece]));
  const changes: PieceChanges<T> = { added: [], removed: [], changed: [] };
  for (const [k, piece] of next) {
    const previous = old.get(k);
    if (!previous) {
      changes.added.push(piece);
      continue;
    }
    const fields = changedFields(previous, piece);
    if (fields.length) changes.changed.push({ before: previous, after: piece, fields });
  }
  for (const [k, piece] of old) if (!next.has(k)) changes.removed.push(piece);
  return changes;
}

/** What changed from `before` to `after`. */
export function diffWiring(before: StageWiring, after: StageWiring): WiringChanges {
  return {
    tables: diffPieces(before.tables, after.tables, wiringKeys.tables),
    topics: diffPieces(before.topics, after.topics, wiringKeys.topics),
    queues: diffPieces(before.queues, after.queues, wiringKeys.queues),
    subscriptions: diffPieces(before.subscriptions, after.subscriptions, wiringKeys.subscriptions),
    functions: diffPieces(before.functions, after.functions, wiringKeys.functions),
    mappings: diffPieces(before.mappings, after.mappings, wiringKeys.mappings),
    routes: diffPieces(before.routes, after.routes, wiringKeys.routes),
  };
}

/** True when nothing differs. */
export function isEmptyDiff(changes: WiringChanges): boolean {
  return Object.values(changes).every((c: PieceChanges<unknown>) => c.added.length + c.removed.length + c.changed.length === 0);
}

const last = (arn: string) => arn.split(":").pop() ?? arn;

/** One short line per difference, for the terminal: `+ queue local-x`, `~ subscription a -> b (filterPolicy)`. */
export function describeChanges(changes: WiringChanges): string[] {
  const lines: string[] = [];
  const names: { [K in keyof WiringChanges]: [string, (piece: WiringChanges[K]["added"][number]) => string] } = {
    tables: ["table", (t) => t.name],
    topics: ["topic", (t) => t.name],
    queues: ["queue", (q) => q.name],
    subscriptions: ["subscription", (s) => `${last(s.topicArn)} -> ${last(s.queueArn)}`],
    functions: ["function", (f) => `${f.service}/${f.logicalName}`],
    mappings: ["event source mapping", (m) => `${last(m.queueArn)} -> ${last(m.functionArn)}`],
    routes: ["route", (r) => `${r.routeKey} (${r.project})`],
  };
  for (const kind of Object.keys(names) as (keyof WiringChanges)[]) {
    const [label, name] = names[kind] as [string, (piece: unknown) => string];
    const change = changes[kind] as PieceChanges<unknown>;
    for (const piece of change.added) lines.push(`+ ${label} ${name(piece)}`);
    for (const piece of change.removed) lines.push(`- ${label} ${name(piece)}`);
    for (const piece of change.changed) lines.push(`~ ${label} ${name(piece.after)} (${piece.fields.join(", ")})`);
  }
  return lines;
}
