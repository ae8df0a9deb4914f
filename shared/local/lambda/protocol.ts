/** Messages between the function host (main thread) and the Lambda runtime emulation inside each worker. */

/** Lambda's error payload (what `Invoke` returns with `FunctionError: Unhandled`). */
export interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/** Log levels of Lambda's advanced logging controls, lowest first. */
export const LAMBDA_LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] as const;
export type LambdaLogLevel = (typeof LAMBDA_LOG_LEVELS)[number];

/** What the worker needs to load the function (its `workerData`). */
export interface WorkerSetup {
  /** Absolute path of the bundle. */
  bundleFile: string;
  format: "esm" | "cjs";
  exportName: string;
  /** The handler setting as Lambda prints it in errors (`index.handler`). */
  handlerSetting: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: number;
  logGroupName: string;
  logStreamName: string;
  logFormat: "JSON" | "Text";
  /** With the JSON log format, console calls below this level are dropped (as Lambda does). */
  applicationLogLevel: LambdaLogLevel | undefined;
}

/**
 * Host -> worker, first and once, to a worker started without `workerData` (started while the bundle was building):
 * the function to load and its environment (Lambda's variables that name the bundle among them).
 */
export interface SetupMessage {
  type: "setup";
  setup: WorkerSetup;
  env: Record<string, string>;
}

/** Host -> worker: run one invocation. */
export interface InvokeMessage {
  type: "invoke";
  requestId: string;
  /** The event, JSON-encoded (Lambda hands the handler a fresh parse of the payload). */
  event: string;
  /** Epoch ms at which the invocation times out. */
  deadline: number;
  /** `_X_AMZN_TRACE_ID` for this invocation. */
  traceHeader: string;
  /** `context.clientContext`, when the caller passed one. */
  clientContext: unknown;
}

/** Worker -> host messages. */
export type WorkerMessage =
  | { type: "ready"; initDurationMs: number }
  | { type: "init-error"; error: LambdaErrorPayload }
  | { type: "log"; requestId: string | undefined; level: LambdaLogLevel | undefined; stream: "stdout" | "stderr"; message: string; timestamp: string }
  | { type: "result"; requestId: string; payload: string }
  | { type: "error"; requestId: string; error: LambdaErrorPayload; fatal: boolean }
  /** Several of the above in one message, in the order they were written (log lines, then maybe an outcome). */
  | { type: "batch"; messages: WorkerMessage[] };
