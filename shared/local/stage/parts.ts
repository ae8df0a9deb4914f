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
  /**
   * The parts (by name, earlier in the order) this one's `start` uses. A part that names them starts as soon as those
   * have started, alongside others (an engine that loads while another does); one that does not waits for every
   * part before it.
   * @default every part before it
   */
  readonly needs?: readonly string[];
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
      for (const need of part.needs ?? []) if (!names.has(need)) throw new Error(`stage part ${part.name} needs ${need}, which is not a part before it`);
      names.add(part.name);
    }
  }

  /**
   * Starts every part in order; a part that declares `needs` starts once those have started, concurrently with the
   * others. On a failure, waits for the starts under way, stops the started ones (reverse order, the failing one
   * with them) and throws PartStartError naming the first part that failed.
   */
  async start(): Promise<void> {
    const starts = new Map<string, Promise<void>>();
    let failure: { part: string; error: unknown } | undefined;
    for (const [index, part] of this.parts.entries()) {
      const before = this.parts.slice(0, index);
      const needs = (part.needs ? before.filter((p) => part.needs!.includes(p.name)) : before).map((p) => starts.get(p.name)!);
      starts.set(
        part.name,
        Promise.all(needs).then(async () => {
          if (failure) throw failure.error;
          try {
            await part.start();
            this.started.push(part);
          } catch (error) {
            // The failing part may have half-started: stop it with the others.
            this.started.push(part);
            failure ??= { part: part.name, error };
            throw error;
          }
        }),
      );
    }
    await Promise.allSettled(starts.values());
    if (failure) {
      await this.stop();
      throw failure.error instanceof PartStartError ? failure.error : new PartStartError(failure.part, failure.error);
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
