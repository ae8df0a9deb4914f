/**
 * Time for the local engines. Every engine reads the time and schedules its timers through a `Clock`, so a test can
 * swap the system clock for a {@link FakeClock} and move time forward deterministically (visibility timeouts,
 * retention, delays, batching windows, handler timeouts, long polls).
 */

/** An opaque timer handle returned by {@link Clock.setTimer}. */
export type TimerHandle = object;

/** The source of time and timers of the local engines. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once, `delayMs` from now. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer that has not fired yet (no-op otherwise). */
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, Math.max(0, delayMs)),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface FakeTimer {
  due: number;
  seq: number;
  callback: () => void;
}

/** Lets every queued microtask and promise continuation run (a few macrotask turns). */
export async function flushMicrotasks(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A clock that only moves when told to. Timers fire in due order (ties in creation order) while {@link advance}
 * walks time forward, and pending promise continuations are flushed after each timer, so async code driven by the
 * engines (pollers, long polls, handlers) settles between steps.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<object, FakeTimer>();

  /** @param startMs the initial time (default 2024-01-01T00:00:00Z). */
  constructor(startMs = Date.UTC(2024, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const handle = {};
    this.timers.set(handle, { due: this.current + Math.max(0, delayMs), seq: this.seq++, callback });
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (time is set to each timer's due time
   * before it fires) and flushing promise continuations after each one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await flushMicrotasks();
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      const [handle, timer] = next;
      this.timers.delete(handle);
      this.current = Math.max(this.current, timer.due);
      timer.callback();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  /** Fires timers already due and flushes promise continuations, without moving time. */
  flush(): Promise<void> {
    return this.advance(0);
  }

  private nextDue(limit: number): [object, FakeTimer] | undefined {
    let best: [object, FakeTimer] | undefined;
    for (const entry of this.timers) {
      const timer = entry[1];
      if (timer.due > limit) continue;
      if (!best || timer.due < best[1].due || (timer.due === best[1].due && timer.seq < best[1].seq)) best = entry;
    }
    return best;
  }
}
