// The channel between the stage's thread and an engine thread (shared/local/engine-thread), against a real
// worker_threads Worker running the channel's thread side: answers matched by id, the thread's errors kept, a stop
// fails every waiting request naming the engine, calls after close refused, the start handshake, no listener left.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EngineChannel, type EngineChannelOptions } from "../engine-thread/channel";

const BOOT = `require("tsx/cjs/api").register(); require(${JSON.stringify(join(__dirname, "fixtures", "engine-channel-thread.ts"))});`;
const thread = (start = "started") => new Worker(BOOT, { eval: true, workerData: { start } });
const LISTENED = ["message", "error", "exit"] as const;
const listeners = (worker: Worker) => LISTENED.map((event) => worker.listenerCount(event));

async function started(options: Partial<EngineChannelOptions<unknown>> = {}) {
  const worker = thread();
  const { channel, info } = await EngineChannel.start<{ threadId: number }>(worker, { engine: "the test engine", ...options });
  assert.is(info.threadId, worker.threadId, "the started message's info");
  return channel;
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: Error) => error,
  );

test("answers are matched by id: answers arriving in the reverse order reach their own requests", async () => {
  const channel = await started();
  try {
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => channel.request<number>({ op: "echo", value: n, delayMs: (6 - n) * 15 })));
    assert.equal(answers, [1, 2, 3, 4, 5]);
    assert.equal(await channel.request({ op: "echo", value: { nested: ["x"] } }), { nested: ["x"] }, "structured values cross as they are");
  } finally {
    await channel.close();
  }
});

test("an error in the thread rejects that request only, with its name, message and code; a custom rebuild gets them", async () => {
  const channel = await started();
  try {
    const [error, ok] = await Promise.all([rejection(channel.request({ op: "reject", code: "E_BAD", message: "bad input" })), channel.request({ op: "echo", value: "fine", delayMs: 20 })]);
    assert.is(error.name, "EngineError");
    assert.is(error.message, "bad input");
    assert.is((error as Error & { code?: string }).code, "E_BAD");
    assert.is(ok, "fine", "the other request is answered");
    const thrown = await rejection(channel.request({ op: "throw", message: "thrown at once" }));
    assert.is(thrown.name, "TypeError", "a synchronous throw crosses too");
    assert.is(thrown.message, "thrown at once");
  } finally {
    await channel.close();
  }
  class Rebuilt extends Error {}
  const custom = await started({ rebuild: (e) => new Rebuilt(`${e.code}/${e.name}/${e.message}`) });
  try {
    const error = await rejection(custom.request({ op: "reject", code: "E_X", message: "m" }));
    assert.ok(error instanceof Rebuilt);
    assert.is(error.message, "E_X/EngineError/m");
  } finally {
    await custom.close();
  }
});

test("the thread exiting rejects every waiting request with an error naming the engine; later requests are refused", async () => {
  const channel = await started();
  const waiting = [channel.request({ op: "hang" }), channel.request({ op: "hang" }), channel.request({ op: "exit", code: 3 })].map(rejection);
  const errors = await Promise.all(waiting);
  assert.equal(
    errors.map((e) => e.message),
    Array(3).fill("the test engine stopped: exit code 3"),
  );
  const later = await rejection(channel.request({ op: "echo", value: 1 }));
  assert.is(later.message, "the test engine stopped: exit code 3", "refused with the stop's error");
  await channel.close();
});

test("an uncaught error in the thread rejects the waiting requests with its message; an engine's own wording is kept", async () => {
  const channel = await started({ stopped: (stop) => (stop.during === "run" && "error" in stop ? new Error(`the engine's thread failed: ${stop.error.message}`) : undefined) });
  const errors = await Promise.all([rejection(channel.request({ op: "hang" })), rejection(channel.request({ op: "crash", message: "boom" }))]);
  assert.equal(
    errors.map((e) => e.message),
    ["the engine's thread failed: boom", "the engine's thread failed: boom"],
  );
  assert.is((await rejection(channel.request({ op: "echo" }))).message, "the engine's thread failed: boom", "the first stop's error sticks (not the exit after it)");
  await channel.close();
});

test("close sends the thread's own close, waits for its answer, terminates the thread; calls after it are refused", async () => {
  const channel = await started({ refused: () => new RangeError("the test engine is stopped") });
  let answered = false;
  const closing = channel.close({ op: "echo", value: "bye", delayMs: 30 }).then(() => (answered = true));
  const refused = await rejection(channel.request({ op: "echo", value: 1 }));
  assert.ok(refused instanceof RangeError, "refused as the engine says, from the moment close began");
  assert.is(refused.message, "the test engine is stopped");
  assert.is(channel.close(), channel.close(), "a second close is the first");
  await closing;
  assert.ok(answered);
  assert.is(channel.worker.threadId, -1, "the thread is gone");

  const plain = await started();
  await plain.close();
  assert.is((await rejection(plain.request({ op: "echo" }))).message, "the test engine is closed");
});

test("close with a timeout: a thread that never answers its close is terminated anyway", async () => {
  const channel = await started();
  await channel.close({ op: "hang" }, 50);
  assert.is(channel.worker.threadId, -1);
});

test("progress messages reach their own request's handler before its answer, and the channel's events", async () => {
  const events: unknown[] = [];
  const channel = await started({ onEvent: (message) => events.push(message) });
  try {
    const first: unknown[] = [];
    const second: unknown[] = [];
    const [a, b] = await Promise.all([
      channel.request({ op: "progress", values: ["a1", "a2"] }, (value) => first.push(value)),
      channel.request({ op: "progress", values: ["b1"] }, (value) => second.push(value)),
    ]);
    assert.equal([a, b], [2, 1]);
    assert.equal(first, ["a1", "a2"]);
    assert.equal(second, ["b1"]);
    assert.equal(
      events.map((e) => (e as { value: unknown }).value),
      ["a1", "a2", "b1"],
    );
  } finally {
    await channel.close();
  }
});

test("the start handshake: a reported failure, an exit and a throw before the start reject it, naming the engine", async () => {
  const failed = thread("failed");
  const error = await rejection(EngineChannel.start(failed, { engine: "the test engine" }));
  assert.is(error.message, "the test engine did not start: no data directory");
  await new Promise((resolve) => failed.once("exit", resolve));
  assert.is(failed.threadId, -1, "the thread that failed to start is ended");

  const exited = await rejection(EngineChannel.start(thread("exit"), { engine: "the test engine" }));
  assert.is(exited.message, "the test engine exited with code 4 before it started");
  const threw = await rejection(EngineChannel.start(thread("throw"), { engine: "the test engine" }));
  assert.is(threw.message, "the test engine failed to start: the engine's module did not load");
  const own = await rejection(EngineChannel.start(thread("failed"), { engine: "x", stopped: (stop) => ("failed" in stop ? new Error(stop.failed.message) : undefined) }));
  assert.is(own.message, "no data directory", "an engine's own wording");
});

test("no listener leaks: a thousand requests leave the worker's listeners as they were; whenIdle waits for the last answer", async () => {
  const channel = await started();
  try {
    const before = listeners(channel.worker);
    assert.equal(before, [1, 1, 1]);
    const all = Promise.all(Array.from({ length: 1000 }, (_, n) => channel.request({ op: "echo", value: n })));
    let idle = false;
    const whenIdle = channel.whenIdle().then(() => (idle = true));
    assert.equal(listeners(channel.worker), before, "no listener per request");
    const answers = (await all) as number[];
    await whenIdle;
    assert.ok(idle);
    assert.is(answers[999], 999);
    assert.equal(listeners(channel.worker), before);
  } finally {
    await channel.close();
  }
});

test("a request that cannot be cloned rejects at once and leaves nothing waiting", async () => {
  const channel = await started();
  try {
    const error = await rejection(channel.request({ op: "echo", value: () => 1 }));
    assert.is(error.name, "DataCloneError");
    let idle = false;
    // A bound for a hang: idle comes at once, 10 s is room for a loaded machine.
    await Promise.race([channel.whenIdle().then(() => (idle = true)), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    assert.ok(idle, "nothing waits for an answer that will never come");
    assert.is(await channel.request({ op: "echo", value: "still serving" }), "still serving");
  } finally {
    await channel.close();
  }
});

test("refWhileWaiting: the thread holds the process while a request waits, not once it is idle", async () => {
  // A process with only the channel: it prints the answer (held while waiting), then exits (released when idle).
  const output = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["--import", "tsx", join(__dirname, "fixtures", "engine-channel-ref.ts")], { timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message} ${stderr}`)) : resolve(stdout),
    ),
  );
  assert.is(output.trim(), "first\nsecond");
});

test.run();
