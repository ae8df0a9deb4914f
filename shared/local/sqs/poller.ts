import { randomUUID } from "node:crypto";
import type { SQSEvent } from "aws-lambda";
import { buildSqsEvent } from "../lambda-events/sqs-event";
import type { SqsEngine } from "./engine";
import { ServiceError } from "./errors";
import type { Queue, ReceivedMessage } from "./queue";
import type { PollerTraceEvent, TraceListener } from "./trace";

/**
 * The function a poller invokes with each batch. Its return value is the function's response: with
 * `reportBatchItemFailures` it may be an `SQSBatchResponse` (`{ batchItemFailures: [{ itemIdentifier }] }`).
 */
export type SqsBatchHandler = (event: SQSEvent, context: PollerInvocationContext) => unknown;

/** What the poller tells the handler about the invocation. */
export interface PollerInvocationContext {
  /** A fresh id per invocation (Lambda's `awsRequestId`). */
  awsRequestId: string;
  functionName: string;
  /** Milliseconds left before the invocation counts as timed out. */
  getRemainingTimeInMillis(): number;
}

/** Settings of an event source mapping (SQS -> function), with Lambda's names, limits and defaults. */
export interface QueuePollerOptions {
  sqs: SqsEngine;
  /** The queue (name, URL or ARN). */
  queue: string;
  handler: SqsBatchHandler;
  /** Names the function in traces; default `function`. */
  functionName?: string;
  /** 1..10000 for standard queues, 1..10 for FIFO; default 10. */
  batchSize?: number;
  /** 0..300 s; default 0. Must be at least 1 when batchSize is above 10 (as Lambda requires). */
  maximumBatchingWindowInSeconds?: number;
  /** Concurrent invocations at most, 2..1000 (Lambda's ScalingConfig.MaximumConcurrency); default 5, Lambda's initial poller count. */
  maximumConcurrency?: number;
  /** The function timeout, 1..900 s; default 3 (Lambda's default). */
  functionTimeoutSeconds?: number;
  /** `FunctionResponseTypes: ["ReportBatchItemFailures"]`. */
  reportBatchItemFailures?: boolean;
  /** Long-poll length of each receive, 1..20 s; default 20 (what Lambda uses). */
  pollWaitSeconds?: number;
  /** Receives `poller.batch` and `poller.result` events. */
  onTrace?: TraceListener<PollerTraceEvent>;
}

type Outcome = { outcome: "success" | "partial"; failed: string[] } | { outcome: "failure" | "timeout"; error: string };

class InvocationTimeout extends Error {}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ServiceError("InvalidParameterValueException", `${name} must be an integer between ${min} and ${max}; got ${value}.`);
  }
  return value;
}

/**
 * Reads a handler's response the way Lambda does for ReportBatchItemFailures: null, undefined, `{}`, or an empty or
 * null `batchItemFailures` is full success; a list of failures with known message ids leaves those on the queue; any
 * other shape (not an object, `batchItemFailures` not a list, an item without a string `itemIdentifier`, an empty
 * or unknown id) fails the whole batch. Without ReportBatchItemFailures any response is success.
 */
export function interpretBatchResponse(
  response: unknown,
  messageIds: readonly string[],
  reportBatchItemFailures: boolean,
): { ok: true; failed: string[] } | { ok: false; reason: string } {
  if (!reportBatchItemFailures || response === null || response === undefined) return { ok: true, failed: [] };
  if (typeof response !== "object" || Array.isArray(response)) {
    return { ok: false, reason: "the function response is not a batch response object" };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { ok: true, failed: [] };
  if (!Array.isArray(failures)) return { ok: false, reason: "batchItemFailures is not a list" };
  const known = new Set(messageIds);
  const failed: string[] = [];
  for (const item of failures) {
    const id = item !== null && typeof item === "object" ? (item as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== "string" || id === "") return { ok: false, reason: "a batchItemFailures entry has no itemIdentifier" };
    if (!known.has(id)) return { ok: false, reason: `itemIdentifier "${id}" is not a message of this batch` };
    if (!failed.includes(id)) failed.push(id);
  }
  return { ok: true, failed };
}

/**
 * Imitates Lambda's SQS event source mapping: long-polls the queue, gathers batches (batch size, batching window),
 * invokes the handler with a real-shaped SQS event with at most `maximumConcurrency` invocations at once, deletes
 * what succeeded (all of it, or all but the reported `batchItemFailures`) and leaves the rest to reappear after the
 * visibility timeout. A throw, an invalid batch response or a timeout fails the whole batch. FIFO order holds
 * because the queue locks a message group while any of its messages is in flight. Can be stopped and restarted.
 */
export class QueuePoller {
  readonly functionName: string;
  private readonly sqs: SqsEngine;
  private readonly queueRef: string;
  private readonly handler: SqsBatchHandler;
  private readonly batchSize: number;
  private readonly windowMs: number;
  private readonly maximumConcurrency: number;
  private readonly timeoutMs: number;
  private readonly reportBatchItemFailures: boolean;
  private readonly pollWaitMs: number;
  private readonly onTrace: TraceListener<PollerTraceEvent> | undefined;
  private isRunning = false;
  private loopDone: Promise<void> = Promise.resolve();
  private abort?: AbortController;
  private readonly invocations = new Set<Promise<void>>();
  private slotWaiters: Array<() => void> = [];
  /** The error that stopped the poller (e.g. its queue was deleted), if any. */
  lastError?: Error;

  constructor(options: QueuePollerOptions) {
    this.sqs = options.sqs;
    this.queueRef = options.queue;
    this.handler = options.handler;
    this.functionName = options.functionName ?? "function";
    const fifo = this.sqs.queue(options.queue).fifo;
    this.batchSize = checkRange("BatchSize", options.batchSize ?? 10, 1, fifo ? 10 : 10_000);
    const window = checkRange("MaximumBatchingWindowInSeconds", options.maximumBatchingWindowInSeconds ?? 0, 0, 300);
    if (this.batchSize > 10 && window < 1) {
      throw new ServiceError(
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
      );
    }
    this.windowMs = window * 1000;
    this.maximumConcurrency = checkRange("MaximumConcurrency", options.maximumConcurrency ?? 5, 2, 1000);
    this.timeoutMs = checkRange("Timeout", options.functionTimeoutSeconds ?? 3, 1, 900) * 1000;
    this.reportBatchItemFailures = options.reportBatchItemFailures ?? false;
    this.pollWaitMs = checkRange("pollWaitSeconds", options.pollWaitSeconds ?? 20, 1, 20) * 1000;
    this.onTrace = options.onTrace;
  }

  /** True between {@link start} and {@link stop}. */
  get running(): boolean {
    return this.isRunning;
  }

  /** Invocations under way. */
  get inFlight(): number {
    return this.invocations.size;
  }

  /** Starts polling (no-op when running). */
  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    delete this.lastError;
    this.loopDone = this.loop();
  }

  /**
   * Stops polling: ends the pending long poll, makes messages gathered for a batch not yet invoked visible again,
   * and resolves once the invocations under way have finished (their results are still applied).
   */
  async stop(): Promise<void> {
    this.isRunning = false;
    this.abort?.abort();
    this.releaseSlotWaiters();
    await this.loopDone;
    await Promise.all([...this.invocations]);
  }

  private releaseSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private emit(event: PollerTraceEvent): void {
    this.onTrace?.(event);
  }

  private async loop(): Promise<void> {
    while (this.isRunning) {
      if (this.invocations.size >= this.maximumConcurrency) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      let queue: Queue;
      try {
        queue = this.sqs.queue(this.queueRef);
      } catch (error) {
        this.lastError = error as Error;
        this.isRunning = false;
        break;
      }
      const controller = new AbortController();
      this.abort = controller;
      const batch = await this.gather(queue, controller.signal);
      if (!this.isRunning) {
        this.release(queue, batch);
        break;
      }
      if (batch.length === 0) continue;
      const invocation = this.invoke(queue, batch).finally(() => {
        this.invocations.delete(invocation);
        this.releaseSlotWaiters();
      });
      this.invocations.add(invocation);
    }
  }

  /** One batch: a long poll for the first messages, then more until the batch is full or the window closes. */
  private async gather(queue: Queue, signal: AbortSignal): Promise<ReceivedMessage[]> {
    const batch = await queue.receiveWaiting({ MaxNumberOfMessages: Math.min(10, this.batchSize), signal }, this.pollWaitMs);
    if (batch.length === 0 || this.windowMs === 0) return batch;
    const clock = this.sqs.clock;
    const deadline = clock.now() + this.windowMs;
    while (batch.length < this.batchSize && !signal.aborted) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      const more = await queue.receiveWaiting(
        { MaxNumberOfMessages: Math.min(10, this.batchSize - batch.length), signal },
        remaining,
      );
      batch.push(...more);
    }
    return batch;
  }

  private release(queue: Queue, batch: ReceivedMessage[]): void {
    for (const message of batch) {
      try {
        queue.changeVisibility(message.ReceiptHandle, 0);
      } catch {
        // already gone or no longer in flight: nothing to release
      }
    }
  }

  private async invoke(queue: Queue, batch: ReceivedMessage[]): Promise<void> {
    const clock = this.sqs.clock;
    const started = clock.now();
    const messageIds = batch.map((message) => message.MessageId);
    const event = buildSqsEvent(batch, { queueArn: queue.arn, region: this.sqs.region });
    this.emit({ kind: "poller.batch", time: started, functionName: this.functionName, queueArn: queue.arn, messageIds });

    const result = await this.run(event, started);
    const failed = result.outcome === "success" || result.outcome === "partial" ? result.failed : messageIds;
    if (result.outcome === "success" || result.outcome === "partial") {
      for (const message of batch) {
        if (failed.includes(message.MessageId)) continue;
        try {
          queue.delete(message.ReceiptHandle);
        } catch {
          // the queue was deleted meanwhile
        }
      }
    }
    this.emit({
      kind: "poller.result",
      time: clock.now(),
      functionName: this.functionName,
      queueArn: queue.arn,
      outcome: result.outcome,
      messageIds,
      failedMessageIds: failed,
      durationMs: clock.now() - started,
      ...(result.outcome === "failure" || result.outcome === "timeout" ? { error: result.error } : {}),
    });
  }

  private async run(event: SQSEvent, started: number): Promise<Outcome> {
    const clock = this.sqs.clock;
    const context: PollerInvocationContext = {
      awsRequestId: randomUUID(),
      functionName: this.functionName,
      getRemainingTimeInMillis: () => Math.max(0, started + this.timeoutMs - clock.now()),
    };
    let timer: object | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimer(() => reject(new InvocationTimeout(`Task timed out after ${this.timeoutMs / 1000} seconds`)), this.timeoutMs);
    });
    const execution = Promise.resolve().then(() => this.handler(event, context));
    execution.catch(() => undefined); // a late rejection after a timeout is not unhandled
    try {
      const response = await Promise.race([execution, timeout]);
      const messageIds = event.Records.map((record) => record.messageId);
      const verdict = interpretBatchResponse(response, messageIds, this.reportBatchItemFailures);
      if (!verdict.ok) return { outcome: "failure", error: `Invalid batch response: ${verdict.reason}` };
      return verdict.failed.length > 0 ? { outcome: "partial", failed: verdict.failed } : { outcome: "success", failed: [] };
    } catch (error) {
      if (error instanceof InvocationTimeout) return { outcome: "timeout", error: error.message };
      return { outcome: "failure", error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    } finally {
      if (timer) clock.clearTimer(timer);
    }
  }
}
