import type { Context, KinesisStreamEvent, KinesisStreamRecord, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { EventType } from "../contract";
import { ENV } from "../contract/environment";
import { parseEvent, peekEnvelope, type ReceivedEvent } from "./envelope";
import {
  ConfigurationError,
  EventInProgressError,
  isNonRetryable,
  UnknownEventTypeError,
  type NonRetryableError,
} from "./errors";
import { newEventId } from "./event-id";
import { EventLock } from "./event-lock";
import { publishFailureEvent } from "./failure-event";
import { handlerName, readEnv, requireEnv } from "./function-environment";
import { prepareConsumer } from "./init";
import { runInScope, type InvocationScope } from "./invocation-scope";
import { isKinesisEvent, readKinesisRecord } from "./kinesis-record";
import { logger as rootLogger, type Logger } from "./logger";
import { readRecordMessage, type Delivery } from "./sqs-record";
import { newTraceparent, parseTraceparent, traceparentFromXRay } from "./trace-context";
import { groupBy, mapConcurrently } from "./collections";

/** What an action gets besides the event: the record it came in (`delivery` says which kind). */
export type ActionContext = {
  /** The logger (its lines carry the event's ids). */
  readonly logger: Logger;
  /**
   * How many times SQS has delivered this record (1 the first time); 1 for a stream record (Lambda does not say how
   * often it retried a stream batch).
   */
  readonly receiveCount: number;
  /** The Lambda context, when there is one. */
  readonly lambdaContext?: Context;
} & (
  | {
      /** How the message reached the queue. */
      readonly delivery: Delivery;
      /** The SQS record the event came in. */
      readonly record: SQSRecord;
    }
  | {
      /** A stream event (`ordering: "stream"`): a record of its Kinesis data stream. */
      readonly delivery: "kinesis";
      readonly record: KinesisStreamRecord;
      readonly partitionKey: string;
      readonly sequenceNumber: string;
    }
);

/** The action for one event type. Throw `BusinessRuleError` for a rule violation; anything else is retried. */
export type EventAction<T extends EventType> = (event: ReceivedEvent<T>, context: ActionContext) => Promise<void> | void;

/** Actions by event type: the types this consumer handles. */
export type ConsumerActions = { readonly [T in EventType]?: EventAction<T> };

export interface IdempotencyOptions {
  /**
   * How long a processed event is remembered (and its duplicates dropped).
   * @default 86400 (one day)
   */
  expiresAfterSeconds?: number;
  /**
   * How long the lock of an event in progress holds; after it, a crashed attempt's event can be processed again.
   * Keep it below the queue's visibility timeout.
   * @default the invocation's remaining time (so a lock outlives its holder only if the holder crashed), else 60
   */
  lockTimeoutSeconds?: number;
}

export interface ConsumeOptions {
  /**
   * The idempotency lock per event id (in `ENV.idempotencyTable`); `false` for actions that are idempotent by
   * themselves.
   * @default {}
   */
  idempotency?: IdempotencyOptions | false;
  /**
   * Records (standard queues) or message groups (FIFO queues) processed at the same time. Stream batches are
   * processed one record at a time, in order.
   * @default 10
   */
  maxConcurrency?: number;
}

/**
 * A Lambda handler for an event source mapping with `ReportBatchItemFailures`: an SQS queue, or a Kinesis data
 * stream (a stream event's consumer). Both answer `{ batchItemFailures: [{ itemIdentifier }] }`: SQS message ids, or
 * the sequence number of the stream record to resume at.
 */
export type SqsBatchHandler = (event: SQSEvent | KinesisStreamEvent, context?: Context) => Promise<SQSBatchResponse>;

/** How a record ended: the action ran, it was a duplicate, it became a failure event, or it is to be retried. */
export type RecordOutcome = "processed" | "duplicate" | "rejected" | "failed";

const DEFAULT_LOCK_SECONDS = 60;

/** See `newBatch` in `consume`. */
interface Batch {
  readonly inBatch: Map<string, Promise<RecordOutcome>>;
  readonly idPrefix: string;
  lock: EventLock | undefined;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function lockMilliseconds(options: IdempotencyOptions, context: Context | undefined): number {
  if (options.lockTimeoutSeconds !== undefined) return options.lockTimeoutSeconds * 1000;
  const remaining = context?.getRemainingTimeInMillis?.();
  return remaining !== undefined && remaining > 0 ? remaining : DEFAULT_LOCK_SECONDS * 1000;
}

/**
 * Turns actions into an SQS batch handler. For each record it unwraps the message (raw delivery or SNS envelope),
 * validates the event against the catalog, takes an idempotency lock keyed by the event id (a processed event is
 * not run again), runs the action with the event's correlation and trace context, and reports:
 * - retryable errors (any error but `NonRetryableError`s) as `batchItemFailures`, so SQS redelivers the record
 *   and, after maxReceiveCount, moves it to the dead-letter queue;
 * - non-retryable errors (invalid event, unknown type, `BusinessRuleError`) as a failure event on the platform
 *   failure topic, then acknowledges the record.
 * FIFO batches (records with a MessageGroupId) are processed in order per group; after a failure the rest of the
 * group is reported failed without being run, so order is kept.
 * Kinesis batches (a stream event's consumer: an event source mapping on its data stream) are read the same way
 * (each record's data, base64, is the event) one record at a time in sequence order; a retryable failure stops the
 * batch at that record and reports its sequence number, so Lambda resumes there and every partition key keeps its
 * order; non-retryable errors become failure events, as for queues.
 * @example
 * export const handler = consume({
 *   "orders.order-placed": async (event) => {
 *     await invoices().create({ orderId: event.data.orderId, total: event.data.total.amount }).go();
 *   },
 * });
 */
export function consume(actions: ConsumerActions, options: ConsumeOptions = {}): SqsBatchHandler {
  const idempotency = options.idempotency === false ? undefined : (options.idempotency ?? {});
  const maxConcurrency = options.maxConcurrency ?? 10;
  let lock: EventLock | undefined;
  // In a function, this runs in Lambda's init phase: the first event should not wait for clients and schemas.
  prepareConsumer(Object.keys(actions));

  function eventLock(): EventLock {
    const table = requireEnv(ENV.idempotencyTable, "the idempotency lock of consumers");
    if (lock?.table !== table) lock = new EventLock({ table, expiresAfterSeconds: idempotency?.expiresAfterSeconds });
    return lock;
  }

  /**
   * What the records of one invocation share, read once per batch (the function's environment does not change
   * inside an invocation): the outcomes of the events already started, by event id (a second copy of an event in
   * the same batch waits for the first instead of being sent back for a retry), the idempotency keys' prefix
   * (`<service>#<function>#`: the service first, as the idempotency grant's dynamodb:LeadingKeys limits each service
   * to its own keys) and the event lock, resolved at its first use.
   */
  function newBatch(): Batch {
    return { inBatch: new Map(), idPrefix: `${readEnv(ENV.service) ?? "unknown"}#${handlerName()}#`, lock: undefined };
  }

  function batchLock(batch: Batch): EventLock {
    batch.lock ??= eventLock();
    return batch.lock;
  }

  async function reject(scope: InvocationScope, message: string, error: NonRetryableError, log: Logger): Promise<RecordOutcome> {
    try {
      const failure = await publishFailureEvent({
        body: message,
        error,
        original: peekEnvelope(message),
        correlationId: scope.correlationId,
        traceparent: scope.traceparent,
      });
      log.warn("event rejected: failure event published", { reason: error.reason, error, failureEventId: failure.id });
      return "rejected";
    } catch (publishError) {
      log.error("event rejected, but the failure event could not be published: the record will be retried", {
        reason: error.reason,
        error,
        publishError,
      });
      return "failed";
    }
  }

  async function run(
    event: ReceivedEvent,
    message: string,
    actionContext: ActionContext,
    scope: InvocationScope & { idSeed: string },
    batch: Batch,
  ): Promise<RecordOutcome> {
    const log = actionContext.logger;
    const action = actions[event.type] as EventAction<EventType> | undefined;
    if (!action) {
      const error = new UnknownEventTypeError(event.type, `this consumer has no action for ${event.type}`);
      return reject(scope, message, error, log);
    }
    const key = scope.idSeed;
    let locked = false;
    try {
      if (idempotency) {
        const outcome = await batchLock(batch).acquire(key, lockMilliseconds(idempotency, actionContext.lambdaContext), event.id);
        if (outcome === "completed") {
          log.info("duplicate event skipped: already processed");
          return "duplicate";
        }
        locked = true;
      }
      await action(event, actionContext);
    } catch (error) {
      if (locked) {
        await batchLock(batch)
          .release(key)
          .catch((releaseError: unknown) => log.warn("could not release the idempotency lock; it will expire", { releaseError }));
      }
      if (isNonRetryable(error)) return reject(scope, message, error, log);
      if (error instanceof EventInProgressError) {
        log.warn("event in progress in another invocation: the record will be retried", { receiveCount: actionContext.receiveCount });
      } else {
        log.error("action failed: the record will be retried", { error, receiveCount: actionContext.receiveCount });
      }
      return "failed";
    }
    if (locked) {
      try {
        await batchLock(batch).complete(key);
      } catch (error) {
        // The action's effect happened: acknowledging is right. The lock expires, after which a late duplicate
        // would run again.
        log.error("action done, but the idempotency record could not be completed", { error });
      }
    }
    return "processed";
  }

  /** One SQS record. */
  function processRecord(record: SQSRecord, context: Context | undefined, batch: Batch): Promise<RecordOutcome> {
    const { message, json, delivery } = readRecordMessage(record);
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    return processMessage(
      { message, json, xrayHeader: record.attributes?.AWSTraceHeader, logFields: { messageId: record.messageId }, record: { delivery, record, receiveCount } },
      context,
      batch,
    );
  }

  /** One Kinesis record: its data is the event (base64 in the Lambda event). */
  function processStreamRecord(record: KinesisStreamRecord, context: Context | undefined, batch: Batch): Promise<RecordOutcome> {
    const read = readKinesisRecord(record);
    return processMessage(
      {
        message: read.message,
        json: read.json,
        logFields: { sequenceNumber: read.sequenceNumber, partitionKey: read.partitionKey, shardId: read.shardId },
        record: { delivery: "kinesis", record, receiveCount: 1, partitionKey: read.partitionKey, sequenceNumber: read.sequenceNumber },
      },
      context,
      batch,
    );
  }

  /** One record's message, in a scope of its own. */
  async function processMessage(
    incoming: {
      message: string;
      json: unknown;
      xrayHeader?: string | undefined;
      logFields: Record<string, unknown>;
      record: DistributiveOmit<ActionContext, "logger" | "lambdaContext">;
    },
    context: Context | undefined,
    batch: Batch,
  ): Promise<RecordOutcome> {
    const started = Date.now();
    const { message, json } = incoming;
    const { delivery, receiveCount } = incoming.record;
    let event: ReceivedEvent | undefined;
    let parseError: unknown;
    try {
      event = parseEvent(json ?? message);
    } catch (error) {
      parseError = error;
    }
    const hints = event ?? peekEnvelope(json ?? message);
    const idSeed = event ? `${batch.idPrefix}${event.id}` : undefined;
    const scope: InvocationScope = {
      correlationId: hints.correlationid ?? newEventId(),
      traceparent:
        (parseTraceparent(hints.traceparent) && hints.traceparent) ||
        traceparentFromXRay(incoming.xrayHeader) ||
        traceparentFromXRay(process.env._X_AMZN_TRACE_ID) ||
        newTraceparent(),
      eventId: hints.id,
      eventType: hints.type,
      requestId: context?.awsRequestId,
      idSeed,
      sequence: new Map(),
    };
    return runInScope(scope, async () => {
      const log = rootLogger.child(incoming.logFields);
      let outcome: RecordOutcome;
      if (!event && isNonRetryable(parseError)) {
        outcome = await reject(scope, message, parseError, log);
      } else if (!event) {
        log.error("could not read the record", { error: parseError });
        outcome = "failed";
      } else {
        const first = batch.inBatch.get(event.id);
        if (first) {
          const earlier = await first;
          outcome = earlier === "failed" ? "failed" : "duplicate";
        } else {
          const actionContext = { ...incoming.record, logger: log, lambdaContext: context } as ActionContext;
          const running = run(event, message, actionContext, scope as InvocationScope & { idSeed: string }, batch);
          batch.inBatch.set(event.id, running);
          outcome = await running;
        }
      }
      log.info("record done", { outcome, delivery, receiveCount, durationMs: Date.now() - started });
      return outcome;
    });
  }

  /**
   * A Kinesis batch (one shard's records, in sequence order): one record at a time, in order. A record to retry ends
   * the batch there: its sequence number is the one failure reported, so Lambda checkpoints before it and resumes at
   * it, and the records after it are not run now (they come again after it), which keeps each partition key's order.
   * Duplicates (a redelivered batch, or a record put twice) are skipped by the idempotency lock.
   */
  async function processStream(records: readonly KinesisStreamRecord[], context: Context | undefined): Promise<SQSBatchResponse> {
    const batch = newBatch();
    for (const record of records) {
      if ((await processStreamRecord(record, context, batch)) === "failed") {
        return { batchItemFailures: [{ itemIdentifier: String(record.kinesis?.sequenceNumber ?? "") }] };
      }
    }
    return { batchItemFailures: [] };
  }

  return async (event, context) => {
    if (!event || !Array.isArray(event.Records)) throw new ConfigurationError("consume() expects an SQS event or a Kinesis event (Records[])");
    if (isKinesisEvent(event)) return processStream(event.Records, context);
    const failures = new Set<string>();
    const batch = newBatch();
    const records = (event as SQSEvent).Records;
    const groups = groupBy(
      records.filter((record) => record.attributes?.MessageGroupId !== undefined),
      (record) => record.attributes.MessageGroupId!,
    );
    if (groups.size === 0) {
      await mapConcurrently(records, maxConcurrency, async (record) => {
        if ((await processRecord(record, context, batch)) === "failed") failures.add(record.messageId);
      });
    } else {
      // FIFO: a failed record blocks the rest of its group, so the group's order holds on redelivery.
      const ungrouped = records.filter((r) => r.attributes?.MessageGroupId === undefined);
      const sequences = [...groups.values(), ...ungrouped.map((r) => [r])];
      await mapConcurrently(sequences, maxConcurrency, async (sequence) => {
        for (let i = 0; i < sequence.length; i++) {
          if ((await processRecord(sequence[i]!, context, batch)) === "failed") {
            for (const rest of sequence.slice(i)) failures.add(rest.messageId);
            return;
          }
        }
      });
    }
    // In the order SQS gave the records (tests and logs read better).
    const batchItemFailures: SQSBatchItemFailure[] = records
      .filter((r) => failures.has(r.messageId))
      .map((r) => ({ itemIdentifier: r.messageId }));
    return { batchItemFailures };
  };
}
