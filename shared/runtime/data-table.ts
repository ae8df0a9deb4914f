import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ENV } from "../contract/environment";
import { documentClient } from "./aws-clients";
import { requireEnv } from "./function-environment";

/**
 * Key layout of the platform's data table (the platform creates it so; a test checks the two agree): generic key
 * names, so any ElectroDB entity maps onto them. Items expire through the `expiresAt` attribute (epoch seconds).
 */
export const DATA_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "expiresAt",
  indexes: {
    gsi1: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    gsi2: { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
  },
} as const;

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
