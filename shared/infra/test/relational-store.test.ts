import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV } from "../../contract";
import { DATA_API_ACTIONS, relationalSchemaName } from "../relational-access";
import { migrationsHash, platformStore, readMigrations, RelationalStore } from "../relational-store";
import { defineService } from "../service";
import { ServiceFunction } from "../service-function";
import { platformOutputs, policyDocument, underMocks } from "./harness";

const FIXTURES = join(__dirname, "fixtures");
const MIGRATIONS = join(FIXTURES, "relational", "migrations");
const ECHO = join(FIXTURES, "handlers", "echo.ts");
const FUNCTION = "aws:lambda/function:Function";
const POLICY = "aws:iam/rolePolicy:RolePolicy";
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

/** A store (with a stand-in for the runtime's migration handler) and one function of the service using it. */
function storeAndFunction(platformOutputs: Record<string, any> = platform, migrations = MIGRATIONS) {
  return underMocks(
    (ref) => {
      const store = new RelationalStore("reporting-relational", {
        platform: ref,
        service: "reporting",
        migrations,
        migrationHandler: { handler: ECHO },
      });
      const fn = new ServiceFunction("reporting-get-report", { platform: ref, service: "reporting", name: "get-report", handler: ECHO, relational: store.access });
      return { store, fn };
    },
    { platform: platformOutputs, project: "reporting" },
  );
}

test("schema and role names: the service's name with - as _, reserved prefixes refused", () => {
  assert.is(relationalSchemaName("reporting"), "reporting");
  assert.is(relationalSchemaName("order-history"), "order_history");
  assert.throws(() => relationalSchemaName("rds-admin"), /cannot have a relational schema named "rds_admin"/);
  assert.throws(() => relationalSchemaName("pg-stats"), /pg_\*/);
});

test("migrations are read in the order of their numbers; misnamed or duplicate files and a missing folder are refused", () => {
  const read = readMigrations(MIGRATIONS, "test");
  assert.equal(read.map((m) => m.name), ["0001_create_revenue.sql", "0002_add_currency.sql"]);
  assert.match(read[0]!.sql, /CREATE TABLE revenue/);
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  try {
    cpSync(MIGRATIONS, dir, { recursive: true });
    writeFileSync(join(dir, "0010_later.sql"), "SELECT 1;");
    writeFileSync(join(dir, "README.md"), "notes are not migrations");
    assert.equal(readMigrations(dir, "test").map((m) => m.name), ["0001_create_revenue.sql", "0002_add_currency.sql", "0010_later.sql"]);
    const before = migrationsHash(readMigrations(dir, "test"));
    writeFileSync(join(dir, "0010_later.sql"), "SELECT 2;");
    assert.is.not(migrationsHash(readMigrations(dir, "test")), before, "an edited migration changes the hash");
    writeFileSync(join(dir, "0002_other.sql"), "SELECT 3;");
    assert.throws(() => readMigrations(dir, "store of x"), /store of x: 0002_add_currency\.sql and 0002_other\.sql have the same number/);
    rmSync(join(dir, "0002_other.sql"));
    writeFileSync(join(dir, "3_bad name.sql"), "");
    assert.throws(() => readMigrations(dir, "test"), /3_bad name\.sql .* is not a migration name: NNNN_lowercase_words\.sql/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => readMigrations(join(FIXTURES, "nowhere"), "store of y"), /store of y: the migrations folder .*nowhere does not exist/);
});

test("the store: a secret under the platform key, a migration function with the master secret, invoked with the migrations in order on their hash", async () => {
  const { mocks, result } = await storeAndFunction();
  const keyArn = platform.eventsKeyArn;
  const secret = mocks.one("aws:secretsmanager/secret:Secret", "reporting-relational-secret");
  assert.is(secret.inputs.name, "dev-reporting-relational");
  assert.is(secret.inputs.kmsKeyId, keyArn);
  const version = mocks.one("aws:secretsmanager/secretVersion:SecretVersion", "reporting-relational-secret-version");
  // A Pulumi secret (encrypted in the state): the mocks see its wrapper.
  const secretString = version.inputs.secretString;
  assert.is(typeof secretString, "object", "the credentials are a Pulumi secret");
  assert.equal(JSON.parse(secretString.value), { username: "reporting", password: "m".repeat(40) });
  assert.is(version.inputs.secretId, secret.id);

  const migrate = mocks.one(FUNCTION, "reporting-relational-migrate-function").inputs;
  assert.is(migrate.name, "dev-reporting-migrate");
  assert.is(migrate.timeout, 300);
  assert.is(migrate.reservedConcurrentExecutions, 1);
  const env = migrate.environment.variables;
  assert.is(env[ENV.relationalClusterArn], platform.relational.clusterArn);
  assert.is(env[ENV.relationalSecretArn], platform.relational.masterSecretArn, "the migration connects as the master user");
  assert.is(env[ENV.relationalRoleSecretArn], secret.state.arn);
  assert.is(env[ENV.relationalDatabase], "platform");
  assert.is(env[ENV.relationalSchema], "reporting");
  const migratePolicy = policyDocument(mocks.one(POLICY, "reporting-relational-migrate-relational"));
  assert.equal(migratePolicy.Statement, [
    { Sid: "RelationalDataApi", Effect: "Allow", Action: [...DATA_API_ACTIONS], Resource: platform.relational.clusterArn },
    { Sid: "RelationalSecret", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [platform.relational.masterSecretArn, secret.state.arn] },
    {
      Sid: "RelationalSecretKey",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: keyArn,
      Condition: {
        StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com", "kms:EncryptionContext:SecretARN": [platform.relational.masterSecretArn, secret.state.arn] },
      },
    },
  ]);

  const invocation = mocks.one("aws:lambda/invocation:Invocation", "reporting-relational-migrations").inputs;
  assert.is(invocation.functionName, "dev-reporting-migrate");
  const input = JSON.parse(invocation.input);
  assert.equal(input.migrations.map((m: { name: string }) => m.name), ["0001_create_revenue.sql", "0002_add_currency.sql"]);
  assert.equal(invocation.triggers, { schema: "reporting", migrations: migrationsHash(readMigrations(MIGRATIONS, "test")), secretVersion: version.state.versionId });
  assert.ok(version.state.versionId, "a new secret (a new password) runs the migration step again");
  assert.is(secret.inputs.recoveryWindowInDays, 0, "outside production a destroyed stage's secret name is free at once");
  assert.equal(result.store.registration.migrations, ["0001_create_revenue.sql", "0002_add_currency.sql"]);
  assert.is(result.store.registration.migrationsDir, "shared/infra/test/fixtures/relational/migrations");
});

test("a function of the service: the Data API on the cluster, its own secret only, names and ARNs in its environment and no password", async () => {
  const { mocks } = await storeAndFunction();
  const secret = mocks.one("aws:secretsmanager/secret:Secret", "reporting-relational-secret");
  const fn = mocks.one(FUNCTION, "reporting-get-report-function").inputs;
  const env = fn.environment.variables;
  assert.is(env[ENV.relationalClusterArn], platform.relational.clusterArn);
  assert.is(env[ENV.relationalSecretArn], secret.state.arn);
  assert.is(env[ENV.relationalSchema], "reporting");
  assert.is(env[ENV.relationalDatabase], "platform");
  assert.not.ok(ENV.relationalRoleSecretArn in env, "only the migration function names the role's secret");
  // Its bundle carries the store's client (the relational bundle setting); the migration function's too.
  const registrations = mocks.byType("platform:infra:ServiceFunction").map((r) => [r.name, r.inputs.settings?.relational]);
  assert.equal(registrations.sort(), [["reporting-get-report", true], ["reporting-relational-migrate", true]]);
  assert.not.ok(JSON.stringify(env).includes("m".repeat(40)), "no password in the environment");
  const policy = policyDocument(mocks.one(POLICY, "reporting-get-report-relational"));
  assert.equal(policy.Statement.find((s) => s.Sid === "RelationalSecret")?.Resource, secret.state.arn);
  assert.equal(policy.Statement.find((s) => s.Sid === "RelationalDataApi")?.Resource, platform.relational.clusterArn);
  assert.not.ok(JSON.stringify(policy).includes(platform.relational.masterSecretArn), "never the master secret");
  // Its main policy is unchanged: the relational grants are only in relational-data.
  assert.not.ok(JSON.stringify(policyDocument(mocks.one(POLICY, "reporting-get-report-policy"))).includes("rds-data"));
});

test("a function without relational gets neither the variables nor the policy", async () => {
  const { mocks } = await underMocks((ref) => new ServiceFunction("plain", { platform: ref, service: "reporting", handler: ECHO }), { platform, project: "reporting" });
  const env = mocks.one(FUNCTION, "plain-function").inputs.environment.variables;
  assert.equal(Object.keys(env).filter((k) => k.startsWith("PLATFORM_RELATIONAL")), []);
  assert.equal(mocks.byType(POLICY).map((p) => p.name), ["plain-policy"]);
  assert.is(mocks.one("platform:infra:ServiceFunction", "plain").inputs.settings.relational, undefined, "no store client in its bundle");
});

test("a platform without the relational store: the error names the stack and the keys to set", () => {
  assert.throws(
    () => platformStore("organization/platform/dev", { enabled: false }, "reporting"),
    /service "reporting" declares relational, but platform stack "organization\/platform\/dev" has no relational store: set platform:relational \(and platform:vpcEnabled\) to true/,
  );
  assert.equal(platformStore("s", platform.relational, "reporting"), {
    clusterArn: platform.relational.clusterArn,
    database: "platform",
    masterSecretArn: platform.relational.masterSecretArn,
  });
});

test("defineService({ relational }): every function of the service gets the store, the migrate function is named, and the name is claimed", async () => {
  const { mocks, result } = await underMocks(
    () =>
      defineService({
        name: "reporting",
        relational: { migrations: MIGRATIONS },
        consumers: {
          "on-invoice": { event: "billing.invoice-issued", handler: ECHO },
          // The relational writer: a consumer of a stream event (its shards bound the concurrent writers).
          "on-entry-posted": { event: "ledger.entry-posted", handler: ECHO },
        },
        http: { routes: { "GET /reports/{customerId}": { handler: ECHO, data: "read" } } },
      }),
    { platform, project: "reporting" },
  );
  const secretArn = mocks.one("aws:secretsmanager/secret:Secret", "reporting-relational-secret").state.arn;
  for (const fn of ["dev-reporting-on-invoice", "dev-reporting-on-entry-posted", "dev-reporting-get-reports-customer-id"]) {
    const found = mocks.byType(FUNCTION).find((f) => f.inputs.name === fn);
    assert.ok(found, fn);
    assert.is(found!.inputs.environment.variables[ENV.relationalSecretArn], secretArn, `${fn} connects with the role's secret`);
  }
  assert.equal(
    mocks.byType(POLICY).filter((p) => p.inputs.name === "relational-data").map((p) => p.name).sort(),
    [
      "reporting-get-reports-customer-id-relational",
      "reporting-on-entry-posted-function-relational",
      "reporting-on-invoice-function-relational",
      "reporting-relational-migrate-relational",
    ],
  );
  // The stream consumer reads its Kinesis stream through an event source mapping, as any stream consumer does.
  assert.ok(
    mocks.byType("aws:lambda/eventSourceMapping:EventSourceMapping").some((m) => String(m.inputs.eventSourceArn).includes(":stream/dev-ledger-entry-posted")),
    "the writer's mapping on the stream",
  );
  const outputs = result.outputs;
  assert.is(outputs.relational?.schema, "reporting");
  assert.ok(outputs.functions.migrate, "the migrate function is among the service's functions");
  try {
    await underMocks(
      () =>
        defineService({
          name: "reporting",
          relational: { migrations: MIGRATIONS },
          consumers: { migrate: { event: "billing.invoice-issued", handler: ECHO } },
        }),
      { platform, project: "reporting" },
    );
    assert.unreachable("a consumer named migrate");
  } catch (error) {
    assert.match((error as Error).message, /the migration function of its relational store and consumer "migrate" would both be named "migrate"|consumer "migrate" and the migration function of its relational store would both be named "migrate"/);
  }
});

test.run();
