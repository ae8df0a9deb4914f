import { test } from "uvu";
import * as assert from "uvu/assert";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import * as z from "zod/mini";
import { BusinessRuleError, HttpError } from "../errors";
import { httpHandler, route } from "../http";
import { createPublisher } from "../publisher";
import { parseTraceparent } from "../trace-context";
import { TEST_TOPICS } from "./helpers/aws-environment";
import { fixture, httpRequest, lambdaContext } from "./helpers/events";
import { THROTTLED } from "./helpers/sns-server";
import { snsStubFor } from "./helpers/sns-suite";

const sns = snsStubFor(test, { service: "orders", handler: "api" });
const orders = createPublisher("orders");

const placeOrderBody = z.object({
  customerId: z.string().check(z.minLength(1)),
  items: z.array(z.object({ sku: z.string(), quantity: z.int().check(z.positive()) })).check(z.minLength(1)),
  total: z.object({ amount: z.number(), currency: z.string().check(z.regex(/^[A-Z]{3}$/)) }),
});

const handler = httpHandler(
  {
    "POST /orders": route({
      body: placeOrderBody,
      handler: async ({ body }) => {
        const orderId = `order-${body.customerId}`;
        const event = await orders.publish("orders.order-placed", { orderId, ...body });
        return { status: 202, body: { orderId, eventId: event.id } };
      },
    }),
    "GET /orders/{orderId}": route({
      handler: ({ pathParameters }) => {
        if (pathParameters.orderId !== "o-1") throw new HttpError(404, `order ${pathParameters.orderId} not found`, { code: "order-not-found" });
        return { body: { orderId: pathParameters.orderId } };
      },
    }),
    "POST /orders/{orderId}/cancel": route({
      handler: () => {
        throw new BusinessRuleError("a shipped order cannot be cancelled");
      },
    }),
    "DELETE /orders/{orderId}": route({ handler: () => ({}) }),
    "GET /boom": route({
      handler: () => {
        throw new Error("db password is hunter2");
      },
    }),
    "POST /lambda": route({ handler: ({ headers }) => ({ body: { auth: headers.authorization } }) }),
    "POST /cognito": route({
      handler: ({ event }) => ({ body: { user: (event.requestContext as any).authorizer.jwt.claims["cognito:username"] } }),
    }),
    "POST /my/{name}": route({ handler: ({ pathParameters, query, body }) => ({ body: { pathParameters, query, body: body ?? null } }) }),
  },
  { maxBodyBytes: 2048 },
);

function body(response: APIGatewayProxyStructuredResultV2): any {
  return response.body === undefined ? undefined : JSON.parse(response.body);
}

const post = (path: string, payload: unknown, headers: Record<string, string> = {}) =>
  handler(httpRequest("POST", path, { body: typeof payload === "string" ? payload : JSON.stringify(payload), headers }), lambdaContext());

const order = { customerId: "c-1", items: [{ sku: "sku-1", quantity: 1 }], total: { amount: 10, currency: "EUR" } };


test("a valid request runs the handler and publishes with the request's correlation id", async () => {
  const response = await post("/orders", order, { "x-correlation-id": "corr-from-client" });
  assert.is(response.statusCode, 202);
  assert.is(response.headers!["content-type"], "application/json");
  assert.is(response.headers!["x-correlation-id"], "corr-from-client");
  assert.equal(body(response), { orderId: "order-c-1", eventId: body(response).eventId });
  const [event] = sns.events(TEST_TOPICS["orders.order-placed"]);
  assert.is(event.correlationid, "corr-from-client");
  assert.is(event.id, body(response).eventId);
  assert.is(event.causationid, undefined);
  assert.equal(event.data, { orderId: "order-c-1", ...order });
});

test("without a correlation id header, a new one is made and returned; a malformed one is replaced", async () => {
  const fresh = await post("/orders", order);
  const id = fresh.headers!["x-correlation-id"] as string;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.is(sns.events()[0].correlationid, id);
  const injected = await post("/orders", order, { "x-correlation-id": "evil\nline" });
  assert.match(injected.headers!["x-correlation-id"] as string, /^[0-9a-f-]{36}$/);
});

test("a traceparent header is continued: same trace id, new span", async () => {
  await post("/orders", order, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  const context = parseTraceparent(sns.events()[0].traceparent)!;
  assert.is(context.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.is.not(context.parentId, "00f067aa0ba902b7");
});

test("malformed JSON: 400 that says so", async () => {
  const response = await post("/orders", '{"customerId": "c-1",');
  assert.is(response.statusCode, 400);
  const problem = body(response);
  assert.is(problem.error, "malformed-json");
  assert.match(problem.message, /^the body is not valid JSON/);
  assert.is(problem.correlationId, response.headers!["x-correlation-id"]);
  assert.is(sns.published.length, 0);
});

test("a body that breaks the schema: 400 with every field path", async () => {
  const response = await post("/orders", { ...order, items: [{ sku: "a", quantity: 0 }], total: { amount: "10", currency: "eur" } });
  assert.is(response.statusCode, 400);
  const problem = body(response);
  assert.is(problem.error, "invalid-body");
  assert.equal(problem.issues.map((i: { path: string }) => i.path).sort(), ["items.0.quantity", "total.amount", "total.currency"]);
  assert.match(problem.message, /items\.0\.quantity/);
  assert.ok(problem.issues.every((i: { message: string }) => i.message.length > 0 && i.message !== "Invalid input"));
  assert.is(sns.published.length, 0);
});

test("an oversized body: 413, before it is parsed", async () => {
  const response = await post("/orders", { ...order, note: "x".repeat(3000) });
  assert.is(response.statusCode, 413);
  assert.is(body(response).error, "payload-too-large");
  const encoded = httpRequest("POST", "/orders", { body: Buffer.from(JSON.stringify({ pad: "y".repeat(2100) })).toString("base64"), isBase64Encoded: true });
  assert.is((await handler(encoded)).statusCode, 413, "measured after base64 decoding");
});

test("an unknown route: 404", async () => {
  const response = await handler(httpRequest("GET", "/nowhere"));
  assert.is(response.statusCode, 404);
  assert.equal(body(response), { error: "not-found", message: "no route for GET /nowhere", correlationId: response.headers!["x-correlation-id"] });
  assert.is((await handler(httpRequest("PUT", "/orders"))).statusCode, 404, "known path, unknown method");
});

test("a body route with a non-JSON content type: 415; a JSON suffix type is fine", async () => {
  const form = await post("/orders", "customerId=c-1", { "content-type": "application/x-www-form-urlencoded" });
  assert.is(form.statusCode, 415);
  assert.is(body(form).error, "unsupported-media-type");
  assert.is((await post("/orders", order, { "content-type": "application/vnd.api+json; charset=utf-8" })).statusCode, 202);
  assert.is((await post("/orders", order, { "Content-Type": "Application/JSON" })).statusCode, 202, "header names and type case-insensitive");
});

test("a body route without a body: 400", async () => {
  const response = await handler(httpRequest("POST", "/orders", { headers: { "content-type": "application/json" } }));
  assert.is(response.statusCode, 400);
  assert.is(body(response).message, "a JSON body is required");
});

test("a base64-encoded JSON body is decoded", async () => {
  const request = httpRequest("POST", "/orders", { body: Buffer.from(JSON.stringify(order)).toString("base64"), isBase64Encoded: true });
  assert.is((await handler(request)).statusCode, 202);
});

test("errors: HttpError keeps its status, BusinessRuleError is 422, anything else a bare 500", async () => {
  const missing = await handler(httpRequest("GET", "/orders/o-2", { routeKey: "GET /orders/{orderId}" }));
  assert.is(missing.statusCode, 404);
  assert.equal(body(missing), { error: "order-not-found", message: "order o-2 not found", correlationId: missing.headers!["x-correlation-id"] });
  const rule = await handler(httpRequest("POST", "/orders/o-1/cancel", { routeKey: "POST /orders/{orderId}/cancel" }));
  assert.is(rule.statusCode, 422);
  assert.is(body(rule).message, "a shipped order cannot be cancelled");
  const boom = await handler(httpRequest("GET", "/boom"), lambdaContext());
  assert.is(boom.statusCode, 500);
  assert.equal(body(boom), { error: "internal", message: "internal error", correlationId: boom.headers!["x-correlation-id"] });
  assert.not.match(boom.body!, /hunter2|at |stack/);
});

test("a failing publish inside a request is a 500, not a leak", async () => {
  sns.fail(THROTTLED);
  const response = await post("/orders", order);
  assert.is(response.statusCode, 500);
  assert.is(body(response).message, "internal error");
});

test("results: a body gives 200, none gives 204", async () => {
  const found = await handler(httpRequest("GET", "/orders/o-1", { routeKey: "GET /orders/{orderId}" }));
  assert.is(found.statusCode, 200);
  assert.equal(body(found), { orderId: "o-1" });
  const deleted = await handler(httpRequest("DELETE", "/orders/o-1", { routeKey: "DELETE /orders/{orderId}" }));
  assert.is(deleted.statusCode, 204);
  assert.is(deleted.body, undefined);
});

test("with the $default route, method and path are matched against the templates", async () => {
  const event = httpRequest("GET", "/orders/o%2D1", { routeKey: "$default" });
  const response = await handler(event);
  assert.is(response.statusCode, 200);
  assert.equal(body(response), { orderId: "o-1" });
});

test("fixtures apigw-http-v2.json and -jwt.json: real captures reach their routes", async () => {
  const plain = await handler(fixture<APIGatewayProxyEventV2>("apigw-http-v2.json"), lambdaContext());
  assert.is(plain.statusCode, 200);
  assert.equal(body(plain), { auth: "Bearer foo" });
  const jwt = await handler(fixture<APIGatewayProxyEventV2>("apigw-http-v2-jwt.json"), lambdaContext());
  assert.is(jwt.statusCode, 200);
  assert.equal(body(jwt), { user: "aamorosi" });
});

test("fixture apigw-http-v2-full.json: $default route, capitalized headers, repeated query keys", async () => {
  const event = fixture<APIGatewayProxyEventV2>("apigw-http-v2-full.json");
  const response = await handler(event, lambdaContext());
  assert.is(response.statusCode, 200);
  assert.equal(body(response), {
    pathParameters: { name: "path" },
    query: { parameter1: "value1,value2", parameter2: "value" },
    body: null,
  });
  const withSchema = httpHandler({ "POST /my/path": route({ body: z.object({ message: z.string() }), handler: ({ body: b }) => ({ body: b }) }) });
  assert.is((await withSchema(event)).statusCode, 415, "the sample's JSON body comes without a content type");
  const typed = { ...event, headers: { ...event.headers, "Content-Type": "application/json" } };
  assert.equal(body(await withSchema(typed)), { message: "hello world" }, "unknown fields are dropped by the schema");
});

test("the API Gateway trace header starts the trace of published events", async () => {
  const lambda = httpHandler({
    "POST /lambda": route({ handler: async () => ({ body: await orders.publish("orders.order-status-changed", { orderId: "o-1", status: "placed" }) }) }),
  });
  const response = await lambda(fixture<APIGatewayProxyEventV2>("apigw-http-v2.json"));
  assert.is(parseTraceparent(body(response).traceparent)!.traceId, "66705bc72b4257df30cbee696ef2cf28");
});

test.run();
