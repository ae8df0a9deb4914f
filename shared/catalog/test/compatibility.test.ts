import { test } from "uvu";
import * as assert from "uvu/assert";
import * as z from "zod/mini";
import { defineEvent, eventVersion } from "../../contract/define-event";
import { BreakingSchemaChangeError, breakingChanges } from "../compatibility";
import { parse } from "yaml";
import { buildDocument, jsonSchemaOf, recordedVersions, renderDocument, type CatalogLike, type ConsumerWiring } from "../document";
import { documentProblems } from "../system";

// A catalog of one event, changed one way at a time; the committed document is the one the first catalog makes.
const item = z.object({ sku: z.string(), quantity: z.int() });
const v1 = z.object({
  orderId: z.string(),
  status: z.enum(["placed", "shipped"]),
  note: z.optional(z.string()),
  items: z.array(item),
});
const v1Example = { orderId: "o-1", status: "placed" as const, items: [{ sku: "s-1", quantity: 1 }] };

function catalogOf(schema: z.ZodMiniType, options: { version?: number; example?: unknown; previous?: Record<number, { schema: z.ZodMiniType; example: unknown }> } = {}): CatalogLike {
  return {
    "shop.order-changed": defineEvent({
      version: options.version ?? 1,
      owner: "shop",
      description: "An order changed.",
      ordering: "standard",
      schema,
      example: (options.example ?? v1Example) as never,
      ...(options.previous ? { previousVersions: options.previous } : {}),
    }),
  };
}

const reader: ConsumerWiring = { service: "ledger", name: "on-order-changed", event: "shop.order-changed", versions: [1] };
const committed = buildDocument({ catalog: catalogOf(v1), consumers: [reader], version: "1.0.0" });

function failure(schema: z.ZodMiniType): string {
  try {
    buildDocument({ catalog: catalogOf(schema), consumers: [reader], version: "1.0.0", previous: committed });
  } catch (error) {
    assert.instance(error, BreakingSchemaChangeError);
    return (error as Error).message;
  }
  assert.unreachable("the change was accepted");
  return "";
}

test("a removed field breaks readers: the message names the event, its version and the field", () => {
  const message = failure(z.object({ orderId: z.string(), status: z.enum(["placed", "shipped"]), items: z.array(item) }));
  assert.match(message, 'shop.order-changed version 1: field "note" was removed (or renamed)');
  assert.match(message, "docs/asyncapi.yaml");
  assert.match(message, "needs a new version");
});

test("a renamed field breaks readers (the old name is gone)", () => {
  const message = failure(z.object({ id: z.string(), status: z.enum(["placed", "shipped"]), note: z.optional(z.string()), items: z.array(item) }));
  assert.match(message, 'field "orderId" was removed (or renamed)');
});

test("a changed type breaks readers, also deep inside arrays", () => {
  const message = failure(
    z.object({ orderId: z.string(), status: z.enum(["placed", "shipped"]), note: z.optional(z.string()), items: z.array(z.object({ sku: z.string(), quantity: z.string() })) }),
  );
  assert.match(message, 'shop.order-changed version 1: field "items[].quantity" changed type from integer to string');
});

test("a new required field breaks readers (events without it exist)", () => {
  const message = failure(z.extend(v1, { currency: z.string() }));
  assert.match(message, 'shop.order-changed version 1: field "currency" is a new required field');
});

test("a narrowed enum breaks readers", () => {
  const message = failure(z.extend(v1, { status: z.enum(["placed"]) }));
  assert.match(message, 'shop.order-changed version 1: field "status" was narrowed: it lost "shipped"');
});

test("a field that became required, or optional, breaks readers", () => {
  assert.match(failure(z.extend(v1, { note: z.string() })), 'field "note" became required');
  assert.match(failure(z.extend(v1, { orderId: z.optional(z.string()) })), 'field "orderId" became optional');
});

test("compatible changes pass: a new optional field, a widened enum", () => {
  const after = z.extend(v1, { currency: z.optional(z.string()), status: z.enum(["placed", "shipped", "cancelled"]) });
  const document = buildDocument({ catalog: catalogOf(after), consumers: [reader], version: "1.0.0", previous: committed });
  const recorded = recordedVersions(document).get("shop.order-changed.v1")!;
  assert.ok((recorded.schema.properties as Record<string, unknown>).currency, "the document records the new field");
  assert.equal(breakingChanges(jsonSchemaOf(v1), jsonSchemaOf(after)), []);
});

test("a breaking change with a new version passes and is recorded; the old version's schema stays, retired", async () => {
  const v2 = z.object({ orderId: z.string(), state: z.enum(["placed", "shipped"]) });
  const bumped = catalogOf(v2, { version: 2, example: { orderId: "o-1", state: "placed" } });
  const document = buildDocument({ catalog: bumped, consumers: [{ ...reader, versions: [2] }], version: "1.0.0", previous: committed });
  const recorded = recordedVersions(document);
  assert.equal([...recorded.keys()].sort(), ["shop.order-changed.v1", "shop.order-changed.v2"]);
  assert.is(recorded.get("shop.order-changed.v1")!.schema["x-retired"], true);
  assert.equal(Object.keys((document.components as { messages: object }).messages), ["shop.order-changed.v2"]);
  assert.equal(await documentProblems(renderDocument(document)), []);

  // The number stays taken: version 1 cannot come back with another schema.
  const reused = catalogOf(z.object({ orderId: z.number() }), { example: { orderId: 1 } });
  assert.throws(
    () => buildDocument({ catalog: reused, consumers: [], version: "1.0.0", previous: parse(renderDocument(document)) }),
    /shop\.order-changed version 1: field "orderId" changed type from string to number/,
  );
});

test("two versions published at once: both messages on the channel, the owner sends both, each consumer receives its own", async () => {
  const v2 = z.object({ orderId: z.string(), state: z.enum(["placed", "shipped"]) });
  const both = catalogOf(v2, { version: 2, example: { orderId: "o-1", state: "placed" }, previous: { 1: eventVersion({ schema: v1, example: v1Example }) } });
  const movedReader: ConsumerWiring = { service: "audit", name: "on-order-changed", event: "shop.order-changed", versions: [2] };
  const document = buildDocument({ catalog: both, consumers: [reader, movedReader], version: "1.0.0", previous: committed });
  const operations = document.operations as Record<string, { action: string; messages: { $ref: string }[] }>;
  const refs = (id: string) => operations[id]!.messages.map((m) => m.$ref.split("/").pop());
  assert.equal(refs("shop.publish.shop.order-changed"), ["shop.order-changed.v1", "shop.order-changed.v2"]);
  assert.equal(refs("ledger.on-order-changed.receive"), ["shop.order-changed.v1"]);
  assert.equal(refs("audit.on-order-changed.receive"), ["shop.order-changed.v2"]);
  assert.equal(await documentProblems(renderDocument(document)), []);
});

test("the parser refuses a broken document (an operation on a channel that does not exist)", async () => {
  const broken = structuredClone(committed) as { operations: Record<string, { channel: { $ref: string } }> };
  broken.operations["ledger.on-order-changed.receive"]!.channel.$ref = "#/channels/shop.nothing";
  const problems = await documentProblems(renderDocument(broken));
  assert.ok(problems.length > 0, "no problem reported");
});

test.run();
