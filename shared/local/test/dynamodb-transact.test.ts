// TransactWriteItems on the local DynamoDB: dynalite in-process, the IAM proxy in front of it, the write engine
// executing transactions, unmodified AWS SDK clients (client-dynamodb and lib-dynamodb). Where moto_server is on
// PATH (an independent implementation), the same requests go to it too and the answers are compared.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import type { RequestListener, Server } from "node:http";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type TransactWriteItem,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { Entity, Service } from "electrodb";
import { startDynamoDbProxy, type DynamoDbProxy, type DynamoDbProxyEvent } from "../iam/dynamodb-proxy";
import { CLIENT_TOKEN_WINDOW_MS, ENGINE_OPERATIONS, listenerTarget, StreamRecorder, WriteEngine, type DynamoTarget } from "../dynamodb-streams";

const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;
const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const ORDERS = "orders-table";
const STOCK = "stock-table";

let server: Server;
let proxy: DynamoDbProxy;
let recorder: StreamRecorder;
let client: DynamoDBClient;
let now = Date.now();
const decisions: DynamoDbProxyEvent[] = [];
/** The operations the write engine sent to dynalite, in order. */
const engineCalls: string[] = [];
let deny: string | undefined;
let moto: { client: DynamoDBClient; child: ChildProcess } | undefined;
let motoMissing = "";

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function createTables(target: DynamoDBClient): Promise<void> {
  for (const table of [ORDERS, STOCK]) {
    await target.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      }),
    );
  }
}

async function startMoto(): Promise<void> {
  const executable = findOnPath("moto_server");
  if (!executable) {
    motoMissing = "moto_server is not on PATH";
    return;
  }
  const port = await freePort();
  const child = spawn(executable, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const motoClient = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: REGION, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  // moto_server is a Python program: its imports alone take seconds on a loaded machine. A bound for a hang.
  const deadline = Date.now() + 120_000;
  let last: unknown;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      await createTables(motoClient);
      moto = { client: motoClient, child };
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill();
  motoClient.destroy();
  // moto is there but does not run: a failure to report, not a comparison to skip quietly. Printed as well: uvu
  // swallows a before hook's error (the runner counts the tests that did not run as failed).
  const reason =
    `dynamodb-transact: moto_server (on PATH at ${executable}) ${child.exitCode === null ? "did not answer within 120 s" : `exited (${child.exitCode})`}` +
    `${last ? `: ${String(last)}` : ""}; fix it, or take it off PATH to check our side only`;
  console.error(reason);
  throw new Error(reason);
}

test.before(async () => {
  const motoStarted = startMoto();
  // Awaited below, after the local stack is up: handled now, so a quick failure is not an unhandled rejection.
  motoStarted.catch(() => undefined);
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const listener = server.listeners("request")[0] as RequestListener;
  recorder = new StreamRecorder({ region: REGION });
  for (const table of [ORDERS, STOCK]) {
    recorder.enable(table, { streamArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}/stream/2026-12-07T00:00:00.000`, viewType: "NEW_AND_OLD_IMAGES", key: { partitionKey: "pk", sortKey: "sk" } });
  }
  const dynaliteTarget = listenerTarget(listener);
  const counted: DynamoTarget = (operation, request) => {
    engineCalls.push(operation);
    return dynaliteTarget(operation, request);
  };
  const engine = new WriteEngine({ target: counted, recorder, now: () => now });
  proxy = await startDynamoDbProxy({
    target: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    targetListener: listener,
    authorize: (request) => request.action !== deny,
    accountId: ACCOUNT,
    keySchemas: { [ORDERS]: { partitionKey: "pk", sortKey: "sk" }, [STOCK]: { partitionKey: "pk", sortKey: "sk" } },
    writes: { operations: ENGINE_OPERATIONS, handle: (operation, request) => engine.handle(operation, request), forget: (table) => engine.forget(table) },
    onDecision: (event) => decisions.push(event),
  });
  client = new DynamoDBClient({ endpoint: proxy.endpoint, region: REGION, credentials: { accessKeyId: "AKIDTRANSACT", secretAccessKey: "secret" } });
  await createTables(client);
  await motoStarted;
});

test.after(async () => {
  client?.destroy();
  moto?.client.destroy();
  moto?.child.kill();
  await proxy?.close();
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
});

const key = (pk: string, sk = "x") => ({ pk: { S: pk }, sk: { S: sk } });

async function get(target: DynamoDBClient, table: string, pk: string, sk = "x") {
  return (await target.send(new GetItemCommand({ TableName: table, Key: key(pk, sk), ConsistentRead: true }))).Item;
}

/** The error a send ends with, as the SDK surfaces it. */
async function failure(target: DynamoDBClient, items: TransactWriteItem[], token?: string) {
  try {
    await target.send(new TransactWriteItemsCommand({ TransactItems: items, ...(token ? { ClientRequestToken: token } : {}) }));
  } catch (error) {
    const e = error as Error & { CancellationReasons?: unknown };
    return { name: e.name, message: e.message, reasons: e.CancellationReasons };
  }
  return undefined;
}

/** Runs `scenario` against the local stack and, when it runs, moto; returns both results. */
async function both<T>(scenario: (target: DynamoDBClient) => Promise<T>): Promise<{ ours: T; moto?: T }> {
  const ours = await scenario(client);
  if (!moto) return { ours };
  return { ours, moto: await scenario(moto.client) };
}

test("a transaction over two tables applies every write, and each changed item gets its stream record", async () => {
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("sku#1"), count: { N: "5" } } }));
  await client.send(new PutItemCommand({ TableName: ORDERS, Item: { ...key("order#old"), state: { S: "stale" } } }));
  await client.send(new PutItemCommand({ TableName: ORDERS, Item: { ...key("customer#1"), active: { BOOL: true } } }));
  const before = { orders: recorder.records(ORDERS).length, stock: recorder.records(STOCK).length };
  await client.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: ORDERS, Item: { ...key("order#1"), total: { N: "10" } }, ConditionExpression: "attribute_not_exists(pk)" } },
        { Update: { TableName: STOCK, Key: key("sku#1"), UpdateExpression: "SET #c = #c - :one", ConditionExpression: "#c >= :one", ExpressionAttributeNames: { "#c": "count" }, ExpressionAttributeValues: { ":one": { N: "1" } } } },
        { Delete: { TableName: ORDERS, Key: key("order#old") } },
        { ConditionCheck: { TableName: ORDERS, Key: key("customer#1"), ConditionExpression: "active = :yes", ExpressionAttributeValues: { ":yes": { BOOL: true } } } },
      ],
    }),
  );
  assert.equal(await get(client, ORDERS, "order#1"), { ...key("order#1"), total: { N: "10" } });
  assert.equal((await get(client, STOCK, "sku#1"))?.count, { N: "4" });
  assert.is(await get(client, ORDERS, "order#old"), undefined);
  const orders = recorder.records(ORDERS).slice(before.orders);
  const stock = recorder.records(STOCK).slice(before.stock);
  assert.equal(orders.map((r) => r.eventName), ["INSERT", "REMOVE"]);
  assert.equal(stock.map((r) => [r.eventName, r.dynamodb.OldImage?.count?.N, r.dynamodb.NewImage?.count?.N]), [["MODIFY", "5", "4"]]);
});

test("lib-dynamodb's TransactWriteCommand works unchanged", async () => {
  const doc = DynamoDBDocumentClient.from(client);
  await doc.send(
    new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName: ORDERS, Item: { pk: "doc#1", sk: "x", lines: [1, 2] } } },
        { Update: { TableName: ORDERS, Key: { pk: "doc#2", sk: "x" }, UpdateExpression: "SET seen = :t", ExpressionAttributeValues: { ":t": true } } },
      ],
    }),
  );
  assert.equal((await get(client, ORDERS, "doc#1"))?.lines, { L: [{ N: "1" }, { N: "2" }] });
  assert.equal((await get(client, ORDERS, "doc#2"))?.seen, { BOOL: true });
});

test("ElectroDB's service transactions: applied together, or canceled with its per-item codes and the ALL_OLD item", async () => {
  const doc = DynamoDBDocumentClient.from(client);
  const indexes = { primary: { pk: { field: "pk", composite: ["id"] }, sk: { field: "sk", composite: [] } } } as const;
  const order = new Entity({ model: { entity: "order", version: "1", service: "shop" }, attributes: { id: { type: "string", required: true }, total: { type: "number" } }, indexes }, { client: doc, table: ORDERS });
  const stock = new Entity({ model: { entity: "stock", version: "1", service: "shop" }, attributes: { id: { type: "string", required: true }, count: { type: "number" } }, indexes }, { client: doc, table: STOCK });
  const shop = new Service({ order, stock });
  await stock.create({ id: "edb-sku", count: 1 }).go();
  const place = (id: string) =>
    shop.transaction
      .write(({ order: o, stock: s }) => [
        o.create({ id, total: 5 }).commit(),
        s.patch({ id: "edb-sku" }).add({ count: -1 }).where((a, { gte }) => gte(a.count, 1)).commit({ response: "all_old" }),
      ])
      .go();
  const first = await place("edb-1");
  assert.is(first.canceled, false);
  assert.equal((await order.get({ id: "edb-1" }).go()).data?.total, 5);
  assert.equal((await stock.get({ id: "edb-sku" }).go()).data?.count, 0);
  const second = await place("edb-2");
  assert.is(second.canceled, true);
  assert.equal(second.data.map((d) => [d.rejected, d.code]), [[false, "None"], [true, "ConditionalCheckFailed"]]);
  assert.equal(second.data[1]!.item, { id: "edb-sku", count: 0 });
  assert.is((await order.get({ id: "edb-2" }).go()).data, null);
});

test("a ConditionCheck and an Update of the same item are refused before anything runs (as moto answers)", async () => {
  const result = await both(async (target) => {
    await target.send(new PutItemCommand({ TableName: ORDERS, Item: { ...key("cancel#1"), state: { S: "paid" } } }));
    await target.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("cancel#sku"), count: { N: "0" } } }));
    const error = await failure(target, [
      { Put: { TableName: ORDERS, Item: { ...key("cancel#new"), v: { S: "1" } } } },
      { Update: { TableName: ORDERS, Key: key("cancel#1"), UpdateExpression: "SET #s = :shipped", ConditionExpression: "#s = :open", ExpressionAttributeNames: { "#s": "state" }, ExpressionAttributeValues: { ":shipped": { S: "shipped" }, ":open": { S: "open" } }, ReturnValuesOnConditionCheckFailure: "ALL_OLD" } },
      { ConditionCheck: { TableName: STOCK, Key: key("cancel#sku"), ConditionExpression: "attribute_exists(pk)" } },
      { Update: { TableName: STOCK, Key: key("cancel#sku"), UpdateExpression: "SET #c = #c - :one", ConditionExpression: "#c >= :one", ExpressionAttributeNames: { "#c": "count" }, ExpressionAttributeValues: { ":one": { N: "1" } } } },
    ]);
    return { error, written: await get(target, ORDERS, "cancel#new"), order: (await get(target, ORDERS, "cancel#1"))?.state };
  });
  assert.ok(result.ours.error);
  assert.is(result.ours.error!.name, "ValidationException");
  assert.is(result.ours.error!.message, "Transaction request cannot include multiple operations on one item");
  if (result.moto) assert.equal(result.ours, result.moto);
});

test("cancellation reasons: None, ConditionalCheckFailed with the item for ALL_OLD, and nothing written", async () => {
  const before = recorder.records(ORDERS).length;
  const result = await both(async (target) => {
    await target.send(new PutItemCommand({ TableName: ORDERS, Item: { ...key("reason#1"), state: { S: "paid" } } }));
    await target.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("reason#sku"), count: { N: "0" } } }));
    const error = await failure(target, [
      { Put: { TableName: ORDERS, Item: { ...key("reason#new"), v: { S: "1" } } } },
      { Update: { TableName: ORDERS, Key: key("reason#1"), UpdateExpression: "SET #s = :shipped", ConditionExpression: "#s = :open", ExpressionAttributeNames: { "#s": "state" }, ExpressionAttributeValues: { ":shipped": { S: "shipped" }, ":open": { S: "open" } }, ReturnValuesOnConditionCheckFailure: "ALL_OLD" } },
      { ConditionCheck: { TableName: ORDERS, Key: key("reason#absent"), ConditionExpression: "attribute_exists(pk)", ReturnValuesOnConditionCheckFailure: "ALL_OLD" } },
      { Update: { TableName: STOCK, Key: key("reason#sku"), UpdateExpression: "SET #c = #c - :one", ConditionExpression: "#c >= :one", ExpressionAttributeNames: { "#c": "count" }, ExpressionAttributeValues: { ":one": { N: "1" } } } },
    ]);
    return { error, written: await get(target, ORDERS, "reason#new"), order: (await get(target, ORDERS, "reason#1"))?.state, stock: (await get(target, STOCK, "reason#sku"))?.count };
  });
  assert.equal(result.ours.error, {
    name: "TransactionCanceledException",
    message: "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ConditionalCheckFailed, ConditionalCheckFailed]",
    reasons: [
      { Code: "None" },
      { Code: "ConditionalCheckFailed", Item: { ...key("reason#1"), state: { S: "paid" } }, Message: "The conditional request failed" },
      { Code: "ConditionalCheckFailed", Message: "The conditional request failed" },
      { Code: "ConditionalCheckFailed", Message: "The conditional request failed" },
    ],
  });
  assert.is(result.ours.written, undefined);
  assert.equal(result.ours.order, { S: "paid" });
  assert.equal(result.ours.stock, { N: "0" });
  // Only the two setup puts reached the stream.
  assert.is(recorder.records(ORDERS).length, before + 1);
  if (result.moto) assert.equal(result.ours, result.moto, "moto answers the same");
  else console.log(`(moto comparison skipped: ${motoMissing})`);
});

test("AWS's request checks: more than 100 items, two operations on one item, one operation per entry, a missing table", async () => {
  const result = await both(async (target) => ({
    tooMany: await failure(
      target,
      Array.from({ length: 101 }, (_, i) => ({ Put: { TableName: ORDERS, Item: key(`many#${i}`) } })),
    ),
    sameItem: await failure(target, [
      { Put: { TableName: ORDERS, Item: { ...key("same"), a: { S: "1" } } } },
      { ConditionCheck: { TableName: ORDERS, Key: key("same"), ConditionExpression: "attribute_not_exists(pk)" } },
    ]),
    written: await get(target, ORDERS, "many#0"),
  }));
  assert.is(result.ours.tooMany?.name, "ValidationException");
  assert.match(result.ours.tooMany!.message, /at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100/);
  assert.equal(result.ours.sameItem, { name: "ValidationException", message: "Transaction request cannot include multiple operations on one item", reasons: undefined });
  assert.is(result.ours.written, undefined);
  if (result.moto) {
    assert.equal(result.ours.sameItem, result.moto.sameItem);
    assert.is(result.moto.tooMany?.name, result.ours.tooMany?.name);
  }
  const twoOps = await client
    .send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: ORDERS, Item: key("two") }, Delete: { TableName: ORDERS, Key: key("two") } }] }))
    .catch((e: Error) => e);
  assert.is((twoOps as Error).name, "ValidationException");
  assert.is((twoOps as Error).message, "TransactItems can only contain one of Check, Put, Update or Delete");
  const missing = await failure(client, [{ Put: { TableName: "no-such-table", Item: key("x") } }]);
  assert.is(missing?.name, "ResourceNotFoundException");
});

test("an invalid expression is the whole request's ValidationException, checked before anything is written", async () => {
  const error = await failure(client, [
    { Put: { TableName: ORDERS, Item: { ...key("static#1"), v: { S: "1" } } } },
    { Update: { TableName: ORDERS, Key: key("static#2"), UpdateExpression: "SET = :v", ExpressionAttributeValues: { ":v": { S: "x" } } } },
  ]);
  assert.is(error?.name, "ValidationException");
  assert.match(error!.message, /Invalid UpdateExpression: Syntax error/);
  assert.is(await get(client, ORDERS, "static#1"), undefined);
  const unused = await failure(client, [{ Put: { TableName: ORDERS, Item: key("static#3"), ConditionExpression: "attribute_not_exists(pk)", ExpressionAttributeValues: { ":unused": { S: "x" } } } }]);
  assert.is(unused?.name, "ValidationException");
  assert.match(unused!.message, /unused in expressions/);
  const keyChange = await failure(client, [{ Update: { TableName: ORDERS, Key: key("static#4"), UpdateExpression: "SET pk = :v", ExpressionAttributeValues: { ":v": { S: "y" } } } }]);
  assert.is(keyChange?.name, "ValidationException");
  assert.match(keyChange!.message, /part of the key/);
});

test("a write that fails while applying (an operand of the wrong type) undoes the writes before it: ValidationError, nothing left", async () => {
  await client.send(new PutItemCommand({ TableName: ORDERS, Item: { ...key("undo#1"), v: { S: "before" } } }));
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("undo#sku"), count: { S: "not a number" } } }));
  const ordersBefore = recorder.records(ORDERS).length;
  const error = await failure(client, [
    { Put: { TableName: ORDERS, Item: { ...key("undo#1"), v: { S: "after" } } } },
    { Put: { TableName: ORDERS, Item: { ...key("undo#new"), v: { S: "new" } } } },
    { Update: { TableName: STOCK, Key: key("undo#sku"), UpdateExpression: "ADD #c :one", ExpressionAttributeNames: { "#c": "count" }, ExpressionAttributeValues: { ":one": { N: "1" } } } },
  ]);
  assert.is(error?.name, "TransactionCanceledException");
  const reasons = error!.reasons as { Code: string; Message?: string }[];
  assert.equal(reasons.map((r) => r.Code), ["None", "None", "ValidationError"]);
  assert.match(reasons[2]!.Message!, /incorrect data type|operand/i);
  assert.equal((await get(client, ORDERS, "undo#1"))?.v, { S: "before" });
  assert.is(await get(client, ORDERS, "undo#new"), undefined);
  assert.is(recorder.records(ORDERS).length, ordersBefore, "an undone transaction writes no stream records");
});

test("ClientRequestToken: a repeat within 10 minutes changes nothing, other parameters are a mismatch, after 10 minutes it is new", async () => {
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("token#sku"), count: { N: "0" } } }));
  const items: TransactWriteItem[] = [{ Update: { TableName: STOCK, Key: key("token#sku"), UpdateExpression: "ADD #c :one", ExpressionAttributeNames: { "#c": "count" }, ExpressionAttributeValues: { ":one": { N: "1" } } } }];
  await client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: "token-1" }));
  await client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: "token-1" }));
  assert.equal((await get(client, STOCK, "token#sku"))?.count, { N: "1" });
  const mismatch = await failure(client, [{ Put: { TableName: STOCK, Item: key("token#other") } }], "token-1");
  assert.is(mismatch?.name, "IdempotentParameterMismatchException");
  assert.is(await get(client, STOCK, "token#other"), undefined);
  now += CLIENT_TOKEN_WINDOW_MS + 1000;
  await client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: "token-1" }));
  assert.equal((await get(client, STOCK, "token#sku"))?.count, { N: "2" });
  // A cancelled transaction does not hold its token: the retry runs.
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("token#gate"), open: { BOOL: false } } }));
  const gated: TransactWriteItem[] = [
    { ConditionCheck: { TableName: STOCK, Key: key("token#gate"), ConditionExpression: "#o = :t", ExpressionAttributeNames: { "#o": "open" }, ExpressionAttributeValues: { ":t": { BOOL: true } } } },
    ...items,
  ];
  assert.is((await failure(client, gated, "token-2"))?.name, "TransactionCanceledException");
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("token#gate"), open: { BOOL: true } } }));
  await client.send(new TransactWriteItemsCommand({ TransactItems: gated, ClientRequestToken: "token-2" }));
  assert.equal((await get(client, STOCK, "token#sku"))?.count, { N: "3" });
});

test("transactions and single writes on the same items are serialized: no lost update, stream order is write order", async () => {
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("race#x"), n: { N: "0" } } }));
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("race#y"), n: { N: "0" } } }));
  const before = recorder.records(STOCK).length;
  const add = (pk: string) => ({ Update: { TableName: STOCK, Key: key(pk), UpdateExpression: "SET n = n + :one", ExpressionAttributeValues: { ":one": { N: "1" } } } });
  await Promise.all([
    ...Array.from({ length: 15 }, () => client.send(new TransactWriteItemsCommand({ TransactItems: [add("race#x"), add("race#y")] }))),
    ...Array.from({ length: 15 }, () => client.send(new UpdateItemCommand({ TableName: STOCK, Key: key("race#x"), UpdateExpression: "SET n = n + :one", ExpressionAttributeValues: { ":one": { N: "1" } } }))),
  ]);
  assert.equal((await get(client, STOCK, "race#x"))?.n, { N: "30" });
  assert.equal((await get(client, STOCK, "race#y"))?.n, { N: "15" });
  const xs = recorder.records(STOCK).slice(before).filter((r) => r.dynamodb.Keys.pk!.S === "race#x");
  assert.equal(xs.map((r) => r.dynamodb.NewImage?.n?.N), Array.from({ length: 30 }, (_, i) => String(i + 1)));
});

test("IAM decides first, per item (with its table's LeadingKeys): a denied Update stops the whole transaction", async () => {
  decisions.length = 0;
  deny = "dynamodb:UpdateItem";
  try {
    const error = await failure(client, [
      { Put: { TableName: ORDERS, Item: key("iam#1") } },
      { Update: { TableName: STOCK, Key: key("iam#2"), UpdateExpression: "SET a = :a", ExpressionAttributeValues: { ":a": { S: "a" } } } },
    ]);
    assert.is(error?.name, "AccessDeniedException");
    assert.match(error!.message, /dynamodb:UpdateItem/);
  } finally {
    deny = undefined;
  }
  assert.is(await get(client, ORDERS, "iam#1"), undefined);
  const decision = decisions.find((d) => d.operation === "TransactWriteItems")!;
  assert.equal(
    decision.authorizations.map((a) => [a.action, a.table, a.conditionKeys["dynamodb:LeadingKeys"]]),
    [
      ["dynamodb:PutItem", ORDERS, ["iam#1"]],
      ["dynamodb:UpdateItem", STOCK, ["iam#2"]],
    ],
  );
});

test("GetItem never sees a transaction half-applied: it waits for the item's lock", async () => {
  const listener = server.listeners("request")[0] as RequestListener;
  const direct = listenerTarget(listener);
  let gate: (() => void) | undefined;
  let gated!: () => void;
  const reached = new Promise<void>((resolve) => (gated = resolve));
  // Holds the transaction's second write until released, after the first is applied.
  const target: DynamoTarget = async (operation, request) => {
    const r = request as { Item?: { pk?: { S?: string } }; ConditionExpression?: string };
    if (operation === "PutItem" && r.Item?.pk?.S === "iso#b" && r.ConditionExpression === undefined) {
      gated();
      await new Promise<void>((resolve) => (gate = resolve));
    }
    return direct(operation, request);
  };
  const engine = new WriteEngine({ target });
  const getA = { TableName: ORDERS, Key: key("iso#a"), ConsistentRead: true };
  const transaction = engine.handle("TransactWriteItems", {
    TransactItems: [{ Put: { TableName: ORDERS, Item: { ...key("iso#a"), v: { S: "new" } } } }, { Put: { TableName: ORDERS, Item: { ...key("iso#b"), v: { S: "new" } } } }],
  });
  await reached;
  // The first write is in dynalite already; a read past the engine sees it alone.
  assert.equal(((await direct("GetItem", getA)).body.Item as Record<string, unknown>)?.v, { S: "new" });
  assert.is((await direct("GetItem", { ...getA, Key: key("iso#b") })).body.Item, undefined);
  let read: Record<string, unknown> | undefined;
  const isolated = engine.handle("GetItem", { ...getA, Key: key("iso#b") }).then((answer) => (read = answer.body));
  await new Promise((r) => setTimeout(r, 50));
  assert.is(read, undefined, "the read waits while the transaction holds the item");
  gate!();
  assert.is((await transaction).status, 200);
  await isolated;
  assert.equal((read!.Item as Record<string, unknown>).v, { S: "new" });
});

test("a table recreated with another key schema: the engine forgets the old one when the proxy sees DeleteTable/CreateTable", async () => {
  const table = "reshaped-table";
  const create = (attribute: string) =>
    client.send(new CreateTableCommand({ TableName: table, BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: attribute, AttributeType: "S" }], KeySchema: [{ AttributeName: attribute, KeyType: "HASH" }] }));
  await create("id");
  await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: { id: { S: "1" } } } }] }));
  await client.send(new DeleteTableCommand({ TableName: table }));
  await create("code");
  await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: { code: { S: "1" } } } }, { Put: { TableName: table, Item: { code: { S: "2" } } } }] }));
  const item = await client.send(new GetItemCommand({ TableName: table, Key: { code: { S: "2" } } }));
  assert.ok(item.Item);
});

test("a transaction whose writes all succeed takes one request per write (each Put and Delete returns the item it replaced) and records the same stream records", async () => {
  await client.send(new PutItemCommand({ TableName: ORDERS, Item: { ...key("pass#1"), v: { S: "old" } } }));
  await client.send(new PutItemCommand({ TableName: STOCK, Item: { ...key("pass#3"), v: { S: "gone" } } }));
  const before = { orders: recorder.records(ORDERS).length, stock: recorder.records(STOCK).length, calls: engineCalls.length };
  await client.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: ORDERS, Item: { ...key("pass#1"), v: { S: "new" } }, ConditionExpression: "attribute_exists(pk)" } },
        { Put: { TableName: ORDERS, Item: { ...key("pass#2"), v: { S: "first" } }, ConditionExpression: "attribute_not_exists(pk)" } },
        { Delete: { TableName: STOCK, Key: key("pass#3") } },
      ],
    }),
  );
  assert.equal(engineCalls.slice(before.calls), ["PutItem", "PutItem", "DeleteItem"]);
  const orders = recorder.records(ORDERS).slice(before.orders);
  assert.equal(
    orders.map((r) => [r.eventName, r.dynamodb.OldImage?.v?.S, r.dynamodb.NewImage?.v?.S]),
    [
      ["MODIFY", "old", "new"],
      ["INSERT", undefined, "first"],
    ],
  );
  assert.equal(recorder.records(STOCK).slice(before.stock).map((r) => [r.eventName, r.dynamodb.OldImage?.v?.S]), [["REMOVE", "gone"]]);

  // A refused condition after a write that went through: that write is undone and every item gets its reason.
  const refused = await failure(client, [
    { Put: { TableName: ORDERS, Item: { ...key("pass#1"), v: { S: "newer" } } } },
    { Put: { TableName: ORDERS, Item: { ...key("pass#2"), v: { S: "second" } }, ConditionExpression: "attribute_not_exists(pk)" } },
  ]);
  assert.is(refused?.name, "TransactionCanceledException");
  assert.equal((refused!.reasons as { Code: string }[]).map((r) => r.Code), ["None", "ConditionalCheckFailed"]);
  assert.equal((await get(client, ORDERS, "pass#1"))?.v, { S: "new" });
  assert.equal((await get(client, ORDERS, "pass#2"))?.v, { S: "first" });
  assert.is(recorder.records(ORDERS).length, before.orders + 2, "the refused transaction writes no stream records");
});

test.run();
