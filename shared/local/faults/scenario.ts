/**
 * A fault run: N orders.order-placed events through the local stage with the real services (by hand through
 * `stage.publish`, through `POST /orders`, and poison ones raw to the topic) while the plan's faults are injected;
 * then, once the consumer's queue has drained, every published event is classified and the invariants are checked.
 */
import type { EventType, PlatformOutputs, TopicEventType } from "../../contract";
import { buildEnvelope } from "../../runtime/envelope";
import { messageAttributes } from "../../runtime/sns-publish";
import type { PublishInput } from "../sns/engine";
import { dynamoRequest } from "../stage/dynamodb";
import { startLocalStage, type LocalStage } from "../stage/stage";
import { renderTrace } from "../stage/trace";
import type { StageWiring } from "../stage/wiring";
import { checkRun, type CheckTally, type FaultCheck, type PublishedEvent, type RunObservations } from "./check";
import { startDynamoDbFaultProxy, type DynamoDbFaultProxy } from "./dynamodb-fault-proxy";
import { customerIdFor, eventIdOf, FaultInjector, ordinalOfCustomer } from "./injector";
import { installMessagingFaults } from "./messaging-faults";
import { describeFaults, planFaults, type EventPlan, type FaultPlan, type FaultRates, type PoisonKind } from "./plan";
import { randomSeed } from "./prng";
import { installRelayFaults, type RelayFaultCounters, type RelayFaultRates } from "./relay-faults";
import { checkWorkflowRun, installWorkflowFaults, type WorkflowFaultCounters, type WorkflowFaultRates, type WorkflowViolation } from "./workflow-faults";

/** The consumed event, the service whose consumer of it is under test, and where its follow-up goes. */
const CONSUMED: TopicEventType = "orders.order-placed";
const CONSUMER_SERVICE = "billing";
const FOLLOW_UP: TopicEventType = "billing.invoice-issued";
/** What the workflow a consumer of the consumed event starts publishes at its end (the example saga's follow-up). */
const WORKFLOW_FOLLOW_UP: TopicEventType = "fulfilment.order-fulfilled";

/**
 * Time in a fault run is compressed, so retries come round in seconds: every consumer's function timeout and queue
 * visibility timeout are shortened. Two bounds hold: the visibility stays longer than the function timeout, which
 * bounds the idempotency lock, so a crashed attempt's lock has expired by the time its message reappears; and the
 * function timeout stays longer than the AWS SDK's retries of a throttled call (up to 3 s of backoff), or one
 * throttled record would time out its whole batch, again and again, until its batch-mates are dead-lettered after
 * they were applied.
 */
export interface ScenarioTiming {
  /** @default 4 */
  functionTimeoutSeconds: number;
  /** @default 5 */
  visibilityTimeoutSeconds: number;
  /** The outlast fault: visibility timeout of the receive it hits. @default 1 */
  outlastVisibilitySeconds: number;
  /** The outlast fault: how long the invocation is held up (between the two timeouts above). @default 1500 */
  outlastDelayMs: number;
  /** The consumer stays stopped at least this long. @default 1000 */
  pauseMs: number;
  /**
   * The timeout of the functions behind HTTP routes (`POST /orders`), when set; their own otherwise. A route call
   * that times out answers 503 and may have recorded its order all the same: on a loaded machine the run would then
   * fail on timing, not on what it checks. @default the function's own
   */
  routeFunctionTimeoutSeconds?: number;
}

export const DEFAULT_TIMING: Readonly<ScenarioTiming> = {
  functionTimeoutSeconds: 4,
  visibilityTimeoutSeconds: 5,
  outlastVisibilitySeconds: 1,
  outlastDelayMs: 1500,
  pauseMs: 1000,
};

export interface FaultScenarioOptions {
  /** Events to publish. */
  events: number;
  /** @default a random one (it is in the result) */
  seed?: number;
  rates?: Partial<FaultRates>;
  /** Faults on the outbox relays' publishes (throttles, a worker killed after its publish). */
  relayRates?: Partial<RelayFaultRates>;
  /** Faults on the StartExecution calls of consumers that start a workflow (throttles, a worker killed after its start). */
  workflowRates?: Partial<WorkflowFaultRates>;
  timing?: Partial<ScenarioTiming>;
  /** @default true */
  pauseConsumer?: boolean;
  /**
   * How long to wait for the consumer's queue to drain after the last publish.
   * @default 60 s + 25 ms per event
   */
  drainTimeoutMs?: number;
  /** @default 8 */
  httpConcurrency?: number;
  /**
   * Publishing waits while the consumer's queue holds more visible messages than this (not while the consumer is
   * stopped), so the run is spread over time instead of one burst.
   * @default 200
   */
  maxBacklog?: number;
  /** Service project folders. @default every services/* project */
  serviceDirs?: readonly string[];
  /** Progress lines. */
  onProgress?: (line: string) => void;
  /**
   * Trace trees (rendered) kept for events that break an invariant, to explain them.
   * @default 5
   */
  explain?: number;
}

/** The figures of a run: the check's tally plus what the injectors and the stage counted. */
export interface FaultCounts extends CheckTally {
  byRoute: { publish: number; http: number; poison: number };
  /** Same message twice: SNS deliveries made twice plus SQS messages received twice. */
  duplicatesDelivered: number;
  duplicateDeliveries: number;
  duplicateReceives: number;
  crashes: number;
  transientErrors: number;
  transientErrorsBefore: number;
  transientErrorsAfter: number;
  /** Receives of the consumer's queue beyond a message's first. */
  redeliveries: number;
  /** The consumer's invocations: all, those that reported failed records, timed out, or ended otherwise in error. */
  invocations: { total: number; partial: number; timedOut: number; failed: number; slowestMs: number };
  outlastedVisibility: number;
  undeliverable: number;
  consumerStops: number;
  /** The outbox relays: publishes throttled (events hit), workers killed after a publish, events published again. */
  relay: RelayFaultCounters;
  /**
   * The workflow starters (consumers of the event that start a workflow, when the run has one): their faults, the
   * executions, and the broken workflow invariants (one execution per valid event, none for poison, each succeeded
   * with one follow-up).
   */
  workflow?: Omit<WorkflowFaultCounters, "started"> & { starters: string[]; executions: number; succeeded: number; deadLettered: number; violations: number };
  violations: number;
}

export interface FaultRunResult {
  seed: number;
  events: number;
  plan: FaultPlan;
  /** Milliseconds: the whole run (stage start to check), publishing, and waiting for the drain. */
  durationMs: number;
  publishMs: number;
  drainMs: number;
  drained: boolean;
  counts: FaultCounts;
  check: FaultCheck;
  observations: RunObservations;
  /** `POST /orders` calls that did not answer 201 (their events were not published). */
  httpFailures: { ordinal: number; status: number | string }[];
  /** Broken workflow invariants (see `FaultCounts.workflow`); empty without a workflow starter. */
  workflowViolations: WorkflowViolation[];
  /** The first events that broke an invariant (see `explain`): what the injector did to each, and its trace. */
  explanations: { eventId: string; injected: string[]; trace: string }[];
}

/**
 * Compresses time for every consumer (function behind an event source mapping, and its queue); sets the route
 * functions' timeout when `timing.routeFunctionTimeoutSeconds` says so.
 */
export function compressTime(timing: ScenarioTiming) {
  return (wiring: StageWiring): StageWiring => {
    const queues = new Set(wiring.mappings.map((m) => m.queueArn));
    const functions = new Set(wiring.mappings.map((m) => m.functionArn));
    const routed = new Set(timing.routeFunctionTimeoutSeconds === undefined ? [] : wiring.routes.map((r) => r.functionArn));
    const timeoutOf = (f: StageWiring["functions"][number]) =>
      functions.has(f.arn) ? timing.functionTimeoutSeconds : routed.has(f.arn) ? timing.routeFunctionTimeoutSeconds! : f.timeoutSeconds;
    return {
      ...wiring,
      queues: wiring.queues.map((q) => (queues.has(q.arn) ? { ...q, visibilityTimeoutSeconds: timing.visibilityTimeoutSeconds } : q)),
      functions: wiring.functions.map((f) => (timeoutOf(f) === f.timeoutSeconds ? f : { ...f, timeoutSeconds: timeoutOf(f) })),
    };
  };
}

/** Order data that breaks the catalog schema the way `kind` says. */
export function poisonData(kind: PoisonKind, customerId: string, orderId: string): Record<string, unknown> {
  const good = { orderId, customerId, items: [{ sku: "sku-poison", quantity: 1 }], total: { amount: 10, currency: "EUR" } };
  switch (kind) {
    case "bad-currency":
      return { ...good, total: { amount: 10, currency: "euro" } };
    case "no-items":
      return { ...good, items: [] };
    case "no-customer": {
      const { customerId: _dropped, ...rest } = good;
      return rest;
    }
    case "zero-quantity":
      return { ...good, items: [{ sku: "sku-poison", quantity: 0 }] };
    case "total-as-text":
      return { ...good, total: "10 EUR" };
  }
}

function orderData(runTag: string, ordinal: number) {
  return {
    customerId: customerIdFor(runTag, ordinal),
    items: [{ sku: `sku-${ordinal % 7}`, quantity: 1 + (ordinal % 3) }],
    total: { amount: 10 + (ordinal % 90), currency: "EUR" },
  };
}

/** Polls `condition` until it holds or `timeoutMs` passes; resolves to whether it held. */
async function waitUntil(condition: () => boolean, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function scanInvoices(stage: LocalStage, table: string): Promise<{ invoiceId: string; createdBy: string }[]> {
  const out: { invoiceId: string; createdBy: string }[] = [];
  let start: unknown;
  do {
    const page = await dynamoRequest<{ Items?: Record<string, { S?: string }>[]; LastEvaluatedKey?: unknown }>(stage.endpoints.dynalite, "Scan", {
      TableName: table,
      ...(start ? { ExclusiveStartKey: start } : {}),
    });
    for (const item of page.Items ?? []) {
      if (item.__edb_e__?.S !== "invoice") continue;
      out.push({ invoiceId: item.invoiceId?.S ?? "", createdBy: item.createdBy?.S ?? "" });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

function parseJson(body: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body);
    return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Runs one fault scenario on a fresh local stage and checks it.
 * @example
 * const result = await runFaultScenario({ events: 400, seed: 7 });
 * if (result.check.violations.length) console.error(result.check.violations);
 */
export async function runFaultScenario(options: FaultScenarioOptions): Promise<FaultRunResult> {
  const started = performance.now();
  const seed = options.seed ?? randomSeed();
  const timing: ScenarioTiming = { ...DEFAULT_TIMING, ...options.timing };
  const plan = planFaults({
    events: options.events,
    seed,
    ...(options.rates ? { rates: options.rates } : {}),
    ...(options.pauseConsumer === undefined ? {} : { pauseConsumer: options.pauseConsumer }),
    outlast: { visibilitySeconds: timing.outlastVisibilitySeconds, delayMs: timing.outlastDelayMs },
  });
  const progress = options.onProgress ?? (() => undefined);
  const runTag = `faults${seed.toString(36)}`;

  let injector: FaultInjector | undefined;
  const proxy: DynamoDbFaultProxy = await startDynamoDbFaultProxy({
    inspect: (principal) => injector?.inspects(principal) ?? false,
    decide: (call) => injector?.decide(call),
    onForwarded: (call, status) => injector?.onForwarded(call, status),
  });
  let stage: LocalStage | undefined;
  const cleanup: (() => void)[] = [];
  try {
    stage = await startLocalStage({
      port: 0,
      endpoints: { dynamodb: proxy.endpoint },
      adjustWiring: compressTime(timing),
      ...(options.serviceDirs ? { serviceDirs: options.serviceDirs } : {}),
    });
    proxy.setTarget(stage.endpoints.dynamodbProxy);
    const platform = stage.programs[0]!.outputs as unknown as PlatformOutputs;
    // Billing's consumer: other services may consume the same event; they run beside it, untouched by the faults.
    const consumer = stage.consumers.find((c) => c.events.includes(CONSUMED) && c.label.startsWith(`${CONSUMER_SERVICE}/`));
    if (!consumer) throw new Error(`no consumer of ${CONSUMED} in ${CONSUMER_SERVICE} (services: ${stage.services.join(", ")})`);
    const host = stage.hosts.get(consumer.function);
    const poller = stage.pollers.find((p) => p.functionName === consumer.function);
    if (!host || !poller) throw new Error(`the consumer ${consumer.label} has no function host or poller`);
    const queueArn = stage.sqs.queue(consumer.queue).arn;
    progress(`stage ready in ${(stage.startupMs / 1000).toFixed(1)} s; consumer ${consumer.label} on ${consumer.queue}`);

    injector = new FaultInjector(plan, runTag, {
      functionName: consumer.function,
      dataTable: platform.dataTable.name,
      idempotencyTable: platform.idempotencyTable.name,
      crash: (traceHeader) => host.crash({ traceHeader }),
    });
    const faults = injector;
    cleanup.push(installMessagingFaults(stage.sqs, queueArn, { onDelivery: (body) => faults.onDelivery(body), onReceive: (body) => faults.onReceive(body) }));
    // The outbox relays (orders' publishes the HTTP orders' events, billing's the follow-ups): throttles and crashes.
    const relays = new Set([...stage.hosts.keys()].filter((name) => name.endsWith("-outbox-relay")));
    const relayFaults = installRelayFaults(stage.sns, {
      seed,
      ...(options.relayRates ? { rates: options.relayRates } : {}),
      relays,
      crash: async (functionName, traceHeader) => (await stage!.hosts.get(functionName)?.crash({ ...(traceHeader ? { traceHeader } : {}) })) ?? false,
    });
    cleanup.push(relayFaults.uninstall);
    // Consumers of the event that start a workflow (the example fulfilment's starter): throttled starts, crashes after.
    const workflowFunctions = new Set(stage.wiring.functions.filter((f) => f.environment.PLATFORM_WORKFLOWS !== undefined).map((f) => f.name));
    const starters = stage.consumers.filter((c) => c.events.includes(CONSUMED) && workflowFunctions.has(c.function));
    const workflowFaults = starters.length
      ? installWorkflowFaults(stage.workflows, {
          seed,
          ...(options.workflowRates ? { rates: options.workflowRates } : {}),
          starters: new Set(starters.map((c) => c.function)),
          crash: async (functionName, traceHeader) => (await stage!.hosts.get(functionName)?.crash({ ...(traceHeader ? { traceHeader } : {}) })) ?? false,
        })
      : undefined;
    if (workflowFaults) cleanup.push(workflowFaults.uninstall);
    // The consumer's invocations, as the poller sees them (the host's method wrapped on the instance, for counting).
    const invocations = { total: 0, partial: 0, timedOut: 0, failed: 0, slowestMs: 0 };
    const invoke = host.invoke;
    host.invoke = async function countedInvoke(this: typeof host, ...args: Parameters<typeof host.invoke>) {
      const result = await invoke.apply(this, args);
      invocations.total++;
      invocations.slowestMs = Math.max(invocations.slowestMs, result.durationMs);
      if (!result.ok) {
        if (result.error.errorType === "Sandbox.Timedout") invocations.timedOut++;
        else invocations.failed++;
      } else if ((result.payload as { batchItemFailures?: unknown[] } | null)?.batchItemFailures?.length) invocations.partial++;
      return result;
    };
    cleanup.push(() => delete (host as Partial<Pick<typeof host, "invoke">>).invoke);
    let redeliveries = 0;
    cleanup.push(
      stage.sqs.addTraceListener((event) => {
        if (event.kind === "sqs.received" && event.queueArn === queueArn && event.receiveCount > 1) redeliveries++;
      }),
    );

    // Subscribers of our own on the topics the checker reads: the consumed one, the follow-up's, the failure topic.
    const audit = (name: string, topicArn: string): string => {
      const queue = stage!.sqs.createQueue(`faults-audit-${name}`, { MessageRetentionPeriod: 1_209_600 });
      stage!.sns.subscribe({ TopicArn: topicArn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } });
      return queue.arn;
    };
    const consumedTopic = platform.eventTopics[CONSUMED].arn;
    const auditConsumed = audit("consumed", consumedTopic);
    const auditFollowUps = audit("follow-ups", platform.eventTopics[FOLLOW_UP].arn);
    const auditFailures = audit("failures", platform.failureTopic.arn);
    const workflowFollowUpTopic = workflowFaults ? platform.eventTopics[WORKFLOW_FOLLOW_UP]?.arn : undefined;
    const auditWorkflowFollowUps = workflowFollowUpTopic ? audit("workflow-follow-ups", workflowFollowUpTopic) : undefined;

    // Publishing.
    const publishStarted = performance.now();
    const known = new Map<number, string>();
    const httpOrdinals = new Set<number>();
    const httpFailures: { ordinal: number; status: number | string }[] = [];
    const httpInFlight = new Set<Promise<void>>();
    const httpConcurrency = options.httpConcurrency ?? 8;
    const maxBacklog = options.maxBacklog ?? 200;
    let consumerStops = 0;
    let stoppedAt: number | undefined;
    const visibleBacklog = () => stage!.sqs.counts(queueArn).ApproximateNumberOfMessages;
    const postOrder = async (event: EventPlan): Promise<void> => {
      try {
        const answer = await fetch(`${stage!.url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(orderData(runTag, event.ordinal)),
        });
        await answer.arrayBuffer();
        if (answer.status === 201) httpOrdinals.add(event.ordinal);
        else httpFailures.push({ ordinal: event.ordinal, status: answer.status });
      } catch (error) {
        httpFailures.push({ ordinal: event.ordinal, status: (error as Error).message });
      }
    };
    const pause = plan.consumerPause;
    for (const event of plan.events) {
      if (pause && event.ordinal === pause.stopAt) {
        await poller.stop();
        consumerStops++;
        stoppedAt = performance.now();
        progress(`consumer stopped before event ${event.ordinal}`);
      }
      if (pause && event.ordinal === pause.restartAt && stoppedAt !== undefined) {
        const since = stoppedAt;
        await waitUntil(() => performance.now() - since >= timing.pauseMs, timing.pauseMs + 1000);
        poller.start();
        stoppedAt = undefined;
        progress(`consumer restarted before event ${event.ordinal} (backlog ${visibleBacklog()})`);
      }
      if (stoppedAt === undefined && visibleBacklog() > maxBacklog) await waitUntil(() => visibleBacklog() <= maxBacklog, 600_000, 5);
      if (event.route === "publish") {
        const { eventId } = stage.publish(CONSUMED, { orderId: `${runTag}-order-${event.ordinal}`, ...orderData(runTag, event.ordinal) });
        faults.register(eventId, event.ordinal);
        known.set(event.ordinal, eventId);
      } else if (event.route === "poison") {
        const customerId = customerIdFor(runTag, event.ordinal);
        const envelope = buildEnvelope(CONSUMED, poisonData(event.poison!, customerId, `${runTag}-order-${event.ordinal}`), { source: "orders" });
        faults.register(envelope.id, event.ordinal);
        known.set(event.ordinal, envelope.id);
        stage.sns.publish({
          TopicArn: consumedTopic,
          Message: JSON.stringify(envelope),
          MessageAttributes: messageAttributes(envelope, 1) as PublishInput["MessageAttributes"],
        });
      } else {
        if (httpInFlight.size >= httpConcurrency) await Promise.race(httpInFlight);
        const request = postOrder(event).finally(() => httpInFlight.delete(request));
        httpInFlight.add(request);
      }
      if (event.ordinal % 1000 === 999) progress(`published ${event.ordinal + 1}/${plan.events.length}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(httpInFlight);
    if (!poller.running) poller.start();
    const publishMs = performance.now() - publishStarted;
    progress(`published ${plan.events.length} events in ${(publishMs / 1000).toFixed(1)} s; waiting for the queue to drain`);

    // Draining. First every order POST /orders recorded (201) is on the topic (orders' relay publishes it), then the
    // consumer's queue is empty with nothing in flight for a while, then every invoice's follow-up is out (billing's
    // relay publishes it: the invoice and its event were one write).
    const drainStarted = performance.now();
    const drainTimeout = options.drainTimeoutMs ?? 60_000 + 25 * plan.events.length;
    const httpOnTopic = () => {
      const seen = new Set<number>();
      for (const message of stage!.sqs.peek(auditConsumed)) {
        const ordinal = ordinalOfCustomer((parseJson(message.body).data as { customerId?: unknown } | undefined)?.customerId, runTag);
        if (ordinal !== undefined) seen.add(ordinal);
      }
      return seen;
    };
    await waitUntil(() => {
      const seen = httpOnTopic();
      return [...httpOrdinals].every((ordinal) => seen.has(ordinal));
    }, drainTimeout, 100);
    const idle = () => {
      const counts = stage!.sqs.counts(queueArn);
      return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible + counts.ApproximateNumberOfMessagesDelayed === 0 && poller.inFlight === 0;
    };
    let quietSince: number | undefined;
    const drained = await waitUntil(
      () => {
        if (!idle()) {
          quietSince = undefined;
          return false;
        }
        quietSince ??= performance.now();
        return performance.now() - quietSince >= 100;
      },
      drainTimeout,
      25,
    );
    if (drained) {
      const followed = async () => {
        const causes = new Set(stage!.sqs.peek(auditFollowUps).map((m) => parseJson(m.body).causationid));
        return (await scanInvoices(stage!, platform.dataTable.name)).every((invoice) => causes.has(invoice.createdBy));
      };
      const deadline = performance.now() + drainTimeout;
      while (!(await followed()) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (drained && workflowFaults) {
      // The starters' queues empty, no execution running, and every succeeded one's follow-up out.
      const starterQueues = starters.map((c) => stage!.sqs.queue(c.queue).arn);
      const settled = () =>
        starterQueues.every((arn) => {
          const counts = stage!.sqs.counts(arn);
          return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible + counts.ApproximateNumberOfMessagesDelayed === 0;
        }) &&
        stage!.workflows.executions().every((e) => e.status !== "RUNNING") &&
        (auditWorkflowFollowUps === undefined ||
          stage!.sqs.peek(auditWorkflowFollowUps).length >= stage!.workflows.executions().filter((e) => e.status === "SUCCEEDED").length);
      await waitUntil(settled, drainTimeout, 50);
    }
    const drainMs = performance.now() - drainStarted;
    progress(drained ? `drained in ${(drainMs / 1000).toFixed(1)} s` : `not drained after ${(drainMs / 1000).toFixed(1)} s`);

    // Observations.
    const consumedOnTopic = stage.sqs.peek(auditConsumed).map((m) => parseJson(m.body));
    for (const envelope of consumedOnTopic) {
      const ordinal = ordinalOfCustomer((envelope.data as { customerId?: unknown } | undefined)?.customerId, runTag);
      if (ordinal !== undefined && httpOrdinals.has(ordinal) && typeof envelope.id === "string") known.set(ordinal, envelope.id);
    }
    const published: PublishedEvent[] = [];
    for (const event of plan.events) {
      const eventId = known.get(event.ordinal);
      if (eventId === undefined) continue;
      published.push({ eventId, ordinal: event.ordinal, route: event.route, expected: event.expected, faults: describeFaults(event) });
    }
    const deadLetters: RunObservations["deadLetters"] = [];
    for (const dlq of stage.deadLetterQueues().filter((d) => d.source === consumer.queue)) {
      for (const message of stage.deadLetterMessages(dlq.name)) deadLetters.push({ queue: dlq.name, kind: dlq.kind, eventId: eventIdOf(message.body) });
    }
    const observations: RunObservations = {
      published,
      onTopic: consumedOnTopic.map((e) => (typeof e.id === "string" ? e.id : "(no id)")),
      invoices: await scanInvoices(stage, platform.dataTable.name),
      invoiceWrites: Object.fromEntries(faults.counters.invoiceWrites),
      followUps: stage.sqs.peek(auditFollowUps).map((m) => {
        const envelope = parseJson(m.body);
        return { id: String(envelope.id), causationId: typeof envelope.causationid === "string" ? envelope.causationid : undefined };
      }),
      // The consumer's own failure events (the failure topic also carries those of every other consumer).
      failureEvents: stage.sqs.peek(auditFailures).flatMap((m) => {
        const envelope = parseJson(m.body);
        const data = (envelope.data ?? {}) as { originalId?: unknown; reason?: unknown; service?: unknown; handler?: unknown };
        if (`${String(data.service)}/${String(data.handler)}` !== consumer.label) return [];
        return {
          id: String(envelope.id),
          originalId: typeof data.originalId === "string" ? data.originalId : undefined,
          reason: typeof data.reason === "string" ? data.reason : undefined,
        };
      }),
      deadLetters,
      undrained: stage.sqs.peek(queueArn).map((m) => ({ eventId: eventIdOf(m.body) })),
      recordedNotPublished: (() => {
        const seen = httpOnTopic();
        return [...httpOrdinals].filter((ordinal) => !seen.has(ordinal)).sort((a, b) => a - b);
      })(),
    };
    const check = checkRun(observations);
    const causationOf = (body: string) => {
      const causation = parseJson(body).causationid;
      return typeof causation === "string" ? causation : undefined;
    };
    const workflowCheck = workflowFaults
      ? checkWorkflowRun({
          valid: published.filter((e) => e.route !== "poison").map((e) => e.eventId),
          poison: published.filter((e) => e.route === "poison").map((e) => e.eventId),
          executions: stage.workflows.executions().map((e) => ({ name: e.name, status: e.status, ...(e.error ? { error: `${e.error}: ${e.cause ?? ""}`.slice(0, 300) } : {}) })),
          started: workflowFaults.counters.started,
          followUps: auditWorkflowFollowUps ? stage.sqs.peek(auditWorkflowFollowUps).map((m) => causationOf(m.body)) : [],
          deadLettered: stage
            .deadLetterQueues()
            .filter((d) => starters.some((c) => c.queue === d.source))
            .flatMap((d) => stage!.deadLetterMessages(d.name).map((m) => eventIdOf(m.body)))
            .filter((id): id is string => id !== undefined),
        })
      : undefined;
    const correlationOf = new Map(consumedOnTopic.map((e) => [String(e.id), String(e.correlationid)]));
    const explanations: FaultRunResult["explanations"] = [];
    for (const violation of check.violations) {
      if (explanations.length >= (options.explain ?? 5)) break;
      const tree = violation.eventId === undefined ? undefined : stage.trace(correlationOf.get(violation.eventId) ?? "");
      if (!tree || explanations.some((e) => e.eventId === violation.eventId)) continue;
      const injected = faults.log.filter((entry) => entry.eventId === violation.eventId).map((entry) => `${entry.atMs} ms: ${entry.what}`);
      explanations.push({ eventId: violation.eventId!, injected, trace: renderTrace(tree) });
    }
    const c = faults.counters;
    const tally = check.tally;
    const counts: FaultCounts = {
      ...tally,
      byRoute: {
        publish: published.filter((e) => e.route === "publish").length,
        http: published.filter((e) => e.route === "http").length,
        poison: published.filter((e) => e.route === "poison").length,
      },
      duplicatesDelivered: c.duplicateDeliveries + c.duplicateReceives,
      duplicateDeliveries: c.duplicateDeliveries,
      duplicateReceives: c.duplicateReceives,
      crashes: c.crashes,
      transientErrors: c.transientErrors.before + c.transientErrors.after,
      transientErrorsBefore: c.transientErrors.before,
      transientErrorsAfter: c.transientErrors.after,
      redeliveries,
      invocations: { ...invocations, slowestMs: Math.round(invocations.slowestMs) },
      outlastedVisibility: c.outlastedVisibility,
      undeliverable: c.undeliverable,
      consumerStops,
      relay: { ...relayFaults.counters },
      ...(workflowFaults && workflowCheck
        ? {
            workflow: {
              starters: starters.map((c) => c.label),
              throttledStarts: workflowFaults.counters.throttledStarts,
              throttledEvents: workflowFaults.counters.throttledEvents,
              crashes: workflowFaults.counters.crashes,
              sameExecution: workflowFaults.counters.sameExecution,
              alreadyExists: workflowFaults.counters.alreadyExists,
              executions: workflowCheck.executions,
              succeeded: workflowCheck.succeeded,
              deadLettered: workflowCheck.deadLettered,
              violations: workflowCheck.violations.length,
            },
          }
        : {}),
      violations: check.violations.length,
    };
    return {
      seed,
      events: plan.events.length,
      plan,
      durationMs: performance.now() - started,
      publishMs,
      drainMs,
      drained,
      counts,
      check,
      observations,
      httpFailures,
      workflowViolations: workflowCheck?.violations ?? [],
      explanations,
    };
  } finally {
    for (const undo of cleanup.reverse()) undo();
    await stage?.stop();
    await proxy.close();
  }
}

/** The counts as printable lines. */
export function formatCounts(result: FaultRunResult): string {
  const c = result.counts;
  return [
    `seed ${result.seed}: ${c.published} published (${c.byRoute.publish} by hand, ${c.byRoute.http} through POST /orders, ${c.byRoute.poison} poison)`,
    `  applied once ${c.applied}, in a DLQ ${c.deadLettered} (queue ${c.deadLetteredQueue}, subscription ${c.deadLetteredSubscription}), failure events ${c.failureEvents}, lost ${c.lost}, in several classes ${c.ambiguous}`,
    `  duplicates delivered ${c.duplicatesDelivered} (SNS twice ${c.duplicateDeliveries}, SQS received twice ${c.duplicateReceives}), crashes ${c.crashes}, transient errors ${c.transientErrors} (before ${c.transientErrorsBefore}, after ${c.transientErrorsAfter})`,
    `  redeliveries ${c.redeliveries} (outlasted visibility ${c.outlastedVisibility}), undeliverable ${c.undeliverable}, consumer stops ${c.consumerStops}`,
    `  outbox relays: ${c.relay.throttledPublishes} publishes throttled (${c.relay.throttledEvents} events), ${c.relay.crashes} workers killed after a publish, ${c.relay.republished} events published again`,
    ...(c.workflow
      ? [
          `  workflow starters (${c.workflow.starters.join(", ")}): ${c.workflow.executions} executions (${c.workflow.succeeded} succeeded), ${c.workflow.deadLettered} events in the starter's DLQ, ${c.workflow.throttledStarts} starts throttled (${c.workflow.throttledEvents} events), ${c.workflow.crashes} starters killed after their start, repeated starts answered with the running execution ${c.workflow.sameExecution} / ExecutionAlreadyExists ${c.workflow.alreadyExists}, violations ${c.workflow.violations}`,
        ]
      : []),
    `  invocations ${c.invocations.total}: ${c.invocations.partial} with failed records, ${c.invocations.timedOut} timed out, ${c.invocations.failed} failed (crashes), slowest ${c.invocations.slowestMs} ms`,
    `  invoice writes ${c.invoiceWrites} (${c.rewrittenEvents} events rewritten), follow-up duplicates ${c.followUpDuplicates}, unexpected outcomes ${c.unexpected}, violations ${c.violations}`,
    `  ${(result.durationMs / 1000).toFixed(1)} s (publish ${(result.publishMs / 1000).toFixed(1)} s, drain ${(result.drainMs / 1000).toFixed(1)} s)${result.drained ? "" : " NOT DRAINED"}`,
  ].join("\n");
}
