import { test } from "uvu";
import * as assert from "uvu/assert";
import { refreshUntil } from "../retry-wait";

const original = globalThis.setTimeout;
const sleep = (ms: number) => new Promise<void>((resolve) => original(resolve, ms));

test("a strategy call that throws at once rejects and leaves the global setTimeout as it was", async () => {
  const failing = (() => {
    throw new Error("No retry token available");
  }) as unknown as () => Promise<string>;
  let error: unknown;
  await refreshUntil(failing, Date.now() + 1_000, () => undefined).catch((e: unknown) => (error = e));
  assert.instance(error, Error);
  assert.is((error as Error).message, "No retry token available");
  assert.is(globalThis.setTimeout, original, "setTimeout is still wrapped after the call ended");
});

test("a timer the strategy cleared itself is not run when the deadline cuts its wait", async () => {
  let cancelledRan = false;
  let gaveBack: string | undefined;
  const decide = () =>
    new Promise<string>((resolve) => {
      // Waits the shorter of two timers, and clears the other one (as a race with a cancel would).
      const cancelled = setTimeout(() => {
        cancelledRan = true;
      }, 10_000);
      clearTimeout(cancelled);
      setTimeout(() => resolve("token"), 10_000);
    });
  const result = await refreshUntil(decide, Date.now() + 30, (token) => (gaveBack = token));
  assert.is(result, undefined);
  await sleep(10);
  assert.is(gaveBack, "token");
  assert.not.ok(cancelledRan, "the callback of a timer its owner cleared ran at the deadline");
  assert.is(globalThis.setTimeout, original);
});

test("other code's timers started while a wait is under way run at their own time, not at its deadline", async () => {
  let otherRan = false;
  let gaveBack: string | undefined;
  const decide = () => new Promise<string>((resolve) => setTimeout(() => resolve("token"), 10_000));
  const waiting = refreshUntil(decide, Date.now() + 30, (token) => (gaveBack = token));
  const other = setTimeout(() => (otherRan = true), 200);
  assert.is(await waiting, undefined);
  await sleep(10);
  assert.is(gaveBack, "token");
  assert.not.ok(otherRan, "another caller's timer ran at the wait's deadline");
  clearTimeout(other);
  assert.is(globalThis.setTimeout, original);
});

test("a cut timer whose callback throws still lets the others be cut, and its error is uncaught as the timer's would be", async () => {
  let secondRan = false;
  const uncaught: unknown[] = [];
  const earlier = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on("uncaughtException", onUncaught);
  try {
    const decide = () =>
      new Promise<string>((resolve) => {
        setTimeout(() => {
          throw new Error("boom");
        }, 10_000);
        setTimeout(() => {
          secondRan = true;
          resolve("token");
        }, 10_000);
      });
    let gaveBack: string | undefined;
    const result = await refreshUntil(decide, Date.now() + 30, (token) => (gaveBack = token));
    assert.is(result, undefined);
    await sleep(10);
    assert.ok(secondRan, "the timer after the throwing one was not cut");
    assert.is(gaveBack, "token");
    assert.equal(
      uncaught.map((error) => (error as Error).message),
      ["boom"],
    );
    assert.is(globalThis.setTimeout, original);
  } finally {
    process.off("uncaughtException", onUncaught);
    for (const listener of earlier) process.on("uncaughtException", listener);
  }
});

test.run();
