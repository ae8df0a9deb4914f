// `npm run console:screenshot`: writes docs/console.png, the README's picture of the console. It starts the local
// stage (the repository's programs), sends what a person would try first (two orders through POST /orders, an event
// for billing that is not valid, a message left in billing's dead-letter queue), opens the console in Debian's
// Chromium (the same browser as the console's tests) once the traces have settled, and takes the screenshot.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { catalog } from "../shared/contract/catalog";
import { browserMissing, launchChromium } from "../shared/local/console/test/browser";
import { startLocalStage } from "../shared/local/stage";
import { createEvent } from "../shared/runtime/envelope";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const OUT = join(__dirname, "..", "docs", "console.png");

async function main(): Promise<void> {
  const missing = browserMissing();
  if (missing) throw new Error(missing);
  const stage = await startLocalStage({ port: 0 });
  const browser = await launchChromium();
  try {
    for (const [customerId, amount] of [
      ["c-1", 42.5],
      ["c-2", 19],
    ] as const) {
      const answer = await fetch(`${stage.url}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": `console-screenshot-${customerId}-0000` },
        body: JSON.stringify({ customerId, items: [{ sku: "sku-1", quantity: 2 }], total: { amount, currency: "EUR" } }),
      });
      if (answer.status !== 201) throw new Error(`POST /orders answered ${answer.status}: ${await answer.text()}`);
    }
    const queue = stage.wiring.queues.find((q) => q.name.endsWith("billing-on-order-placed"))!;
    const invalid = { ...createEvent("orders.order-placed", catalog["orders.order-placed"].example as never, { source: "orders" }), data: { customerId: "c-3" } };
    stage.sqs.sendMessage(queue.arn, { MessageBody: JSON.stringify(invalid) });
    const dlq = stage.deadLetterQueues().find((q) => q.name.endsWith("billing-on-order-placed-dlq"))!;
    stage.sqs.sendMessage(dlq.arn, { MessageBody: JSON.stringify(createEvent("orders.order-placed", catalog["orders.order-placed"].example as never, { source: "orders" })) });
    // Let every trace settle (and the failure event reach its queue).
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (stage.failures().length === 0 || stage.traceIds().some((id) => !stage.trace(id)?.settled))) await new Promise((r) => setTimeout(r, 100));

    const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } });
    await page.goto(`${stage.url}/_local/console`);
    await page.getByRole("status").filter({ hasText: "live" }).first().waitFor();
    await page.locator("details.trace").nth(2).waitFor();
    await page.locator("#failure-list li").first().waitFor();
    await page.locator("#dead-letters td.num", { hasText: "1" }).waitFor();
    // The newest trace with an HTTP request, open.
    await page.evaluate(() => {
      const traces = [...document.querySelectorAll<HTMLDetailsElement>("details.trace")];
      const request = traces.find((t) => t.textContent?.includes("POST /orders"));
      for (const trace of traces) trace.open = trace === request;
    });
    await page.getByLabel("Event type").selectOption("orders.order-placed");
    mkdirSync(dirname(OUT), { recursive: true });
    await page.screenshot({ path: OUT });
    console.log(`wrote ${OUT}`);
  } finally {
    await browser.close();
    await stage.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`console screenshot: ${(error as Error).message}`);
    process.exit(1);
  },
);
