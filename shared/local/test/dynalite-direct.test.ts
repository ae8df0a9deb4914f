// The write engine's direct calls to dynalite (stage/dynalite-direct.ts) answer exactly as dynalite's request listener
// does: the same requests, one after another, on two dynalite instances (one through each), give equal answers
// and leave equal tables; the caller's request is never changed; the store is the one the listener serves.
import type { RequestListener, Server } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { listenerTarget, type DynamoAnswer, type DynamoTarget } from "../dynamodb-streams";
import { DIRECT_OPERATIONS, directTarget, loadDynaliteInternals, startDynalite } from "../stage/dynalite-direct";

const internals = loadDynaliteInternals();
const TABLE = "local-things";

function listenerOf(server: Server): RequestListener {
  return server.listeners("request")[0] as RequestListener;
}

const started = startDynalite(internals, { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const directListener = listenerTarget(listenerOf(started.server));
let fallbacks: string[] = [];
const direct: DynamoTarget = directTarget(internals, started.store, (operation, request) => {
  fallbacks.push(operation);
  return directListener(operation, request);
});
const other = internals.dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const viaListener = listenerTarget(listenerOf(other));

const CREATE = {
  TableName: TABLE,
  AttributeDefinitions: [
    { AttributeName: "pk", AttributeType: "S" },
    { AttributeName: "sk", AttributeType: "S" },
    { AttributeName: "gsi1pk", AttributeType: "S" },
  ],
  KeySchema: [
    { AttributeName: "pk", KeyType: "HASH" },
    { AttributeName: "sk", KeyType: "RANGE" },
  ],
  GlobalSecondaryIndexes: [{ IndexName: "gsi1", KeySchema: [{ AttributeName: "gsi1pk", KeyType: "HASH" }], Projection: { ProjectionType: "ALL" } }],
  BillingMode: "PAY_PER_REQUEST",
};

/** Fields that differ between two instances whatever the path (the table's id, when it was created). */
function comparable(answer: DynamoAnswer): DynamoAnswer {
  const body = structuredClone(answer.body);
  const table = body.Table as Record<string, unknown> | undefined;
  if (table) {
    delete table.CreationDateTime;
    delete table.TableId;
    delete (table.BillingModeSummary as Record<string, unknown> | undefined)?.LastUpdateToPayPerRequestDateTime;
  }
  return { status: answer.status, body };
}

/** Sends the request through both paths: the answers are equal (the direct one also as JSON text), the request untouched. */
async function same(operation: string, request: unknown): Promise<DynamoAnswer> {
  const before = request === undefined ? undefined : structuredClone(request);
  const outcome = (target: DynamoTarget) => target(operation, request).then((answer) => ({ answer }), (error: Error) => ({ error: error.message }));
  const [gotOutcome, expectedOutcome] = [await outcome(direct), await outcome(viaListener)];
  if ("error" in gotOutcome || "error" in expectedOutcome) {
    assert.equal(gotOutcome, expectedOutcome);
    return { status: 0, body: {} };
  }
  const [got, expected] = [gotOutcome.answer, expectedOutcome.answer];
  assert.equal(comparable(got), comparable(expected), `${operation} ${JSON.stringify(request)}`);
  if (operation !== "DescribeTable") assert.is(JSON.stringify(got.body), JSON.stringify(expected.body));
  assert.equal(request, before, "the caller's request is unchanged");
  return got;
}

const ITEM = {
  pk: { S: "thing#1" },
  sk: { S: "v#1" },
  gsi1pk: { S: "group#a" },
  count: { N: "1.50" },
  tags: { SS: ["a", "b"] },
  sizes: { NS: ["1", "2"] },
  blob: { B: "AAEC" },
  flag: { BOOL: true },
  nothing: { NULL: true },
  list: { L: [{ S: "x" }, { N: "2" }, { M: { deep: { S: "y" } } }] },
  map: { M: { x: { S: "1" }, y: { N: "2" } } },
};
const KEY = { pk: ITEM.pk, sk: ITEM.sk };

test.before(async () => {
  for (const target of [directListener, viaListener]) {
    const answer = await target("CreateTable", CREATE);
    assert.is(answer.status, 200, JSON.stringify(answer.body));
  }
  // A new table is CREATING until dynalite's timer (createTableMs: 0) makes it ACTIVE, as a caller of DynamoDB waits
  // for it: a direct call can come before that timer has run, where a request through the listener came after.
  for (const target of [directListener, viaListener]) {
    for (let tries = 0; ; tries++) {
      const { body } = await target("DescribeTable", { TableName: TABLE });
      if ((body.Table as { TableStatus?: string } | undefined)?.TableStatus === "ACTIVE") break;
      if (tries > 500) throw new Error(`${TABLE} still not ACTIVE: ${JSON.stringify(body)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
});

test.after(async () => {
  await Promise.all([started.server, other].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

test("PutItem: new and replaced items, conditions, return values and consumed capacity, refusals", async () => {
  fallbacks = [];
  assert.equal((await same("PutItem", { TableName: TABLE, Item: ITEM, ReturnValues: "ALL_OLD" })).body, {});
  const replaced = await same("PutItem", { TableName: TABLE, Item: { ...ITEM, count: { N: "2" } }, ReturnValues: "ALL_OLD", ReturnConsumedCapacity: "INDEXES" });
  assert.equal((replaced.body.Attributes as Record<string, unknown>).count, { N: "1.5" });
  const refused = await same("PutItem", { TableName: TABLE, Item: ITEM, ConditionExpression: "attribute_not_exists(#pk)", ExpressionAttributeNames: { "#pk": "pk" } });
  assert.is(refused.status, 400);
  assert.match(String(refused.body.__type), /ConditionalCheckFailedException/);
  await same("PutItem", {
    TableName: TABLE,
    Item: { ...ITEM, count: { N: "3" } },
    ConditionExpression: "#count < :limit AND contains(#tags, :tag)",
    ExpressionAttributeNames: { "#count": "count", "#tags": "tags" },
    ExpressionAttributeValues: { ":limit": { N: "10" }, ":tag": { S: "a" } },
    ReturnConsumedCapacity: "TOTAL",
  });
  // Validation errors, a type error caught by dynalite's type checks, a missing table, unused placeholders.
  await same("PutItem", { TableName: TABLE, Item: { pk: { S: "thing#2" } } });
  await same("PutItem", { TableName: TABLE, Item: { ...ITEM, count: { N: "not a number" } } });
  await same("PutItem", { TableName: TABLE, Item: "not an item" });
  await same("PutItem", { TableName: TABLE, Item: { ...ITEM, count: { S: "x", N: "1" } } });
  await same("PutItem", { TableName: "local-missing", Item: ITEM });
  await same("PutItem", { TableName: TABLE, Item: ITEM, ExpressionAttributeValues: { ":unused": { S: "x" } } });
  await same("PutItem", { TableName: TABLE, Item: ITEM, ReturnValues: "ALL_NEW" });
  await same("PutItem", { Item: ITEM });
  assert.equal(fallbacks, []);
});

test("dynalite's type checks drop null and unknown fields from its own copy, never from the caller's request", async () => {
  const request = {
    TableName: TABLE,
    Item: { pk: { S: "thing#3", Bogus: 1 }, sk: { S: "v#1", N: null }, extra: { M: { a: { S: "1", L: null } } } },
    Unknown: "field",
    ReturnValues: null,
  };
  const answer = await same("PutItem", request);
  assert.is(answer.status, 200);
  const read = await same("GetItem", { TableName: TABLE, Key: { pk: { S: "thing#3" }, sk: { S: "v#1" } } });
  assert.equal(read.body.Item, { pk: { S: "thing#3" }, sk: { S: "v#1" }, extra: { M: { a: { S: "1" } } } });
});

test("a request JSON would change (an undefined field) is copied through JSON, as the listener's path sends it", async () => {
  const answer = await same("PutItem", { TableName: TABLE, Item: { ...ITEM, sk: { S: "v#undefined" } }, ReturnValues: undefined, ConditionExpression: undefined });
  assert.is(answer.status, 200);
});

test("GetItem, UpdateItem and DeleteItem with every ReturnValues, conditions and errors", async () => {
  fallbacks = [];
  await same("GetItem", { TableName: TABLE, Key: KEY, ConsistentRead: true });
  await same("GetItem", { TableName: TABLE, Key: KEY, ProjectionExpression: "#c, #m.x, #l[2]", ExpressionAttributeNames: { "#c": "count", "#m": "map", "#l": "list" } });
  await same("GetItem", { TableName: TABLE, Key: { pk: { S: "absent" }, sk: { S: "v#1" } } });
  await same("GetItem", { TableName: TABLE, Key: { pk: { S: "absent" } } });
  const update = (returnValues: string, extra: Record<string, unknown> = {}) => ({
    TableName: TABLE,
    Key: KEY,
    UpdateExpression: "SET #c = #c + :one, #m.z = :z, #l[0] = :x ADD #t :more REMOVE #n",
    ExpressionAttributeNames: { "#c": "count", "#m": "map", "#l": "list", "#t": "tags", "#n": "nothing" },
    ExpressionAttributeValues: { ":one": { N: "1" }, ":z": { M: { q: { S: "r" } } }, ":x": { S: "new" }, ":more": { SS: ["c"] } },
    ReturnValues: returnValues,
    ...extra,
  });
  for (const returnValues of ["NONE", "ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW"]) await same("UpdateItem", update(returnValues));
  await same("UpdateItem", update("ALL_NEW", { ConditionExpression: "#c > :one" }));
  const refused = await same("UpdateItem", update("ALL_NEW", { ConditionExpression: "attribute_not_exists(#c) AND #c > :one" }));
  assert.match(String(refused.body.__type), /ConditionalCheckFailedException/);
  // A new item made by an update, the item it returns and stores.
  const created = await same("UpdateItem", {
    TableName: TABLE,
    Key: { pk: { S: "thing#4" }, sk: { S: "v#1" } },
    UpdateExpression: "SET #s = :status, #e = if_not_exists(#e, :zero) + :one",
    ExpressionAttributeNames: { "#s": "status", "#e": "attempts" },
    ExpressionAttributeValues: { ":status": { S: "COMPLETED" }, ":zero": { N: "0" }, ":one": { N: "1" } },
    ReturnValues: "ALL_NEW",
  });
  assert.equal(created.body.Attributes, { pk: { S: "thing#4" }, sk: { S: "v#1" }, status: { S: "COMPLETED" }, attempts: { N: "1" } });
  // Errors: an unused value, a wrong operand type, a key attribute updated, a missing update.
  await same("UpdateItem", update("NONE", { ExpressionAttributeValues: { ...update("NONE").ExpressionAttributeValues, ":unused": { S: "u" } } }));
  await same("UpdateItem", { TableName: TABLE, Key: KEY, UpdateExpression: "SET #t = #t + :one", ExpressionAttributeNames: { "#t": "tags" }, ExpressionAttributeValues: { ":one": { N: "1" } } });
  await same("UpdateItem", { TableName: TABLE, Key: KEY, UpdateExpression: "SET pk = :x", ExpressionAttributeValues: { ":x": { S: "y" } } });
  await same("UpdateItem", { TableName: TABLE, Key: KEY, UpdateExpression: "SET" });
  await same("DeleteItem", { TableName: TABLE, Key: { pk: { S: "thing#4" }, sk: { S: "v#1" } }, ReturnValues: "ALL_OLD" });
  await same("DeleteItem", { TableName: TABLE, Key: { pk: { S: "thing#4" }, sk: { S: "v#1" } }, ReturnValues: "ALL_OLD" });
  await same("DeleteItem", { TableName: TABLE, Key: KEY, ConditionExpression: "attribute_not_exists(pk)" });
  await same("DeleteItem", { TableName: TABLE, Key: KEY, ReturnValues: "ALL_NEW" });
  assert.equal(fallbacks, []);
});

test("BatchWriteItem and DescribeTable", async () => {
  fallbacks = [];
  const puts = Array.from({ length: 5 }, (_, i) => ({ PutRequest: { Item: { ...ITEM, sk: { S: `batch#${i}` } } } }));
  await same("BatchWriteItem", { RequestItems: { [TABLE]: puts }, ReturnConsumedCapacity: "TOTAL" });
  await same("BatchWriteItem", { RequestItems: { [TABLE]: [{ DeleteRequest: { Key: { pk: ITEM.pk, sk: { S: "batch#0" } } } }, ...puts.slice(1, 2)] } });
  await same("BatchWriteItem", { RequestItems: { [TABLE]: [...puts.slice(1, 2), ...puts.slice(1, 2)] } });
  await same("BatchWriteItem", { RequestItems: {} });
  await same("DescribeTable", { TableName: TABLE });
  await same("DescribeTable", { TableName: "local-missing" });
  assert.equal(fallbacks, []);
});

test("other operations and requests that are not objects go to the fallback, and both tables end up equal", async () => {
  fallbacks = [];
  assert.not.ok(DIRECT_OPERATIONS.has("Query"));
  const query = { TableName: TABLE, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": ITEM.pk } };
  await same("Query", query);
  await same("PutItem", null);
  await same("GetItem", [1, 2]);
  assert.equal(fallbacks, ["Query", "PutItem", "GetItem"]);
  const scan = { TableName: TABLE };
  const [left, right] = await Promise.all([directListener("Scan", scan), viaListener("Scan", scan)]);
  assert.is(left.status, 200);
  assert.ok((left.body.Count as number) > 3);
  assert.equal(left.body, right.body);
});

test("the direct calls use the store dynalite's own listener serves", async () => {
  const key = { pk: { S: "shared#1" }, sk: { S: "v#1" } };
  await direct("PutItem", { TableName: TABLE, Item: { ...key, note: { S: "direct" } } });
  assert.equal((await directListener("GetItem", { TableName: TABLE, Key: key })).body.Item, { ...key, note: { S: "direct" } });
  await directListener("PutItem", { TableName: TABLE, Item: { ...key, note: { S: "listener" } } });
  assert.equal((await direct("GetItem", { TableName: TABLE, Key: key })).body.Item, { ...key, note: { S: "listener" } });
});

test("startDynalite puts dynalite's db.create back, and says so when dynalite makes no store through it", () => {
  const create = internals.db.create;
  const again = startDynalite(internals, { createTableMs: 0 });
  assert.is(internals.db.create, create);
  assert.ok(again.store);
  assert.throws(() => startDynalite({ ...internals, dynalite: () => again.server }, {}), /did not create its store through db.create/);
  assert.is(internals.db.create, create);
});

test.run();
