import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type * as z from "zod/mini";
import { BusinessRuleError, HttpError, type ValidationIssue } from "./errors";
import { newEventId } from "./event-id";
import { runInScope, type InvocationScope } from "./invocation-scope";
import { createRouter, type RouteKey } from "./http-router";
import { logger as rootLogger, type Logger } from "./logger";
import { newTraceparent, parseTraceparent, traceparentFromXRay } from "./trace-context";
import { validate } from "./validation";

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
  handler: (request: HttpRequest<z.infer<S>>) => Promise<HttpResult> | HttpResult;
}): Route;
export function route(definition: { handler: (request: HttpRequest<undefined>) => Promise<HttpResult> | HttpResult }): Route;
export function route(definition: Route): Route {
  return definition;
}

export interface HttpOptions {
  /**
   * Largest accepted request body in bytes (after base64 decoding); larger ones get 413.
   * @default 262144 (256 KiB, what one SNS message can carry)
   */
  maxBodyBytes?: number;
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

/**
 * Turns routes into an API Gateway HTTP API handler. It answers 404 for an unknown route, 413 for a body over
 * `maxBodyBytes`, 415 when a route expects a JSON body and the content type is not JSON, 400 for malformed JSON or
 * a body that breaks the schema (with the field paths), the handler's `HttpError` status, 422 for a
 * `BusinessRuleError`, and 500 "internal error" for anything else (never a stack trace). The correlation id comes
 * from the `x-correlation-id` header or is new, is returned in that header, and flows into published events.
 * @example
 * export const handler = httpHandler({
 *   "POST /orders": route({ body: placeOrderBody, handler: placeOrder }),
 *   "GET /orders/{orderId}": route({ handler: getOrder }),
 * });
 */
export function httpHandler(routes: Readonly<Partial<Record<RouteKey, Route>>>, options: HttpOptions = {}): HttpHandler {
  const maxBodyBytes = options.maxBodyBytes ?? 262_144;
  const match = createRouter(routes);

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

      let body: unknown;
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
        const checked = validate(target.body, body);
        if (!checked.success) {
          const where = checked.issues.map((i) => i.path || "(body)").join(", ");
          return respond(problem(400, "invalid-body", `the body is invalid at ${where}`, correlationId, checked.issues), key);
        }
        body = checked.data;
      }

      try {
        const result = await target.handler({
          body,
          routeKey: key,
          method,
          path,
          pathParameters,
          query: definedValues(event.queryStringParameters),
          headers,
          correlationId,
          logger: log,
          event,
          lambdaContext: context,
        });
        const status = result.status ?? (result.body === undefined ? 204 : 200);
        return respond(json(status, result.body, correlationId, result.headers), key);
      } catch (error) {
        if (error instanceof HttpError) {
          return respond(problem(error.status, error.code, error.message, correlationId, error.issues), key);
        }
        if (error instanceof BusinessRuleError) {
          return respond(problem(422, "business-rule", error.message, correlationId), key);
        }
        log.error("request failed", { error });
        return respond(problem(500, "internal", "internal error", correlationId), key);
      }
    });
  };
}
