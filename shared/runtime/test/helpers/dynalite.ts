import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import {
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

// dynalite has no type declarations.
const dynalite = require("dynalite") as (options: { createTableMs?: number; deleteTableMs?: number }) => Server;

/** An in-process DynamoDB (dynalite, in memory) and a client for it. */
export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** Every item of a table, unmarshalled. */
  scan(table: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export const TEST_TABLES = { data: "test-data", idempotency: "test-idempotency" } as const;

/**
 * Starts dynalite on a free port, points the runtime's SDK clients at it (AWS_ENDPOINT_URL_DYNAMODB) and creates
 * the platform's tables: the data table (pk/sk, gsi1, gsi2) and the idempotency table (id).
 * dynalite lacks TransactWriteItems and UpdateTimeToLive (TTL is not enforced).
 */
export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  const client = new DynamoDBClient({ endpoint });
  await createPlatformTables(client);
  return {
    endpoint,
    client,
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

/** Creates the data and idempotency tables with the platform's key layout. */
export async function createPlatformTables(client: DynamoDBClient, names = TEST_TABLES): Promise<void> {
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
      AttributeDefinitions: ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"].map((name) => ({
        AttributeName: name,
        AttributeType: "S" as const,
      })),
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
