import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { columns } from "../tables";

// The service's migrations against real PostgreSQL (PGlite: PostgreSQL compiled to WebAssembly, in process), each in a
// transaction in the service's schema as the deployment applies them, then compared with tables.ts.
const MIGRATIONS = join(__dirname, "..", "migrations");
const SCHEMA = "reporting";

test("the migrations apply in order and create exactly the tables and columns of tables.ts", async () => {
  const db = new PGlite();
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
    await db.close();
  }
});

test.run();
