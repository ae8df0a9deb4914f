// End to end: dynalite in-process, the IAM proxy in front of it, unmodified AWS SDK clients and ElectroDB entities
// signing as different functions, each function's role policy enforced as AWS would.
import type { RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Entity } from "electrodb";
import { Authorizer, type IamAuthorizationRequest } from "../iam/authorizer";
import { startDynamoDbProxy, type DynamoDbProxy, type DynamoDbProxyEvent } from "../iam/dynamodb-proxy";
import type { Authorizer as EndpointAuthorizer } from "../endpoints/authorization";

// dynalite has no type declarations.
const dynalite = require("dynalite") as (options: { createTableMs?: number; deleteTableMs?: number }) => Server;

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
const DATA_TABLE = "platform-data";
const OTHER_TABLE = "other-service-table";
const DATA_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${DATA_TABLE}`;
const OTHER_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${OTHER_TABLE}`;
const ITEM_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:Query",
  "dynamodb:BatchGetItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
];

/** The billing function's role policy, shaped as the service's Pulumi program grants it. */
function billingPolicy(actions: readonly string[] = ITEM_ACTIONS) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OwnItems",
        Effect: "Allow",
        Action: [...actions],
        Resource: [DATA_ARN, `${DATA_ARN}/index/gsi1`],
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$billing#*"] } },
      },
    ],
  };
}

const KEYS = {
  billing: "AKIALOCALBILLINGFN",
  billingNoDelete: "AKIALOCALBILLINGRO",
  denyPut: "AKIALOCALDENYPUT",
  admin: "AKIALOCALADMIN",
  stranger: "AKIALOCALSTRANGER",
};

interface Fixture {
  dynalite: Server;
  direct: DynamoDBClient;
  proxy: DynamoDbProxy;
  events: DynamoDbProxyEvent[];
  clients: DynamoDBClient[];
}
let fx: Fixture;

function client(accessKeyId: string, endpoint = fx.proxy.endpoint): DynamoDBClient {
  const c = new DynamoDBClient({ endpoint, region: REGION, maxAttempts: 1, credentials: { accessKeyId, secretAccessKey: "local" } });
  fx.clients.push(c);
  return c;
}

function entities(accessKeyId: string, endpoint?: string) {
  const doc = DynamoDBDocumentClient.from(client(accessKeyId, endpoint));
  const attributes = {
    id: { type: "string", required: true },
    customer: { type: "string", required: true },
    amount: { type: "number" },
  } as const;
  const indexes = {
    primary: { pk: { field: "pk", composite: ["id"] }, sk: { field: "sk", composite: [] } },
    byCustomer: { index: "gsi1", pk: { field: "gsi1pk", composite: ["customer"] }, sk: { field: "gsi1sk", composite: ["id"] } },
  } as const;
  const invoice = new Entity({ model: { entity: "invoice", version: "1", service: "billing" }, attributes, indexes }, { client: doc, table: DATA_TABLE });
  const order = new Entity({ model: { entity: "order", version: "1", service: "orders" }, attributes, indexes }, { client: doc, table: DATA_TABLE });
  return { invoice, order };
}

/** Runs `fn`, expecting AWS's AccessDeniedException (directly, or as the cause of an ElectroDB error). */
async function accessDenied(fn: () => Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number; requestId?: string } }> {
  try {
    await fn();
  } catch (error) {
    const sdkError = (error as { isElectroError?: boolean; cause?: unknown }).isElectroError ? (error as { cause: unknown }).cause : error;
    assert.instance(sdkError, Error);
    assert.is((sdkError as Error).name, "AccessDeniedException", String(sdkError));
    return sdkError as Error & { $metadata?: { httpStatusCode?: number; requestId?: string } };
  }
  throw new assert.Assertion({ message: "expected AccessDeniedException, but the call succeeded", operator: "throws", expects: "AccessDeniedException", actual: "success" });
}

function implicitDenial(action: string, resource: string, who = "arn:aws:sts::123456789012:assumed-role/billing-issue-role/billing-issue"): string {
  return `User: ${who} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
}

test.before(async () => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const direct = new DynamoDBClient({ endpoint: target, region: REGION, credentials: { accessKeyId: "setup", secretAccessKey: "setup" } });
  const key = (name: string, type: "HASH" | "RANGE") => ({ AttributeName: name, KeyType: type });
  await direct.send(
    new CreateTableCommand({
      TableName: DATA_TABLE,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: ["pk", "sk", "gsi1pk", "gsi1sk"].map((name) => ({ AttributeName: name, AttributeType: "S" as const })),
      KeySchema: [key("pk", "HASH"), key("sk", "RANGE")],
      GlobalSecondaryIndexes: [{ IndexName: "gsi1", KeySchema: [key("gsi1pk", "HASH"), key("gsi1sk", "RANGE")], Projection: { ProjectionType: "ALL" } }],
    }),
  );
  await direct.send(
    new CreateTableCommand({
      TableName: OTHER_TABLE,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "S" }],
      KeySchema: [key("pk", "HASH"), key("sk", "RANGE")],
    }),
  );

  const authorizer = new Authorizer({ accountId: ACCOUNT });
  authorizer.register(KEYS.billing, [JSON.stringify(billingPolicy())], { roleName: "billing-issue-role", sessionName: "billing-issue" });
  authorizer.register(KEYS.billingNoDelete, billingPolicy(ITEM_ACTIONS.filter((a) => a !== "dynamodb:DeleteItem")), {
    roleName: "billing-issue-role",
    sessionName: "billing-issue",
  });
  authorizer.register(KEYS.denyPut, [
    billingPolicy(),
    { Version: "2012-10-17", Statement: { Sid: "NoPuts", Effect: "Deny", Action: "dynamodb:PutItem", Resource: "*" } },
  ], { roleName: "readonly-role", sessionName: "reader" });
  authorizer.register(KEYS.admin, { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:*", Resource: "*" } });

  const events: DynamoDbProxyEvent[] = [];
  // No keySchemas: the proxy learns them with DescribeTable on dynalite.
  const proxy = await startDynamoDbProxy({ target, accountId: ACCOUNT, authorize: authorizer.authorize, onDecision: (event) => events.push(event) });
  fx = { dynalite: server, direct, proxy, events, clients: [] };
});

test.after(async () => {
  if (!fx) return;
  for (const c of fx.clients) c.destroy();
  fx.direct.destroy();
  await fx.proxy.close();
  await new Promise<void>((resolve, reject) => fx.dynalite.close((error) => (error ? reject(error) : resolve())));
});

test("the proxy listens on loopback", () => {
  assert.match(fx.proxy.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(fx.proxy.port > 0);
});

test("the billing entity's put, get, update, query (table and gsi1), batch get/write and delete pass", async () => {
  const { invoice } = entities(KEYS.billing);
  await invoice.put({ id: "inv-1", customer: "c-1", amount: 10 }).go();
  await invoice.put({ id: "inv-2", customer: "c-1", amount: 20 }).go();
  const got = await invoice.get({ id: "inv-1" }).go();
  assert.equal(got.data, { id: "inv-1", customer: "c-1", amount: 10 });
  await invoice.patch({ id: "inv-1" }).set({ amount: 11 }).go();
  const byId = await invoice.query.primary({ id: "inv-1" }).go();
  assert.equal(byId.data.map((i) => i.amount), [11]);
  const byCustomer = await invoice.query.byCustomer({ customer: "c-1" }).go();
  assert.equal(byCustomer.data.map((i) => i.id).sort(), ["inv-1", "inv-2"]);
  const batch = await invoice.get([{ id: "inv-1" }, { id: "inv-2" }]).go();
  assert.is(batch.data.length, 2);
  await invoice.put([{ id: "inv-3", customer: "c-2" }, { id: "inv-4", customer: "c-2" }]).go();
  await invoice.delete({ id: "inv-4" }).go();

  const stored = await fx.direct.send(new ScanCommand({ TableName: DATA_TABLE }));
  assert.equal(stored.Items?.map((item) => item.pk?.S).sort(), ["$billing#id_inv-1", "$billing#id_inv-2", "$billing#id_inv-3"]);
  const allowed = fx.events.filter((e) => e.principal === KEYS.billing && e.allowed).map((e) => e.operation);
  for (const operation of ["PutItem", "GetItem", "UpdateItem", "Query", "BatchGetItem", "BatchWriteItem", "DeleteItem"]) {
    assert.ok(allowed.includes(operation), `${operation} went through the proxy: ${allowed.join(", ")}`);
  }
  const indexQuery = fx.events.find((e) => e.operation === "Query" && e.authorizations[0]?.index === "gsi1");
  assert.is(indexQuery?.authorizations[0]?.resource, `${DATA_ARN}/index/gsi1`);
  assert.equal(indexQuery?.authorizations[0]?.conditionKeys["dynamodb:LeadingKeys"], ["$billing#customer_c-1"]);
});

test("an entity of another service (keys $orders#...) is refused with AWS's AccessDeniedException", async () => {
  const { order } = entities(KEYS.billing);
  const put = await accessDenied(() => order.put({ id: "o-1", customer: "c-1" }).go());
  assert.is(put.message, implicitDenial("dynamodb:PutItem", DATA_ARN));
  assert.is(put.$metadata?.httpStatusCode, 400);
  assert.match(put.$metadata?.requestId ?? "", /^[A-Z0-9]{52}$/);

  await accessDenied(() => order.get({ id: "o-1" }).go());
  const query = await accessDenied(() => order.query.byCustomer({ customer: "c-1" }).go());
  assert.is(query.message, implicitDenial("dynamodb:Query", `${DATA_ARN}/index/gsi1`));

  // A batch that mixes both services' items is refused whole.
  const { invoice } = entities(KEYS.billing);
  const doc = DynamoDBDocumentClient.from(client(KEYS.billing));
  const mixed = await accessDenied(() =>
    doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [DATA_TABLE]: [
            { PutRequest: { Item: { pk: "$billing#id_x", sk: "s" } } },
            { PutRequest: { Item: { pk: "$orders#id_x", sk: "s" } } },
          ],
        },
      }),
    ),
  );
  assert.is(mixed.message, implicitDenial("dynamodb:BatchWriteItem", DATA_ARN));
  assert.ok((await invoice.get({ id: "inv-2" }).go()).data, "the billing function still works");

  const stored = await fx.direct.send(new ScanCommand({ TableName: DATA_TABLE }));
  assert.not.ok(stored.Items?.some((item) => item.pk?.S?.startsWith("$orders#") || item.pk?.S === "$billing#id_x"), "nothing denied reached dynalite");
  const denied = fx.events.find((e) => !e.allowed && e.operation === "PutItem");
  assert.equal(denied?.denied?.authorization.conditionKeys["dynamodb:LeadingKeys"], ["$orders#id_o-1"]);
});

test("a table the policy does not name is refused, whatever its keys", async () => {
  const raw = client(KEYS.billing);
  const error = await accessDenied(() =>
    raw.send(new GetItemCommand({ TableName: OTHER_TABLE, Key: { pk: { S: "$billing#id_1" }, sk: { S: "x" } } })),
  );
  assert.is(error.message, implicitDenial("dynamodb:GetItem", OTHER_ARN));
  // Actions the policy does not list are refused on the granted table too (Scan is not granted).
  await accessDenied(() => raw.send(new ScanCommand({ TableName: DATA_TABLE })));
  await accessDenied(() => raw.send(new DescribeTableCommand({ TableName: DATA_TABLE })));
});

test("an action removed from the policy (DeleteItem) is refused while the rest still pass", async () => {
  const { invoice } = entities(KEYS.billingNoDelete);
  await invoice.put({ id: "inv-9", customer: "c-9" }).go();
  assert.is((await invoice.get({ id: "inv-9" }).go()).data?.customer, "c-9");
  assert.is((await invoice.query.byCustomer({ customer: "c-9" }).go()).data.length, 1);
  const error = await accessDenied(() => invoice.delete({ id: "inv-9" }).go());
  assert.is(error.message, implicitDenial("dynamodb:DeleteItem", DATA_ARN));
  assert.ok((await invoice.get({ id: "inv-9" }).go()).data, "the item is still there");
});

test("an explicit deny is reported with AWS's explicit-deny wording", async () => {
  const raw = client(KEYS.denyPut);
  const error = await accessDenied(() =>
    raw.send(new PutItemCommand({ TableName: DATA_TABLE, Item: { pk: { S: "$billing#id_d" }, sk: { S: "x" } } })),
  );
  assert.is(
    error.message,
    `User: arn:aws:sts::123456789012:assumed-role/readonly-role/reader is not authorized to perform: dynamodb:PutItem on resource: ${DATA_ARN} with an explicit deny in an identity-based policy`,
  );
  const got = await raw.send(new GetItemCommand({ TableName: DATA_TABLE, Key: { pk: { S: "$billing#id_inv-1" }, sk: { S: "$invoice_1" } } }));
  assert.is(got.Item?.customer?.S, "c-1");
});

test("unregistered callers are denied; unsigned requests get MissingAuthenticationTokenException", async () => {
  const error = await accessDenied(() => client(KEYS.stranger).send(new ListTablesCommand({})));
  assert.is(error.message, implicitDenial("dynamodb:ListTables", "*", `arn:aws:sts::${ACCOUNT}:assumed-role/${KEYS.stranger}/${KEYS.stranger}`));

  const response = await fetch(fx.proxy.endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.ListTables" },
    body: "{}",
  });
  assert.is(response.status, 400);
  assert.equal(await response.json(), { __type: "com.amazon.coral.service#MissingAuthenticationTokenException", message: "Request is missing Authentication Token" });
});

test("nothing the proxy cannot authorize reaches the engine: legacy API, bodies that are not JSON, empty bodies", async () => {
  const signedAs = (accessKeyId: string, target: string) => ({
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": target,
    "x-amz-date": "20260101T000000Z",
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/${REGION}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`,
  });
  // dynalite still speaks the 2011 API; DynamoDB (and so the proxy) does not.
  const legacy = await fetch(fx.proxy.endpoint, {
    method: "POST",
    headers: signedAs(KEYS.stranger, "DynamoDB_20111205.PutItem"),
    body: JSON.stringify({ TableName: DATA_TABLE, Item: { pk: { S: "$legacy#1" }, sk: { S: "x" } } }),
  });
  assert.is(legacy.status, 400);
  assert.equal(await legacy.json(), { __type: "com.amazon.coral.service#UnknownOperationException" });
  const notJson = await fetch(fx.proxy.endpoint, { method: "POST", headers: signedAs(KEYS.stranger, "DynamoDB_20120810.ListTables"), body: "{" });
  assert.equal([notJson.status, await notJson.json()], [400, { __type: "com.amazon.coral.service#SerializationException" }]);
  const empty = await fetch(fx.proxy.endpoint, { method: "POST", headers: signedAs(KEYS.stranger, "DynamoDB_20120810.ListTables") });
  assert.is(empty.status, 400);
  const denial = (await empty.json()) as { __type: string; Message: string };
  assert.is(denial.__type, "com.amazon.coral.service#AccessDeniedException");
  assert.match(denial.Message, /not authorized to perform: dynamodb:ListTables on resource: \*/);
  assert.is(empty.headers.get("content-type"), "application/x-amz-json-1.0");
  assert.match(empty.headers.get("x-amz-crc32") ?? "", /^\d+$/);
  const stored = await fx.direct.send(new ScanCommand({ TableName: DATA_TABLE }));
  assert.not.ok(stored.Items?.some((item) => item.pk?.S === "$legacy#1"));
});

test("allowed requests are forwarded unchanged: the engine's answers and errors come back as they are", async () => {
  const admin = client(KEYS.admin);
  const tables = await admin.send(new ListTablesCommand({}));
  assert.equal(tables.TableNames?.sort(), [OTHER_TABLE, DATA_TABLE].sort());
  try {
    await admin.send(new DescribeTableCommand({ TableName: "no-such-table" }));
    assert.unreachable("DescribeTable of a missing table should fail");
  } catch (error) {
    assert.is((error as Error).name, "ResourceNotFoundException");
  }
  // A key the table does not have: dynalite's validation error, through the proxy.
  try {
    await admin.send(new PutItemCommand({ TableName: DATA_TABLE, Item: { pk: { S: "$billing#v" } } }));
    assert.unreachable("a PutItem without the sort key should fail");
  } catch (error) {
    assert.is((error as Error).name, "ValidationException");
  }
  // Non-DynamoDB traffic (dynalite's health check) passes straight through.
  const health = await fetch(fx.proxy.endpoint);
  assert.is(health.status, 200);
  assert.match(await health.text(), /^healthy/);
});

test("with configured key schemas and no DescribeTable, an unknown table's leading keys fail closed", async () => {
  const authorizer = new Authorizer({ accountId: ACCOUNT });
  authorizer.register(KEYS.billing, billingPolicy(), { roleName: "billing-issue-role", sessionName: "billing-issue" });
  const target = `http://127.0.0.1:${(fx.dynalite.address() as AddressInfo).port}`;
  const proxy = await startDynamoDbProxy({
    target,
    accountId: ACCOUNT,
    authorize: authorizer.authorize,
    keySchemas: { [DATA_TABLE]: { partitionKey: "pk", sortKey: "sk", indexes: { gsi1: { partitionKey: "gsi1pk" } } } },
    describeTables: false,
  });
  try {
    const raw = client(KEYS.billing, proxy.endpoint);
    const got = await raw.send(new GetItemCommand({ TableName: DATA_TABLE, Key: { pk: { S: "$billing#id_inv-1" }, sk: { S: "$invoice_1" } } }));
    assert.is(got.Item?.amount?.N, "11");
    // The same table under a name the proxy has no schema for would be refused even with an Allow on every table.
    authorizer.register(KEYS.billing, {
      Version: "2012-10-17",
      Statement: { Effect: "Allow", Action: "dynamodb:*", Resource: "*", Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$billing#*"] } } },
    });
    await accessDenied(() => raw.send(new DeleteItemCommand({ TableName: OTHER_TABLE, Key: { pk: { S: "$billing#1" }, sk: { S: "x" } } })));
  } finally {
    await proxy.close();
  }
});

test("a failing authorize hook fails closed: the request is answered with an internal error, not forwarded", async () => {
  const target = `http://127.0.0.1:${(fx.dynalite.address() as AddressInfo).port}`;
  const proxy = await startDynamoDbProxy({
    target,
    accountId: ACCOUNT,
    authorize: () => {
      throw new Error("policy store unavailable");
    },
  });
  try {
    const raw = client(KEYS.admin, proxy.endpoint);
    try {
      await raw.send(new PutItemCommand({ TableName: DATA_TABLE, Item: { pk: { S: "$failclosed#1" }, sk: { S: "x" } } }));
      assert.unreachable("the request should fail");
    } catch (error) {
      assert.is((error as Error).name, "InternalFailure");
      assert.match((error as Error).message, /policy store unavailable/);
    }
    const stored = await fx.direct.send(new ScanCommand({ TableName: DATA_TABLE }));
    assert.not.ok(stored.Items?.some((item) => item.pk?.S === "$failclosed#1"));
  } finally {
    await proxy.close();
  }
});

test("handed dynalite's request listener, the proxy answers in-process exactly as it does over HTTP", async () => {
  const listener = fx.dynalite.listeners("request")[0] as RequestListener;
  const answered: { operation: string; status: number; errorType?: string }[] = [];
  const authorizer = new Authorizer({ accountId: ACCOUNT });
  authorizer.register(KEYS.billing, billingPolicy(), { roleName: "billing-issue-role", sessionName: "billing-issue" });
  const proxy = await startDynamoDbProxy({
    target: "http://127.0.0.1:9", // never dialled: the listener answers
    targetListener: listener,
    accountId: ACCOUNT,
    authorize: authorizer.authorize,
    keySchemas: { [DATA_TABLE]: { partitionKey: "pk", sortKey: "sk", indexes: { gsi1: { partitionKey: "gsi1pk" } } } },
    onAnswered: (event) => answered.push({ operation: event.operation, status: event.status, ...(event.errorType ? { errorType: event.errorType } : {}) }),
  });
  try {
    const { invoice } = entities(KEYS.billing, proxy.endpoint);
    await invoice.put({ id: "inv-local-1", customer: "c-9", amount: 5 }).go();
    const key = { pk: { S: "$billing#id_inv-local-1" }, sk: { S: "$invoice_1" } };
    const inProcess = await client(KEYS.billing, proxy.endpoint).send(new GetItemCommand({ TableName: DATA_TABLE, Key: key }));
    const overHttp = await client(KEYS.billing).send(new GetItemCommand({ TableName: DATA_TABLE, Key: key }));
    assert.equal(inProcess.Item, overHttp.Item);
    assert.is(inProcess.Item?.amount?.N, "5");
    assert.match(inProcess.$metadata.requestId ?? "", /^[A-Z0-9]{52}$/);
    // A failed condition comes back as the SDK's typed error, and the listener hears its type.
    try {
      await invoice.create({ id: "inv-local-1", customer: "c-9", amount: 6 }).go();
      assert.unreachable("create over an existing item should fail");
    } catch (error) {
      assert.is(((error as { cause?: Error }).cause ?? (error as Error)).name, "ConditionalCheckFailedException");
    }
    assert.equal(answered.map((a) => [a.operation, a.status, a.errorType]), [
      ["PutItem", 200, undefined],
      ["GetItem", 200, undefined],
      ["PutItem", 400, "ConditionalCheckFailedException"],
    ]);
    // IAM still decides first: another service's keys never reach the listener.
    await accessDenied(() => entities(KEYS.billing, proxy.endpoint).order.put({ id: "o-9", customer: "c-9" }).go());
    assert.is(answered.length, 3);
  } finally {
    await proxy.close();
  }
});

test("a target listener that throws is answered with an internal error, not a hung request", async () => {
  const proxy = await startDynamoDbProxy({
    target: "http://127.0.0.1:9",
    targetListener: () => {
      throw new Error("engine exploded");
    },
    accountId: ACCOUNT,
    authorize: () => true,
    describeTables: false,
  });
  try {
    await client(KEYS.admin, proxy.endpoint).send(new PutItemCommand({ TableName: DATA_TABLE, Item: { pk: { S: "x" }, sk: { S: "y" } } }));
    assert.unreachable("the request should fail");
  } catch (error) {
    assert.is((error as Error).name, "InternalFailure");
    assert.match((error as Error).message, /engine exploded/);
  } finally {
    await proxy.close();
  }
});

test("the Authorizer's hook fits the endpoints' authorizer contract and adds global keys", () => {
  const authorizer = new Authorizer({ accountId: ACCOUNT, now: () => new Date("2026-03-01T00:00:00Z") });
  const endpointHook: EndpointAuthorizer = authorizer.authorize; // compile-time check of the shared contract
  authorizer.register("AKIAPUBLISHER", {
    Version: "2012-10-17",
    Statement: {
      Effect: "Allow",
      Action: "sns:Publish",
      Resource: "arn:aws:sns:eu-west-1:123456789012:billing-*",
      Condition: { StringEquals: { "aws:RequestedRegion": "eu-west-1", "aws:PrincipalArn": "arn:aws:iam::123456789012:role/AKIAPUBLISHER" }, DateLessThan: { "aws:CurrentTime": "2027-01-01T00:00:00Z" } },
    },
  });
  const request = (region: string): IamAuthorizationRequest => ({
    principal: "AKIAPUBLISHER",
    action: "sns:Publish",
    resource: "arn:aws:sns:eu-west-1:123456789012:billing-invoice-issued",
    context: { region, conditionKeys: {} },
  });
  assert.equal(authorizer.authorize(request("eu-west-1")).allowed, true);
  assert.equal(authorizer.authorize(request("us-east-1")).allowed, false);
  assert.type(endpointHook, "function");
  const open = new Authorizer({ unknownPrincipals: "allow" });
  assert.is(open.authorize(request("eu-west-1")).allowed, true);
  const seen: boolean[] = [];
  const traced = new Authorizer({ onDecision: (_request, decision) => seen.push(decision.allowed) });
  traced.authorize(request("eu-west-1"));
  assert.equal(seen, [false]);
});

test.run();
