import type { LogLevel } from "../contract";
import { ENV } from "../contract/environment";
import { handlerName, logLevel, readEnv } from "./function-environment";
import { currentScope, type InvocationScope } from "./invocation-scope";
import { xrayTraceId } from "./trace-context";

/** Extra fields of a log line. `Error` values are written as `{ name, message, stack, cause }`. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Structured JSON logger: one line per call, with the function's identity and the current scope's ids. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /**
   * The lowest level written. Read on every call when not given, so a change of `ENV.logLevel` applies at once.
   * @default the level in `ENV.logLevel`, else "INFO"
   */
  level?: LogLevel;
  /**
   * Where lines go. Lambda forwards stdout to the function's log group; writing there directly (not through the
   * runtime's patched `console`) keeps the line as we wrote it when the function's log format is JSON.
   * @default a write to process.stdout
   */
  write?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
}

const rank: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

function serializeError(error: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message, stack: error.stack };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (error.cause !== undefined && depth < 3) {
    out.cause = error.cause instanceof Error ? serializeError(error.cause, depth + 1) : String(error.cause);
  }
  return out;
}

/**
 * Whether `value` serializes the same with or without the replacer below: no `Error`, no bigint, no `toJSON`
 * (whose result the replacer would see), nested at most 8 deep (deeper, or circular, takes the replacer's path).
 * JSON.stringify without a replacer is several times faster, and most fields are plain.
 */
function isPlain(value: unknown, depth: number): boolean {
  if (typeof value === "bigint") return false;
  if (typeof value !== "object" || value === null) return true;
  if (depth > 8 || value instanceof Error || typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isPlain(item, depth + 1)) return false;
    return true;
  }
  for (const key of Object.keys(value)) {
    if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function stringify(entry: Record<string, unknown>, plain: boolean): string {
  try {
    if (plain) return JSON.stringify(entry);
    return JSON.stringify(entry, (_key, value: unknown) => {
      if (value instanceof Error) return serializeError(value);
      if (typeof value === "bigint") return value.toString();
      return value;
    });
  } catch (error) {
    // A circular structure in the fields: keep the line, drop the fields.
    return JSON.stringify({
      level: entry.level,
      message: entry.message,
      timestamp: entry.timestamp,
      logError: `fields could not be serialized: ${(error as Error).message}`,
    });
  }
}

/** The function's identity and the invocation's X-Ray trace id, as a line carries them. */
interface LineIdentity {
  readonly service: string | undefined;
  readonly stage: string | undefined;
  readonly function: string;
  readonly xrayTraceId: string | undefined;
}

function functionIdentity(): LineIdentity {
  return { service: readEnv(ENV.service), stage: readEnv(ENV.stage), function: handlerName(), xrayTraceId: xrayTraceId() };
}

// Read from the environment once per scope (one record, one request: inside one invocation, where Lambda changes none of
// them), at its first line: each read of process.env is a call into Node's C++ side, and a record writes several lines.
const identities = new WeakMap<InvocationScope, LineIdentity>();

function scopeIdentity(scope: InvocationScope): LineIdentity {
  let identity = identities.get(scope);
  if (identity === undefined) identities.set(scope, (identity = functionIdentity()));
  return identity;
}

/**
 * Creates a logger. Every line carries `level`, `message`, `timestamp`, `service`, `stage`, `function`, and when known
 * `correlationId`, `eventId`, `eventType`, `traceparent`, `xrayTraceId`, `requestId`, then the given fields. Inside a
 * scope (`runInScope`: a record, a request) `service`, `stage`, `function` and `xrayTraceId` are read from the
 * environment at the scope's first line and kept for the scope; outside one, on every line.
 * @example
 * const log = createLogger({ fields: { component: "invoices" } });
 * log.info("invoice issued", { invoiceId });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const base = options.fields ?? {};

  function log(level: LogLevel, message: string, fields?: LogFields): void {
    if (rank[level] < rank[options.level ?? logLevel()]) return;
    const scope = currentScope();
    const identity = scope ? scopeIdentity(scope) : functionIdentity();
    const entry: Record<string, unknown> = {
      level,
      message,
      timestamp: new Date().toISOString(),
      service: identity.service,
      stage: identity.stage,
      function: identity.function,
      correlationId: scope?.correlationId,
      eventId: scope?.eventId,
      eventType: scope?.eventType,
      traceparent: scope?.traceparent,
      xrayTraceId: identity.xrayTraceId,
      requestId: scope?.requestId,
      ...base,
      ...fields,
    };
    write(stringify(entry, isPlain(entry, 0)));
  }

  return {
    debug: (message, fields) => log("DEBUG", message, fields),
    info: (message, fields) => log("INFO", message, fields),
    warn: (message, fields) => log("WARN", message, fields),
    error: (message, fields) => log("ERROR", message, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** The process-wide logger. */
export const logger: Logger = createLogger();
