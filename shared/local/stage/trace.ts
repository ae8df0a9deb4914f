/**
 * The local stage's trace: every HTTP request, publish, delivery, handler invocation, DynamoDB write and dead-letter
 * move, grouped by the correlation id the events carry (the CloudEvent `correlationid`, the `x-correlation-id`
 * response header) into one tree per conversation, and rendered in plain words.
 *
 * Each hop records its own span with an explicit parent, from the request context that travels with it
 * (`shared/local/context.ts`): a publish's span is its caller's child, and the SNS engine reports each delivery with a
 * span whose parent is the publish's; an SQS message id is the delivery's (the invocations that received it hang
 * under it); an invocation runs with an `_X_AMZN_TRACE_ID` whose `Parent` is its own span, so the function's SDK calls
 * (DynamoDB writes, publishes, refused requests) arrive as its children. Nothing is inferred from timing.
 */
import { newSpanId, parentSpanOf, type RequestContext } from "../context";
import type { MessagingTraceEvent } from "../sns";

/** A tree: everything that happened under one correlation id. */
export interface TraceTree {
  correlationId: string;
  /** ISO time of the first thing seen. */
  startedAt: string;
  /** Milliseconds from the first to the last thing seen. */
  durationMs: number;
  /** True when nothing is running or waiting to be received (a retry after a visibility timeout may still come). */
  settled: boolean;
  /** HTTP requests, and publishes (and workflow executions) no traced invocation made (by hand, by a tool). */
  roots: (RequestTrace | PublishTrace | DeliveryTrace | ExecutionTrace)[];
}

/** A workflow execution (Step Functions), under the invocation that started it. */
export interface ExecutionTrace {
  kind: "execution";
  /** The state machine's name. */
  stateMachine: string;
  executionArn: string;
  /** The execution's name (a consumer starts it with the event id). */
  name: string;
  /** Who started it (a function's AWS name, or a tool's key). */
  startedBy: string;
  /** The execution's span and its parent's (the StartExecution call's, whose parent is the starting invocation). */
  spanId: string;
  parentSpanId?: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
  /** Epoch ms. */
  startedAt: number;
  durationMs?: number;
  /** `Error: cause` of a failed execution. */
  error?: string;
  /** Each state as it ran, in the order entered (a Map's states once per item). */
  states: StateTrace[];
}

/** One state of an execution and what its task did. */
export interface StateTrace {
  kind: "state";
  name: string;
  /** `Task`, `Parallel`, `Map`, `Choice`, `Wait`, `Pass`, `Succeed`, `Fail`. */
  type: string;
  spanId: string;
  /** Epoch ms. */
  enteredAt: number;
  durationMs?: number;
  /** `caught`: it failed and a Catch sent the execution on. */
  status: "running" | "succeeded" | "failed" | "caught";
  error?: string;
  /** Times a Retry ran it again. */
  retries: number;
  /** The function invocations its task made (one per attempt). */
  invocations: InvocationTrace[];
  /** What it published (arn:aws:states:::sns:publish). */
  publishes: PublishTrace[];
  /** Calls of its task IAM refused (the state machine's role). */
  denials: DenialTrace[];
}

/** An HTTP request to a route. */
export interface RequestTrace {
  kind: "request";
  method: string;
  path: string;
  /** The matched route key. */
  routeKey: string;
  /** The response status; absent while running. */
  status?: number;
  durationMs?: number;
  /** What AWS would have done differently (an unsigned request to an IAM-authorized route). */
  note?: string;
  /** API Gateway's span for the request (the invocation's parent). */
  spanId?: string;
  invocation: InvocationTrace;
}

/** One publish to a topic. */
export interface PublishTrace {
  kind: "publish";
  time: number;
  /** Who published: a function's AWS name, or `local` (the admin endpoint). */
  publisher: string;
  topic: string;
  topicArn: string;
  /** From the CloudEvent, when the message is one. */
  eventType?: string;
  eventId?: string;
  correlationId: string;
  /** SNS message id. */
  messageId?: string;
  /** The publish's span and its parent's (the invocation that published, absent for a publish by hand). */
  spanId: string;
  parentSpanId?: string;
  /** `published`, `deduplicated` (FIFO), `rejected` (SNS refused it). */
  outcome: "published" | "deduplicated" | "rejected";
  error?: string;
  deliveries: DeliveryTrace[];
}

/** One message on its way to a queue and through the function that consumes it. */
export interface DeliveryTrace {
  kind: "delivery";
  /** The delivery's span (SNS calling SQS, under the publish's), absent for a message sent to the queue directly. */
  spanId?: string;
  queue: string;
  queueArn: string;
  /**
   * `filtered-out` (the subscription's filter policy did not match), `queued` (waiting for the poller), `in-flight`
   * (a handler has it), `retrying` (failed, back after the visibility timeout), `done` (deleted after success),
   * `dead-lettered`, `undeliverable` (SNS could not deliver; maybe to the subscription's DLQ), `expired`.
   */
  status: "filtered-out" | "queued" | "in-flight" | "retrying" | "done" | "dead-lettered" | "undeliverable" | "expired";
  /** Why: the filter's reason, the delivery error. */
  reason?: string;
  sqsMessageId?: string;
  /** Times received so far. */
  receives: number;
  /** The dead-letter queue it went to. */
  deadLetterQueue?: string;
  /**
   * A queue that nothing consumes by design (the failure queue): its message waits for a person, so the delivery
   * ends the path instead of keeping the trace in progress. Says where to look.
   */
  kept?: string;
  invocations: InvocationTrace[];
}

/** One invocation of a function. */
export interface InvocationTrace {
  kind: "invocation";
  /** The function's AWS name. */
  function: string;
  /** `<service>/<function>`. */
  label: string;
  /** `direct`: `stage.invoke` (its publishes still join their correlation's tree); `workflow`: a state's task. */
  trigger: "http" | "sqs" | "direct" | "workflow" | "stream";
  requestId: string;
  /** W3C-style trace id, the invocation's span, and its parent's (the HTTP request's, or a delivery's). */
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** The correlation id its request context carried in (an SQS batch: its first message's attribute). */
  correlationId?: string;
  status: "running" | "ok" | "partial" | "failed" | "timeout";
  /** The handler's run, init excluded. */
  durationMs?: number;
  /** Set on a cold start: the init phase (loading the bundle). */
  initDurationMs?: number;
  /** Messages in the batch (SQS). */
  messages?: number;
  /** Messages reported as batch item failures, or all of them when the invocation failed. */
  failedMessageIds?: string[];
  error?: string;
  /** ERROR lines the function logged (at most a few). */
  errorLogs: string[];
  writes: WriteTrace[];
  publishes: PublishTrace[];
  /** Requests IAM refused (SNS, SQS and DynamoDB). */
  denials: DenialTrace[];
  /** Workflow executions it started (Step Functions StartExecution). */
  executions?: ExecutionTrace[];
  /** SQL statements it ran through the RDS Data API (the relational part). */
  statements?: StatementTrace[];
}

/** One SQL statement a function ran through the local Data API. */
export interface StatementTrace {
  kind: "statement";
  /** The statement's first line. */
  sql: string;
  /** The database role it ran as (the secret's user). */
  role: string;
  /** Inside a Data API transaction (its id's first characters). */
  transaction?: string;
  at: number;
  durationMs: number;
  /** Rows returned (a query) or changed (an insert, update, delete). */
  rows: number;
  error?: string;
}

/** A DynamoDB write (or any refused DynamoDB call) through the IAM proxy. */
export interface WriteTrace {
  kind: "write";
  operation: string;
  table: string;
  /** Partition key values written (`dynamodb:LeadingKeys`). */
  keys: string[];
  allowed: boolean;
  /** The denial message when refused. */
  error?: string;
  /** How DynamoDB answered an allowed write: `ok`, or the error type (`ConditionalCheckFailedException`). */
  result?: string;
  /** Epoch ms when the proxy decided on it (the request had reached DynamoDB's door). */
  at: number;
  /** Epoch ms when the answer came back (allowed writes). */
  answeredAt?: number;
  /** The stream records it made (a table with a stream): the stream event source mappings' invocations hang under them. */
  streamRecords?: StreamRecordTrace[];
}

/** A DynamoDB stream record a write made, and what the stream's event source mappings did with it. */
export interface StreamRecordTrace {
  kind: "stream-record";
  table: string;
  /** `INSERT`, `MODIFY`, `REMOVE`. */
  eventName: string;
  eventId: string;
  sequenceNumber: string;
  /** The item's key values. */
  keys: string[];
  /** The record's span (its parent: the invocation that wrote). */
  spanId: string;
  parentSpanId?: string;
  /** Mappings that have not finished with it yet (in progress while above 0). */
  awaiting: number;
  /** What each mapping did: `processed`, `filtered-out` (no filter matched), `given-up` (to the on-failure destination), `given-up-unrecorded` (its on-failure record refused). */
  outcomes: string[];
  invocations: InvocationTrace[];
}

/** A request IAM refused. */
export interface DenialTrace {
  kind: "denial";
  /** Epoch ms. */
  at: number;
  action: string;
  resource: string;
  message: string;
}

/** How the recorder names things in trees. */
export interface TraceNames {
  queue(arn: string): string;
  topic(arn: string): string;
  /** `<service>/<function>` for a function's AWS name. */
  functionLabel(functionName: string): string;
  /** For a queue that nothing consumes by design (the failure queue): where its messages are looked at. */
  keptIn?(queueArn: string): string | undefined;
}

/** Options of a {@link TraceRecorder}. */
export interface TraceRecorderOptions {
  names: TraceNames;
  /** Called when a tree settles (and again when something later happens in it and it settles again). */
  onSettled?: (tree: TraceTree) => void;
  /**
   * Quiet time before a tree with nothing pending counts as settled.
   * @default 30
   */
  settleMs?: number;
  /**
   * Trees kept; the oldest are forgotten beyond this.
   * @default 5000
   */
  maxTrees?: number;
}

/** What a publish looked like when it was sent. */
export interface PublishFacts {
  topicArn: string;
  message: string;
  attributes?: Record<string, { StringValue?: string }>;
}

/** A DynamoDB request the IAM proxy decided on (see `DynamoDbProxyEvent`). */
export interface DynamoFacts {
  /** The proxy's request id (joins the answer to the decision). */
  requestId: string;
  operation: string;
  allowed: boolean;
  traceHeader?: string;
  authorizations: { action: string; table?: string; conditionKeys: Record<string, string | string[]> }[];
  denied?: { message: string };
}

/** DynamoDB operations that write: the trace shows them (and any refused request). */
export const WRITE_OPERATIONS: ReadonlySet<string> = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);
const MAX_ERROR_LOGS = 5;

interface Tree {
  correlationId: string;
  started: number;
  last: number;
  roots: (RequestTrace | PublishTrace | DeliveryTrace | ExecutionTrace)[];
  /** SNS and SQS message ids, publish spans and invocation spans registered for this tree (forgotten with it). */
  keys: { sns: string[]; sqs: string[]; spans: string[]; invocations: string[]; workflow?: string[] };
  /** Activity since the last settle report. */
  dirty: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

interface InvocationState {
  node: InvocationTrace;
  trees: Set<Tree>;
  request?: RequestTrace;
  started: number;
}

/** An execution and the trees it belongs to: its starting invocation's, or its own. */
interface ExecutionState {
  node: ExecutionTrace;
  trees: () => Set<Tree>;
}

/** What a workflow execution looks like when it starts (see `ExecutionRecord` in shared/local/stepfunctions). */
export interface ExecutionFacts {
  stateMachine: string;
  executionArn: string;
  name: string;
  startedBy: string;
  /** The execution's own span; its parent is the StartExecution call's. */
  context: RequestContext;
  /** The span of the StartExecution call's caller (the starting invocation), when it sent one. */
  callerSpanId?: string;
  /** For an execution no traced invocation started: the correlation id its input carries. */
  correlationId?: string;
}

/** Reads id, type and correlation id from a message body: a CloudEvent, raw or inside an SNS notification. */
export function envelopeHints(body: string): { id?: string; type?: string; correlationId?: string } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return {};
  }
  if (value !== null && typeof value === "object" && typeof (value as { Message?: unknown }).Message === "string" && (value as { Type?: unknown }).Type === "Notification") {
    return envelopeHints((value as { Message: string }).Message);
  }
  if (value === null || typeof value !== "object") return {};
  const record = value as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === "string" && (record[key] as string).length > 0 ? (record[key] as string) : undefined);
  const hints: { id?: string; type?: string; correlationId?: string } = {};
  const id = text("id");
  const type = text("type");
  const correlationId = text("correlationid");
  if (id) hints.id = id;
  if (type) hints.type = type;
  if (correlationId) hints.correlationId = correlationId;
  return hints;
}

/**
 * Collects the stage's events into trees by correlation id. The stage feeds it; `tree()` answers snapshots.
 *
 * @example
 * const recorder = new TraceRecorder({ names, onSettled: (tree) => console.log(renderTrace(tree)) });
 * sqs.addTraceListener((event) => recorder.messaging(event));
 */
export class TraceRecorder {
  private readonly names: TraceNames;
  private readonly onSettled: ((tree: TraceTree) => void) | undefined;
  private readonly settleMs: number;
  private readonly maxTrees: number;
  private readonly trees = new Map<string, Tree>();
  /**
   * The trees in the order they were made (the order they are forgotten in), read from `oldest` on. Not the Map's own
   * order: a Map keeps a deleted entry's slot until it is rebuilt, so taking its first entry after many evictions walks
   * every slot evicted before (about 10 µs per event once `maxTrees` is reached, on the stage's thread).
   */
  private readonly made: (Tree | undefined)[] = [];
  private oldest = 0;
  /** Publishes by SNS message id, and by span id. */
  private readonly publishes = new Map<string, { node: PublishTrace; tree: Tree }>();
  private readonly publishSpans = new Map<string, { node: PublishTrace; tree: Tree }>();
  private readonly deliveries = new Map<string, { node: DeliveryTrace; tree: Tree }>();
  /** Invocations by span id. */
  private readonly invocations = new Map<string, InvocationState>();
  private readonly byRequestId = new Map<string, InvocationState>();
  /** Workflow executions by ARN, and their states by span id. */
  private readonly executionNodes = new Map<string, ExecutionState>();
  private readonly stateSpans = new Map<string, { node: StateTrace; execution: ExecutionState }>();
  /** Allowed writes waiting for DynamoDB's answer, by the proxy's request id. */
  private readonly unanswered = new Map<string, { write: WriteTrace; state: InvocationState }>();
  /** Stream records of traced writes, by event id (the oldest forgotten beyond 50,000). */
  private readonly streamRecordNodes = new Map<string, { node: StreamRecordTrace; state: InvocationState; traceId: string; correlationId?: string }>();
  /** Live watchers (`watch`). */
  private readonly watchers = new Set<(tree: TraceTree) => void>();

  constructor(options: TraceRecorderOptions) {
    this.names = options.names;
    this.onSettled = options.onSettled;
    this.settleMs = options.settleMs ?? 30;
    this.maxTrees = options.maxTrees ?? 5000;
  }

  /** The correlation ids seen, oldest first. */
  correlationIds(): string[] {
    return [...this.trees.keys()];
  }

  /** A snapshot of one tree (plain data, safe to keep), or `undefined` when the id was never seen or was forgotten. */
  tree(correlationId: string): TraceTree | undefined {
    const tree = this.trees.get(correlationId);
    return tree ? this.snapshot(tree) : undefined;
  }

  /**
   * Calls `watcher` with a snapshot of a tree whenever something happened in it (once per quiet period, the
   * settle delay; settled or still in progress). Returns the function that stops it.
   */
  watch(watcher: (tree: TraceTree) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Stops the settle timers (the stage is stopping). */
  close(): void {
    for (const tree of this.trees.values()) if (tree.timer) clearTimeout(tree.timer);
  }

  private snapshot(tree: Tree): TraceTree {
    return {
      correlationId: tree.correlationId,
      startedAt: new Date(tree.started).toISOString(),
      durationMs: tree.last - tree.started,
      settled: !this.pending(tree),
      roots: structuredClone(tree.roots),
    };
  }

  private treeFor(correlationId: string): Tree {
    let tree = this.trees.get(correlationId);
    if (!tree) {
      const now = Date.now();
      tree = { correlationId, started: now, last: now, roots: [], keys: { sns: [], sqs: [], spans: [], invocations: [], workflow: [] }, dirty: false };
      this.trees.set(correlationId, tree);
      this.made.push(tree);
      this.evict();
    }
    return tree;
  }

  private evict(): void {
    while (this.trees.size > this.maxTrees) {
      const oldest = this.made[this.oldest]!;
      this.made[this.oldest++] = undefined;
      if (this.oldest >= 1024 && this.oldest * 2 >= this.made.length) {
        this.made.splice(0, this.oldest);
        this.oldest = 0;
      }
      this.trees.delete(oldest.correlationId);
      if (oldest.timer) clearTimeout(oldest.timer);
      oldest.timer = undefined;
      for (const id of oldest.keys.sns) this.publishes.delete(id);
      for (const id of oldest.keys.spans) this.publishSpans.delete(id);
      for (const id of oldest.keys.sqs) this.deliveries.delete(id);
      for (const key of oldest.keys.workflow ?? []) {
        this.executionNodes.delete(key);
        this.stateSpans.delete(key);
      }
      for (const span of oldest.keys.invocations) {
        const state = this.invocations.get(span);
        if (state) {
          state.trees.delete(oldest);
          if (state.trees.size === 0) {
            this.invocations.delete(span);
            this.byRequestId.delete(state.node.requestId);
          }
        }
      }
    }
  }

  /** Marks trees as changed and (re)arms their settle check. */
  private touch(trees: Iterable<Tree>): void {
    const now = Date.now();
    for (const tree of trees) {
      tree.last = now;
      tree.dirty = true;
      // A pending check is pushed back (one timer per tree, re-armed: an event touches its tree at every hop).
      if (tree.timer) tree.timer.refresh();
      else {
        tree.timer = setTimeout(() => this.check(tree), this.settleMs);
        tree.timer.unref?.();
      }
    }
  }

  private check(tree: Tree): void {
    tree.timer = undefined;
    // Something happened in it since the last check: watchers see it now, settled or not (the console's live view).
    if (this.watchers.size && this.trees.has(tree.correlationId)) {
      const snapshot = this.snapshot(tree);
      for (const watcher of this.watchers) {
        try {
          watcher(snapshot);
        } catch {
          // a failing watcher must not break the stage
        }
      }
    }
    if (!tree.dirty || this.pending(tree) || !this.trees.has(tree.correlationId)) return;
    tree.dirty = false;
    if (tree.roots.length === 0) return;
    try {
      this.onSettled?.(this.snapshot(tree));
    } catch {
      // a failing listener must not break the stage
    }
  }

  private pending(tree: Tree): boolean {
    const seen = new Set<object>();
    const invocationPending = (node: InvocationTrace): boolean => {
      if (seen.has(node)) return false;
      seen.add(node);
      // A write DynamoDB has not answered yet is still work in progress (unless its answer is long overdue).
      const unanswered = node.writes.some((w) => w.allowed && w.result === undefined && Date.now() - w.at < 10_000);
      // A stream record a mapping has not finished with (or whose invocation runs) is work in progress too.
      const streaming = node.writes.some((w) => w.streamRecords?.some((r) => r.awaiting > 0 || r.invocations.some(invocationPending)));
      return node.status === "running" || unanswered || streaming || node.publishes.some(publishPending) || (node.executions ?? []).some(executionPending);
    };
    const executionPending = (node: ExecutionTrace): boolean =>
      node.status === "RUNNING" || node.states.some((state) => state.invocations.some(invocationPending) || state.publishes.some(publishPending));
    const deliveryPending = (node: DeliveryTrace): boolean =>
      (node.status === "queued" && node.kept === undefined) || node.status === "in-flight" || node.invocations.some(invocationPending);
    const publishPending = (node: PublishTrace): boolean => node.deliveries.some(deliveryPending);
    return tree.roots.some((root) =>
      root.kind === "request"
        ? root.status === undefined || invocationPending(root.invocation)
        : root.kind === "publish"
          ? publishPending(root)
          : root.kind === "execution"
            ? executionPending(root)
            : deliveryPending(root),
    );
  }

  /**
   * Records a publish, whose span is `context`'s (its parent, the invocation that published), around the engine call
   * that makes it (`send`, which must pass `context` to the engine: the deliveries it reports name the publish's span
   * as their parent). Returns what `send` returns; rethrows what it throws (recorded as `rejected`).
   */
  publishing<T extends { MessageId: string }>(facts: PublishFacts, context: RequestContext, send: () => T): T {
    const hints = envelopeHints(facts.message);
    const attributeCorrelation = facts.attributes?.correlationid?.StringValue;
    const invocation = context.parentSpanId === undefined ? undefined : this.invocations.get(context.parentSpanId);
    const state = invocation || context.parentSpanId === undefined ? undefined : this.stateSpans.get(context.parentSpanId);
    const node: PublishTrace = {
      kind: "publish",
      time: Date.now(),
      spanId: context.spanId,
      ...(context.parentSpanId ? { parentSpanId: context.parentSpanId } : {}),
      publisher: context.principal,
      topic: this.names.topic(facts.topicArn),
      topicArn: facts.topicArn,
      ...(hints.type ? { eventType: hints.type } : {}),
      ...(hints.id ? { eventId: hints.id } : {}),
      correlationId: hints.correlationId ?? attributeCorrelation ?? "",
      outcome: "published",
      deliveries: [],
    };
    // A message without a correlation id gets a tree of its own, named after its SNS message id once known.
    const provisional = node.correlationId === "" ? `uncorrelated-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}` : node.correlationId;
    const tree = this.treeFor(provisional);
    if (invocation) {
      invocation.node.publishes.push(node);
      if (invocation.request && invocation.trees.size === 0) this.attachRequest(invocation, tree);
      if (!invocation.trees.has(tree)) tree.roots.push(node);
    } else if (state) {
      // A workflow's sns:publish task: under its state.
      state.node.publishes.push(node);
      if (!state.execution.trees().has(tree)) tree.roots.push(node);
    } else {
      tree.roots.push(node);
    }
    this.publishSpans.set(context.spanId, { node, tree });
    tree.keys.spans.push(context.spanId);
    try {
      const result = send();
      node.messageId = result.MessageId;
      if (node.correlationId === "") node.correlationId = provisional;
      this.publishes.set(result.MessageId, { node, tree });
      tree.keys.sns.push(result.MessageId);
      return result;
    } catch (error) {
      node.outcome = "rejected";
      node.error = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
      throw error;
    } finally {
      this.touch([tree, ...(invocation?.trees ?? []), ...(state?.execution.trees() ?? [])]);
    }
  }

  /** Takes every SNS, SQS and poller trace event. */
  messaging(event: MessagingTraceEvent): void {
    switch (event.kind) {
      case "sns.published": {
        const owner = event.context && this.publishSpans.get(event.context.spanId);
        if (owner) owner.node.messageId = event.messageId;
        break;
      }
      case "sns.deduplicated": {
        const owner = event.context && this.publishSpans.get(event.context.spanId);
        if (owner) owner.node.outcome = "deduplicated";
        break;
      }
      case "sns.filtered-out":
      case "sns.delivered":
      case "sns.delivery-failed": {
        // The delivery's span names the publish's as its parent.
        const owner = event.context?.parentSpanId !== undefined ? this.publishSpans.get(event.context.parentSpanId) : this.publishes.get(event.messageId);
        if (!owner) break;
        const queueArn = event.endpoint;
        const delivery: DeliveryTrace = {
          kind: "delivery",
          ...(event.context ? { spanId: event.context.spanId } : {}),
          queue: this.names.queue(queueArn),
          queueArn,
          status: "queued",
          receives: 0,
          invocations: [],
        };
        const kept = this.names.keptIn?.(queueArn);
        if (kept !== undefined) delivery.kept = kept;
        if (event.kind === "sns.filtered-out") {
          delivery.status = "filtered-out";
          delivery.reason = event.reason;
        } else if (event.kind === "sns.delivered") {
          delivery.sqsMessageId = event.sqsMessageId;
          this.deliveries.set(event.sqsMessageId, { node: delivery, tree: owner.tree });
          owner.tree.keys.sqs.push(event.sqsMessageId);
        } else {
          delivery.status = event.deadLetterQueueArn ? "dead-lettered" : "undeliverable";
          delivery.reason = event.error;
          if (event.deadLetterQueueArn) delivery.deadLetterQueue = this.names.queue(event.deadLetterQueueArn);
        }
        owner.node.deliveries.push(delivery);
        this.touch([owner.tree]);
        break;
      }
      case "sqs.received": {
        const found = this.deliveries.get(event.messageId);
        if (!found) break;
        found.node.status = "in-flight";
        found.node.receives = event.receiveCount;
        this.touch([found.tree]);
        break;
      }
      case "sqs.deleted": {
        const found = this.deliveries.get(event.messageId);
        if (!found) break;
        found.node.status = "done";
        this.touch([found.tree]);
        break;
      }
      case "sqs.moved-to-dlq": {
        const found = this.deliveries.get(event.messageId);
        if (!found) break;
        found.node.status = "dead-lettered";
        found.node.deadLetterQueue = this.names.queue(event.deadLetterQueueArn);
        this.touch([found.tree]);
        break;
      }
      case "sqs.expired": {
        const found = this.deliveries.get(event.messageId);
        if (!found) break;
        found.node.status = "expired";
        this.touch([found.tree]);
        break;
      }
      case "sqs.visibility-changed": {
        const found = this.deliveries.get(event.messageId);
        // The poller releases messages it gathered but did not invoke with (visibility 0 when stopping).
        if (found && event.visibilityTimeoutSeconds === 0 && found.node.status === "in-flight") found.node.status = "queued";
        break;
      }
      default:
        break;
    }
  }

  /**
   * An invocation begins. For SQS, `records` are the batch's messages (joined to their deliveries by message id);
   * for HTTP, `request` describes the request.
   */
  invocationStarted(details: {
    functionName: string;
    /** The invocation's own context: it runs with `traceHeaderOf(context)`, so its SDK calls name its span. */
    context: RequestContext;
    requestId: string;
    records?: { messageId: string; body: string; queueArn: string }[];
    request?: { method: string; path: string; routeKey: string; note?: string; spanId?: string };
    /** A stream mapping's batch: the event ids of its records (joined to the writes that made them). */
    streamRecords?: string[];
  }): InvocationTrace {
    const node: InvocationTrace = {
      kind: "invocation",
      function: details.functionName,
      label: this.names.functionLabel(details.functionName),
      trigger: details.request ? "http" : details.records ? "sqs" : "direct",
      requestId: details.requestId,
      traceId: details.context.traceId,
      spanId: details.context.spanId,
      ...(details.context.parentSpanId ? { parentSpanId: details.context.parentSpanId } : {}),
      ...(details.context.correlationId ? { correlationId: details.context.correlationId } : {}),
      status: "running",
      errorLogs: [],
      writes: [],
      publishes: [],
      denials: [],
    };
    const span = details.context.spanId;
    const state: InvocationState = { node, trees: new Set(), started: performance.now() };
    this.invocations.set(span, state);
    this.byRequestId.set(details.requestId, state);
    if (details.request) {
      state.request = { kind: "request", ...details.request, invocation: node };
    }
    const task = details.context.parentSpanId === undefined ? undefined : this.stateSpans.get(details.context.parentSpanId);
    if (task) {
      // A workflow state's task: the invocation belongs to its execution's trees.
      node.trigger = "workflow";
      task.node.invocations.push(node);
      for (const tree of task.execution.trees()) {
        state.trees.add(tree);
        tree.keys.invocations.push(span);
      }
      this.touch(state.trees);
    }
    if (details.streamRecords) {
      node.trigger = "stream";
      node.messages = details.streamRecords.length;
      const writers = new Set<InvocationState>();
      for (const eventId of details.streamRecords) {
        const found = this.streamRecordNodes.get(eventId);
        if (!found) continue;
        found.node.invocations.push(node);
        writers.add(found.state);
      }
      // The writer's trees (shared while they are not known yet: an HTTP request joins its tree when answered).
      if (writers.size === 1) state.trees = [...writers][0]!.trees;
      else for (const writer of writers) for (const tree of writer.trees) state.trees.add(tree);
      for (const tree of state.trees) tree.keys.invocations.push(span);
      this.touch(state.trees);
    }
    if (details.records) {
      node.messages = details.records.length;
      for (const record of details.records) {
        let found = this.deliveries.get(record.messageId);
        if (!found) {
          // Sent to the queue directly (not through a traced publish): a tree from its own correlation id.
          const hints = envelopeHints(record.body);
          const tree = this.treeFor(hints.correlationId ?? `message-${record.messageId}`);
          const delivery: DeliveryTrace = {
            kind: "delivery",
            queue: this.names.queue(record.queueArn),
            queueArn: record.queueArn,
            status: "in-flight",
            sqsMessageId: record.messageId,
            receives: 1,
            invocations: [],
          };
          tree.roots.push(delivery);
          tree.keys.sqs.push(record.messageId);
          found = { node: delivery, tree };
          this.deliveries.set(record.messageId, found);
        }
        found.node.invocations.push(node);
        state.trees.add(found.tree);
        found.tree.keys.invocations.push(span);
      }
      this.touch(state.trees);
    }
    return node;
  }

  private attachRequest(state: InvocationState, tree: Tree): void {
    if (!state.request) return;
    state.trees.add(tree);
    tree.keys.invocations.push(state.node.spanId);
    if (!tree.roots.includes(state.request)) tree.roots.push(state.request);
  }

  /** An invocation ended. `failedMessageIds` are the batch item failures (or the whole batch when it failed). */
  invocationFinished(
    node: InvocationTrace,
    outcome: { status: InvocationTrace["status"]; error?: string; failedMessageIds?: string[]; durationMs?: number; initDurationMs?: number },
  ): void {
    const state = this.byRequestId.get(node.requestId);
    node.status = outcome.status;
    if (outcome.initDurationMs !== undefined) node.initDurationMs = outcome.initDurationMs;
    node.durationMs = outcome.durationMs ?? (state ? performance.now() - state.started : undefined);
    if (outcome.error) node.error = outcome.error;
    if (outcome.failedMessageIds?.length) {
      node.failedMessageIds = outcome.failedMessageIds;
      for (const id of outcome.failedMessageIds) {
        const found = this.deliveries.get(id);
        if (found && found.node.status === "in-flight") found.node.status = "retrying";
      }
    }
    if (state) this.touch(state.trees);
  }

  /** An HTTP request was answered; its correlation id (response header, else request header) picks its tree. */
  requestFinished(node: InvocationTrace, answer: { status: number; correlationId?: string; durationMs: number }): void {
    const state = this.byRequestId.get(node.requestId);
    if (!state?.request) return;
    state.request.status = answer.status;
    state.request.durationMs = answer.durationMs;
    if (state.trees.size === 0) this.attachRequest(state, this.treeFor(answer.correlationId ?? `request-${node.requestId}`));
    this.touch(state.trees);
  }

  /** A DynamoDB request the IAM proxy decided on: writes (and refusals) join the invocation that made them. */
  dynamo(facts: DynamoFacts): void {
    if (!facts.allowed || WRITE_OPERATIONS.has(facts.operation)) {
      // The function's SDK sends its invocation's trace header: its Parent is the invocation's span.
      const state = this.invocations.get(parentSpanOf(facts.traceHeader) ?? "");
      if (!state) return;
      const tables = [...new Set(facts.authorizations.map((a) => a.table).filter((t): t is string => t !== undefined))];
      const keys = new Set<string>();
      for (const a of facts.authorizations) {
        const leading = a.conditionKeys["dynamodb:LeadingKeys"];
        for (const key of Array.isArray(leading) ? leading : leading === undefined ? [] : [leading]) keys.add(key);
      }
      const write: WriteTrace = {
        kind: "write",
        at: Date.now(),
        operation: facts.operation,
        table: tables.join(", "),
        keys: [...keys],
        allowed: facts.allowed,
        ...(facts.denied ? { error: facts.denied.message } : {}),
      };
      state.node.writes.push(write);
      if (facts.allowed) {
        this.unanswered.set(facts.requestId, { write, state });
        // An answer that never comes (the client went away) must not keep its write forever.
        if (this.unanswered.size > 10_000) this.unanswered.delete(this.unanswered.keys().next().value as string);
      }
      this.touch(state.trees);
    }
  }

  /**
   * A stream record a write made (`requestId`: the proxy's id of the write). A traced write gets the record under it,
   * with a span of its own; others are not traced.
   */
  streamRecorded(facts: { requestId?: string; table: string; record: { eventID: string; eventName: string; dynamodb: { Keys: Record<string, unknown>; SequenceNumber: string } } }): void {
    const found = facts.requestId === undefined ? undefined : this.unanswered.get(facts.requestId);
    if (!found) return;
    const keys = Object.values(facts.record.dynamodb.Keys).map((value) => String(Object.values(value as Record<string, unknown>)[0]));
    const node: StreamRecordTrace = {
      kind: "stream-record",
      table: facts.table,
      eventName: facts.record.eventName,
      eventId: facts.record.eventID,
      sequenceNumber: facts.record.dynamodb.SequenceNumber,
      keys,
      spanId: newSpanId(),
      parentSpanId: found.state.node.spanId,
      awaiting: 0,
      outcomes: [],
      invocations: [],
    };
    (found.write.streamRecords ??= []).push(node);
    this.streamRecordNodes.set(node.eventId, {
      node,
      state: found.state,
      traceId: found.state.node.traceId,
      ...(found.state.node.correlationId ? { correlationId: found.state.node.correlationId } : {}),
    });
    if (this.streamRecordNodes.size > 50_000) this.streamRecordNodes.delete(this.streamRecordNodes.keys().next().value as string);
    this.touch(found.state.trees);
  }

  /** How many stream mappings will read this record (it stays in progress until each finished with it). */
  streamRecordAwaited(eventId: string, mappings: number): void {
    const found = this.streamRecordNodes.get(eventId);
    if (found) found.node.awaiting += mappings;
  }

  /** A stream mapping finished with a record: `processed`, `filtered-out`, `given-up` or `given-up-unrecorded`. */
  streamRecordDone(eventId: string, outcome: string): void {
    const found = this.streamRecordNodes.get(eventId);
    if (!found) return;
    found.node.awaiting = Math.max(0, found.node.awaiting - 1);
    found.node.outcomes.push(outcome);
    this.touch(found.state.trees);
  }

  /** The request context of a traced stream record (its trace, its span, the writer's correlation id), to continue it. */
  streamRecordContext(eventId: string): RequestContext | undefined {
    const found = this.streamRecordNodes.get(eventId);
    if (!found) return undefined;
    return {
      principal: "dynamodb.amazonaws.com",
      traceId: found.traceId,
      spanId: found.node.spanId,
      ...(found.node.parentSpanId ? { parentSpanId: found.node.parentSpanId } : {}),
      ...(found.correlationId ? { correlationId: found.correlationId } : {}),
    };
  }

  /** DynamoDB answered a write the proxy let through. */
  dynamoAnswered(answer: { requestId: string; status: number; errorType?: string }): void {
    const found = this.unanswered.get(answer.requestId);
    if (!found) return;
    this.unanswered.delete(answer.requestId);
    found.write.result = answer.status === 200 ? "ok" : (answer.errorType ?? `HTTP ${answer.status}`);
    found.write.answeredAt = Date.now();
    this.touch(found.state.trees);
  }

  /** A statement of the local Data API: under the invocation whose span is the call's parent. */
  statement(context: RequestContext | undefined, facts: Omit<StatementTrace, "kind">): void {
    const state = this.invocations.get(context?.parentSpanId ?? "");
    if (!state) return;
    (state.node.statements ??= []).push({ kind: "statement", ...facts });
    this.touch(state.trees);
  }

  /** A request to the SNS or SQS endpoint that IAM refused; its context's parent span is the invocation that sent it. */
  denied(request: { action: string; resource: string; context?: RequestContext }, message: string): void {
    const task = this.stateSpans.get(request.context?.parentSpanId ?? "");
    if (task) {
      task.node.denials.push({ kind: "denial", at: Date.now(), action: request.action, resource: request.resource, message });
      this.touch(task.execution.trees());
      return;
    }
    const state = this.invocations.get(request.context?.parentSpanId ?? "");
    if (!state) return;
    state.node.denials.push({ kind: "denial", at: Date.now(), action: request.action, resource: request.resource, message });
    this.touch(state.trees);
  }

  /**
   * A workflow execution started: under the invocation that called StartExecution (its span is the call's parent),
   * or as a root of the tree of the correlation id its input carries.
   */
  executionStarted(facts: ExecutionFacts): ExecutionTrace {
    const node: ExecutionTrace = {
      kind: "execution",
      stateMachine: facts.stateMachine,
      executionArn: facts.executionArn,
      name: facts.name,
      startedBy: facts.startedBy,
      spanId: facts.context.spanId,
      ...(facts.context.parentSpanId ? { parentSpanId: facts.context.parentSpanId } : {}),
      status: "RUNNING",
      startedAt: Date.now(),
      states: [],
    };
    const invocation = facts.callerSpanId === undefined ? undefined : this.invocations.get(facts.callerSpanId);
    let execution: ExecutionState;
    if (invocation) {
      (invocation.node.executions ??= []).push(node);
      execution = { node, trees: () => invocation.trees };
    } else {
      const tree = this.treeFor(facts.correlationId ?? `execution-${facts.name}`);
      tree.roots.push(node);
      const own = new Set([tree]);
      execution = { node, trees: () => own };
    }
    this.executionNodes.set(facts.executionArn, execution);
    for (const tree of execution.trees()) tree.keys.workflow?.push(facts.executionArn);
    this.touch(execution.trees());
    return node;
  }

  /** A state of an execution was entered; its span is the parent of its task's calls. */
  stateEntered(executionArn: string, facts: { name: string; type: string; spanId: string; enteredAt: number }): StateTrace | undefined {
    const execution = this.executionNodes.get(executionArn);
    if (!execution) return undefined;
    const node: StateTrace = { kind: "state", ...facts, status: "running", retries: 0, invocations: [], publishes: [], denials: [] };
    execution.node.states.push(node);
    this.stateSpans.set(facts.spanId, { node, execution });
    for (const tree of execution.trees()) tree.keys.workflow?.push(facts.spanId);
    this.touch(execution.trees());
    return node;
  }

  /** A state's status changed (exited, failed, retried, caught). */
  stateChanged(spanId: string, facts: { status: StateTrace["status"]; error?: string; retries: number; exitedAt?: number }): void {
    const found = this.stateSpans.get(spanId);
    if (!found) return;
    found.node.status = facts.status;
    found.node.retries = facts.retries;
    if (facts.error !== undefined) found.node.error = facts.error;
    else delete found.node.error;
    if (facts.exitedAt !== undefined) found.node.durationMs = facts.exitedAt - found.node.enteredAt;
    this.touch(found.execution.trees());
  }

  /** An execution closed. */
  executionFinished(executionArn: string, facts: { status: ExecutionTrace["status"]; error?: string; durationMs: number }): void {
    const execution = this.executionNodes.get(executionArn);
    if (!execution) return;
    execution.node.status = facts.status;
    execution.node.durationMs = facts.durationMs;
    if (facts.error !== undefined) execution.node.error = facts.error;
    this.touch(execution.trees());
  }

  /** A line a function logged: ERROR lines join their invocation. */
  log(entry: { requestId: string | undefined; level: string | undefined; message: string }): void {
    if (!entry.requestId) return;
    const state = this.byRequestId.get(entry.requestId);
    if (!state || state.node.errorLogs.length >= MAX_ERROR_LOGS) return;
    let level = entry.level;
    let text = entry.message;
    if (entry.message.startsWith("{")) {
      try {
        const parsed = JSON.parse(entry.message) as { level?: unknown; message?: unknown; error?: { name?: string; message?: string } };
        if (typeof parsed.level === "string") level = parsed.level.toUpperCase();
        if (typeof parsed.message === "string") {
          text = parsed.message + (parsed.error?.message ? `: ${parsed.error.name ?? "Error"}: ${parsed.error.message}` : "");
        }
      } catch {
        // not JSON after all
      }
    }
    if (level !== "ERROR" && level !== "FATAL") return;
    state.node.errorLogs.push(text.length > 300 ? `${text.slice(0, 300)}…` : text);
  }
}

// Rendering ------------------------------------------------------------------------------------------------------

function ms(value: number | undefined): string {
  return value === undefined ? "" : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function shortId(id: string | undefined): string {
  return id ? (id.length > 13 ? `${id.slice(0, 8)}…` : id) : "?";
}

function describeInvocation(node: InvocationTrace): string {
  const took = (node.durationMs === undefined ? "" : ` in ${ms(node.durationMs)}`) + (node.initDurationMs === undefined ? "" : ` after a ${ms(node.initDurationMs)} cold start`);
  const batch = (node.trigger === "sqs" || node.trigger === "stream") && node.messages !== undefined ? ` (batch of ${node.messages})` : "";
  switch (node.status) {
    case "running":
      return `${node.label} is running${batch}`;
    case "ok":
      return `${node.label} handled it${took}${batch}`;
    case "partial":
      return `${node.label} reported ${node.failedMessageIds?.length ?? 0} of ${node.messages ?? "?"} messages failed${took}`;
    case "timeout":
      return `${node.label} timed out${took}: ${node.error ?? ""}`;
    case "failed":
      return `${node.label} failed${took}: ${node.error ?? "error"}`;
  }
}

function describeDelivery(node: DeliveryTrace): string {
  switch (node.status) {
    case "filtered-out":
      return `not delivered to ${node.queue}: the filter policy did not match (${node.reason ?? ""})`;
    case "queued":
      return node.kept !== undefined ? `kept in ${node.queue}: ${node.kept}` : `delivered to ${node.queue}, waiting for its consumer`;
    case "in-flight":
      return `delivered to ${node.queue}, being handled (receive ${node.receives})`;
    case "retrying":
      return `delivered to ${node.queue}; failed on receive ${node.receives}, back after the visibility timeout`;
    case "done":
      return `delivered to ${node.queue}${node.receives > 1 ? ` (done on receive ${node.receives})` : ""}`;
    case "dead-lettered":
      return node.reason
        ? `could not be delivered to ${node.queue} (${node.reason}): moved to ${node.deadLetterQueue}`
        : `moved from ${node.queue} to the dead-letter queue ${node.deadLetterQueue} after ${node.receives} receives`;
    case "undeliverable":
      return `could not be delivered to ${node.queue}: ${node.reason ?? ""}`;
    case "expired":
      return `expired in ${node.queue} before anyone handled it`;
  }
}

function describePublish(node: PublishTrace): string {
  const what = node.eventType ? `${node.eventType} ${shortId(node.eventId)}` : `message ${shortId(node.messageId)}`;
  const by = node.publisher === "local" ? "published by hand" : "published";
  if (node.outcome === "rejected") return `${what} to ${node.topic} was refused by SNS: ${node.error ?? ""}`;
  if (node.outcome === "deduplicated") return `${what} to ${node.topic} was a duplicate (FIFO deduplication): dropped`;
  return `${by} ${what} to ${node.topic}`;
}

function describeExecution(node: ExecutionTrace): string {
  const head = `workflow ${node.stateMachine} execution ${shortId(node.name)}`;
  const took = node.durationMs === undefined ? "" : ` in ${ms(node.durationMs)}`;
  switch (node.status) {
    case "RUNNING":
      return `started ${head}, running`;
    case "SUCCEEDED":
      return `started ${head}: succeeded${took}`;
    default:
      return `started ${head}: ${node.status.toLowerCase().replace("_", " ")}${took}${node.error ? ` (${node.error.length > 200 ? `${node.error.slice(0, 200)}…` : node.error})` : ""}`;
  }
}

function describeState(node: StateTrace): string {
  const retried = node.retries ? `, retried ${node.retries} time${node.retries > 1 ? "s" : ""}` : "";
  const took = node.durationMs === undefined ? "" : ` in ${ms(node.durationMs)}`;
  const error = node.error ? `: ${node.error.length > 200 ? `${node.error.slice(0, 200)}…` : node.error}` : "";
  switch (node.status) {
    case "running":
      return `state ${node.name} (${node.type}) running${retried}`;
    case "succeeded":
      return `state ${node.name} (${node.type})${took}${retried}`;
    case "caught":
      return `state ${node.name} (${node.type}) failed${took}${retried}, caught${error}`;
    case "failed":
      return `state ${node.name} (${node.type}) failed${took}${retried}${error}`;
  }
}

/**
 * A tree in plain words, one line per step, indented under what caused it:
 *
 * ```
 * trace 3f1c… (settled, 14 ms)
 * └─ POST /orders → 201 from orders/create-order in 9.1 ms
 *    ├─ wrote PutItem on local-data ($orders#orderid_…)
 *    └─ published orders.order-placed 1b2c… to local-orders-order-placed
 *       └─ delivered to local-billing-on-order-placed
 *          └─ billing/on-order-placed handled it in 4.2 ms (batch of 1)
 * ```
 */
export function renderTrace(tree: TraceTree): string {
  const lines = [`trace ${tree.correlationId} (${tree.settled ? "settled" : "in progress"}, ${ms(tree.durationMs)})`];
  type Item = { text: string; children: Item[] };
  const invocationItem = (node: InvocationTrace, seen: Set<InvocationTrace>): Item => {
    if (seen.has(node)) return { text: `${node.label} (the same invocation as above)`, children: [] };
    seen.add(node);
    const children: Item[] = [];
    for (const line of node.errorLogs) children.push({ text: `logged error: ${line}`, children: [] });
    // What the invocation did, in the order it did it.
    const steps: { at: number; item: () => Item }[] = [];
    for (const write of node.writes) {
      const keys = write.keys.length ? ` (${write.keys.join(", ")})` : "";
      const text = !write.allowed
        ? `DENIED ${write.operation} on ${write.table}${keys}: ${write.error ?? ""}`
        : write.result === undefined || write.result === "ok"
          ? `wrote ${write.operation} on ${write.table}${keys}`
          : write.result === "ConditionalCheckFailedException"
            ? // The write's condition held it back: how locks, Idempotency-Key claims and create-once writes say "already there".
              `${write.operation} on ${write.table}${keys} not written: its condition did not hold (ConditionalCheckFailedException)`
            : `${write.operation} on ${write.table}${keys} failed: ${write.result}`;
      steps.push({ at: write.at, item: () => ({ text, children: (write.streamRecords ?? []).map((record) => streamRecordItem(record, seen)) }) });
    }
    for (const denial of node.denials) {
      steps.push({ at: denial.at, item: () => ({ text: `DENIED ${denial.action} on ${denial.resource}: ${denial.message}`, children: [] }) });
    }
    for (const publish of node.publishes) steps.push({ at: publish.time, item: () => publishItem(publish, seen) });
    for (const execution of node.executions ?? []) steps.push({ at: execution.startedAt, item: () => executionItem(execution, seen) });
    for (const statement of node.statements ?? []) {
      const where = statement.transaction ? ` [transaction ${statement.transaction}]` : "";
      const text = statement.error
        ? `SQL as ${statement.role} failed in ${ms(statement.durationMs)}: ${statement.sql}${where}: ${statement.error.split("\n")[0]}`
        : `SQL as ${statement.role} (${ms(statement.durationMs)}, ${statement.rows} row${statement.rows === 1 ? "" : "s"}): ${statement.sql}${where}`;
      steps.push({ at: statement.at, item: () => ({ text, children: [] }) });
    }
    steps.sort((a, b) => a.at - b.at);
    for (const step of steps) children.push(step.item());
    return { text: describeInvocation(node), children };
  };
  const executionItem = (node: ExecutionTrace, seen: Set<InvocationTrace>): Item => ({
    text: describeExecution(node),
    children: node.states.map((state) => {
      const steps: { at: number; item: () => Item }[] = [];
      for (const invocation of state.invocations) steps.push({ at: 0, item: () => invocationItem(invocation, seen) });
      for (const publish of state.publishes) steps.push({ at: publish.time, item: () => publishItem(publish, seen) });
      for (const denial of state.denials) steps.push({ at: denial.at, item: () => ({ text: `DENIED ${denial.action} on ${denial.resource}: ${denial.message}`, children: [] }) });
      steps.sort((a, b) => a.at - b.at);
      return { text: describeState(state), children: steps.map((step) => step.item()) };
    }),
  });
  const streamRecordItem = (node: StreamRecordTrace, seen: Set<InvocationTrace>): Item => {
    // Several mappings may read one stream, each filtering for its own records: say what is worth knowing.
    const givenUp = node.outcomes.filter((o) => o === "given-up").length;
    // Given up on, and its on-failure record refused (the role may not send it): nothing recorded it.
    const lost = node.outcomes.filter((o) => o === "given-up-unrecorded").length;
    const status =
      givenUp > 0
        ? ` (given up on by ${givenUp === 1 ? "a mapping" : `${givenUp} mappings`}: described to the on-failure destination)`
        : lost > 0
          ? ` (given up on by ${lost === 1 ? "a mapping" : `${lost} mappings`}: not recorded, its on-failure record was refused)`
          : node.awaiting === 0 && node.outcomes.length > 0 && node.outcomes.every((o) => o === "filtered-out")
          ? " (no mapping's filter matched it)"
          : "";
    return {
      text: `stream record ${node.eventName} on ${node.table} (${node.keys.join(", ")})${status}`,
      children: node.invocations.map((invocation) => invocationItem(invocation, seen)),
    };
  };
  const deliveryItem = (node: DeliveryTrace, seen: Set<InvocationTrace>): Item => ({
    text: describeDelivery(node),
    children: node.invocations.map((invocation) => invocationItem(invocation, seen)),
  });
  const publishItem = (node: PublishTrace, seen: Set<InvocationTrace>): Item => {
    const children = node.deliveries.map((delivery) => deliveryItem(delivery, seen));
    if (node.outcome === "published" && node.deliveries.length === 0) children.push({ text: "no subscription: nobody consumes it", children: [] });
    return { text: describePublish(node), children };
  };
  const seen = new Set<InvocationTrace>();
  const items: Item[] = tree.roots.map((root) => {
    if (root.kind === "publish") return publishItem(root, seen);
    if (root.kind === "execution") return executionItem(root, seen);
    if (root.kind === "delivery") return deliveryItem(root, seen);
    const status = root.status === undefined ? "running" : String(root.status);
    const invocation = invocationItem(root.invocation, seen);
    const failed = root.invocation.status === "failed" || root.invocation.status === "timeout" ? `: ${root.invocation.error ?? ""}` : "";
    return {
      text:
        `${root.method} ${root.path} → ${status} from ${root.invocation.label}` +
        `${root.durationMs === undefined ? "" : ` in ${ms(root.durationMs)}`}` +
        `${root.invocation.initDurationMs === undefined ? "" : ` (${ms(root.invocation.initDurationMs)} of it a cold start)`}${failed}` +
        `${root.note ? ` [${root.note}]` : ""}`,
      children: invocation.children,
    };
  });
  const walk = (list: Item[], prefix: string) => {
    list.forEach((item, index) => {
      const last = index === list.length - 1;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${item.text}`);
      walk(item.children, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(items, "");
  return lines.join("\n");
}

/** The kinds of steps along every path of a tree, root first (`request > invocation > publish > delivery ...`). */
export function tracePaths(tree: TraceTree): string[][] {
  const paths: string[][] = [];
  type Node = RequestTrace | PublishTrace | DeliveryTrace | InvocationTrace | WriteTrace | ExecutionTrace | StateTrace | StreamRecordTrace;
  const visit = (node: Node, path: string[]) => {
    const here = [...path, node.kind];
    const children: Node[] =
      node.kind === "request"
        ? [node.invocation]
        : node.kind === "publish"
          ? node.deliveries
          : node.kind === "delivery"
            ? node.invocations
            : node.kind === "invocation"
              ? [...node.writes, ...node.publishes, ...(node.executions ?? [])]
              : node.kind === "execution"
                ? node.states
                : node.kind === "state"
                  ? [...node.invocations, ...node.publishes]
                  : [];
    if (node.kind === "write") children.push(...(node.streamRecords ?? []));
    if (node.kind === "stream-record") children.push(...node.invocations);
    if (children.length === 0) paths.push(here);
    for (const child of children) visit(child, here);
  };
  for (const root of tree.roots) visit(root, []);
  return paths;
}
