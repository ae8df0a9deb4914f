import { randomUUID } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { IDEMPOTENCY_TABLE_LAYOUT } from "../contract/tables";
import { dynamoDbClient, dynamoDbModule } from "./aws-clients";
import { EventInProgressError } from "./errors";

/**
 * Attribute names and status values of the idempotency table: the layout of Powertools' idempotency utility
 * (key `id`, TTL `expiration` in epoch seconds, `status`, `in_progress_expiration` in epoch milliseconds).
 */
export const IDEMPOTENCY_RECORD = {
  key: IDEMPOTENCY_TABLE_LAYOUT.keyAttribute,
  expiration: IDEMPOTENCY_TABLE_LAYOUT.ttlAttribute,
  status: "status",
  inProgressExpiration: "in_progress_expiration",
  /** A token per `acquire` call, so the call can tell its own write from another holder's (see `acquire`). */
  owner: "lock_owner",
  inProgress: "INPROGRESS",
  completed: "COMPLETED",
} as const;

export interface EventLockOptions {
  /** The idempotency table's name. */
  table: string;
  /**
   * How long a completed event is remembered (and duplicates dropped).
   * @default 86400 (one day: longer than any SQS retry of a live message)
   */
  expiresAfterSeconds?: number;
  /** The clock, in epoch milliseconds. @default Date.now */
  now?: () => number;
}

/** What `acquire` found: the lock is ours, or the event was already processed. */
export type LockOutcome = "acquired" | "completed";

/**
 * An INPROGRESS record held by `owner` until `now + lockMs`, remembered (TTL) for `expiresAfterSeconds`: the item an
 * event lock and an Idempotency-Key claim both start with.
 */
export function inProgressRecord(key: string, owner: string, now: number, lockMs: number, expiresAfterSeconds: number): Record<string, AttributeValue> {
  const R = IDEMPOTENCY_RECORD;
  return {
    [R.key]: { S: key },
    [R.status]: { S: R.inProgress },
    [R.expiration]: { N: String(Math.floor(now / 1000) + expiresAfterSeconds) },
    [R.inProgressExpiration]: { N: String(now + Math.max(1, Math.floor(lockMs))) },
    [R.owner]: { S: owner },
  };
}

/** A conditional write DynamoDB refused (with the item, when `ReturnValuesOnConditionCheckFailure` asked for it). */
export function isConditionFailure(error: unknown): error is { name: string; Item?: Record<string, AttributeValue> } {
  return (error as { name?: unknown } | null)?.name === "ConditionalCheckFailedException";
}

/**
 * An idempotency lock per event, built on DynamoDB conditional writes (one item per key):
 * - `acquire` writes an INPROGRESS item that expires after `lockMs`; it succeeds when there is no item, the item's
 *   TTL has passed, or an INPROGRESS item's lock has expired (its holder crashed);
 * - a COMPLETED item means the event was processed: `acquire` says "completed" and the action is skipped;
 * - a live INPROGRESS item held by someone else throws `EventInProgressError` (retryable); one that carries this
 *   call's own owner token is this call's write whose answer was lost (the SDK retried it), so the lock is ours;
 * - `complete` marks the item COMPLETED for `expiresAfterSeconds`; `release` deletes an INPROGRESS item so the
 *   event can be retried at once.
 */
export class EventLock {
  readonly table: string;
  readonly expiresAfterSeconds: number;
  private readonly now: () => number;

  constructor(options: EventLockOptions) {
    this.table = options.table;
    this.expiresAfterSeconds = options.expiresAfterSeconds ?? 86_400;
    this.now = options.now ?? Date.now;
  }

  /**
   * Takes the lock for `key` for `lockMs` milliseconds.
   * @param eventId for the error message only
   */
  async acquire(key: string, lockMs: number, eventId = key): Promise<LockOutcome> {
    const { PutItemCommand, GetItemCommand } = dynamoDbModule();
    const R = IDEMPOTENCY_RECORD;
    const now = this.now();
    const owner = randomUUID();
    try {
      await dynamoDbClient().send(
        new PutItemCommand({
          TableName: this.table,
          Item: inProgressRecord(key, owner, now, lockMs, this.expiresAfterSeconds),
          ConditionExpression:
            "attribute_not_exists(#id) OR #expiration < :nowSeconds OR " +
            "(#status = :inProgress AND attribute_exists(#lockExpiry) AND #lockExpiry < :nowMillis)",
          ExpressionAttributeNames: {
            "#id": R.key,
            "#expiration": R.expiration,
            "#status": R.status,
            "#lockExpiry": R.inProgressExpiration,
          },
          ExpressionAttributeValues: {
            ":nowSeconds": { N: String(Math.floor(now / 1000)) },
            ":nowMillis": { N: String(now) },
            ":inProgress": { S: R.inProgress },
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return "acquired";
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing =
        error.Item ??
        (await dynamoDbClient().send(new GetItemCommand({ TableName: this.table, Key: { [R.key]: { S: key } }, ConsistentRead: true })))
          .Item;
      if (existing?.[R.status]?.S === R.completed) return "completed";
      // Our own write, applied before its answer was lost; the SDK's retry then found it.
      if (existing?.[R.status]?.S === R.inProgress && existing[R.owner]?.S === owner) return "acquired";
      throw new EventInProgressError(eventId, { cause: error });
    }
  }

  /** Marks `key` as processed; duplicates are dropped until the record expires. */
  async complete(key: string): Promise<void> {
    const { PutItemCommand } = dynamoDbModule();
    const R = IDEMPOTENCY_RECORD;
    await dynamoDbClient().send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          [R.key]: { S: key },
          [R.status]: { S: R.completed },
          [R.expiration]: { N: String(Math.floor(this.now() / 1000) + this.expiresAfterSeconds) },
        },
      }),
    );
  }

  /** Deletes the lock of `key` if it is still in progress (a completed record is never deleted). */
  async release(key: string): Promise<void> {
    const { DeleteItemCommand } = dynamoDbModule();
    const R = IDEMPOTENCY_RECORD;
    try {
      await dynamoDbClient().send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { [R.key]: { S: key } },
          ConditionExpression: "#status = :inProgress",
          ExpressionAttributeNames: { "#status": R.status },
          ExpressionAttributeValues: { ":inProgress": { S: R.inProgress } },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
