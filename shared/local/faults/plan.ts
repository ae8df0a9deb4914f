/**
 * The fault plan of a run: for every event, how it is published and which faults it meets on its way through the
 * consumer, all drawn from one seeded PRNG, so a seed names a plan exactly. (Timing is not part of the plan: which
 * batch an event shares with a crash, or when a redelivery lands, depends on the machine.)
 */
import { Prng } from "./prng";

/** How an event is published. */
export type Route =
  /** `stage.publish(...)`: validated, wrapped in a CloudEvent by the stage. */
  | "publish"
  /** `POST /orders`: the orders service stores the order and publishes the event. */
  | "http"
  /** Raw to the topic (bypassing publish validation) with data that breaks the catalog schema. */
  | "poison";

/** How a poison event breaks the schema of orders.order-placed. */
export const POISON_KINDS = ["bad-currency", "no-items", "no-customer", "zero-quantity", "total-as-text"] as const;
export type PoisonKind = (typeof POISON_KINDS)[number];

/** The consumer's DynamoDB calls for one event, as the fault proxy tells them apart. */
export type ConsumerCall =
  /** The idempotency lock's conditional put. */
  | "lock"
  /** The action's write (the invoice). */
  | "invoice"
  /** The idempotency record marked COMPLETED. */
  | "complete";

/** The errors DynamoDB answers for transient conditions (both are retried by the AWS SDK). */
export type TransientError = "ProvisionedThroughputExceededException" | "InternalServerError";

/**
 * DynamoDB answers `times` successive calls of a kind with `error`: `before` applying them (the call did nothing) or
 * `after` (the call took effect but its answer was lost).
 */
export interface TransientFault {
  call: ConsumerCall;
  error: TransientError;
  when: "before" | "after";
  times: number;
}

/** A fault that costs the event at least one extra receive; an event meets at most one. */
export type ReceiveFault =
  /** The same SQS message is received twice (a second receive while the first invocation holds it). */
  | { kind: "duplicate-receive" }
  /** The invocation outlasts the message's visibility timeout (set short on this receive): it reappears meanwhile. */
  | { kind: "outlast-visibility"; visibilitySeconds: number; delayMs: number }
  /** The consumer's worker thread is killed mid-action, after the invoice write and before the lock completes. */
  | { kind: "crash"; at: "after-invoice-write" | "before-lock-complete" }
  /** A transient fault the SDK's retries do not absorb (or a lost lock answer): the record is retried by SQS. */
  | { kind: "transient"; fault: TransientFault };

/** What should become of an event. */
export type ExpectedOutcome = "applied" | "dead-letter" | "failure-event";

/** One event's plan. */
export interface EventPlan {
  /** Position in the run (0-based); also in the event's `customerId`, so a delivery can be matched to its plan. */
  ordinal: number;
  route: Route;
  poison?: PoisonKind;
  /** SNS cannot deliver it to the consumer's queue: it goes to the subscription's dead-letter queue. */
  undeliverable: boolean;
  /** Every DynamoDB call of the consumer for it fails (a partition outage): it ends in the queue's dead-letter queue. */
  failingForever: boolean;
  /** SNS delivers it twice to the consumer's queue. */
  duplicateDelivery: boolean;
  receiveFault?: ReceiveFault;
  /** Transient DynamoDB errors the AWS SDK's retries absorb (or, on `complete`, that the runtime logs and acks). */
  transients: TransientFault[];
  expected: ExpectedOutcome;
}

/** Probabilities per event. Receive faults are exclusive: their rates add up to at most 1. */
export interface FaultRates {
  /** @default 0.2 */
  http: number;
  /** @default 0.03 */
  poison: number;
  /** @default 0.01 */
  undeliverable: number;
  /** Applies to the first half of the run only (see planFaults). @default 0.01 */
  failingForever: number;
  /** @default 0.08 */
  duplicateDelivery: number;
  /** @default 0.08 */
  duplicateReceive: number;
  /** @default 0.04 */
  outlastVisibility: number;
  /** @default 0.02 */
  crash: number;
  /** @default 0.06 */
  surfacingTransient: number;
  /** @default 0.12 */
  absorbedTransient: number;
}

export const DEFAULT_FAULT_RATES: Readonly<FaultRates> = {
  http: 0.2,
  poison: 0.03,
  undeliverable: 0.01,
  failingForever: 0.01,
  duplicateDelivery: 0.08,
  duplicateReceive: 0.08,
  outlastVisibility: 0.04,
  crash: 0.02,
  surfacingTransient: 0.06,
  absorbedTransient: 0.12,
};

/** When the consumer is stopped and started again (by event ordinal: before publishing that event). */
export interface ConsumerPause {
  stopAt: number;
  restartAt: number;
}

export interface FaultPlan {
  seed: number;
  rates: FaultRates;
  events: EventPlan[];
  /** Absent when the run is too short to pause in (under 10 events) or pausing is off. */
  consumerPause?: ConsumerPause;
}

export interface PlanOptions {
  events: number;
  seed: number;
  rates?: Partial<FaultRates>;
  /** @default true */
  pauseConsumer?: boolean;
  /**
   * The outlast fault: the visibility timeout of the receive it hits, and how long the invocation is held up (longer
   * than that, shorter than the function timeout).
   * @default { visibilitySeconds: 1, delayMs: 1500 }
   */
  outlast?: { visibilitySeconds: number; delayMs: number };
}

const TRANSIENT_ERRORS: readonly (readonly [TransientError, number])[] = [
  ["ProvisionedThroughputExceededException", 1],
  ["InternalServerError", 1],
];

/**
 * The error of a fault that fails `times` calls in a row. The AWS SDK backs off up to 1 s before its first retry of
 * a throttling error and up to 2 s before its second (100 and 200 ms for a server error), so streaks are server
 * errors: in a run's compressed time a function timeout of a few seconds has no room for 3 s of backoff.
 */
function errorFor(times: number, random: Prng): TransientError {
  return times === 1 ? random.pick(TRANSIENT_ERRORS) : "InternalServerError";
}

/** Calls the AWS SDK makes at most (its default retry strategy): this many failures in a row reach the handler. */
export const SDK_MAX_ATTEMPTS = 3;

/**
 * Draws the plan of a run.
 * @example
 * const plan = planFaults({ events: 500, seed: 42 });
 * plan.events.filter((e) => e.receiveFault?.kind === "crash").length;
 */
export function planFaults(options: PlanOptions): FaultPlan {
  const { events, seed } = options;
  if (!Number.isInteger(events) || events < 1) throw new RangeError(`events must be a whole number of at least 1 (got ${events})`);
  const rates: FaultRates = { ...DEFAULT_FAULT_RATES, ...options.rates };
  for (const [name, value] of Object.entries(rates)) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`rate ${name} must be between 0 and 1 (got ${value})`);
  }
  const exclusive = rates.duplicateReceive + rates.outlastVisibility + rates.crash + rates.surfacingTransient;
  if (exclusive > 1) throw new RangeError(`the receive fault rates add up to ${exclusive}; at most 1`);
  if (rates.poison + rates.http > 1) throw new RangeError("the poison and http rates add up to more than 1");
  const outlast = options.outlast ?? { visibilitySeconds: 1, delayMs: 1500 };
  const random = new Prng(seed);
  const plans: EventPlan[] = [];
  for (let ordinal = 0; ordinal < events; ordinal++) {
    // Every event draws the same number of values in the same order, whatever its branch, so one rate changing
    // does not reshuffle the faults of the events after it.
    const routeRoll = random.next();
    const poisonRoll = random.next();
    const undeliverableRoll = random.next();
    const failingRoll = random.next();
    const duplicateRoll = random.next();
    const receiveRoll = random.next();
    const receiveDetail = random.next();
    const transientRoll = random.next();
    const detail = new Prng(random.nextUint32());
    const route: Route = routeRoll < rates.poison ? "poison" : routeRoll < rates.poison + rates.http ? "http" : "publish";
    const plan: EventPlan = {
      ordinal,
      route,
      undeliverable: false,
      failingForever: false,
      duplicateDelivery: duplicateRoll < rates.duplicateDelivery,
      transients: [],
      expected: "applied",
    };
    if (route === "poison") {
      plan.poison = POISON_KINDS[Math.floor(poisonRoll * POISON_KINDS.length)]!;
      plan.expected = "failure-event";
      plans.push(plan);
      continue;
    }
    if (undeliverableRoll < rates.undeliverable) {
      plan.undeliverable = true;
      plan.duplicateDelivery = false;
      plan.expected = "dead-letter";
      plans.push(plan);
      continue;
    }
    // An event failing for good needs the whole retry budget (maxReceiveCount visibility timeouts) before it is
    // dead-lettered: planned in the first half of the run, so the run does not end on its tail.
    if (failingRoll < rates.failingForever && ordinal < events / 2) {
      plan.failingForever = true;
      plan.expected = "dead-letter";
      plans.push(plan);
      continue;
    }
    let threshold = 0;
    if (receiveRoll < (threshold += rates.duplicateReceive)) {
      plan.receiveFault = { kind: "duplicate-receive" };
    } else if (receiveRoll < (threshold += rates.outlastVisibility)) {
      plan.receiveFault = { kind: "outlast-visibility", ...outlast };
    } else if (receiveRoll < (threshold += rates.crash)) {
      plan.receiveFault = { kind: "crash", at: receiveDetail < 0.5 ? "after-invoice-write" : "before-lock-complete" };
    } else if (receiveRoll < (threshold += rates.surfacingTransient)) {
      plan.receiveFault = { kind: "transient", fault: surfacingTransient(detail) };
    }
    // Not on an outlast fault: the SDK's backoff on top of the hold-up could outrun the function timeout.
    if (transientRoll < rates.absorbedTransient && plan.receiveFault?.kind !== "outlast-visibility") plan.transients.push(absorbedTransient(detail));
    plans.push(plan);
  }
  const plan: FaultPlan = { seed, rates, events: plans };
  if ((options.pauseConsumer ?? true) && events >= 10) {
    const pause = new Prng((seed ^ 0x5bd1_e995) >>> 0);
    const stopAt = Math.floor(events * (0.25 + 0.15 * pause.next()));
    const restartAt = Math.min(events - 1, stopAt + Math.max(1, Math.floor(events * (0.1 + 0.1 * pause.next()))));
    plan.consumerPause = { stopAt, restartAt };
  }
  return plan;
}

/** A transient fault that reaches the handler: the SDK gives up, or the lock's answer is lost. */
function surfacingTransient(random: Prng): TransientFault {
  const streak = errorFor(SDK_MAX_ATTEMPTS, random);
  const single = errorFor(1, random);
  return random.pick<TransientFault>([
    [{ call: "lock", error: streak, when: "before", times: SDK_MAX_ATTEMPTS }, 1],
    [{ call: "lock", error: single, when: "after", times: 1 }, 1],
    [{ call: "invoice", error: streak, when: "before", times: SDK_MAX_ATTEMPTS }, 1],
    [{ call: "invoice", error: streak, when: "after", times: SDK_MAX_ATTEMPTS }, 1],
  ]);
}

/** A transient fault the SDK's retries absorb (or, on `complete`, one the runtime logs and acknowledges). */
function absorbedTransient(random: Prng): TransientFault {
  const times = random.int(1, SDK_MAX_ATTEMPTS - 1);
  const error = errorFor(times, random);
  return random.pick<TransientFault>([
    [{ call: "lock", error, when: "before", times }, 1],
    [{ call: "invoice", error, when: "before", times }, 1],
    [{ call: "invoice", error, when: "after", times }, 1],
    [{ call: "complete", error, when: "before", times }, 1],
    [{ call: "complete", error, when: "after", times }, 1],
    [{ call: "complete", error: "InternalServerError", when: "before", times: SDK_MAX_ATTEMPTS }, 0.5],
  ]);
}

/** A one-line description of an event's faults (for reports). */
export function describeFaults(plan: EventPlan): string[] {
  const out: string[] = [];
  if (plan.route === "poison") out.push(`poison:${plan.poison}`);
  if (plan.undeliverable) out.push("undeliverable");
  if (plan.failingForever) out.push("failing-forever");
  if (plan.duplicateDelivery) out.push("duplicate-delivery");
  const fault = plan.receiveFault;
  if (fault?.kind === "transient") out.push(`transient:${fault.fault.call}/${fault.fault.when}x${fault.fault.times}`);
  else if (fault?.kind === "crash") out.push(`crash:${fault.at}`);
  else if (fault) out.push(fault.kind);
  for (const t of plan.transients) out.push(`absorbed:${t.call}/${t.when}x${t.times}`);
  return out;
}
