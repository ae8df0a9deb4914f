import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { dynamoDbClient, dynamoDbModule } from "./aws-clients";
import { cryptoModule } from "./event-id";
import { IDEMPOTENCY_RECORD, inProgressRecord, isConditionFailure } from "./event-lock";

/**
 * Idempotency of HTTP commands: the `Idempotency-Key` request header of the IETF httpapi draft "The Idempotency-Key
 * HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header).
 *
 * Why it looks like this:
 * - One record per key in the platform's idempotency table (beside the consumers' event locks, same layout and TTL
 *   attribute), keyed `<service>#<route key>#<caller>#<Idempotency-Key>`: the service first, because the table's
 *   grant limits a function to `<service>#*` (dynamodb:LeadingKeys); the route, because one key names one operation;
 *   the caller (a hash of the IAM caller or the JWT's issuer and subject), because the draft's security section asks
 *   for a composite key, so one client cannot read another's stored response by guessing its key.
 * - The record holds a fingerprint of the request (method, path, query and body), its status (INPROGRESS with a lock
 *   expiry and an owner token, as the event lock has, or COMPLETED), the response once there is a final one, and a
 *   seed fixed at the first attempt. Ids the handler makes (`stableId`) and the ids of the events it publishes are
 *   derived from the seed, so a retry after a failure (a publish that failed, a crash) runs the handler again with
 *   the same ids: it writes the same item again and publishes the same event ids, which the consumers' locks then
 *   apply once. This is how consumers already make their actions retryable (events published while handling an
 *   event get ids derived from it); nothing is stored per event, and the record stays one small item.
 * - A response below 500 is final and replayed to every retry; a 500 (or any error) leaves the record INPROGRESS
 *   with its lock released, so the next retry with the same body runs the handler again (with the same seed).
 * - The seed is random, not derived from the key: after the record expires, a client that reuses the key starts a
 *   new operation with new ids instead of overwriting what the first one created.
 */

/** The request header (lowercase, as the HTTP handler sees headers). */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";

/** The response header set on a replayed response. */
export const IDEMPOTENT_REPLAYED_HEADER = "idempotent-replayed";

/**
 * Whether a route takes an `Idempotency-Key`: `"required"` (a request without one gets 400), `"optional"` (used
 * when sent; without one the route behaves as if it had none), `"off"` (the header is ignored).
 */
export type IdempotencyMode = "required" | "optional" | "off";

/** Accepted key syntax: 16 to 255 characters, enough for a UUID, a ULID or base64 of 12 random bytes and more. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._~+/=:-]{16,255}$/;

/** Attribute names of the request record, beyond the event lock's (`IDEMPOTENCY_RECORD`). */
export const REQUEST_RECORD = {
  fingerprint: "request_fingerprint",
  seed: "id_seed",
  response: "response",
} as const;

/**
 * Reads the header's value: an RFC 8941 sf-string (`"..."`, as the draft writes it) or the bare key (as most clients
 * send it). Returns the key, or a message saying what is wrong with it.
 */
export function parseIdempotencyKey(raw: string): { key: string } | { error: string } {
  let value = raw.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (IDEMPOTENCY_KEY_PATTERN.test(value)) return { key: value };
  if (/,/.test(value)) return { error: "send exactly one Idempotency-Key header" };
  const what = value.length < 16 || value.length > 255 ? `is ${value.length} characters long` : "contains other characters";
  return {
    error:
      `the Idempotency-Key ${what}: it must be 16 to 255 characters of A-Z a-z 0-9 . _ ~ + / = : - ` +
      '(a random UUID is best), optionally in double quotes',
  };
}

/** JSON with object keys sorted, so two serialisations of the same body give the same fingerprint. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The request's fingerprint: SHA-256 of the method, path, query string and body (parsed JSON in canonical form
 * when the route reads JSON, so key order and white space do not matter; the raw text otherwise).
 */
export function requestFingerprint(parts: { method: string; path: string; query: string; body: { json: unknown } | { text: string } }): string {
  const body = "json" in parts.body ? `json:${canonicalJson(parts.body.json)}` : `text:${parts.body.text}`;
  return cryptoModule()
    .createHash("sha256")
    .update([parts.method.toUpperCase(), parts.path, parts.query, body].join("\u0000"))
    .digest("hex");
}

/** A short hash of who is calling (empty for an anonymous caller), for the record key. */
export function callerScope(caller: string | undefined): string {
  if (!caller) return "-";
  return cryptoModule().createHash("sha256").update(caller).digest("hex").slice(0, 16);
}

/** A final response as stored in the record and replayed. */
export interface StoredResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** What `claim` found. */
export type Claim =
  /** The request is ours to run; ids derive from `seed`. */
  | { readonly kind: "acquired"; readonly seed: string; readonly owner: string; readonly retry: boolean }
  /** Done before: answer this. */
  | { readonly kind: "completed"; readonly response: StoredResponse }
  /** Another request with this key is running now. */
  | { readonly kind: "in-progress" }
  /** The key was used for a different request. */
  | { readonly kind: "mismatch" };

export interface RequestIdempotencyOptions {
  /** The idempotency table's name. */
  table: string;
  /**
   * How long a key is remembered after its first use (the draft asks servers to publish this).
   * @default 86400 (one day)
   */
  expiresAfterSeconds?: number;
  /** The clock, in epoch milliseconds. @default Date.now */
  now?: () => number;
}

/** The records of `Idempotency-Key` requests (see the module comment). */
export class RequestIdempotency {
  readonly table: string;
  readonly expiresAfterSeconds: number;
  private readonly now: () => number;

  constructor(options: RequestIdempotencyOptions) {
    this.table = options.table;
    this.expiresAfterSeconds = options.expiresAfterSeconds ?? 86_400;
    this.now = options.now ?? Date.now;
  }

  /**
   * Claims `key` for a request with `fingerprint` for `lockMs` milliseconds: a new record (new seed), or the
   * record of an earlier attempt whose lock is free (its seed); else what the record says.
   */
  async claim(key: string, fingerprint: string, lockMs: number): Promise<Claim> {
    const { PutItemCommand, UpdateItemCommand, GetItemCommand } = dynamoDbModule();
    const R = IDEMPOTENCY_RECORD;
    const Q = REQUEST_RECORD;
    const owner = cryptoModule().randomUUID();
    const read = async (error: { Item?: Record<string, AttributeValue> }) =>
      error.Item ??
      (await dynamoDbClient().send(new GetItemCommand({ TableName: this.table, Key: { [R.key]: { S: key } }, ConsistentRead: true }))).Item;

    const now = this.now();
    const seed = cryptoModule().randomUUID();
    let existing: Record<string, AttributeValue> | undefined;
    try {
      await dynamoDbClient().send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...inProgressRecord(key, owner, now, lockMs, this.expiresAfterSeconds),
            [Q.fingerprint]: { S: fingerprint },
            [Q.seed]: { S: seed },
          },
          // A record past its TTL is gone for us, even before DynamoDB deletes it.
          ConditionExpression: "attribute_not_exists(#id) OR #expiration < :nowSeconds",
          ExpressionAttributeNames: { "#id": R.key, "#expiration": R.expiration },
          ExpressionAttributeValues: { ":nowSeconds": { N: String(Math.floor(now / 1000)) } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { kind: "acquired", seed, owner, retry: false };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      existing = await read(error);
    }

    // Two rounds at most: the record changed between the put and the takeover (another retry took it first).
    for (let round = 0; round < 2; round++) {
      if (!existing) return { kind: "in-progress" };
      // Our own put, applied before its answer was lost; the SDK's retry then found it.
      if (existing[R.owner]?.S === owner && existing[R.status]?.S === R.inProgress) {
        return { kind: "acquired", seed: existing[Q.seed]?.S ?? seed, owner, retry: false };
      }
      if (existing[Q.fingerprint]?.S !== fingerprint) return { kind: "mismatch" };
      if (existing[R.status]?.S === R.completed) {
        const stored = existing[Q.response]?.S;
        if (stored) return { kind: "completed", response: JSON.parse(stored) as StoredResponse };
      }
      const lockExpiry = Number(existing[R.inProgressExpiration]?.N ?? 0);
      const at = this.now();
      if (lockExpiry >= at) return { kind: "in-progress" };
      // An earlier attempt failed or crashed: take its record over, keeping its seed.
      try {
        await dynamoDbClient().send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: { [R.key]: { S: key } },
            UpdateExpression: "SET #lockExpiry = :lockExpiry, #owner = :owner",
            ConditionExpression: "#status = :inProgress AND #fingerprint = :fingerprint AND #lockExpiry < :nowMillis",
            ExpressionAttributeNames: {
              "#lockExpiry": R.inProgressExpiration,
              "#owner": R.owner,
              "#status": R.status,
              "#fingerprint": Q.fingerprint,
            },
            ExpressionAttributeValues: {
              ":lockExpiry": { N: String(at + Math.max(1, Math.floor(lockMs))) },
              ":owner": { S: owner },
              ":inProgress": { S: R.inProgress },
              ":fingerprint": { S: fingerprint },
              ":nowMillis": { N: String(at) },
            },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { kind: "acquired", seed: existing[Q.seed]!.S!, owner, retry: true };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        existing = await read(error);
      }
    }
    return { kind: "in-progress" };
  }

  /** Stores the final response of `key` (only while `owner` holds it), to be replayed until the record expires. */
  async complete(key: string, owner: string, response: StoredResponse): Promise<void> {
    const { UpdateItemCommand } = dynamoDbModule();
    const R = IDEMPOTENCY_RECORD;
    await dynamoDbClient().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { [R.key]: { S: key } },
        UpdateExpression: "SET #status = :completed, #response = :response REMOVE #lockExpiry, #owner",
        // Or already completed: this write, applied before its answer was lost, then retried by the SDK (or a
        // takeover that ran the same request with the same ids). Never over another holder's lock.
        ConditionExpression: "#owner = :owner OR #status = :completed",
        ExpressionAttributeNames: {
          "#status": R.status,
          "#response": REQUEST_RECORD.response,
          "#lockExpiry": R.inProgressExpiration,
          "#owner": R.owner,
        },
        ExpressionAttributeValues: {
          ":completed": { S: R.completed },
          ":response": { S: JSON.stringify(response) },
          ":owner": { S: owner },
        },
      }),
    );
  }

  /**
   * Frees the lock of `key` after a failed attempt (only while `owner` holds it). The record, its fingerprint and
   * its seed stay, so the next retry runs with the same ids.
   */
  async release(key: string, owner: string): Promise<void> {
    const { UpdateItemCommand } = dynamoDbModule();
    const R = IDEMPOTENCY_RECORD;
    try {
      await dynamoDbClient().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { [R.key]: { S: key } },
          UpdateExpression: "SET #lockExpiry = :zero REMOVE #owner",
          ConditionExpression: "#owner = :owner AND #status = :inProgress",
          ExpressionAttributeNames: { "#lockExpiry": R.inProgressExpiration, "#owner": R.owner, "#status": R.status },
          ExpressionAttributeValues: { ":zero": { N: "0" }, ":owner": { S: owner }, ":inProgress": { S: R.inProgress } },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
