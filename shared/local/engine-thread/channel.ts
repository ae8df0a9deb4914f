/**
 * The request/answer channel between the local stage's thread and an engine's worker thread (PGlite, kinesalite,
 * dynalite with the IAM proxy): numbered requests, the promises waiting for them, answers matched by id, the thread's
 * errors rebuilt here, every waiting request failed when the thread stops, a start handshake, close. The thread's side
 * is thread.ts (kinesis/engine.ts's inline thread speaks the same messages by hand).
 *
 * Messages (structured clone only: the channel adds no JSON and no message of its own):
 * - stage -> thread: a request is the caller's object with `id` set (`{ id, op, ... }`); {@link EngineChannel.post}
 *   sends a message that wants no answer.
 * - thread -> stage: `{ started: info }` or `{ failed: ThreadError }` once, when the channel waits for a start;
 *   `{ answer: id, value }` or `{ answer: id, error: ThreadError }` (other fields when the channel has a `decode`);
 *   `{ progress: id, value }` while a request is under way; anything else is an event (`onEvent`).
 */
import type { Worker } from "node:worker_threads";

/** An error as it crosses from the thread: what a rebuild needs. */
export interface ThreadError {
  message: string;
  /** Left out for a plain `Error`. */
  name?: string;
  code?: string | number;
  status?: number;
}

/** How the thread stopped: an uncaught error, an exit, or (while starting) the failure it reported. */
export type ThreadStop =
  | { during: "start" | "run"; error: Error }
  | { during: "start" | "run"; exitCode: number }
  | { during: "start"; failed: ThreadError };

/** An answer as the thread sends it. */
export interface AnswerMessage {
  answer: number;
  value?: unknown;
  error?: ThreadError;
  [field: string]: unknown;
}

export interface EngineChannelOptions<Event> {
  /** Names the engine in the channel's errors: `the relational thread`. */
  engine: string;
  /**
   * The error for a stop (waiting requests reject with it; a start that fails rejects with it). Returning undefined
   * keeps the channel's own: `<engine> failed to start: <message>`, `<engine> exited with code <n> before it started`,
   * `<engine> did not start: <message>`, `<engine> stopped: <message | exit code n>`.
   */
  stopped?: (stop: ThreadStop) => Error | undefined;
  /** The error a request gets after close or a stop. Default: the stop's error, else `<engine> is closed`. */
  refused?: () => Error;
  /** Rebuilds the thread's error. Default: an `Error` with its message, and its name and code when it had them. */
  rebuild?: (error: ThreadError) => Error;
  /** Reads a successful answer (default: its `value`). */
  decode?: (message: AnswerMessage) => unknown;
  /** Every message that is not an answer or the start handshake (progress messages included). */
  onEvent?: (message: Event) => void;
  /** The thread keeps this process alive only while a request waits for it. */
  refWhileWaiting?: boolean;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  progress?: ((value: unknown) => void) | undefined;
}

/** One engine thread's channel: three listeners on the worker (message, error, exit), from its construction to the thread's exit. */
export class EngineChannel<Event = unknown> {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private stopError: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;
  private startup: { resolve: (info: unknown) => void; reject: (error: Error) => void } | undefined;
  private readonly startInfo: Promise<unknown> | undefined;

  /**
   * A channel on a worker already started (no handshake: requests may be sent at once). {@link EngineChannel.start}
   * waits for the thread's `started` first.
   */
  constructor(
    readonly worker: Worker,
    private readonly options: EngineChannelOptions<Event>,
    handshake = false,
  ) {
    if (handshake) this.startInfo = new Promise((resolve, reject) => (this.startup = { resolve, reject }));
    worker.on("message", this.receive);
    worker.on("error", this.crashed);
    worker.on("exit", this.exited);
    // After the listeners: a worker's first 'message' listener refs it again.
    if (options.refWhileWaiting) worker.unref();
  }

  /**
   * Waits for the thread's `{ started: info }`; rejects (the thread terminated) when it reports `{ failed }`, throws
   * or exits first.
   */
  static async start<Info, Event = unknown>(worker: Worker, options: EngineChannelOptions<Event>): Promise<{ channel: EngineChannel<Event>; info: Info }> {
    const channel = new EngineChannel<Event>(worker, options, true);
    return { channel, info: (await channel.startInfo) as Info };
  }

  /**
   * Sends a request (the object gets its `id`) and resolves with the answer; `progress` hears the request's progress
   * messages before it. Rejects with the thread's error, the stop's error, or, after close or a stop, `refused`.
   */
  request<T>(message: Record<string, unknown>, progress?: (value: unknown) => void): Promise<T> {
    if (this.closed || this.stopError) return Promise.reject(this.options.refused?.() ?? this.stopError ?? new Error(`${this.options.engine} is closed`));
    return this.send(message, progress) as Promise<T>;
  }

  /** A message that wants no answer. */
  post(message: unknown): void {
    this.worker.postMessage(message);
  }

  /** Resolves once no request waits for an answer (at once when none does). */
  whenIdle(): Promise<void> {
    if (this.waiting.size === 0) return Promise.resolve();
    if (!this.idle) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.idle = { promise, resolve };
    }
    return this.idle.promise;
  }

  /**
   * Refuses requests from now on, sends `request` (the thread's own close) unless the thread stopped, waits for its
   * answer (at most `timeoutMs` when given; its error is thrown), then terminates the thread. Once: a second call
   * returns the first's promise.
   */
  close(request?: Record<string, unknown>, timeoutMs?: number): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      try {
        if (request && !this.stopError) {
          const answered = this.send(request, undefined);
          if (timeoutMs === undefined) await answered;
          else {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([answered.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
            clearTimeout(timer);
          }
        }
      } finally {
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }

  private send(message: Record<string, unknown>, progress: ((value: unknown) => void) | undefined): Promise<unknown> {
    const id = this.nextId++;
    message.id = id;
    return new Promise((resolve, reject) => {
      // Posted first: a message that cannot be cloned throws here and leaves nothing waiting.
      this.worker.postMessage(message);
      if (this.options.refWhileWaiting && this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, progress ? { resolve, reject, progress } : { resolve, reject });
    });
  }

  private readonly receive = (message: AnswerMessage & { progress?: number; started?: unknown; failed?: ThreadError }): void => {
    const id = message?.answer;
    if (id !== undefined) {
      const call = this.waiting.get(id);
      if (call === undefined) return;
      this.waiting.delete(id);
      if (this.waiting.size === 0) this.drained();
      if (message.error !== undefined) call.reject(this.options.rebuild ? this.options.rebuild(message.error) : rebuildError(message.error));
      else call.resolve(this.options.decode ? this.options.decode(message) : message.value);
      return;
    }
    if (this.startup !== undefined && message !== null && typeof message === "object") {
      if ("started" in message) {
        const { resolve } = this.startup;
        this.startup = undefined;
        resolve(message.started);
        return;
      }
      if ("failed" in message) {
        this.stop({ during: "start", failed: message.failed! });
        void this.worker.terminate();
        return;
      }
    }
    this.options.onEvent?.(message as Event);
    if (message?.progress !== undefined) this.waiting.get(message.progress)?.progress?.(message.value);
  };

  private readonly crashed = (error: Error): void => this.stop({ during: this.startup ? "start" : "run", error });

  // Node removes a worker's listeners once it has emitted its exit: the channel's go with it.
  private readonly exited = (exitCode: number): void => this.stop({ during: this.startup ? "start" : "run", exitCode });

  private stop(stop: ThreadStop): void {
    const error = this.options.stopped?.(stop) ?? stopError(this.options.engine, stop);
    // A thread ended by close is closed, not stopped: later requests hear that.
    if (!this.closed) this.stopError ??= error;
    if (this.startup) {
      const { reject } = this.startup;
      this.startup = undefined;
      reject(error);
    }
    if (this.waiting.size === 0) return;
    const calls = [...this.waiting.values()];
    this.waiting.clear();
    this.drained();
    for (const call of calls) call.reject(error);
  }

  /** No request waits any more. */
  private drained(): void {
    if (this.options.refWhileWaiting) this.worker.unref();
    if (this.idle) {
      const { resolve } = this.idle;
      this.idle = undefined;
      resolve();
    }
  }
}

function stopError(engine: string, stop: ThreadStop): Error {
  if ("failed" in stop) return new Error(`${engine} did not start: ${stop.failed.message}`);
  if (stop.during === "start") {
    return "error" in stop ? new Error(`${engine} failed to start: ${stop.error.message}`) : new Error(`${engine} exited with code ${stop.exitCode} before it started`);
  }
  return new Error(`${engine} stopped: ${"error" in stop ? stop.error.message : `exit code ${stop.exitCode}`}`);
}

/** The thread's error as an `Error` here: its message, and its name and code when it had them. */
export function rebuildError(error: ThreadError): Error {
  const rebuilt = new Error(error.message) as Error & { code?: string | number; status?: number };
  if (error.name !== undefined) rebuilt.name = error.name;
  if (error.code !== undefined) rebuilt.code = error.code;
  if (error.status !== undefined) rebuilt.status = error.status;
  return rebuilt;
}
