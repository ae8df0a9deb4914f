// The console's server side against a real local stage (the repository's programs): the page and its bundled script,
// the page for a browser at /_local/, the live trace stream (server-sent events fed by the trace recorder's watch
// hook), the catalog's forms, the tables by service and entity, the flow diagram of the running programs.
import { request } from "node:http";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jsonSchemaOf } from "../../../catalog/document";
import { catalog } from "../../../contract/catalog";
import { eventually } from "../../../testing/stage-target";
import { startLocalStage, type LocalStage, type TraceTree } from "../../stage";
import type { CatalogEventForm, TableContents } from "../server";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

// The services an order and its invoice cross (orders, billing): the stage starts no other service's functions.
const SERVICES = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "..", "services", name));

let stage: LocalStage;

/** The live trace streams the stage has open (the admin part's health says). */
const streamsOpen = () => Number(/(\d+) live trace stream/.exec(stage.health().admin?.detail ?? "")?.[1]);

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: SERVICES });
});

test.after(async () => {
  await stage?.stop();
});

/** Reads server-sent events from a stream, calling `onEvent` with each (event name, data). */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(event, data.join("\n"));
    }
  }
}

test("the console's page and its script (bundled by esbuild) are served by the stage; a browser gets the page at /_local/", async () => {
  const page = await fetch(`${stage.url}/_local/console`);
  assert.is(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const html = await page.text();
  assert.match(html, /<script src="\/_local\/console\/app\.js"><\/script>/);
  assert.not.match(html, /https?:\/\/(?!127\.0\.0\.1)/, "the page loads nothing from the network");
  const script = await fetch(`${stage.url}/_local/console/app.js`);
  assert.is(script.status, 200);
  const code = await script.text();
  assert.match(code, /new EventSource\(/);
  assert.not.match(code, /^\s*(import|export) /m, "one script for the browser, no module imports left");
  const browser = await fetch(`${stage.url}/_local/`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
  assert.is(await browser.text(), html);
  const tool = await fetch(`${stage.url}/_local/`);
  assert.match(tool.headers.get("content-type") ?? "", /application\/json/);
  const index = (await tool.json()) as { operations: Record<string, string> };
  assert.ok(index.operations["GET /_local/catalog"] && index.operations["GET /_local/tables"], "the console's data are admin rows");
});

test("the live trace stream sends a trace as it happens and again as it goes on, until it settles", async () => {
  const first = new AbortController();
  const response = await fetch(`${stage.url}/_local/events`, { signal: first.signal });
  assert.is(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const correlationId = `console-${Date.now()}`;
  const seen: TraceTree[] = [];
  let ready = false;
  const reading = readEvents(response.body!, (event, data) => {
    if (event === "ready") ready = true;
    if (event === "trace") {
      const tree = JSON.parse(data) as TraceTree;
      if (tree.correlationId === correlationId) seen.push(tree);
    }
  });
  reading.catch(() => undefined);
  await eventually("the stream's ready event", () => (ready ? true : undefined));
  const published = await fetch(`${stage.url}/_local/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "orders.order-placed", data: catalog["orders.order-placed"].example, correlationId }),
  });
  assert.is(published.status, 202);
  const last = await eventually("a settled trace with billing's invocation", () => {
    const tree = seen.at(-1);
    return tree?.settled && JSON.stringify(tree).includes('"label":"billing/on-order-placed"') ? tree : undefined;
  });
  assert.ok(seen.length >= 2, `updates while it ran, then settled (got ${seen.length})`);
  assert.is(seen[0]!.settled, false, "the first update came before the trace settled");
  assert.is(last.roots[0]!.kind, "publish");
  first.abort();
  // A new subscriber gets the latest traces first.
  const second = new AbortController();
  const again = await fetch(`${stage.url}/_local/events`, { signal: second.signal });
  let replayed: TraceTree | undefined;
  const controller = readEvents(again.body!, (event, data) => {
    const tree = event === "trace" ? (JSON.parse(data) as TraceTree) : undefined;
    if (tree?.correlationId === correlationId) replayed = tree;
  });
  controller.catch(() => undefined);
  await eventually("the trace, replayed to a new subscriber", () => replayed);
  second.abort();
  // The stage forgets the streams whose clients left.
  await eventually("no open stream", () => (streamsOpen() === 0 ? true : undefined));
});

test("the catalog's forms: each event's data schema (as the AsyncAPI document has it) and its example", async () => {
  const { events } = (await (await fetch(`${stage.url}/_local/catalog`)).json()) as { events: CatalogEventForm[] };
  assert.equal(events.map((e) => e.type), Object.keys(catalog).sort());
  for (const event of events) {
    const entry = catalog[event.type as keyof typeof catalog];
    assert.equal(event.schema, jsonSchemaOf(entry.schema));
    assert.equal(event.example, entry.example);
    assert.is(event.owner, entry.owner);
  }
});

test("the tables' items by service and ElectroDB entity, read past IAM", async () => {
  const contents = await eventually("billing's invoice in the data table", async () => {
    const { tables } = (await (await fetch(`${stage.url}/_local/tables`)).json()) as { tables: TableContents[] };
    const data = tables.find((t) => t.table === "local-data");
    const invoices = data?.services.find((s) => s.service === "billing")?.entities.find((e) => e.entity === "invoice");
    return invoices?.items.length ? tables : undefined;
  });
  const idempotency = contents.find((t) => t.table === "local-idempotency")!;
  assert.ok(idempotency.services.some((s) => s.service === "billing" && s.entities.some((e) => e.entity === "(records)")), "billing's lock records");
  assert.is(idempotency.project, "platform");
});

test("the flow diagram of the running programs", async () => {
  const response = await fetch(`${stage.url}/_local/console/flow.svg`);
  assert.is(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^image\/svg\+xml/);
  const svg = await response.text();
  assert.ok(svg.includes('data-id="queue:billing:billing-on-order-placed"'));
  assert.ok(svg.includes("<title>topic:platform:orders.order-placed delivers queue:billing:billing-on-order-placed"));
});

test("a browser page of another site cannot act on the stage; the console's own page and tools can", async () => {
  // node:http, not fetch: fetch may not set Host, and a browser's request is what is imitated here.
  const publish = (headers: Record<string, string>) =>
    new Promise<{ status: number; json(): Promise<unknown> }>((resolve, reject) => {
      const body = JSON.stringify({ type: "orders.order-placed", data: catalog["orders.order-placed"].example });
      const req = request(`${stage.url}/_local/publish`, { method: "POST", headers: { "content-type": "text/plain", ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: async () => JSON.parse(Buffer.concat(chunks).toString("utf8")) }));
      });
      req.on("error", reject);
      req.end(body);
    });
  const before = stage.traceIds().length;
  const forged = await publish({ origin: "http://evil.example" });
  assert.is(forged.status, 403);
  assert.match(((await forged.json()) as { message: string }).message, /another origin \(http:\/\/evil\.example\)/);
  assert.is((await publish({ "sec-fetch-site": "cross-site" })).status, 403);
  // DNS rebinding: a page of the attacker's own name, resolved to 127.0.0.1 (same origin for the browser).
  const rebound = await publish({ origin: "http://attacker.example:3000", host: "attacker.example:3000" });
  assert.is(rebound.status, 403);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.is(stage.traceIds().length, before, "nothing was published");
  const own = new URL(stage.url).host;
  assert.is((await publish({ origin: stage.url, "sec-fetch-site": "same-origin" })).status, 202);
  assert.is((await publish({ origin: `http://localhost:${new URL(stage.url).port}`, host: `localhost:${new URL(stage.url).port}` })).status, 202);
  assert.is((await publish({})).status, 202, `a tool (no Origin) at ${own}`);
  // Reading stays open to any client: the answers carry no CORS header, so another site's page cannot read them.
  const read = await fetch(`${stage.url}/_local/dlq`, { headers: { origin: "http://evil.example" } });
  assert.is(read.status, 200);
  assert.is(read.headers.get("access-control-allow-origin"), null);
});

test("stopping the stage ends the open trace streams", async () => {
  const response = await fetch(`${stage.url}/_local/events`);
  let ended = false;
  const reading = readEvents(response.body!, () => undefined).then(
    () => (ended = true),
    () => (ended = true),
  );
  await stage.stop();
  await reading;
  assert.ok(ended);
});

test.run();
