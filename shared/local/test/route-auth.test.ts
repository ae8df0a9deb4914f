// Route authorization as the local stage applies it (route-auth.ts): JWT checks with API Gateway's answers, the
// authorizer context in the shape of AWS's payload 2.0 JWT sample, IAM callers from SigV4 signatures.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { authorizeRoute, routeAuthLabel, type RouteAuthDecision } from "../stage/route-auth";
import type { RouteSpec } from "../stage/wiring";

const NOW = 1_800_000_000;
const ACCOUNT = "123456789012";
const JWT_ROUTE: Pick<RouteSpec, "authorizationType" | "jwt"> = {
  authorizationType: "JWT",
  jwt: { issuer: "https://issuer.local.test", audiences: ["client-a"], identitySource: "$request.header.Authorization", scopes: [] },
};
const SAMPLE = JSON.parse(readFileSync(join(__dirname, "..", "..", "testing", "fixtures", "aws-events", "apigw-http-v2-jwt.json"), "utf8")) as {
  requestContext: { authorizer: { jwt: { claims: Record<string, unknown>; scopes: unknown } } };
};

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A JWT with an unchecked signature (the local stage does not verify signatures). */
const token = (claims: Record<string, unknown>) => `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
const valid = { iss: "https://issuer.local.test", aud: "client-a", sub: "user-1", exp: NOW + 60, iat: NOW - 60 };

function decide(route: Pick<RouteSpec, "authorizationType" | "jwt">, headers: Record<string, string>, url = "/"): RouteAuthDecision {
  return authorizeRoute(route, { headers, url }, { accountId: ACCOUNT, nowSeconds: NOW });
}

function refused(decision: RouteAuthDecision, status: number, reason: RegExp): void {
  assert.is(decision.allowed, false);
  if (decision.allowed) return;
  assert.is(decision.status, status);
  assert.is(decision.message, status === 401 ? "Unauthorized" : "Forbidden");
  assert.match(decision.reason, reason);
}

test("JWT: a missing, malformed, expired, early, foreign-issuer or foreign-audience token is 401 Unauthorized", () => {
  refused(decide(JWT_ROUTE, {}), 401, /no token in \$request\.header\.Authorization/);
  refused(decide(JWT_ROUTE, { authorization: "Bearer not-a-jwt" }), 401, /not a JWT/);
  refused(decide(JWT_ROUTE, { authorization: `Bearer a.${part("x")}.c` }), 401, /not a JWT/);
  refused(decide(JWT_ROUTE, { authorization: `Bearer ${token({ ...valid, exp: NOW })}` }), 401, /expired/);
  refused(decide(JWT_ROUTE, { authorization: `Bearer ${token({ ...valid, nbf: NOW + 10 })}` }), 401, /not valid yet/);
  refused(decide(JWT_ROUTE, { authorization: `Bearer ${token({ ...valid, iss: "https://elsewhere" })}` }), 401, /issuer is https:\/\/elsewhere/);
  refused(decide(JWT_ROUTE, { authorization: `Bearer ${token({ ...valid, aud: "client-b" })}` }), 401, /for client-b, not client-a/);
});

test("JWT: aud (string or list) or client_id matches an audience; Bearer is optional; claims become strings as in AWS's sample", () => {
  for (const claims of [valid, { ...valid, aud: ["x", "client-a"] }, { ...valid, aud: undefined, client_id: "client-a" }]) {
    const decision = decide(JWT_ROUTE, { authorization: token(claims) });
    assert.ok(decision.allowed, JSON.stringify(claims));
  }
  const decision = decide(JWT_ROUTE, { authorization: `Bearer ${token({ ...valid, groups: ["a", "b"], extra: { k: 1 } })}` });
  assert.ok(decision.allowed);
  if (!decision.allowed || !decision.authorizer || !("jwt" in decision.authorizer)) throw new Error("expected a JWT authorizer context");
  assert.equal(decision.authorizer.jwt.claims, {
    iss: "https://issuer.local.test",
    aud: "client-a",
    sub: "user-1",
    exp: String(NOW + 60),
    iat: String(NOW - 60),
    groups: "[a b]",
    extra: '{"k":1}',
  });
  // The sample's shape: every claim a string, scopes null for a route without scopes.
  for (const value of Object.values(SAMPLE.requestContext.authorizer.jwt.claims)) assert.type(value, "string");
  assert.is(SAMPLE.requestContext.authorizer.jwt.scopes, null);
  assert.is(decision.authorizer.jwt.scopes, null);
});

test("JWT: a route with scopes needs one of them (scope or scp), else 403 Forbidden; the token's scopes are passed on", () => {
  const route = { ...JWT_ROUTE, jwt: { ...JWT_ROUTE.jwt!, scopes: ["orders/read", "orders/admin"] } };
  refused(decide(route, { authorization: `Bearer ${token(valid)}` }), 403, /none of the route's scopes/);
  refused(decide(route, { authorization: `Bearer ${token({ ...valid, scope: "orders/write" })}` }), 403, /orders\/read, orders\/admin/);
  const byScope = decide(route, { authorization: `Bearer ${token({ ...valid, scope: "openid orders/read" })}` });
  const byScp = decide(route, { authorization: `Bearer ${token({ ...valid, scp: ["orders/admin"] })}` });
  assert.equal(byScope.allowed && byScope.authorizer && "jwt" in byScope.authorizer ? byScope.authorizer.jwt.scopes : undefined, ["openid", "orders/read"]);
  assert.equal(byScp.allowed && byScp.authorizer && "jwt" in byScp.authorizer ? byScp.authorizer.jwt.scopes : undefined, ["orders/admin"]);
});

test("JWT: the token is read from the authorizer's identity source; without a known issuer only the audience is checked", () => {
  const route = { authorizationType: "JWT", jwt: { audiences: ["client-a"], identitySource: "$request.header.X-Token", scopes: [] } };
  assert.ok(decide(route, { "x-token": token({ ...valid, iss: "https://any" }) }).allowed);
  refused(decide(route, { authorization: `Bearer ${token(valid)}` }), 401, /no token in \$request\.header\.X-Token/);
  refused(decide({ authorizationType: "JWT" }, { authorization: token(valid) }), 401, /authorizer is unknown/);
});

test("IAM: a signed request names its caller; an unsigned one passes without an authorizer context; NONE passes", () => {
  const signed = decide({ authorizationType: "AWS_IAM" }, {
    authorization: "AWS4-HMAC-SHA256 Credential=AKIADEVELOPER/20261129/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
  });
  assert.equal(signed, {
    allowed: true,
    authorizer: {
      iam: {
        accessKey: "AKIADEVELOPER",
        accountId: ACCOUNT,
        callerId: "AKIADEVELOPER",
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: `arn:aws:iam::${ACCOUNT}:user/AKIADEVELOPER`,
        userId: "AKIADEVELOPER",
      },
    },
  });
  assert.equal(decide({ authorizationType: "AWS_IAM" }, {}), { allowed: true, note: "unsigned: API Gateway answers 403 to this on an IAM route" });
  assert.equal(decide({ authorizationType: "NONE" }, { authorization: "Bearer x" }), { allowed: true });
  assert.equal(["NONE", "AWS_IAM", "JWT"].map((t) => routeAuthLabel({ authorizationType: t })), ["none", "iam", "jwt"]);
});

test.run();
