/**
 * The relational engine in a worker thread (engine-worker.ts): the local stage's PostgreSQL. PGlite's start (WASM
 * compile, the base image's load, ~1 s of CPU) and its statements run on the other core, beside the programs and the
 * functions. The Data API endpoint calls it as it calls an in-process {@link RelationalEngine}; a DataApiError thrown
 * in the thread arrives as one, with its code and status.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { DataApiEngine } from "./endpoint";
import { DataApiError, type RelationalEngine, type RelationalEngineOptions, type StatementReport } from "./engine";
import type { EngineWorkerData, SchemaListing, ThreadError } from "./engine-worker";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; report?: (statement: StatementReport) => void };

// The thread loads the engine's TypeScript through tsx, as this process does.
const BOOT = `require("tsx/cjs/api").register(); require(${JSON.stringify(join(__dirname, "engine-worker.ts"))});`;

export class RelationalEngineThread implements DataApiEngine {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    /** `memory` or the data directory. */
    readonly storage: string,
    onStatement: ((report: StatementReport) => void) | undefined,
  ) {
    worker.on("message", (message: { type: string; id: number; ok?: boolean; value?: unknown; error?: ThreadError; report?: StatementReport }) => {
      const call = this.pending.get(message.id);
      if (message.type === "report") {
        onStatement?.(message.report!);
        call?.report?.(message.report!);
        return;
      }
      if (message.type !== "result" || !call) return;
      this.pending.delete(message.id);
      if (message.ok) call.resolve(message.value);
      else call.reject(threadError(message.error!));
    });
    const fail = (error: Error) => {
      this.closed = true;
      for (const call of this.pending.values()) call.reject(new Error(`the relational thread stopped: ${error.message}`));
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
  }

  /**
   * Starts PGlite in a thread with the engine's options; resolves once it answers statements.
   * @throws Error with PGlite's message when it does not start
   */
  static start(options: RelationalEngineOptions = {}): Promise<RelationalEngineThread> {
    const { onStatement, ...rest } = options;
    const data: EngineWorkerData = { relationalEngine: rest };
    const worker = new Worker(BOOT, { eval: true, workerData: data });
    return new Promise((resolve, reject) => {
      const early = (error: Error) => reject(new Error(`the relational thread failed to start: ${error.message}`));
      const exited = (code: number) => reject(new Error(`the relational thread exited with code ${code} before it started`));
      worker.once("error", early);
      worker.once("exit", exited);
      worker.once("message", (message: { type: string; storage?: string; message?: string }) => {
        worker.off("error", early);
        worker.off("exit", exited);
        if (message.type === "started") {
          resolve(new RelationalEngineThread(worker, message.storage!, onStatement));
        } else {
          void worker.terminate();
          reject(new Error(message.message ?? "the relational thread did not start"));
        }
      });
    });
  }

  private call<T>(op: string, args: unknown[], report?: (statement: StatementReport) => void): Promise<T> {
    if (this.closed) return Promise.reject(new DataApiError("BadRequestException", "the local relational engine is stopped"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(report ? { report } : {}) });
      this.worker.postMessage({ id, op, args });
    });
  }

  execute(input: Parameters<RelationalEngine["execute"]>[0]): ReturnType<RelationalEngine["execute"]> {
    const { report, ...rest } = input;
    return this.call("execute", [rest], report);
  }

  batch(input: Parameters<RelationalEngine["batch"]>[0]): ReturnType<RelationalEngine["batch"]> {
    const { report, ...rest } = input;
    return this.call("batch", [rest], report);
  }

  begin(role: string): Promise<string> {
    return this.call("begin", [role]);
  }

  end(id: string, role: string, how: "COMMIT" | "ROLLBACK"): Promise<string> {
    return this.call("end", [id, role, how]);
  }

  /** Data API transactions open now. */
  openTransactions(): Promise<number> {
    return this.call("openTransactions", []);
  }

  /** The schemas' tables with row counts and their applied migrations (the admin API's row). */
  listSchemas(schemas: readonly string[]): Promise<SchemaListing[]> {
    return this.call("listSchemas", [schemas]);
  }

  /** Serves PostgreSQL's wire protocol (psql) on this port, from the thread, until the engine closes. */
  servePsql(port: number): Promise<void> {
    return this.call("servePsql", [port]);
  }

  /** Stops psql's server and PGlite (a persisted data directory is flushed), then the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.call("close", []);
    } finally {
      this.closed = true;
      await this.worker.terminate();
    }
  }
}

function threadError(error: ThreadError): Error {
  return error.code ? new DataApiError(error.code as DataApiError["code"], error.message, error.status) : new Error(error.message);
}
