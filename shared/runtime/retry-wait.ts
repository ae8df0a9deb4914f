import type { AsyncLocalStorage } from "node:async_hooks";
import { promisify } from "node:util";

// A retry strategy of the AWS SDK (@smithy's StandardRetryStrategy, AdaptiveRetryStrategy) waits its backoff inside
// refreshRetryTokenForRetry, on a setTimeout it keeps to itself (up to 20 s), having already taken the retry's cost
// from its quota; it takes no AbortSignal, and the cost comes back only through recordSuccess(token) with the token
// it hands out after the wait. A caller that stops waiting at a deadline would leave that timer running (keeping a
// local process alive) and the cost spent on a retry that never happens. `refreshUntil` ends such a wait at the
// deadline: the timers the strategy started for it are cleared and their callbacks run at once, so the strategy
// hands out its token now, and the caller gives it back.

/** One strategy call being waited for: the timers it started that have not run, and whether the wait ended. */
interface Wait {
  readonly timers: Map<ReturnType<typeof setTimeout>, () => void>;
  ended: boolean;
  /** The call settled, or will never go on: its timers need no capturing any more. */
  readonly close: () => void;
}

// Created on first use (as the invocation scope's): node:async_hooks is not needed during the init phase.
let waits: AsyncLocalStorage<Wait> | undefined;
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
/** The wait each captured timer belongs to (a timer its owner clears leaves its wait). */
const owners = new WeakMap<ReturnType<typeof setTimeout>, Wait>();
/** Strategy calls under way that may still start timers (the global `setTimeout` captures theirs meanwhile). */
let open = 0;

/** `setTimeout`, which records the timers started inside a strategy call `refreshUntil` waits for. */
const capturingSetTimeout = Object.assign(
  function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]) {
    const wait = waits?.getStore();
    if (!wait || typeof callback !== "function") return realSetTimeout(callback, ms, ...args);
    // Once the wait ended, the call's later waits (a rate limiter's) never run: its result is no longer wanted.
    if (wait.ended) {
      wait.close();
      const never = realSetTimeout(() => undefined, 0);
      realClearTimeout(never);
      return never;
    }
    const handle = realSetTimeout(() => {
      wait.timers.delete(handle);
      callback(...args);
    }, ms);
    wait.timers.set(handle, () => callback(...args));
    owners.set(handle, wait);
    return handle;
  },
  { [promisify.custom]: (realSetTimeout as unknown as Record<symbol, unknown>)[promisify.custom] },
) as unknown as typeof globalThis.setTimeout;

/** `clearTimeout`, which also forgets a captured timer (its callback must not run when the wait is cut). */
const capturingClearTimeout = function clearTimeout(handle?: Parameters<typeof globalThis.clearTimeout>[0]) {
  if (handle !== undefined && handle !== null && typeof handle === "object") owners.get(handle as ReturnType<typeof setTimeout>)?.timers.delete(handle as ReturnType<typeof setTimeout>);
  realClearTimeout(handle);
} as typeof globalThis.clearTimeout;

function opened(): void {
  if (open++ > 0) return;
  if (globalThis.setTimeout === realSetTimeout) globalThis.setTimeout = capturingSetTimeout;
  if (globalThis.clearTimeout === realClearTimeout) globalThis.clearTimeout = capturingClearTimeout;
}

function closed(): void {
  if (--open > 0) return;
  if (globalThis.setTimeout === capturingSetTimeout) globalThis.setTimeout = realSetTimeout;
  if (globalThis.clearTimeout === capturingClearTimeout) globalThis.clearTimeout = realClearTimeout;
  // On Node.js 20 an AsyncLocalStorage in use keeps promise hooks on (a cost on every await): off until the next wait.
  waits?.disable();
}

/**
 * `decide()` (a retry strategy's `refreshRetryTokenForRetry`), or `undefined` once `deadline` (epoch ms) comes first.
 * Then the wait ends there: the timers `decide` started are cleared and their callbacks run at once (the strategy's
 * backoff is over), and its result, when it comes, goes to `unused` (to give the token's cost back with
 * `recordSuccess`). Timers it starts after that never run. Nothing of the wait is pending when this returns.
 */
export async function refreshUntil<T>(decide: () => Promise<T>, deadline: number | undefined, unused: (result: T) => void): Promise<T | undefined> {
  if (deadline === undefined) return decide();
  let closedAlready = false;
  const wait: Wait = {
    timers: new Map(),
    ended: false,
    close: () => {
      if (closedAlready) return;
      closedAlready = true;
      closed();
    },
  };
  opened();
  waits ??= new (require("node:async_hooks") as typeof import("node:async_hooks")).AsyncLocalStorage<Wait>();
  let running: Promise<T>;
  try {
    running = waits.run(wait, decide);
  } catch (error) {
    // A call that throws at once (not a promise) ends as one that rejects.
    running = Promise.reject(error);
  }
  running.then(wait.close, wait.close);
  let expiry: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<typeof EXPIRED>((resolve) => {
    expiry = realSetTimeout(() => resolve(EXPIRED), Math.max(0, deadline - Date.now()));
  });
  try {
    const first = await Promise.race([running, expired]);
    if (first !== EXPIRED) return first;
  } finally {
    realClearTimeout(expiry);
  }
  wait.ended = true;
  running.then(unused, () => undefined);
  const cut = [...wait.timers];
  wait.timers.clear();
  for (const [handle] of cut) realClearTimeout(handle);
  for (const [, run] of cut) {
    try {
      run();
    } catch (error) {
      // The timer's error, not this caller's: uncaught, as it would have been when the timer ran.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
  return undefined;
}

const EXPIRED = Symbol("expired");
