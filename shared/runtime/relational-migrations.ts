import { createHash } from "node:crypto";
import type { RDSData, SqlParameter } from "@aws-sdk/client-rds-data";
import { MIGRATIONS_TABLE, PROCESSED_EVENTS_TABLE } from "./relational-tables";
import { splitStatements, statementTitle } from "./relational-sql-text";

/** One migration: its file name (`0001_create_revenue.sql`) and text. */
export interface MigrationFile {
  name: string;
  sql: string;
}

/** What {@link applyMigrations} needs: the Data API with the cluster's master secret, and the service's role. */
export interface ApplyMigrationsOptions {
  client: RDSData;
  clusterArn: string;
  /** The master secret (creates the role and the schema). */
  masterSecretArn: string;
  database: string;
  /** The service's schema. */
  schema: string;
  /** The service's database role: its name and the password its secret holds. */
  role: { username: string; password: string };
  /** In the order to apply (file-name order). */
  migrations: readonly MigrationFile[];
  /**
   * What to do with a migration not applied yet that holds no statement (only comments: what
   * `npm run new-migration` writes before its author fills it in). Applied, it would be recorded empty and the
   * statements written into it next refused as a change to an applied migration. It is never applied: it and every
   * migration after it wait, in order, and the report names it (`waiting`). When migrations with statements would
   * wait behind it:
   * - `"refuse"`: a {@link MigrationError} naming it instead (the deploy: a stage must not run code whose tables
   *   silently wait; a trailing empty migration only waits);
   * - `"wait"`: they wait too (the local stage, which applies them once it has a statement).
   * @default "refuse"
   */
  empty?: "refuse" | "wait";
}

/** What was applied and what was already there. */
export interface MigrationReport {
  schema: string;
  applied: string[];
  alreadyApplied: string[];
  /** The migration without a statement that the rest wait for (`empty: "wait"`), and how many wait after it. */
  waiting?: { name: string; after: number };
}

/** A migration failed (or was changed after it was applied); the message names the file. */
export class MigrationError extends Error {
  override name = "MigrationError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** sha256 of a migration's text: a recorded migration whose file changed is refused. */
export function migrationChecksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

/**
 * The migration step of a service's relational store, over the RDS Data API (the deploy's migration function and
 * the local stage run this same code):
 * 1. creates the service's role (or gives it its secret's password again) and its schema, owned by the role, with
 *    the platform's tables `schema_migrations` and `processed_events` in it;
 * 2. applies each migration not recorded yet, in order, each in its own transaction as the service's role (so the
 *    role owns what it creates), recording its name and checksum in the same transaction.
 * A failed statement rolls its migration back and throws a {@link MigrationError} naming the file (and the
 * statement); later migrations are not tried. A recorded migration whose text changed is refused the same way. A
 * migration without a statement yet waits (see {@link ApplyMigrationsOptions.empty}).
 */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<MigrationReport> {
  const { client, schema, role } = options;
  if (!IDENTIFIER.test(schema)) throw new MigrationError("(setup)", `schema name ${JSON.stringify(schema)} is not a lowercase SQL identifier`);
  if (!IDENTIFIER.test(role.username)) throw new MigrationError("(setup)", `the role secret's username ${JSON.stringify(role.username)} is not a lowercase SQL identifier`);
  // The password goes into CREATE ROLE, which takes no parameters: only letters and digits are accepted.
  if (!/^[A-Za-z0-9]{16,128}$/.test(role.password)) throw new MigrationError("(setup)", "the role secret's password must be 16 to 128 letters and digits");
  const base = { resourceArn: options.clusterArn, secretArn: options.masterSecretArn, database: options.database };
  const run = (sql: string, transactionId?: string, parameters?: SqlParameter[]) =>
    client.executeStatement({ ...base, sql, ...(transactionId ? { transactionId } : {}), ...(parameters ? { parameters } : {}), formatRecordsAs: "JSON" });
  const q = (name: string) => `"${name}"`;

  // 1. Role, schema and the platform's tables (idempotent), in one transaction.
  await inTransaction(client, base, "(setup)", async (tx) => {
    await run(
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role.username}') THEN
           CREATE ROLE ${q(role.username)} LOGIN PASSWORD '${role.password}';
         ELSE
           ALTER ROLE ${q(role.username)} LOGIN PASSWORD '${role.password}';
         END IF;
       END $$`,
      tx,
    );
    // The master user must be a member to act as the role (Aurora's master is not a superuser).
    await run(`GRANT ${q(role.username)} TO CURRENT_USER`, tx);
    await run(`CREATE SCHEMA IF NOT EXISTS ${q(schema)} AUTHORIZATION ${q(role.username)}`, tx);
    await run(`REVOKE ALL ON SCHEMA ${q(schema)} FROM PUBLIC`, tx);
    await run(`ALTER ROLE ${q(role.username)} SET search_path = ${q(schema)}`, tx);
    await run(`SET LOCAL ROLE ${q(role.username)}`, tx);
    await run(`CREATE TABLE IF NOT EXISTS ${q(schema)}.${MIGRATIONS_TABLE} (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`, tx);
    await run(
      `CREATE TABLE IF NOT EXISTS ${q(schema)}.${PROCESSED_EVENTS_TABLE} (event_id text PRIMARY KEY, event_type text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now())`,
      tx,
    );
  });

  // 2. What is recorded already.
  const recordedRows = await run(`SELECT name, checksum FROM ${q(schema)}.${MIGRATIONS_TABLE}`);
  const recorded = new Map((JSON.parse(recordedRows.formattedRecords ?? "[]") as { name: string; checksum: string }[]).map((r) => [r.name, r.checksum]));

  const report: MigrationReport = { schema, applied: [], alreadyApplied: [] };
  for (const [index, migration] of options.migrations.entries()) {
    const checksum = migrationChecksum(migration.sql);
    const before = recorded.get(migration.name);
    if (before !== undefined) {
      if (before !== checksum) {
        throw new MigrationError(migration.name, `migration ${migration.name} was changed after it was applied (checksum ${before.slice(0, 12)}… recorded, ${checksum.slice(0, 12)}… now): add a new migration instead`);
      }
      report.alreadyApplied.push(migration.name);
      continue;
    }
    const statements = splitStatements(migration.sql);
    if (statements.length === 0) {
      const held = options.migrations.slice(index + 1).filter((m) => !recorded.has(m.name));
      if (options.empty !== "wait" && held.some((m) => splitStatements(m.sql).length > 0)) {
        throw new MigrationError(
          migration.name,
          `migration ${migration.name} holds no statement (only comments), and ${held.length} after it would wait for it: write its statements or delete the file (recorded empty, its statements would be refused later as a change)`,
        );
      }
      report.waiting = { name: migration.name, after: held.length };
      break;
    }
    await inTransaction(client, base, migration.name, async (tx) => {
      await run(`SET LOCAL ROLE ${q(role.username)}`, tx);
      await run(`SET LOCAL search_path = ${q(schema)}`, tx);
      for (const statement of statements) {
        try {
          await run(statement, tx);
        } catch (error) {
          throw new MigrationError(migration.name, `migration ${migration.name} failed at "${statementTitle(statement)}": ${(error as Error).message}`);
        }
      }
      await run(`INSERT INTO ${q(schema)}.${MIGRATIONS_TABLE} (name, checksum) VALUES (:name, :checksum)`, tx, [
        { name: "name", value: { stringValue: migration.name } },
        { name: "checksum", value: { stringValue: checksum } },
      ]);
    });
    report.applied.push(migration.name);
  }
  return report;
}

async function inTransaction(
  client: RDSData,
  base: { resourceArn: string; secretArn: string; database: string },
  file: string,
  work: (transactionId: string) => Promise<void>,
): Promise<void> {
  const { transactionId } = await client.beginTransaction(base);
  if (!transactionId) throw new MigrationError(file, "the Data API started no transaction");
  try {
    await work(transactionId);
  } catch (error) {
    await client.rollbackTransaction({ resourceArn: base.resourceArn, secretArn: base.secretArn, transactionId }).catch(() => undefined);
    if (error instanceof MigrationError) throw error;
    throw new MigrationError(file, `migration ${file} failed: ${(error as Error).message}`);
  }
  await client.commitTransaction({ resourceArn: base.resourceArn, secretArn: base.secretArn, transactionId });
}
