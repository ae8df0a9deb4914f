// The local relational engine (PGlite) behind its Data API endpoint, with the unmodified @aws-sdk/client-rds-data:
// parameters and type hints, the typed and JSON record formats, batches, transactions, AWS's error codes carrying
// PostgreSQL's message, IAM on the cluster and on the secret, the role a secret names; and the runtime's migration
// runner and typed store (Kysely over kysely-data-api) against it.
import { mkdtempSync, openAsBlob, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RDSData } from "@aws-sdk/client-rds-data";
import { startEndpointServer, type EndpointServer } from "../endpoints";
import { Authorizer } from "../iam/authorizer";
import { createDataApiEndpoint, defaultBaseImage, keepBaseImage, RelationalEngine, type RelationalSecret, type StatementReport } from "../relational";
import { applyMigrations, MigrationError } from "../../runtime/relational-migrations";
import { asSql, relationalStore } from "../../runtime/relational";
import { splitStatements } from "../../runtime/relational-sql-text";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
const CLUSTER = `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:local-platform`;
const MASTER = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:rds!cluster-master-AbCdEf`;
const REPORTING = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:local-reporting-db-AbCdEf`;
const OTHER = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:local-other-db-AbCdEf`;
const DATABASE = "platform";

let engine: RelationalEngine;
let server: EndpointServer;
const statements: StatementReport[] = [];
const secrets = new Map<string, RelationalSecret>([
  [MASTER, { arn: MASTER, username: "postgres" }],
  [REPORTING, { arn: REPORTING, username: "reporting" }],
  [OTHER, { arn: OTHER, username: "other" }],
]);

const client = (principal: string) => new RDSData({ region: REGION, endpoint: server.url, maxAttempts: 1, credentials: { accessKeyId: principal, secretAccessKey: "x" } });
const base = (secretArn: string) => ({ resourceArn: CLUSTER, secretArn, database: DATABASE });

const REVENUE = [
  { name: "0001_create_revenue.sql", sql: "-- revenue per customer per day\ncreate table revenue (\n  customer_id text not null,\n  day date not null,\n  amount_cents bigint not null default 0,\n  entries integer not null default 0,\n  primary key (customer_id, day)\n);\n" },
  { name: "0002_add_currency.sql", sql: "alter table revenue add column currency text not null default 'EUR';\ncomment on column revenue.currency is 'ISO 4217; default ''EUR''';" },
];

test.before(async () => {
  engine = await RelationalEngine.start({ baseImage: defaultBaseImage(), transactionIdleMs: 2000, onStatement: (s) => statements.push(s) });
  const authorizer = new Authorizer({ accountId: ACCOUNT, unknownPrincipals: "deny" });
  const policy = (secret: string) =>
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: ["rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement", "rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"], Resource: CLUSTER },
        { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secret },
      ],
    });
  authorizer.register("migrate", [policy(MASTER)], { roleName: "migrate", sessionName: "migrate", accountId: ACCOUNT });
  authorizer.register("reporting", [policy(REPORTING)], { roleName: "reporting", sessionName: "reporting", accountId: ACCOUNT });
  authorizer.register("other", [policy(OTHER)], { roleName: "other", sessionName: "other", accountId: ACCOUNT });
  server = await startEndpointServer({
    services: [createDataApiEndpoint({ engine, clusterArn: CLUSTER, database: DATABASE, secrets: () => secrets, authorize: authorizer.authorize, accountId: ACCOUNT, region: REGION })],
  });
});

test.after(async () => {
  await server?.close();
  await engine?.close();
});

test("the base image is kept once: a second one never replaces it under a reader that opened the first (parallel test files start engines at once)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "base-image-"));
  try {
    const path = join(dir, "image.tar");
    assert.is(keepBaseImage(path, Buffer.alloc(4096, 1)), true);
    const opened = await openAsBlob(path);
    assert.is(keepBaseImage(path, Buffer.alloc(4096, 2)), false, "the second image is dropped");
    const bytes = new Uint8Array(await opened.arrayBuffer());
    assert.is(bytes[0], 1, "the reader still reads the first image");
    assert.equal(readdirSync(dir), ["image.tar"], "no temporary file left");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("splitStatements keeps semicolons inside literals, dollar quotes and comments", () => {
  assert.equal(splitStatements("create table a (x text default ';');\n-- a; comment\ninsert into a values ($$;$$); /* ; */ ;\n"), [
    "create table a (x text default ';')",
    "-- a; comment\ninsert into a values ($$;$$)",
  ]);
});

test("migrations: schema and role first, each file in a transaction as the service's role, recorded; a second run applies nothing", async () => {
  const migrate = client("migrate");
  const role = { username: "reporting", password: "Abcdefghijklmnop1234" };
  const first = await applyMigrations({ client: migrate, clusterArn: CLUSTER, masterSecretArn: MASTER, database: DATABASE, schema: "reporting", role, migrations: REVENUE });
  assert.equal(first.applied, ["0001_create_revenue.sql", "0002_add_currency.sql"]);
  const again = await applyMigrations({ client: migrate, clusterArn: CLUSTER, masterSecretArn: MASTER, database: DATABASE, schema: "reporting", role, migrations: REVENUE });
  assert.equal(again, { schema: "reporting", applied: [], alreadyApplied: ["0001_create_revenue.sql", "0002_add_currency.sql"] });
  const owner = await migrate.executeStatement({ ...base(MASTER), sql: "select tableowner from pg_tables where schemaname = 'reporting' and tablename = 'revenue'", formatRecordsAs: "JSON" });
  assert.equal(JSON.parse(owner.formattedRecords!), [{ tableowner: "reporting" }]);
  migrate.destroy();
});

test("a failed migration rolls back and names the file; a changed applied one is refused", async () => {
  const migrate = client("migrate");
  const role = { username: "other", password: "Abcdefghijklmnop1234" };
  const options = { client: migrate, clusterArn: CLUSTER, masterSecretArn: MASTER, database: DATABASE, schema: "other", role };
  const failed = await applyMigrations({ ...options, migrations: [{ name: "0001_things.sql", sql: "create table things (id int primary key);\ninsert into nope values (1);" }] }).catch((e: Error) => e);
  assert.instance(failed, MigrationError);
  assert.match((failed as Error).message, /^migration 0001_things\.sql failed at "insert into nope values \(1\)": ERROR: relation "nope" does not exist/);
  // Rolled back: the table of its first statement is not there, and nothing is recorded.
  const tables = await migrate.executeStatement({ ...base(MASTER), sql: "select count(*) as n from pg_tables where schemaname = 'other'", formatRecordsAs: "JSON" });
  assert.equal(JSON.parse(tables.formattedRecords!), [{ n: 2 }]); // schema_migrations and processed_events only
  await applyMigrations({ ...options, migrations: [{ name: "0001_things.sql", sql: "create table things (id int primary key);" }] });
  const changed = await applyMigrations({ ...options, migrations: [{ name: "0001_things.sql", sql: "create table things (id bigint primary key);" }] }).catch((e: Error) => e);
  assert.match((changed as Error).message, /migration 0001_things\.sql was changed after it was applied/);
  migrate.destroy();
});

test("a migration without a statement yet is never recorded: it waits (and what follows it, locally); the deploy refuses to hold statements back behind it", async () => {
  const migrate = client("migrate");
  const role = { username: "drafts", password: "Abcdefghijklmnop1234" };
  const options = { client: migrate, clusterArn: CLUSTER, masterSecretArn: MASTER, database: DATABASE, schema: "drafts", role };
  const draft = { name: "0002_draft.sql", sql: "-- drafts: draft\n-- Applied by `pulumi up`.\n" };
  const first = { name: "0001_notes.sql", sql: "create table notes (id int primary key);" };
  const next = { name: "0003_tags.sql", sql: "create table tags (id int primary key);" };
  // Trailing: waits, whatever the mode; what comes before it is applied.
  const trailing = await applyMigrations({ ...options, migrations: [first, draft] });
  assert.equal(trailing, { schema: "drafts", applied: ["0001_notes.sql"], alreadyApplied: [], waiting: { name: "0002_draft.sql", after: 0 } });
  // Statements behind it: the deploy's default refuses, naming it; nothing is applied.
  const refused = await applyMigrations({ ...options, migrations: [first, draft, next] }).catch((e: Error) => e);
  assert.instance(refused, MigrationError);
  assert.is((refused as MigrationError).file, "0002_draft.sql");
  assert.match((refused as Error).message, /^migration 0002_draft\.sql holds no statement \(only comments\), and 1 after it would wait for it: write its statements or delete the file/);
  // The local stage waits, in order: 0003 is not applied before 0002.
  const waited = await applyMigrations({ ...options, migrations: [first, draft, next], empty: "wait" });
  assert.equal(waited.waiting, { name: "0002_draft.sql", after: 1 });
  assert.equal(waited.applied, []);
  // Written, it is applied, then what waited behind it.
  const written = await applyMigrations({ ...options, migrations: [first, { ...draft, sql: `${draft.sql}create table drafts (id int primary key);` }, next] });
  assert.equal(written.applied, ["0002_draft.sql", "0003_tags.sql"]);
  assert.is(written.waiting, undefined);
  const recorded = await migrate.executeStatement({ ...base(MASTER), sql: "select name from drafts.schema_migrations order by name", formatRecordsAs: "JSON" });
  assert.equal(JSON.parse(recorded.formattedRecords!), [{ name: "0001_notes.sql" }, { name: "0002_draft.sql" }, { name: "0003_tags.sql" }]);
  migrate.destroy();
});

test("ExecuteStatement: named parameters with type hints, typed records with metadata, JSON records, numberOfRecordsUpdated", async () => {
  const reporting = client("reporting");
  const insert = await reporting.executeStatement({
    ...base(REPORTING),
    sql: "insert into revenue (customer_id, day, amount_cents, entries) values (:customer, :day, :amount, 1), (:customer, :day2, :amount, 1)",
    parameters: [
      { name: "customer", value: { stringValue: "c-1" } },
      { name: "day", value: { stringValue: "2026-12-01" }, typeHint: "DATE" },
      { name: "day2", value: { stringValue: "2026-12-02" }, typeHint: "DATE" },
      { name: "amount", value: { longValue: 1250 } },
    ],
  });
  assert.is(insert.numberOfRecordsUpdated, 2);
  assert.is(insert.records, undefined);
  const typed = await reporting.executeStatement({
    ...base(REPORTING),
    sql: "select customer_id, day, amount_cents, amount_cents / 100.0 as euros, entries > 0 as seen, null::text as note from revenue where customer_id = :customer order by day",
    parameters: [{ name: "customer", value: { stringValue: "c-1" } }],
    includeResultMetadata: true,
  });
  assert.equal(typed.records![0], [{ stringValue: "c-1" }, { stringValue: "2026-12-01" }, { longValue: 1250 }, { stringValue: "12.5000000000000000" }, { booleanValue: true }, { isNull: true }]);
  assert.equal(typed.columnMetadata!.map((c) => [c.name, c.typeName]), [["customer_id", "text"], ["day", "date"], ["amount_cents", "int8"], ["euros", "numeric"], ["seen", "bool"], ["note", "text"]]);
  const json = await reporting.executeStatement({ ...base(REPORTING), sql: "select customer_id, amount_cents from revenue order by day", formatRecordsAs: "JSON" });
  assert.equal(JSON.parse(json.formattedRecords!), [{ customer_id: "c-1", amount_cents: 1250 }, { customer_id: "c-1", amount_cents: 1250 }]);
  assert.is(json.records, undefined);
  reporting.destroy();
});

test("errors: PostgreSQL's message under DatabaseErrorException; a string without a type hint is varchar, as AWS sends it; missing parameter and unknown transaction", async () => {
  const reporting = client("reporting");
  const missing = await reporting.executeStatement({ ...base(REPORTING), sql: "select * from nope" }).catch((e: Error) => e);
  assert.is((missing as Error).name, "DatabaseErrorException");
  assert.match((missing as Error).message, /ERROR: relation "nope" does not exist/);
  const unhinted = await reporting
    .executeStatement({ ...base(REPORTING), sql: "select 1 from revenue where day = :day", parameters: [{ name: "day", value: { stringValue: "2026-12-01" } }] })
    .catch((e: Error) => e);
  assert.match((unhinted as Error).message, /operator does not exist: date = character varying/);
  const noValue = await reporting.executeStatement({ ...base(REPORTING), sql: "select :a::int as a" }).catch((e: Error) => e);
  assert.is((noValue as Error).name, "BadRequestException");
  assert.match((noValue as Error).message, /No value specified for parameter: a/);
  const gone = await reporting.commitTransaction({ resourceArn: CLUSTER, secretArn: REPORTING, transactionId: "nope" }).catch((e: Error) => e);
  assert.is((gone as Error).name, "TransactionNotFoundException");
  reporting.destroy();
});

test("IAM: the Data API on the cluster and GetSecretValue on the named secret; a role reaches only its own schema", async () => {
  const reporting = client("reporting");
  const otherSecret = await reporting.executeStatement({ ...base(OTHER), sql: "select 1" }).catch((e: Error) => e);
  assert.is((otherSecret as Error).name, "AccessDeniedException");
  assert.match((otherSecret as Error).message, new RegExp(`secretsmanager:GetSecretValue on resource: ${OTHER.replace(/[!$]/g, "\\$&")}`));
  const stranger = await client("stranger").executeStatement({ ...base(REPORTING), sql: "select 1" }).catch((e: Error) => e);
  assert.is((stranger as Error).name, "AccessDeniedException");
  assert.match((stranger as Error).message, /rds-data:ExecuteStatement on resource: arn:aws:rds:/);
  const crossSchema = await client("other").executeStatement({ ...base(OTHER), sql: "select * from reporting.revenue" }).catch((e: Error) => e);
  assert.match((crossSchema as Error).message, /permission denied for schema reporting/);
  reporting.destroy();
});

test("transactions: a rolled back change is gone, a committed one stays, an idle one is rolled back and frees the engine", async () => {
  const reporting = client("reporting");
  const begin = () => reporting.beginTransaction(base(REPORTING)).then((r) => r.transactionId!);
  const count = async () => JSON.parse((await reporting.executeStatement({ ...base(REPORTING), sql: "select count(*) as n from revenue", formatRecordsAs: "JSON" })).formattedRecords!)[0].n as number;
  const before = await count();
  const t1 = await begin();
  await reporting.executeStatement({ ...base(REPORTING), transactionId: t1, sql: "insert into revenue (customer_id, day) values ('c-2', current_date)" });
  assert.is((await reporting.rollbackTransaction({ resourceArn: CLUSTER, secretArn: REPORTING, transactionId: t1 })).transactionStatus, "Rollback Complete");
  assert.is(await count(), before);
  const t2 = await begin();
  await reporting.batchExecuteStatement({
    ...base(REPORTING),
    transactionId: t2,
    sql: "insert into revenue (customer_id, day, amount_cents) values (:c, current_date, :a)",
    parameterSets: [
      [{ name: "c", value: { stringValue: "c-3" } }, { name: "a", value: { longValue: 1 } }],
      [{ name: "c", value: { stringValue: "c-4" } }, { name: "a", value: { longValue: 2 } }],
    ],
  });
  assert.is((await reporting.commitTransaction({ resourceArn: CLUSTER, secretArn: REPORTING, transactionId: t2 })).transactionStatus, "Transaction Committed");
  assert.is(await count(), before + 2);
  // Abandoned (a crashed function): rolled back after the idle time, and the next call runs.
  const t3 = await begin();
  await reporting.executeStatement({ ...base(REPORTING), transactionId: t3, sql: "insert into revenue (customer_id, day) values ('c-5', current_date)" });
  assert.is(await count(), before + 2);
  const late = await reporting.commitTransaction({ resourceArn: CLUSTER, secretArn: REPORTING, transactionId: t3 }).catch((e: Error) => e);
  assert.is((late as Error).name, "TransactionNotFoundException");
  reporting.destroy();
});

test("the runtime's store: typed Kysely queries over the Data API, and writeOnce applies an event once", async () => {
  interface Tables {
    revenue: { customer_id: string; day: Date; amount_cents: number; entries: number; currency: string };
  }
  const data = client("reporting");
  const store = relationalStore<Tables>({ client: data, config: { clusterArn: CLUSTER, secretArn: REPORTING, database: DATABASE, schema: "reporting" } });
  const event = { id: "evt-1", type: "ledger.entry-posted" };
  const add = () =>
    store.writeOnce(event, (trx) =>
      trx
        .insertInto("revenue")
        .values({ customer_id: "c-9", day: asSql.date("2026-12-07"), amount_cents: 500, entries: 1, currency: "EUR" })
        .onConflict((c) => c.columns(["customer_id", "day"]).doUpdateSet((eb) => ({ amount_cents: eb("revenue.amount_cents", "+", eb.ref("excluded.amount_cents")), entries: eb("revenue.entries", "+", 1) })))
        .execute(),
    );
  assert.is(await add(), "applied");
  assert.is(await add(), "duplicate");
  const rows = await store.db.selectFrom("revenue").select(["customer_id", "amount_cents", "entries"]).where("customer_id", "=", "c-9").where("day", "=", asSql.date("2026-12-07")).execute();
  assert.equal(rows, [{ customer_id: "c-9", amount_cents: 500, entries: 1 }]);
  // A change that fails leaves no record of the event: the redelivery applies it.
  const failing = await store.writeOnce({ id: "evt-2", type: "ledger.entry-posted" }, () => Promise.reject(new Error("crashed"))).catch((e: Error) => e);
  assert.match((failing as Error).message, /crashed/);
  const recorded = await store.db.selectFrom("processed_events").select("event_id").orderBy("event_id").execute();
  assert.equal(recorded.map((r) => r.event_id), ["evt-1"]);
  assert.ok(statements.some((s) => s.role === "reporting" && /^insert into "reporting"."processed_events"/.test(s.sql)));
  data.destroy();
});

test.run();
