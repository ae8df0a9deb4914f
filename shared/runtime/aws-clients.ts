import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PublishBatchCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { ENV } from "../contract/environment";
import { streams } from "./streams";

// The AWS SDK is bundled into every function (shared/runtime/bundle-options.ts) and imported statically, so esbuild
// keeps only the commands named here and the SDK's modules are evaluated in the init phase, with the rest of the
// bundle. Clients are created once per process: by `prepareAwsClients()`, which `consume()` calls at init when the
// function environment is set (shared/runtime/init.ts), or else on first use.
// Region, credentials and endpoints come from the environment as the SDK reads it (AWS_REGION,
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, ...), which is how the local stage points them elsewhere.
// Creating a client reads configuration only: no network call, so init works offline and in tests.

const dynamoDbCommands = { DynamoDBClient, PutItemCommand, GetItemCommand, DeleteItemCommand, UpdateItemCommand, TransactWriteItemsCommand };

/**
 * How the document client marshalls attribute values (`undefined` attributes are dropped instead of failing the
 * write), and so how the outbox marshalls its transaction for `dynamoDbClient()` (outbox.ts): one set of options for
 * both. lib-dynamodb adds `convertTopLevelContainer: true` to what it is given.
 */
export const DOCUMENT_MARSHALL_OPTIONS: Readonly<{ removeUndefinedValues: true }> = Object.freeze({ removeUndefinedValues: true });
const snsCommands = { SNSClient, PublishCommand, PublishBatchCommand };

let dynamoDb: DynamoDBClient | undefined;
let document: DynamoDBDocumentClient | undefined;
let documentBase: DynamoDBClient | undefined;
let sns: SNSClient | undefined;

/** The DynamoDB commands the runtime uses (only these are bundled). */
export function dynamoDbModule(): typeof dynamoDbCommands {
  return dynamoDbCommands;
}

/** The SNS commands the runtime uses (only these are bundled). */
export function snsModule(): typeof snsCommands {
  return snsCommands;
}

/** The process's DynamoDB client (created at init or on first use, then reused across invocations). */
export function dynamoDbClient(): DynamoDBClient {
  // The runtime's own calls (the event lock, Idempotency-Key records, the outbox's transaction) go through this
  // client, which no code adds middleware to: the SDK resolves each command's middleware stack once per client instead of on every
  // send (its opt-in cacheMiddleware; the same requests are sent).
  dynamoDb ??= new DynamoDBClient({ cacheMiddleware: true });
  return dynamoDb;
}

/**
 * The process's DynamoDB document client (what ElectroDB takes), over `dynamoDbClient()`.
 * `undefined` attributes are dropped instead of failing the write.
 */
export function documentClient(): DynamoDBDocumentClient {
  if (document === undefined) {
    // A DynamoDB client of its own (lib-dynamodb refuses one with cacheMiddleware: its commands wrap another per
    // send), over dynamoDbClient()'s HTTP handler: one connection pool for both.
    documentBase = new DynamoDBClient({ requestHandler: dynamoDbClient().config.requestHandler });
    // A copy of the options: lib-dynamodb writes convertTopLevelContainer into the object it is given.
    document = DynamoDBDocumentClient.from(documentBase, { marshallOptions: { ...DOCUMENT_MARSHALL_OPTIONS } });
  }
  return document;
}

/** The process's SNS client (created at init or on first use, then reused across invocations). */
export function snsClient(): SNSClient {
  sns ??= new SNSClient({});
  return sns;
}

/**
 * Creates the clients a function uses, so that Lambda's init phase (full CPU, before the first request, and what
 * provisioned concurrency prepares) pays for them instead of the first request. Reads configuration only.
 */
export function prepareAwsClients(): void {
  documentClient();
  snsClient();
  // The Kinesis client (kinesis-client.ts) only in a function that may publish a stream event.
  const publishesStreams = process.env[ENV.publishStreams];
  if (publishesStreams && publishesStreams !== "{}") streams?.prepare();
}

/** Which clients exist (for tests of what init prepares). */
export function awsClientsCreated(): { dynamoDb: boolean; document: boolean; sns: boolean; kinesis: boolean } {
  return { dynamoDb: dynamoDb !== undefined, document: document !== undefined, sns: sns !== undefined, kinesis: streams?.created() ?? false };
}

/**
 * Forgets the clients, so the next use builds new ones from the current environment. For tests and the local stage,
 * which change endpoints inside one process.
 */
export function resetAwsClients(): void {
  documentBase?.destroy();
  dynamoDb?.destroy();
  sns?.destroy();
  streams?.reset();
  dynamoDb = undefined;
  document = undefined;
  documentBase = undefined;
  sns = undefined;
}
