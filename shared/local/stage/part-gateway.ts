/**
 * The HTTP gateway part: every service's routes on the stage's one port, matched and authorized as API Gateway HTTP
 * APIs do, each request handed to its function as a payload 2.0 event and the result answered as API Gateway would.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { childContext, contextFromHeader, traceHeaderOf } from "../context";
import type { FunctionHost, InvocationResult } from "../lambda/function-host";
import { readHttpApiEvent } from "../lambda-events/http-api-event";
import { readBody, sendJson } from "./http";
import type { PartHealth, StagePart } from "./parts";
import { authorizeRoute, routeAuthLabel } from "./route-auth";
import { RouteTable } from "./routes";
import type { TraceRecorder } from "./trace";
import type { FunctionSpec, RouteSpec, StageWiring } from "./wiring";

export const MAX_HTTP_BODY = 10 * 1024 * 1024;

/** What the gateway part needs. */
export interface GatewayPartOptions {
  wiring: StageWiring;
  recorder: TraceRecorder;
  hosts: () => ReadonlyMap<string, FunctionHost>;
  /** `<service>/<function>` for a function's name. */
  labelOf: (functionName: string) => string;
}

/** The gateway part: serves requests once started. */
export interface GatewayPart extends StagePart<StageWiring> {
  /** Routes, most specific first, with their functions and authorization. */
  routes(): { routeKey: string; function: string; auth: "none" | "iam" | "jwt" }[];
  /** Answers one request (404 as API Gateway when no route matches). */
  serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
}

export function gatewayPart(options: GatewayPartOptions): GatewayPart {
  const { recorder } = options;
  let wiring = options.wiring;
  let routes: RouteTable<{ spec: RouteSpec; fn: FunctionSpec }> | undefined;
  let state: PartHealth = { status: "starting" };
  let functionsByArn = new Map(wiring.functions.map((f) => [f.arn, f]));
  /** The route table of a wiring; throws (changing nothing) when two services declare one route key. */
  const routeTable = (of: StageWiring, functions: ReadonlyMap<string, FunctionSpec>) => {
    const table = new RouteTable<{ spec: RouteSpec; fn: FunctionSpec }>();
    for (const route of of.routes) {
      table.add(route.routeKey, { spec: route, fn: functions.get(route.functionArn)! }, `${route.project} (${route.api})`);
    }
    return table;
  };
  return {
    name: "gateway",
    start() {
      routes = routeTable(wiring, functionsByArn);
      state = { status: "ok", detail: `${wiring.routes.length} routes` };
    },
    stop() {
      state = { status: "stopped" };
    },
    health: () => state,
    /** Serves the new wiring's routes from the next request on (requests under way finish on their function). */
    reconcile(next) {
      const functions = new Map(next.functions.map((f) => [f.arn, f]));
      routes = routeTable(next, functions);
      functionsByArn = functions;
      wiring = next;
      state = { status: "ok", detail: `${wiring.routes.length} routes` };
    },
    routes() {
      return (routes?.keys() ?? []).map((routeKey) => {
        const target = wiring.routes.find((r) => r.routeKey === routeKey)!;
        return { routeKey, function: options.labelOf(functionsByArn.get(target.functionArn)!.name), auth: routeAuthLabel(target) };
      });
    },
    async serve(req, res, path) {
      const match = routes?.match(req.method ?? "GET", path);
      if (!match) {
        await readBody(req, MAX_HTTP_BODY);
        sendJson(res, 404, { message: "Not Found" });
        return;
      }
      const { spec, fn } = match.target;
      // The function's host as it is now (watch mode may have replaced it).
      const host = options.hosts().get(fn.name);
      if (!host) {
        await readBody(req, MAX_HTTP_BODY);
        sendJson(res, 500, { message: "Internal Server Error" });
        return;
      }
      const startedAt = performance.now();
      const decision = authorizeRoute(spec, { headers: req.headers, url: req.url ?? "/" }, { accountId: wiring.accountId });
      if (!decision.allowed) {
        await readBody(req, MAX_HTTP_BODY);
        sendJson(res, decision.status, { message: decision.message });
        return;
      }
      const event = await readHttpApiEvent(req, {
        routeKey: match.routeKey,
        pathParameters: match.pathParameters,
        accountId: wiring.accountId,
        apiId: spec.apiId,
        ...(decision.authorizer ? { authorizer: decision.authorizer } : {}),
      });
      // API Gateway's span for the request (continuing the trace of the X-Amzn-Trace-Id the event carries), the
      // invocation's under it; the function runs with a header naming its span.
      const request = contextFromHeader(event.headers["x-amzn-trace-id"], "apigateway");
      const context = childContext(request, "apigateway");
      const traceHeader = traceHeaderOf(context);
      const requestId = randomUUID();
      const node = recorder.invocationStarted({
        functionName: fn.name,
        context,
        requestId,
        request: { method: event.requestContext.http.method, path: event.rawPath, routeKey: match.routeKey, spanId: request.spanId, ...(decision.note ? { note: decision.note } : {}) },
      });
      let result: InvocationResult;
      try {
        result = await host.invoke(event, { requestId, traceHeader });
      } catch (error) {
        recorder.invocationFinished(node, { status: "failed", error: (error as Error).message });
        recorder.requestFinished(node, { status: 500, durationMs: performance.now() - startedAt });
        sendJson(res, 500, { message: "Internal Server Error" });
        return;
      }
      const answer = httpAnswer(result);
      recorder.invocationFinished(
        node,
        result.ok
          ? { status: "ok", durationMs: result.durationMs, ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}) }
          : { status: result.error.errorType === "Sandbox.Timedout" ? "timeout" : "failed", error: `${result.error.errorType}: ${result.error.errorMessage}`, durationMs: result.durationMs },
      );
      const correlation = answer.headers["x-correlation-id"] ?? (typeof req.headers["x-correlation-id"] === "string" ? req.headers["x-correlation-id"] : undefined);
      recorder.requestFinished(node, { status: answer.status, durationMs: performance.now() - startedAt, ...(correlation ? { correlationId: correlation } : {}) });
      if (!res.headersSent) {
        res.writeHead(answer.status, { ...answer.headers, "content-length": String(answer.body.length), ...(answer.cookies.length ? { "set-cookie": answer.cookies } : {}) });
        res.end(answer.body);
      }
    },
  };
}

/** What API Gateway answers for a function's result (payload format 2.0). */
export function httpAnswer(result: InvocationResult): { status: number; headers: Record<string, string>; cookies: string[]; body: Buffer } {
  const json = (status: number, message: string) => ({
    status,
    headers: { "content-type": "application/json" },
    cookies: [],
    body: Buffer.from(JSON.stringify({ message })),
  });
  if (!result.ok) return result.error.errorType === "Sandbox.Timedout" ? json(503, "Service Unavailable") : json(500, "Internal Server Error");
  const payload = result.payload;
  // A result without statusCode is the body of a 200 JSON answer (API Gateway's 2.0 inference).
  if (payload === null || typeof payload !== "object" || !("statusCode" in payload)) {
    return { status: 200, headers: { "content-type": "application/json" }, cookies: [], body: Buffer.from(JSON.stringify(payload) ?? "") };
  }
  const structured = payload as APIGatewayProxyStructuredResultV2;
  const status = Number(structured.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) return json(500, "Internal Server Error");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name.toLowerCase()] = String(value);
  const text = structured.body ?? "";
  const body = structured.isBase64Encoded ? Buffer.from(text, "base64") : Buffer.from(text, "utf8");
  return { status, headers, cookies: structured.cookies ?? [], body };
}
