import { startLocalDynamo, type LocalDynamo } from "../../../testing/local-dynamo";

export { createPlatformTables, TEST_TABLES, type LocalDynamo } from "../../../testing/local-dynamo";

/** dynalite with the platform's tables, and the runtime's SDK clients pointed at it (AWS_ENDPOINT_URL_DYNAMODB). */
export async function startDynalite(): Promise<LocalDynamo> {
  const dynamo = await startLocalDynamo();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  return dynamo;
}
