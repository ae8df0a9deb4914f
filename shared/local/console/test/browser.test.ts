// The console in a real browser (Debian's Chromium driven by playwright-core) against a real local stage: publish
// from the form and see the trace arrive, redrive a dead-letter queue and see it empty, open the flow diagram, all
// with the keyboard where a person would use it. Without Chromium the file says so in one line and runs nothing;
// CI sets REQUIRE_BROWSER=1, which turns a missing browser into a failure.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Browser, Page } from "playwright-core";
import { catalog } from "../../../contract/catalog";
import { createEvent } from "../../../runtime/envelope";
import { startLocalStage, type LocalStage } from "../../stage";
import { browserMissing, launchChromium } from "./browser";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const missing = browserMissing();
if (missing && process.env.REQUIRE_BROWSER === "1") {
  console.error(`REQUIRE_BROWSER=1, but ${missing}: the console's browser tests cannot run`);
  process.exit(1);
}
if (missing) {
  console.log(`unavailable: ${missing}; the console's browser tests did not run`);
  process.exit(0);
}

// The events are published by hand: billing's invoices, and ledger's entries on its Kinesis stream, are what the page
// shows; the stage starts no other service's functions (nor PostgreSQL).
const SERVICES = ["billing", "ledger"].map((name) => join(__dirname, "..", "..", "..", "..", "services", name));

let stage: LocalStage;
let browser: Browser;
let page: Page;
/** Errors the page's scripts threw: none is expected. */
const pageErrors: string[] = [];

test.before(async () => {
  stage = await startLocalStage({ port: 0, serviceDirs: SERVICES });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  // A bound for a hang: on a loaded machine (CI runs test files side by side) a trace that crosses services, and the
  // page that re-renders it, take seconds.
  page.setDefaultTimeout(60_000);
  await page.goto(`${stage.url}/_local/console`);
  await page.getByRole("status").filter({ hasText: "live" }).first().waitFor();
});

test.after(async () => {
  await browser?.close();
  await stage?.stop();
});

test("the page starts with a skip link, then its sections, each with a heading", async () => {
  await page.keyboard.press("Tab");
  assert.is(await page.evaluate(() => document.activeElement?.textContent), "Skip to the live traces");
  for (const name of ["Live traces", "Publish an event", "Dead-letter queues", "Failure events", "Data by service and entity", "Flow diagram"]) {
    assert.ok(await page.getByRole("heading", { name, exact: false }).first().isVisible(), `no visible heading "${name}"`);
  }
});

test("publish from the form (filled with the catalog's example) and see the trace arrive", async () => {
  const correlationId = `browser-${Date.now()}`;
  await page.getByLabel("Event type").selectOption("orders.order-placed");
  // The form is the event's JSON Schema, filled with its example.
  const example = catalog["orders.order-placed"].example as { customerId: string };
  assert.is(await page.getByLabel("customerId").inputValue(), example.customerId);
  await page.getByLabel("amount").fill("77.5");
  // The keyboard submits it: Enter in a field.
  await page.getByLabel(/^Correlation id/).fill(correlationId);
  await page.getByLabel(/^Correlation id/).press("Enter");
  await page.getByText(`Published orders.order-placed`).waitFor();
  const trace = page.locator(`details.trace[data-correlation-id="${correlationId}"]`);
  await trace.waitFor();
  await trace.getByText("billing/on-order-placed handled it").waitFor();
  await trace.locator(".badge.settled").waitFor();
  assert.ok(await trace.evaluate((element) => (element as HTMLDetailsElement).open), "the newest trace is open");
  assert.match(await trace.innerText(), /published by hand orders\.order-placed/);
  // Its effect shows under Data: billing's invoice for 77.5.
  await page.getByRole("button", { name: "Refresh" }).last().click();
  const invoices = page.locator('details.entity[data-service="billing"][data-entity="invoice"]');
  await invoices.waitFor();
  await invoices.locator("summary").click();
  assert.match(await invoices.innerText(), /77\.5/);
  // A field the schema refuses is named in the answer, and nothing is published.
  await page.getByLabel("amount").fill("");
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.getByText("Not published").waitFor();
});

/** Publishes orders.order-placed through the admin API (as a tool would); returns its correlation id. */
async function publishByHand(correlationId: string): Promise<string> {
  const answer = await fetch(`${stage.url}/_local/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "orders.order-placed", data: catalog["orders.order-placed"].example, correlationId }),
  });
  assert.is(answer.status, 202);
  return correlationId;
}

test("the newest trace opens and the one before it closes, unless the reader opened it", async () => {
  const first = await publishByHand(`first-${Date.now()}`);
  const firstTrace = page.locator(`details.trace[data-correlation-id="${first}"]`);
  await firstTrace.locator(".badge.settled").waitFor();
  assert.ok(await firstTrace.evaluate((d) => (d as HTMLDetailsElement).open));
  const second = await publishByHand(`second-${Date.now()}`);
  const secondTrace = page.locator(`details.trace[data-correlation-id="${second}"]`);
  await secondTrace.locator(".badge.settled").waitFor();
  assert.ok(await secondTrace.evaluate((d) => (d as HTMLDetailsElement).open), "the newest is open");
  assert.not.ok(await firstTrace.evaluate((d) => (d as HTMLDetailsElement).open), "the one before closed");
  // The reader opens the first again (keyboard: Enter on its summary); a newer trace leaves it open.
  await firstTrace.locator("summary").focus();
  await page.keyboard.press("Enter");
  const third = await publishByHand(`third-${Date.now()}`);
  await page.locator(`details.trace[data-correlation-id="${third}"] .badge.settled`).waitFor();
  assert.ok(await firstTrace.evaluate((d) => (d as HTMLDetailsElement).open), "the reader's choice holds");
  assert.is(await page.evaluate(() => document.activeElement?.closest("details")?.getAttribute("data-correlation-id")), first, "and the focus stayed on its summary");
});

test("redrive a dead-letter queue and see it empty", async () => {
  const dlq = stage.deadLetterQueues().find((q) => q.name.endsWith("billing-on-order-placed-dlq"))!;
  assert.ok(dlq, "billing's consumer has a dead-letter queue");
  const event = createEvent("orders.order-placed", catalog["orders.order-placed"].example as never, { source: "orders", correlationId: `dead-${Date.now()}` });
  stage.sqs.sendMessage(dlq.arn, { MessageBody: JSON.stringify(event) });
  const section = page.locator("#dead-letters");
  await section.getByRole("button", { name: "Refresh" }).click();
  const row = section.locator(`tr[data-queue="${dlq.name}"]`);
  await row.locator("td.num", { hasText: "1" }).waitFor();
  const redrive = row.getByRole("button", { name: `Redrive ${dlq.name} to ${dlq.source}` });
  assert.ok(await redrive.isEnabled());
  await redrive.focus();
  // Traces arriving re-render the list: the keyboard's place stays on the same button.
  const other = await publishByHand(`while-focused-${Date.now()}`);
  await page.locator(`details.trace[data-correlation-id="${other}"] .badge.settled`).waitFor();
  await page.waitForTimeout(600);
  assert.is(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), `Redrive ${dlq.name} to ${dlq.source}`);
  await page.keyboard.press("Enter");
  await section.getByText(`Moved 1 message from ${dlq.name} back to ${dlq.source}.`).waitFor();
  await row.locator("td.num", { hasText: "0" }).waitFor();
  // Nothing left to redrive: the button is disabled, and the focus goes to the section's heading, not the page's top.
  assert.is(await page.evaluate(() => document.activeElement?.id), "dlq-heading");
  assert.is(stage.deadLetterQueues().find((q) => q.name === dlq.name)?.depth, 0);
  assert.ok(await row.getByRole("button", { name: `Redrive ${dlq.name} to ${dlq.source}` }).isDisabled(), "nothing left to redrive");
  // Billing handles the redriven event: its trace arrives.
  await page.locator(`details.trace[data-correlation-id="${event.correlationid}"]`).getByText("billing/on-order-placed handled it").waitFor();
});

test("a failure event is listed with what rejected it, and Replay publishes its original again", async () => {
  // An event billing cannot use (its data misses fields): billing turns it into a failure event.
  const queue = stage.wiring.queues.find((q) => q.name.endsWith("billing-on-order-placed"))!;
  const invalid = { ...createEvent("orders.order-placed", catalog["orders.order-placed"].example as never, { source: "orders", correlationId: `invalid-${Date.now()}` }), data: { customerId: "c-9" } };
  stage.sqs.sendMessage(queue.arn, { MessageBody: JSON.stringify(invalid) });
  const section = page.locator("#failures");
  const item = section.locator("li", { hasText: invalid.id.slice(0, 8) });
  // The list follows the traces; Refresh reads it at once.
  await section.getByRole("button", { name: "Refresh" }).click();
  await item.waitFor();
  assert.match(await item.innerText(), /rejected by billing\/on-order-placed \(invalid-event\)/);
  const id = await item.getAttribute("data-failure");
  await item.getByRole("button", { name: `Replay orders.order-placed ${invalid.id}` }).click();
  await section.getByText(`Replayed orders.order-placed ${invalid.id}`).waitFor();
  await section.locator(`li[data-failure="${id}"]`).waitFor({ state: "detached" });
});

test("a stream consumer's on-failure record is listed, and its Replay puts the batch on the stream again", async () => {
  // The orders published above went on to ledger, which put ledger.entry-posted on its Kinesis stream.
  const stream = await (async () => {
    // A bound for a hang (the path from an order to the stream crosses services: seconds on a loaded machine).
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      const { streams } = (await (await fetch(`${stage.url}/_local/streams`)).json()) as { streams: { name: string; arn: string; shards: { shardId: string; records: number; firstSequenceNumber?: string; lastSequenceNumber?: string }[] }[] };
      const found = streams.find((s) => s.shards.some((shard) => shard.records > 0));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("no stream holds a record within 60 s");
  })();
  const shard = stream.shards.find((s) => s.records > 0)!;
  // What Lambda sends to the mapping's on-failure destination when it gives a batch up (metadata, not the records).
  const destination = stage.wiring.queues.find((q) => q.name.endsWith("-on-failure"))!;
  assert.ok(destination, "a stream consumer with an on-failure queue");
  const failure = {
    requestContext: { requestId: "0f0e0d0c-0000-4000-8000-000000000001", functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:x", condition: "RetryAttemptsExhausted", approximateInvokeCount: 3 },
    version: "1.0",
    timestamp: new Date().toISOString(),
    KinesisBatchInfo: {
      shardId: shard.shardId,
      startSequenceNumber: shard.firstSequenceNumber,
      endSequenceNumber: shard.lastSequenceNumber,
      approximateArrivalOfFirstRecord: new Date().toISOString(),
      approximateArrivalOfLastRecord: new Date().toISOString(),
      batchSize: shard.records,
      streamArn: stream.arn,
    },
  };
  stage.sqs.sendMessage(destination.arn, { MessageBody: JSON.stringify(failure) });
  const section = page.locator('section[data-admin-row="/streams/failures"]');
  await section.getByRole("button", { name: "Refresh" }).click();
  await section.getByText(/given up on: RetryAttemptsExhausted after 3 attempts/).waitFor();
  const label = `Replay ${shard.shardId} of ${stream.name} from ${shard.firstSequenceNumber} to ${shard.lastSequenceNumber}`;
  await section.getByRole("button", { name: label }).click();
  await section.getByText(`${label}: done (${shard.records} record${shard.records === 1 ? "" : "s"} put again).`).waitFor();
});

test("a stream mapping's on-failure record (DynamoDB Streams) is listed, and its Replay invokes the function again with the range", async () => {
  // The events published above went through the services' outbox relays: mappings on their outbox tables' streams.
  type Mapping = { function: string; kind: string; onFailure?: string; shards: { shardId: string; checkpoint?: string }[] };
  const mapping = await (async () => {
    // A bound for a hang (the path from an order to the stream crosses services: seconds on a loaded machine).
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      const { mappings } = (await (await fetch(`${stage.url}/_local/stream-mappings`)).json()) as { mappings: Mapping[] };
      const found = mappings.find((m) => m.kind === "dynamodb" && m.onFailure?.startsWith("arn:aws:sqs:") && m.shards.some((s) => s.checkpoint));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("no stream mapping has read a record within 60 s");
  })();
  const shard = mapping.shards.find((s) => s.checkpoint)!;
  const fn = stage.wiring.functions.find((f) => f.name === mapping.function)!;
  // The table whose stream the mapping reads (its service's outbox table).
  const streamArn = (stage.wiring.streamMappings ?? []).find((m) => m.functionArn === fn.arn)!.eventSourceArn;
  const table = stage.wiring.tables.find((t) => t.stream?.arn === streamArn)!;
  // From the shard's first record to the mapping's checkpoint: some records its filter passed (it moves past the others too).
  const dynamodb = stage.parts.parts.find((p) => p.name === "dynamodb") as unknown as { streams: { read(table: string, shardId: string): { dynamodb: { SequenceNumber: string } }[] } };
  const first = dynamodb.streams.read(table.name, shard.shardId)[0]!.dynamodb.SequenceNumber;
  // What Lambda sends to the mapping's on-failure destination when it gives a batch up (metadata, not the records).
  const failure = {
    requestContext: { requestId: "0f0e0d0c-0000-4000-8000-000000000002", functionArn: fn.arn, condition: "RetryAttemptsExhausted", approximateInvokeCount: 4 },
    version: "1.0",
    timestamp: new Date().toISOString(),
    DDBStreamBatchInfo: {
      shardId: shard.shardId,
      startSequenceNumber: first,
      endSequenceNumber: shard.checkpoint,
      approximateArrivalOfFirstRecord: new Date().toISOString(),
      approximateArrivalOfLastRecord: new Date().toISOString(),
      batchSize: 2,
      streamArn,
    },
  };
  stage.sqs.sendMessage(mapping.onFailure!, { MessageBody: JSON.stringify(failure) });
  const section = page.locator('section[data-admin-row="/stream-mappings/failures"]');
  await section.getByRole("button", { name: "Refresh" }).click();
  await section.getByText(/given up on: RetryAttemptsExhausted after 4 attempts/).waitFor();
  const label = `Replay ${shard.shardId} to ${mapping.function} from ${first} to ${shard.checkpoint}`;
  await section.getByRole("button", { name: label }).click();
  await section.getByText(new RegExp(`^${label}: done \\([1-9]\\d* records? sent to ${mapping.function} again: ok\\)\\.$`)).waitFor();
});

test("open the flow diagram", async () => {
  await page.getByRole("link", { name: "Flow", exact: true }).press("Enter");
  const image = page.getByRole("img", { name: /The flow of the running stage/ });
  await image.waitFor();
  assert.ok(await image.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0), "the diagram loaded");
  await page.getByRole("link", { name: "open it alone" }).click();
  await page.waitForURL(/\/_local\/console\/flow\.svg$/);
  const queue = page.locator('g.node[data-id="queue:billing:billing-on-order-placed"]');
  assert.ok(await queue.isVisible(), "billing's queue is drawn");
  assert.match(await queue.textContent() ?? "", /billing-on-order-placed/);
  assert.ok((await page.locator("path.edge").count()) > 3, "with its arrows");
  await page.goBack();
});

test("the page threw no error", () => {
  assert.equal(pageErrors, []);
});

test.run();
