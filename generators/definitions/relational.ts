import { readdirSync } from "node:fs";
import { join } from "node:path";
import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition, PlanContext } from "../lib/generator";
import { MANIFEST_FILE } from "../lib/manifest";
import { existingService } from "../lib/model";
import { checkName, pascal } from "../lib/names";
import type { FileChange } from "../lib/plan";
import { insertBeforeMarker, type Repo } from "../lib/repo";
import { readManifest, withRun } from "./consumer";

/** Stores a new service can keep its own data in: the platform's DynamoDB table, or the relational store. */
export const STORES = ["dynamodb", "postgres"] as const;
export type Store = (typeof STORES)[number];

export const MIGRATIONS_DIR = "migrations";
export const TABLES_FILE = "tables.ts";
export const TABLES_TEST = "test/tables.test.ts";
const MIGRATION_NAME = { what: "migration name", flag: "--name", maxLength: 48, allowReserved: true } as const;
const TABLE_NAME = { what: "table name", flag: "--table", maxLength: 48 } as const;
const MIGRATION_FILE = /^(\d{4,})_[a-z0-9_]+\.sql$/;
const INTERFACES_MARKER = "// new table interfaces are added above this line";
const TABLES_MARKER = "  // new tables are added above this line";
const COLUMNS_MARKER = "  // new table columns are added above this line";
const RELATIONAL_LINE = `    relational: { migrations: "${MIGRATIONS_DIR}" },\n`;

export function checkStore(value: unknown): Store {
  const store = String(value ?? "dynamodb").trim();
  if (!(STORES as readonly string[]).includes(store)) throw new GeneratorError(`--store "${store}" is not a store; choose ${STORES.join(" or ")}`);
  return store as Store;
}

/** The schema (and database role) of a service: its name with `-` as `_` (shared/infra/relational-access.ts). */
export const schemaOf = (service: string): string => service.replaceAll("-", "_");
/** A table's SQL name: kebab-case as snake_case. */
export const tableOf = (kebab: string): string => kebab.replaceAll("-", "_");

/** Columns the generated relational handlers read and write: every table the generators create has them. */
const HANDLER_COLUMNS = ["id", "details", "created_at"] as const;

/**
 * The table of a service's `tables.ts` that `entity` names (`daily-revenue` -> `daily_revenue`), when there is one:
 * new-consumer and new-route then write relational handlers for it. A table without the columns those handlers use
 * (one written by hand) is refused, naming them.
 */
export function relationalTable(repo: Repo, dir: string, entity: string): string | undefined {
  const path = `${dir}/${TABLES_FILE}`;
  if (!repo.exists(path)) return undefined;
  const tables = repo.read(path);
  const table = tableOf(entity);
  if (!new RegExp(`^  ${table}: [A-Za-z0-9_]+;$`, "m").test(tables)) return undefined;
  const declared = new RegExp(`^  ${table}: \\{([^}]*)\\}`, "m").exec(tables)?.[1] ?? "";
  const missing = HANDLER_COLUMNS.filter((column) => !new RegExp(`\\b${column}: true\\b`).test(declared));
  if (missing.length) {
    throw new GeneratorError(
      `table ${table} of ${path} has no ${missing.join(", ")} column: the generated handlers write and read ${HANDLER_COLUMNS.join(", ")}; write this handler by hand`,
    );
  }
  return table;
}

interface TableModel {
  table: string;
  pascal: string;
  comment: string;
}
const tableModel = (kebab: string, comment: string): TableModel => ({ table: tableOf(kebab), pascal: pascal(kebab), comment });

/** `migration: ...` -> `NNNN_words.sql` after the highest number in the folder. */
function nextMigrationFile(existing: readonly string[], name: string): string {
  const numbers = existing.map((file) => MIGRATION_FILE.exec(file)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  const next = (numbers.length ? Math.max(...numbers) : 0) + 1;
  return `${String(next).padStart(4, "0")}_${name.replaceAll("-", "_")}.sql`;
}

/** Declares the relational store in a service's program: after its `publishes` line. */
function declareRelational(index: string, file: string): string {
  if (/^\s+relational: /m.test(index)) return index;
  const publishes = /^ {4}publishes: \[.*\],\n/m.exec(index);
  const name = /^ {4}name: ".*",\n/m.exec(index);
  const anchor = publishes ?? name;
  if (!anchor) throw new GeneratorError(`${file} has no "publishes: [...]," or "name: ..." line to put relational after; add ${RELATIONAL_LINE.trim()} by hand`);
  const at = anchor.index + anchor[0].length;
  return index.slice(0, at) + RELATIONAL_LINE + index.slice(at);
}

/** Adds a table to tables.ts: its interface, its entry in `Database` and its columns. */
function addTable(tables: string, model: TableModel, file: string): string {
  if (new RegExp(`^  ${model.table}: `, "m").test(tables)) throw new GeneratorError(`${file} already has a table ${model.table}`);
  let out = insertBeforeMarker(
    tables,
    INTERFACES_MARKER,
    `/** ${model.table}: ${model.comment} */\nexport interface ${model.pascal}Table {\n  id: string;\n  /** What it was made from (the event's data): a jsonb, written with asSql.jsonb(...), read back parsed. */\n  details: unknown;\n  /** Set by the database (DEFAULT now()); a timestamptz, read as a Date. */\n  created_at: Generated<Date>;\n}\n\n`,
    file,
  );
  out = insertBeforeMarker(out, TABLES_MARKER, `  ${model.table}: ${model.pascal}Table;\n`, file);
  out = insertBeforeMarker(out, COLUMNS_MARKER, `  ${model.table}: { id: true, details: true, created_at: true },\n`, file);
  return out;
}

/**
 * The files of a service's relational store: the first migration (creating `tables`), the typed table module and its
 * test. `new-service --store postgres` and the first `new-migration` of a service write them.
 */
export function relationalFiles(ctx: PlanContext, args: { service: string; dir: string; migration: string; title: string; tables: TableModel[] }): FileChange[] {
  const schema = schemaOf(args.service);
  return [
    {
      kind: "create",
      path: `${args.dir}/${MIGRATIONS_DIR}/${args.migration}`,
      content: ctx.render("relational/migration.sql.hbs", { service: args.service, schema, title: args.title, table: args.tables[0]?.table }),
    },
    { kind: "create", path: `${args.dir}/${TABLES_FILE}`, content: ctx.render("relational/tables.ts.hbs", { service: args.service, schema, tables: args.tables }) },
    { kind: "create", path: `${args.dir}/${TABLES_TEST}`, content: ctx.render("relational/tables.test.ts.hbs", { schema }) },
  ];
}

/** What `new-service --store postgres` adds: the store's files, for a first table named after the entity. */
export function newServiceRelationalFiles(ctx: PlanContext, service: string, dir: string, entity: string): FileChange[] {
  const model = tableModel(entity, `one row per ${entity}`);
  return relationalFiles(ctx, { service, dir, migration: `0001_create_${model.table}.sql`, title: `create ${model.table}`, tables: [model] });
}

export { declareRelational };

export const migration: GeneratorDefinition = {
  name: "migration",
  description: "the next SQL migration of a service's relational store (and the store itself, the first time)",
  prompts: (repo) => [
    { name: "service", flag: "service", kind: "text", message: "Service", choices: () => repo.services() },
    { name: "name", flag: "name", kind: "text", message: "What the migration does (kebab-case, e.g. add-region)" },
    { name: "table", flag: "table", kind: "text", message: "A table it creates (kebab-case; empty to write the SQL yourself)", default: "" },
  ],
  plan(answers, ctx) {
    const { repo } = ctx;
    const { service, dir } = existingService(repo, answers.service);
    const name = checkName(String(answers.name ?? ""), MIGRATION_NAME);
    const tableName = String(answers.table ?? "").trim();
    const model = tableName ? tableModel(checkName(tableName, TABLE_NAME), `created by migration ${name}`) : undefined;
    const existing = repo.exists(`${dir}/${MIGRATIONS_DIR}`) ? readdirSync(join(repo.root, dir, MIGRATIONS_DIR)) : [];
    const file = nextMigrationFile(existing, name);
    const title = name.replaceAll("-", " ");
    const indexPath = `${dir}/index.ts`;
    const index = repo.read(indexPath);
    const { manifest, text } = readManifest(ctx, dir);
    const changes: FileChange[] = [];
    if (!repo.exists(`${dir}/${TABLES_FILE}`)) {
      // The service's first migration: the store, its table module and its test come with it.
      changes.push(...relationalFiles(ctx, { service, dir, migration: file, title, tables: model ? [model] : [] }));
    } else {
      const schema = schemaOf(service);
      changes.push({
        kind: "create",
        path: `${dir}/${MIGRATIONS_DIR}/${file}`,
        content: ctx.render("relational/migration.sql.hbs", { service, schema, title, table: model?.table }),
      });
      if (model) {
        const tablesPath = `${dir}/${TABLES_FILE}`;
        const tables = repo.read(tablesPath);
        changes.push({ kind: "update", path: tablesPath, expected: tables, content: addTable(tables, model, tablesPath) });
      }
    }
    const declared = declareRelational(index, indexPath);
    if (declared !== index) changes.push({ kind: "update", path: indexPath, expected: index, content: declared });
    changes.push({
      kind: "update",
      path: `${dir}/${MANIFEST_FILE}`,
      expected: text,
      content: withRun(manifest, "migration", { service, name, ...(model ? { table: tableName } : {}) }),
    });
    return changes;
  },
};
