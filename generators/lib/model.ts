import { GeneratorError } from "./errors";
import { camel, checkName, pascal } from "./names";
import type { CatalogEntryInfo, Repo } from "./repo";

export const SERVICE_NAME = { what: "service name", flag: "--name", maxLength: 24 } as const;
export const ENTITY_NAME = { what: "entity name", flag: "--entity", maxLength: 32 } as const;
const EVENT_TYPE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** English plural good enough for identifiers: order -> orders, address -> addresses, delivery -> deliveries. */
export function plural(word: string): string {
  if (/(s|x|z|ch|sh)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

/** Names derived from an entity name, as the templates use them. */
export function entityNames(entity: string) {
  return {
    entity,
    entityCamel: camel(entity),
    entityPascal: pascal(entity),
    idField: `${camel(entity)}Id`,
    /** The accessor exported by the entity file: `orders()`. */
    accessor: camel(plural(entity)),
    pluralKebab: plural(entity),
    /** "a" or "an", for comments. */
    article: /^[aeiou]/.test(entity) ? "an" : "a",
  };
}

export function checkEventType(type: string, flag: string): string {
  const t = type.trim();
  if (t.includes("/") || t.includes("\\") || t.includes("..")) {
    throw new GeneratorError(`event type "${type}" (${flag}) contains a path separator or ".."`);
  }
  if (!EVENT_TYPE.test(t) || t.length > 64) {
    throw new GeneratorError(`event type "${type}" (${flag}) must be <domain>.<event> in kebab-case, at most 64 characters (e.g. orders.order-placed)`);
  }
  return t;
}

/** Consumed events must be in the catalog. */
export function checkConsumed(types: string[], catalog: Map<string, CatalogEntryInfo>, flag: string): string[] {
  for (const type of types) {
    checkEventType(type, flag);
    if (!catalog.has(type)) {
      throw new GeneratorError(`unknown event "${type}" (${flag}); the catalog has ${[...catalog.keys()].join(", ")}`);
    }
  }
  return [...new Set(types)];
}

/** Published events are owned by the service: existing ones must already be its own, new ones join the catalog. */
export function checkPublished(types: string[], service: string, catalog: Map<string, CatalogEntryInfo>, flag: string) {
  const existing: string[] = [];
  const created: string[] = [];
  for (const type of [...new Set(types)]) {
    checkEventType(type, flag);
    const entry = catalog.get(type);
    if (!entry) created.push(type);
    else if (entry.owner !== service) {
      throw new GeneratorError(`event "${type}" (${flag}) is owned by "${entry.owner}"; an event has exactly one owner`);
    } else existing.push(type);
  }
  return { existing, created };
}

/** Logical name of the consumer of an event inside a service: `on-order-placed` (with the domain on a clash). */
export function consumerName(type: string, taken: Iterable<string>): string {
  const [domain, event] = type.split(".") as [string, string];
  const takenSet = new Set(taken);
  const short = `on-${event}`;
  return takenSet.has(short) ? `on-${domain}-${event}` : short;
}

/** The top-level fields of an event's schema and their kinds (`string`, `object`, ...), from the catalog. */
export function schemaShape(repo: Repo, type: string): Record<string, string> | undefined {
  const shape = repo.catalogModule().catalog[type]?.schema.def?.shape;
  if (!shape) return undefined;
  return Object.fromEntries(Object.entries(shape).map(([field, schema]) => [field, schema.def?.type ?? "unknown"]));
}

/**
 * How a consumer can fill the data of an event it publishes from the event it consumed: the id field gets a
 * derived id, every other field is copied from the consumed event's field of the same name and kind. Undefined when
 * some field has no such source (the handler then leaves publishing to its author).
 */
export function fillFrom(published: Record<string, string>, consumed: Record<string, string>, idField: string): string[] | undefined {
  const copied: string[] = [];
  for (const [field, kind] of Object.entries(published)) {
    if (field === idField) continue;
    if (consumed[field] !== kind) return undefined;
    copied.push(field);
  }
  return copied;
}

export function checkService(repo: Repo, raw: string): string {
  const name = checkName(raw, SERVICE_NAME);
  if (repo.exists(`services/${name}`)) throw new GeneratorError(`services/${name} already exists; nothing was written`);
  return name;
}

/** The existing service an edit targets (`--service`): its name and folder. */
export function existingService(repo: Repo, raw: unknown): { service: string; dir: string } {
  const service = checkName(String(raw ?? ""), { ...SERVICE_NAME, flag: "--service" });
  return { service, dir: repo.requireService(service) };
}

/** An entity of the service that must already exist (`--entity`). */
export function existingEntity(repo: Repo, dir: string, raw: unknown): string {
  const entity = checkName(String(raw ?? ""), ENTITY_NAME);
  if (!repo.exists(`${dir}/entities/${entity}.ts`)) {
    throw new GeneratorError(
      `${dir}/entities/${entity}.ts does not exist (--entity), nor does ${dir}/tables.ts have a table ${entity.replaceAll("-", "_")}; add it with npm run new-entity (or npm run new-migration -- --table) first`,
    );
  }
  return entity;
}

/** The event a handler will publish (`--publishes`): in the catalog and owned by the service; `undefined` for none. */
export function ownedEvent(catalog: Map<string, CatalogEntryInfo>, service: string, raw: unknown): string | undefined {
  const published = String(raw ?? "").trim();
  if (!published) return undefined;
  const entry = catalog.get(published);
  if (!entry) throw new GeneratorError(`unknown event "${published}" (--publishes); add it with npm run new-event first`);
  if (entry.owner !== service) throw new GeneratorError(`event "${published}" (--publishes) is owned by "${entry.owner}", not ${service}`);
  return published;
}
