// The migration path, end to end in one process: orders.order-placed gets a version 2 (a renamed field) while
// version 1 is still published. The catalog entry is changed here as a developer would change
// shared/contract/catalog.ts; the runtime, the consumer component and the document read it as they read the file.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as z from "zod/mini";
import { catalog, publishedVersions } from "../../contract/catalog";
import { eventVersion } from "../../contract/define-event";
import { EventConsumer } from "../../infra/event-consumer";
import { platformOutputs, underMocks } from "../../infra/test/harness";
import { createEvent, parseEvent } from "../../runtime/envelope";
import { EventSchemaError } from "../../runtime/errors";
import { buildDocument, recordedVersions } from "../document";
import { readCommittedDocument } from "../system";

const TYPE = "orders.order-placed";
const HANDLER = join(__dirname, "..", "..", "infra", "test", "fixtures", "handlers", "echo.ts");
const entry = catalog[TYPE] as unknown as Record<string, unknown>;
const original = { ...entry };
const v1 = { schema: catalog[TYPE].schema, example: catalog[TYPE].example };
// Version 2 calls the customer a buyer.
const v2Schema = z.object({ orderId: z.string(), buyerId: z.string(), total: z.object({ amount: z.number(), currency: z.string() }) });
const v2Example = { orderId: "order-1", buyerId: "customer-1", total: { amount: 42.5, currency: "EUR" } };

function migrate(step: "both" | "retired"): void {
  Object.assign(entry, { version: 2, schema: v2Schema, example: v2Example, previousVersions: step === "both" ? { 1: eventVersion(v1) } : undefined });
}

test.after.each(() => {
  for (const key of Object.keys(entry)) delete entry[key];
  Object.assign(entry, original);
});

let platform: Record<string, any>;
test.before(async () => {
  platform = await platformOutputs("dev");
});

async function subscriptionFilter(versions?: number[]) {
  const { mocks } = await underMocks(
    (p) => new EventConsumer("bill-order", { platform: p, service: "billing", event: TYPE, versions, function: { handler: HANDLER } }),
    { platform },
  );
  const subscription = mocks.one("aws:sns/topicSubscription:TopicSubscription", "bill-order-subscription");
  return subscription.inputs.filterPolicy === undefined ? undefined : JSON.parse(subscription.inputs.filterPolicy as string);
}

test("while both versions are published: the owner publishes either, each is read with its own schema", () => {
  migrate("both");
  assert.equal(publishedVersions(TYPE), [1, 2]);
  const current = createEvent(TYPE, v2Example as never, { source: "orders" });
  const old = createEvent(TYPE, v1.example as never, { source: "orders", version: 1 as never });
  assert.is(current.dataversion, 2);
  assert.is(old.dataversion, 1);
  assert.equal(parseEvent(JSON.stringify(old)).data, v1.example);
  assert.equal(parseEvent(JSON.stringify(current)).data, v2Example);
  // Each version's data is checked against its own schema.
  assert.throws(() => createEvent(TYPE, v1.example as never, { source: "orders" }), (e: unknown) => e instanceof EventSchemaError && /buyerId/.test((e as Error).message));
});

test("while both versions are published: a consumer of version 1 subscribes to version 1 only, one of both to everything", async () => {
  migrate("both");
  assert.equal(await subscriptionFilter([1]), { dataversion: [{ numeric: ["=", 1] }] });
  assert.equal(await subscriptionFilter(), { dataversion: [{ numeric: ["=", 2] }] }, "undeclared: the current version");
  assert.is(await subscriptionFilter([1, 2]), undefined);
});

test("the document records version 2 beside version 1 (no breaking change to either), and version 1 as retired after", () => {
  const previous = readCommittedDocument()!.document;
  const consumers = [{ service: "billing", name: "on-order-placed", event: TYPE, versions: [1] }];
  migrate("both");
  const both = buildDocument({ catalog, consumers, version: "0.1.0", previous });
  const messages = Object.keys((both.components as { messages: object }).messages).filter((k) => k.startsWith(TYPE));
  assert.equal(messages, [`${TYPE}.v1`, `${TYPE}.v2`]);
  migrate("retired");
  const retired = buildDocument({ catalog, consumers: [{ ...consumers[0]!, versions: [2] }], version: "0.1.0", previous: both });
  assert.is(recordedVersions(retired).get(`${TYPE}.v1`)?.schema["x-retired"], true);
});

test("changing version 1 in place instead fails, naming the event and the field", () => {
  Object.assign(entry, { schema: v2Schema, example: v2Example });
  assert.throws(
    () => buildDocument({ catalog, consumers: [], version: "0.1.0", previous: readCommittedDocument()!.document }),
    /orders\.order-placed version 1: field "customerId" was removed \(or renamed\)/,
  );
});

test("once version 1 is retired, a consumer still reading it fails its program, naming the event and the consumer", async () => {
  migrate("retired");
  try {
    await subscriptionFilter([1]);
    assert.unreachable("the program ran");
  } catch (error) {
    assert.match(String((error as Error).message), "consumer billing/bill-order reads orders.order-placed version 1, but the catalog publishes version 2 of it");
  }
});

test.run();
