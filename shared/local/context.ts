/**
 * One request context: who called, the trace (a W3C-style trace id, this hop's span id and its parent's) and the
 * correlation id travel as one value from an endpoint through the engines (SNS publish, subscription delivery, SQS
 * message, poller) and the function host, whose `_X_AMZN_TRACE_ID` names the invocation's span as `Parent`, so the
 * function's own SDK calls arrive back at the endpoints as children of its invocation.
 *
 * Trace headers are read with the runtime's grammar (`shared/runtime/trace-context.ts`): an X-Ray `Root` is a W3C
 * trace id written differently.
 */
import { randomBytes } from "node:crypto";
import { parseTraceparent, traceparentFromXRay } from "../runtime/trace-context";

/** Who called and where the call sits in its trace. */
export interface RequestContext {
  /**
   * Who called: the SigV4 access key id (a function's name, see `functionAccessKeyId`), a service principal
   * (`sns.amazonaws.com` delivering to a queue), `apigateway` (an HTTP request), `lambda` (a poller invoking) or
   * `local` (the stage itself: the admin API, `stage.invoke`).
   */
  readonly principal: string;
  /** 32 lowercase hex digits, shared by every hop of one trace. */
  readonly traceId: string;
  /** 16 lowercase hex digits: this hop's span. */
  readonly spanId: string;
  /** The span that caused this one (absent at a trace's root). */
  readonly parentSpanId?: string;
  /** The conversation's correlation id, when this hop knows it (the CloudEvent's `correlationid`). */
  readonly correlationId?: string;
  /** The `X-Amzn-Trace-Id` the request arrived with, as sent. */
  readonly traceHeader?: string;
}

// Span and trace ids are drawn from a pool of random bytes refilled 4 KiB at a time: one `randomBytes` call per
// id would cost more than the rest of a hop's bookkeeping.
let pool = Buffer.alloc(0);
let offset = 0;

function randomId(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    const hex = pool.toString("hex", offset, offset + bytes);
    offset += bytes;
    if (!/^0+$/.test(hex)) return hex;
  }
}

/** A new span id (16 hex digits). */
export function newSpanId(): string {
  return randomId(8);
}

/** A new trace id whose first 8 hex digits are the epoch seconds, so it reads as an X-Ray root as well. */
function newTraceId(): string {
  return Math.floor(Date.now() / 1000).toString(16).padStart(8, "0") + randomId(12);
}

/** A trace's first hop. */
export function rootContext(principal: string, correlationId?: string): RequestContext {
  return { principal, traceId: newTraceId(), spanId: newSpanId(), ...(correlationId ? { correlationId } : {}) };
}

/** The next hop under `parent`: same trace, a new span whose parent is `parent`'s. */
export function childContext(parent: RequestContext, principal: string = parent.principal, correlationId: string | undefined = parent.correlationId): RequestContext {
  return { principal, traceId: parent.traceId, spanId: newSpanId(), parentSpanId: parent.spanId, ...(correlationId ? { correlationId } : {}) };
}

/** The caller's trace and span in an X-Ray trace header (`X-Amzn-Trace-Id`, `AWSTraceHeader`, `_X_AMZN_TRACE_ID`). */
export function traceOfHeader(header: string | undefined): { traceId: string; parentSpanId: string } | undefined {
  const parsed = parseTraceparent(traceparentFromXRay(header));
  return parsed ? { traceId: parsed.traceId, parentSpanId: parsed.parentId } : undefined;
}

/**
 * The context of a request that arrived with `traceHeader` (as `X-Amzn-Trace-Id`, or an SQS message's
 * `AWSTraceHeader`): its own span, child of the header's `Parent`; a new trace when the header has none.
 */
export function contextFromHeader(traceHeader: string | undefined, principal: string, correlationId?: string): RequestContext {
  const trace = traceOfHeader(traceHeader);
  if (!trace) return { ...rootContext(principal, correlationId), ...(traceHeader ? { traceHeader } : {}) };
  return {
    principal,
    traceId: trace.traceId,
    spanId: newSpanId(),
    parentSpanId: trace.parentSpanId,
    ...(correlationId ? { correlationId } : {}),
    ...(traceHeader ? { traceHeader } : {}),
  };
}

/** The span a trace header names as `Parent` (the caller's span), if any. */
export function parentSpanOf(traceHeader: string | undefined): string | undefined {
  return traceOfHeader(traceHeader)?.parentSpanId;
}

/** The X-Ray trace header that makes the next hop a child of `context`: `Root=1-<8>-<24>;Parent=<span>;Sampled=1`. */
export function traceHeaderOf(context: RequestContext): string {
  return `Root=1-${context.traceId.slice(0, 8)}-${context.traceId.slice(8)};Parent=${context.spanId};Sampled=1`;
}
