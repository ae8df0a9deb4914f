import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFromArgs } from "../run";
import { copyRepo, unusedServiceName } from "./helpers";

// new-service --store postgres and new-migration, run into a copy of the repository, then checked as CI checks it:
// type-check, the service's own tests (its migrations against PostgreSQL, compared with its typed tables), the
// whole-system mocks run with every guardrail.
const root = copyRepo("generators-relational-");
const name = unusedServiceName(root, "revenue");
const plain = unusedServiceName(root, "archive");
const bare = unusedServiceName(root, "ledgerbook");
const dir = join(root, "services", name);

async function generate(generator: string, args: string[]): Promise<string[]> {
  return runFromArgs(generator, [...args, "--root", root], { interactive: false });
}

function run(command: string, args: string[]): { code: number; output: string } {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: result.status ?? -1, output: `${result.stdout}\n${result.stderr}` };
}

async function refused(generator: string, args: string[], message: RegExp): Promise<void> {
  try {
    await generate(generator, args);
    assert.unreachable(`expected ${message}`);
  } catch (error) {
    assert.match((error as Error).message, message);
  }
}

test.before(async () => {
  await generate("service", [
    "--name", name, "--purpose", "Revenue per customer per day", "--team", "finance",
    "--consumes", "billing.invoice-issued", "--http", "--entity", "daily-revenue", "--store", "postgres", "--yes",
  ]);
  await generate("migration", ["--service", name, "--name", "add-region-totals", "--table", "region-total"]);
  // A consumer of a stream event and a GET route on the second table, in the relational service.
  await generate("consumer", ["--service", name, "--event", "ledger.entry-posted", "--entity", "region-total"]);
  await generate("route", ["--service", name, "--path", "/region-totals", "--entity", "region-total"]);
  await generate("migration", ["--service", name, "--name", "backfill-regions"]);
  // A service made without a store gets one with its first migration.
  await generate("service", ["--name", plain, "--purpose", "Keeps old invoices", "--team", "finance", "--consumes", "billing.invoice-issued", "--entity", "old-invoice", "--yes"]);
  await generate("migration", ["--service", plain, "--name", "create-archive", "--table", "archived-invoice"]);
  // A first migration without a table: a store with no table yet (its SQL is the author's to write).
  await generate("service", ["--name", bare, "--purpose", "Books", "--team", "finance", "--consumes", "billing.invoice-issued", "--entity", "book", "--yes"]);
  await generate("migration", ["--service", bare, "--name", "start"]);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test("new-service --store postgres declares the store and writes the first migration, the typed tables and their test", () => {
  for (const file of ["migrations/0001_create_daily_revenue.sql", "tables.ts", "test/tables.test.ts", "migrations/0002_add_region_totals.sql", "migrations/0003_backfill_regions.sql"]) {
    assert.ok(existsSync(join(dir, file)), file);
  }
  const index = readFileSync(join(dir, "index.ts"), "utf8");
  assert.match(index, /publishes: \[\],\n {4}relational: \{ migrations: "migrations" \},\n/);
  assert.match(readFileSync(join(dir, "migrations/0001_create_daily_revenue.sql"), "utf8"), /^CREATE TABLE daily_revenue \(/m);
  const tables = readFileSync(join(dir, "tables.ts"), "utf8");
  assert.match(tables, /export interface DailyRevenueTable \{/);
  assert.match(tables, /export interface Database \{\n {2}daily_revenue: DailyRevenueTable;\n {2}region_total: RegionTotalTable;\n/);
  assert.match(readFileSync(join(dir, "test/tables.test.ts"), "utf8"), new RegExp(`const SCHEMA = "${name}";`));
  assert.not.match(readFileSync(join(dir, "migrations/0003_backfill_regions.sql"), "utf8"), /CREATE TABLE/);
  const manifest = JSON.parse(readFileSync(join(dir, "generator.json"), "utf8"));
  assert.equal(manifest.runs.map((r: { generator: string }) => r.generator), ["service", "migration", "consumer", "route", "migration"]);
  assert.is(manifest.runs[0].answers.store, "postgres");
  // A service without a store: its first migration adds the store, the tables and the test.
  const plainDir = join(root, "services", plain);
  assert.match(readFileSync(join(plainDir, "index.ts"), "utf8"), /relational: \{ migrations: "migrations" \}/);
  assert.ok(existsSync(join(plainDir, "migrations/0001_create_archive.sql")));
  assert.match(readFileSync(join(plainDir, "tables.ts"), "utf8"), /archived_invoice: ArchivedInvoiceTable;/);
  const bareTables = readFileSync(join(root, "services", bare, "tables.ts"), "utf8");
  assert.match(bareTables, /export interface Database \{\n {2}\/\/ new tables are added above this line\n\}/, "no table yet");
  // Timestamps are Dates: the Data API dialect converts timestamptz when it reads a row.
  assert.match(readFileSync(join(dir, "tables.ts"), "utf8"), /created_at: Generated<Date>;/);
});

test("a postgres service's handlers are relational: consumers write through writeOnce with a typed query, GET routes read with one; no DynamoDB entity", () => {
  assert.not.ok(existsSync(join(dir, "entities")), "no entities folder");
  const index = readFileSync(join(dir, "index.ts"), "utf8");
  assert.match(index, /"on-invoice-issued": \{ event: "billing\.invoice-issued", versions: \[\d+\], handler: "\.\/handlers\/on-invoice-issued\.ts", records: \[\] \}/);
  assert.match(index, /"on-entry-posted": \{ event: "ledger\.entry-posted", .*records: \[\] \}/);
  assert.match(index, /"GET \/daily-revenues": \{ handler: "\.\/handlers\/get-daily-revenues\.ts", name: "get-daily-revenues", records: \[\] \}/);
  assert.match(index, /"GET \/region-totals": \{ handler: "\.\/handlers\/get-region-totals\.ts"/);
  for (const [consumer, table] of [["on-invoice-issued", "daily_revenue"], ["on-entry-posted", "region_total"]] as const) {
    const handler = readFileSync(join(dir, "handlers", `${consumer}.ts`), "utf8");
    assert.match(handler, /import \{ asSql, relationalStore \} from "\.\.\/\.\.\/\.\.\/shared\/runtime\/relational";/);
    assert.match(handler, /const store = relationalStore<Database>\(\);/);
    assert.match(handler, new RegExp(`store\\.writeOnce\\(event, \\(trx\\) => trx\\.insertInto\\("${table}"\\)`));
    assert.match(handler, /\{ idempotency: false \}/, "the transaction is the idempotency");
    assert.not.match(handler, /entities\/|\.put\(|\.go\(\)/, "no DynamoDB write");
    const testFile = readFileSync(join(dir, "test", `${consumer}.test.ts`), "utf8");
    assert.match(testFile, /relationalTestBed\(/);
    assert.match(testFile, /from processed_events/);
  }
  for (const [route, table] of [["get-daily-revenues", "daily_revenue"], ["get-region-totals", "region_total"]] as const) {
    const handler = readFileSync(join(dir, "handlers", `${route}.ts`), "utf8");
    assert.match(handler, new RegExp(`store\\.db\\.selectFrom\\("${table}"\\)`));
    assert.not.match(handler, /\.put\(|insertInto/, "a GET writes nothing");
  }
  assert.match(readFileSync(join(dir, "README.md"), "utf8"), /the `daily_revenue` table in the service's own schema/);
});

test("refused: --publishes on a relational handler; a consumer of a table without the handlers' columns", async () => {
  await refused(
    "service",
    ["--name", unusedServiceName(root, "other"), "--consumes", "billing.invoice-issued", "--publishes", "other.thing-done", "--store", "postgres", "--yes"],
    /--publishes with --store postgres: a relational handler does not publish/,
  );
  const tablesPath = join(dir, "tables.ts");
  const tables = readFileSync(tablesPath, "utf8");
  try {
    writeFileSync(tablesPath, tables.replace("region_total: { id: true, details: true, created_at: true }", "region_total: { id: true, created_at: true }"));
    await refused("consumer", ["--service", name, "--event", "orders.order-placed", "--entity", "region-total"], /table region_total of .*tables\.ts has no details column/);
  } finally {
    writeFileSync(tablesPath, tables);
  }
});

test("refused: an unknown store, an unknown service, a name that is not kebab-case, a table that exists", async () => {
  await refused("service", ["--name", unusedServiceName(root, "other"), "--consumes", "billing.invoice-issued", "--store", "mysql", "--yes"], /--store "mysql" is not a store; choose dynamodb or postgres/);
  await refused("migration", ["--service", "nowhere", "--name", "x"], /nowhere/);
  await refused("migration", ["--service", name, "--name", "Add Region"], /not kebab-case/);
  await refused("migration", ["--service", name, "--name", "again", "--table", "region-total"], /already has a table region_total/);
});

test("the generated code type-checks under the strict tsconfig", () => {
  const { output } = run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]);
  const ours = output.split("\n").filter((line) => [name, plain, bare].some((service) => line.startsWith(`services/${service}/`)));
  assert.equal(ours, []);
});

test("the generated service's tests pass, its migrations applied to PostgreSQL among them; a migration that drifts from tables.ts fails them", () => {
  const passing = run(process.execPath, ["scripts/test.mjs", `services/${name}`]);
  assert.is(passing.code, 0, passing.output);
  assert.match(passing.output, /tables\.test\.ts/);
  for (const file of ["on-invoice-issued", "on-entry-posted", "get-daily-revenues", "get-region-totals"]) assert.match(passing.output, new RegExp(`✔ services/${name}/test/${file}\\.test\\.ts`));
  assert.match(passing.output, /\b[1-9]\d* passed, 0 failed/);
  const drift = join(dir, "migrations/0004_add_region.sql");
  writeFileSync(drift, "ALTER TABLE daily_revenue ADD COLUMN region text;\n");
  try {
    const failing = run(process.execPath, ["--import", "tsx", `services/${name}/test/tables.test.ts`]);
    assert.is.not(failing.code, 0, "a column the typed tables do not declare fails the test");
    assert.match(failing.output, /region/);
  } finally {
    rmSync(drift);
  }
  writeFileSync(drift, "ALTER TABLE no_such_table ADD COLUMN region text;\n");
  try {
    const broken = run(process.execPath, ["--import", "tsx", `services/${name}/test/tables.test.ts`]);
    assert.is.not(broken.code, 0);
    assert.match(broken.output, /migration 0004_add_region\.sql failed: relation "no_such_table" does not exist/);
  } finally {
    rmSync(drift);
  }
});

test("the generated services pass the whole-system mocks run and every guardrail rule", () => {
  const { code, output } = run(process.execPath, ["scripts/test.mjs", "shared/infra/test/whole-system.test.ts"]);
  assert.is(code, 0, output);
});

test.run();
