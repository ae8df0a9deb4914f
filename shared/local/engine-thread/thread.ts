/**
 * The engine thread's side of the channel (channel.ts): the start handshake, answers to the stage's requests (a value
 * or the error, as a {@link ThreadError}) and progress messages. Imports nothing at run time, so a bundled worker
 * (the DynamoDB thread) carries only this.
 */
import type { MessagePort } from "node:worker_threads";
import type { ThreadError } from "./channel";

/** A request as the thread receives it: the stage's object with its id. */
export type ThreadRequest<T = Record<string, unknown>> = T & { id: number };

/** An error as it crosses to the stage: its message, its name unless plain `Error`, its `code` and `status` if any. */
export function threadError(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, status } = error as Error & { code?: unknown; status?: unknown };
  return {
    message: error.message,
    ...(error.name !== "Error" ? { name: error.name } : {}),
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(typeof status === "number" ? { status } : {}),
  };
}

/** The engine started: the stage's {@link EngineChannel.start} resolves with `info`. */
export function reportStarted(port: MessagePort, info: unknown): void {
  port.postMessage({ started: info });
}

/** The engine did not start: the stage's start rejects (and ends the thread). */
export function reportFailed(port: MessagePort, error: unknown, toThreadError: (error: unknown) => ThreadError = threadError): void {
  port.postMessage({ failed: toThreadError(error) });
}

/** A message for the request `id`'s progress handler (sent before its answer). */
export function reportProgress(port: MessagePort, id: number, value: unknown): void {
  port.postMessage({ progress: id, value });
}

/**
 * Answers every message on `port` as a request: `handle`'s value (or its promise's) is the answer; what it throws (or
 * rejects with) goes back as `toThreadError` makes it.
 */
export function serveRequests<T>(port: MessagePort, handle: (request: ThreadRequest<T>) => unknown, toThreadError: (error: unknown) => ThreadError = threadError): void {
  port.on("message", (request: ThreadRequest<T>) => {
    const id = request.id;
    let value: unknown;
    try {
      value = handle(request);
    } catch (error) {
      port.postMessage({ answer: id, error: toThreadError(error) });
      return;
    }
    if (!(value instanceof Promise)) {
      port.postMessage({ answer: id, value });
      return;
    }
    value.then(
      (result: unknown) => port.postMessage({ answer: id, value: result }),
      (error: unknown) => port.postMessage({ answer: id, error: toThreadError(error) }),
    );
  });
}
