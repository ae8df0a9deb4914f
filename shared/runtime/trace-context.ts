import { formatTraceparent, parseTraceparent, parseXRayTraceHeader, type TraceContext } from "../contract/trace-header";
import { cryptoModule } from "./event-id";

// The grammar of both headers is the contract's (shared/contract/trace-header.ts); this adds what needs randomness.
export { formatTraceparent, parseTraceparent, type TraceContext };

const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

// Random bytes for ids are drawn from a pool filled RANDOM_POOL_BYTES at a time (as node:crypto's randomUUID does): one
// randomBytes call per id cost more than the rest of a child traceparent, and every outgoing event takes one.
const RANDOM_POOL_BYTES = 4096;
let randomPool: Buffer | undefined;
let randomOffset = RANDOM_POOL_BYTES;

function randomHex(bytes: number, zero: string): string {
  for (;;) {
    if (randomOffset + bytes > RANDOM_POOL_BYTES) {
      randomPool ??= Buffer.allocUnsafe(RANDOM_POOL_BYTES);
      cryptoModule().randomFillSync(randomPool);
      randomOffset = 0;
    }
    const hex = randomPool!.toString("hex", randomOffset, randomOffset + bytes);
    randomOffset += bytes;
    if (hex !== zero) return hex;
  }
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
 * as in `_X_AMZN_TRACE_ID`, `X-Amzn-Trace-Id` or SQS `AWSTraceHeader`) to a `traceparent`: the same trace id, the
 * header's `Parent` (a new span id when it names none: a `traceparent` must have one), sampled unless `Sampled=0`.
 */
export function traceparentFromXRay(header: string | undefined | null): string | undefined {
  const trace = parseXRayTraceHeader(header);
  if (!trace) return undefined;
  return formatTraceparent({ traceId: trace.traceId, parentId: trace.parent ?? randomHex(8, ZERO_SPAN), flags: trace.sampled === false ? 0 : 1 });
}

/** The X-Ray trace id of the current Lambda invocation (`Root=...` of `_X_AMZN_TRACE_ID`), for log lines. */
export function xrayTraceId(): string | undefined {
  const header = process.env._X_AMZN_TRACE_ID;
  // Every log line of an invocation asks with the same header: it is parsed once.
  if (header !== lastXRay.header) lastXRay = { header, root: parseXRayTraceHeader(header)?.root };
  return lastXRay.root;
}

let lastXRay: { header: string | undefined; root: string | undefined } = { header: undefined, root: undefined };
