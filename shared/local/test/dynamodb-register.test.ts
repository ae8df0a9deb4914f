// The DynamoDB thread takes new role policies while the stage runs (watch mode adds or changes a function): a new
// function is held to its role from then on, a changed policy applies at once, a removed function's key is a local
// tool's again.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { createTables, discardPreloadedDynamoThread, dynamoWorkerFile, preloadDynamoThread, startDynamoService } from "../stage/dynamodb";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const TABLE = "local-watch-data";
const tableArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TABLE}`;
const policy = (actions: string[]) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: actions, Resource: tableArn }] });

test("register: a function added while the stage runs is held to its role; a changed policy applies; unregister lets go", async () => {
  const dynamo = await startDynamoService({ accountId: ACCOUNT, keySchemas: {}, registrations: [], reported: [] });
  const clients: DynamoDBClient[] = [];
  try {
    await createTables(dynamo.dynaliteEndpoint, [
      { origin: { project: "t", name: "t", type: "t" }, name: TABLE, arn: tableArn, attributes: [{ name: "pk", type: "S" }], hashKey: "pk", globalIndexes: [], localIndexes: [] },
    ]);
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, maxAttempts: 1, credentials: { accessKeyId: "local-watched-new", secretAccessKey: "local" } });
    clients.push(client);
    const put = () =>
      client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: "x" } } })).then(
        () => "allowed",
        (error: Error) => error.name,
      );
    assert.is(await put(), "allowed", "an unknown key is a local tool's");
    await dynamo.register([{ principal: "local-watched-new", policies: [policy(["dynamodb:GetItem"])], identity: { roleName: "watched-new", accountId: ACCOUNT } }]);
    assert.is(await put(), "AccessDeniedException", "held to its role: GetItem only");
    await dynamo.register([{ principal: "local-watched-new", policies: [policy(["dynamodb:GetItem", "dynamodb:PutItem"])], identity: { roleName: "watched-new", accountId: ACCOUNT } }]);
    assert.is(await put(), "allowed", "the changed policy applies");
    await dynamo.register([{ principal: "local-watched-new", policies: [policy(["dynamodb:GetItem"])], identity: { roleName: "watched-new", accountId: ACCOUNT } }]);
    await dynamo.register([], ["local-watched-new"]);
    assert.is(await put(), "allowed", "unregistered: a local tool's key again");
  } finally {
    for (const c of clients) c.destroy();
    await dynamo.close();
  }
});


test("a thread preloaded before its setup (the stage runs its programs meanwhile) takes the setup the service is started with", async () => {
  preloadDynamoThread();
  const principal = "local-preloaded-fn";
  const dynamo = await startDynamoService({
    accountId: ACCOUNT,
    keySchemas: {},
    registrations: [{ principal, policies: [policy(["dynamodb:GetItem"])], identity: { roleName: "preloaded", accountId: ACCOUNT } }],
    reported: [],
  });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, maxAttempts: 1, credentials: { accessKeyId: principal, secretAccessKey: "local" } });
  try {
    assert.ok(dynamo.preloaded, "the preloaded thread was taken");
    await createTables(dynamo.dynaliteEndpoint, [
      { origin: { project: "t", name: "t", type: "t" }, name: TABLE, arn: tableArn, attributes: [{ name: "pk", type: "S" }], hashKey: "pk", globalIndexes: [], localIndexes: [] },
    ]);
    const put = await client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: "y" } } })).then(
      () => "allowed",
      (error: Error) => error.name,
    );
    assert.is(put, "AccessDeniedException", "the registrations of the setup given later are enforced");
  } finally {
    client.destroy();
    await dynamo.close();
  }
  // Taken once: the next service starts a thread of its own; a preload no service takes is ended.
  const next = await startDynamoService({ accountId: ACCOUNT, keySchemas: {}, registrations: [], reported: [] });
  assert.not.ok(next.preloaded);
  await next.close();
  preloadDynamoThread();
  await discardPreloadedDynamoThread();
});

test("the DynamoDB thread's bundle carries no @pulumi/pulumi (the stage's account id comes from a module without imports)", async () => {
  // The thread loads its bundle while the programs run; Pulumi (with gRPC, protobuf and npm's packages) made it 6.7 MB
  // and the thread ready only well after the programs.
  const text = readFileSync(await dynamoWorkerFile(), "utf8");
  assert.not.match(text, /node_modules[\\/]@pulumi[\\/]pulumi[\\/]/, "the bundle includes @pulumi/pulumi");
  assert.not.match(text, /node_modules[\\/]@grpc[\\/]/, "the bundle includes gRPC");
});

test.run();
