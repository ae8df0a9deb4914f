/**
 * The local stage's DynamoDB: dynalite (a DynamoDB implementation on LevelDB, from npm) and the IAM-enforcing proxy in
 * front of it, together in a worker thread of their own (dynamo-worker.ts), and the tables the programs declared.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { build } from "esbuild";
import type { StoredRecord } from "../dynamodb-streams";
import { EngineChannel } from "../engine-thread/channel";
import { LOCAL_BUILD_ROOT } from "../lambda/bundle";
import type { DynamoDecision, DynamoWorkerCommand, DynamoWorkerMessage, DynamoWorkerSetup, DynamoWorkerStarted } from "./dynamo-worker";
import { decodeDynamoEvents } from "./dynamo-wire";
import type { TableSpec } from "./wiring";

/** DynamoDB as the stage runs it. */
export interface LocalDynamo {
  /** The IAM-enforcing proxy every function's SDK client uses: `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** dynalite itself, past IAM (for the stage's housekeeping and for tests that look at the data). */
  readonly dynaliteEndpoint: string;
  /** Where the data lives: a folder (LevelDB), or `memory`. */
  readonly storage: string;
  /** True when the thread was started before its setup ({@link preloadDynamoThread}) and took it later. */
  readonly preloaded: boolean;
  /**
   * Sets the functions' role policies the proxy enforces (added or replaced) and removes `unregister`ed ones, while
   * the stage runs (watch mode); resolves once the DynamoDB thread applied them.
   */
  register(registrations: DynamoServiceOptions["registrations"], unregister?: readonly string[], streams?: DynamoWorkerSetup["streams"]): Promise<void>;
  /** Stops the proxy, dynalite and their thread. */
  close(): Promise<void>;
}

/** Options of {@link startDynamoService}. */
export interface DynamoServiceOptions {
  /** Keep the data in this folder (LevelDB); in memory without one. */
  persistDir?: string;
  accountId: string;
  /** Key schemas by table, for `dynamodb:LeadingKeys`. */
  keySchemas: DynamoWorkerSetup["keySchemas"];
  /** The tables the programs declared: their TTL and point-in-time recovery answer DescribeTimeToLive and DescribeContinuousBackups. */
  tables?: readonly TableSpec[];
  /** Every function's access key id and its role's policies. */
  registrations: DynamoWorkerSetup["registrations"];
  /** Operations whose decisions are reported (denials always are). */
  reported: readonly string[];
  /** A reported request was authorized (or refused): what the trace reads of the decision (see `DynamoDecision`). */
  onDecision?: (event: DynamoDecision) => void;
  /** DynamoDB answered a reported, allowed request. */
  onAnswered?: (answer: { requestId: string; status: number; errorType?: string }) => void;
  /** The records' `awsRegion`. */
  region?: string;
  /** Tables with a stream (DynamoDB thread's write engine records their changes). */
  streams?: DynamoWorkerSetup["streams"];
  /** A stream record was appended, by the write with this proxy request id (when the write engine knew it). */
  onStreamRecord?: (stored: StoredRecord, requestId: string | undefined) => void;
}

let workerScript: Promise<string> | undefined;

/** dynamo-worker.ts, bundled once per process into `<build root>/runtime/` (dynalite stays a package import). */
export function dynamoWorkerFile(): Promise<string> {
  workerScript ??= (async () => {
    const result = await build({
      entryPoints: [join(__dirname, "dynamo-worker.ts")],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: `node${process.versions.node.split(".")[0]}`,
      external: ["dynalite"],
      write: false,
      logLevel: "silent",
    });
    const contents = result.outputFiles[0]!.contents;
    const dir = join(LOCAL_BUILD_ROOT, "runtime");
    const file = join(dir, `dynamo-worker-${createHash("sha256").update(contents).digest("hex").slice(0, 16)}.cjs`);
    if (!existsSync(file)) {
      await mkdir(dir, { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, contents);
      await rename(temporary, file);
    }
    return file;
  })();
  workerScript.catch(() => (workerScript = undefined));
  return workerScript;
}

let preloaded: Promise<Worker | undefined> | undefined;

/**
 * Starts the DynamoDB thread before its setup is known (the local stage calls it before running the programs that
 * declare the tables), so the thread loads dynalite meanwhile; the next {@link startDynamoService} of this process
 * hands it the setup. The thread does not keep the process alive until then; {@link discardPreloadedDynamoThread}
 * ends it when no service will take it (a start that failed). A second call while one waits does nothing.
 */
export function preloadDynamoThread(): void {
  preloaded ??= dynamoWorkerFile().then(
    (file) => {
      const worker = new Worker(file, { workerData: { preload: true }, execArgv: [] });
      worker.unref();
      // A thread that fails before it is taken is dropped; startDynamoService then starts one of its own.
      let failed = false;
      worker.once("error", () => (failed = true));
      worker.once("exit", () => (failed = true));
      return new Promise<Worker | undefined>((resolve) => setImmediate(() => resolve(failed ? undefined : worker)));
    },
    () => undefined,
  );
}

async function takePreloadedThread(): Promise<Worker | undefined> {
  const pending = preloaded;
  preloaded = undefined;
  const worker = await pending;
  if (!worker || worker.threadId < 0) return undefined;
  worker.removeAllListeners("exit").removeAllListeners("error");
  return worker;
}

/** Ends a preloaded DynamoDB thread no service took. */
export async function discardPreloadedDynamoThread(): Promise<void> {
  const worker = await takePreloadedThread();
  await worker?.terminate();
}

/**
 * Starts dynalite and the IAM proxy in a worker thread on free loopback ports: in memory, or persisted in
 * `persistDir`. dynalite lacks `TransactWriteItems`, `UpdateTimeToLive` (TTL is not enforced) and streams: item writes
 * and transactions go through the write engine (shared/local/dynamodb-streams), which records the `streams`' records
 * (`onStreamRecord`); the proxy answers `DescribeTimeToLive` and `DescribeContinuousBackups` from the declared `tables`.
 */
export async function startDynamoService(options: DynamoServiceOptions): Promise<LocalDynamo> {
  const path = options.persistDir ? resolve(options.persistDir) : undefined;
  if (path) mkdirSync(path, { recursive: true });
  const setup: DynamoWorkerSetup = {
    ...(path ? { path } : {}),
    accountId: options.accountId,
    keySchemas: options.keySchemas,
    tableSettings: tableSettings(options.tables ?? []),
    registrations: options.registrations,
    reported: [...options.reported],
    ...(options.region ? { region: options.region } : {}),
    ...(options.streams ? { streams: options.streams } : {}),
  };
  const early = await takePreloadedThread();
  const worker = early ?? new Worker(await dynamoWorkerFile(), { workerData: setup, execArgv: [] });
  const receive = (message: DynamoWorkerMessage): void => {
    if (message.type !== "events") return;
    for (const event of decodeDynamoEvents<DynamoDecision>(message.json)) {
      switch (event.type) {
        case "decision":
          options.onDecision?.(event.event);
          break;
        case "answered":
          options.onAnswered?.(event);
          break;
        case "stream-record":
          options.onStreamRecord?.(event.stored, event.requestId);
          break;
      }
    }
  };
  const starting = EngineChannel.start<DynamoWorkerStarted, DynamoWorkerMessage>(worker, {
    engine: "the DynamoDB thread",
    stopped: (stop) =>
      stop.during === "run"
        ? undefined
        : "error" in stop
          ? stop.error
          : "failed" in stop
            ? new Error(`DynamoDB did not start: ${stop.failed.message}`)
            : new Error(`the DynamoDB thread stopped before it was ready (exit code ${stop.exitCode})`),
    onEvent: receive,
  });
  if (early) {
    early.ref();
    early.postMessage({ type: "setup", setup });
  }
  const { channel, info: ports } = await starting;
  return {
    endpoint: `http://127.0.0.1:${ports.proxyPort}`,
    dynaliteEndpoint: `http://127.0.0.1:${ports.dynalitePort}`,
    storage: path ?? "memory",
    preloaded: early !== undefined,
    register(registrations, unregister = [], streams) {
      return channel.request<void>({ type: "register", registrations: [...registrations], unregister: [...unregister], ...(streams ? { streams } : {}) } satisfies DynamoWorkerCommand);
    },
    close() {
      // The thread closes the proxy and dynalite (LevelDB's files are released); a thread that does not answer in 2 s is ended anyway.
      return channel.close({ type: "close" } satisfies DynamoWorkerCommand, 2_000);
    },
  };
}

/** The TTL and point-in-time recovery the programs declared, by table name. */
export function tableSettings(tables: readonly TableSpec[]): DynamoWorkerSetup["tableSettings"] {
  const settings: DynamoWorkerSetup["tableSettings"] = {};
  for (const table of tables) {
    settings[table.name] = {
      ...(table.ttlAttribute ? { ttlAttribute: table.ttlAttribute } : {}),
      ...(table.pointInTimeRecovery ? { pointInTimeRecovery: { ...table.pointInTimeRecovery } } : {}),
    };
  }
  return settings;
}

/** A DynamoDB error answer. */
export class DynamoRequestError extends Error {
  override name = "DynamoRequestError";

  constructor(
    /** The error's type without its namespace (`ResourceInUseException`). */
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One DynamoDB API call over HTTP (JSON 1.0), signed with a placeholder credential: dynalite does not verify
 * signatures. For the stage's own housekeeping (creating tables), not for functions, whose SDK clients go through
 * the IAM-enforcing proxy.
 */
export function dynamoRequest<T = Record<string, unknown>>(endpoint: string, operation: string, body: unknown): Promise<T> {
  const url = new URL(endpoint);
  const payload = JSON.stringify(body);
  const date = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return new Promise((resolveRequest, reject) => {
    const request = httpRequest(
      {
        hostname: url.hostname,
        port: url.port,
        method: "POST",
        path: "/",
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "content-length": String(Buffer.byteLength(payload)),
          "x-amz-target": `DynamoDB_20120810.${operation}`,
          "x-amz-date": date,
          authorization: `AWS4-HMAC-SHA256 Credential=local-stage/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0`,
        },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.once("error", reject);
        answer.once("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: Record<string, unknown>;
          try {
            json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            reject(new Error(`DynamoDB ${operation}: unreadable answer ${text.slice(0, 200)}`));
            return;
          }
          if (answer.statusCode === 200) resolveRequest(json as T);
          else {
            const type = String(json.__type ?? "UnknownError").split("#").pop()!;
            reject(new DynamoRequestError(type, `DynamoDB ${operation}: ${type}: ${String(json.message ?? json.Message ?? "")}`));
          }
        });
      },
    );
    request.once("error", reject);
    request.end(payload);
  });
}

function keySchema(hashKey: string, rangeKey: string | undefined): { AttributeName: string; KeyType: "HASH" | "RANGE" }[] {
  return [{ AttributeName: hashKey, KeyType: "HASH" }, ...(rangeKey ? [{ AttributeName: rangeKey, KeyType: "RANGE" as const }] : [])];
}

/** The `CreateTable` request of a table the programs declared. */
export function createTableRequest(table: TableSpec): Record<string, unknown> {
  const index = (spec: TableSpec["globalIndexes"][number]) => ({
    IndexName: spec.name,
    KeySchema: keySchema(spec.hashKey, spec.rangeKey),
    Projection: { ProjectionType: spec.projectionType, ...(spec.nonKeyAttributes ? { NonKeyAttributes: spec.nonKeyAttributes } : {}) },
  });
  return {
    TableName: table.name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: table.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keySchema(table.hashKey, table.rangeKey),
    ...(table.globalIndexes.length ? { GlobalSecondaryIndexes: table.globalIndexes.map(index) } : {}),
    ...(table.localIndexes.length ? { LocalSecondaryIndexes: table.localIndexes.map(index) } : {}),
  };
}

/**
 * Creates the tables the programs declared. A table that already exists (a persisted one) is kept as it is.
 * @returns the names of the tables created now
 */
export async function createTables(endpoint: string, tables: readonly TableSpec[]): Promise<string[]> {
  const existing = new Set(((await dynamoRequest<{ TableNames?: string[] }>(endpoint, "ListTables", {})).TableNames ?? []) as string[]);
  const created: string[] = [];
  for (const table of tables) {
    if (existing.has(table.name)) continue;
    try {
      await dynamoRequest(endpoint, "CreateTable", createTableRequest(table));
      created.push(table.name);
    } catch (error) {
      if (!(error instanceof DynamoRequestError && error.type === "ResourceInUseException")) throw error;
    }
  }
  return created;
}
