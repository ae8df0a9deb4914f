import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ENV } from "../contract/environment";
import { DATA_TABLE_LAYOUT } from "../contract/tables";
import { documentClient } from "./aws-clients";
import { registerElectrodbSdk } from "./electrodb-sdk";
import { ConfigurationError } from "./errors";
import { requireEnv, serviceName } from "./function-environment";

/** Key layout of the platform's data table (shared/contract), under the name the runtime has always used. */
export const DATA_TABLE = DATA_TABLE_LAYOUT;

/**
 * The client ElectroDB's `Entity` and `Service` get for the data table: the process's document client, except that
 * every query through an index only returns the service's own items (see {@link ownItemsClient}).
 */
export interface DataTableClient {
  send(command: any, options?: { abortSignal?: AbortSignal }): Promise<any>;
}

/** ElectroDB's `{ table, client }` configuration for the data table. */
export interface DataTableConfig {
  readonly table: string;
  readonly client: DataTableClient;
}

/**
 * The data table's name (`ENV.dataTable`) and a client for the function's service (`ENV.service`), as ElectroDB's
 * `Entity` and `Service` take them. Creates the document client on first use, and gives ElectroDB its SDK commands
 * in a function bundle (shared/runtime/electrodb-sdk.ts).
 * @example
 * const invoicing = new Service({ invoice: invoices(), payment: payments() }, dataTable());
 */
export function dataTable(): DataTableConfig {
  registerElectrodbSdk();
  const table = requireEnv(ENV.dataTable, "ElectroDB entities");
  const service = serviceName("ElectroDB entities (model.service)");
  return { table, client: ownItemsClient(documentClient(), table, service) };
}

/** ElectroDB partition keys of a service start with `$<service>#` (what its IAM grant's LeadingKeys allow). */
export function ownKeyPrefix(service: string): string {
  return `$${service}#`;
}

/** Names the index filter adds to a query; nothing ElectroDB writes starts with `#isolation`/`:isolation`. */
const FILTER_NAME = "#isolationBasePk";
const FILTER_VALUE = ":isolationBasePkPrefix";

const clients = new WeakMap<DynamoDBDocumentClient, Map<string, DataTableClient>>();

/**
 * Wraps the document client so that every `Query` on one of the data table's indexes also filters on the base
 * partition key: `begins_with(pk, "$<service>#")`.
 *
 * Why: IAM's `dynamodb:LeadingKeys` constrains only the base table's partition key. Another service may write an
 * item under its own prefix whose index keys (`gsi1pk`, ...) carry this service's prefix; without this filter, this
 * service's index queries (entities' access patterns and collections alike) would return that forged item. The
 * base keys are projected into every index, so the filter always sees `pk`. A read through an index without a key
 * condition (a Scan) is refused here; IAM refuses Scans anyway (its LeadingKeys condition comes with `Null: false`).
 *
 * One wrapper per document client, table and service, so `dataTable().client` stays the same object.
 */
export function ownItemsClient(client: DynamoDBDocumentClient, table: string, service: string): DataTableClient {
  let byScope = clients.get(client);
  if (!byScope) clients.set(client, (byScope = new Map()));
  const scope = `${table}\u0000${service}`;
  const existing = byScope.get(scope);
  if (existing) return existing;
  const prefix = ownKeyPrefix(service);
  const wrapped: DataTableClient = {
    send(command: { input?: Record<string, unknown> }, options?: { abortSignal?: AbortSignal }) {
      const input = command?.input;
      if (input === undefined || input.IndexName === undefined || !namesTable(input.TableName, table)) {
        return client.send(command as never, options);
      }
      if (input.KeyConditionExpression === undefined && input.KeyConditions === undefined) {
        return Promise.reject(
          new ConfigurationError(
            `${command.constructor?.name ?? "a command"} reads index ${String(input.IndexName)} of the data table without a key condition; only a Query can be limited to ${prefix} items there`,
          ),
        );
      }
      // Document-client commands (lib-dynamodb, what ElectroDB sends) carry plain values; the base client's
      // commands carry AttributeValues. Same class, new input: the command the caller built is left untouched.
      const value = "inputKeyNodes" in command ? prefix : { S: prefix };
      const Command = command.constructor as new (input: Record<string, unknown>) => unknown;
      try {
        return client.send(new Command(withOwnerFilter(input, value)) as never, options);
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
  byScope.set(scope, wrapped);
  return wrapped;
}

/** Whether a request's `TableName` (a name or a table ARN) is `table`. */
function namesTable(name: unknown, table: string): boolean {
  return name === table || (typeof name === "string" && name.endsWith(`:table/${table}`));
}

/** The query input with `begins_with(pk, prefix)` ANDed to its filter (`prefix` as the command's values carry it). */
export function withOwnerFilter(input: Record<string, unknown>, prefix: unknown): Record<string, unknown> {
  if (input.QueryFilter !== undefined || input.KeyConditions !== undefined) {
    throw new ConfigurationError(
      `a query on index ${String(input.IndexName)} of the data table uses the legacy QueryFilter/KeyConditions parameters; use KeyConditionExpression and FilterExpression, so it can be limited to the service's own items`,
    );
  }
  const own = `begins_with(${FILTER_NAME}, ${FILTER_VALUE})`;
  const existing = typeof input.FilterExpression === "string" ? input.FilterExpression.trim() : "";
  // AND binds tighter than OR: the author's filter needs parentheses only when it has an OR at its top level
  // (DynamoDB refuses parentheses it finds redundant, and ElectroDB already groups its own clauses).
  const filter = existing === "" ? own : hasTopLevelOr(existing) ? `(${existing}) AND ${own}` : `${existing} AND ${own}`;
  return {
    ...input,
    FilterExpression: filter,
    ExpressionAttributeNames: { ...(input.ExpressionAttributeNames as object | undefined), [FILTER_NAME]: DATA_TABLE.partitionKey },
    ExpressionAttributeValues: { ...(input.ExpressionAttributeValues as object | undefined), [FILTER_VALUE]: prefix },
  };
}

/** Whether a condition expression has an `OR` outside every parenthesis (names and values are placeholders). */
function hasTopLevelOr(expression: string): boolean {
  let depth = 0;
  for (let i = 0; i < expression.length; i++) {
    const char = expression[i];
    if (char === "(") depth++;
    else if (char === ")") depth--;
    else if (depth === 0 && /^OR\b/i.test(expression.slice(i)) && (i === 0 || /[\s)]/.test(expression[i - 1] ?? ""))) return true;
  }
  return false;
}
