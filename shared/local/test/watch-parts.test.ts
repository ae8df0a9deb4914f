// Watch mode's parts on their own: the file watcher (real files in a temporary folder), which work a change calls
// for, and the difference between two wirings. (watch-stage.test.ts runs them against a running stage.)
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FunctionSpec, QueueSpec, StageWiring, SubscriptionSpec } from "../stage";
import { describeChanges, diffWiring, isEmptyDiff, isIgnoredPath, planReload, watchFiles, watchRoots } from "../watch";

const temporary: string[] = [];
test.after.each(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function nextBatch(roots: Parameters<typeof watchFiles>[0], act: () => void, options: { debounceMs?: number } = {}): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const batches: string[][] = [];
    const watch = watchFiles(roots, (files) => batches.push(files), { ...options, onError: reject });
    setTimeout(act, 50);
    // The batch comes once the folder has been quiet; wait well past that, then see how many came.
    setTimeout(() => {
      watch.close();
      resolve(batches);
    }, 700);
  });
}

test("watcher: a burst of edits in a folder, a new subfolder included, is one batch; ignored paths are left out", async () => {
  const dir = mkdtempSync(join(tmpdir(), "watch-"));
  temporary.push(dir);
  mkdirSync(join(dir, "handlers"));
  const batches = await nextBatch([{ path: dir, folder: true }], () => {
    writeFileSync(join(dir, "handlers", "a.ts"), "export const a = 1;\n");
    writeFileSync(join(dir, "handlers", "a.ts"), "export const a = 2;\n");
    mkdirSync(join(dir, "handlers", "nested"));
    writeFileSync(join(dir, "handlers", "nested", "b.ts"), "export const b = 1;\n");
    mkdirSync(join(dir, "node_modules"));
    writeFileSync(join(dir, "node_modules", "c.js"), "x");
    writeFileSync(join(dir, "handlers", ".a.ts.swp"), "x");
  }, { debounceMs: 150 });
  assert.is(batches.length, 1, `one batch, got ${JSON.stringify(batches)}`);
  const files = batches[0]!;
  assert.ok(files.includes(join(dir, "handlers", "a.ts")), files.join(", "));
  assert.ok(files.includes(join(dir, "handlers", "nested", "b.ts")), files.join(", "));
  assert.not.ok(files.some((file) => file.includes("node_modules") || file.endsWith(".swp")), files.join(", "));
});

test("watcher: a single file is watched through its folder, and only that file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "watch-"));
  temporary.push(dir);
  writeFileSync(join(dir, "Pulumi.yaml"), "name: a\n");
  const batches = await nextBatch([{ path: join(dir, "Pulumi.yaml"), folder: false }], () => {
    writeFileSync(join(dir, "Pulumi.yaml"), "name: b\n");
    writeFileSync(join(dir, "other.ts"), "x");
  });
  assert.equal(batches, [[join(dir, "Pulumi.yaml")]]);
});

test("watcher: an editor's atomic save (write a temporary file, rename it over the file) is one batch at the default quiet time, with the time of its first event", async () => {
  const dir = mkdtempSync(join(tmpdir(), "watch-"));
  temporary.push(dir);
  writeFileSync(join(dir, "handler.ts"), "export const a = 1;\n");
  const batches: Array<{ files: string[]; firstSeenAt: number; handedAt: number }> = [];
  let wroteAt = 0;
  const watch = watchFiles([{ path: dir, folder: true }], (files, firstSeenAt) => batches.push({ files, firstSeenAt, handedAt: performance.now() }));
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    wroteAt = performance.now();
    // As JetBrains editors save: the new content to a side file, the old file out of the way, the side file in.
    writeFileSync(join(dir, "handler.ts___jb_tmp___"), "export const a = 2;\n");
    renameSync(join(dir, "handler.ts"), join(dir, "handler.ts___jb_old___"));
    renameSync(join(dir, "handler.ts___jb_tmp___"), join(dir, "handler.ts"));
    rmSync(join(dir, "handler.ts___jb_old___"));
    // The first batch (a bound for a hang: a loaded machine delivers file events late), then time for a second one.
    for (const deadline = Date.now() + 60_000; batches.length === 0 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    watch.close();
  }
  assert.is(batches.length, 1, `one batch, got ${JSON.stringify(batches)}`);
  assert.ok(batches[0]!.files.includes(join(dir, "handler.ts")), batches[0]!.files.join(", "));
  assert.ok(batches[0]!.firstSeenAt >= wroteAt && batches[0]!.firstSeenAt <= batches[0]!.handedAt, "the batch says when its first event came");
});

test("isIgnoredPath: build output, packages, version control and editor files", () => {
  for (const path of ["/r/node_modules/x/index.js", "/r/.build/local/a.mjs", "/r/.git/index", "/r/a.ts~", "/r/.a.ts.swp", "/r/4913", "/r/.#a.ts"]) {
    assert.ok(isIgnoredPath(path), path);
  }
  assert.not.ok(isIgnoredPath("/r/services/billing/handlers/on-order-placed.ts"));
});

// ---------------------------------------------------------------------------------------------------------------
// What a change calls for

const root = "/repo";
const billing = "/repo/services/billing";
const fixture = "/repo/shared/local/test/fixtures/watched-service";
const targets = (loaded: string[] = []) => ({
  repoRoot: root,
  platformDir: root,
  serviceDirs: [billing, fixture],
  functionInputs: new Map([
    ["local-billing-on-order-placed", new Set([`${billing}/handlers/on-order-placed.ts`, "/repo/shared/runtime/consume.ts", "/repo/shared/contract/catalog.ts", `${billing}/entities.ts`])],
    ["local-watched-echo", new Set([`${fixture}/handlers/echo.ts`, "/repo/shared/runtime/consume.ts"])],
  ]),
  loadedByProgram: (file: string) => loaded.includes(file),
});

test("plan: a handler, or a file it imports, rebuilds exactly the functions it feeds", () => {
  assert.equal(planReload([`${billing}/handlers/on-order-placed.ts`], targets()), { functions: ["local-billing-on-order-placed"], programs: [], restart: [] });
  assert.equal(planReload(["/repo/shared/runtime/consume.ts"], targets()).functions, ["local-billing-on-order-placed", "local-watched-echo"]);
  // A service in a test folder (a fixture) is a service like any other.
  assert.equal(planReload([`${fixture}/handlers/echo.ts`], targets()).functions, ["local-watched-echo"]);
});

test("plan: a service's index.ts, project files or a module its program loaded re-run that program only", () => {
  assert.equal(planReload([`${billing}/index.ts`], targets()), { functions: [], programs: [billing], restart: [] });
  assert.equal(planReload([`${fixture}/Pulumi.yaml`], targets()).programs, [fixture]);
  assert.equal(planReload([`${billing}/infra/queues.ts`], targets([`${billing}/infra/queues.ts`])).programs, [billing]);
  // Loaded by neither the program nor a bundle (a README, a file not imported yet): nothing to do.
  assert.equal(planReload([`${billing}/README.md`, `${billing}/notes.ts`], targets()), { functions: [], programs: [], restart: [] });
  // A module both import: both.
  assert.equal(planReload([`${billing}/entities.ts`], targets([`${billing}/entities.ts`])), { functions: ["local-billing-on-order-placed"], programs: [billing], restart: [] });
  // Tests are not run by the stage.
  assert.equal(planReload([`${billing}/test/on-order-placed.test.ts`], targets()).programs, []);
});

test("plan: the catalog, the platform, the Pulumi components re-run every program (and rebuild what the catalog feeds)", () => {
  const catalog = "/repo/shared/contract/catalog.ts";
  assert.equal(planReload([catalog], targets([catalog])), { functions: ["local-billing-on-order-placed"], programs: "all", restart: [] });
  assert.equal(planReload(["/repo/platform/index.ts"], targets()).programs, "all");
  assert.equal(planReload(["/repo/Pulumi.yaml"], targets()).programs, "all");
  assert.equal(planReload(["/repo/shared/infra/event-consumer.ts"], targets(["/repo/shared/infra/event-consumer.ts"])).programs, "all");
  assert.equal(planReload(["/repo/shared/infra/test/consumer.test.ts"], targets(["/repo/shared/infra/test/consumer.test.ts"])).programs, []);
  // Any shared code a program loaded, wherever it lives; shared code no program loaded feeds only its bundles.
  assert.equal(planReload(["/repo/shared/catalog/events.ts"], targets(["/repo/shared/catalog/events.ts"])).programs, "all");
  assert.equal(planReload(["/repo/shared/runtime/consume.ts"], targets()).programs, []);
  // The stage's own code runs on the next start.
  assert.equal(planReload(["/repo/shared/local/sns/engine.ts"], targets(["/repo/shared/local/sns/engine.ts"])).restart, ["/repo/shared/local/sns/engine.ts"]);
  assert.equal(planReload(["/repo/shared/capture/run-program.ts"], targets(["/repo/shared/capture/run-program.ts"])), { functions: [], programs: [], restart: ["/repo/shared/capture/run-program.ts"] });
});

test("watchRoots: shared/, the platform's program and project files, every service folder", () => {
  assert.equal(watchRoots(targets()), [
    { path: "/repo/shared", folder: true },
    { path: "/repo/platform", folder: true },
    { path: "/repo/Pulumi.yaml", folder: false },
    { path: "/repo/Pulumi.local.yaml", folder: false },
    { path: billing, folder: true },
    { path: fixture, folder: true },
  ]);
});

// ---------------------------------------------------------------------------------------------------------------
// Wiring differences

const origin = { project: "watched", name: "x", type: "t" };
const queue = (name: string, extra: Partial<QueueSpec> = {}): QueueSpec => ({
  origin,
  name,
  arn: `arn:aws:sqs:us-east-1:123456789012:${name}`,
  deployedUrl: `https://sqs/${name}`,
  fifo: false,
  contentBasedDeduplication: false,
  ...extra,
});
const subscription = (queueName: string, filterPolicy?: string): SubscriptionSpec => ({
  origin,
  deployedArn: `arn:aws:sns:us-east-1:123456789012:topic:${Math.random()}`,
  topicArn: "arn:aws:sns:us-east-1:123456789012:local-orders-order-placed",
  queueArn: `arn:aws:sqs:us-east-1:123456789012:${queueName}`,
  raw: true,
  ...(filterPolicy ? { filterPolicy } : {}),
});
const fn = (name: string, environment: Record<string, string> = {}, policies: string[] = []): FunctionSpec => ({
  origin,
  name,
  arn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
  service: "watched",
  logicalName: name.replace("local-watched-", ""),
  entry: `services/watched/handlers/${name}.ts`,
  exportName: "handler",
  runtime: "nodejs24.x",
  timeoutSeconds: 10,
  memoryMb: 256,
  environment,
  logFormat: "JSON",
  roleArn: `arn:aws:iam::123456789012:role/${name}`,
  policies,
});
const wiring = (parts: Partial<StageWiring>): StageWiring => ({
  region: "us-east-1",
  accountId: "123456789012",
  tables: [],
  topics: [],
  queues: [],
  subscriptions: [],
  functions: [],
  mappings: [],
  routes: [],
  ignored: [],
  ...parts,
});

test("diffWiring: a new consumer, a changed filter policy, a function's environment; the same wiring run again is no change", () => {
  const before = wiring({
    queues: [queue("local-watched-a")],
    subscriptions: [subscription("local-watched-a", '{"type":["orders.order-placed"]}')],
    functions: [fn("local-watched-a", { A: "1" })],
  });
  const again = wiring({
    queues: [queue("local-watched-a")],
    // A new deployed ARN (the mocks' random id) and keys in another order: not a change.
    subscriptions: [subscription("local-watched-a", '{"type":["orders.order-placed"]}')],
    functions: [{ ...fn("local-watched-a"), environment: { A: "1" } }],
  });
  assert.ok(isEmptyDiff(diffWiring(before, again)), describeChanges(diffWiring(before, again)).join("\n"));

  const after = wiring({
    queues: [queue("local-watched-a"), queue("local-watched-b")],
    subscriptions: [subscription("local-watched-a", '{"source":["orders"]}'), subscription("local-watched-b")],
    functions: [fn("local-watched-a", { A: "2" }), fn("local-watched-b")],
  });
  const changes = diffWiring(before, after);
  assert.equal(changes.queues.added.map((q) => q.name), ["local-watched-b"]);
  assert.equal(changes.subscriptions.changed.map((c) => c.fields), [["filterPolicy"]]);
  assert.equal(changes.functions.changed.map((c) => [c.after.name, c.fields]), [["local-watched-a", ["environment"]]]);
  assert.equal(describeChanges(changes), [
    "+ queue local-watched-b",
    "+ subscription local-orders-order-placed -> local-watched-b",
    "~ subscription local-orders-order-placed -> local-watched-a (filterPolicy)",
    "+ function watched/b",
    "~ function watched/a (environment)",
  ]);
  const back = diffWiring(after, before);
  assert.equal(back.queues.removed.map((q) => q.name), ["local-watched-b"]);
  assert.equal(back.functions.removed.map((f) => f.name), ["local-watched-b"]);
});

test.run();
