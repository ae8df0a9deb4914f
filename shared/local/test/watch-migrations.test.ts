// Watch mode applies a relational service's new migrations while the stage runs: a temporary relational service
// (fixtures/watched-relational-service.ts) gets new, broken, edited and deleted migration files, and the stage's
// PostgreSQL (PGlite, through the local Data API) follows with the runtime's migration runner. The service's own
// route, which reads its tables as its role, shows what the database holds.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RDSData } from "@aws-sdk/client-rds-data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startLocalStage, type LocalStage } from "../stage";
import { REPO_ROOT } from "../stage/programs";
import { watchStage, type StageWatch, type WatchEvent } from "../watch";
import { FIRST_MIGRATION, SHELF, writeWatchedRelationalService } from "./fixtures/watched-relational-service";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const dir = mkdtempSync(join(tmpdir(), "watched-relational-"));
const migration = (name: string) => join(dir, "migrations", name);
let stage: LocalStage;
let watch: StageWatch;
let client: RDSData;
const events: WatchEvent[] = [];
const waiters: Array<(event: WatchEvent) => void> = [];

/** The next migration line (`migrations` or `failed`) seen from now on. */
function nextLine(timeoutMs = 60_000): Promise<WatchEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no migrations line within ${timeoutMs} ms; seen: ${events.map((e) => e.line).join(" | ")}`)), timeoutMs);
    const waiter = (event: WatchEvent) => {
      if (!event.line.startsWith("migrations: ")) return;
      clearTimeout(timer);
      waiters.splice(waiters.indexOf(waiter), 1);
      resolve(event);
    };
    waiters.push(waiter);
  });
}

/** Writes (or deletes) a migration file and answers the line the watch printed for it. */
async function change(name: string, sql: string | undefined): Promise<WatchEvent> {
  const line = nextLine();
  if (sql === undefined) unlinkSync(migration(name));
  else writeFileSync(migration(name), sql);
  return line;
}

/** The row count of one of the service's tables through its route (as its role, through the Data API). */
async function count(table: "books" | "notes"): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${stage.url}/shelf/count?table=${table}`);
  return { status: response.status, body: (await response.json()) as unknown };
}

/** A query as the cluster's master user, through the Data API. */
async function query<T>(sql: string): Promise<T[]> {
  const cluster = stage.relational.cluster!;
  const answer = await client.executeStatement({ resourceArn: cluster.clusterArn, secretArn: cluster.masterSecretArn, database: cluster.database, sql, formatRecordsAs: "JSON" });
  return JSON.parse(answer.formattedRecords ?? "[]") as T[];
}

const recorded = async () => (await query<{ name: string }>(`SELECT name FROM ${SHELF}.schema_migrations ORDER BY name`)).map((r) => r.name);
const tableExists = async (table: string) => (await query<{ found: string | null }>(`SELECT to_regclass('${SHELF}.${table}')::text AS found`))[0]?.found !== null;

test.before(async () => {
  writeWatchedRelationalService(dir);
  stage = await startLocalStage({ port: 0, serviceDirs: [dir] });
  client = await stage.relational.client();
  watch = await watchStage(stage, {
    repoRoot: REPO_ROOT,
    onEvent: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) waiter(event);
    },
  });
});

test.after(async () => {
  await watch?.close();
  await stage?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a new migration file is applied as the stage runs: its table answers through the service's route", async () => {
  assert.equal(await recorded(), [FIRST_MIGRATION]);
  assert.is((await count("notes")).status, 500, "notes does not exist before its migration");
  const event = await change("0002_create_notes.sql", "CREATE TABLE notes (id text PRIMARY KEY);\nINSERT INTO notes VALUES ('n-1');\n");
  assert.is(event.kind, "migrations");
  assert.is(event.line, "migrations: shelf: applied 0002_create_notes.sql");
  assert.equal(await count("notes"), { status: 200, body: { table: "notes", rows: 1 } }, "the service's role owns and reads the new table");
  assert.equal(await recorded(), [FIRST_MIGRATION, "0002_create_notes.sql"]);
});

test("saving an applied file unchanged applies nothing again", async () => {
  const event = await change("0002_create_notes.sql", "CREATE TABLE notes (id text PRIMARY KEY);\nINSERT INTO notes VALUES ('n-1');\n");
  assert.is(event.line, "migrations: shelf: nothing new to apply (every migration is applied already)");
  assert.equal(await count("notes"), { status: 200, body: { table: "notes", rows: 1 } }, "its insert did not run twice");
});

test("a new file with only comments waits for its statements (it is not recorded empty)", async () => {
  let event = await change("0003_add_title.sql", "-- shelf: add title\n-- Never edit a migration once it is deployed.\n");
  assert.is(event.kind, "migrations");
  assert.is(event.line, "migrations: shelf: 0003_add_title.sql holds no statement yet: it is applied once it has one");
  assert.equal(await recorded(), [FIRST_MIGRATION, "0002_create_notes.sql"]);
  event = await change("0003_add_title.sql", "-- shelf: add title\nALTER TABLE books ADD COLUMN title text;\n");
  assert.is(event.line, "migrations: shelf: applied 0003_add_title.sql");
  assert.equal(await query(`SELECT column_name FROM information_schema.columns WHERE table_schema = '${SHELF}' AND table_name = 'books' ORDER BY column_name`), [
    { column_name: "id" },
    { column_name: "title" },
  ]);
});

test("a failing migration rolls back, names the file and PostgreSQL's message; the stage keeps serving; fixed, it applies", async () => {
  const event = await change("0004_add_tags.sql", "CREATE TABLE tags (id text PRIMARY KEY);\nALTER TABLE missing_table ADD COLUMN note text;\n");
  assert.is(event.kind, "failed");
  assert.match(event.line, /^migrations: shelf: migration 0004_add_tags\.sql failed at "ALTER TABLE missing_table ADD COLUMN note text": .*relation "missing_table" does not exist/);
  assert.not.match(event.line, /\n/);
  assert.not.ok(await tableExists("tags"), "the migration's first statement was rolled back");
  assert.equal(await recorded(), [FIRST_MIGRATION, "0002_create_notes.sql", "0003_add_title.sql"]);
  assert.equal(await count("books"), { status: 200, body: { table: "books", rows: 0 } }, "the stage keeps serving");
  const fixed = await change("0004_add_tags.sql", "CREATE TABLE tags (id text PRIMARY KEY);\n");
  assert.is(fixed.line, "migrations: shelf: applied 0004_add_tags.sql");
  assert.ok(await tableExists("tags"));
});

test("an applied file that was edited is refused, naming it; nothing changes and the stage keeps serving", async () => {
  const event = await change("0002_create_notes.sql", "CREATE TABLE notes (id text PRIMARY KEY, body text);\n");
  assert.is(event.kind, "failed");
  assert.match(event.line, /^migrations: shelf: migration 0002_create_notes\.sql was changed after it was applied \(checksum [0-9a-f]{12}… recorded, [0-9a-f]{12}… now\): add a new migration instead$/);
  assert.equal(await query(`SELECT column_name FROM information_schema.columns WHERE table_schema = '${SHELF}' AND table_name = 'notes'`), [{ column_name: "id" }]);
  assert.equal(await count("notes"), { status: 200, body: { table: "notes", rows: 1 } });
});

test("a misnamed file is refused as the deploy refuses it, naming it; nothing is applied", async () => {
  const event = await change("add_shelf_ids.sql", "CREATE TABLE shelves (id text PRIMARY KEY);\n");
  assert.is(event.kind, "failed");
  assert.match(event.line, /^migrations: shelf: relational store of service "shelf": add_shelf_ids\.sql in .* is not a migration name: NNNN_lowercase_words\.sql/);
  assert.not.ok(await tableExists("shelves"));
  // Deleted again (never applied: the watch has nothing to say about it).
  unlinkSync(migration("add_shelf_ids.sql"));
});

test("deleting an applied file says so and changes nothing", async () => {
  const event = await change("0002_create_notes.sql", undefined);
  assert.is(event.kind, "migrations");
  assert.is(
    event.line,
    "migrations: shelf: 0002_create_notes.sql was deleted but was applied before: nothing changes (the database keeps what it did, as a deployed stage would); to undo it, add a new migration",
  );
  assert.equal(await recorded(), [FIRST_MIGRATION, "0002_create_notes.sql", "0003_add_title.sql", "0004_add_tags.sql"]);
  assert.equal(await count("notes"), { status: 200, body: { table: "notes", rows: 1 } });
  // The next new file still applies (the deleted one is not asked for).
  const next = await change("0005_add_year.sql", "ALTER TABLE books ADD COLUMN year integer;\n");
  assert.is(next.line, "migrations: shelf: applied 0005_add_year.sql");
});

test.run();
