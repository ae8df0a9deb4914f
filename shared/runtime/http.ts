import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type * as z from "zod/mini";
import { BusinessRuleError, HttpError, type ValidationIssue } from "./errors";
import { derivedEventId, newEventId } from "./event-id";
import { runInScope, type InvocationScope } from "./invocation-scope";
import { createRouter, type RouteKey } from "./http-router";
import { requireEnv, serviceName } from "./function-environment";
import { logger as rootLogger, type Logger } from "./logger";
import {
  callerScope,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  parseIdempotencyKey,
  RequestIdempotency,
  requestFingerprint,
  type IdempotencyMode,
  type StoredResponse,
} from "./request-idempotency";
import { newTraceparent, parseTraceparent, traceparentFromXRay } from "./trace-context";
import { validate } from "./validation";
import { ENV } from "../contract/environment";

/** The request header that carries the correlation id in and out. */
export const CORRELATION_ID_HEADER = "x-correlation-id";

/** What a route handler gets. */
export interface HttpRequest<B> {
  /** The parsed, validated body (`undefined` for routes without a body schema). */
  readonly body: B;
  readonly routeKey: RouteKey;
  readonly method: string;
  readonly path: string;
  readonly pathParameters: Readonly<Record<string, string>>;
  /** Query string parameters (repeated keys joined with commas, as API Gateway does). */
  readonly query: Readonly<Record<string, string>>;
  /** Headers with lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly correlationId: string;
  /** The request's `Idempotency-Key` (unquoted), when the route uses it and the client sent one. */
  readonly idempotencyKey?: string;
  /**
   * An id for something this request creates, by name: the same for every call with that name in this request
   * and, when the request carries an `Idempotency-Key`, in every retry of it (derived from the key's record), so a
   * retried request writes the same item again instead of a second one. Random without a key.
   * @example
   * const orderId = stableId("orderId");
   * await orders().put({ orderId, ... }).go(); // put, not create: a retry writes the same item again
   */
  stableId(name: string): string;
  readonly logger: Logger;
  /** The raw API Gateway event. */
  readonly event: APIGatewayProxyEventV2;
  readonly lambdaContext?: Context;
}

/** What a route handler returns; `body` is sent as JSON. */
export interface HttpResult {
  /** @default 200, or 204 without a body */
  status?: number;
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
}

/** A route: an optional body schema and the handler. Build it with `route()`, which types the handler's body. */
export interface Route {
  readonly body?: z.ZodMiniType;
  /**
   * The `Idempotency-Key` header: `"optional"` (a request with a key is answered once per key, see `httpHandler`;
   * one without runs as always), `"required"` (400 without a key), `"off"` (the header is ignored).
   * @default "optional" for POST, PUT, PATCH, DELETE and ANY; "off" for GET, HEAD and OPTIONS (safe methods)
   */
  readonly idempotency?: IdempotencyMode;
  readonly handler: (request: HttpRequest<any>) => Promise<HttpResult> | HttpResult;
}

/**
 * Defines a route. With a `body` schema, requests must carry a JSON body that matches it (else 415 or 400) and the
 * handler receives it parsed and typed.
 * @example
 * route({ body: placeOrderBody, handler: async ({ body }) => ({ status: 202, body: { orderId: body.orderId } }) })
 */
export function route<S extends z.ZodMiniType>(definition: {
  body: S;
  idempotency?: IdempotencyMode;
  handler: (request: HttpRequest<z.infer<S>>) => Promise<HttpResult> | HttpResult;
}): Route;
export function route(definition: {
  idempotency?: IdempotencyMode;
  handler: (request: HttpRequest<undefined>) => Promise<HttpResult> | HttpResult;
}): Route;
export function route(definition: Route): Route {
  return definition;
}

export interface HttpOptions {
  /**
   * Largest accepted request body in bytes (after base64 decoding); larger ones get 413.
   * @default 262144 (256 KiB, what one SNS message can carry)
   */
  maxBodyBytes?: number;
  /** Requests with an `Idempotency-Key` (records in `ENV.idempotencyTable`). */
  idempotency?: {
    /**
     * How long a key is remembered after its first use: retries within it are answered with the first result.
     * @default 86400 (one day)
     */
    expiresAfterSeconds?: number;
    /**
     * How long a request in progress holds its key (others get 409); after it, a crashed attempt can be retried.
     * @default the invocation's remaining time, else 30 (API Gateway's longest integration timeout)
     */
    lockTimeoutSeconds?: number;
  };
}

/** A Lambda handler for API Gateway HTTP API (payload format 2.0). */
export type HttpHandler = (event: APIGatewayProxyEventV2, context?: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const CORRELATION_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function lowercaseHeaders(headers: APIGatewayProxyEventV2["headers"] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}

function definedValues(record: Readonly<Record<string, string | undefined>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(record ?? {})) if (value !== undefined) out[name] = value;
  return out;
}

function json(status: number, body: unknown, correlationId: string, headers: Readonly<Record<string, string>> = {}) {
  const result: APIGatewayProxyStructuredResultV2 = {
    statusCode: status,
    headers: { ...headers, "content-type": "application/json", [CORRELATION_ID_HEADER]: correlationId },
  };
  if (body !== undefined) result.body = JSON.stringify(body);
  return result;
}

function problem(status: number, code: string, message: string, correlationId: string, issues: readonly ValidationIssue[] = []) {
  return json(status, { error: code, message, correlationId, ...(issues.length ? { issues } : {}) }, correlationId);
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Who is calling, as API Gateway authorized it: the IAM caller, or the JWT's issuer and subject. */
function callerOf(event: APIGatewayProxyEventV2): string | undefined {
  const authorizer = (event.requestContext as { authorizer?: any } | undefined)?.authorizer;
  const iam = authorizer?.iam;
  if (iam?.userArn || iam?.accessKey) return `iam:${iam.userArn ?? iam.accessKey}`;
  const claims = authorizer?.jwt?.claims;
  if (claims?.sub) return `jwt:${claims.iss ?? ""}|${claims.sub}`;
  return undefined;
}

/**
 * Turns routes into an API Gateway HTTP API handler. It answers 404 for an unknown route, 413 for a body over
 * `maxBodyBytes`, 415 when a route expects a JSON body and the content type is not JSON, 400 for malformed JSON or
 * a body that breaks the schema (with the field paths), the handler's `HttpError` status, 422 for a
 * `BusinessRuleError`, and 500 "internal error" for anything else (never a stack trace). The correlation id comes
 * from the `x-correlation-id` header or is new, is returned in that header, and flows into published events.
 *
 * `Idempotency-Key` (IETF httpapi draft), on routes where it is not `"off"`: a malformed key gets 400 (and a
 * missing one on a `"required"` route); the first request with a key runs and a final answer (any status below 500)
 * is stored for a day; a retry with the same key and the same request (method, path, query, body) gets that answer
 * again (header `idempotent-replayed: true`) without running the handler; the same key with a different request
 * gets 422; a retry while the first is still running gets 409. After a 500 (a failed publish, say) the retry runs
 * the handler again with the ids of the first attempt: `stableId(name)` and published event ids are derived from
 * the key's record, so it writes the same item and publishes the same event ids (consumers apply them once).
 * @example
 * export const handler = httpHandler({
 *   "POST /orders": route({ body: placeOrderBody, handler: placeOrder }),
 *   "GET /orders/{orderId}": route({ handler: getOrder }),
 * });
 */
export function httpHandler(routes: Readonly<Partial<Record<RouteKey, Route>>>, options: HttpOptions = {}): HttpHandler {
  const maxBodyBytes = options.maxBodyBytes ?? 262_144;
  const match = createRouter(routes);
  let records: RequestIdempotency | undefined;

  function requestRecords(): RequestIdempotency {
    const table = requireEnv(ENV.idempotencyTable, "Idempotency-Key records (give the route's function `idempotency: true`)");
    if (records?.table !== table) records = new RequestIdempotency({ table, expiresAfterSeconds: options.idempotency?.expiresAfterSeconds });
    return records;
  }

  function lockMilliseconds(context: Context | undefined): number {
    if (options.idempotency?.lockTimeoutSeconds !== undefined) return options.idempotency.lockTimeoutSeconds * 1000;
    const remaining = context?.getRemainingTimeInMillis?.();
    return remaining !== undefined && remaining > 0 ? remaining : 30_000;
  }

  return async (event, context) => {
    const started = Date.now();
    const headers = lowercaseHeaders(event.headers);
    const incoming = headers[CORRELATION_ID_HEADER];
    const correlationId = incoming && CORRELATION_ID.test(incoming) ? incoming : newEventId();
    const scope: InvocationScope = {
      correlationId,
      traceparent:
        (parseTraceparent(headers.traceparent) && headers.traceparent) ||
        traceparentFromXRay(headers["x-amzn-trace-id"]) ||
        traceparentFromXRay(process.env._X_AMZN_TRACE_ID) ||
        newTraceparent(),
      requestId: context?.awsRequestId ?? event.requestContext?.requestId,
      sequence: new Map(),
    };
    const method = event.requestContext?.http?.method ?? "GET";
    const path = event.rawPath ?? event.requestContext?.http?.path ?? "/";

    return runInScope(scope, async () => {
      const log = rootLogger.child({ method, path });
      const respond = (result: APIGatewayProxyStructuredResultV2, routeKey?: string) => {
        log.info("request handled", { routeKey, status: result.statusCode, durationMs: Date.now() - started });
        return result;
      };

      const found = match(event.routeKey, method, path, event.pathParameters);
      if (!found) return respond(problem(404, "not-found", `no route for ${method} ${path}`, correlationId));
      const { key, route: target, pathParameters } = found;

      let text = event.body ?? "";
      if (text && event.isBase64Encoded) text = Buffer.from(text, "base64").toString("utf8");
      const size = Buffer.byteLength(text);
      if (size > maxBodyBytes) {
        return respond(problem(413, "payload-too-large", `the body is ${size} bytes; the limit is ${maxBodyBytes}`, correlationId), key);
      }

      // The Idempotency-Key is checked before the body: a bad key is refused whatever the body says.
      const mode: IdempotencyMode = target.idempotency ?? (SAFE_METHODS.has(method.toUpperCase()) ? "off" : "optional");
      let idempotencyKey: string | undefined;
      if (mode !== "off") {
        const raw = headers[IDEMPOTENCY_KEY_HEADER];
        if (raw === undefined || raw.trim() === "") {
          if (mode === "required") {
            return respond(
              problem(400, "idempotency-key-missing", `${key} requires an Idempotency-Key header (a random UUID per operation; reuse it only to retry)`, correlationId),
              key,
            );
          }
        } else {
          const parsed = parseIdempotencyKey(raw);
          if ("error" in parsed) return respond(problem(400, "invalid-idempotency-key", parsed.error, correlationId), key);
          idempotencyKey = parsed.key;
        }
      }

      let body: unknown;
      let parsedJson: unknown;
      if (target.body) {
        const contentType = headers["content-type"] ?? "";
        if (!JSON_TYPE.test(contentType)) {
          const got = contentType ? `"${contentType}"` : "no content type";
          return respond(problem(415, "unsupported-media-type", `expected an application/json body, got ${got}`, correlationId), key);
        }
        if (!text.trim()) return respond(problem(400, "invalid-body", "a JSON body is required", correlationId), key);
        try {
          body = JSON.parse(text);
        } catch (error) {
          const detail = (error as Error).message;
          return respond(problem(400, "malformed-json", `the body is not valid JSON: ${detail}`, correlationId), key);
        }
        parsedJson = body;
        const checked = validate(target.body, body);
        if (!checked.success) {
          const where = checked.issues.map((i) => i.path || "(body)").join(", ");
          return respond(problem(400, "invalid-body", `the body is invalid at ${where}`, correlationId, checked.issues), key);
        }
        body = checked.data;
      }

      // Idempotency-Key: claim the key's record (see request-idempotency.ts for the design).
      let claimed: { recordKey: string; owner: string; seed: string } | undefined;
      if (idempotencyKey !== undefined) {
        try {
          const records = requestRecords();
          const recordKey = `${serviceName("Idempotency-Key records")}#${key}#${callerScope(callerOf(event))}#${idempotencyKey}`;
          const fingerprint = requestFingerprint({
            method,
            path,
            query: event.rawQueryString ?? "",
            body: target.body ? { json: parsedJson } : { text },
          });
          const claim = await records.claim(recordKey, fingerprint, lockMilliseconds(context));
          if (claim.kind === "mismatch") {
            return respond(
              problem(422, "idempotency-key-reused", `this Idempotency-Key was already used for a different request to ${key}; use a new key for a new operation`, correlationId),
              key,
            );
          }
          if (claim.kind === "in-progress") {
            return respond(
              problem(409, "idempotency-key-in-progress", "a request with this Idempotency-Key is still being processed; retry after it finishes", correlationId),
              key,
            );
          }
          if (claim.kind === "completed") {
            log.info("idempotent replay of a completed request");
            const replay: APIGatewayProxyStructuredResultV2 = {
              statusCode: claim.response.statusCode,
              headers: { ...claim.response.headers, [IDEMPOTENT_REPLAYED_HEADER]: "true", [CORRELATION_ID_HEADER]: correlationId },
            };
            if (claim.response.body !== undefined) replay.body = claim.response.body;
            return respond(replay, key);
          }
          claimed = { recordKey, owner: claim.owner, seed: claim.seed };
          if (claim.retry) log.info("retry of an earlier attempt with this Idempotency-Key: ids and event ids are those of the first attempt");
        } catch (error) {
          log.error("the Idempotency-Key record could not be read or written", { error });
          return respond(problem(500, "internal", "internal error", correlationId), key);
        }
      }

      // Inside a claimed key, ids (stableId and published event ids) derive from the record's seed.
      const idSeed = claimed ? `${claimed.recordKey}#${claimed.seed}` : undefined;
      const stable = new Map<string, string>();
      const stableId = (name: string) => {
        let id = stable.get(name);
        if (id === undefined) {
          id = idSeed !== undefined ? derivedEventId(idSeed, "stable-id", name) : newEventId();
          stable.set(name, id);
        }
        return id;
      };
      const requestScope: InvocationScope = idSeed !== undefined ? { ...scope, idSeed, sequence: new Map() } : scope;

      let response: APIGatewayProxyStructuredResultV2;
      try {
        const result = await runInScope(requestScope, () =>
          target.handler({
            body,
            routeKey: key,
            method,
            path,
            pathParameters,
            query: definedValues(event.queryStringParameters),
            headers,
            correlationId,
            ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
            stableId,
            logger: log,
            event,
            lambdaContext: context,
          }),
        );
        const status = result.status ?? (result.body === undefined ? 204 : 200);
        response = json(status, result.body, correlationId, result.headers);
      } catch (error) {
        if (error instanceof HttpError) {
          response = problem(error.status, error.code, error.message, correlationId, error.issues);
        } else if (error instanceof BusinessRuleError) {
          response = problem(422, "business-rule", error.message, correlationId);
        } else {
          log.error("request failed", { error });
          response = problem(500, "internal", "internal error", correlationId);
        }
      }

      if (claimed) {
        const records = requestRecords();
        const status = response.statusCode ?? 200;
        if (status < 500) {
          // Final: every retry with this key gets this answer. If it cannot be stored, the lock expires and a retry
          // runs the handler again with the same ids.
          const { [CORRELATION_ID_HEADER]: _own, ...kept } = (response.headers ?? {}) as Record<string, string>;
          const stored: StoredResponse = { statusCode: status, headers: kept, ...(response.body !== undefined ? { body: response.body } : {}) };
          await records
            .complete(claimed.recordKey, claimed.owner, stored)
            .catch((error: unknown) => log.error("the response could not be stored under its Idempotency-Key", { error }));
        } else {
          // Not final: a retry with the same key and body runs the handler again, with the same ids.
          await records
            .release(claimed.recordKey, claimed.owner)
            .catch((error: unknown) => log.warn("could not release the Idempotency-Key; it frees itself when its lock expires", { error }));
        }
      }
      return respond(response, key);
    });
  };
}
