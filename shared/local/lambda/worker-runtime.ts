/**
 * The Lambda Node.js runtime, as far as a handler can tell, inside one worker thread (one execution environment).
 * The function host bundles this file and starts it in each worker: it loads the function's bundle (the init phase),
 * then runs one invocation at a time with a Lambda-shaped `context`, sets `_X_AMZN_TRACE_ID` per invocation, and sends
 * everything the function writes to the console or to stdout/stderr to the host, tagged with the request id.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { LAMBDA_LOG_LEVELS, type InvokeMessage, type LambdaErrorPayload, type LambdaLogLevel, type SetupMessage, type WorkerMessage, type WorkerSetup } from "./protocol";

type Handler = (event: unknown, context: LambdaContext, callback: (error?: unknown, result?: unknown) => void) => unknown;

/** The `context` Lambda passes to a Node.js handler. */
interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  identity: undefined;
  clientContext: unknown;
  getRemainingTimeInMillis(): number;
  done(error?: unknown, result?: unknown): void;
  fail(error: unknown): void;
  succeed(result: unknown): void;
}

const port = parentPort;
if (!port) throw new Error("the Lambda worker runtime runs only inside a worker thread started by the function host");
// Without workerData the host started this worker while the bundle was still building: main() waits for its setup.
let setup = workerData as WorkerSetup;
let currentRequestId: string | undefined;

// Log lines cross to the host together: each message between threads wakes the host's thread, which costs more than
// a short line's own handling, and a handler logs a few lines per invocation. Pending lines leave with the worker's
// next message (the invocation's result or error: one message, lines first) or LOG_FLUSH_DELAY_MS after the first
// of them was written, whichever comes first, so the host gets them in order, and within that delay while the handler
// waits on I/O. A handler that logs and then waits on a quick call (a few SDK calls to the local endpoints) sends its
// lines with its result, one message per invocation, instead of one when it first waits and one with its result.
// (A handler that logs and then never yields again, until its timeout stops the worker, loses those last lines.)
const LOG_FLUSH_DELAY_MS = 100;
let pendingLogs: WorkerMessage[] = [];
let flushTimer: NodeJS.Timeout | undefined;

function flushLogs(): void {
  flushTimer = undefined;
  if (pendingLogs.length === 0) return;
  const messages = pendingLogs;
  pendingLogs = [];
  port!.postMessage(messages.length === 1 ? messages[0] : ({ type: "batch", messages } satisfies WorkerMessage));
}

function post(message: WorkerMessage): void {
  if (pendingLogs.length === 0) {
    port!.postMessage(message);
    return;
  }
  const messages = [...pendingLogs, message];
  pendingLogs = [];
  clearTimeout(flushTimer);
  flushTimer = undefined;
  port!.postMessage({ type: "batch", messages } satisfies WorkerMessage);
}

// Console and stdout/stderr capture ------------------------------------------------------------------------------

const rank = (level: LambdaLogLevel): number => LAMBDA_LOG_LEVELS.indexOf(level);
const consoleLevels: Record<string, LambdaLogLevel> = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };

function log(level: LambdaLogLevel | undefined, stream: "stdout" | "stderr", message: string): void {
  const entry: WorkerMessage = { type: "log", requestId: currentRequestId, level, stream, message, timestamp: new Date().toISOString() };
  if (pendingLogs.length === 0 && flushTimer === undefined) flushTimer = setTimeout(flushLogs, LOG_FLUSH_DELAY_MS);
  pendingLogs.push(entry);
}

for (const [method, level] of Object.entries(consoleLevels)) {
  const stream = level === "WARN" || level === "ERROR" ? "stderr" : "stdout";
  (console as unknown as Record<string, (...args: unknown[]) => void>)[method] = (...args: unknown[]) => {
    // Lambda drops console calls below the application log level only with the JSON log format.
    if (setup.logFormat === "JSON" && setup.applicationLogLevel && rank(level) < rank(setup.applicationLogLevel)) return;
    let message = format(...args);
    if (method === "trace") message = `Trace: ${message}\n${new Error().stack?.split("\n").slice(2).join("\n") ?? ""}`;
    log(level, stream, message);
  };
}

function capture(stream: NodeJS.WriteStream, name: "stdout" | "stderr"): void {
  type Callback = (error?: Error | null) => void;
  stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | Callback, callback?: Callback) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(typeof encoding === "string" ? encoding : "utf8");
    if (text.length > 0) log(undefined, name, text.endsWith("\n") ? text.slice(0, -1) : text);
    const done = typeof encoding === "function" ? encoding : callback;
    if (done) queueMicrotask(() => done(null));
    return true;
  }) as typeof stream.write;
}
capture(process.stdout, "stdout");
capture(process.stderr, "stderr");

// Errors ---------------------------------------------------------------------------------------------------------

function errorPayload(error: unknown): LambdaErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name || "Error", errorMessage: error.message, trace: error.stack ? error.stack.split("\n") : [] };
  }
  // Lambda reports a thrown non-Error by its type (`throw "boom"` -> errorType "string").
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function initErrorPayload(error: unknown): LambdaErrorPayload {
  const payload = errorPayload(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    return { ...payload, errorType: "Runtime.ImportModuleError", errorMessage: `${payload.errorType}: ${payload.errorMessage}` };
  }
  if (error instanceof SyntaxError) {
    return { ...payload, errorType: "Runtime.UserCodeSyntaxError", errorMessage: `${payload.errorType}: ${payload.errorMessage}` };
  }
  return payload;
}

function fatal(errorType: string, error: unknown): void {
  const payload = errorPayload(error);
  post({
    type: "error",
    requestId: currentRequestId ?? "",
    error: { errorType, errorMessage: error instanceof Error ? `${error.name}: ${error.message}` : String(error), trace: payload.trace },
    fatal: true,
  });
}

process.on("unhandledRejection", (reason) => fatal("Runtime.UnhandledPromiseRejection", reason));
process.on("uncaughtException", (error) => fatal(errorPayload(error).errorType, error));

// Init -----------------------------------------------------------------------------------------------------------

async function loadHandler(): Promise<Handler> {
  const module: Record<string, unknown> =
    setup.format === "esm"
      ? ((await import(pathToFileURL(setup.bundleFile).href)) as Record<string, unknown>)
      : (createRequire(setup.bundleFile)(setup.bundleFile) as Record<string, unknown>);
  const handler = module[setup.exportName] ?? (module.default as Record<string, unknown> | undefined)?.[setup.exportName];
  const notFound = (message: string): Error => Object.assign(new Error(message), { name: "Runtime.HandlerNotFound" });
  if (handler === undefined) throw notFound(`${setup.handlerSetting} is undefined or not exported`);
  if (typeof handler !== "function") throw notFound(`${setup.handlerSetting} is not a function`);
  return handler as Handler;
}

// Invoke ---------------------------------------------------------------------------------------------------------

/** Runs the handler the ways Lambda supports: async (a promise), or with the callback when it takes three arguments. */
function run(handler: Handler, event: unknown, context: LambdaContext): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, result?: unknown): void => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    context.done = settle;
    context.succeed = (result) => settle(null, result);
    context.fail = (error) => settle(error ?? new Error("handled"));
    let returned: unknown;
    try {
      returned = handler(event, context, settle);
    } catch (error) {
      settle(error);
      return;
    }
    if (returned !== null && typeof returned === "object" && typeof (returned as PromiseLike<unknown>).then === "function") {
      (returned as PromiseLike<unknown>).then(
        (result) => settle(null, result),
        (error: unknown) => settle(error ?? new Error("the handler's promise was rejected without a reason")),
      );
    } else if (handler.length < 3) {
      settle(null, returned);
    }
  });
}

function contextFor(message: InvokeMessage): LambdaContext {
  const unset = (): void => undefined;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: setup.functionName,
    functionVersion: setup.functionVersion,
    invokedFunctionArn: setup.invokedFunctionArn,
    memoryLimitInMB: String(setup.memoryLimitInMB),
    awsRequestId: message.requestId,
    logGroupName: setup.logGroupName,
    logStreamName: setup.logStreamName,
    identity: undefined,
    clientContext: message.clientContext,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    done: unset,
    fail: unset,
    succeed: unset,
  };
}

async function main(): Promise<void> {
  if (!workerData) {
    const message = await new Promise<SetupMessage>((resolve) => port!.once("message", resolve));
    setup = message.setup;
    Object.assign(process.env, message.env);
  }
  const started = performance.now();
  let handler: Handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    post({ type: "init-error", error: initErrorPayload(error) });
    return;
  }
  post({ type: "ready", initDurationMs: performance.now() - started });

  port!.on("message", (message: InvokeMessage) => {
    if (message.type !== "invoke") return;
    currentRequestId = message.requestId;
    process.env._X_AMZN_TRACE_ID = message.traceHeader;
    void (async () => {
      let result: unknown;
      try {
        result = await run(handler, JSON.parse(message.event), contextFor(message));
      } catch (error) {
        post({ type: "error", requestId: message.requestId, error: errorPayload(error), fatal: false });
        return;
      }
      let payload: string;
      try {
        payload = JSON.stringify(result) ?? "null";
      } catch (error) {
        post({
          type: "error",
          requestId: message.requestId,
          error: {
            errorType: "Runtime.MarshalError",
            errorMessage: `Unable to stringify response body: ${errorPayload(error).errorMessage}`,
            trace: [],
          },
          fatal: false,
        });
        return;
      }
      post({ type: "result", requestId: message.requestId, payload });
    })();
  });
}

void main();
