/**
 * Watch mode for a relational service's migrations: a new or changed `*.sql` file in a running store's migrations
 * folder is applied to the stage's PostgreSQL with the runtime's migration runner (`applyMigrations`, the one the
 * deploy's migration function and the stage's start run), as that service's role, through the local Data API with
 * the cluster's master secret. The runner applies only what is not recorded yet and refuses an applied file whose
 * text changed; a failing migration rolls back. A deleted file that was applied changes nothing (a deploy does not
 * undo it either): the watch says so.
 */
import { existsSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { RDSData } from "@aws-sdk/client-rds-data";
import { readMigrations } from "../../infra/relational-store";
import { MIGRATIONS_TABLE } from "../../runtime/relational-tables";
import { applyStoreMigrations, type RelationalClusterSpec, type RelationalStoreSpec } from "../stage/part-relational";
import { REPO_ROOT } from "../stage/names";

/** What watch mode needs of the stage's relational part (`stage.relational`). */
export interface WatchableRelational {
  /** The platform's cluster; `undefined` when no store is declared. */
  readonly cluster: RelationalClusterSpec | undefined;
  /** The services' stores: schema, service and migrations folder (relative to the repository root). */
  readonly stores: readonly RelationalStoreSpec[];
  /** A Data API client the master secret is allowed to. */
  client(): Promise<RDSData>;
}

/** One line for the terminal: `applied` and the other informative lines, or `failed` (the runner's refusal or error). */
export interface MigrationLine {
  kind: "migrations" | "failed";
  line: string;
}

/** The changed `*.sql` files of each store, by the store's index in `stores` (absolute paths). */
export function migrationChanges(files: readonly string[], stores: readonly Pick<RelationalStoreSpec, "migrationsDir">[], repoRoot = REPO_ROOT): Map<number, string[]> {
  const changes = new Map<number, string[]>();
  stores.forEach((store, index) => {
    const folder = resolve(repoRoot, store.migrationsDir);
    const own = files.filter((file) => file.endsWith(".sql") && resolve(dirname(file)) === folder);
    if (own.length) changes.set(index, own);
  });
  return changes;
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim();

/** What a migration without a statement yet (and those after it) waiting for its statements says. */
export function waitingLine(waiting: { name: string; after: number }): string {
  const after = waiting.after ? ` (${waiting.after} after it wait${waiting.after === 1 ? "s" : ""} for it)` : "";
  return `${waiting.name} holds no statement yet: it is applied once it has one${after}`;
}

/**
 * Applies the migrations of the stores whose folder holds changed `*.sql` files; one line per store (or per deleted
 * applied file). Never throws: what goes wrong is a `failed` line, and the stage keeps serving.
 */
export async function applyWatchedMigrations(relational: WatchableRelational, files: readonly string[], client: () => Promise<RDSData>): Promise<MigrationLine[]> {
  const cluster = relational.cluster;
  if (!cluster) return [];
  const lines: MigrationLine[] = [];
  for (const [index, changed] of migrationChanges(files, relational.stores)) {
    const store = relational.stores[index]!;
    const say = (kind: MigrationLine["kind"], text: string) => lines.push({ kind, line: `migrations: ${store.service}: ${oneLine(text)}` });
    const folder = resolve(REPO_ROOT, store.migrationsDir);
    try {
      const db = await client();
      const base = { resourceArn: cluster.clusterArn, secretArn: cluster.masterSecretArn, database: cluster.database };
      const answer = await db.executeStatement({ ...base, sql: `SELECT name FROM "${store.schema}".${MIGRATIONS_TABLE}`, formatRecordsAs: "JSON" });
      const recorded = new Set((JSON.parse(answer.formattedRecords ?? "[]") as { name: string }[]).map((row) => row.name));

      for (const file of changed.filter((f) => !existsSync(f))) {
        const name = basename(file);
        if (recorded.has(name)) {
          say(
            "migrations",
            `${name} was deleted but was applied before: nothing changes (the database keeps what it did, as a deployed stage would); to undo it, add a new migration`,
          );
        }
      }
      if (!changed.some((f) => existsSync(f))) continue;

      const migrations = readMigrations(folder, `relational store of service "${store.service}"`);
      // A file holding no statement yet (what `npm run new-migration` writes) waits, and the files after it with it.
      const report = await applyStoreMigrations(db, cluster, store, migrations);
      if (report.applied.length) say("migrations", `applied ${report.applied.join(", ")}`);
      if (report.waiting) say("migrations", waitingLine(report.waiting));
      else if (!report.applied.length) say("migrations", "nothing new to apply (every migration is applied already)");
    } catch (error) {
      say("failed", error instanceof Error ? error.message : String(error));
    }
  }
  return lines;
}
