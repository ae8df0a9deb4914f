// The one route grammar (shared/contract/route-key.ts): what the Pulumi component accepts as a key, and which
// route a request reaches, for the runtime's router and the local stage's gateway alike. The cases marked
// "disagreed" are where the three earlier copies gave different answers; the comment says which answer stays.
//
//   node --import tsx shared/contract/test/route-key.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RouteTable } from "../../local/stage/routes";
import { createRouter } from "../../runtime/http-router";
import { compareRouteSpecificity, isRouteKey, methodOfRouteKey, SAFE_HTTP_METHODS, matchRoutePath, parseRouteKey, routeArnPath, RouteKeyError, RouteMatcher } from "../route-key";

test("keys: METHOD /path with plain segments, {param}s and a greedy last {proxy+}", () => {
  assert.equal(parseRouteKey("GET /orders/{orderId}").segments, [
    { kind: "literal", value: "orders" },
    { kind: "param", name: "orderId" },
  ]);
  assert.equal(parseRouteKey("ANY /files/{proxy+}").segments.at(-1), { kind: "greedy", name: "proxy" });
  assert.equal(parseRouteKey("POST /").segments, []);
  assert.ok(isRouteKey("OPTIONS /a.b/c~d/e_f-g"));
});

test("keys that break the grammar are refused, the message naming the key and the fault", () => {
  // disagreed: the runtime's router and the local stage took any key; the component refused these. Refused everywhere.
  assert.throws(() => parseRouteKey("get /orders"), (e: Error) => e instanceof RouteKeyError && /route "get \/orders" must be "<METHOD> \/path" with METHOD one of GET, POST/.test(e.message));
  assert.throws(() => parseRouteKey("FETCH /orders"), /route "FETCH \/orders" must be/);
  assert.throws(() => parseRouteKey("GET orders"), /must be "<METHOD> \/path"/);
  assert.throws(() => parseRouteKey("GET /files/{proxy+}/meta"), /route "GET \/files\/\{proxy\+\}\/meta": a greedy parameter \{proxy\+\} must be the last segment/);
  assert.throws(() => parseRouteKey("GET /a b"), /path segment "a b" is not a plain segment or a \{parameter\}/);
  assert.throws(() => parseRouteKey("GET /orders/{1st}"), /path segment "\{1st\}"/);
  assert.throws(() => parseRouteKey("GET /orders//x"), /path segment ""/);
  assert.throws(() => new RouteMatcher().add("POST /orders", 1).add("POST /orders", 2), /route "POST \/orders" is declared twice/);
});

test("paths: parameters are URL-decoded, a greedy one takes the rest and needs at least one segment", () => {
  const byId = parseRouteKey("GET /orders/{orderId}");
  assert.equal(matchRoutePath(byId, "/orders/o%201"), { orderId: "o 1" });
  assert.equal(matchRoutePath(byId, "/orders/%E0%A4%A"), { orderId: "%E0%A4%A" }, "a malformed escape stays as sent");
  assert.is(matchRoutePath(byId, "/orders"), undefined);
  assert.is(matchRoutePath(byId, "/orders/o-1/items"), undefined);
  const files = parseRouteKey("GET /files/{path+}");
  assert.equal(matchRoutePath(files, "/files/a/b%20c/d.txt"), { path: "a/b c/d.txt" });
  assert.is(matchRoutePath(files, "/files"), undefined);
  assert.is(matchRoutePath(files, "/files/"), undefined);
  assert.equal(matchRoutePath(parseRouteKey("GET /"), "/"), {});
  assert.equal(matchRoutePath(parseRouteKey("GET /"), ""), {});
});

test("paths: a trailing slash is ignored; an empty segment matches no parameter", () => {
  // disagreed: the runtime allowed one trailing slash, the local stage any number. Any number, everywhere.
  const byId = parseRouteKey("GET /orders/{orderId}");
  assert.equal(matchRoutePath(byId, "/orders/o-1/"), { orderId: "o-1" });
  assert.equal(matchRoutePath(byId, "/orders/o-1//"), { orderId: "o-1" });
  assert.is(matchRoutePath(parseRouteKey("GET /orders/{id}/items"), "/orders//items"), undefined);
});

test("selection: the full match first, then the greedy one, then $default (AWS's order)", () => {
  // The example of AWS's developer guide ("Routing API requests"), and a greedy route that holds fewer parameters.
  const routes = new RouteMatcher<string>()
    .add("$default", "default")
    .add("ANY /{proxy+}", "root-proxy")
    .add("ANY /pets/{proxy+}", "pets-proxy")
    .add("GET /pets/dog/{id}", "dog-by-id")
    .add("POST /pets/dog/1", "post-dog-1")
    .add("GET /pets/dog/1", "get-dog-1")
    .add("GET /files/{proxy+}", "files-proxy")
    .add("GET /files/{folder}/{name}", "file");
  assert.is(routes.match("GET", "/pets/dog/1")?.target, "get-dog-1");
  assert.is(routes.match("POST", "/pets/dog/1")?.target, "post-dog-1");
  assert.is(routes.match("PUT", "/pets/dog/1")?.target, "pets-proxy");
  assert.equal(routes.match("GET", "/pets/dog/11"), { key: "GET /pets/dog/{id}", target: "dog-by-id", pathParameters: { id: "11" } });
  assert.is(routes.match("GET", "/pets/cat/1")?.target, "pets-proxy");
  assert.is(routes.match("GET", "/other/1")?.target, "root-proxy");
  assert.equal(routes.match("GET", "/"), { key: "$default", target: "default", pathParameters: {} });
  // disagreed: the runtime tried routes with fewer parameters first, so the greedy route won here. Full match first.
  assert.equal(routes.match("GET", "/files/docs/a.txt"), { key: "GET /files/{folder}/{name}", target: "file", pathParameters: { folder: "docs", name: "a.txt" } });
  assert.equal(routes.keys().slice(0, 3), ["GET /pets/dog/1", "POST /pets/dog/1", "GET /pets/dog/{id}"]);
  assert.is(routes.keys().at(-1), "$default");
});

test("selection: a route naming the method wins over ANY, whatever the order of declaration", () => {
  // disagreed: the runtime took whichever of the two was declared first. The named method, as AWS says ANY matches
  // "all methods that you haven't defined for a resource".
  for (const order of [["ANY", "GET"], ["GET", "ANY"]]) {
    const routes = new RouteMatcher<string>();
    for (const method of order) routes.add(`${method} /orders/{id}`, method);
    assert.is(routes.match("GET", "/orders/o-1")?.target, "GET");
    assert.is(routes.match("delete", "/orders/o-1")?.target, "ANY", "the request's method in any case");
  }
  assert.is(new RouteMatcher<string>().add("POST /orders", "p").match("GET", "/orders"), undefined, "no $default: nothing");
});

test("selection: among full matches, more literal segments first, then literal before parameter from the left", () => {
  // disagreed: the runtime counted literal characters (so `/{kind}/settings` beat `/a/{x}` for `/a/settings`), the
  // local stage literal segments. Segments, everywhere: a longer name is not a more specific route.
  const routes = new RouteMatcher<string>().add("GET /{kind}/settings", "settings").add("GET /a/{x}", "a");
  assert.is(routes.match("GET", "/a/settings")?.target, "a");
  const parse = parseRouteKey;
  assert.ok(compareRouteSpecificity(parse("GET /a/b"), parse("GET /a/{b}")) < 0);
  assert.ok(compareRouteSpecificity(parse("GET /a/{b}"), parse("ANY /a/{b}")) < 0);
  assert.ok(compareRouteSpecificity(parse("ANY /a/{b}/{c}"), parse("GET /a/{rest+}")) < 0);
});

test("a key's method, and which methods are queries (the rest are commands)", () => {
  // disagreed: the command-route guardrail took the first word of any key as its method (so "$connect" or "post /x"
  // counted as commands); the component parsed the key. Parsed, everywhere: what is no route key names no method.
  assert.is(methodOfRouteKey("POST /orders"), "POST");
  assert.is(methodOfRouteKey("ANY /files/{proxy+}"), "ANY");
  assert.is(methodOfRouteKey("$default"), undefined);
  assert.is(methodOfRouteKey("post /orders"), undefined);
  assert.equal([...SAFE_HTTP_METHODS].sort(), ["GET", "HEAD", "OPTIONS"]);
});

test("execute-api ARN paths: the method (or *) and each parameter as *", () => {
  assert.is(routeArnPath("GET", "/orders/{orderId}"), "GET/orders/*");
  assert.is(routeArnPath("ANY", "/files/{proxy+}"), "*/files/*");
  assert.is(routeArnPath("POST", "/"), "POST/");
});

test("the runtime's router and the local stage's gateway select alike, and refuse a bad key when built", () => {
  const keys = ["GET /pets/dog/1", "POST /pets/dog/1", "GET /pets/dog/{id}", "ANY /pets/{proxy+}", "GET /files/{proxy+}", "GET /files/{folder}/{name}", "ANY /orders/{id}", "GET /orders/{id}"] as const;
  const router = createRouter(Object.fromEntries(keys.map((k) => [k, k])));
  const table = new RouteTable<string>();
  for (const key of keys) table.add(key, key, "test");
  const requests: [string, string][] = [["GET", "/pets/dog/1"], ["PUT", "/pets/dog/1"], ["GET", "/pets/dog/11/"], ["GET", "/files/a/b"], ["GET", "/files/a/b/c"], ["GET", "/orders/o-1"], ["DELETE", "/orders/o-1"], ["GET", "/nothing"]];
  for (const [method, path] of requests) {
    const runtime = router(undefined, method, path);
    const local = table.match(method, path);
    assert.equal(runtime && { key: runtime.key, pathParameters: runtime.pathParameters }, local && { key: local.routeKey, pathParameters: local.pathParameters }, `${method} ${path}`);
  }
  assert.throws(() => createRouter({ "GET /a/{p+}/b": 1 } as never), /a greedy parameter \{p\+\} must be the last segment/);
  assert.throws(() => new RouteTable<number>().add("get /a", 1, "orders (orders-http)"), /route "get \/a" must be "<METHOD> \/path".*\(declared by orders \(orders-http\)\)/);
});

test.run();
