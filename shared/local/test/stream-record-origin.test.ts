// The write engine hands each stream record's listeners the origin its write was handled with (the IAM proxy's
// request id, which the DynamoDB thread sends with the record so the trace puts the record under its write), for
// every kind of write, while other writes run at the same time; a write without an origin gives none.
import type { RequestListener, Server } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { listenerTarget, StreamRecorder, WriteEngine, type DynamoTarget } from "../dynamodb-streams";

const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;
const TABLE = "local-origins";
const OTHER = "local-origins-other";

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const target: DynamoTarget = listenerTarget(server.listeners("request")[0] as RequestListener);
const recorder = new StreamRecorder({ region: "us-east-1" });
const engine = new WriteEngine({ target, recorder });
const heard: { pk: string; eventName: string; origin: string | undefined }[] = [];
recorder.subscribe((stored, origin) => heard.push({ pk: String(stored.record.dynamodb.Keys.pk?.S), eventName: stored.record.eventName, origin }));

test.before(async () => {
  for (const table of [TABLE, OTHER]) {
    const created = await target("CreateTable", {
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    });
    assert.is(created.status, 200);
    recorder.enable(table, { streamArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}/stream/x`, viewType: "NEW_AND_OLD_IMAGES", key: { partitionKey: "pk" } });
  }
});

test.after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const item = (pk: string, n = "1") => ({ pk: { S: pk }, n: { N: n } });

test("every write's records carry the origin it was handled with, writes interleaved", async () => {
  heard.length = 0;
  const answers = await Promise.all([
    engine.handle("PutItem", { TableName: TABLE, Item: item("put") }, "req-put"),
    engine.handle("PutItem", { TableName: TABLE, Item: item("plain") }),
    engine.handle("BatchWriteItem", { RequestItems: { [TABLE]: [{ PutRequest: { Item: item("batch-1") } }, { PutRequest: { Item: item("batch-2") } }] } }, "req-batch"),
    engine.handle(
      "TransactWriteItems",
      { TransactItems: [{ Put: { TableName: TABLE, Item: item("one-pass") } }, { Put: { TableName: OTHER, Item: item("one-pass-other") } }] },
      "req-transact",
    ),
  ]);
  assert.equal(answers.map((a) => a.status), [200, 200, 200, 200]);
  const followUps = await Promise.all([
    engine.handle("UpdateItem", { TableName: TABLE, Key: { pk: { S: "put" } }, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "2" } } }, "req-update"),
    engine.handle("DeleteItem", { TableName: TABLE, Key: { pk: { S: "plain" } } }, "req-delete"),
    // A ConditionCheck takes the transaction's full path (every item read and checked before any write).
    engine.handle(
      "TransactWriteItems",
      {
        TransactItems: [
          { ConditionCheck: { TableName: OTHER, Key: { pk: { S: "one-pass-other" } }, ConditionExpression: "attribute_exists(pk)" } },
          { Update: { TableName: TABLE, Key: { pk: { S: "batch-1" } }, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "3" } } } },
        ],
      },
      "req-full",
    ),
    engine.transactWriteItems({ TransactItems: [{ Delete: { TableName: TABLE, Key: { pk: { S: "batch-2" } } } }] }, "req-direct"),
  ]);
  assert.equal(followUps.map((a) => a.status), [200, 200, 200, 200]);
  const byKey = Object.fromEntries(heard.map((h) => [`${h.pk} ${h.eventName}`, h.origin]));
  assert.equal(byKey, {
    "put INSERT": "req-put",
    "plain INSERT": undefined,
    "batch-1 INSERT": "req-batch",
    "batch-2 INSERT": "req-batch",
    "one-pass INSERT": "req-transact",
    "one-pass-other INSERT": "req-transact",
    "put MODIFY": "req-update",
    "plain REMOVE": "req-delete",
    "batch-1 MODIFY": "req-full",
    "batch-2 REMOVE": "req-direct",
  });
  assert.is(heard.length, 10);
});

test("ingested records reach the listeners without an origin", () => {
  const copy = new StreamRecorder({ region: "us-east-1" });
  copy.enable(TABLE, recorder.stream(TABLE)!);
  const origins: (string | undefined)[] = [];
  copy.subscribe((_, origin) => origins.push(origin));
  for (const id of recorder.shardIds(TABLE)) for (const stored of recorder.readStored(TABLE, id)) copy.ingest(stored);
  assert.ok(origins.length > 0);
  assert.equal(origins, origins.map(() => undefined));
});

test.run();
