import type { Entity, Schema } from "electrodb";
import { DATA_TABLE, dataTable } from "./data-table";
import { ConfigurationError } from "./errors";
import { ENV } from "../contract/environment";
import { documentClient } from "./aws-clients";
import { readEnv } from "./function-environment";
import { inFunction } from "./init";

/** An ElectroDB schema without `model.service` (the service name comes from the function's environment). */
export type EntityDefinition<A extends string, F extends string, C extends string, P extends string = string> = Omit<
  Schema<A, F, C, P>,
  "model"
> & { readonly model: { readonly entity: string; readonly version: string } };

/** The schema ElectroDB gets: the definition plus `model.service`. */
export type ServiceSchema<D> = D & { readonly model: { readonly service: string } };

/** Returns the entity (built at init inside a function, else on first call; rebuilt if the table or client changes). */
export type EntityAccessor<E> = () => E;

/** The entity type behind an accessor: `EntityItem<EntityOf<typeof invoices>>`. */
export type EntityOf<X> = X extends EntityAccessor<infer E> ? E : never;

type IndexDefinition = EntityDefinition<string, string, string>["indexes"][string];
type KeyDefinition = NonNullable<IndexDefinition["sk"]>;

function fieldsOf(accessPattern: string, index: IndexDefinition, entity: string): { pk: string; sk: string } {
  if (index.index === undefined) return { pk: DATA_TABLE.partitionKey, sk: DATA_TABLE.sortKey };
  const gsi = Object.values(DATA_TABLE.indexes).find((candidate) => candidate.name === index.index);
  if (!gsi) {
    const names = Object.values(DATA_TABLE.indexes).map((i) => i.name);
    throw new ConfigurationError(
      `entity ${entity}, access pattern ${accessPattern}: the data table has no index "${index.index}" (it has ${names.join(", ")})`,
    );
  }
  return { pk: gsi.partitionKey, sk: gsi.sortKey };
}

function withField(key: KeyDefinition | undefined, field: string, where: string): KeyDefinition {
  if (key?.field !== undefined && key.field !== field) {
    throw new ConfigurationError(`${where}: the field must be "${field}" on the data table, not "${key.field}"`);
  }
  return { ...(key ?? { composite: [] }), field };
}

/**
 * Fills in the data table's key fields (`pk`/`sk`, `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`) from each index's `index`
 * name, adds an empty sort key where none is given, and rejects indexes the table does not have.
 */
export function withTableKeys<I extends Record<string, IndexDefinition>>(indexes: I, entity: string): I {
  const out: Record<string, IndexDefinition> = {};
  for (const [accessPattern, index] of Object.entries(indexes)) {
    const fields = fieldsOf(accessPattern, index, entity);
    const where = `entity ${entity}, access pattern ${accessPattern}`;
    out[accessPattern] = { ...index, pk: withField(index.pk, fields.pk, where), sk: withField(index.sk, fields.sk, where) };
  }
  return out as I;
}

const defined: Array<{ entity: string; build: () => unknown }> = [];

/**
 * Every entity defined in this process, in order, with its accessor: what the model test builds with the full
 * ElectroDB (its model validation is left out of function bundles, see bundle-options.ts).
 */
export function definedEntities(): ReadonlyArray<{ entity: string; build: () => unknown }> {
  return defined;
}

/**
 * Defines an ElectroDB entity on the platform's data table, for the function's service: `model.service` is the
 * service name (`ENV.service`), so every key starts with `$<service>#` (what the service's IAM grant allows), and
 * key fields can be left out (they follow the table layout). Returns an accessor. Inside a function the entity is
 * built when it is defined (in Lambda's init phase); elsewhere on the accessor's first call.
 * @example
 * export const invoices = defineEntity({
 *   model: { entity: "invoice", version: "1" },
 *   attributes: { invoiceId: { type: "string", required: true }, orderId: { type: "string", required: true } },
 *   indexes: {
 *     byId: { pk: { composite: ["invoiceId"] } },
 *     byOrder: { index: "gsi1", pk: { composite: ["orderId"] }, sk: { composite: ["invoiceId"] } },
 *   },
 * });
 * export type Invoice = EntityItem<EntityOf<typeof invoices>>;
 * await invoices().create({ invoiceId, orderId }).go();
 */
export function defineEntity<A extends string, F extends string, C extends string, D extends EntityDefinition<A, F, C>>(
  definition: D,
): EntityAccessor<Entity<A, F, C, ServiceSchema<D>>> {
  const indexes = withTableKeys(definition.indexes, definition.model.entity);
  let built: { entity: Entity<A, F, C, ServiceSchema<D>>; table: string; document: unknown; service: string } | undefined;
  const accessor = () => {
    // The built entity while the table, the service and the document client are the ones it was built with: what
    // dataTable() would answer then is the client the entity has (one wrapper per client, table and service).
    const table = readEnv(ENV.dataTable);
    const service = readEnv(ENV.service);
    if (built !== undefined && built.table === table && built.service === service && built.document === documentClient()) return built.entity;
    const config = dataTable();
    const electrodb = require("electrodb") as typeof import("electrodb");
    const schema = { ...definition, indexes, model: { ...definition.model, service: service! } } as ServiceSchema<D>;
    built = { entity: new electrodb.Entity(schema, config), table: config.table, document: documentClient(), service: service! };
    return built.entity;
  };
  defined.push({ entity: definition.model.entity, build: accessor });
  // In a function, module scope is Lambda's init phase: build the entity now. (Its model was validated by ElectroDB
  // in the tests: bundles skip that, see bundle-options.ts.) Elsewhere (tests), on first call.
  if (inFunction() && readEnv(ENV.dataTable) !== undefined) accessor();
  return accessor;
}
