// The function host swaps a function's code while it serves (watch mode): an invocation under way finishes on the
// code it started with, the next one runs the new code, and a build that fails changes nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FunctionBuilds } from "../../infra/helpers/bundle";
import { FunctionHost, type InvocationResult } from "../lambda";

const dirs: string[] = [];
const hosts: FunctionHost[] = [];
test.after.each(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A handler that answers its version after sleeping as long as the event asks. */
function handlerSource(version: string): string {
  return `export async function handler(event: { ms?: number }) {
  await new Promise((resolve) => setTimeout(resolve, event.ms ?? 0));
  return { version: "${version}" };
}
`;
}

function payload(result: InvocationResult): unknown {
  if (!result.ok) throw new assert.Assertion({ message: `invocation failed: ${result.error.errorType}: ${result.error.errorMessage}`, operator: "ok", actual: result, expects: "ok" });
  return result.payload;
}

function setup(concurrency: number): { host: FunctionHost; entry: string } {
  const dir = mkdtempSync(join(tmpdir(), "swap-"));
  dirs.push(dir);
  const entry = join(dir, "handler.ts");
  writeFileSync(entry, handlerSource("v1"));
  const host = new FunctionHost({ name: `local-swap-${dirs.length}-${process.pid}`, entry, timeout: 30, reservedConcurrency: concurrency }, { onLog: () => undefined });
  hosts.push(host);
  return { host, entry };
}

test("reload: the invocation under way finishes on the old code, the next one (waiting for the same permit) runs the new", async () => {
  const { host, entry } = setup(1);
  assert.equal(payload(await host.invoke({})), { version: "v1" });
  const inFlight = host.invoke({ ms: 1500 });
  // Started on the warm v1 worker; with a concurrency of 1 the next invocation waits for it.
  await until(() => host.stats().busy === 1, "the invocation is under way");
  writeFileSync(entry, handlerSource("v2"));
  const bundle = await host.reload();
  assert.not.ok(bundle.cached);
  assert.ok(bundle.inputs.includes(entry), `the bundle's inputs name the handler: ${bundle.inputs.join(", ")}`);
  const next = host.invoke({});
  const first = await inFlight;
  assert.equal(payload(first), { version: "v1" }, "the invocation under way finished on the code it started with");
  const second = await next;
  assert.equal(payload(second), { version: "v2" });
  // The old worker exits once its invocation is done: one worker left (the one loaded with v2 at the swap).
  await until(() => host.stats().workers === 1, "the old worker exits once its invocation is done");
  assert.is(host.stats().coldStarts, 2, "one worker per version");
  assert.equal(payload(await host.invoke({})), { version: "v2" });
});

test("reload: idle workers of the old code go at once; every invocation after the swap runs the new code", async () => {
  const { host, entry } = setup(3);
  await Promise.all([host.invoke({ ms: 100 }), host.invoke({ ms: 100 }), host.invoke({ ms: 100 })]);
  assert.is(host.stats().workers, 3);
  writeFileSync(entry, handlerSource("v2"));
  await host.reload();
  await until(() => host.stats().workers === 1, "idle old workers exit; one worker loads the new code at once");
  const answers = await Promise.all([host.invoke({ ms: 50 }), host.invoke({ ms: 50 }), host.invoke({})]);
  assert.equal(answers.map(payload), [{ version: "v2" }, { version: "v2" }, { version: "v2" }]);
  assert.is(host.stats().coldStarts, 6, "three workers per version: the one loaded at the swap serves one of the three");
});

test("reload: the same bundle again (an edit that changes nothing in the output) keeps the warm workers", async () => {
  const { host, entry } = setup(1);
  assert.equal(payload(await host.invoke({})), { version: "v1" });
  writeFileSync(entry, `// a comment esbuild drops\n${handlerSource("v1")}`);
  await host.reload();
  const again = await host.invoke({});
  assert.equal(payload(again), { version: "v1" });
  assert.not.ok(again.coldStart, "the warm worker kept serving");
});

test("reload: a handler that does not build is refused with esbuild's message and the old code keeps serving", async () => {
  const { host, entry } = setup(2);
  assert.equal(payload(await host.invoke({})), { version: "v1" });
  writeFileSync(entry, `${handlerSource("v2").replace("return {", "return {{")}`);
  try {
    await host.reload();
    assert.unreachable("a syntax error must fail the reload");
  } catch (error) {
    assert.is((error as Error).name, "LocalBundleError");
    assert.match((error as Error).message, /handler\.ts:\d+:\d+/);
  }
  assert.equal(payload(await host.invoke({})), { version: "v1" }, "the warm worker keeps the last good code");
  assert.equal(payload((await Promise.all([host.invoke({ ms: 50 }), host.invoke({ ms: 50 })]))[1]!), { version: "v1" }, "a new worker too");
  writeFileSync(entry, handlerSource("v3"));
  await host.reload();
  assert.equal(payload(await host.invoke({})), { version: "v3" });
});

test("reload: new code that throws while it loads (its init phase) is refused, and the old code keeps serving", async () => {
  const { host, entry } = setup(1);
  assert.equal(payload(await host.invoke({})), { version: "v1" });
  writeFileSync(entry, `throw new Error("cannot load");\n${handlerSource("v2")}`);
  try {
    await host.reload();
    assert.unreachable("an init error must fail the reload");
  } catch (error) {
    assert.is((error as Error).name, "FunctionInitError");
    assert.match((error as Error).message, /fails its init phase: Error: cannot load/);
  }
  const after = await host.invoke({});
  assert.equal(payload(after), { version: "v1" });
  assert.not.ok(after.coldStart, "the warm worker of the old code kept serving");
});

/** Holds every build's answer until `release()` (esbuild still builds; only the answer waits): a build that takes long. */
function holdBuilds(): { started: Promise<void>; release: () => void; restore: () => void } {
  const original = FunctionBuilds.prototype.build;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const building = new Promise<void>((resolve) => (started = resolve));
  FunctionBuilds.prototype.build = function (this: FunctionBuilds, ...args: Parameters<FunctionBuilds["build"]>) {
    started();
    return gate.then(() => original.apply(this, args));
  };
  return { started: building, release, restore: () => (FunctionBuilds.prototype.build = original) };
}

/** Polls `condition`; a bound for a hang, not a measure (a worker's start or exit takes seconds on a loaded machine). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within 60 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A handler that answers its version with the Lambda variables naming its bundle and log stream. */
function environmentHandlerSource(version: string): string {
  return `export async function handler(_event: unknown, context: { logStreamName: string }) {
  return {
    version: "${version}",
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    handler: process.env._HANDLER,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    sameStream: process.env.AWS_LAMBDA_LOG_STREAM_NAME === context.logStreamName,
  };
}
`;
}

test("reload: the worker that takes over starts while the bundle builds, gets the function's environment, and goes if the build fails", async () => {
  const { host, entry } = setup(1);
  writeFileSync(entry, environmentHandlerSource("v1"));
  const first = await host.invoke({});
  assert.equal(payload(first), { version: "v1", taskRoot: (await host.bundle)!.dir, handler: "index.handler", functionName: host.name, sameStream: true });
  const held = holdBuilds();
  try {
    writeFileSync(entry, environmentHandlerSource("v2"));
    const reloading = host.reload();
    await held.started;
    await until(() => host.stats().prewarmed === 1, "a worker starts while the bundle builds");
    assert.is(host.stats().workers, 1, "the old code's worker still serves alone");
    held.release();
    const bundle = await reloading;
    assert.is(host.stats().prewarmed, 0);
    const next = await host.invoke({});
    assert.not.ok(next.coldStart, "the worker started during the build loaded the new code at the swap");
    assert.equal(payload(next), { version: "v2", taskRoot: bundle.dir, handler: "index.handler", functionName: host.name, sameStream: true });
  } finally {
    held.restore();
  }
  // A build that fails lets the worker it started go.
  const again = holdBuilds();
  try {
    writeFileSync(entry, environmentHandlerSource("v3").replace("return {", "return {{"));
    const failing = host.reload().then(
      () => "reloaded",
      (error: Error) => error.name,
    );
    await again.started;
    await until(() => host.stats().prewarmed === 1, "a worker starts while the broken bundle builds");
    again.release();
    assert.is(await failing, "LocalBundleError");
    await until(() => host.stats().prewarmed === 0, "the worker started for the failed build goes");
    assert.is(host.stats().workers, 1);
    assert.equal((payload(await host.invoke({})) as { version: string }).version, "v2", "the last good code keeps serving");
  } finally {
    again.restore();
  }
});

test("drain: resolves once the invocations under way are done, then the host is stopped", async () => {
  const { host } = setup(2);
  await host.invoke({});
  // Long enough that it is still under way when drained is checked, on a loaded machine too.
  const running = host.invoke({ ms: 3000 });
  await until(() => host.stats().busy === 1, "the invocation is under way");
  let drained = false;
  const draining = host.drain().then(() => (drained = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.not.ok(drained, "not before the invocation is done");
  assert.equal(payload(await running), { version: "v1" });
  await draining;
  assert.is(host.stats().workers, 0);
  const after = await host.invoke({}).then(
    () => "answered",
    (error: Error) => error.message,
  );
  assert.match(after, /is stopped/);
});

test.run();
