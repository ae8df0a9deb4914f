/**
 * The injector of a run: it knows each event's plan and carries it out where the faults happen: on SNS's delivery to
 * the consumer's queue, on the queue's receives, and on the consumer's DynamoDB calls. Events are recognised by id;
 * a delivery not yet known is matched to its plan through the ordinal in its `customerId`.
 */
import { peekEnvelope } from "../../contract/envelope-peek";
import { IDEMPOTENCY_TABLE_LAYOUT } from "../../contract/tables";
import type { DynamoDbCall, DynamoDbFaultDecision } from "./dynamodb-fault-proxy";
import type { DeliveryDirective, ReceiveDirective } from "./messaging-faults";
import type { ConsumerCall, EventPlan, FaultPlan, TransientFault } from "./plan";

/** What the injector did, for the report. */
export interface FaultCounters {
  /** Events whose SNS delivery was made twice (once per event: an outbox relay that publishes it again is a real
   * second delivery, not the planned one). */
  duplicateDeliveries: number;
  /** Receives made visible again at once, so the same message was received twice. */
  duplicateReceives: number;
  /** Receives given a visibility timeout shorter than the invocation they start. */
  outlastedVisibility: number;
  /** Events whose SNS deliveries the queue refused (they went to the subscription's dead-letter queue); every publish
   * of such an event is refused, a relay's second one too, so the event stays in one class, and counts once. */
  undeliverable: number;
  /** Worker threads killed mid-action. */
  crashes: number;
  /** Transient errors answered by the DynamoDB fault proxy, before and after applying the call. */
  transientErrors: { before: number; after: number };
  /** Calls held up by the outlast fault. */
  delayedCalls: number;
  /** Invoice writes that took effect, per event id. */
  invoiceWrites: Map<string, number>;
}

/** Where the consumer under test lives. */
export interface ConsumerUnderTest {
  /** The function's name (its DynamoDB calls are signed with it). */
  functionName: string;
  /** The data table (the action's writes) and the idempotency table (the lock). */
  dataTable: string;
  idempotencyTable: string;
  /** Kills the worker running the invocation with this trace header; resolves to whether one was found. */
  crash(traceHeader: string): Promise<boolean>;
}

interface EventState {
  plan: EventPlan;
  /** Remaining failures per transient fault. */
  transientsLeft: Map<TransientFault, number>;
  receiveFaultDone: boolean;
  crashDone: boolean;
  duplicateDeliveryDone: boolean;
  refusedOnce: boolean;
  delayNextInvoiceMs: number;
}

/** A call of the consumer, read from its request. */
export interface ClassifiedCall {
  kind: ConsumerCall | "release" | "read" | "other";
  eventId: string | undefined;
}

/** The ordinal in a `customerId` made by {@link customerIdFor}. */
export function ordinalOfCustomer(customerId: unknown, runTag: string): number | undefined {
  if (typeof customerId !== "string" || !customerId.startsWith(`${runTag}-customer-`)) return undefined;
  const n = Number(customerId.slice(runTag.length + "-customer-".length));
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** The `customerId` of the event with this ordinal: it carries the ordinal to whoever sees the event. */
export function customerIdFor(runTag: string, ordinal: number): string {
  return `${runTag}-customer-${ordinal}`;
}

/** The envelope id in a message body (the CloudEvent, raw or inside an SNS notification), by the one envelope peek. */
export function eventIdOf(body: string): string | undefined {
  return peekEnvelope(body).id;
}

function attributeString(item: unknown, name: string): string | undefined {
  const value = (item as Record<string, { S?: unknown } | undefined> | undefined)?.[name]?.S;
  return typeof value === "string" ? value : undefined;
}

export class FaultInjector {
  readonly counters: FaultCounters = {
    duplicateDeliveries: 0,
    duplicateReceives: 0,
    outlastedVisibility: 0,
    undeliverable: 0,
    crashes: 0,
    transientErrors: { before: 0, after: 0 },
    delayedCalls: 0,
    invoiceWrites: new Map(),
  };
  /** What was done to which event, in order (milliseconds since the injector was made). */
  readonly log: { atMs: number; eventId: string; ordinal: number; what: string }[] = [];
  private readonly started = performance.now();
  private readonly byId = new Map<string, EventState>();
  private readonly byOrdinal: EventPlan[];

  constructor(
    readonly plan: FaultPlan,
    /** Prefix of the run's customer ids (tells its events from anyone else's). */
    readonly runTag: string,
    private readonly consumer: ConsumerUnderTest,
  ) {
    this.byOrdinal = plan.events;
  }

  private note(eventId: string, what: string): void {
    const ordinal = this.byId.get(eventId)?.plan.ordinal ?? -1;
    this.log.push({ atMs: Math.round(performance.now() - this.started), eventId, ordinal, what });
  }

  /** Ties an event id to its plan (poison events, whose data may have no customer id, are registered up front). */
  register(eventId: string, ordinal: number): EventPlan {
    const existing = this.byId.get(eventId);
    if (existing) return existing.plan;
    const plan = this.byOrdinal[ordinal];
    if (!plan) throw new RangeError(`no event ${ordinal} in the plan`);
    this.byId.set(eventId, {
      plan,
      transientsLeft: new Map(plan.transients.concat(plan.receiveFault?.kind === "transient" ? [plan.receiveFault.fault] : []).map((t) => [t, t.times])),
      receiveFaultDone: false,
      crashDone: false,
      duplicateDeliveryDone: false,
      refusedOnce: false,
      delayNextInvoiceMs: 0,
    });
    return plan;
  }

  /** The plan of a registered event. */
  planOf(eventId: string): EventPlan | undefined {
    return this.byId.get(eventId)?.plan;
  }

  /** SNS is delivering `body` to the consumer's queue. */
  onDelivery(body: string): DeliveryDirective {
    let envelope: { id?: unknown; data?: { customerId?: unknown } };
    try {
      envelope = JSON.parse(body) as typeof envelope;
    } catch {
      return "deliver";
    }
    if (typeof envelope.id !== "string") return "deliver";
    let plan = this.planOf(envelope.id);
    if (!plan) {
      const ordinal = ordinalOfCustomer(envelope.data?.customerId, this.runTag);
      if (ordinal === undefined || !this.byOrdinal[ordinal]) return "deliver";
      plan = this.register(envelope.id, ordinal);
    }
    const state = this.byId.get(envelope.id)!;
    if (plan.undeliverable) {
      if (!state.refusedOnce) this.counters.undeliverable++;
      state.refusedOnce = true;
      this.note(envelope.id, "delivery refused");
      return "refuse";
    }
    if (plan.duplicateDelivery && !state.duplicateDeliveryDone) {
      state.duplicateDeliveryDone = true;
      this.counters.duplicateDeliveries++;
      this.note(envelope.id, "delivered twice");
      return "deliver-twice";
    }
    return "deliver";
  }

  /** The consumer's queue handed out a message: its first receive may be made a duplicate or too short. */
  onReceive(body: string): ReceiveDirective | undefined {
    const id = eventIdOf(body);
    const state = id === undefined ? undefined : this.byId.get(id);
    const fault = state?.plan.receiveFault;
    if (!state || !fault || state.receiveFaultDone) return undefined;
    if (fault.kind === "duplicate-receive") {
      state.receiveFaultDone = true;
      this.counters.duplicateReceives++;
      this.note(id!, "received: visible again at once");
      return { visibilityTimeoutSeconds: 0 };
    }
    if (fault.kind === "outlast-visibility") {
      state.receiveFaultDone = true;
      state.delayNextInvoiceMs = fault.delayMs;
      this.counters.outlastedVisibility++;
      this.note(id!, `received: visible again in ${fault.visibilitySeconds} s`);
      return { visibilityTimeoutSeconds: fault.visibilitySeconds };
    }
    return undefined;
  }

  /** Whether the DynamoDB fault proxy looks at this caller's calls. */
  inspects(principal: string | undefined): boolean {
    return principal === this.consumer.functionName;
  }

  /** What a consumer call is and which event it is for. */
  classify(call: DynamoDbCall): ClassifiedCall {
    const table = call.request.TableName;
    if (table === this.consumer.idempotencyTable) {
      const key = attributeString(call.request.Item ?? call.request.Key, IDEMPOTENCY_TABLE_LAYOUT.keyAttribute);
      const eventId = key?.slice(key.lastIndexOf("#") + 1);
      if (call.operation === "PutItem") return { kind: call.request.ConditionExpression ? "lock" : "complete", eventId };
      if (call.operation === "DeleteItem") return { kind: "release", eventId };
      if (call.operation === "GetItem") return { kind: "read", eventId };
      return { kind: "other", eventId };
    }
    if (table === this.consumer.dataTable && call.operation === "PutItem") {
      const eventId = attributeString(call.request.Item, "createdBy");
      if (eventId !== undefined) return { kind: "invoice", eventId };
    }
    // Through the outbox: the invoice and its event's outbox item in one transaction (the invoice's Put names the event).
    if (call.operation === "TransactWriteItems" && Array.isArray(call.request.TransactItems)) {
      for (const entry of call.request.TransactItems as { Put?: { TableName?: unknown; Item?: unknown } }[]) {
        if (entry.Put?.TableName !== this.consumer.dataTable) continue;
        const eventId = attributeString(entry.Put.Item, "createdBy");
        if (eventId !== undefined) return { kind: "invoice", eventId };
      }
    }
    return { kind: "other", eventId: undefined };
  }

  /** The fault proxy asks about one of the consumer's calls. */
  decide(call: DynamoDbCall): DynamoDbFaultDecision | undefined {
    const { kind, eventId } = this.classify(call);
    const state = eventId === undefined ? undefined : this.byId.get(eventId);
    if (!state || kind === "other" || kind === "read" || kind === "release") return undefined;
    const plan = state.plan;
    const decision: DynamoDbFaultDecision = {};
    if (kind === "invoice" && state.delayNextInvoiceMs > 0) {
      decision.delayMs = state.delayNextInvoiceMs;
      state.delayNextInvoiceMs = 0;
      this.counters.delayedCalls++;
      this.note(eventId!, `${kind} held up ${decision.delayMs} ms`);
    }
    if (plan.failingForever) {
      this.counters.transientErrors.before++;
      this.note(eventId!, `${kind}: InternalServerError (failing for good)`);
      return { ...decision, fault: { kind: "error", error: "InternalServerError", when: "before" } };
    }
    const crash = plan.receiveFault?.kind === "crash" ? plan.receiveFault : undefined;
    if (crash && !state.crashDone && call.traceHeader !== undefined) {
      const at: { call: ConsumerCall; when: "before" | "after" } =
        crash.at === "after-invoice-write" ? { call: "invoice", when: "after" } : { call: "complete", when: "before" };
      if (kind === at.call) {
        state.crashDone = true;
        const traceHeader = call.traceHeader;
        return {
          ...decision,
          fault: {
            kind: "crash",
            when: at.when,
            crash: async () => {
              const crashed = await this.consumer.crash(traceHeader);
              if (crashed) this.counters.crashes++;
              // The invocation was gone already (killed with another record of its batch): the next attempt crashes.
              else state.crashDone = false;
              this.note(eventId!, crashed ? `worker killed at ${kind} (${at.when})` : `no worker to kill at ${kind}`);
            },
          },
        };
      }
    }
    for (const [fault, left] of state.transientsLeft) {
      if (fault.call !== kind || left <= 0) continue;
      state.transientsLeft.set(fault, left - 1);
      this.counters.transientErrors[fault.when]++;
      this.note(eventId!, `${kind}: ${fault.error} ${fault.when} applying`);
      return { ...decision, fault: { kind: "error", error: fault.error, when: fault.when } };
    }
    return decision.delayMs ? decision : undefined;
  }

  /** A consumer call reached DynamoDB: invoice writes that succeeded are counted per event. */
  onForwarded(call: DynamoDbCall, status: number): void {
    if (status !== 200) return;
    const { kind, eventId } = this.classify(call);
    if (kind !== "invoice" || eventId === undefined) return;
    this.counters.invoiceWrites.set(eventId, (this.counters.invoiceWrites.get(eventId) ?? 0) + 1);
  }
}
