// Idempotency-Key on HTTP commands, against dynalite (the idempotency table) and the local SNS endpoint, with the
// unmodified SDK clients.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import * as z from "zod/mini";
import { BusinessRuleError, PublishError } from "../errors";
import { IDEMPOTENCY_RECORD } from "../event-lock";
import { httpHandler, route } from "../http";
import { createPublisher } from "../publisher";
import { REQUEST_RECORD, RequestIdempotency } from "../request-idempotency";
import { setFunctionEnvironment, TEST_TOPICS, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";
import { httpRequest, lambdaContext } from "./helpers/events";
import { startSnsStub, type SnsStub } from "./helpers/sns-server";

let sns: SnsStub;
let dynamo: LocalDynamo;
const orders = createPublisher("orders");

const orderBody = z.object({ customerId: z.string(), items: z.array(z.object({ sku: z.string(), quantity: z.int() })), total: z.object({ amount: z.number(), currency: z.string() }) });

/** What the handler wrote, by id: a retry that writes the same id again leaves one entry. */
const store = new Map<string, unknown>();
let runs = 0;
/** Event ids the handler tried to publish, in order (taken from the PublishError when SNS refused). */
const attempted: string[] = [];
let gate: Promise<void> | undefined;
let entered: (() => void) | undefined;

const handler = httpHandler({
  "POST /orders": route({
    body: orderBody,
    handler: async ({ body, stableId }) => {
      runs++;
      entered?.();
      if (gate) await gate;
      const orderId = stableId("orderId");
      store.set(orderId, body);
      try {
        const event = await orders.publish("orders.order-placed", { orderId, ...body });
        attempted.push(event.id);
      } catch (error) {
        if (error instanceof PublishError) attempted.push(...error.eventIds);
        throw error;
      }
      return { status: 201, body: { orderId }, headers: { location: `/orders/${orderId}` } };
    },
  }),
  "POST /orders/{orderId}/cancel": route({
    handler: () => {
      runs++;
      throw new BusinessRuleError("a shipped order cannot be cancelled");
    },
  }),
  "POST /payments": route({ idempotency: "required", handler: () => ({ status: 202, body: { ok: true } }) }),
  "POST /notes": route({ idempotency: "off", handler: () => ({ status: 201, body: { n: ++runs } }) }),
  "GET /orders/{orderId}": route({ handler: ({ pathParameters }) => ({ body: { orderId: pathParameters.orderId } }) }),
});

const order = { customerId: "c-1", items: [{ sku: "sku-1", quantity: 1 }], total: { amount: 10, currency: "EUR" } };
let n = 0;
const newKey = () => `test-key-${String(++n).padStart(4, "0")}-${Date.now()}`;

function post(path: string, payload: unknown, headers: Record<string, string> = {}, authorizer?: unknown) {
  const event = httpRequest("POST", path, { body: typeof payload === "string" ? payload : JSON.stringify(payload), headers });
  if (authorizer) (event.requestContext as any).authorizer = authorizer;
  return handler(event, lambdaContext());
}
const json = (response: APIGatewayProxyStructuredResultV2): any => (response.body === undefined ? undefined : JSON.parse(response.body));

async function records(): Promise<Record<string, any>[]> {
  return (await dynamo.scan(TEST_TABLES.idempotency)).filter((item) => String(item.id).startsWith("orders#"));
}

test.before(async () => {
  useLocalAwsEnvironment();
  dynamo = await startDynalite();
  sns = await startSnsStub();
  process.env.AWS_ENDPOINT_URL_SNS = sns.endpoint;
});
test.after(async () => {
  await sns?.close();
  await dynamo?.stop();
});
test.before.each(() => {
  sns.reset();
  store.clear();
  attempted.length = 0;
  runs = 0;
  gate = undefined;
  entered = undefined;
  setFunctionEnvironment({ service: "orders", handler: "create-order", idempotencyTable: TEST_TABLES.idempotency });
});

test("no Idempotency-Key: works as before (each request runs, new ids, no record)", async () => {
  const before = (await records()).length;
  const first = await post("/orders", order);
  const second = await post("/orders", order);
  assert.is(first.statusCode, 201);
  assert.is(second.statusCode, 201);
  assert.is.not(json(first).orderId, json(second).orderId);
  assert.is(store.size, 2);
  assert.is(sns.events(TEST_TOPICS["orders.order-placed"]).length, 2);
  assert.is((await records()).length, before, "no idempotency record without a key");
});

test("a publish that fails once, then the retry with the same key: one item, one event with the first attempt's id", async () => {
  const key = newKey();
  sns.fail({ code: "KMSDisabled", status: 400, message: "The request was rejected because the KMS key is disabled" }, { times: 1 });
  const failed = await post("/orders", order, { "idempotency-key": key });
  assert.is(failed.statusCode, 500);
  assert.is(sns.published.length, 0, "the first publish was refused");
  assert.is(store.size, 1, "the order was written before the publish failed");
  const [record] = (await records()).filter((r) => String(r.id).endsWith(`#${key}`));
  assert.is(record?.[IDEMPOTENCY_RECORD.status], "INPROGRESS", "a 500 is not final");
  assert.is(record?.[IDEMPOTENCY_RECORD.inProgressExpiration], 0, "the lock is released at once");

  const retried = await post("/orders", order, { "idempotency-key": key });
  assert.is(retried.statusCode, 201);
  assert.is(store.size, 1, "the retry wrote the same order again, not a second one");
  assert.equal([...store.keys()], [json(retried).orderId]);
  const events = sns.events(TEST_TOPICS["orders.order-placed"]);
  assert.is(events.length, 1);
  assert.is(attempted.length, 2);
  assert.is(attempted[0], attempted[1], "the retry published the event id the failed attempt had");
  assert.is(events[0].id, attempted[0]);
  assert.is(events[0].data.orderId, json(retried).orderId);

  const replay = await post("/orders", { ...order }, { "idempotency-key": key });
  assert.is(replay.statusCode, 201);
  assert.equal(json(replay), json(retried));
  assert.is(replay.headers!["idempotent-replayed"], "true");
  assert.is(replay.headers!.location, `/orders/${json(retried).orderId}`, "the stored headers come back");
  assert.is(runs, 2, "the replay did not run the handler");
  assert.is(sns.events().length, 1, "nor publish again");
});

test("the same key with another body: 422, and the handler does not run", async () => {
  const key = newKey();
  assert.is((await post("/orders", order, { "idempotency-key": key })).statusCode, 201);
  const other = await post("/orders", { ...order, customerId: "c-2" }, { "idempotency-key": key });
  assert.is(other.statusCode, 422);
  assert.is(json(other).error, "idempotency-key-reused");
  assert.is(runs, 1);
  const reordered = JSON.stringify({ total: order.total, items: order.items, customerId: order.customerId });
  const same = await post("/orders", `  ${reordered}\n`, { "idempotency-key": key });
  assert.is(same.statusCode, 201, "key order and white space do not make another request");
  assert.is(same.headers!["idempotent-replayed"], "true");
  const otherPath = await post("/orders/o-1/cancel", order, { "idempotency-key": key });
  assert.is(otherPath.statusCode, 422, "a route of its own is business-rule 422, not a replay");
  assert.is(json(otherPath).error, "business-rule");
});

test("a concurrent duplicate while the first still runs: 409; afterwards the first result", async () => {
  const key = newKey();
  let open!: () => void;
  gate = new Promise<void>((resolve) => (open = resolve));
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const first = post("/orders", order, { "idempotency-key": key });
  await inside;
  const duplicate = await post("/orders", order, { "idempotency-key": key });
  assert.is(duplicate.statusCode, 409);
  assert.is(json(duplicate).error, "idempotency-key-in-progress");
  open();
  const done = await first;
  assert.is(done.statusCode, 201);
  const later = await post("/orders", order, { "idempotency-key": key });
  assert.is(later.statusCode, 201);
  assert.equal(json(later), json(done));
  assert.is(runs, 1);
  assert.is(sns.events().length, 1);
});

test("a final error (4xx) is stored and replayed like a success", async () => {
  const key = newKey();
  const first = await post("/orders/o-1/cancel", "", { "idempotency-key": key, "content-type": "text/plain" });
  assert.is(first.statusCode, 422);
  const again = await post("/orders/o-1/cancel", "", { "idempotency-key": key, "content-type": "text/plain" });
  assert.is(again.statusCode, 422);
  assert.equal(json(again).message, "a shipped order cannot be cancelled");
  assert.is(again.headers!["idempotent-replayed"], "true");
  assert.is(runs, 1);
});

test("a malformed key: 400 that says what is wrong; a quoted key (RFC 8941 string) is accepted", async () => {
  for (const [bad, pattern] of [
    ["short", /is 5 characters long/],
    ["has spaces in it, quite long", /send exactly one|other characters/],
    ["x".repeat(256), /is 256 characters long/],
    ["8e03978e-40d5-43e8-bc93-6894a57f9324, 8e03978e-40d5-43e8-bc93-6894a57f9325", /send exactly one Idempotency-Key header/],
    ["bad\u00e9characters-0123456789", /other characters/],
  ] as const) {
    const response = await post("/orders", order, { "idempotency-key": bad });
    assert.is(response.statusCode, 400, bad);
    assert.is(json(response).error, "invalid-idempotency-key");
    assert.match(json(response).message, pattern);
  }
  assert.is(runs, 0);
  const quoted = await post("/orders", order, { "idempotency-key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"' });
  assert.is(quoted.statusCode, 201);
  const bare = await post("/orders", order, { "idempotency-key": "8e03978e-40d5-43e8-bc93-6894a57f9324" });
  assert.is(bare.headers!["idempotent-replayed"], "true", "quoted and bare are the same key");
});

test("idempotency modes: required needs a key, off ignores it, safe methods ignore it", async () => {
  const missing = await post("/payments", "", { "content-type": "text/plain" });
  assert.is(missing.statusCode, 400);
  assert.is(json(missing).error, "idempotency-key-missing");
  assert.match(json(missing).message, /POST \/payments requires an Idempotency-Key header/);
  assert.is((await post("/payments", "", { "idempotency-key": newKey() })).statusCode, 202);

  const key = newKey();
  assert.equal(json(await post("/notes", "", { "idempotency-key": key })), { n: 1 });
  assert.equal(json(await post("/notes", "", { "idempotency-key": key })), { n: 2 }, "off: the header is ignored");
  const get = await handler(httpRequest("GET", "/orders/o-1", { headers: { "idempotency-key": "short" } }));
  assert.is(get.statusCode, 200, "GET ignores the header, even a malformed one");
});

test("the key is scoped to the caller: another caller's same key is a request of its own", async () => {
  const key = newKey();
  const alice = { iam: { userArn: "arn:aws:iam::123456789012:user/alice", accessKey: "AKIAALICE" } };
  const bob = { jwt: { claims: { iss: "https://issuer.example", sub: "bob" }, scopes: [] } };
  const a = await post("/orders", order, { "idempotency-key": key }, alice);
  const b = await post("/orders", { ...order, customerId: "c-9" }, { "idempotency-key": key }, bob);
  assert.is(a.statusCode, 201);
  assert.is(b.statusCode, 201, "not 422: bob never used this key");
  assert.is.not(json(a).orderId, json(b).orderId);
  assert.is(b.headers!["idempotent-replayed"], undefined);
  const mine = (await records()).filter((r) => String(r.id).endsWith(`#${key}`)).map((r) => String(r.id));
  assert.is(mine.length, 2);
  assert.ok(mine.every((id) => id.startsWith("orders#POST /orders#")), mine.join(", "));
});

test("the record: service-prefixed key, fingerprint, seed, TTL and the stored response", async () => {
  const key = newKey();
  const response = await post("/orders", order, { "idempotency-key": key });
  const [record] = (await records()).filter((r) => String(r.id).endsWith(`#${key}`));
  assert.match(String(record!.id), /^orders#POST \/orders#-#test-key-/);
  assert.is(record![IDEMPOTENCY_RECORD.status], "COMPLETED");
  assert.match(String(record![REQUEST_RECORD.fingerprint]), /^[0-9a-f]{64}$/);
  assert.match(String(record![REQUEST_RECORD.seed]), /^[0-9a-f-]{36}$/);
  const ttl = Number(record![IDEMPOTENCY_RECORD.expiration]);
  assert.ok(Math.abs(ttl - (Date.now() / 1000 + 86_400)) < 120, `TTL a day ahead: ${ttl}`);
  const stored = JSON.parse(String(record![REQUEST_RECORD.response]));
  assert.is(stored.statusCode, 201);
  assert.is(stored.body, response.body);
  assert.is(stored.headers["x-correlation-id"], undefined, "each answer carries its own request's correlation id");
});

test("without the idempotency table a keyed request is refused (500), a request without a key still runs", async () => {
  delete process.env.PLATFORM_IDEMPOTENCY_TABLE;
  const keyed = await post("/orders", order, { "idempotency-key": newKey() });
  assert.is(keyed.statusCode, 500);
  assert.is(runs, 0, "the handler did not run without its guard");
  assert.is((await post("/orders", order)).statusCode, 201);
});

test("RequestIdempotency: a crashed attempt's lock expires and the retry takes the record over with its seed; an expired record starts anew", async () => {
  let clock = Date.parse("2026-03-01T00:00:00Z");
  const records = new RequestIdempotency({ table: TEST_TABLES.idempotency, expiresAfterSeconds: 600, now: () => clock });
  const key = `orders#POST /orders#-#${newKey()}`;
  const first = await records.claim(key, "fp-1", 5_000);
  assert.is(first.kind, "acquired");
  assert.equal(await records.claim(key, "fp-1", 5_000), { kind: "in-progress" });
  assert.equal(await records.claim(key, "fp-2", 5_000), { kind: "mismatch" });
  clock += 6_000; // the holder crashed: its lock expired
  const taken = await records.claim(key, "fp-1", 5_000);
  assert.ok(taken.kind === "acquired" && first.kind === "acquired");
  if (taken.kind !== "acquired" || first.kind !== "acquired") return;
  assert.is(taken.seed, first.seed, "same seed: same ids");
  assert.is(taken.retry, true);
  await records.complete(key, first.owner, { statusCode: 201, headers: {} }).then(
    () => assert.unreachable("the old holder may not complete a record it lost"),
    (error: Error) => assert.is(error.name, "ConditionalCheckFailedException"),
  );
  await records.complete(key, taken.owner, { statusCode: 201, headers: {}, body: "{}" });
  // The SDK retries a write whose answer was lost: the record is already complete, and that is no error.
  await records.complete(key, taken.owner, { statusCode: 201, headers: {}, body: "{}" });
  assert.equal(await records.claim(key, "fp-1", 5_000), { kind: "completed", response: { statusCode: 201, headers: {}, body: "{}" } });
  clock += 601_000; // past the TTL: DynamoDB may not have deleted it yet, but it no longer counts
  const anew = await records.claim(key, "fp-2", 5_000);
  assert.ok(anew.kind === "acquired" && anew.seed !== first.seed && !anew.retry);
});

test.run();
