/**
 * The local stage is a composition of parts: DynamoDB, messaging (SNS and SQS), functions, pollers, the HTTP gateway
 * and the admin API. Each part starts, stops and reports its health; {@link StageParts} starts them in order, stops
 * them in reverse, and when one fails to start it stops the ones already started and names the failing part.
 *
 * Adding an engine (a stream, a workflow interpreter, a relational store) is adding a part: see README.md.
 */

/** How a part is doing, as `GET /_local/health` reports it. */
export interface PartHealth {
  /** `ok`: serving; `starting` / `stopped`: not (yet, or any more); `degraded`: serving with a problem (`detail`). */
  status: "starting" | "ok" | "degraded" | "stopped";
  /** One line: what it serves, or what is wrong. */
  detail?: string;
}

/**
 * One part of the stage. `start` may use what parts started before it (they are handed in when the part is made);
 * `stop` must be safe to call after a failed or partial start.
 *
 * `reconcile` (optional) takes a new wiring while the stage runs (watch mode: a program re-ran) and applies the
 * difference without a restart, keeping its state (table data, messages in queues); a part without it is restarted
 * by whoever reloads (see README.md, "Reloading a part").
 */
export interface StagePart<Wiring = unknown> {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  health(): PartHealth;
  reconcile?(next: Wiring): Promise<void> | void;
}

/** A part did not start; `part` names it, `cause` is what it threw. */
export class PartStartError extends Error {
  // The CLI prints expected start errors in one line: this is one of the stage's (see cli.ts, EXPECTED_ERRORS).
  override name = "LocalStageError";
  constructor(
    readonly part: string,
    cause: unknown,
  ) {
    super(`${part}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Parts in start order.
 *
 * @example
 * const parts = new StageParts([dynamodb, messaging, functions, pollers, gateway, admin]);
 * await parts.start(); // throws PartStartError naming the part, with the started ones stopped again
 * parts.health();      // { dynamodb: { status: "ok", ... }, ... }
 * await parts.stop();  // reverse order; keeps stopping when one throws
 */
export class StageParts<Wiring = unknown> {
  private readonly started: StagePart<Wiring>[] = [];

  constructor(readonly parts: readonly StagePart<Wiring>[]) {
    const names = new Set<string>();
    for (const part of parts) {
      if (names.has(part.name)) throw new Error(`two stage parts are named ${part.name}`);
      names.add(part.name);
    }
  }

  /** Starts every part in order. On a failure, stops the started ones (reverse order) and throws PartStartError. */
  async start(): Promise<void> {
    for (const part of this.parts) {
      try {
        await part.start();
        this.started.push(part);
      } catch (error) {
        // The failing part may have half-started: stop it with the others.
        this.started.push(part);
        await this.stop();
        throw error instanceof PartStartError ? error : new PartStartError(part.name, error);
      }
    }
  }

  /** Stops the started parts in reverse order; a part that throws does not keep the others running. */
  async stop(): Promise<void> {
    for (const part of this.started.splice(0).reverse()) {
      try {
        await part.stop();
      } catch {
        // keep stopping the rest
      }
    }
  }

  /** Each part's health, by name, in start order. */
  health(): Record<string, PartHealth> {
    const out: Record<string, PartHealth> = {};
    for (const part of this.parts) {
      try {
        out[part.name] = part.health();
      } catch (error) {
        out[part.name] = { status: "degraded", detail: `health check failed: ${(error as Error).message}` };
      }
    }
    return out;
  }

  /** The part of that name. */
  get(name: string): StagePart<Wiring> | undefined {
    return this.parts.find((part) => part.name === name);
  }
}
