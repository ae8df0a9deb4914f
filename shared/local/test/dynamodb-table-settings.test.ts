// DescribeTimeToLive and DescribeContinuousBackups, which dynalite lacks, answered by the IAM proxy from what the
// programs declared, in AWS's shapes and errors, with IAM enforced; the unmodified AWS SDK client asks.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CreateTableCommand, DescribeContinuousBackupsCommand, DescribeTimeToLiveCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Authorizer } from "../iam/authorizer";
import { startDynamoDbProxy, type DynamoDbProxy, type DynamoDbProxyEvent } from "../iam/dynamodb-proxy";
import { createTables, startDynamoService, tableSettings, type LocalDynamo } from "../stage/dynamodb";
import { runStagePrograms } from "../stage/programs";
import { wiringFrom } from "../stage/wiring";

// dynalite has no type declarations.
const dynalite = require("dynalite") as (options: { createTableMs?: number }) => Server;

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
const arn = (table: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`;
const KEYS = { reader: "AKIALOCALREADER", ttlOnly: "AKIALOCALTTLONLY" };

interface Fixture {
  dynalite: Server;
  proxy: DynamoDbProxy;
  events: DynamoDbProxyEvent[];
  clients: DynamoDBClient[];
  createdAt: number;
}
let fx: Fixture;

function client(accessKeyId: string, endpoint = fx.proxy.endpoint): DynamoDBClient {
  const c = new DynamoDBClient({ endpoint, region: REGION, maxAttempts: 1, credentials: { accessKeyId, secretAccessKey: "local" } });
  fx.clients.push(c);
  return c;
}

async function failure(call: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await call;
  } catch (error) {
    return error as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new assert.Assertion({ message: "expected an error, but the call succeeded", operator: "throws", expects: "error", actual: "success" });
}

test.before(async () => {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const direct = new DynamoDBClient({ endpoint: target, region: REGION, credentials: { accessKeyId: "setup", secretAccessKey: "setup" } });
  const before = Date.now() / 1000;
  for (const TableName of ["declared", "no-settings", "undeclared"]) {
    await direct.send(
      new CreateTableCommand({
        TableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      }),
    );
  }
  direct.destroy();
  const authorizer = new Authorizer({ accountId: ACCOUNT });
  authorizer.register(KEYS.reader, {
    Version: "2012-10-17",
    Statement: { Effect: "Allow", Action: ["dynamodb:DescribeTimeToLive", "dynamodb:DescribeContinuousBackups"], Resource: "*" },
  });
  authorizer.register(KEYS.ttlOnly, {
    Version: "2012-10-17",
    Statement: { Effect: "Allow", Action: "dynamodb:DescribeTimeToLive", Resource: arn("declared") },
  });
  const events: DynamoDbProxyEvent[] = [];
  const proxy = await startDynamoDbProxy({
    target,
    accountId: ACCOUNT,
    authorize: authorizer.authorize,
    onDecision: (event) => events.push(event),
    tableSettings: {
      declared: { ttlAttribute: "expiresAt", pointInTimeRecovery: { recoveryPeriodInDays: 35 } },
      "no-settings": {},
    },
  });
  fx = { dynalite: server, proxy, events, clients: [], createdAt: before };
});

test.after(async () => {
  if (!fx) return;
  for (const c of fx.clients) c.destroy();
  await fx.proxy.close();
  await new Promise<void>((resolve, reject) => fx.dynalite.close((error) => (error ? reject(error) : resolve())));
});

test("DescribeTimeToLive answers the declared TTL attribute, by name or by table ARN", async () => {
  const reader = client(KEYS.reader);
  for (const TableName of ["declared", arn("declared")]) {
    const answer = await reader.send(new DescribeTimeToLiveCommand({ TableName }));
    assert.equal(answer.TimeToLiveDescription, { TimeToLiveStatus: "ENABLED", AttributeName: "expiresAt" });
    assert.is(answer.$metadata.httpStatusCode, 200);
  }
});

test("DescribeContinuousBackups answers the declared point-in-time recovery with its restorable window", async () => {
  const started = Date.now();
  const answer = await client(KEYS.reader).send(new DescribeContinuousBackupsCommand({ TableName: "declared" }));
  const description = answer.ContinuousBackupsDescription!;
  assert.is(description.ContinuousBackupsStatus, "ENABLED");
  const pitr = description.PointInTimeRecoveryDescription!;
  assert.is(pitr.PointInTimeRecoveryStatus, "ENABLED");
  assert.is(pitr.RecoveryPeriodInDays, 35);
  // The SDK turns the epoch-seconds numbers into dates: the table was created moments ago, so both are its creation.
  assert.instance(pitr.EarliestRestorableDateTime, Date);
  assert.instance(pitr.LatestRestorableDateTime, Date);
  const earliest = pitr.EarliestRestorableDateTime!.getTime();
  assert.ok(earliest >= fx.createdAt * 1000 - 1000 && earliest <= started, `earliest ${earliest} outside [${fx.createdAt * 1000}, ${started}]`);
  assert.ok(pitr.LatestRestorableDateTime!.getTime() >= earliest);
  assert.ok(pitr.LatestRestorableDateTime!.getTime() <= Date.now());
});

test("a table declared without TTL and recovery, and one no program declared, report both disabled", async () => {
  const reader = client(KEYS.reader);
  for (const TableName of ["no-settings", "undeclared"]) {
    assert.equal((await reader.send(new DescribeTimeToLiveCommand({ TableName }))).TimeToLiveDescription, { TimeToLiveStatus: "DISABLED" });
    assert.equal((await reader.send(new DescribeContinuousBackupsCommand({ TableName }))).ContinuousBackupsDescription, {
      ContinuousBackupsStatus: "ENABLED",
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: "DISABLED" },
    });
  }
});

test("an unknown table: ResourceNotFoundException for TTL, TableNotFoundException for backups, with AWS's messages", async () => {
  const reader = client(KEYS.reader);
  const ttl = await failure(reader.send(new DescribeTimeToLiveCommand({ TableName: "missing" })));
  assert.is(ttl.name, "ResourceNotFoundException");
  assert.is(ttl.message, "Requested resource not found: Table: missing not found");
  assert.is(ttl.$metadata?.httpStatusCode, 400);
  const backups = await failure(reader.send(new DescribeContinuousBackupsCommand({ TableName: "missing" })));
  assert.is(backups.name, "TableNotFoundException");
  assert.is(backups.message, "Table not found: missing");
});

test("IAM decides first: an action or a table the policy does not name is refused with AccessDeniedException", async () => {
  const ttlOnly = client(KEYS.ttlOnly);
  assert.is((await ttlOnly.send(new DescribeTimeToLiveCommand({ TableName: "declared" }))).TimeToLiveDescription?.TimeToLiveStatus, "ENABLED");
  const backups = await failure(ttlOnly.send(new DescribeContinuousBackupsCommand({ TableName: "declared" })));
  assert.is(backups.name, "AccessDeniedException");
  assert.match(backups.message, `not authorized to perform: dynamodb:DescribeContinuousBackups on resource: ${arn("declared")}`);
  const otherTable = await failure(ttlOnly.send(new DescribeTimeToLiveCommand({ TableName: "no-settings" })));
  assert.is(otherTable.name, "AccessDeniedException");
  // A missing table is not revealed to a caller that may not ask.
  assert.is((await failure(ttlOnly.send(new DescribeTimeToLiveCommand({ TableName: "missing" })))).name, "AccessDeniedException");
  const denied = fx.events.filter((event) => !event.allowed).map((event) => event.denied!.authorization.action);
  assert.ok(denied.includes("dynamodb:DescribeContinuousBackups"), denied.join());
});

test("the stage's DynamoDB thread answers from the platform program's own tables (TTL and recovery as declared)", async () => {
  const programs = await runStagePrograms({ serviceDirs: [], region: REGION });
  const wiring = wiringFrom([{ project: programs.platform.project, resources: programs.platform.resources }], {
    region: REGION,
    accountId: programs.accountId,
  });
  const declared = tableSettings(wiring.tables);
  const names = Object.keys(declared);
  assert.ok(names.length >= 2, `platform tables: ${names.join()}`);
  for (const name of names) {
    assert.ok(declared[name]!.ttlAttribute, `${name} declares TTL`);
    assert.equal(declared[name]!.pointInTimeRecovery, { recoveryPeriodInDays: 35 }, `${name} declares point-in-time recovery`);
  }
  let dynamo: LocalDynamo | undefined;
  try {
    dynamo = await startDynamoService({ accountId: programs.accountId, keySchemas: {}, tables: wiring.tables, registrations: [], reported: [] });
    await createTables(dynamo.dynaliteEndpoint, wiring.tables);
    // An access key no function holds: the stage lets local tools through, as its endpoints do.
    const tool = client("AKIALOCALTOOL", dynamo.endpoint);
    for (const name of names) {
      const ttl = await tool.send(new DescribeTimeToLiveCommand({ TableName: name }));
      assert.equal(ttl.TimeToLiveDescription, { TimeToLiveStatus: "ENABLED", AttributeName: declared[name]!.ttlAttribute });
      const backups = await tool.send(new DescribeContinuousBackupsCommand({ TableName: name }));
      assert.is(backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus, "ENABLED");
    }
    assert.is((await failure(tool.send(new DescribeTimeToLiveCommand({ TableName: "missing" })))).name, "ResourceNotFoundException");
  } finally {
    await dynamo?.close();
  }
});

test.run();
