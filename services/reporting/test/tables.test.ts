import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultBaseImage, RelationalEngine } from "../../../shared/local/relational/engine";
import { columns } from "../tables";

// The service's migrations against real PostgreSQL (PGlite: PostgreSQL compiled to WebAssembly, in process), each in a
// transaction in the service's schema as the deployment applies them, then compared with tables.ts. The database
// starts from the local stage's copy of an empty one (defaultBaseImage(), made by the first start that lacks it), so
// the test does not pay for PostgreSQL's initdb.
const MIGRATIONS = join(__dirname, "..", "migrations");
const SCHEMA = "reporting";

test("the migrations apply in order and create exactly the tables and columns of tables.ts", async () => {
  const engine = await RelationalEngine.start({ baseImage: defaultBaseImage() });
  const db = engine.db;
  try {
    await db.exec(`CREATE SCHEMA ${SCHEMA}; SET search_path TO ${SCHEMA};`);
    const files = readdirSync(MIGRATIONS).filter((file) => file.endsWith(".sql")).sort();
    assert.ok(files.length > 0, "at least one migration");
    for (const file of files) {
      const sql = readFileSync(join(MIGRATIONS, file), "utf8");
      await db.transaction((tx) => tx.exec(sql)).catch((error: unknown) => {
        throw new Error(`migration ${file} failed: ${(error as Error).message}`);
      });
    }
    const { rows } = await db.query<{ table_name: string; column_name: string }>(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, column_name",
      [SCHEMA],
    );
    const found: Record<string, string[]> = {};
    for (const row of rows) (found[row.table_name] ??= []).push(row.column_name);
    const declared = Object.fromEntries(Object.entries(columns).map(([table, cols]) => [table, Object.keys(cols).sort()]));
    assert.equal(found, declared);
  } finally {
    await engine.close();
  }
});

test.run();
