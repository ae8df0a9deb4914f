import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { EntityItem } from "electrodb";
import * as z from "zod/mini";
import { consume } from "../consume";
import { defineEntity, type EntityOf } from "../entity";
import { createEvent } from "../envelope";
import { httpHandler, route } from "../http";
import { createPublisher } from "../publisher";

// Type-level expectations: each `@ts-expect-error` line below must be a compile error (tsc reports an unused
// directive otherwise), and the test at the end checks that, without the directives, exactly those lines fail.
// The functions are never called.

const orders = createPublisher("orders");
const placed = { orderId: "o-1", customerId: "c-1", items: [{ sku: "s", quantity: 1 }], total: { amount: 1, currency: "EUR" } };

export async function publishing(): Promise<void> {
  await orders.publish("orders.order-placed", placed);
  await orders.publish("orders.order-status-changed", { orderId: "o-1", status: "shipped" });
  // @ts-expect-error a wrong payload: customerId is missing
  await orders.publish("orders.order-placed", { orderId: "o-1", items: [], total: { amount: 1, currency: "EUR" } });
  // @ts-expect-error a wrong payload: quantity is a number
  await orders.publish("orders.order-placed", { ...placed, items: [{ sku: "s", quantity: "1" }] });
  // @ts-expect-error a status the catalog does not list
  await orders.publish("orders.order-status-changed", { orderId: "o-1", status: "lost" });
  // @ts-expect-error orders does not own billing's event
  await orders.publish("billing.invoice-issued", { invoiceId: "i", orderId: "o", customerId: "c", total: { amount: 1, currency: "EUR" } });
  // @ts-expect-error not in the catalog
  await orders.publish("orders.order-exploded", {});
  // The current version, by default or by name; a version the catalog does not publish does not compile.
  await orders.publish("orders.order-placed", placed, { version: 1 });
  // @ts-expect-error orders.order-placed has no version 2
  await orders.publish("orders.order-placed", placed, { version: 2 });
  // @ts-expect-error nor in a batch
  await orders.publishBatch([{ type: "orders.order-placed", data: placed, version: 2 }]);
  await orders.publishBatch([
    { type: "orders.order-placed", data: placed },
    // @ts-expect-error in a batch, data must match its own type
    { type: "orders.order-status-changed", data: placed },
  ]);
  // @ts-expect-error createEvent checks the payload too
  createEvent("billing.invoice-issued", { invoiceId: "i" }, { source: "billing" });
}

export const consumer = consume({
  "orders.order-placed": async (event) => {
    const amount: number = event.data.total.amount;
    // @ts-expect-error the payload type comes from the catalog: no such field
    void event.data.shippingAddress;
    void amount;
  },
  // @ts-expect-error a status is a union of literals, not a number
  "orders.order-status-changed": (event) => void ((event.data.status satisfies number)),
  // @ts-expect-error only catalog types can be consumed
  "orders.order-exploded": async () => {},
});

// A function, never called: an invalid key would (rightly) throw when the handler is created.
export const api = () =>
  httpHandler({
  "POST /orders": route({
    body: z.object({ customerId: z.string() }),
    handler: ({ body }) => {
      const id: string = body.customerId;
      // @ts-expect-error the body type comes from the route's schema
      void body.orderId;
      return { body: { id } };
    },
  }),
  // @ts-expect-error a route key is "<METHOD> /path"
  "orders": route({ handler: () => ({}) }),
});

const invoices = defineEntity({
  model: { entity: "invoice", version: "1" },
  attributes: { invoiceId: { type: "string", required: true }, amount: { type: "number", required: true } },
  indexes: { byId: { pk: { composite: ["invoiceId"] } } },
});
export const invoice: EntityItem<EntityOf<typeof invoices>> = { invoiceId: "i", amount: 1 };
// @ts-expect-error entity items are typed from the attributes
export const wrongInvoice: EntityItem<EntityOf<typeof invoices>> = { invoiceId: "i", amount: "1" };
export async function querying(): Promise<void> {
  // @ts-expect-error the access pattern needs its composite attributes
  await invoices().get({ amount: 1 }).go();
}

test("each @ts-expect-error line fails to compile without its directive, and nothing else does", () => {
  const root = join(__dirname, "..", "..", "..");
  const source = readFileSync(__filename, "utf8");
  const lines = source.split("\n");
  const expected = lines.flatMap((line, i) => (/^\s*\/\/ @ts-expect-error/.test(line) ? [i + 2] : []));
  assert.ok(expected.length >= 12, `${expected.length} expectations`);

  const dir = join(__dirname, ".build");
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, "types-unguarded.ts");
  writeFileSync(copy, lines.map((l) => l.replace("// @ts-expect-error", "// (expected error)").replaceAll('from "../', 'from "../../')).join("\n"));
  const config = join(dir, "tsconfig.types.json");
  writeFileSync(config, JSON.stringify({ extends: relative(dir, join(root, "tsconfig.json")), compilerOptions: { rootDir: relative(dir, root) }, include: [], files: [relative(dir, __filename), "types-unguarded.ts"] }));

  const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", config, "--pretty", "false"], { encoding: "utf8" });
  const errors = [...tsc.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+)/gm)].map((m) => ({ file: m[1]!, line: Number(m[2]), code: m[3] }));
  assert.ok(errors.length > 0, tsc.stdout + tsc.stderr);
  assert.equal(errors.filter((e) => !e.file.endsWith("types-unguarded.ts")), [], "the guarded file compiles");
  assert.equal([...new Set(errors.map((e) => e.line))].sort((a, b) => a - b), expected);
});

test.run();
