import type { RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { OUTBOX_TABLE_LAYOUT } from "../contract/outbox";

// dynalite ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require("dynalite") as (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; path?: string }) => Server;

/** An in-process DynamoDB (dynalite: a real DynamoDB implementation on npm) and a client for it. */
export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** dynalite's request listener (for engines that call it in this thread, as the local stage's write engine does). */
  readonly listener: RequestListener;
  /** Every item of a table, unmarshalled. */
  scan(table: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export const TEST_TABLES = { data: "test-data", idempotency: "test-idempotency" } as const;

/** The outbox table of the service under test (a service's own table, `<stage>-<service>-outbox` when deployed). */
export const TEST_OUTBOX_TABLE = "test-outbox";

/**
 * Starts dynalite on a free loopback port (in memory, or in `path` with LevelDB) and, unless told otherwise, creates
 * the platform's tables with the platform's key layout. dynalite lacks TransactWriteItems and UpdateTimeToLive.
 */
export async function startLocalDynamo(options: { tables?: typeof TEST_TABLES | false; path?: string } = {}): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.path });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? "eu-west-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  if (options.tables !== false) await createPlatformTables(client, options.tables ?? TEST_TABLES);
  return {
    endpoint,
    client,
    listener: server.listeners("request")[0] as RequestListener,
    async scan(table) {
      const items: Record<string, AttributeValue>[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return items.map((item) => unmarshall(item));
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** Creates the data table (pk/sk, gsi1, gsi2) and the idempotency table (id) with the platform's layout. */
export async function createPlatformTables(client: DynamoDBClient, names: { data: string; idempotency: string } = TEST_TABLES): Promise<void> {
  const gsi = (n: 1 | 2) => ({
    IndexName: `gsi${n}`,
    KeySchema: [
      { AttributeName: `gsi${n}pk`, KeyType: "HASH" as const },
      { AttributeName: `gsi${n}sk`, KeyType: "RANGE" as const },
    ],
    Projection: { ProjectionType: "ALL" as const },
  });
  await client.send(
    new CreateTableCommand({
      TableName: names.data,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"].map((name) => ({ AttributeName: name, AttributeType: "S" as const })),
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [gsi(1), gsi(2)],
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: names.idempotency,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
    }),
  );
}

/** Creates a service's outbox table with the layout its `Service` component gives it (pk/sk, shared/contract/outbox.ts). */
export async function createOutboxTable(client: DynamoDBClient, name: string = TEST_OUTBOX_TABLE): Promise<void> {
  const { partitionKey, sortKey } = OUTBOX_TABLE_LAYOUT;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [partitionKey, sortKey].map((attribute) => ({ AttributeName: attribute, AttributeType: "S" as const })),
      KeySchema: [
        { AttributeName: partitionKey, KeyType: "HASH" },
        { AttributeName: sortKey, KeyType: "RANGE" },
      ],
    }),
  );
}
