import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ENV } from "../contract/environment";
import { DATA_TABLE_LAYOUT } from "../contract/tables";
import { documentClient } from "./aws-clients";
import { requireEnv } from "./function-environment";

/** Key layout of the platform's data table (shared/contract), under the name the runtime has always used. */
export const DATA_TABLE = DATA_TABLE_LAYOUT;

/** ElectroDB's `{ table, client }` configuration for the data table. */
export interface DataTableConfig {
  readonly table: string;
  readonly client: DynamoDBDocumentClient;
}

/**
 * The data table's name (`ENV.dataTable`) and the process's document client, as ElectroDB's `Entity` and `Service`
 * take them. Creates the client on first use.
 * @example
 * const invoicing = new Service({ invoice: invoices(), payment: payments() }, dataTable());
 */
export function dataTable(): DataTableConfig {
  return { table: requireEnv(ENV.dataTable, "ElectroDB entities"), client: documentClient() };
}
