import { cryptoModule } from "./event-id";

/** A parsed W3C `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header), version 00. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the span that sent the message. */
  readonly parentId: string;
  /** Bit 0 is "sampled". */
  readonly flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** Reads a `traceparent` header value; `undefined` when it is missing or malformed (then start a new trace). */
export function parseTraceparent(value: string | undefined | null): TraceContext | undefined {
  if (!value) return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId, flags] = match as unknown as [string, string, string, string, string];
  if (version === "ff" || traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, flags: Number.parseInt(flags, 16) };
}

/** Writes a version-00 `traceparent`. */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.parentId}-${(context.flags & 0xff).toString(16).padStart(2, "0")}`;
}

function randomHex(bytes: number, zero: string): string {
  let hex = cryptoModule().randomBytes(bytes).toString("hex");
  while (hex === zero) hex = cryptoModule().randomBytes(bytes).toString("hex");
  return hex;
}

/**
 * A new trace.
 * @param sampled whether the trace is recorded. @default true
 */
export function newTraceparent(sampled = true): string {
  return formatTraceparent({ traceId: randomHex(16, ZERO_TRACE), parentId: randomHex(8, ZERO_SPAN), flags: sampled ? 1 : 0 });
}

/** The context for an outgoing message: the same trace and flags as `parent`, a new span id. A new trace without a valid parent. */
export function childTraceparent(parent: string | undefined): string {
  const context = parseTraceparent(parent);
  if (!context) return newTraceparent();
  return formatTraceparent({ ...context, parentId: randomHex(8, ZERO_SPAN) });
}

/**
 * Converts an X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`,
 * as in `_X_AMZN_TRACE_ID`, `X-Amzn-Trace-Id` or SQS `AWSTraceHeader`) to a `traceparent`: X-Ray trace ids are
 * W3C trace ids written differently (8 hex digits of epoch seconds, then 24 random ones).
 */
export function traceparentFromXRay(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const fields = new Map(
    header.split(";").map((part) => {
      const at = part.indexOf("=");
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(fields.get("Root") ?? "");
  if (!root) return undefined;
  const traceId = `${root[1]}${root[2]}`;
  const parent = fields.get("Parent");
  const parentId = parent && /^[0-9a-f]{16}$/.test(parent) && parent !== ZERO_SPAN ? parent : randomHex(8, ZERO_SPAN);
  if (traceId === ZERO_TRACE) return undefined;
  return formatTraceparent({ traceId, parentId, flags: fields.get("Sampled") === "0" ? 0 : 1 });
}

/** The X-Ray trace id of the current Lambda invocation (`Root=...` of `_X_AMZN_TRACE_ID`), for log lines. */
export function xrayTraceId(): string | undefined {
  const header = process.env._X_AMZN_TRACE_ID;
  if (!header) return undefined;
  return /(?:^|;)\s*Root=([^;]+)/.exec(header)?.[1];
}
