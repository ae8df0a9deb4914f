import type { AsyncLocalStorage } from "node:async_hooks";

/**
 * What the runtime knows about the unit of work in progress (one SQS record, one HTTP request). Publishing and
 * logging read it, so correlation id, causation id and trace context flow without being passed around.
 */
export interface InvocationScope {
  readonly correlationId: string;
  /** The trace context received with the work (published events continue it with new span ids). */
  readonly traceparent: string;
  /** Id and type of the event being handled (consumers). */
  readonly eventId?: string;
  readonly eventType?: string;
  /** The Lambda request id. */
  readonly requestId?: string;
  /**
   * When set, events published in this scope get ids derived from it (and from their type and order), so a retried
   * action republishes the same ids and downstream idempotency drops the duplicates.
   */
  readonly idSeed?: string;
  /** Publish counter per event type, for derived ids. */
  readonly sequence: Map<string, number>;
}

// Created on first use: node:async_hooks is not needed during the init phase.
let storage: AsyncLocalStorage<InvocationScope> | undefined;

/** Runs `work` with `scope` as the current scope (for everything it awaits, too). */
export function runInScope<R>(scope: InvocationScope, work: () => R): R {
  storage ??= new (require("node:async_hooks") as typeof import("node:async_hooks")).AsyncLocalStorage<InvocationScope>();
  return storage.run(scope, work);
}

/** The scope of the work in progress, if any. */
export function currentScope(): InvocationScope | undefined {
  return storage?.getStore();
}
