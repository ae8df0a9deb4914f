import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ACCESS_LOG_FORMAT, HTTP_API_TYPE, HttpApi, sourceArnRoute, type HttpApiArgs } from "../http-api";
import type { PlatformReference } from "../platform-reference";
import { ServiceFunction } from "../service-function";
import { platformOutputs, underMocks } from "./harness";

const HANDLER = join(__dirname, "fixtures", "handlers", "http.ts");
const SERVICE = "http-test";
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

function build(routes: (fns: { get: ServiceFunction; post: ServiceFunction }) => HttpApiArgs["routes"], extra: Partial<HttpApiArgs> = {}) {
  return underMocks(
    (p: PlatformReference) => {
      const fn = (name: string) => new ServiceFunction(name, { platform: p, service: SERVICE, handler: HANDLER, timeout: 5 });
      const fns = { get: fn("get-order"), post: fn("place-order") };
      return new HttpApi("api", { platform: p, service: SERVICE, routes: routes(fns), ...extra });
    },
    { platform },
  );
}

const routesOf = ({ get, post }: { get: ServiceFunction; post: ServiceFunction }): HttpApiArgs["routes"] => ({
  "GET /orders/{orderId}": { function: get, auth: "iam" },
  "POST /orders": { function: post, auth: { jwt: { scopes: ["orders/write"] } } },
});
const jwt = { issuer: "https://issuer.example.com", audiences: ["client-1"] };

test("an HTTP API with a $default stage: JSON access logs kept per the platform, default throttling", async () => {
  const { mocks } = await build(routesOf, { jwt, throttle: { rate: 20, burst: 40 } });
  const api = mocks.one("aws:apigatewayv2/api:Api", "api-api");
  assert.equal(api.inputs.protocolType, "HTTP");
  assert.equal(api.inputs.name, `dev-${SERVICE}-http`);
  const stage = mocks.one("aws:apigatewayv2/stage:Stage", "api-stage");
  const logs = mocks.one("aws:cloudwatch/logGroup:LogGroup", "api-access-logs");
  assert.equal(stage.inputs.apiId, api.id);
  assert.equal(stage.inputs.name, "$default");
  assert.equal(stage.inputs.autoDeploy, true);
  assert.equal(stage.inputs.accessLogSettings, { destinationArn: logs.state.arn, format: ACCESS_LOG_FORMAT });
  assert.ok(JSON.parse(ACCESS_LOG_FORMAT).requestId, "access log lines are JSON");
  assert.equal(logs.inputs.retentionInDays, platform.logs.retentionDays);
  // Under /aws/vendedlogs/, so it is not added to the account's size-capped CloudWatch Logs resource policy.
  assert.equal(logs.inputs.name, `/aws/vendedlogs/apigateway/dev-${SERVICE}-http`);
  assert.equal(stage.inputs.defaultRouteSettings, { throttlingRateLimit: 20, throttlingBurstLimit: 40, detailedMetricsEnabled: true });
});

test("each route: a Lambda proxy integration (payload 2.0) to its function, and its auth", async () => {
  const { mocks } = await build(routesOf, { jwt });
  const api = mocks.one("aws:apigatewayv2/api:Api", "api-api");
  const authorizer = mocks.one("aws:apigatewayv2/authorizer:Authorizer", "api-jwt");
  assert.equal(authorizer.inputs.authorizerType, "JWT");
  assert.equal(authorizer.inputs.jwtConfiguration, { issuer: jwt.issuer, audiences: jwt.audiences });
  assert.equal(authorizer.inputs.identitySources, ["$request.header.Authorization"]);

  const getFn = mocks.one("aws:lambda/function:Function", "get-order-function");
  const getIntegration = mocks.one("aws:apigatewayv2/integration:Integration", "api-get-orders-orderId-integration");
  assert.equal(getIntegration.inputs.apiId, api.id);
  assert.equal(getIntegration.inputs.integrationType, "AWS_PROXY");
  assert.equal(getIntegration.inputs.payloadFormatVersion, "2.0");
  assert.equal(getIntegration.inputs.integrationUri, getFn.state.arn);
  assert.equal(getIntegration.inputs.timeoutMilliseconds, 6000);

  const getRoute = mocks.one("aws:apigatewayv2/route:Route", "api-get-orders-orderId-route");
  assert.equal(getRoute.inputs.routeKey, "GET /orders/{orderId}");
  assert.equal(getRoute.inputs.target, `integrations/${getIntegration.id}`);
  assert.equal(getRoute.inputs.authorizationType, "AWS_IAM");

  const postRoute = mocks.one("aws:apigatewayv2/route:Route", "api-post-orders-route");
  assert.equal(postRoute.inputs.authorizationType, "JWT");
  assert.equal(postRoute.inputs.authorizerId, authorizer.id);
  assert.equal(postRoute.inputs.authorizationScopes, ["orders/write"]);
  const postIntegration = mocks.one("aws:apigatewayv2/integration:Integration", "api-post-orders-integration");
  assert.equal(postIntegration.inputs.integrationUri, mocks.one("aws:lambda/function:Function", "place-order-function").state.arn);
});

test("each permission names the function and is scoped to this API's execution ARN, method and path", async () => {
  const { mocks } = await build(routesOf, { jwt });
  const executionArn = mocks.one("aws:apigatewayv2/api:Api", "api-api").state.executionArn;
  const get = mocks.one("aws:lambda/permission:Permission", "api-get-orders-orderId-permission");
  assert.equal(get.inputs.action, "lambda:InvokeFunction");
  assert.equal(get.inputs.principal, "apigateway.amazonaws.com");
  assert.equal(get.inputs.function, mocks.one("aws:lambda/function:Function", "get-order-function").state.name);
  assert.equal(get.inputs.sourceArn, `${executionArn}/*/GET/orders/*`);
  const post = mocks.one("aws:lambda/permission:Permission", "api-post-orders-permission");
  assert.equal(post.inputs.sourceArn, `${executionArn}/*/POST/orders`);
  assert.equal(sourceArnRoute("ANY", "/files/{proxy+}"), "*/files/*");
});

test("without an issuer, routes default to IAM auth; 'none' must be asked for", async () => {
  const { mocks } = await build(({ get, post }) => ({ "GET /health": { function: get, auth: "none" }, "POST /orders": { function: post } }));
  assert.equal(mocks.one("aws:apigatewayv2/route:Route", "api-get-health-route").inputs.authorizationType, "NONE");
  assert.equal(mocks.one("aws:apigatewayv2/route:Route", "api-post-orders-route").inputs.authorizationType, "AWS_IAM");
  assert.equal(mocks.byType("aws:apigatewayv2/authorizer:Authorizer"), []);
});

test("registers its routes and their functions; every child is parented to the component", async () => {
  const { mocks } = await build(routesOf, { jwt });
  const component = mocks.one(HTTP_API_TYPE, "api");
  assert.equal(component.inputs, {
    service: SERVICE,
    routes: {
      "GET /orders/{orderId}": { function: "get-order", auth: "iam" },
      "POST /orders": { function: "place-order", auth: "jwt", scopes: ["orders/write"] },
    },
  });
  const children = mocks.childrenOf(component.urn).map((c) => c.name).sort();
  assert.equal(children, [
    "api-access-logs",
    "api-api",
    "api-get-orders-orderId-integration",
    "api-get-orders-orderId-permission",
    "api-get-orders-orderId-route",
    "api-jwt",
    "api-post-orders-integration",
    "api-post-orders-permission",
    "api-post-orders-route",
    "api-stage",
  ]);
});

test("refuses malformed routes and auth it cannot honour", async () => {
  const cases: [(fns: { get: ServiceFunction; post: ServiceFunction }) => HttpApiArgs["routes"], RegExp][] = [
    [({ get }) => ({ "FETCH /orders": { function: get } }), /route "FETCH \/orders" must be "<METHOD> \/path"/],
    [({ get }) => ({ "GET orders": { function: get } }), /must be "<METHOD> \/path"/],
    [({ get }) => ({ "GET /files/{path+}/meta": { function: get } }), /greedy parameter \{path\+\} must be the last segment/],
    [({ get }) => ({ "GET /a b": { function: get } }), /path segment "a b"/],
    [({ get }) => ({ "GET /orders": { function: get, auth: { jwt: {} } } }), /uses JWT auth but the API has no jwt issuer/],
    [({ get, post }) => ({ "GET /a-b": { function: get }, "GET /a/b": { function: post } }), /would share resource names/],
    [() => ({}), /give at least one route/],
  ];
  for (const [routes, message] of cases) {
    try {
      await build(routes);
      assert.unreachable(`expected ${message}`);
    } catch (err) {
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
