import { RDSData } from "@aws-sdk/client-rds-data";

// The RDS Data API client, apart from the other clients (aws-clients.ts): only functions of a service that declares
// `relational` bundle it (`relational` in their bundle settings; see `relationalStore` in relational.ts). Data API
// calls are HTTPS requests signed with the function's role: no connection, no pool, no VPC. The endpoint comes from
// the environment like the other clients' (AWS_ENDPOINT_URL_RDS_DATA locally). kysely-data-api takes the aggregated
// `RDSData` client (its five commands are all the Data API has).

let client: RDSData | undefined;

/** The process's Data API client (created at init or on first use, then reused across invocations). */
export function rdsDataClient(): RDSData {
  client ??= new RDSData({});
  return client;
}

/** Whether the client exists (for tests of what init prepares). */
export function rdsDataClientCreated(): boolean {
  return client !== undefined;
}

/** Forgets the client, so the next use builds a new one from the current environment. */
export function resetRdsDataClient(): void {
  client?.destroy();
  client = undefined;
}
