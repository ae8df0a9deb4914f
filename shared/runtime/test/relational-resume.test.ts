// A paused Aurora Serverless v2 database (0 ACUs): the Data API answers DatabaseResumingException until the instance
// is back. The runtime's Data API client (the store's queries, and the migration function's applyMigrations) waits and
// retries, for a bounded time. Against the local Data API endpoint answering that error (its fault hook) over PGlite.
import { join } from "node:path";
import { RDSData } from "@aws-sdk/client-rds-data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { relationalTestBed, type RelationalTestBed } from "../../local/relational/test-bed";
import { rdsDataClient, resetRdsDataClient } from "../relational-client";
import { relationalStore, retryWhileResuming } from "../relational";
import { applyMigrations } from "../relational-migrations";

interface Tables {
  revenue: { customer_id: string; amount_cents: number };
}

let db: RelationalTestBed;
const env = (name: string) => process.env[name]!;

test.before(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= "local";
  process.env.AWS_SECRET_ACCESS_KEY ??= "local";
  db = await relationalTestBed("reporting", join(__dirname, "..", "..", "..", "services", "reporting", "migrations"));
});

test.after(async () => {
  resetRdsDataClient();
  await db?.stop();
});

const plainClient = () => new RDSData({ endpoint: db.url, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });

test("without the retry, the first call to a paused database fails with DatabaseResumingException (what the fix is for)", async () => {
  const client = plainClient();
  db.pause(60_000);
  try {
    await client.executeStatement({ resourceArn: env("PLATFORM_RELATIONAL_CLUSTER_ARN"), secretArn: env("PLATFORM_RELATIONAL_SECRET_ARN"), sql: "select 1" });
    assert.unreachable("answered while paused");
  } catch (error) {
    assert.is((error as Error).name, "DatabaseResumingException");
  } finally {
    db.pause(0);
    client.destroy();
  }
});

test("the store's first query after a pause waits for the resume and succeeds", async () => {
  resetRdsDataClient();
  const store = relationalStore<Tables>();
  const before = db.resumingAnswers;
  db.pause(1500);
  const rows = await store.db.selectFrom("revenue").select(["customer_id"]).execute();
  assert.equal(rows, []);
  assert.ok(db.resumingAnswers - before >= 2, `answered DatabaseResumingException ${db.resumingAnswers - before} times, then the query ran`);
});

test("a write through writeOnce after a pause: begin, statements and commit all get through, once", async () => {
  const store = relationalStore<Tables>();
  db.pause(1200);
  const outcome = await store.writeOnce({ id: "resume-1", type: "ledger.entry-posted" }, (trx) =>
    trx.insertInto("revenue").values({ customer_id: "c-1", day: new Date("2026-12-07"), amount_cents: 5, entries: 1 } as never).execute(),
  );
  assert.is(outcome, "applied");
  assert.equal(await db.rows("select customer_id, amount_cents from revenue"), [{ customer_id: "c-1", amount_cents: 5 }]);
});

test("the migration step (the migration function's client) applies a new migration after a pause", async () => {
  db.pause(1500);
  const before = db.resumingAnswers;
  const report = await applyMigrations({
    client: rdsDataClient(),
    clusterArn: env("PLATFORM_RELATIONAL_CLUSTER_ARN"),
    masterSecretArn: db.masterSecretArn,
    database: env("PLATFORM_RELATIONAL_DATABASE"),
    schema: "reporting",
    role: { username: "reporting", password: "testpasswordtestpassword" },
    migrations: [
      { name: "0099_after_pause.sql", sql: "CREATE TABLE after_pause (id text PRIMARY KEY);" },
    ],
  });
  assert.equal(report.applied, ["0099_after_pause.sql"]);
  assert.ok(db.resumingAnswers > before, "the first call was answered DatabaseResumingException");
});

test("the wait is bounded: a database that stays paused fails the call with DatabaseResumingException after maxWaitMs", async () => {
  const client = retryWhileResuming(plainClient(), { maxWaitMs: 800, firstDelayMs: 100, maxDelayMs: 200 });
  db.pause(60_000);
  const before = db.resumingAnswers;
  try {
    await client.executeStatement({ resourceArn: env("PLATFORM_RELATIONAL_CLUSTER_ARN"), secretArn: env("PLATFORM_RELATIONAL_SECRET_ARN"), sql: "select 1" });
    assert.unreachable("answered while paused");
  } catch (error) {
    assert.is((error as Error).name, "DatabaseResumingException");
    assert.ok(db.resumingAnswers - before >= 3, "retried before giving up");
  } finally {
    db.pause(0);
    client.destroy();
  }
});

test("other errors are not retried: a SQL error comes back at once, with PostgreSQL's message", async () => {
  const before = db.resumingAnswers;
  try {
    await rdsDataClient().executeStatement({ resourceArn: env("PLATFORM_RELATIONAL_CLUSTER_ARN"), secretArn: env("PLATFORM_RELATIONAL_SECRET_ARN"), sql: "select * from nope" });
    assert.unreachable("no error");
  } catch (error) {
    assert.is((error as Error).name, "DatabaseErrorException");
    assert.match((error as Error).message, /relation "nope" does not exist/);
  }
  assert.is(db.resumingAnswers, before);
});

test.run();
