// The proxy takes answers at once when its hooks give them at once (the local stage's Authorizer, key schemas given as
// an object) and waits for them when they are promises: both decide the same way. Request ids stay DynamoDB-shaped
// and distinct.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { Authorizer } from "../iam/authorizer";
import { startDynamoDbProxy, type DynamoDbAuthorize, type DynamoDbProxyEvent, type KeySchemaSource } from "../iam/dynamodb-proxy";

const dynalite = require("dynalite") as (options: { createTableMs?: number }) => Server;

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
const TABLE = "hooks-data";
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TABLE}`;
const PRINCIPAL = "AKIAHOOKS";
const POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "dynamodb:PutItem", Resource: TABLE_ARN, Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$hooks#*"] }, Null: { "dynamodb:LeadingKeys": "false" } } }],
};

let server: Server;
let target: string;

test.before(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const direct = new DynamoDBClient({ endpoint: target, region: REGION, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
  await direct.send(new CreateTableCommand({ TableName: TABLE, BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }] }));
  direct.destroy();
});

test.after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Two puts (one in the policy's keys, one outside) and a third the hook fails on, through a proxy with these hooks. */
async function outcomes(authorize: DynamoDbAuthorize, keySchemas?: KeySchemaSource) {
  const events: DynamoDbProxyEvent[] = [];
  const proxy = await startDynamoDbProxy({ target, accountId: ACCOUNT, authorize, ...(keySchemas ? { keySchemas } : {}), onDecision: (event) => events.push(event) });
  const client = new DynamoDBClient({ endpoint: proxy.endpoint, region: REGION, maxAttempts: 1, credentials: { accessKeyId: PRINCIPAL, secretAccessKey: "local" } });
  const put = (pk: string) =>
    client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: pk } } })).then(
      (answer) => ({ outcome: "allowed", requestId: answer.$metadata.requestId }),
      (error: Error & { $metadata?: { requestId?: string } }) => ({ outcome: `${error.name}: ${error.message}`, requestId: error.$metadata?.requestId }),
    );
  try {
    const answers = [await put("$hooks#1"), await put("$other#1"), await put("$hooks#fail")];
    return { outcomes: answers.map((a) => a.outcome), requestIds: answers.map((a) => a.requestId), leadingKeys: events.map((e) => e.authorizations[0]?.conditionKeys["dynamodb:LeadingKeys"]) };
  } finally {
    client.destroy();
    await proxy.close();
  }
}

test("an authorize hook answering at once and one answering with a promise decide alike; a throw and a rejection both fail closed", async () => {
  const authorizer = new Authorizer({ accountId: ACCOUNT });
  authorizer.register(PRINCIPAL, POLICY, { roleName: "hooks-role" });
  const failing = (request: Parameters<DynamoDbAuthorize>[0]) => request.context.conditionKeys["dynamodb:LeadingKeys"]?.includes("$hooks#fail");
  const sync: DynamoDbAuthorize = (request) => {
    if (failing(request)) throw new Error("policy store unavailable");
    return authorizer.authorize(request);
  };
  const later: DynamoDbAuthorize = async (request) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (failing(request)) throw new Error("policy store unavailable");
    return authorizer.authorize(request);
  };
  const schemas = { [TABLE]: { partitionKey: "pk" } };
  const atOnce = await outcomes(sync, schemas);
  const awaited = await outcomes(later, async (table) => schemas[table as typeof TABLE]);
  const described = await outcomes(later);
  const denied = `User: arn:aws:sts::${ACCOUNT}:assumed-role/hooks-role/hooks-role is not authorized to perform: dynamodb:PutItem on resource: ${TABLE_ARN} because no identity-based policy allows the dynamodb:PutItem action`;
  const expected = ["allowed", `AccessDeniedException: ${denied}`, "InternalFailure: local IAM proxy: policy store unavailable"];
  assert.equal(atOnce.outcomes, expected);
  assert.equal(awaited.outcomes, expected);
  assert.equal(described.outcomes, expected, "schemas learnt with DescribeTable");
  for (const run of [atOnce, awaited, described]) assert.equal(run.leadingKeys, [["$hooks#1"], ["$other#1"]]);
  const ids = [atOnce, awaited, described].flatMap((run) => run.requestIds);
  for (const id of ids) assert.match(id ?? "", /^[A-Z0-9]{52}$/);
  assert.is(new Set(ids).size, ids.length, "every request has its own id");
});

test.run();
