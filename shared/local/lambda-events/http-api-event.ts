import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { formatXRayTraceHeader, xrayTraceIdAt } from "../../contract/trace-header";
import { LOCAL_ACCOUNT_ID } from "../aws";

/** How the HTTP API route that matched the request is configured. */
export interface HttpApiEventOptions {
  /** The matched route: `$default` or `METHOD /path/{param}`. */
  routeKey: string;
  /** Values of the route's `{param}`s (omitted from the event when empty). */
  pathParameters?: Record<string, string>;
  /** Stage variables (omitted from the event when empty). */
  stageVariables?: Record<string, string>;
  /** Default {@link LOCAL_ACCOUNT_ID}. */
  accountId?: string;
  /** Default `local`. */
  apiId?: string;
  /** Default `$default`. */
  stage?: string;
  /** Default: the request's Host header (what a client used to reach the API). */
  domainName?: string;
  /** `requestContext.authorizer` (e.g. `{ jwt: { claims, scopes } }`); omitted when not given. */
  authorizer?: unknown;
  /** Default: a random id shaped like API Gateway's (`ZhNHJhhLjoEEPiw=`). */
  requestId?: string;
  /** Request time in ms; default now. */
  timeEpoch?: number;
}

const TEXT_TYPES = /^(text\/|application\/(.*\+)?(json|xml|javascript|x-www-form-urlencoded|yaml|x-yaml|graphql|csv))/i;

/** True when API Gateway would pass the body as text rather than base64. */
function isTextBody(contentType: string | undefined, contentEncoding: string | undefined, body: Buffer): boolean {
  if (contentEncoding && contentEncoding !== "identity") return false;
  if (contentType) return TEXT_TYPES.test(contentType.trim());
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** API Gateway's request time format: `17/Jun/2024:15:52:39 +0000`. */
export function apiGatewayTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

function decodeQueryComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/**
 * The API Gateway HTTP API (payload format 2.0) event for an incoming Node request whose body was read already:
 * header names lowercased and repeated headers comma-joined, cookies moved from the Cookie header to `cookies`,
 * query parameters decoded with repeated keys comma-joined, `requestContext` with `http` details, stage `$default`,
 * `time` and `timeEpoch`, the forwarding headers API Gateway adds (`x-forwarded-for/port/proto`, `x-amzn-trace-id`)
 * when absent, and the body as text or base64 (`isBase64Encoded`) as API Gateway decides by content type.
 * Optional keys (cookies, queryStringParameters, body, pathParameters, stageVariables, authorizer) are left out when
 * there is nothing to put in them, as in AWS's events.
 */
export function buildHttpApiEvent(request: IncomingMessage, body: Buffer | string | undefined, options: HttpApiEventOptions): APIGatewayProxyEventV2 {
  const url = request.url ?? "/";
  const pathAndQuery = /^[a-z]+:\/\//i.test(url) ? url.replace(/^[a-z]+:\/\/[^/]*/i, "") || "/" : url;
  const hashless = pathAndQuery.split("#")[0]!;
  const queryAt = hashless.indexOf("?");
  const rawPath = queryAt >= 0 ? hashless.slice(0, queryAt) : hashless;
  const rawQueryString = queryAt >= 0 ? hashless.slice(queryAt + 1) : "";

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === "cookie") {
      cookies.push(...value.split(";").map((c) => c.trim()).filter((c) => c.length > 0));
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const sourceIp = (request.socket?.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
  const timeEpoch = options.timeEpoch ?? Date.now();
  headers["x-forwarded-for"] ??= sourceIp;
  headers["x-forwarded-port"] ??= String(request.socket?.localPort ?? 80);
  headers["x-forwarded-proto"] ??= "http";
  headers["x-amzn-trace-id"] ??= formatXRayTraceHeader({ traceId: xrayTraceIdAt(timeEpoch, randomBytes(12).toString("hex")) });

  const query: Record<string, string> = {};
  for (const pair of rawQueryString.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decodeQueryComponent(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = eq >= 0 ? decodeQueryComponent(pair.slice(eq + 1)) : "";
    query[key] = query[key] === undefined ? value : `${query[key]},${value}`;
  }

  const domainName = options.domainName ?? headers.host ?? "localhost";
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  const text = isTextBody(headers["content-type"], headers["content-encoding"], bytes);
  const method = (request.method ?? "GET").toUpperCase();

  const requestContext: APIGatewayProxyEventV2["requestContext"] & { authorizer?: unknown } = {
    accountId: options.accountId ?? LOCAL_ACCOUNT_ID,
    apiId: options.apiId ?? "local",
    ...(options.authorizer !== undefined ? { authorizer: options.authorizer } : {}),
    domainName,
    domainPrefix: domainName.split(":")[0]!.split(".")[0]!,
    http: {
      method,
      path: rawPath,
      protocol: `HTTP/${request.httpVersion ?? "1.1"}`,
      sourceIp,
      userAgent: headers["user-agent"] ?? "",
    },
    requestId: options.requestId ?? randomBytes(11).toString("base64"),
    routeKey: options.routeKey,
    stage: options.stage ?? "$default",
    time: apiGatewayTime(timeEpoch),
    timeEpoch,
  };

  return {
    version: "2.0",
    routeKey: options.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext,
    ...(bytes.length > 0 ? { body: text ? bytes.toString("utf8") : bytes.toString("base64") } : {}),
    ...(options.pathParameters && Object.keys(options.pathParameters).length > 0 ? { pathParameters: options.pathParameters } : {}),
    isBase64Encoded: bytes.length > 0 && !text,
    ...(options.stageVariables && Object.keys(options.stageVariables).length > 0 ? { stageVariables: options.stageVariables } : {}),
  };
}

/** Reads the request body, then builds the event with {@link buildHttpApiEvent}. */
export async function readHttpApiEvent(request: IncomingMessage, options: HttpApiEventOptions): Promise<APIGatewayProxyEventV2> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return buildHttpApiEvent(request, Buffer.concat(chunks), options);
}
