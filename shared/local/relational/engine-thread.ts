/**
 * The relational engine in a worker thread (engine-worker.ts): the local stage's PostgreSQL. PGlite's start (WASM
 * compile, the base image's load, ~1 s of CPU) and its statements run on the other core, beside the programs and the
 * functions. The Data API endpoint calls it as it calls an in-process {@link RelationalEngine}; a DataApiError thrown
 * in the thread arrives as one, with its code and status.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { EngineChannel, type ThreadError } from "../engine-thread/channel";
import type { DataApiEngine } from "./endpoint";
import { DataApiError, type RelationalEngine, type RelationalEngineOptions, type StatementReport } from "./engine";
import type { EngineWorkerData, EngineWorkerRequest, SchemaListing } from "./engine-worker";

// The thread loads the engine's TypeScript through tsx, as this process does.
const BOOT = `require("tsx/cjs/api").register(); require(${JSON.stringify(join(__dirname, "engine-worker.ts"))});`;

export class RelationalEngineThread implements DataApiEngine {
  private constructor(
    private readonly channel: EngineChannel<{ value: StatementReport }>,
    /** `memory` or the data directory. */
    readonly storage: string,
  ) {}

  /**
   * Starts PGlite in a thread with the engine's options; resolves once it answers statements.
   * @throws Error with PGlite's message when it does not start
   */
  static async start(options: RelationalEngineOptions = {}): Promise<RelationalEngineThread> {
    const { onStatement, ...rest } = options;
    const data: EngineWorkerData = { relationalEngine: rest };
    const { channel, info } = await EngineChannel.start<{ storage: string }, { value: StatementReport }>(new Worker(BOOT, { eval: true, workerData: data }), {
      engine: "the relational thread",
      // PGlite's own message when it did not start.
      stopped: (stop) => ("failed" in stop ? new Error(stop.failed.message) : undefined),
      refused: () => new DataApiError("BadRequestException", "the local relational engine is stopped"),
      rebuild: threadError,
      // Every statement's report (the stage's trace), besides the call's own `report`.
      ...(onStatement ? { onEvent: (message) => onStatement(message.value) } : {}),
    });
    return new RelationalEngineThread(channel, info.storage);
  }

  private call<T>(op: EngineWorkerRequest["op"], args: unknown[], report?: (statement: StatementReport) => void): Promise<T> {
    return this.channel.request<T>({ op, args } satisfies EngineWorkerRequest, report as ((value: unknown) => void) | undefined);
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
  close(): Promise<void> {
    return this.channel.close({ op: "close", args: [] } satisfies EngineWorkerRequest);
  }
}

function threadError(error: ThreadError): Error {
  return error.code ? new DataApiError(error.code as DataApiError["code"], error.message, error.status) : new Error(error.message);
}
