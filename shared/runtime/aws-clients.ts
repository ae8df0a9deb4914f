import type * as DynamoDbModule from "@aws-sdk/client-dynamodb";
import type * as DocumentModule from "@aws-sdk/lib-dynamodb";
import type * as SnsModule from "@aws-sdk/client-sns";

// The SDK is loaded on first use, not at import: a function that never publishes never pays for the SNS client,
// and the cold start's init phase stays short. `require` (not `import()`) keeps the API synchronous; the bundle
// options turn it into a lazy module call, or a Node require of the Lambda runtime's own SDK when @aws-sdk is external.
// Region, credentials and endpoints come from the environment as the SDK reads it (AWS_REGION,
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, ...), which is how the local stage points them elsewhere.

let dynamoDb: DynamoDbModule.DynamoDBClient | undefined;
let document: DocumentModule.DynamoDBDocumentClient | undefined;
let sns: SnsModule.SNSClient | undefined;

/** The `@aws-sdk/client-dynamodb` module, loaded on first use. */
export function dynamoDbModule(): typeof DynamoDbModule {
  return require("@aws-sdk/client-dynamodb") as typeof DynamoDbModule;
}

/** The `@aws-sdk/client-sns` module, loaded on first use. */
export function snsModule(): typeof SnsModule {
  return require("@aws-sdk/client-sns") as typeof SnsModule;
}

/** The process's DynamoDB client (created on first use, then reused across invocations). */
export function dynamoDbClient(): DynamoDbModule.DynamoDBClient {
  dynamoDb ??= new (dynamoDbModule().DynamoDBClient)({});
  return dynamoDb;
}

/**
 * The process's DynamoDB document client (what ElectroDB takes), over `dynamoDbClient()`.
 * `undefined` attributes are dropped instead of failing the write.
 */
export function documentClient(): DocumentModule.DynamoDBDocumentClient {
  if (!document) {
    const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb") as typeof DocumentModule;
    document = DynamoDBDocumentClient.from(dynamoDbClient(), { marshallOptions: { removeUndefinedValues: true } });
  }
  return document;
}

/** The process's SNS client (created on first use, then reused across invocations). */
export function snsClient(): SnsModule.SNSClient {
  sns ??= new (snsModule().SNSClient)({});
  return sns;
}

/**
 * Forgets the clients, so the next use builds new ones from the current environment. For tests and the local stage,
 * which change endpoints inside one process.
 */
export function resetAwsClients(): void {
  dynamoDb?.destroy();
  sns?.destroy();
  dynamoDb = undefined;
  document = undefined;
  sns = undefined;
}
