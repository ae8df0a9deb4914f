import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runProgram } from "../../capture/run-program";
import { evaluateGuardrails, guardrailPolicies } from "../guardrails";
import { defineService, routeFunctionName, SERVICE_TYPE, type ServiceDefinition } from "../service";
import { PLATFORM_STACK, platformOutputs, policyDocument, underMocks } from "./harness";

const SAMPLE = join(__dirname, "fixtures", "sample-service");
const HANDLERS = join(__dirname, "fixtures", "handlers");
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

function define(definition: Partial<ServiceDefinition>) {
  return underMocks(
    () =>
      defineService({
        name: "svc-test",
        consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } },
        ...definition,
      }),
    { platform },
  );
}

async function rejects(definition: Partial<ServiceDefinition>, message: RegExp): Promise<void> {
  try {
    await define(definition);
    assert.unreachable(`expected ${message}`);
  } catch (err) {
    assert.match((err as Error).message, message);
  }
}

test("the sample service program is a thin declaration", () => {
  const lines = readFileSync(join(SAMPLE, "index.ts"), "utf8").trimEnd().split("\n");
  assert.ok(lines.length <= 25, `index.ts has ${lines.length} lines`);
});

test("a service program runs as `pulumi up` would run it and returns its outputs", async () => {
  const run = await runProgram({
    projectDir: SAMPLE,
    stage: "dev",
    stackOutputs: (name) => (name === "organization/platform/dev" ? platform : undefined),
  });
  const service = run.mocks.one(SERVICE_TYPE, "billing");
  assert.equal(service.inputs, { name: "billing", publishes: ["billing.invoice-issued"] });
  assert.equal(run.outputs.service, "billing");
  assert.equal(run.outputs.stage, "dev");
  assert.equal(Object.keys(run.outputs.consumers), ["bill-order"]);
  assert.match(run.outputs.consumers["bill-order"].queueUrl, /\/dev-billing-bill-order$/);
  assert.equal(run.outputs.functions, { "bill-order": "dev-billing-bill-order", "get-invoices-invoice-id": "dev-billing-get-invoices-invoice-id" });
  assert.match(run.outputs.apiUrl, /^https:\/\/.+\.execute-api\.eu-west-1\.amazonaws\.com$/);
  const reference = run.mocks.one("pulumi:pulumi:StackReference", "billing-platform");
  assert.equal(reference.inputs.name, "organization/platform/dev", "the platform stack comes from the stage config");
  assert.equal(reference.parent, service.urn);
});

test("functions publish what the service publishes unless they say otherwise", async () => {
  const { mocks } = await define({
    name: "billing",
    publishes: ["billing.invoice-issued"],
    consumers: { "bill-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } },
    http: { routes: { "GET /invoices": { handler: join(HANDLERS, "http.ts"), publishes: [] } } },
  });
  const sids = (name: string) => policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", name)).Statement.map((s) => s.Sid);
  assert.ok(sids("billing-bill-order-function-policy").includes("PublishOwnedEvents"));
  assert.not.ok(sids("billing-get-invoices-policy").includes("PublishOwnedEvents"));
  assert.not.ok(sids("billing-get-invoices-policy").includes("OwnIdempotencyRecords"), "GET routes take no idempotency grant by default");
});

test("command routes (POST, PUT, PATCH, DELETE) take their service's Idempotency-Key records by default; a route may opt out", async () => {
  const { mocks } = await define({
    name: "billing",
    http: {
      routes: {
        "POST /invoices": { handler: join(HANDLERS, "http.ts") },
        "DELETE /invoices/{invoiceId}": { handler: join(HANDLERS, "http.ts"), idempotency: false },
        "GET /invoices": { handler: join(HANDLERS, "http.ts") },
      },
    },
  });
  const policy = (name: string) => policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", name)).Statement;
  const own = policy("billing-post-invoices-policy").find((s) => s.Sid === "OwnIdempotencyRecords");
  assert.ok(own, "POST takes the grant");
  assert.equal(own!.Condition?.["ForAllValues:StringLike"], { "dynamodb:LeadingKeys": ["billing#*"] }, "its own keys only");
  const env = (name: string) => mocks.one("aws:lambda/function:Function", name).inputs.environment.variables;
  assert.ok(env("billing-post-invoices-function").PLATFORM_IDEMPOTENCY_TABLE, "and the table's name");
  assert.not.ok(policy("billing-delete-invoices-invoice-id-policy").some((s) => s.Sid === "OwnIdempotencyRecords"), "idempotency: false opts out");
  assert.not.ok(policy("billing-get-invoices-policy").some((s) => s.Sid === "OwnIdempotencyRecords"));
  // Opting a command out is the author's call, and the guardrail asks for its reason: it names exactly that route.
  const violations = await evaluateGuardrails(mocks.resources, guardrailPolicies.filter((p) => p.name === "api-command-route-idempotency"));
  assert.equal(violations.map((v) => v.name), ["billing-delete-invoices-invoice-id-function"]);
  assert.match(violations[0]!.message, /route "DELETE \/invoices\/\{invoiceId\}" runs function/);
});

test("service defaults apply to every function; a function's own settings win", async () => {
  const { mocks } = await define({
    defaults: { timeout: 20, memory: 256, environment: { A: "service" } },
    consumers: {
      first: { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") },
      second: { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts"), timeout: 5, environment: { B: "own" } },
    },
  });
  const first = mocks.one("aws:lambda/function:Function", "svc-test-first-function-function").inputs;
  const second = mocks.one("aws:lambda/function:Function", "svc-test-second-function-function").inputs;
  assert.equal([first.timeout, first.memorySize, first.environment.variables.A], [20, 256, "service"]);
  assert.equal([second.timeout, second.memorySize, second.environment.variables.A, second.environment.variables.B], [5, 256, "service", "own"]);
});

test("a service may only publish events it owns; the error names the event and its owner", async () => {
  try {
    await underMocks(
      () =>
        defineService({
          name: "billing",
          // The catalog's owners type `publishes`: another service's event does not compile either.
          // @ts-expect-error "orders.order-placed" is owned by "orders"
          publishes: ["orders.order-placed"],
          consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } },
        }),
      { platform },
    );
    assert.unreachable("a service published an event it does not own");
  } catch (err) {
    assert.match((err as Error).message, /service "billing" may not publish "orders.order-placed": its owner is "orders"/);
  }
  await rejects({ publishes: ["billing.unknown" as never] }, /publishes "billing.unknown", which is not in the event catalog/);
});

test("consumers name known event types; functions publish only what the service declares", async () => {
  await rejects(
    { consumers: { x: { event: "orders.nope" as never, handler: join(HANDLERS, "echo.ts") } } },
    /consumer "x" of service "svc-test" consumes "orders.nope", which is not in the event catalog; known types: orders.order-placed/,
  );
  await rejects(
    {
      name: "billing",
      consumers: { x: { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts"), publishes: ["billing.invoice-issued"] } },
    },
    /consumer "x" of service "billing" publishes "billing.invoice-issued", which the service does not declare/,
  );
});

test("names: kebab-case service, no two functions with one name, something to deploy", async () => {
  await rejects({ name: "Billing" }, /service name "Billing" must be kebab-case/);
  await rejects({ name: "a-service-name-longer-than-24" }, /longer than 24 characters/);
  await rejects({ consumers: {} }, /has neither consumers nor HTTP routes/);
  await rejects(
    {
      consumers: { "get-orders": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } },
      http: { routes: { "GET /orders": { handler: join(HANDLERS, "http.ts") } } },
    },
    /consumer "get-orders" and route "GET \/orders" would both be named "get-orders"/,
  );
});

test("route function names come from the route key", () => {
  assert.is(routeFunctionName("POST /orders/{orderId}"), "post-orders-order-id");
  assert.is(routeFunctionName("GET /"), "get");
  assert.is(routeFunctionName("ANY /files/{proxy+}"), "any-files-proxy");
});

test("an explicit platform stack overrides the stage config", async () => {
  const { mocks } = await underMocks(
    () =>
      defineService({
        name: "svc-test",
        platform: { stack: PLATFORM_STACK },
        consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } },
      }),
    { platform, project: "no-config" },
  );
  assert.equal(mocks.one("pulumi:pulumi:StackReference", "svc-test-platform").inputs.name, PLATFORM_STACK);
});

test.run();
