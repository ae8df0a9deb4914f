// Proof under faults: a fixed-seed run of the local stage with the example services (orders -> billing) while
// duplicates, redeliveries, crashes, transient DynamoDB errors, poison events and a consumer stop are injected; every
// published event must end applied once, in a dead-letter queue, or as a failure event. Also: the plan is
// reproducible, the DynamoDB fault proxy answers as DynamoDB does, and the checker reports input that breaks the rules.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  checkRun,
  compressTime,
  customerIdFor,
  describeFaults,
  FaultInjector,
  formatCounts,
  planFaults,
  runFaultScenario,
  startDynamoDbFaultProxy,
  type DynamoDbFaultDecision,
  type FaultRunResult,
  type RunObservations,
  type Violation,
} from "../faults";
import { runStagePrograms } from "../stage/programs";
import { wiringFrom } from "../stage/wiring";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/**
 * The fixed run: 150 events, seed 1, rates raised so every kind of fault is planned at least once. On the example
 * services only: services a user adds (more consumers of the same events) are not what this run proves.
 */
const EXAMPLES = ["orders", "billing"].map((name) => join(__dirname, "..", "..", "..", "services", name));
const RUN = { events: 150, seed: 1, rates: { undeliverable: 0.02, failingForever: 0.03, crash: 0.04, outlastVisibility: 0.05 } } as const;
/**
 * The fixed run's compressed time. The scenario's default (function timeout 4 s) is reached by the consumer's
 * invocations on a loaded machine (the run on one core shared with 4 busy loops at a lower priority: 46 of 51
 * invocations timed out); a timed-out batch is received again, times out again, and events that were applied end in
 * the dead-letter queue too, so the run failed on timing, not on a broken guarantee. 20 s is out of reach (the slowest
 * invocation under that same load: 11.4 s and 12.9 s in two runs) and changes no fault: the outlast fault's 1 s
 * visibility and 1.5 s hold-up still sit between the two timeouts, and the visibility (21 s) still outlasts a crashed
 * attempt's lock (the invocation's remaining time). It costs time, mostly idle: a failing-for-good event reaches its
 * dead-letter queue after 5 receives, 21 s apart. `POST /orders` (its own timeout, 10 s) met the same load: a call
 * took longer and answered 503 after it may have recorded its order, so its function gets 30 s in this run too.
 */
const TIMING = { functionTimeoutSeconds: 20, visibilityTimeoutSeconds: 21, routeFunctionTimeoutSeconds: 30 } as const;
/** Draining waits for those receives (about 105 s on a quiet machine): a deadline well past them. */
const DRAIN_TIMEOUT_MS = 240_000;

// The plan -----------------------------------------------------------------------------------------------------------

test("a seed names a plan: the same seed gives the same plan, another seed another one", () => {
  const a = planFaults(RUN);
  const b = planFaults(RUN);
  const c = planFaults({ ...RUN, seed: 2 });
  assert.equal(a, b);
  assert.not.equal(a.events, c.events);
  assert.is(a.events.length, RUN.events);
  assert.ok(a.consumerPause && a.consumerPause.stopAt < a.consumerPause.restartAt, "the consumer is stopped, then restarted");
});

test("the plan refuses rates it cannot honour", () => {
  assert.throws(() => planFaults({ events: 10, seed: 1, rates: { crash: 1.5 } }), /between 0 and 1/);
  assert.throws(() => planFaults({ events: 10, seed: 1, rates: { crash: 0.5, duplicateReceive: 0.6 } }), /at most 1/);
  assert.throws(() => planFaults({ events: 0, seed: 1 }), /at least 1/);
});

test("compressed time: consumers get the run's timeouts, route functions theirs unless the run names one", async () => {
  const programs = await runStagePrograms({ serviceDirs: EXAMPLES });
  const wiring = wiringFrom(
    [programs.platform, ...programs.services].map((p) => ({ project: p.project, resources: p.resources })),
    { region: programs.region, accountId: programs.accountId },
  );
  const timeoutOf = (w: typeof wiring, name: string) => w.functions.find((f) => f.name === name)?.timeoutSeconds;
  const consumer = "local-billing-on-order-placed";
  const route = wiring.functions.find((f) => wiring.routes.some((r) => r.functionArn === f.arn))!;
  assert.ok(route && timeoutOf(wiring, consumer) !== undefined, "the examples have a consumer and a route function");
  const base = { functionTimeoutSeconds: 20, visibilityTimeoutSeconds: 21, outlastVisibilitySeconds: 1, outlastDelayMs: 1500, pauseMs: 1000 };
  const kept = compressTime(base)(wiring);
  assert.is(timeoutOf(kept, consumer), 20);
  assert.is(kept.queues.find((q) => q.arn === kept.mappings.find((m) => m.functionArn.endsWith(`:${consumer}`))?.queueArn)?.visibilityTimeoutSeconds, 21);
  assert.is(timeoutOf(kept, route.name), route.timeoutSeconds, "a route function keeps its own timeout");
  const raised = compressTime({ ...base, routeFunctionTimeoutSeconds: 30 })(wiring);
  assert.is(timeoutOf(raised, route.name), 30);
  assert.is(timeoutOf(raised, consumer), 20);
});

// The DynamoDB fault proxy ----------------------------------------------------------------------------------------

test("the fault proxy answers DynamoDB's transient errors, before or after the call took effect", async () => {
  const received: string[] = [];
  const target: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push((JSON.parse(body) as { Item: { id: { S: string } } }).Item.id.S);
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  let next: DynamoDbFaultDecision | undefined;
  const proxy = await startDynamoDbFaultProxy({
    target: `http://127.0.0.1:${(target.address() as AddressInfo).port}`,
    inspect: (principal) => principal === "local-billing-on-order-placed",
    decide: () => next,
  });
  const client = new DynamoDBClient({
    region: "us-east-1",
    endpoint: proxy.endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: "local-billing-on-order-placed", secretAccessKey: "x" },
  });
  const put = (id: string) => client.send(new PutItemCommand({ TableName: "t", Item: { id: { S: id } } }));
  try {
    next = { fault: { kind: "error", error: "ProvisionedThroughputExceededException", when: "before" } };
    const before = await put("before").then(() => undefined, (error: Error & { $retryable?: unknown; $metadata?: { httpStatusCode?: number } }) => error);
    assert.is(before?.name, "ProvisionedThroughputExceededException");
    assert.is(before?.$metadata?.httpStatusCode, 400);
    next = { fault: { kind: "error", error: "InternalServerError", when: "after" } };
    const after = await put("after").then(() => undefined, (error: Error & { $metadata?: { httpStatusCode?: number } }) => error);
    assert.is(after?.name, "InternalServerError");
    assert.is(after?.$metadata?.httpStatusCode, 500);
    next = undefined;
    await put("clean");
    assert.equal(received, ["after", "clean"], "the 'before' call never reached DynamoDB, the 'after' one did");
  } finally {
    client.destroy();
    await proxy.close();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  }
});

// The checker on input made by hand ----------------------------------------------------------------------------------

function observations(): RunObservations {
  return {
    published: [
      { eventId: "e-applied", ordinal: 0, route: "publish", expected: "applied", faults: [] },
      { eventId: "e-dead", ordinal: 1, route: "publish", expected: "dead-letter", faults: ["failing-forever"] },
      { eventId: "e-poison", ordinal: 2, route: "poison", expected: "failure-event", faults: ["poison:no-items"] },
    ],
    onTopic: ["e-applied", "e-dead", "e-poison"],
    invoices: [{ invoiceId: "i-1", createdBy: "e-applied" }],
    invoiceWrites: { "e-applied": 2 },
    followUps: [
      { id: "f-1", causationId: "e-applied" },
      { id: "f-1", causationId: "e-applied" },
    ],
    failureEvents: [{ id: "x-1", originalId: "e-poison", reason: "invalid-event" }],
    deadLetters: [{ queue: "dlq", kind: "queue", eventId: "e-dead" }],
    undrained: [],
  };
}

const rules = (violations: Violation[], eventId?: string) =>
  violations.filter((v) => eventId === undefined || v.eventId === eventId).map((v) => v.rule).sort();

test("an event published again (an outbox relay's retried batch) gets its planned delivery fault once, and counts once", () => {
  const plan = planFaults(RUN);
  const twice = plan.events.find((e) => e.duplicateDelivery && !e.undeliverable)!;
  const refused = plan.events.find((e) => e.undeliverable)!;
  const injector = new FaultInjector(plan, "run-x", { functionName: "f", dataTable: "d", idempotencyTable: "i", crash: async () => false });
  const body = (id: string, ordinal: number) => JSON.stringify({ id, data: { customerId: customerIdFor("run-x", ordinal) } });
  const published = body("evt-twice", twice.ordinal);
  assert.is(injector.onDelivery(published), "deliver-twice");
  assert.is(injector.onDelivery(published), "deliver", "the relay's second publish is a real duplicate: delivered as it comes");
  assert.is(injector.counters.duplicateDeliveries, 1);
  const lost = body("evt-refused", refused.ordinal);
  assert.is(injector.onDelivery(lost), "refuse");
  assert.is(injector.onDelivery(lost), "refuse", "refused again, or the event would be applied and dead-lettered");
  assert.is(injector.counters.undeliverable, 1);
});

test("the checker puts each event in its class; a republished follow-up with the same id counts once", () => {
  const check = checkRun(observations());
  assert.equal(check.violations, []);
  assert.equal(
    check.verdicts.map((v) => [v.eventId, v.outcome]),
    [
      ["e-applied", "applied"],
      ["e-dead", "dead-letter"],
      ["e-poison", "failure-event"],
    ],
  );
  assert.is(check.tally.followUpDuplicates, 1);
  assert.is(check.tally.rewrittenEvents, 1);
});

test("the checker reports broken input: twice applied, lost, in two classes, stray, uncounted, not drained", () => {
  const cases: [string, (o: RunObservations) => void, string | undefined, string[]][] = [
    ["a second invoice item", (o) => o.invoices.push({ invoiceId: "i-2", createdBy: "e-applied" }), "e-applied", ["applied-twice"]],
    ["a follow-up under another id", (o) => o.followUps.push({ id: "f-2", causationId: "e-applied" }), "e-applied", ["applied-twice"]],
    ["no follow-up", (o) => (o.followUps = []), "e-applied", ["incomplete"]],
    ["no dead letter", (o) => (o.deadLetters = []), "e-dead", ["exactly-one-class"]],
    ["also dead-lettered", (o) => o.deadLetters.push({ queue: "dlq", kind: "queue", eventId: "e-applied" }), "e-applied", ["exactly-one-class"]],
    ["a valid event reported as failed", (o) => o.failureEvents.push({ id: "x-2", originalId: "e-dead", reason: "business-rule" }), "e-dead", ["exactly-one-class", "valid-event-failed"]],
    ["a poison event applied", (o) => o.invoices.push({ invoiceId: "i-3", createdBy: "e-poison" }), "e-poison", ["poison-applied", "uncounted-write"]],
    ["an invoice nobody published", (o) => o.invoices.push({ invoiceId: "i-4", createdBy: "e-ghost" }), "e-ghost", ["stray"]],
    ["an event never seen on its topic", (o) => (o.onTopic = o.onTopic.filter((id) => id !== "e-dead")), "e-dead", ["not-on-topic"]],
    ["messages left on the queue", (o) => o.undrained.push({ eventId: "e-applied" }), undefined, ["not-drained"]],
  ];
  for (const [what, breakIt, eventId, expected] of cases) {
    const broken = observations();
    breakIt(broken);
    assert.equal(rules(checkRun(broken).violations, eventId), expected, what);
  }
});

// The fixed-seed run ----------------------------------------------------------------------------------------------

let run: FaultRunResult | undefined;

test(`a fixed-seed run (${RUN.events} events, seed ${RUN.seed}): every event applied once, dead-lettered or reported`, async () => {
  const plan = planFaults(RUN);
  const planned = (predicate: (e: (typeof plan.events)[number]) => boolean) => plan.events.filter(predicate).length;
  const expected = {
    poison: planned((e) => e.route === "poison"),
    http: planned((e) => e.route === "http"),
    undeliverable: planned((e) => e.undeliverable),
    failingForever: planned((e) => e.failingForever),
    duplicateDeliveries: planned((e) => e.duplicateDelivery),
    duplicateReceives: planned((e) => e.receiveFault?.kind === "duplicate-receive"),
    outlasted: planned((e) => e.receiveFault?.kind === "outlast-visibility"),
    crashes: planned((e) => e.receiveFault?.kind === "crash"),
  };
  for (const [kind, n] of Object.entries(expected)) assert.ok(n > 0, `the plan of seed ${RUN.seed} has no ${kind}: choose another seed`);

  // The relays' faults are drawn per event id (random ids): rates high enough that each kind surely happens.
  run = await runFaultScenario({
    ...RUN,
    serviceDirs: EXAMPLES,
    relayRates: { throttle: 0.06, crashAfterPublish: 0.06 },
    timing: TIMING,
    drainTimeoutMs: DRAIN_TIMEOUT_MS,
  });
  const { counts, check } = run;
  console.log(formatCounts(run));
  const report = [...check.violations.slice(0, 10).map((v) => `${v.rule} ${v.ordinal ?? ""} ${v.detail}`), ...run.explanations.map((e) => `${e.injected.join("\n")}\n${e.trace}`)].join("\n");

  assert.ok(run.drained, "the consumer's queue drained before the deadline");
  assert.equal(run.httpFailures, [], "every POST /orders answered 201");
  assert.equal(check.violations, [], report);
  // Every published event is in exactly one class.
  assert.is(counts.published, RUN.events);
  assert.is(counts.applied + counts.deadLettered + counts.failureEvents, counts.published);
  assert.ok(check.verdicts.every((v) => v.classes.length === 1 && v.invoiceItems <= 1 && v.followUpIds <= 1));
  assert.is(counts.byRoute.http, expected.http);
  assert.is(counts.failureEvents, expected.poison, "poison events, and only they, end as failure events");
  assert.ok(counts.deadLetteredSubscription >= expected.undeliverable);
  assert.ok(counts.deadLetteredQueue >= expected.failingForever);
  // The faults happened as planned.
  assert.is(counts.duplicateDeliveries, expected.duplicateDeliveries);
  assert.is(counts.duplicateReceives, expected.duplicateReceives);
  assert.is(counts.outlastedVisibility, expected.outlasted);
  assert.is(counts.undeliverable, expected.undeliverable);
  // A planned crash kills the invocation that reaches its point; when that invocation was already killed (by another
  // record's crash in its batch) the event's next attempt crashes instead. An event that is also delivered twice may
  // have been completed by its other copy by then, so nothing is left to crash: those alone may come up short.
  const crashAlsoDuplicated = planned((e) => e.receiveFault?.kind === "crash" && (e.duplicateDelivery || e.route === "http"));
  assert.ok(
    counts.crashes <= expected.crashes && counts.crashes >= expected.crashes - crashAlsoDuplicated,
    `${counts.crashes} crashes of ${expected.crashes} planned (${crashAlsoDuplicated} of them on events delivered twice)`,
  );
  assert.is(counts.consumerStops, 1);
  assert.ok(counts.transientErrorsBefore > 0 && counts.transientErrorsAfter > 0, "transient errors before and after applying");
  assert.ok(counts.redeliveries > 0, "messages were received again");
  assert.ok(counts.invocations.failed >= counts.crashes, "each crash failed its invocation");
  assert.ok(counts.rewrittenEvents > 0, "retries after a crash or a lost answer wrote an invoice again (same item)");
  assert.ok(counts.invoiceWrites > counts.applied, "more writes than invoices: every rewrite hit the same item");
  // The outbox relays met their faults, and every event they recorded went out (violations: none lost, none twice).
  assert.ok(counts.relay.throttledEvents > 0 && counts.relay.throttledPublishes > counts.relay.throttledEvents, "relay publishes throttled past the SDK's retries");
  assert.ok(counts.relay.crashes > 0, "relay workers killed after their publish");
  assert.ok(counts.relay.republished > 0, "events published again by a retried relay batch, applied once all the same");
  // Crashed events were applied all the same, once.
  for (const verdict of check.verdicts.filter((v) => v.faults.some((f) => f.startsWith("crash:")))) {
    assert.is(verdict.outcome, "applied", `${verdict.eventId} (${verdict.faults.join(", ")})`);
  }
});

test("beside another consumer of the same event, the run still tests billing's, and counts only its failure events", async () => {
  // The other consumer comes first in the stage and reports every event it gets, valid or not, as a failure event.
  const bystander = join(__dirname, "fixtures", "bystander-service");
  const none = { http: 0, undeliverable: 0, failingForever: 0, duplicateDelivery: 0, duplicateReceive: 0, outlastVisibility: 0, crash: 0, surfacingTransient: 0, absorbedTransient: 0 };
  const lines: string[] = [];
  const small = await runFaultScenario({
    events: 12,
    seed: 3,
    rates: { ...none, poison: 0.5 },
    pauseConsumer: false,
    timing: { functionTimeoutSeconds: 30, visibilityTimeoutSeconds: 40 },
    serviceDirs: [bystander, ...EXAMPLES],
    onProgress: (line) => lines.push(line),
  });
  const poison = small.plan.events.filter((e) => e.route === "poison").length;
  assert.ok(poison > 0 && poison < 12, `seed 3 plans ${poison} poison events of 12: choose another seed`);
  assert.match(lines[0] ?? "", /consumer billing\/on-order-placed on local-billing-on-order-placed/);
  assert.equal(small.check.violations, [], small.check.violations.map((v) => `${v.rule} ${v.detail}`).join("\n"));
  assert.is(small.counts.failureEvents, poison);
  assert.is(small.counts.applied, 12 - poison);
});

test("the checker catches a real run's observations once they are broken", () => {
  assert.ok(run, "the fixed-seed run ran");
  const real = run!.observations;
  const applied = run!.check.verdicts.find((v) => v.outcome === "applied" && v.route === "publish")!;
  const poisoned = run!.check.verdicts.find((v) => v.outcome === "failure-event")!;
  const dead = run!.check.verdicts.find((v) => v.outcome === "dead-letter")!;
  assert.ok(applied && poisoned && dead, "the fixed-seed run has an applied, a reported and a dead-lettered event");
  const copy = (): RunObservations => structuredClone(real);

  const twice = copy();
  twice.invoices.push({ invoiceId: "duplicate", createdBy: applied.eventId });
  assert.ok(rules(checkRun(twice).violations, applied.eventId).includes("applied-twice"));

  const lost = copy();
  lost.failureEvents = lost.failureEvents.filter((f) => f.originalId !== poisoned.eventId);
  assert.equal(rules(checkRun(lost).violations, poisoned.eventId), ["exactly-one-class"]);

  const both = copy();
  both.deadLetters.push({ queue: "local-billing-on-order-placed-dlq", kind: "queue", eventId: applied.eventId });
  assert.equal(rules(checkRun(both).violations, applied.eventId), ["exactly-one-class"]);

  const unpublished = copy();
  unpublished.recordedNotPublished = [7];
  assert.ok(checkRun(unpublished).violations.some((v) => v.rule === "recorded-not-published" && v.ordinal === 7), "an order recorded but never published is noticed");

  const vanished = copy();
  vanished.deadLetters = vanished.deadLetters.filter((d) => d.eventId !== dead.eventId);
  assert.ok(checkRun(vanished).violations.some((v) => v.eventId === dead.eventId), `dropping ${dead.eventId}'s dead letter is noticed`);
  assert.ok(describeFaults(run!.plan.events[dead.ordinal]!).length > 0, "the dead-lettered event had a planned fault");
});

test.run();
