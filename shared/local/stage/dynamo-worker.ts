/**
 * The local stage's DynamoDB thread: dynalite and the IAM-enforcing proxy in front of it, in one worker thread, so
 * the functions' DynamoDB traffic (the bulk of the stage's work) runs beside the engines instead of between them.
 * Bundled and started by `startDynamoService` (dynamodb.ts); answers its requests through the engine thread channel
 * (shared/local/engine-thread) and sends the events below.
 */
import type { RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { Authorizer, type PrincipalIdentity } from "../iam/authorizer";
import { startDynamoDbProxy, type DynamoDbProxyEvent } from "../iam/dynamodb-proxy";
import type { TableKeySchema } from "../iam/dynamodb-requests";
import type { DeclaredTableSettings } from "../iam/dynamodb-table-settings";
import { ENGINE_OPERATIONS, listenerTarget, StreamRecorder, WriteEngine, type TableStream } from "../dynamodb-streams";
import { reportFailed, reportStarted, serveRequests } from "../engine-thread/thread";
import { directTarget, loadDynaliteInternals, startDynalite, type DynaliteInternals } from "./dynalite-direct";
import { memoizeExpressionParser, type ExpressionParser } from "./dynalite-expressions";
import { encodeDynamoEvents, type DynamoWireEvent } from "./dynamo-wire";

/** What the worker is started with. */
export interface DynamoWorkerSetup {
  /** LevelDB folder; in memory without one. */
  path?: string;
  accountId: string;
  keySchemas: Record<string, TableKeySchema>;
  /** TTL and point-in-time recovery the programs declared, by table (DescribeTimeToLive, DescribeContinuousBackups). */
  tableSettings: Record<string, DeclaredTableSettings>;
  /** Principals (functions' access key ids) and their role's policy documents. */
  registrations: { principal: string; policies: string[]; identity: PrincipalIdentity }[];
  /** Operations whose decisions (and answers) the main thread wants to hear about; denials are always reported. */
  reported: string[];
  /** The records' `awsRegion`. */
  region?: string;
  /** Tables with a stream: their records go to the main thread (`stream-record`). */
  streams?: Record<string, TableStream>;
}

/** What the thread answers the channel's start with. */
export interface DynamoWorkerStarted {
  dynalitePort: number;
  proxyPort: number;
}

/**
 * What the main thread reads of a proxy decision (its trace: the tables and partition keys a write named, and a
 * denial's message), not the request's IAM details (principal, resource ARNs, other condition keys), which stay in
 * this thread.
 */
export interface DynamoDecision {
  requestId: string;
  operation: string;
  allowed: boolean;
  traceHeader?: string;
  /** Per authorization: its action, table and `dynamodb:LeadingKeys` (when it had them). */
  authorizations: { action: string; table?: string; conditionKeys: { "dynamodb:LeadingKeys"?: string | string[] } }[];
  denied?: { message: string };
}

/** The part of a proxy decision the main thread reads. */
function decisionFacts(event: DynamoDbProxyEvent): DynamoDecision {
  const authorizations: DynamoDecision["authorizations"] = new Array(event.authorizations.length);
  for (let i = 0; i < authorizations.length; i++) {
    const { action, table, conditionKeys } = event.authorizations[i]!;
    const leading = conditionKeys["dynamodb:LeadingKeys"];
    authorizations[i] = { action, ...(table === undefined ? {} : { table }), conditionKeys: leading === undefined ? {} : { "dynamodb:LeadingKeys": leading } };
  }
  return {
    requestId: event.requestId,
    operation: event.operation,
    allowed: event.allowed,
    ...(event.traceHeader === undefined ? {} : { traceHeader: event.traceHeader }),
    authorizations,
    ...(event.denied ? { denied: { message: event.denied.message } } : {}),
  };
}

/** One event of the thread: a reported decision, an answer, a stream record (with the id of the write that made it). */
export type DynamoWorkerEvent = DynamoWireEvent<DynamoDecision>;

/**
 * Worker -> main thread (answers and the start go through the channel): the events of one event loop turn, in
 * order, in one message (one wake-up of the main thread), as one JSON string (dynamo-wire.ts).
 */
export type DynamoWorkerMessage = { type: "events"; json: string };

/**
 * Main thread -> worker, requests of the channel: `register` when the functions' registrations changed while the
 * stage runs (watch mode): `registrations` are set (added or replaced), `unregister` removed; `close` stops the proxy
 * and dynalite (answered once they are closed).
 */
export type DynamoWorkerCommand = DynamoWorkerRegister | { type: "close" };

export interface DynamoWorkerRegister {
  type: "register";
  registrations: DynamoWorkerSetup["registrations"];
  unregister: string[];
  /** Streams of tables added meanwhile (enabled, or with their view type changed). */
  streams?: Record<string, TableStream>;
}

const port = parentPort;
if (!port) throw new Error("dynamo-worker runs inside a worker thread started by the local stage");
/**
 * Started early (`preloadDynamoThread`, while the stage's programs still run), the thread is given `{ preload: true }`
 * and its setup later, in a `{ type: "setup" }` message: it loads its modules (dynalite) in the meantime.
 */
let setup: DynamoWorkerSetup = workerData as DynamoWorkerSetup;
const post = (message: DynamoWorkerMessage) => port.postMessage(message);

// Events are many and small: they leave once per event loop turn, together, encoded once.
let pending: DynamoWorkerEvent[] = [];
function report(event: DynamoWorkerEvent): void {
  if (pending.length === 0) {
    setImmediate(() => {
      const events = pending;
      pending = [];
      post({ type: "events", json: encodeDynamoEvents(events) });
    });
  }
  pending.push(event);
}

async function main(): Promise<void> {
  let internals: DynaliteInternals;
  let loading: unknown;
  try {
    // The same condition expressions come again and again with new values: each is parsed once (dynalite-expressions.ts).
    memoizeExpressionParser(require("dynalite/db/conditionParser") as ExpressionParser);
    internals = loadDynaliteInternals();
  } catch (error) {
    loading = error;
  }
  // A preloaded thread reports a failure once it has its setup (the stage listens from then on).
  if ((workerData as { preload?: boolean } | undefined)?.preload) {
    setup = await new Promise<DynamoWorkerSetup>((resolve) => {
      const receive = (message: unknown) => {
        const command = message as { type?: string; setup?: DynamoWorkerSetup } | null;
        if (command === null || typeof command !== "object" || command.type !== "setup" || !command.setup) return;
        port!.off("message", receive);
        resolve(command.setup);
      };
      port!.on("message", receive);
    });
  }
  if (loading !== undefined) throw loading;
  const { server, store } = startDynalite(internals!, { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(setup.path ? { path: setup.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const dynalitePort = (server.address() as AddressInfo).port;

  // Item writes and TransactWriteItems go through the write engine (which dynalite lacks): it records the stream
  // records of tables with a stream, sent to the main thread with the id of the write that made them. Its own calls
  // to dynalite run on dynalite's store without the HTTP round trip (dynalite-direct.ts).
  const listener = server.listeners("request")[0] as RequestListener;
  // The records go to the main thread, whose recorder the stream's readers read: this one keeps none.
  const recorder = new StreamRecorder({ region: setup.region ?? "us-east-1", retain: false });
  for (const [table, stream] of Object.entries(setup.streams ?? {})) recorder.enable(table, stream);
  const engine = new WriteEngine({ target: directTarget(internals!, store, listenerTarget(listener)), recorder, keySchema: (table) => setup.keySchemas[table] });
  // The engine hands each record's listener the request id it was given with the write (no AsyncLocalStorage: its
  // async hooks would slow every promise and request of this thread).
  recorder.subscribe((stored, requestId) => {
    report({ type: "stream-record", stored, ...(requestId ? { requestId } : {}) });
  });
  // The proxy decides on a request and hands it to the engine in the same turn: the decision names the request.
  let decided: string | undefined;

  const authorizer = new Authorizer({ accountId: setup.accountId, unknownPrincipals: "allow" });
  for (const r of setup.registrations) authorizer.register(r.principal, r.policies, r.identity);
  const reported = new Set(setup.reported);
  const tracked = new Set<string>();
  const proxy = await startDynamoDbProxy({
    target: `http://127.0.0.1:${dynalitePort}`,
    // dynalite runs in this thread: the proxy calls it directly (its port stays open for the stage's housekeeping).
    targetListener: listener,
    authorize: authorizer.authorize,
    accountId: setup.accountId,
    keySchemas: setup.keySchemas,
    tableSettings: setup.tableSettings,
    writes: {
      operations: ENGINE_OPERATIONS,
      handle: (operation, request) => {
        const requestId = decided;
        decided = undefined;
        return engine.handle(operation, request, requestId);
      },
      forget: (table) => engine.forget(table),
    },
    onDecision: (event) => {
      decided = event.requestId;
      if (!event.allowed || reported.has(event.operation)) {
        if (event.allowed) tracked.add(event.requestId);
        report({ type: "decision", event: decisionFacts(event) });
      }
    },
    onAnswered: (event) => {
      if (!tracked.delete(event.requestId)) return;
      report({ type: "answered", requestId: event.requestId, status: event.status, ...(event.errorType ? { errorType: event.errorType } : {}) });
    },
  });
  serveRequests<DynamoWorkerCommand>(port!, (command) => {
    if (command.type === "register") {
      for (const principal of command.unregister) authorizer.unregister(principal);
      for (const r of command.registrations) authorizer.register(r.principal, r.policies, r.identity);
      for (const [table, stream] of Object.entries(command.streams ?? {})) recorder.enable(table, stream);
      return undefined;
    }
    return (async () => {
      await proxy.close().catch(() => undefined);
      (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
  });
  reportStarted(port!, { dynalitePort, proxyPort: proxy.port } satisfies DynamoWorkerStarted);
}

main().catch((error: unknown) => reportFailed(port, error));
