/**
 * The trace headers, defined once: W3C `traceparent` (the envelope's extension, the HTTP header) and the X-Ray trace
 * header (`X-Amzn-Trace-Id`, SQS's `AWSTraceHeader`, Lambda's `_X_AMZN_TRACE_ID`). The runtime reads and writes
 * them inside Lambda, the local stage on every hop; nothing here draws random numbers (the callers bring new ids).
 *
 * `traceparent` (W3C Trace Context, https://www.w3.org/TR/trace-context/#traceparent-header):
 * `<version>-<trace-id>-<parent-id>-<flags>`, lowercase hex of 2, 32, 16 and 2 digits. Invalid (so ignored: the
 * receiver starts a new trace, the message itself stays valid): version `ff`, an all-zero trace or parent id, a
 * version `00` header with anything after the flags. A higher version is read by its first four fields when what
 * follows them starts with `-` (the spec's rule for versions it does not know).
 *
 * X-Ray (AWS X-Ray developer guide, "Tracing header"): `Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1|?>`,
 * fields separated by `;`, in any order, others (`Lineage`, `Self`) allowed and ignored. An X-Ray trace id is a
 * W3C trace id written differently: the 32 hex digits are the same.
 */

/** A parsed `traceparent`. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the span that sent the message. */
  readonly parentId: string;
  /** Bit 0 is "sampled". */
  readonly flags: number;
}

/** The shape of a `traceparent` (version 00's length; what the envelope schema accepts as the field). */
export const TRACEPARENT_SHAPE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** Whether a text is a trace id (32 lowercase hex digits, not all zero). */
export function isTraceId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value) && value !== ZERO_TRACE;
}

/** Whether a text is a span id (16 lowercase hex digits, not all zero). */
export function isSpanId(value: string): boolean {
  return /^[0-9a-f]{16}$/.test(value) && value !== ZERO_SPAN;
}

/** Reads a `traceparent` value; `undefined` when it is missing or invalid (then start a new trace). */
export function parseTraceparent(value: string | undefined | null): TraceContext | undefined {
  if (!value) return undefined;
  const match = FIELDS.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, flags: Number.parseInt(flags, 16) };
}

/** Writes a version-00 `traceparent`. */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.parentId}-${(context.flags & 0xff).toString(16).padStart(2, "0")}`;
}

/** A parsed X-Ray trace header. */
export interface XRayTraceHeader {
  /** The `Root` as written: `1-<8 hex>-<24 hex>`. */
  readonly root: string;
  /** The same trace as a W3C trace id (32 hex digits). */
  readonly traceId: string;
  /** The caller's segment (span) id, when the header names a valid one. */
  readonly parent?: string;
  /** `Sampled=1` true, `Sampled=0` false; absent or `?` (not decided yet): undefined. */
  readonly sampled?: boolean;
}

/** Reads an X-Ray trace header; `undefined` when it has no valid `Root`. */
export function parseXRayTraceHeader(header: string | undefined | null): XRayTraceHeader | undefined {
  if (!header) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const root = fields.get("Root") ?? "";
  const match = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(root);
  if (!match) return undefined;
  const traceId = `${match[1]}${match[2]}`;
  if (traceId === ZERO_TRACE) return undefined;
  const parent = fields.get("Parent");
  const sampled = fields.get("Sampled");
  return {
    root,
    traceId,
    ...(parent !== undefined && isSpanId(parent) ? { parent } : {}),
    ...(sampled === "1" ? { sampled: true } : sampled === "0" ? { sampled: false } : {}),
  };
}

/**
 * Writes an X-Ray trace header: `Root=1-<8>-<24>`, then `;Parent=<span>` and `;Sampled=<0|1>` when given.
 * @throws Error for a trace id or span id that is not one
 */
export function formatXRayTraceHeader(trace: { traceId: string; parent?: string; sampled?: boolean }): string {
  if (!isTraceId(trace.traceId)) throw new Error(`not a trace id (32 lowercase hex digits, not all zero): ${trace.traceId}`);
  if (trace.parent !== undefined && !isSpanId(trace.parent)) throw new Error(`not a span id (16 lowercase hex digits, not all zero): ${trace.parent}`);
  return [
    `Root=1-${trace.traceId.slice(0, 8)}-${trace.traceId.slice(8)}`,
    ...(trace.parent !== undefined ? [`Parent=${trace.parent}`] : []),
    ...(trace.sampled !== undefined ? [`Sampled=${trace.sampled ? 1 : 0}`] : []),
  ].join(";");
}

/** A trace id whose first 8 hex digits are the epoch seconds of `time` (X-Ray's rule), the rest from `random` (12 bytes of hex). */
export function xrayTraceIdAt(time: number, random24Hex: string): string {
  return `${Math.floor(time / 1000).toString(16).padStart(8, "0").slice(-8)}${random24Hex}`;
}
