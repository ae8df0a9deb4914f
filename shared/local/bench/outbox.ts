/**
 * Benchmark of the outbox on the local stage: POST /orders until billing's invoice write has been answered by
 * DynamoDB, through the outbox (the example services: the order and its event in one transaction, the data table's
 * stream, orders' relay, SNS, SQS, billing) beside the same path with a direct publish (a copy of the orders service
 * whose route writes the order, then publishes: the way before the outbox). Both stages run in this process and are
 * measured in alternating rounds, so load on the machine falls on both alike. The times are the stage's own trace
 * timestamps (the request's start to the answer of billing's write), as in local-stage.ts. Prints median and p99 of
 * each, their ratio against the goal (the outbox at most 1.5 x the direct publish), and one JSON line.
 *
 *   node --import tsx shared/local/bench/outbox.ts [--requests 200] [--rounds 4] [--warmup 30]
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { catalog } from "../../contract/catalog";
import { startLocalStage, type LocalStage, type TraceTree } from "../stage";

const REPO = join(__dirname, "..", "..", "..");
const SHARED = join(REPO, "shared");
/** The outbox may cost at most this much over a direct publish (the goal). */
export const OUTBOX_GOAL_RATIO = 1.5;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of at least 1`);
  return value;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * A copy of services/orders whose POST /orders writes the order and then publishes orders.order-placed directly
 * (imports by absolute path, so the folder can live anywhere).
 */
function writeDirectOrders(dir: string): void {
  mkdirSync(join(dir, "handlers"), { recursive: true });
  mkdirSync(join(dir, "entities"), { recursive: true });
  for (const file of readdirSync(join(REPO, "services", "orders"))) {
    if (file.startsWith("Pulumi.")) copyFileSync(join(REPO, "services", "orders", file), join(dir, file));
  }
  writeFileSync(
    join(dir, "index.ts"),
    `import { defineService } from ${JSON.stringify(join(SHARED, "infra"))};
export = function program() {
  return defineService({
    name: "orders",
    publishes: ["orders.order-placed"],
    http: { routes: { "POST /orders": { handler: "./handlers/create-order.ts", name: "create-order", publishes: ["orders.order-placed"] } } },
  }).outputs;
};
`,
  );
  writeFileSync(
    join(dir, "entities", "order.ts"),
    `export { orders } from ${JSON.stringify(join(REPO, "services", "orders", "entities", "order"))};\n`,
  );
  writeFileSync(
    join(dir, "handlers", "create-order.ts"),
    `import * as z from "zod/mini";
import { catalog } from ${JSON.stringify(join(SHARED, "contract"))};
import { createPublisher, httpHandler, route } from ${JSON.stringify(join(SHARED, "runtime"))};
import { orders } from "../entities/order";

const publisher = createPublisher("orders");
const body = z.omit(catalog["orders.order-placed"].schema, { orderId: true });

// Written, then published: the way before the outbox.
export const handler = httpHandler({
  "POST /orders": route({
    body,
    handler: async ({ body, correlationId, stableId }) => {
      const orderId = stableId("orderId");
      await orders().put({ orderId, details: body, createdBy: correlationId }).go();
      await publisher.publish("orders.order-placed", { ...body, orderId });
      return { status: 201, body: { orderId } };
    },
  }),
});
`,
  );
}

/** When billing's invoice write was answered, in a request's trace tree, if it was. */
function invoiceWrittenAt(tree: TraceTree | undefined): number | undefined {
  if (!tree) return undefined;
  let found: number | undefined;
  const visit = (node: unknown): void => {
    if (found !== undefined || node === null || typeof node !== "object") return;
    const n = node as { kind?: string; label?: string; writes?: { table: string; result?: string; keys: string[]; answeredAt?: number }[] };
    if (n.kind === "invocation" && n.label === "billing/on-order-placed") {
      const write = n.writes?.find((w) => w.table.split(", ").includes("local-data") && w.result === "ok" && w.keys.some((k) => k.startsWith("$billing#")));
      if (write?.answeredAt !== undefined) found = write.answeredAt;
    }
    for (const value of Object.values(node)) if (value && typeof value === "object") visit(value);
  };
  visit(tree.roots);
  return found;
}

/** One POST /orders, timed until billing's invoice write was answered. */
async function oneRequest(stage: LocalStage, body: string): Promise<number> {
  const started = Date.now();
  const response = await fetch(`${stage.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body });
  await response.text();
  if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}`);
  const correlationId = response.headers.get("x-correlation-id")!;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const at = invoiceWrittenAt(stage.trace(correlationId));
    if (at !== undefined) return at - started;
    if (Date.now() > deadline) throw new Error(`no invoice for ${correlationId} within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function main(): Promise<void> {
  const requests = option("requests", 200);
  const rounds = option("rounds", 4);
  const warmup = option("warmup", 30);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  // Inside the repository (under the ignored .build/), so the copy's imports of npm packages (zod) resolve.
  mkdirSync(join(REPO, ".build"), { recursive: true });
  const dir = mkdtempSync(join(REPO, ".build", "bench-direct-orders-"));
  writeDirectOrders(dir);
  const billing = join(REPO, "services", "billing");
  const stages = {
    direct: await startLocalStage({ port: 0, serviceDirs: [dir, billing], maxTraces: 1000 }),
    outbox: await startLocalStage({ port: 0, serviceDirs: [join(REPO, "services", "orders"), billing], maxTraces: 1000 }),
  };
  const { orderId: _omitted, ...order } = catalog["orders.order-placed"].example;
  const body = JSON.stringify(order);
  const samples: Record<keyof typeof stages, number[]> = { direct: [], outbox: [] };
  try {
    for (const [name, stage] of Object.entries(stages)) {
      for (let i = 0; i < warmup; i++) await oneRequest(stage, body);
      console.error(`${name}: warmed up (${warmup} requests)`);
    }
    const perRound = Math.ceil(requests / rounds);
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always follows the other's garbage collection.
      const order = round % 2 === 0 ? (["direct", "outbox"] as const) : (["outbox", "direct"] as const);
      for (const name of order) for (let i = 0; i < perRound; i++) samples[name].push(await oneRequest(stages[name], body));
      console.error(`round ${round + 1}/${rounds} done`);
    }
  } finally {
    await stages.direct.stop();
    await stages.outbox.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const figures = Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [name, { median: percentile(values, 50), p99: percentile(values, 99), n: values.length }]),
  ) as Record<keyof typeof stages, { median: number; p99: number; n: number }>;
  const ratio = figures.outbox.median / figures.direct.median;
  const ratioP99 = figures.outbox.p99 / figures.direct.p99;
  console.log(`POST /orders to billing's invoice write (${figures.direct.n} requests each, alternating rounds):`);
  console.log(`  direct publish: median ${figures.direct.median} ms, p99 ${figures.direct.p99} ms`);
  console.log(`  outbox:         median ${figures.outbox.median} ms, p99 ${figures.outbox.p99} ms`);
  console.log(
    `  outbox / direct: ${ratio.toFixed(2)}x median, ${ratioP99.toFixed(2)}x p99 (goal: at most ${OUTBOX_GOAL_RATIO}x: ${ratio <= OUTBOX_GOAL_RATIO ? "met" : "not met"})`,
  );
  console.log(JSON.stringify({ bench: "outbox", ...figures, ratio: Number(ratio.toFixed(3)), ratioP99: Number(ratioP99.toFixed(3)) }));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
