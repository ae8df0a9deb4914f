// Watch mode against a running stage: a temporary copy of a test service (fixtures/watched-service.ts) is edited
// while the stage serves it. A handler edit swaps the function's code (an invocation under way finishes on the old
// code), a broken edit (a handler that does not build, a program that throws) prints one line and the stage keeps
// serving the last good version, and an index.ts edit that adds a consumer and a route and changes a filter policy is
// applied while table data and queued messages stay.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract/catalog";
import { functionBuilds } from "../../infra/helpers/bundle";
import { dynamoRequest, startLocalStage, type LocalStage } from "../stage";
import { REPO_ROOT } from "../stage/programs";
import { rerunPrograms, watchStage, type StageWatch, type WatchEvent } from "../watch";
import { programSource, versionHandlerSource, writeWatchedService } from "./fixtures/watched-service";

const dir = mkdtempSync(join(tmpdir(), "watched-"));
let stage: LocalStage;
let watch: StageWatch;
const events: WatchEvent[] = [];
const waiters: Array<(event: WatchEvent) => void> = [];

/** The next watch event of a kind (events already seen are skipped). */
function next(kind: WatchEvent["kind"], timeoutMs = 60_000): Promise<WatchEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${kind}" watch event within ${timeoutMs} ms; seen: ${events.map((e) => e.line).join(" | ")}`)), timeoutMs);
    const waiter = (event: WatchEvent) => {
      if (event.kind !== kind) return;
      clearTimeout(timer);
      waiters.splice(waiters.indexOf(waiter), 1);
      resolve(event);
    };
    waiters.push(waiter);
  });
}

async function version(query = ""): Promise<unknown> {
  const response = await fetch(`${stage.url}/watched/version${query}`);
  const body = (await response.json()) as unknown;
  assert.is(response.status, 200, JSON.stringify(body));
  return body;
}

const depth = (queueName: string) => {
  const queue = stage.sqs.listQueues().find((q) => q.name === queueName)!;
  const counts = stage.sqs.counts(queue.arn);
  return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible;
};

const order = (orderId: string) => ({ ...catalog["orders.order-placed"].example, orderId });

test.before(async () => {
  writeWatchedService(dir, { filterPrefix: "a-" }, "v1");
  stage = await startLocalStage({ port: 0, serviceDirs: [dir] });
  watch = await watchStage(stage, {
    repoRoot: REPO_ROOT,
    onEvent: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) waiter(event);
    },
  });
});

test.after(async () => {
  await watch?.close();
  await stage?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a handler edit: the invocation under way finishes on the old code, the next request runs the new", async () => {
  assert.equal(await version(), { version: "v1" });
  const inFlight = version("?ms=2000");
  // Under way before the edit: the host runs it (a fixed wait could end first on a loaded machine). A bound for a hang.
  const host = stage.hosts.get("local-watched-version")!;
  for (const deadline = Date.now() + 60_000; host.stats().busy === 0; await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() > deadline) throw new Error("the request never reached the function");
  }
  const swapped = next("function");
  const manifestChecks = functionBuilds.stats.manifestChecks;
  assert.type(manifestChecks, "number");
  writeFileSync(join(dir, "handlers", "version.ts"), versionHandlerSource("v2"));
  const event = await swapped;
  assert.match(event.line, /^watch: watched\/version runs the new code \(\d+ ms\)$/);
  assert.is(functionBuilds.stats.manifestChecks, manifestChecks, "the watcher said which file changed: the rebuild checks no manifest");
  assert.equal(await version(), { version: "v2" }, "the next request runs the new code");
  assert.equal(await inFlight, { version: "v1" }, "the request under way finished on the code it started with");
});

test("a handler that does not build, or throws while it loads: one line, and the last good code keeps serving", async () => {
  const failed = next("failed");
  writeFileSync(join(dir, "handlers", "version.ts"), versionHandlerSource("v3").replace("return { status: 200", "return {{ status: 200"));
  const event = await failed;
  assert.not.match(event.line, /\n/);
  assert.match(event.line, /^watch: watched\/version does not build, it keeps the last good version: .*version\.ts:\d+:\d+: /);
  assert.equal(await version(), { version: "v2" });
  // Code that builds but throws while it loads is a broken edit too.
  const throwing = next("failed");
  writeFileSync(join(dir, "handlers", "version.ts"), `throw new Error("the handler refuses to load");\n${versionHandlerSource("v3")}`);
  const refused = await throwing;
  assert.match(refused.line, /^watch: watched\/version fails to load, it keeps the last good version: Error: the handler refuses to load$/);
  assert.equal(await version(), { version: "v2" });
  const fixed = next("function");
  writeFileSync(join(dir, "handlers", "version.ts"), versionHandlerSource("v3"));
  await fixed;
  assert.equal(await version(), { version: "v3" });
});

test("a program that throws, or does not compile: one line, and the stage keeps its wiring", async () => {
  const before = JSON.stringify(stage.wiring);
  let failed = next("failed");
  writeFileSync(join(dir, "index.ts"), programSource({ filterPrefix: "b-", secondConsumer: true, throws: "the watched program refuses" }));
  let event = await failed;
  assert.match(event.line, /^watch: watched not applied, the stage keeps the last good version: .*the watched program refuses/);
  assert.not.match(event.line, /\n/);
  failed = next("failed");
  writeFileSync(join(dir, "index.ts"), `${programSource({ filterPrefix: "b-" })}\nexport const = ;\n`);
  event = await failed;
  assert.match(event.line, /^watch: watched not applied/);
  assert.is(JSON.stringify(stage.wiring), before, "nothing of the broken edits reached the stage");
  assert.equal(await version(), { version: "v3" });
});

test("an index.ts edit adds a consumer and a route and changes a filter policy; table data and queued messages stay", async () => {
  // A message waits in the consumer's queue (its poller paused), and an item in the data table.
  const poller = stage.pollers.find((p) => p.functionName === "local-watched-on-order-placed")!;
  await poller.stop();
  stage.publish("orders.order-placed", order("a-1"));
  stage.publish("orders.order-placed", order("b-1"));
  assert.is(depth("local-watched-on-order-placed"), 1, "the filter lets only a- orders through");
  const table = stage.wiring.tables.find((t) => t.name === "local-data")!;
  const item = { [table.hashKey]: { S: "$watched#kept" }, ...(table.rangeKey ? { [table.rangeKey]: { S: "$kept" } } : {}) };
  await dynamoRequest(stage.endpoints.dynalite, "PutItem", { TableName: table.name, Item: item });

  const applied = next("programs");
  writeFileSync(join(dir, "index.ts"), programSource({ filterPrefix: "b-", secondConsumer: true, otherRoute: true }));
  const event = await applied;
  assert.match(event.line, /^watch: re-ran watched in \d+ ms: /);
  assert.match(event.line, /\+ queue local-watched-also-on-order-placed/);
  assert.match(event.line, /~ subscription local-orders-order-placed -> local-watched-on-order-placed \(filterPolicy\)/);
  assert.match(event.line, /\+ route GET \/watched\/other/);

  assert.is(depth("local-watched-on-order-placed"), 1, "the queued message is still there");
  const kept = await dynamoRequest<{ Item?: unknown }>(stage.endpoints.dynalite, "GetItem", { TableName: table.name, Key: item });
  assert.equal(kept.Item, item, "the table kept its data");
  assert.ok(stage.consumers.some((c) => c.label === "watched/also-on-order-placed"), JSON.stringify(stage.consumers));
  assert.ok(stage.routes.some((r) => r.routeKey === "GET /watched/other"), JSON.stringify(stage.routes));

  // The changed filter policy: b- orders now, a- no more.
  stage.publish("orders.order-placed", order("a-2"));
  stage.publish("orders.order-placed", order("b-2"));
  assert.is(depth("local-watched-on-order-placed"), 2, "b-2 delivered, a-2 filtered out");
  // The new consumer handles every order; the new route answers.
  const published = stage.publish("orders.order-placed", order("c-1"));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const tree = stage.trace(published.correlationId);
    if (tree && JSON.stringify(tree).includes('"watched/also-on-order-placed"') && JSON.stringify(tree).includes('"status":"ok"')) break;
    if (Date.now() > deadline) throw new Error(`the new consumer did not handle c-1: ${JSON.stringify(tree)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const other = await fetch(`${stage.url}/watched/other`);
  assert.equal(await other.json(), { other: true });
  // The paused consumer, started again, handles what waited (its mapping did not change, so neither did its poller).
  poller.start();
  const drained = Date.now() + 30_000;
  while (depth("local-watched-on-order-placed") > 0) {
    if (Date.now() > drained) throw new Error("the queued messages were not handled");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

test("a catalog or platform change re-runs the platform and every service, with their modules loaded afresh", async () => {
  const before = stage.programs;
  const catalogModule = require.resolve("../../contract/catalog");
  const loadedBefore = require.cache[catalogModule];
  assert.ok(loadedBefore, "the programs loaded the catalog");
  const runs = await rerunPrograms(before, "all", { platformDir: REPO_ROOT, repoRoot: REPO_ROOT, region: stage.wiring.region });
  assert.equal(runs.map((run) => run.project), before.map((run) => run.project));
  assert.ok(runs.every((run, i) => run !== before[i]), "every program ran again");
  assert.ok(require.cache[catalogModule] && require.cache[catalogModule] !== loadedBefore, "the catalog was loaded again");
  const wiring = JSON.stringify(stage.wiring);
  await stage.reconcile(runs);
  assert.is(JSON.stringify(stage.wiring), wiring, "the same code gives the same wiring");
  assert.equal(await version(), { version: "v3" });
});

test.run();
