/**
 * The checker of a fault run: from what was published and what ended up where (invoice items, follow-up events,
 * failure events, dead-letter queues), it puts every published event in its class and lists every broken invariant.
 * A pure function of its input, so it can be shown to fail on input that breaks the rules.
 */
import type { ExpectedOutcome, Route } from "./plan";

/** An event the run published. */
export interface PublishedEvent {
  eventId: string;
  ordinal: number;
  route: Route;
  expected: ExpectedOutcome;
  /** The planned faults, for the report ({@link describeFaults}). */
  faults: string[];
}

/** Everything the checker reads, gathered once the run has drained. */
export interface RunObservations {
  published: PublishedEvent[];
  /** Ids of the events seen on the consumed topic (a subscriber of its own), every copy. */
  onTopic: string[];
  /** The consumer's effect items (invoices) and the event each names as `createdBy`. */
  invoices: { invoiceId: string; createdBy: string }[];
  /** Invoice writes that took effect, per event id (counted at the DynamoDB fault proxy). */
  invoiceWrites: Record<string, number>;
  /** Every copy of every follow-up event (billing.invoice-issued) seen on its topic. */
  followUps: { id: string; causationId: string | undefined }[];
  /** Every copy of every failure event seen on the platform's failure topic. */
  failureEvents: { id: string; originalId: string | undefined; reason: string | undefined }[];
  /** Every message in the consumer's dead-letter queues. */
  deadLetters: { queue: string; kind: "queue" | "subscription"; eventId: string | undefined }[];
  /** Messages still on the consumer's queue when the run stopped waiting (none when it drained). */
  undrained: { eventId: string | undefined }[];
  /**
   * Ordinals of `POST /orders` calls answered 201 (the order and its event recorded in one write) whose event never
   * reached the consumed topic: the outbox relay lost it.
   */
  recordedNotPublished?: number[];
}

/** Where an event can end up. */
export type OutcomeClass = "applied" | "dead-letter" | "failure-event";

/** One event's verdict. */
export interface EventVerdict {
  eventId: string;
  ordinal: number;
  route: Route;
  expected: ExpectedOutcome;
  faults: string[];
  /** Every class the event is in; exactly one when all is well. */
  classes: OutcomeClass[];
  /** Its class, `lost` when in none, `ambiguous` when in several. */
  outcome: OutcomeClass | "lost" | "ambiguous";
  invoiceItems: number;
  invoiceWrites: number;
  /** Distinct follow-up ids, and copies seen (duplicates of one id count once as an effect). */
  followUpIds: number;
  followUpCopies: number;
  deadLetters: { queue: number; subscription: number };
  /** Distinct failure events naming it. */
  failureEvents: number;
  /** Effects of an event parked in a dead-letter queue (an invoice without its follow-up, say): a redrive completes them. */
  partialEffects: boolean;
}

/** A broken invariant. */
export interface Violation {
  rule:
    | "exactly-one-class"
    | "applied-twice"
    | "incomplete"
    | "poison-applied"
    | "valid-event-failed"
    | "uncounted-write"
    | "stray"
    | "not-on-topic"
    | "not-drained"
    | "recorded-not-published";
  eventId?: string;
  ordinal?: number;
  detail: string;
}

/** Totals of a check. */
export interface CheckTally {
  published: number;
  applied: number;
  deadLettered: number;
  /** By where: the consumer queue's DLQ, the subscription's DLQ. */
  deadLetteredQueue: number;
  deadLetteredSubscription: number;
  failureEvents: number;
  lost: number;
  ambiguous: number;
  /** Invoice writes that took effect, and the events written more than once (idempotent rewrites after a retry). */
  invoiceWrites: number;
  rewrittenEvents: number;
  /** Follow-up copies beyond the first of each id (republished after a crash, with the same derived id). */
  followUpDuplicates: number;
  /** Events whose outcome is legal but not the planned one (a valid event that ran out of receives, say). */
  unexpected: number;
}

export interface FaultCheck {
  verdicts: EventVerdict[];
  violations: Violation[];
  tally: CheckTally;
}

function countBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * Classifies every published event and checks the invariants:
 * - every event is in exactly one class: applied once (one invoice item whose `createdBy` is the event id, and its
 *   follow-up published; copies of the follow-up with the same id count once), in a dead-letter queue, or named by
 *   a failure event;
 * - none is applied twice (two invoice items, or follow-ups under two ids);
 * - an event with effects but no class (an invoice without its follow-up, outside any DLQ) is incomplete;
 * - poison events end as failure events, valid events never do;
 * - every invoice item has a counted write; nothing names an event that was not published; every published event
 *   was seen on its topic; the queue drained.
 */
export function checkRun(observations: RunObservations): FaultCheck {
  const violations: Violation[] = [];
  const published = new Map<string, PublishedEvent>();
  for (const event of observations.published) {
    if (published.has(event.eventId)) violations.push({ rule: "stray", eventId: event.eventId, detail: "published twice under one id" });
    published.set(event.eventId, event);
  }
  const invoicesBy = countBy(observations.invoices, (i) => i.createdBy);
  const followUpsBy = countBy(observations.followUps, (f) => f.causationId);
  const failuresBy = countBy(observations.failureEvents, (f) => f.originalId);
  const deadBy = countBy(observations.deadLetters, (d) => d.eventId);
  const onTopic = new Set(observations.onTopic);

  const verdicts: EventVerdict[] = [];
  for (const event of published.values()) {
    const id = event.eventId;
    const invoiceItems = invoicesBy.get(id)?.length ?? 0;
    const followUps = followUpsBy.get(id) ?? [];
    const followUpIds = new Set(followUps.map((f) => f.id)).size;
    const dead = deadBy.get(id) ?? [];
    const failureEvents = new Set((failuresBy.get(id) ?? []).map((f) => f.id)).size;
    const deadLetters = { queue: dead.filter((d) => d.kind === "queue").length, subscription: dead.filter((d) => d.kind === "subscription").length };
    const classes: OutcomeClass[] = [];
    // Applied: its effect and its follow-up exist (applied more than once is a violation of its own, below).
    if (invoiceItems >= 1 && followUpIds >= 1) classes.push("applied");
    if (dead.length > 0) classes.push("dead-letter");
    if (failureEvents > 0) classes.push("failure-event");
    const hasEffects = invoiceItems > 0 || followUpIds > 0;
    const verdict: EventVerdict = {
      eventId: id,
      ordinal: event.ordinal,
      route: event.route,
      expected: event.expected,
      faults: event.faults,
      classes,
      outcome: classes.length === 1 ? classes[0]! : classes.length === 0 ? "lost" : "ambiguous",
      invoiceItems,
      invoiceWrites: observations.invoiceWrites[id] ?? 0,
      followUpIds,
      followUpCopies: followUps.length,
      deadLetters,
      failureEvents,
      partialEffects: hasEffects && !classes.includes("applied"),
    };
    verdicts.push(verdict);
    const at = { eventId: id, ordinal: event.ordinal };
    const faults = event.faults.length ? ` (faults: ${event.faults.join(", ")})` : "";
    if (invoiceItems > 1) violations.push({ rule: "applied-twice", ...at, detail: `${invoiceItems} invoice items name it${faults}` });
    if (followUpIds > 1) violations.push({ rule: "applied-twice", ...at, detail: `its follow-up was published under ${followUpIds} different ids${faults}` });
    if (classes.length === 0) {
      const what = hasEffects
        ? `incomplete: ${invoiceItems} invoice item(s), ${followUpIds} follow-up id(s), in no dead-letter queue`
        : "no effect, no dead letter, no failure event";
      violations.push({ rule: hasEffects ? "incomplete" : "exactly-one-class", ...at, detail: `lost: ${what}${faults}` });
    } else if (classes.length > 1) {
      violations.push({ rule: "exactly-one-class", ...at, detail: `in ${classes.length} classes: ${classes.join(" + ")}${faults}` });
    }
    if (event.route === "poison" && (hasEffects || (classes.length > 0 && !classes.includes("failure-event")))) {
      violations.push({ rule: "poison-applied", ...at, detail: `a poison event ended as ${classes.join(" + ") || "nothing"}${hasEffects ? " with effects" : ""}` });
    }
    if (event.route !== "poison" && failureEvents > 0) {
      violations.push({ rule: "valid-event-failed", ...at, detail: `a valid event was reported as a failure event${faults}` });
    }
    if (invoiceItems > 0 && verdict.invoiceWrites < invoiceItems) {
      violations.push({ rule: "uncounted-write", ...at, detail: `${invoiceItems} invoice item(s) but ${verdict.invoiceWrites} counted write(s)` });
    }
    if (!onTopic.has(id)) violations.push({ rule: "not-on-topic", ...at, detail: "published but never seen on its topic" });
  }

  const strays = (what: string, ids: Iterable<string | undefined>) => {
    const seen = new Set<string>();
    for (const id of ids) {
      const key = id ?? "(no id)";
      if ((id !== undefined && published.has(id)) || seen.has(key)) continue;
      seen.add(key);
      violations.push({ rule: "stray", ...(id !== undefined ? { eventId: id } : {}), detail: `${what} names ${id === undefined ? "no readable event id" : "an event that was not published"}` });
    }
  };
  strays("an invoice item", observations.invoices.map((i) => i.createdBy));
  strays("a follow-up event", observations.followUps.map((f) => f.causationId));
  strays("a failure event", observations.failureEvents.map((f) => f.originalId));
  strays("a dead-lettered message", observations.deadLetters.map((d) => d.eventId));
  strays("an event on the topic", observations.onTopic);
  if (observations.undrained.length > 0) {
    violations.push({ rule: "not-drained", detail: `${observations.undrained.length} message(s) still on the consumer's queue` });
  }
  for (const ordinal of observations.recordedNotPublished ?? []) {
    violations.push({ rule: "recorded-not-published", ordinal, detail: `POST /orders ${ordinal} was answered 201, but its event never reached the topic` });
  }

  const expectedClass: Record<ExpectedOutcome, OutcomeClass> = { applied: "applied", "dead-letter": "dead-letter", "failure-event": "failure-event" };
  const tally: CheckTally = {
    published: verdicts.length,
    applied: verdicts.filter((v) => v.outcome === "applied").length,
    deadLettered: verdicts.filter((v) => v.outcome === "dead-letter").length,
    deadLetteredQueue: verdicts.filter((v) => v.outcome === "dead-letter" && v.deadLetters.queue > 0).length,
    deadLetteredSubscription: verdicts.filter((v) => v.outcome === "dead-letter" && v.deadLetters.subscription > 0).length,
    failureEvents: verdicts.filter((v) => v.outcome === "failure-event").length,
    lost: verdicts.filter((v) => v.outcome === "lost").length,
    ambiguous: verdicts.filter((v) => v.outcome === "ambiguous").length,
    invoiceWrites: Object.values(observations.invoiceWrites).reduce((sum, n) => sum + n, 0),
    rewrittenEvents: verdicts.filter((v) => v.invoiceWrites > 1).length,
    followUpDuplicates: verdicts.reduce((sum, v) => sum + v.followUpCopies - v.followUpIds, 0),
    unexpected: verdicts.filter((v) => v.classes.length === 1 && v.outcome !== expectedClass[v.expected]).length,
  };
  return { verdicts, violations, tally };
}
