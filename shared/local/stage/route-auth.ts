/**
 * Route authorization as API Gateway HTTP APIs apply it, as far as it can be done offline:
 * - `JWT` routes need a token where the authorizer's identity source says (default `Authorization`, with or without
 *   `Bearer `). A token that is not a JWT, has expired or is not yet valid, names another issuer, or is for none of
 *   the authorizer's audiences (`aud` or `client_id`) is answered 401 `{"message":"Unauthorized"}`; a token with
 *   none of the route's scopes (`scope` or `scp`) 403 `{"message":"Forbidden"}`. The token's signature is not
 *   checked: that needs the issuer's keys, which an offline stage cannot fetch. The handler gets
 *   `requestContext.authorizer.jwt` (`claims` as strings, `scopes`) as API Gateway builds it.
 * - `AWS_IAM` routes: a SigV4-signed request gets its caller in `requestContext.authorizer.iam`; the signature is
 *   not verified, and unsigned requests are let through so that plain `curl` works locally, with a note (their
 *   trace says API Gateway would answer 403).
 */
import type { IncomingHttpHeaders } from "node:http";
import { sigV4Credential } from "../endpoints/sigv4";
import type { RouteSpec } from "./wiring";

/** `requestContext.authorizer` of a payload 2.0 event. */
export type HttpApiAuthorizer =
  | { jwt: { claims: Record<string, string>; scopes: string[] | null } }
  | {
      iam: {
        accessKey: string;
        accountId: string;
        callerId: string;
        cognitoIdentity: null;
        principalOrgId: null;
        userArn: string;
        userId: string;
      };
    };

export type RouteAuthDecision =
  | { allowed: true; authorizer?: HttpApiAuthorizer; /** Let through locally, refused in AWS. */ note?: string }
  | { allowed: false; status: 401 | 403; message: "Unauthorized" | "Forbidden"; reason: string };

function unauthorized(reason: string): RouteAuthDecision {
  return { allowed: false, status: 401, message: "Unauthorized", reason };
}

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Claims as API Gateway hands them over: every value a string (arrays as `[a b]`, objects as JSON). */
function claimStrings(payload: Record<string, unknown>): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (value === null || value === undefined) continue;
    claims[name] = Array.isArray(value) ? `[${value.map(String).join(" ")}]` : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return claims;
}

function tokenScopes(payload: Record<string, unknown>): string[] {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === "string") return raw.split(" ").filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === "string");
  return [];
}

/** The header an identity source like `$request.header.Authorization` names, lower-cased. */
function headerOf(identitySource: string): string {
  const match = /^\$request\.header\.(.+)$/i.exec(identitySource);
  return (match?.[1] ?? "authorization").toLowerCase();
}

function authorizeJwt(jwt: NonNullable<RouteSpec["jwt"]>, headers: IncomingHttpHeaders, nowSeconds: number): RouteAuthDecision {
  const value = headers[headerOf(jwt.identitySource)];
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return unauthorized(`no token in ${jwt.identitySource}`);
  const token = raw.replace(/^Bearer\s+/i, "");
  const parts = token.split(".");
  const header = parts.length === 3 ? decodePart(parts[0]!) : undefined;
  const payload = header ? decodePart(parts[1]!) : undefined;
  if (!payload) return unauthorized("the token is not a JWT");
  const exp = Number(payload.exp);
  if (payload.exp !== undefined && !(exp > nowSeconds)) return unauthorized("the token has expired");
  if (payload.nbf !== undefined && Number(payload.nbf) > nowSeconds) return unauthorized("the token is not valid yet");
  if (jwt.issuer !== undefined && payload.iss !== jwt.issuer) return unauthorized(`the token's issuer is ${String(payload.iss)}, not ${jwt.issuer}`);
  if (jwt.audiences.length) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const candidates = [...aud, payload.client_id].filter((a): a is string => typeof a === "string");
    if (!candidates.some((a) => jwt.audiences.includes(a))) return unauthorized(`the token is for ${candidates.join(", ") || "no audience"}, not ${jwt.audiences.join(", ")}`);
  }
  const scopes = tokenScopes(payload);
  if (jwt.scopes.length && !scopes.some((s) => jwt.scopes.includes(s))) {
    return { allowed: false, status: 403, message: "Forbidden", reason: `the token has none of the route's scopes (${jwt.scopes.join(", ")})` };
  }
  return { allowed: true, authorizer: { jwt: { claims: claimStrings(payload), scopes: jwt.scopes.length ? scopes : null } } };
}

/** Decides on one request to a route (see the module comment for what is and is not checked locally). */
export function authorizeRoute(
  route: Pick<RouteSpec, "authorizationType" | "jwt">,
  request: { headers: IncomingHttpHeaders; url: string },
  options: { accountId: string; nowSeconds?: number },
): RouteAuthDecision {
  if (route.authorizationType === "JWT") {
    if (!route.jwt) return unauthorized("the route's JWT authorizer is unknown");
    return authorizeJwt(route.jwt, request.headers, options.nowSeconds ?? Math.floor(Date.now() / 1000));
  }
  if (route.authorizationType === "AWS_IAM") {
    const credential = sigV4Credential(request.headers, request.url);
    if (!credential) return { allowed: true, note: "unsigned: API Gateway answers 403 to this on an IAM route" };
    const { accessKeyId } = credential;
    return {
      allowed: true,
      authorizer: {
        iam: {
          accessKey: accessKeyId,
          accountId: options.accountId,
          callerId: accessKeyId,
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: `arn:aws:iam::${options.accountId}:user/${accessKeyId}`,
          userId: accessKeyId,
        },
      },
    };
  }
  return { allowed: true };
}

/** How the ready line names a route's authorization. */
export function routeAuthLabel(route: Pick<RouteSpec, "authorizationType">): "none" | "iam" | "jwt" {
  return route.authorizationType === "JWT" ? "jwt" : route.authorizationType === "AWS_IAM" ? "iam" : "none";
}
