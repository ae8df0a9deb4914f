/**
 * The relational engine's thread (see engine-thread.ts): PGlite and the Data API's execution rules run here, so its
 * WASM compile, base-image load and statements use the machine's other core. It speaks the engine thread channel
 * (shared/local/engine-thread): requests `{ id, op, args }`, a call's statements as its progress (before its answer).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import type { ThreadError } from "../engine-thread/channel";
import { reportFailed, reportProgress, reportStarted, serveRequests } from "../engine-thread/thread";
import { DataApiError, RelationalEngine, type RelationalEngineOptions, type StatementReport } from "./engine";

/** What the thread is started with. */
export interface EngineWorkerData {
  relationalEngine: Omit<RelationalEngineOptions, "onStatement">;
}

/** The schemas the admin API lists (part-relational.ts). */
export interface SchemaListing {
  schema: string;
  tables: { name: string; rows: number }[];
  migrations: { name: string; appliedAt: string }[];
}

/** A request of the stage's (engine-thread.ts). */
export interface EngineWorkerRequest {
  op: "execute" | "batch" | "begin" | "end" | "openTransactions" | "listSchemas" | "servePsql" | "close";
  args: unknown[];
}

/** An error as it crosses the thread: a DataApiError keeps its code and status, any other error its message only. */
function threadError(error: unknown): ThreadError {
  const e = error as Error;
  return { message: e?.message ?? String(error), ...(error instanceof DataApiError ? { code: error.code, status: error.status } : {}) };
}

async function listSchemas(engine: RelationalEngine, schemas: readonly string[]): Promise<SchemaListing[]> {
  return engine.exclusive(async (db) => {
    const out: SchemaListing[] = [];
    for (const schema of schemas) {
      const tables = await db.query<{ name: string }>("select tablename as name from pg_tables where schemaname = $1 order by tablename", [schema]);
      const info: SchemaListing = { schema, tables: [], migrations: [] };
      for (const t of tables.rows) {
        const count = await db.query<{ n: string }>(`select count(*)::text as n from "${schema}"."${t.name.replace(/"/g, '""')}"`);
        info.tables.push({ name: t.name, rows: Number(count.rows[0]?.n ?? 0) });
      }
      if (tables.rows.some((t) => t.name === "schema_migrations")) {
        const applied = await db.query<{ name: string; applied_at: string }>(`select name, applied_at::text as applied_at from "${schema}".schema_migrations order by name`);
        info.migrations = applied.rows.map((r) => ({ name: r.name, appliedAt: r.applied_at }));
      }
      out.push(info);
    }
    return out;
  });
}

async function serve(port: MessagePort, options: EngineWorkerData["relationalEngine"]): Promise<void> {
  let engine: RelationalEngine;
  try {
    engine = await RelationalEngine.start(options);
  } catch (error) {
    reportFailed(port, error, threadError);
    return;
  }
  let psql: { stop(): Promise<void> } | undefined;
  serveRequests<EngineWorkerRequest>(
    port,
    async ({ id, op, args }) => {
      switch (op) {
        case "execute":
          return engine.execute({ ...(args[0] as Parameters<RelationalEngine["execute"]>[0]), report: (statement: StatementReport) => reportProgress(port, id, statement) });
        case "batch":
          return engine.batch({ ...(args[0] as Parameters<RelationalEngine["batch"]>[0]), report: (statement: StatementReport) => reportProgress(port, id, statement) });
        case "begin":
          return engine.begin(args[0] as string);
        case "end":
          return engine.end(args[0] as string, args[1] as string, args[2] as "COMMIT" | "ROLLBACK");
        case "openTransactions":
          return engine.openTransactions();
        case "listSchemas":
          return listSchemas(engine, args[0] as string[]);
        case "servePsql": {
          const { PGLiteSocketServer } = require("@electric-sql/pglite-socket") as typeof import("@electric-sql/pglite-socket");
          const socket = new PGLiteSocketServer({ db: engine.db as never, port: args[0] as number, host: "127.0.0.1" });
          await socket.start();
          psql = { stop: () => socket.stop() };
          return undefined;
        }
        case "close":
          await psql?.stop();
          await engine.close();
          // The answer leaves first (it is posted as this call's promise settles); then the thread has nothing to wait for.
          setImmediate(() => port.close());
          return undefined;
        default:
          throw new Error(`the relational thread has no operation ${op as string}`);
      }
    },
    threadError,
  );
  reportStarted(port, { storage: engine.storage });
}

if (parentPort && (workerData as Partial<EngineWorkerData> | undefined)?.relationalEngine) {
  void serve(parentPort, (workerData as EngineWorkerData).relationalEngine);
}
