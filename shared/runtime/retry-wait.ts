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
      clearTimeout(never);
      return never;
    }
    const handle = realSetTimeout(() => {
      wait.timers.delete(handle);
      callback(...args);
    }, ms);
    wait.timers.set(handle, () => callback(...args));
    return handle;
  },
  { [promisify.custom]: (realSetTimeout as unknown as Record<symbol, unknown>)[promisify.custom] },
) as unknown as typeof globalThis.setTimeout;

function opened(): void {
  if (open++ === 0 && globalThis.setTimeout === realSetTimeout) globalThis.setTimeout = capturingSetTimeout;
}

function closed(): void {
  if (--open > 0) return;
  if (globalThis.setTimeout === capturingSetTimeout) globalThis.setTimeout = realSetTimeout;
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
  const running = waits.run(wait, decide);
  running.then(wait.close, wait.close);
  let expiry: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<typeof EXPIRED>((resolve) => {
    expiry = realSetTimeout(() => resolve(EXPIRED), Math.max(0, deadline - Date.now()));
  });
  try {
    const first = await Promise.race([running, expired]);
    if (first !== EXPIRED) return first;
  } finally {
    clearTimeout(expiry);
  }
  wait.ended = true;
  running.then(unused, () => undefined);
  const cut = [...wait.timers];
  wait.timers.clear();
  for (const [handle, run] of cut) {
    clearTimeout(handle);
    run();
  }
  return undefined;
}

const EXPIRED = Symbol("expired");
