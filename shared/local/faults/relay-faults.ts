/**
 * Faults on the outbox relays' publishes (the functions a stream event source mapping on its service's outbox table invokes),
 * installed by wrapping the SNS engine's `publish` and `publishBatch` on the instance (removed again by the function
 * it returns), so the engine stays free of fault code. For a share of the recorded events, drawn from the run's seed
 * and the event id (so the same seed hits the same events):
 * - throttled: SNS answers `Throttled` (429) to the relay's first attempts at the event, more of them than the SDK
 *   retries, so the relay reports the record failed and its mapping retries the batch;
 * - crash after publish: the publish is accepted, then the relay's worker is killed before its invocation returns,
 *   so its mapping retries the batch and the events go out again with the same ids (duplicates downstream).
 */
import { traceHeaderOf, type RequestContext } from "../context";
import type { SnsEngine } from "../sns/engine";
import { ServiceError } from "../sqs/errors";
import { Prng } from "./prng";
import { SDK_MAX_ATTEMPTS } from "./plan";

export interface RelayFaultRates {
  /** Share of recorded events whose first publishes are throttled. @default 0.03 */
  throttle: number;
  /** Share of recorded events after whose publish the relay's worker is killed. @default 0.02 */
  crashAfterPublish: number;
}

export const DEFAULT_RELAY_FAULT_RATES: Readonly<RelayFaultRates> = { throttle: 0.03, crashAfterPublish: 0.02 };

export interface RelayFaultCounters {
  /** Publishes answered `Throttled`, and the events they were for. */
  throttledPublishes: number;
  throttledEvents: number;
  /** Relay workers killed right after a publish took effect. */
  crashes: number;
  /** Publishes of an event id the relay had published before (after a crash or a batch retried past it). */
  republished: number;
}

export interface RelayFaultOptions {
  seed: number;
  rates?: Partial<RelayFaultRates>;
  /** The relays' function names (the principal of their SDK calls). */
  relays: ReadonlySet<string>;
  /** Kills the relay invocation that made the call (its host's `crash`). */
  crash(functionName: string, traceHeader: string | undefined): Promise<boolean>;
  /** One line per injected fault. */
  note?(eventId: string, what: string): void;
}

/** A number in [0, 1) drawn from the seed and an event id: the same pair always draws the same. */
export function drawFor(seed: number, eventId: string): number {
  let hash = seed >>> 0;
  for (let i = 0; i < eventId.length; i++) hash = Math.imul(hash ^ eventId.charCodeAt(i), 0x0100_0193) >>> 0;
  return new Prng(hash).next();
}

/**
 * Installs the relay faults on `sns`.
 * @returns the counters and a function that removes the faults
 */
export function installRelayFaults(sns: SnsEngine, options: RelayFaultOptions): { counters: RelayFaultCounters; uninstall: () => void } {
  const rates = { ...DEFAULT_RELAY_FAULT_RATES, ...options.rates };
  const counters: RelayFaultCounters = { throttledPublishes: 0, throttledEvents: 0, crashes: 0, republished: 0 };
  const throttlesLeft = new Map<string, number>();
  const crashed = new Set<string>();
  const seen = new Set<string>();
  const publish = sns.publish;
  const publishBatch = sns.publishBatch;

  /** The fault for a relay's publish of `eventId`, before it is made. */
  const before = (eventId: string): void => {
    const draw = drawFor(options.seed, eventId);
    if (draw < rates.throttle) {
      if (!throttlesLeft.has(eventId)) {
        // One more than the SDK's attempts: the call fails, the relay reports the record, the mapping retries it.
        throttlesLeft.set(eventId, SDK_MAX_ATTEMPTS + 1);
        counters.throttledEvents++;
      }
      const left = throttlesLeft.get(eventId)!;
      if (left > 0) {
        throttlesLeft.set(eventId, left - 1);
        counters.throttledPublishes++;
        options.note?.(eventId, "relay publish throttled");
        throw new ServiceError("Throttled", "Rate exceeded");
      }
    }
  };
  /** After a relay's publish of `eventIds` took effect. */
  const after = (eventIds: readonly string[], principal: string, context: RequestContext | undefined): void => {
    for (const id of eventIds) {
      if (seen.has(id)) counters.republished++;
      seen.add(id);
    }
    const victim = eventIds.find((id) => !crashed.has(id) && drawFor(options.seed ^ 0x5bd1_e995, id) < rates.crashAfterPublish);
    if (victim === undefined) return;
    crashed.add(victim);
    // The invocation's trace header: a Publish's context carries it; a PublishBatch entry's is a span under the
    // invocation's (shared/local/endpoints/sns.ts), whose header names that span as Parent.
    const traceHeader =
      context?.traceHeader ?? (context?.parentSpanId !== undefined ? traceHeaderOf({ ...context, spanId: context.parentSpanId }) : undefined);
    // After this call returns: the publish is done, the invocation dies before it can report.
    setImmediate(() => {
      void options.crash(principal, traceHeader).then((killed) => {
        if (killed) counters.crashes++;
        options.note?.(victim, killed ? "relay worker killed after its publish" : "no relay worker to kill");
      });
    });
  };
  const idOf = (message: string): string | undefined => {
    try {
      const id = (JSON.parse(message) as { id?: unknown }).id;
      return typeof id === "string" ? id : undefined;
    } catch {
      return undefined;
    }
  };

  sns.publish = function publishWithFaults(this: SnsEngine, input, context) {
    const principal = context?.principal;
    if (principal === undefined || !options.relays.has(principal)) return publish.call(this, input, context);
    const id = idOf(input.Message);
    if (id !== undefined) before(id);
    const result = publish.call(this, input, context);
    if (id !== undefined) after([id], principal, context);
    return result;
  };
  sns.publishBatch = function publishBatchWithFaults(this: SnsEngine, input, context) {
    const principal = context?.principal;
    if (principal === undefined || !options.relays.has(principal)) return publishBatch.call(this, input, context);
    const ids = input.PublishBatchRequestEntries.map((entry) => idOf(entry.Message)).filter((id): id is string => id !== undefined);
    for (const id of ids) before(id);
    const result = publishBatch.call(this, input, context);
    after(ids, principal, context);
    return result;
  };

  return {
    counters,
    uninstall: () => {
      // The wrappers are own properties of the instance: deleting them restores the class's methods.
      delete (sns as Partial<Pick<SnsEngine, "publish" | "publishBatch">>).publish;
      delete (sns as Partial<Pick<SnsEngine, "publish" | "publishBatch">>).publishBatch;
    },
  };
}
