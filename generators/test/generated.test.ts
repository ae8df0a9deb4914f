import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { runFromArgs } from "../run";
import { copyRepo, unusedServiceName } from "./helpers";

// Every generator, run programmatically into one copy of the repository, then the copy is checked the way CI checks
// the real one: type-check, the generated services' own tests, and the whole-system mocks run with every guardrail.
// Three sets of services share the copy: the README's example service (every generator on a DynamoDB service), a
// relational one (new-service --store postgres, new-migration), a workflow one (new-workflow). The type-check and the
// whole-system run are done once over all of them, and one run of the test runner takes their tests: done per set,
// these three were the most expensive steps of `npm test`.
const root = copyRepo("generators-");

// The README's example service, under a name of its own if the repository already has a `shipping`.
const shipping = unusedServiceName(root, "shipping");
const [sent, returned] = [`${shipping}.parcel-sent`, `${shipping}.parcel-returned`];
// Relational: a postgres service, a service given its store by its first migration, one whose first migration has no table.
const revenue = unusedServiceName(root, "revenue");
const plain = unusedServiceName(root, "archive");
const bare = unusedServiceName(root, "ledgerbook");
const revenueDir = join(root, "services", revenue);
// Workflows, on a service new-service made.
const dispatch = unusedServiceName(root, "dispatch");
const dispatched = `${dispatch}.parcel-dispatched`;

const escaped = (text: string) => text.replace(/[.]/g, "\\.");
const written: Record<string, string[]> = {};

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

// A colon and a hash, which a bare YAML scalar would misread.
const purpose = "Ships invoiced orders: one parcel per order #1";

test.before(async () => {
  // The example service: every generator.
  await generate("service", [
    "--name", shipping, "--purpose", purpose, "--team", "logistics",
    "--consumes", "billing.invoice-issued", "--publishes", sent, "--entity", "parcel", "--yes",
  ]);
  await generate("event", [
    "--type", returned, "--owner", shipping, "--description", "A customer sent a parcel back.",
    "--fields", "parcelId:string,reason:string,items:integer",
  ]);
  await generate("entity", ["--service", shipping, "--entity", "return"]);
  await generate("consumer", ["--service", shipping, "--event", "orders.order-status-changed", "--entity", "return"]);
  // A consumer of a stream event (ordering "stream"): Lambda delivers it Kinesis records.
  written["stream-consumer"] = await generate("consumer", ["--service", shipping, "--event", "ledger.entry-posted", "--entity", "parcel"]);
  await generate("route", ["--service", shipping, "--path", "/returns", "--entity", "return", "--publishes", returned]);

  // Relational.
  await generate("service", [
    "--name", revenue, "--purpose", "Revenue per customer per day", "--team", "finance",
    "--consumes", "billing.invoice-issued", "--http", "--entity", "daily-revenue", "--store", "postgres", "--yes",
  ]);
  await generate("migration", ["--service", revenue, "--name", "add-region-totals", "--table", "region-total"]);
  // A consumer of a stream event and a GET route on the second table, in the relational service.
  await generate("consumer", ["--service", revenue, "--event", "ledger.entry-posted", "--entity", "region-total"]);
  await generate("route", ["--service", revenue, "--path", "/region-totals", "--entity", "region-total"]);
  await generate("migration", ["--service", revenue, "--name", "backfill-regions"]);
  // A service made without a store gets one with its first migration.
  await generate("service", ["--name", plain, "--purpose", "Keeps old invoices", "--team", "finance", "--consumes", "billing.invoice-issued", "--entity", "old-invoice", "--yes"]);
  await generate("migration", ["--service", plain, "--name", "create-archive", "--table", "archived-invoice"]);
  // A first migration without a table: a store with no table yet (its SQL is the author's to write).
  await generate("service", ["--name", bare, "--purpose", "Books", "--team", "finance", "--consumes", "billing.invoice-issued", "--entity", "book", "--yes"]);
  await generate("migration", ["--service", bare, "--name", "start"]);

  // Workflows.
  await generate("service", [
    "--name", dispatch, "--purpose", "Dispatches invoiced orders", "--team", "logistics",
    "--consumes", "billing.invoice-issued", "--publishes", dispatched, "--entity", "parcel", "--yes",
  ]);
  await generate("workflow", ["--service", dispatch, "--name", "dispatch-parcel", "--publishes", dispatched, "--starter", "on-invoice-issued"]);
  await generate("workflow", ["--service", dispatch, "--name", "recount"]);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

// The example service ------------------------------------------------------------------------------------------------

test("new-service writes the service and adds the events it publishes to the catalog", () => {
  const dir = join(root, "services", shipping);
  for (const file of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "index.ts", "README.md", "generator.json", "entities/parcel.ts", "handlers/on-invoice-issued.ts", "test/on-invoice-issued.test.ts"]) {
    assert.ok(existsSync(join(dir, file)), file);
  }
  assert.match(readFileSync(join(dir, "Pulumi.prod.yaml"), "utf8"), new RegExp(`${shipping}:platformStack: organization/platform/prod`));
  assert.is((parseYaml(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as { description: string }).description, purpose);
  const catalog = readFileSync(join(root, "shared/contract/catalog.ts"), "utf8");
  assert.match(catalog, new RegExp(`"${escaped(sent)}": defineEvent\\(\\{\\n\\s+version: 1,\\n\\s+owner: "${shipping}",`));
  assert.match(catalog, new RegExp(`"${escaped(returned)}": defineEvent\\([\\s\\S]*reason: z\\.string\\(\\)[\\s\\S]*items: z\\.int\\(\\)`));
});

test("edits land in place and every run is recorded with the generator version", () => {
  const index = readFileSync(join(root, "services", shipping, "index.ts"), "utf8");
  // Both consumers declare the version they read: the event's current version when they were generated.
  assert.match(index, /"on-order-status-changed": \{ event: "orders\.order-status-changed", versions: \[1\],/);
  assert.match(index, /"on-invoice-issued": \{ event: "billing\.invoice-issued", versions: \[1\],/);
  assert.match(index, /http: \{\n\s+routes: \{\n\s+"POST \/returns": \{ handler: "\.\/handlers\/create-returns\.ts"/);
  assert.match(index, /\/\/ new routes are added above this line/);
  assert.not.match(index, /no HTTP API yet/);
  const manifest = JSON.parse(readFileSync(join(root, "services", shipping, "generator.json"), "utf8"));
  assert.equal(manifest.runs.map((r: { generator: string }) => r.generator), ["service", "entity", "consumer", "consumer", "route"]);
  assert.ok(manifest.runs.every((r: { version: string }) => /^\d+\.\d+\.\d+$/.test(r.version)));
  assert.is(manifest.runs[0].answers.entity, "parcel");
});

test("a consumer of a stream event gets a test fed Kinesis records, asserting the sequence number a failed write reports", () => {
  assert.ok(written["stream-consumer"]!.includes(`services/${shipping}/test/on-entry-posted.test.ts`));
  const stream = readFileSync(join(root, "services", shipping, "test/on-entry-posted.test.ts"), "utf8");
  assert.match(stream, /bed\.consumerEvent\("ledger\.entry-posted", data\)/);
  assert.match(stream, /bed\.kinesisEvent\("ledger\.entry-posted", \{ unexpected: true \} as never, \{ partitionKey: "poison" \}\)/);
  assert.match(stream, /batchItemFailures: \[\{ itemIdentifier: second!\.kinesis\.sequenceNumber \}\]/);
  assert.not.match(stream, /sqsEvent/);
  // a consumer of a queue's event keeps SQS records
  const queue = readFileSync(join(root, "services", shipping, "test/on-order-status-changed.test.ts"), "utf8");
  assert.match(queue, /bed\.sqsEvent\("orders\.order-status-changed", \{ unexpected: true \} as never\)/);
  assert.not.match(queue, /kinesisEvent|failWrites/);
});

// Relational ---------------------------------------------------------------------------------------------------------

test("new-service --store postgres declares the store and writes the first migration, the typed tables and their test", () => {
  const dir = revenueDir;
  for (const file of ["migrations/0001_create_daily_revenue.sql", "tables.ts", "test/tables.test.ts", "migrations/0002_add_region_totals.sql", "migrations/0003_backfill_regions.sql"]) {
    assert.ok(existsSync(join(dir, file)), file);
  }
  const index = readFileSync(join(dir, "index.ts"), "utf8");
  assert.match(index, /publishes: \[\],\n {4}relational: \{ migrations: "migrations" \},\n/);
  assert.match(readFileSync(join(dir, "migrations/0001_create_daily_revenue.sql"), "utf8"), /^CREATE TABLE daily_revenue \(/m);
  const tables = readFileSync(join(dir, "tables.ts"), "utf8");
  assert.match(tables, /export interface DailyRevenueTable \{/);
  assert.match(tables, /export interface Database \{\n {2}daily_revenue: DailyRevenueTable;\n {2}region_total: RegionTotalTable;\n/);
  assert.match(readFileSync(join(dir, "test/tables.test.ts"), "utf8"), new RegExp(`const SCHEMA = "${revenue}";`));
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
  const dir = revenueDir;
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
  const tablesPath = join(revenueDir, "tables.ts");
  const tables = readFileSync(tablesPath, "utf8");
  try {
    writeFileSync(tablesPath, tables.replace("region_total: { id: true, details: true, created_at: true }", "region_total: { id: true, created_at: true }"));
    await refused("consumer", ["--service", revenue, "--event", "orders.order-placed", "--entity", "region-total"], /table region_total of .*tables\.ts has no details column/);
  } finally {
    writeFileSync(tablesPath, tables);
  }
});

test("refused: an unknown store, an unknown service, a name that is not kebab-case, a table that exists", async () => {
  await refused("service", ["--name", unusedServiceName(root, "other"), "--consumes", "billing.invoice-issued", "--store", "mysql", "--yes"], /--store "mysql" is not a store; choose dynamodb or postgres/);
  await refused("migration", ["--service", "nowhere", "--name", "x"], /nowhere/);
  await refused("migration", ["--service", revenue, "--name", "Add Region"], /not kebab-case/);
  await refused("migration", ["--service", revenue, "--name", "again", "--table", "region-total"], /already has a table region_total/);
});

// Workflows ----------------------------------------------------------------------------------------------------------

test("new-workflow writes the workflow, its step and its test, and declares it (and its starter) in the program", () => {
  const dir = join(root, "services", dispatch);
  for (const file of ["workflows/dispatch-parcel.ts", "handlers/dispatch-parcel-step.ts", "test/dispatch-parcel.workflow.test.ts", "workflows/recount.ts"]) {
    assert.ok(existsSync(join(dir, file)), file);
  }
  const index = readFileSync(join(dir, "index.ts"), "utf8");
  assert.match(index, /import \{ dispatchParcel \} from "\.\/workflows\/dispatch-parcel";\nimport \{ recount \} from "\.\/workflows\/recount";/);
  assert.match(index, /workflows: \{\n\s+"dispatch-parcel": dispatchParcel,\n\s+"recount": recount,\n\s+\/\/ new workflows are added above this line\n\s+\},/);
  assert.match(index, /"on-invoice-issued": \{ event: "billing\.invoice-issued".*, starts: \["dispatch-parcel"\] \},/);
  const workflow = readFileSync(join(dir, "workflows/dispatch-parcel.ts"), "utf8");
  assert.match(workflow, new RegExp(`publish\\("${dispatched.replace(/\./g, "\\.")}"`));
  const manifest = JSON.parse(readFileSync(join(dir, "generator.json"), "utf8"));
  assert.equal(manifest.runs.map((r: { generator: string }) => r.generator).slice(-2), ["workflow", "workflow"]);
});

test("--starter writes the startWorkflow call into the generated consumer, and its test checks the start", () => {
  const dir = join(root, "services", dispatch);
  const handler = readFileSync(join(dir, "handlers/on-invoice-issued.ts"), "utf8");
  assert.match(handler, /^import \{ [^}]*\bstartWorkflow\b[^}]* \} from "\.\.\/\.\.\/\.\.\/shared\/runtime";$/m);
  assert.match(handler, /\n {4}await startWorkflow\("dispatch-parcel", \{ \.\.\.event\.data \}\);\n {2}\},\n\}\);\n$/);
  const test = readFileSync(join(dir, "test/on-invoice-issued.test.ts"), "utf8");
  assert.match(test, /workflows: \{ "dispatch-parcel": \{ definition: dispatchParcel, functions: \{ "dispatch-parcel-step": dispatchParcelStep \} \} \}/);
  assert.match(test, /import \{ handler as dispatchParcelStep \} from "\.\.\/handlers\/dispatch-parcel-step";\nimport \{ dispatchParcel \} from "\.\.\/workflows\/dispatch-parcel";/);
  assert.match(test, /test\("starts workflow dispatch-parcel for billing\.invoice-issued, once, named after the event"/);
});

test("new-workflow refuses a taken name, an event the service does not own, an unknown starter", async () => {
  await refused("workflow", ["--service", dispatch, "--name", "recount"], /already exists/);
  await refused("workflow", ["--service", dispatch, "--name", "ship", "--publishes", "orders.order-placed"], /owned by "orders"/);
  await refused("workflow", ["--service", dispatch, "--name", "ship", "--starter", "on-nothing"], /no consumer "on-nothing" \(--starter\)/);
  await refused("workflow", ["--service", dispatch, "--name", "Ship"], /not kebab-case/);
});

test("a starter whose handler is not the generated shape is left alone, and a note says exactly what to add", async () => {
  const file = join(root, "services", dispatch, "handlers/on-invoice-issued.ts");
  // The runtime's names one per line, as a formatter may leave them: no longer the generated shape.
  const handWritten = readFileSync(file, "utf8").replace(
    /^import \{ (.*) \} from "(\.\.\/\.\.\/\.\.\/shared\/runtime)";$/m,
    (_, names: string, from: string) => `import {\n  ${names.split(", ").join(",\n  ")},\n} from "${from}";`,
  );
  writeFileSync(file, handWritten);
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    await generate("workflow", ["--service", dispatch, "--name", "audit", "--starter", "on-invoice-issued"]);
  } finally {
    console.log = log;
  }
  assert.is(readFileSync(file, "utf8"), handWritten);
  assert.equal(printed, [
    `note: services/${dispatch}/handlers/on-invoice-issued.ts is not the handler the consumer generator writes, so it was left alone: add to its action await startWorkflow("audit", { ...event.data }); // import { startWorkflow } from "../../../shared/runtime"`,
  ]);
  assert.match(readFileSync(join(root, "services", dispatch, "index.ts"), "utf8"), /"on-invoice-issued": \{ event: "billing\.invoice-issued".*, starts: \["dispatch-parcel", "audit"\] \},/);
});

// The copy, checked as CI checks the repository: once, over every generated service --------------------------------

test("the repository with the generated code type-checks under the strict tsconfig", () => {
  const { code, output } = run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--pretty", "false"]);
  assert.is(code, 0, output);
});

test("the generated services' own tests pass: the example's, the relational one's (its migrations applied to PostgreSQL among them), the workflow's", () => {
  const { code, output } = run(process.execPath, ["scripts/test.mjs", ...[shipping, revenue, dispatch].map((name) => `services/${name}`)]);
  assert.is(code, 0, output);
  assert.match(output, /\b[1-9]\d* passed, 0 failed/);
  assert.match(output, new RegExp(`✔ services/${shipping}/test/on-invoice-issued\\.test\\.ts`));
  assert.match(output, new RegExp(`✔ services/${shipping}/test/on-entry-posted\\.test\\.ts`));
  assert.match(output, new RegExp(`✔ services/${revenue}/test/tables\\.test\\.ts`));
  for (const file of ["on-invoice-issued", "on-entry-posted", "get-daily-revenues", "get-region-totals"]) assert.match(output, new RegExp(`✔ services/${revenue}/test/${file}\\.test\\.ts`));
  assert.match(output, new RegExp(`✔ services/${dispatch}/test/dispatch-parcel\\.workflow\\.test\\.ts`));
  assert.match(output, new RegExp(`✔ services/${dispatch}/test/on-invoice-issued\\.test\\.ts`));
});

test("a migration that drifts from tables.ts fails the relational service's tables test, as does one that fails", () => {
  const drift = join(revenueDir, "migrations/0004_add_region.sql");
  writeFileSync(drift, "ALTER TABLE daily_revenue ADD COLUMN region text;\n");
  try {
    const failing = run(process.execPath, ["--import", "tsx", `services/${revenue}/test/tables.test.ts`]);
    assert.is.not(failing.code, 0, "a column the typed tables do not declare fails the test");
    assert.match(failing.output, /region/);
  } finally {
    rmSync(drift);
  }
  writeFileSync(drift, "ALTER TABLE no_such_table ADD COLUMN region text;\n");
  try {
    const broken = run(process.execPath, ["--import", "tsx", `services/${revenue}/test/tables.test.ts`]);
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
