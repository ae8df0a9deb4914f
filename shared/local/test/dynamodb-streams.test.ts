// DynamoDB Streams records from the local write engine: dynalite in-process, the IAM proxy in front of it with the
// engine taking over item writes, unmodified AWS SDK clients. Records are checked against AWS's samples.
import { readFileSync } from "node:fs";
import type { RequestListener, Server } from "node:http";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { startDynamoDbProxy, type DynamoDbProxy } from "../iam/dynamodb-proxy";
import {
  canonicalNumber,
  itemSize,
  listenerTarget,
  StreamRecorder,
  ENGINE_OPERATIONS,
  WriteEngine,
  type StreamRecord,
  type StreamViewType,
} from "../dynamodb-streams";

const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;
const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const FIXTURES = [join(__dirname, "../../testing/fixtures/aws-events")];

function fixture(name: string): { Records: Record<string, unknown>[] } {
  for (const dir of FIXTURES) {
    try {
      return JSON.parse(readFileSync(join(dir, name), "utf8")) as { Records: Record<string, unknown>[] };
    } catch {
      // next folder
    }
  }
  throw new Error(`fixture ${name} not found in ${FIXTURES.join(", ")}`);
}

const streamArn = (table: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}/stream/2026-12-07T00:00:00.000`;

let server: Server;
let proxy: DynamoDbProxy;
let recorder: StreamRecorder;
let client: DynamoDBClient;

const TABLES: Record<string, StreamViewType | undefined> = {
  "images-table": "NEW_AND_OLD_IMAGES",
  "keys-table": "KEYS_ONLY",
  "new-table": "NEW_IMAGE",
  "old-table": "OLD_IMAGE",
  "sharded-table": "NEW_AND_OLD_IMAGES",
  "plain-table": undefined,
};

test.before(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address() as { port: number };
  recorder = new StreamRecorder({ region: REGION });
  const engine = new WriteEngine({ target: listenerTarget(server.listeners("request")[0] as RequestListener), recorder });
  proxy = await startDynamoDbProxy({
    target: `http://127.0.0.1:${address.port}`,
    targetListener: server.listeners("request")[0] as RequestListener,
    authorize: () => true,
    accountId: ACCOUNT,
    writes: { operations: ENGINE_OPERATIONS, handle: (operation, request) => engine.handle(operation, request) },
  });
  client = new DynamoDBClient({ endpoint: proxy.endpoint, region: REGION, credentials: { accessKeyId: "AKIDSTREAMS", secretAccessKey: "secret" } });
  for (const [table, viewType] of Object.entries(TABLES)) {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "N" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      }),
    );
    if (viewType) {
      recorder.enable(table, { streamArn: streamArn(table), viewType, key: { partitionKey: "pk", sortKey: "sk" }, ...(table === "sharded-table" ? { shards: 4 } : {}) });
    }
  }
});

test.after(async () => {
  client?.destroy();
  await proxy?.close();
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
});

const last = (table: string): StreamRecord | undefined => recorder.records(table).at(-1);
const count = (table: string) => recorder.records(table).length;

test("SizeBytes follows AWS's own samples: keys plus the images the view type carries", () => {
  const sample = fixture("dynamodb-stream.json").Records as unknown as StreamRecord[];
  for (const record of sample) {
    const d = record.dynamodb;
    assert.is(itemSize(d.Keys) + itemSize(d.NewImage) + itemSize(d.OldImage), d.SizeBytes, `record ${record.eventID}`);
  }
  assert.is(canonicalNumber("10.50"), "105E-1");
  assert.is(canonicalNumber("+0010.500e1"), "105E0");
  assert.is(canonicalNumber("0.000"), "0");
});

test("an insert writes a record in DynamoDB Streams' shape (the aws-lambda-go sample's fields, in its order)", async () => {
  const item = { pk: { S: "order#1" }, sk: { N: "1" }, total: { N: "42.5" }, tags: { SS: ["a", "b"] }, blob: { B: "AAEqQQ==" } };
  await client.send(new PutItemCommand({ TableName: "images-table", Item: { ...item, blob: { B: Buffer.from("AAEqQQ==", "base64") } } }));
  const record = last("images-table")!;
  const sample = fixture("dynamodb-stream-2.json").Records[1] as unknown as StreamRecord;
  assert.equal(Object.keys(record), Object.keys(sample));
  assert.equal(Object.keys(record.dynamodb), Object.keys(sample.dynamodb));
  assert.is(record.eventName, "INSERT");
  assert.is(record.eventVersion, sample.eventVersion);
  assert.is(record.eventSource, "aws:dynamodb");
  assert.is(record.awsRegion, REGION);
  assert.is(record.eventSourceARN, streamArn("images-table"));
  assert.match(record.eventID, /^[0-9a-f]{32}$/);
  assert.equal(record.dynamodb.Keys, { pk: { S: "order#1" }, sk: { N: "1" } });
  assert.equal(record.dynamodb.NewImage, item);
  assert.is(record.dynamodb.OldImage, undefined);
  assert.is(record.dynamodb.StreamViewType, "NEW_AND_OLD_IMAGES");
  assert.match(record.dynamodb.SequenceNumber, /^\d{21,}$/);
  assert.is(record.dynamodb.SizeBytes, itemSize(record.dynamodb.Keys) + itemSize(item));
  assert.ok(Math.abs(record.dynamodb.ApproximateCreationDateTime - Date.now() / 1000) < 60);
  assert.ok(Number.isInteger(record.dynamodb.ApproximateCreationDateTime));
});

test("a put that changes nothing writes no record; one that does writes MODIFY with both images; the caller's answer is what it asked for", async () => {
  const item = { pk: { S: "same" }, sk: { N: "1" }, n: { N: "1" }, set: { SS: ["x", "y"] } };
  await client.send(new PutItemCommand({ TableName: "images-table", Item: item }));
  const before = count("images-table");
  // Same data, another spelling of the number and the set in another order: DynamoDB Streams writes nothing.
  const again = await client.send(new PutItemCommand({ TableName: "images-table", Item: { ...item, n: { N: "1.0" }, set: { SS: ["y", "x"] } } }));
  assert.is(again.Attributes, undefined);
  assert.is(count("images-table"), before);
  const changed = await client.send(new PutItemCommand({ TableName: "images-table", Item: { ...item, n: { N: "2" } }, ReturnValues: "ALL_OLD" }));
  assert.equal(changed.Attributes?.n, { N: "1" }); // stored as DynamoDB stores numbers
  const record = last("images-table")!;
  assert.is(record.eventName, "MODIFY");
  assert.equal(record.dynamodb.OldImage?.n, { N: "1" });
  assert.equal(record.dynamodb.NewImage?.n, { N: "2" });
  assert.is(count("images-table"), before + 1);
});

test("UpdateItem: MODIFY with old and new images, whatever ReturnValues the caller chose; a no-op update writes nothing", async () => {
  const key = { pk: { S: "upd" }, sk: { N: "1" } };
  await client.send(new PutItemCommand({ TableName: "images-table", Item: { ...key, n: { N: "1" } } }));
  const none = await client.send(new UpdateItemCommand({ TableName: "images-table", Key: key, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "2" } } }));
  assert.is(none.Attributes, undefined);
  let record = last("images-table")!;
  assert.is(record.eventName, "MODIFY");
  assert.equal(record.dynamodb.OldImage, { ...key, n: { N: "1" } });
  assert.equal(record.dynamodb.NewImage, { ...key, n: { N: "2" } });
  const old = await client.send(
    new UpdateItemCommand({ TableName: "images-table", Key: key, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "3" } }, ReturnValues: "UPDATED_OLD" }),
  );
  assert.equal(old.Attributes, { n: { N: "2" } });
  record = last("images-table")!;
  assert.equal(record.dynamodb.NewImage, { ...key, n: { N: "3" } });
  const before = count("images-table");
  await client.send(new UpdateItemCommand({ TableName: "images-table", Key: key, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "3" } } }));
  assert.is(count("images-table"), before);
  // An update that creates the item is an INSERT.
  await client.send(new UpdateItemCommand({ TableName: "images-table", Key: { pk: { S: "upd" }, sk: { N: "2" } }, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "1" } } }));
  assert.is(last("images-table")!.eventName, "INSERT");
  assert.is(last("images-table")!.dynamodb.OldImage, undefined);
});

test("DeleteItem: REMOVE with the old image; deleting an absent item writes nothing; a failed condition writes nothing", async () => {
  const key = { pk: { S: "del" }, sk: { N: "1" } };
  await client.send(new PutItemCommand({ TableName: "images-table", Item: { ...key, v: { S: "x" } } }));
  const failed = await client
    .send(new DeleteItemCommand({ TableName: "images-table", Key: key, ConditionExpression: "v = :y", ExpressionAttributeValues: { ":y": { S: "y" } } }))
    .catch((error: Error) => error);
  assert.is((failed as Error).name, "ConditionalCheckFailedException");
  const before = count("images-table");
  const deleted = await client.send(new DeleteItemCommand({ TableName: "images-table", Key: key }));
  assert.is(deleted.Attributes, undefined);
  const record = last("images-table")!;
  assert.is(record.eventName, "REMOVE");
  assert.equal(record.dynamodb.OldImage, { ...key, v: { S: "x" } });
  assert.is(record.dynamodb.NewImage, undefined);
  await client.send(new DeleteItemCommand({ TableName: "images-table", Key: key }));
  assert.is(count("images-table"), before + 1);
});

test("each view type carries what it says: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE", async () => {
  for (const table of ["keys-table", "new-table", "old-table"]) {
    const key = { pk: { S: "v" }, sk: { N: "1" } };
    await client.send(new PutItemCommand({ TableName: table, Item: { ...key, a: { S: "1" } } }));
    await client.send(new PutItemCommand({ TableName: table, Item: { ...key, a: { S: "2" } } }));
    await client.send(new DeleteItemCommand({ TableName: table, Key: key }));
    const records = recorder.records(table);
    assert.equal(records.map((r) => r.eventName), ["INSERT", "MODIFY", "REMOVE"], table);
    for (const r of records) {
      assert.equal(r.dynamodb.Keys, key);
      assert.is(r.dynamodb.StreamViewType, TABLES[table]);
      assert.is(r.dynamodb.SizeBytes, itemSize(r.dynamodb.Keys) + itemSize(r.dynamodb.NewImage) + itemSize(r.dynamodb.OldImage));
    }
    const images = records.map((r) => [r.dynamodb.OldImage?.a?.S ?? null, r.dynamodb.NewImage?.a?.S ?? null]);
    if (table === "keys-table") assert.equal(images, [[null, null], [null, null], [null, null]]);
    if (table === "new-table") assert.equal(images, [[null, "1"], [null, "2"], [null, null]]);
    if (table === "old-table") assert.equal(images, [[null, null], ["1", null], ["2", null]]);
  }
});

test("BatchWriteItem writes one record per changed item; a table without a stream gets none", async () => {
  const before = count("images-table");
  await client.send(new PutItemCommand({ TableName: "images-table", Item: { pk: { S: "b" }, sk: { N: "2" } } }));
  await client.send(
    new BatchWriteItemCommand({
      RequestItems: {
        "images-table": [
          { PutRequest: { Item: { pk: { S: "b" }, sk: { N: "1" }, v: { S: "new" } } } },
          { DeleteRequest: { Key: { pk: { S: "b" }, sk: { N: "2" } } } },
          { DeleteRequest: { Key: { pk: { S: "b" }, sk: { N: "3" } } } },
        ],
        "plain-table": [{ PutRequest: { Item: { pk: { S: "b" }, sk: { N: "1" } } } }],
      },
    }),
  );
  const records = recorder.records("images-table").slice(before);
  assert.equal(records.map((r) => r.eventName), ["INSERT", "INSERT", "REMOVE"]);
  assert.is(recorder.records("plain-table").length, 0);
  const plain = await client.send(new GetItemCommand({ TableName: "plain-table", Key: { pk: { S: "b" }, sk: { N: "1" } } }));
  assert.ok(plain.Item);
});

test("concurrent writes to one item: records in write order, each old image the previous new image, increasing sequence numbers", async () => {
  const key = { pk: { S: "counter" }, sk: { N: "1" } };
  const before = count("images-table");
  await Promise.all(
    Array.from({ length: 30 }, () =>
      client.send(new UpdateItemCommand({ TableName: "images-table", Key: key, UpdateExpression: "ADD n :one", ExpressionAttributeValues: { ":one": { N: "1" } } })),
    ),
  );
  const records = recorder.records("images-table").slice(before);
  assert.is(records.length, 30);
  records.forEach((record, i) => {
    assert.is(record.dynamodb.NewImage?.n?.N, String(i + 1));
    assert.is(record.dynamodb.OldImage?.n?.N, i === 0 ? undefined : String(i));
    if (i > 0) assert.ok(BigInt(record.dynamodb.SequenceNumber) > BigInt(records[i - 1]!.dynamodb.SequenceNumber));
  });
});

test("several shards: a partition key's records all land in one shard, in order", async () => {
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 8; p++) {
      await client.send(new PutItemCommand({ TableName: "sharded-table", Item: { pk: { S: `p${p}` }, sk: { N: "1" }, round: { N: String(round) } } }));
    }
  }
  const shards = recorder.shardIds("sharded-table");
  assert.is(shards.length, 4);
  const where = new Map<string, Set<string>>();
  let used = 0;
  for (const shard of shards) {
    const records = recorder.read("sharded-table", shard);
    if (records.length) used++;
    for (const record of records) {
      const pk = record.dynamodb.Keys.pk!.S as string;
      where.set(pk, (where.get(pk) ?? new Set()).add(shard));
    }
    const byKey = new Map<string, string[]>();
    for (const record of records) {
      const pk = record.dynamodb.Keys.pk!.S as string;
      byKey.set(pk, [...(byKey.get(pk) ?? []), String(record.dynamodb.NewImage?.round?.N)]);
    }
    for (const rounds of byKey.values()) assert.equal(rounds, ["0", "1", "2"]);
  }
  assert.ok(used > 1, "keys spread over more than one shard");
  for (const [pk, set] of where) assert.is(set.size, 1, pk);
  // Reading after a position continues from there.
  const first = recorder.read("sharded-table", shards.find((s) => recorder.read("sharded-table", s).length > 1)!, { limit: 1 });
  assert.is(first.length, 1);
});

test("records older than the retention are gone", () => {
  let now = Date.now();
  const local = new StreamRecorder({ region: REGION, now: () => now, retentionMs: 1000 });
  local.enable("t", { streamArn: streamArn("t"), viewType: "KEYS_ONLY", key: { partitionKey: "pk" } });
  local.append({ table: "t", newImage: { pk: { S: "a" } } }, true);
  now += 2000;
  local.append({ table: "t", newImage: { pk: { S: "b" } } }, true);
  assert.equal(local.records("t").map((r) => r.dynamodb.Keys.pk!.S), ["b"]);
  assert.throws(() => local.enable("u", { streamArn: streamArn("u"), viewType: "ALL" as StreamViewType, key: { partitionKey: "pk" } }), /StreamViewType ALL is not one of/);
});

test("a copy across a thread boundary: ingest keeps shards, order and sequence numbers, and tells its listeners", () => {
  const spec = { streamArn: streamArn("copy"), viewType: "NEW_IMAGE" as const, key: { partitionKey: "pk" }, shards: 3 };
  const source = new StreamRecorder({ region: REGION });
  const copy = new StreamRecorder({ region: REGION });
  source.enable("copy", spec);
  copy.enable("copy", spec);
  const heard: string[] = [];
  copy.subscribe((stored) => heard.push(stored.record.eventID));
  // What the DynamoDB thread would post: structured clones of the stored records.
  source.subscribe((stored) => copy.ingest(structuredClone(stored)));
  for (let i = 0; i < 9; i++) source.append({ table: "copy", newImage: { pk: { S: `k${i % 4}` }, i: { N: String(i) } } }, true);
  assert.equal(copy.records("copy"), source.records("copy"));
  assert.is(heard.length, 9);
  for (const shard of source.shardIds("copy")) assert.equal(copy.read("copy", shard), source.read("copy", shard));
  const other = new StreamRecorder({ region: REGION });
  other.enable("copy", { ...spec, shards: 2 });
  const stored = { table: "copy", shardId: source.shardIds("copy")[2]!, record: source.records("copy")[0]!, at: Date.now() };
  assert.throws(() => other.ingest(stored), /has no stream shard .* enable it with the same stream ARN and shard count/);
});

test.run();
