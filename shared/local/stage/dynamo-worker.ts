/**
 * The local stage's DynamoDB thread: dynalite and the IAM-enforcing proxy in front of it, in one worker thread, so
 * the functions' DynamoDB traffic (the bulk of the stage's work) runs beside the engines instead of between them.
 * Bundled and started by `startDynamoService` (dynamodb.ts); speaks to the main thread with the messages below.
 */
import type { RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { Authorizer, type PrincipalIdentity } from "../iam/authorizer";
import { startDynamoDbProxy, type DynamoDbProxyEvent } from "../iam/dynamodb-proxy";
import type { TableKeySchema } from "../iam/dynamodb-requests";
import type { DeclaredTableSettings } from "../iam/dynamodb-table-settings";
import { memoizeExpressionParser, type ExpressionParser } from "./dynalite-expressions";

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
}

/** Worker -> main thread. */
export type DynamoWorkerMessage =
  | { type: "ready"; dynalitePort: number; proxyPort: number }
  | { type: "failed"; message: string }
  | { type: "decision"; event: DynamoDbProxyEvent }
  | { type: "answered"; requestId: string; status: number; errorType?: string }
  | { type: "closed" }
  /** A {@link DynamoWorkerCommand} `register` was applied. */
  | { type: "registered"; id: number }
  /** Several of the above, sent together (one message per event loop turn keeps the threads' wake-ups down). */
  | { type: "batch"; messages: DynamoWorkerMessage[] };

/**
 * Main thread -> worker (besides `"close"`): the functions' registrations changed while the stage runs (watch mode):
 * `registrations` are set (added or replaced), `unregister` removed.
 */
export interface DynamoWorkerCommand {
  type: "register";
  id: number;
  registrations: DynamoWorkerSetup["registrations"];
  unregister: string[];
}

const port = parentPort;
if (!port) throw new Error("dynamo-worker runs inside a worker thread started by the local stage");
const setup = workerData as DynamoWorkerSetup;
const post = (message: DynamoWorkerMessage) => port.postMessage(message);

// Trace events are many and small: they leave once per event loop turn, together.
let pending: DynamoWorkerMessage[] = [];
function report(message: DynamoWorkerMessage): void {
  if (pending.length === 0) {
    setImmediate(() => {
      const messages = pending;
      pending = [];
      post(messages.length === 1 ? messages[0]! : { type: "batch", messages });
    });
  }
  pending.push(message);
}

async function main(): Promise<void> {
  // The same condition expressions come again and again with new values: each is parsed once (dynalite-expressions.ts).
  memoizeExpressionParser(require("dynalite/db/conditionParser") as ExpressionParser);
  // dynalite has no type declarations.
  const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(setup.path ? { path: setup.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const dynalitePort = (server.address() as AddressInfo).port;

  const authorizer = new Authorizer({ accountId: setup.accountId, unknownPrincipals: "allow" });
  for (const r of setup.registrations) authorizer.register(r.principal, r.policies, r.identity);
  const reported = new Set(setup.reported);
  const tracked = new Set<string>();
  const proxy = await startDynamoDbProxy({
    target: `http://127.0.0.1:${dynalitePort}`,
    // dynalite runs in this thread: the proxy calls it directly (its port stays open for the stage's housekeeping).
    targetListener: server.listeners("request")[0] as RequestListener,
    authorize: authorizer.authorize,
    accountId: setup.accountId,
    keySchemas: setup.keySchemas,
    tableSettings: setup.tableSettings,
    onDecision: (event) => {
      if (!event.allowed || reported.has(event.operation)) {
        if (event.allowed) tracked.add(event.requestId);
        report({ type: "decision", event });
      }
    },
    onAnswered: (event) => {
      if (!tracked.delete(event.requestId)) return;
      report({ type: "answered", requestId: event.requestId, status: event.status, ...(event.errorType ? { errorType: event.errorType } : {}) });
    },
  });
  post({ type: "ready", dynalitePort, proxyPort: proxy.port });

  port!.on("message", (message: unknown) => {
    const command = message as DynamoWorkerCommand;
    if (command !== null && typeof command === "object" && command.type === "register") {
      for (const principal of command.unregister) authorizer.unregister(principal);
      for (const r of command.registrations) authorizer.register(r.principal, r.policies, r.identity);
      post({ type: "registered", id: command.id });
      return;
    }
    if (message !== "close") return;
    void (async () => {
      await proxy.close().catch(() => undefined);
      (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      post({ type: "closed" });
    })();
  });
}

main().catch((error: unknown) => post({ type: "failed", message: error instanceof Error ? error.message : String(error) }));
