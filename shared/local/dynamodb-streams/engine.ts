/**
 * The local DynamoDB's write engine, between the IAM proxy and dynalite: every item write passes through it.
 *
 * - Writes to one item are serialized (a lock per table and primary key), so what is read before a write and what
 *   the write leaves are consistent.
 * - For a table with a stream it learns each write's old and new item (PutItem and DeleteItem ask dynalite for
 *   `ALL_OLD`; UpdateItem reads the item first and asks for `ALL_NEW`; BatchWriteItem reads every item first) and
 *   hands the change to the {@link StreamRecorder}. The caller's answer is what it asked for: images it did not ask
 *   for are taken out again.
 * - `TransactWriteItems` (which dynalite lacks) runs here, atomically: see {@link WriteEngine.transactWriteItems}.
 */
import { itemIdentity, itemsEqual, keyOf, type Item, type PrimaryKey } from "./attribute-values";
import type { StreamRecorder } from "./recorder";
import { errorMessage, errorType, type DynamoAnswer, type DynamoTarget } from "./target";

/**
 * The operations the engine takes over; everything else goes to the target as it is. `GetItem` waits for the
 * item's lock, so it never sees a transaction half-applied (AWS documents GetItem as serializable with
 * TransactWriteItems).
 */
export const ENGINE_OPERATIONS: ReadonlySet<string> = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "GetItem"]);

/** AWS's limit on the items of one transaction. */
export const MAX_TRANSACTION_ITEMS = 100;
/** How long a `ClientRequestToken` makes a repeated `TransactWriteItems` a no-op (after the first completed). */
export const CLIENT_TOKEN_WINDOW_MS = 10 * 60 * 1000;

/** Options of {@link WriteEngine}. */
export interface WriteEngineOptions {
  /** dynalite (or any DynamoDB endpoint). */
  target: DynamoTarget;
  /** Where item changes of tables with a stream go. Without one, no table has a stream. */
  recorder?: StreamRecorder;
  /** Key schemas by table; tables not known here are described on the target (once). */
  keySchema?: (table: string) => PrimaryKey | undefined;
  /** The clock (epoch ms), for client request tokens. @default Date.now */
  now?: () => number;
}

const VALIDATION = "com.amazon.coral.validate#ValidationException";
const DYNAMODB = "com.amazonaws.dynamodb.v20120810#";

function validationError(message: string): DynamoAnswer {
  return { status: 400, body: { __type: VALIDATION, message } };
}

/**
 * `{ ...request, ...fields }`. V8 (Node 20) copies objects of varying shapes with a spread on a slow path (about 2 us
 * each, ten times Object.assign); a request with an own `__proto__` key (which Object.assign would make the copy's
 * prototype) is spread as before.
 */
function withFields(request: Record<string, unknown>, fields: Record<string, unknown>): Record<string, unknown> {
  return Object.hasOwn(request, "__proto__") ? { ...request, ...fields } : Object.assign({}, request, fields);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Serializes work on sets of keys: a task runs once every earlier task holding one of its keys has finished. */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    // Taken all at once, synchronously: tasks queue in arrival order per key, so no two can wait on each other.
    const before = unique.map((key) => this.tails.get(key)).filter((p): p is Promise<void> => p !== undefined);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    for (const key of unique) this.tails.set(key, mine);
    try {
      await Promise.all(before);
      return await task();
    } finally {
      release();
      for (const key of unique) if (this.tails.get(key) === mine) this.tails.delete(key);
    }
  }

  /** Keys with a task running or waiting (for tests). */
  get size(): number {
    return this.tails.size;
  }
}

/** The placeholders (`#name`, `:value`) an expression uses. */
function placeholders(expressions: readonly unknown[]): { names: Set<string>; values: Set<string> } {
  const names = new Set<string>();
  const values = new Set<string>();
  for (const expression of expressions) {
    if (typeof expression !== "string") continue;
    for (const match of expression.matchAll(/#[A-Za-z0-9_]+/g)) names.add(match[0]);
    for (const match of expression.matchAll(/:[A-Za-z0-9_]+/g)) values.add(match[0]);
  }
  return { names, values };
}

/** `ExpressionAttributeNames`/`Values` of `operation` narrowed to what `expressions` use (dynalite rejects unused ones). */
function expressionParts(operation: Record<string, unknown>, expressions: readonly unknown[]): Record<string, unknown> {
  const used = placeholders(expressions);
  const pick = (map: unknown, keep: Set<string>) => {
    if (!isObject(map)) return undefined;
    const out = Object.fromEntries(Object.entries(map).filter(([name]) => keep.has(name)));
    return Object.keys(out).length ? out : undefined;
  };
  const names = pick(operation.ExpressionAttributeNames, used.names);
  const values = pick(operation.ExpressionAttributeValues, used.values);
  return { ...(names ? { ExpressionAttributeNames: names } : {}), ...(values ? { ExpressionAttributeValues: values } : {}) };
}

type TransactKind = "ConditionCheck" | "Put" | "Delete" | "Update";
const TRANSACT_KINDS: readonly TransactKind[] = ["ConditionCheck", "Put", "Delete", "Update"];

interface TransactItem {
  kind: TransactKind;
  operation: Record<string, unknown>;
  table: string;
  key: Item;
  identity: string;
}

interface CancellationReason {
  Code: string;
  Message?: string;
  Item?: Item;
}

function cancelled(reasons: readonly CancellationReason[]): DynamoAnswer {
  const message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`;
  return {
    status: 400,
    body: { __type: `${DYNAMODB}TransactionCanceledException`, Message: message, CancellationReasons: reasons },
  };
}

/** Request fields that name the same transaction for a client request token (all but the token). */
function fingerprint(request: Record<string, unknown>): string {
  const stable = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(stable)
      : isObject(value)
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, stable(value[k])]))
      : value;
  const { ClientRequestToken: _token, ...rest } = request;
  return JSON.stringify(stable(rest));
}

interface TokenEntry {
  request: Record<string, unknown>;
  fingerprint?: string;
  done?: number;
  answer?: DynamoAnswer;
}

function fingerprintOf(entry: TokenEntry): string {
  entry.fingerprint ??= fingerprint(entry.request);
  return entry.fingerprint;
}

/** The write engine. */
export class WriteEngine {
  private readonly lock = new KeyLock();
  private readonly described = new Map<string, PrimaryKey>();
  /**
   * Client request tokens seen: the request (its fingerprint worked out only when the token comes again), when it
   * completed and its answer. Entries older than {@link CLIENT_TOKEN_WINDOW_MS} are dropped as new ones come.
   */
  private readonly tokens = new Map<string, TokenEntry>();
  private tokensSinceSweep = 0;
  private readonly now: () => number;

  constructor(private readonly options: WriteEngineOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Answers one request of an operation in {@link ENGINE_OPERATIONS}; other operations go to the target. `origin`
   * names the request (the IAM proxy's request id): the stream records it makes reach the recorder's listeners with it.
   */
  async handle(operation: string, request: unknown, origin?: string): Promise<DynamoAnswer> {
    if (!isObject(request)) return this.options.target(operation, request);
    switch (operation) {
      case "PutItem":
      case "DeleteItem":
      case "UpdateItem":
        return this.singleWrite(operation, request, origin);
      case "BatchWriteItem":
        return this.batchWrite(request, origin);
      case "TransactWriteItems":
        return this.transactWriteItems(request, origin);
      case "GetItem":
        return this.isolatedRead(request);
      default:
        return this.options.target(operation, request);
    }
  }

  /** Forgets a table's cached key schema (after it was deleted or recreated). */
  forget(table: string): void {
    this.described.delete(table);
  }

  private async schemaOf(table: string): Promise<PrimaryKey | undefined> {
    const stream = this.options.recorder?.stream(table);
    if (stream) return stream.key;
    const given = this.options.keySchema?.(table);
    if (given) return given;
    const cached = this.described.get(table);
    if (cached) return cached;
    const answer = await this.options.target("DescribeTable", { TableName: table });
    if (answer.status !== 200) return undefined;
    const elements = ((answer.body.Table as Record<string, unknown> | undefined)?.KeySchema ?? []) as { AttributeName: string; KeyType: string }[];
    const partitionKey = elements.find((e) => e.KeyType === "HASH")?.AttributeName;
    if (!partitionKey) return undefined;
    const sortKey = elements.find((e) => e.KeyType === "RANGE")?.AttributeName;
    const schema = sortKey ? { partitionKey, sortKey } : { partitionKey };
    this.described.set(table, schema);
    return schema;
  }

  private async getItem(table: string, key: Item): Promise<{ answer: DynamoAnswer; item?: Item }> {
    const answer = await this.options.target("GetItem", { TableName: table, Key: key, ConsistentRead: true });
    return { answer, ...(answer.status === 200 && isObject(answer.body.Item) ? { item: answer.body.Item as Item } : {}) };
  }

  private record(table: string, oldImage: Item | undefined, newImage: Item | undefined, origin: string | undefined): void {
    this.options.recorder?.append(
      { table, ...(oldImage ? { oldImage } : {}), ...(newImage ? { newImage } : {}) },
      !itemsEqual(oldImage, newImage),
      origin,
    );
  }

  private async singleWrite(operation: "PutItem" | "DeleteItem" | "UpdateItem", request: Record<string, unknown>, origin: string | undefined): Promise<DynamoAnswer> {
    const target = this.options.target;
    const table = typeof request.TableName === "string" ? request.TableName : undefined;
    const schema = table === undefined ? undefined : await this.schemaOf(table);
    const key = schema ? keyOf(operation === "PutItem" ? request.Item : request.Key, schema) : undefined;
    // A request without a usable key is malformed: dynalite answers it (and writes nothing).
    if (!table || !schema || !key) return target(operation, request);
    const streamed = this.options.recorder?.has(table) ?? false;
    return this.lock.run([itemIdentity(table, key, schema)], async () => {
      if (!streamed) return target(operation, request);
      const asked = request.ReturnValues ?? "NONE";
      if (operation === "PutItem" || operation === "DeleteItem") {
        // Anything else is invalid for these operations: dynalite says so.
        if (asked !== "NONE" && asked !== "ALL_OLD") return target(operation, request);
        const answer = await target(operation, withFields(request, { ReturnValues: "ALL_OLD" }));
        if (answer.status !== 200) return answer;
        const oldImage = isObject(answer.body.Attributes) ? (answer.body.Attributes as Item) : undefined;
        this.record(table, oldImage, operation === "PutItem" ? (request.Item as Item) : undefined, origin);
        if (asked !== "ALL_OLD") delete answer.body.Attributes;
        return answer;
      }
      const before = await this.getItem(table, key);
      if (before.answer.status !== 200) return before.answer;
      const answer = await target(operation, asked === "NONE" ? withFields(request, { ReturnValues: "ALL_NEW" }) : request);
      if (answer.status !== 200) return answer;
      let newImage: Item | undefined;
      if (asked === "NONE" || asked === "ALL_NEW") newImage = answer.body.Attributes as Item | undefined;
      else newImage = (await this.getItem(table, key)).item;
      this.record(table, before.item, newImage, origin);
      if (asked === "NONE") delete answer.body.Attributes;
      return answer;
    });
  }

  private async isolatedRead(request: Record<string, unknown>): Promise<DynamoAnswer> {
    const target = this.options.target;
    const table = typeof request.TableName === "string" ? request.TableName : undefined;
    const schema = table === undefined ? undefined : await this.schemaOf(table);
    const key = schema ? keyOf(request.Key, schema) : undefined;
    if (!table || !schema || !key) return target("GetItem", request);
    return this.lock.run([itemIdentity(table, key, schema)], () => target("GetItem", request));
  }

  private async batchWrite(request: Record<string, unknown>, origin: string | undefined): Promise<DynamoAnswer> {
    const target = this.options.target;
    const requestItems = request.RequestItems;
    if (!isObject(requestItems)) return target("BatchWriteItem", request);
    const writes: { table: string; key: Item; identity: string; put?: Item; streamed: boolean }[] = [];
    for (const [table, list] of Object.entries(requestItems)) {
      const schema = await this.schemaOf(table);
      if (!schema || !Array.isArray(list)) return target("BatchWriteItem", request);
      const streamed = this.options.recorder?.has(table) ?? false;
      for (const entry of list) {
        const put = isObject(entry) && isObject(entry.PutRequest) ? entry.PutRequest.Item : undefined;
        const deleted = isObject(entry) && isObject(entry.DeleteRequest) ? entry.DeleteRequest.Key : undefined;
        const key = keyOf(put ?? deleted, schema);
        if (!key) return target("BatchWriteItem", request);
        writes.push({ table, key, identity: itemIdentity(table, key, schema), ...(put ? { put: put as Item } : {}), streamed });
      }
    }
    return this.lock.run(
      writes.map((w) => w.identity),
      async () => {
        const before = new Map<string, Item | undefined>();
        for (const write of writes) {
          if (!write.streamed || before.has(write.identity)) continue;
          const read = await this.getItem(write.table, write.key);
          if (read.answer.status !== 200) return read.answer;
          before.set(write.identity, read.item);
        }
        const answer = await target("BatchWriteItem", request);
        if (answer.status !== 200) return answer;
        const unprocessed = new Set<string>();
        if (isObject(answer.body.UnprocessedItems)) {
          for (const [table, list] of Object.entries(answer.body.UnprocessedItems)) {
            const schema = await this.schemaOf(table);
            for (const entry of Array.isArray(list) ? list : []) {
              const item = isObject(entry) ? ((entry.PutRequest as Record<string, unknown>)?.Item ?? (entry.DeleteRequest as Record<string, unknown>)?.Key) : undefined;
              const key = schema ? keyOf(item, schema) : undefined;
              if (key && schema) unprocessed.add(itemIdentity(table, key, schema));
            }
          }
        }
        for (const write of writes) {
          if (write.streamed && !unprocessed.has(write.identity)) this.record(write.table, before.get(write.identity), write.put, origin);
        }
        return answer;
      },
    );
  }

  /**
   * `TransactWriteItems`, atomically on top of dynalite:
   *
   * 1. AWS's request checks: 1 to 100 items, each exactly one of ConditionCheck/Put/Delete/Update, no two on one
   *    item, the client request token (a repeat within 10 minutes of a completed one answers as it did; another
   *    request under the same token is `IdempotentParameterMismatchException`; one still running is
   *    `TransactionInProgressException`).
   * 2. Each item's own request is validated by dynalite itself without writing anything: it is sent with its
   *    condition ANDed with a contradiction, so dynalite parses and checks every expression and key, then refuses on
   *    the condition. A `ValidationException` there is the whole request's answer, as in AWS.
   * 3. Under the lock of every item: each item is read, and each condition evaluated by dynalite against that item
   *    with a write that changes nothing (the item put back as it is, or a delete of the absent item). Any failed
   *    condition cancels the transaction with one reason per item (`None` or `ConditionalCheckFailed`, with the item
   *    when `ReturnValuesOnConditionCheckFailure` is `ALL_OLD`), nothing written.
   * 4. The writes are applied in order, without their (already checked) conditions. Should one fail (a
   *    data-dependent error such as an operand of the wrong type), those applied are undone by writing back the
   *    items read in step 3, and the transaction is cancelled with `ValidationError` for that item.
   * 5. Stream records of the changed items are appended, in item order.
   *
   * Before all that, a transaction of Puts, Deletes and Updates under a new token is tried in one pass (see
   * {@link WriteEngine.applyInOnePass}): when every write succeeds, the checks above would have passed too; when
   * one does not, it is undone and the steps above run.
   *
   * Other writes through the engine to the same items wait for the lock, so nothing sees a half-applied transaction.
   */
  async transactWriteItems(request: Record<string, unknown>, origin?: string): Promise<DynamoAnswer> {
    const target = this.options.target;
    const list = request.TransactItems;
    if (list === undefined || list === null) {
      return validationError("1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null");
    }
    if (!Array.isArray(list)) return validationError("Start of structure or map found where not expected.");
    if (list.length === 0) {
      return validationError("1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1");
    }
    if (list.length > MAX_TRANSACTION_ITEMS) {
      return validationError(`1 validation error detected at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TRANSACTION_ITEMS}`);
    }
    const token = request.ClientRequestToken;
    if (token !== undefined && (typeof token !== "string" || token.length < 1 || token.length > 36)) {
      return validationError(`1 validation error detected: Value '${String(token)}' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36`);
    }

    // Each item: one operation, its table and key.
    const items: TransactItem[] = [];
    for (const [index, entry] of list.entries()) {
      const kinds = isObject(entry) ? TRANSACT_KINDS.filter((kind) => entry[kind] !== undefined) : [];
      if (kinds.length !== 1) return validationError("TransactItems can only contain one of Check, Put, Update or Delete");
      const kind = kinds[0]!;
      const operation = (entry as Record<string, unknown>)[kind];
      if (!isObject(operation) || typeof operation.TableName !== "string") {
        return validationError(`1 validation error detected: Value null at 'transactItems.${index + 1}.member.${kind[0]!.toLowerCase()}${kind.slice(1)}.tableName' failed to satisfy constraint: Member must not be null`);
      }
      if (kind === "ConditionCheck" && typeof operation.ConditionExpression !== "string") {
        return validationError(`1 validation error detected: Value null at 'transactItems.${index + 1}.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null`);
      }
      if (kind === "Update" && typeof operation.UpdateExpression !== "string") {
        return validationError(`1 validation error detected: Value null at 'transactItems.${index + 1}.member.update.updateExpression' failed to satisfy constraint: Member must not be null`);
      }
      const table = operation.TableName;
      const schema = await this.schemaOf(table);
      if (!schema) return { status: 400, body: { __type: `${DYNAMODB}ResourceNotFoundException`, message: "Requested resource not found" } };
      const key = keyOf(kind === "Put" ? operation.Item : operation.Key, schema);
      // A missing or malformed key: dynalite's validation below names it.
      items.push({ kind, operation, table, key: key ?? {}, identity: key ? itemIdentity(table, key, schema) : `invalid#${index}` });
    }
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item.identity)) return validationError("Transaction request cannot include multiple operations on one item");
      seen.add(item.identity);
    }

    // The common case first: every item a Put, Delete or Update with a valid key, under a token not seen before.
    let ownToken = false;
    if (items.every((item) => item.kind !== "ConditionCheck" && !item.identity.startsWith("invalid#"))) {
      if (typeof token === "string") this.sweepTokens();
      if (typeof token !== "string" || !this.tokens.has(token)) {
        if (typeof token === "string") {
          this.tokens.set(token, { request });
          ownToken = true;
        }
        let applied: DynamoAnswer | undefined;
        try {
          applied = await this.lock.run(
            items.map((i) => i.identity),
            () => this.applyInOnePass(items, origin),
          );
        } catch (error) {
          if (typeof token === "string") this.tokens.delete(token);
          throw error;
        }
        if (applied) {
          if (typeof token === "string") this.tokens.set(token, { request, done: this.now(), answer: applied });
          return applied;
        }
        // Undone, nothing changed: the full path below gives AWS's answer (its token entry is still this request's).
      }
    }

    // Static validation by dynalite, writing nothing.
    for (const item of items) {
      const answer = await target(...this.probe(item));
      const type = errorType(answer);
      if (type === "ConditionalCheckFailedException") continue;
      if (ownToken) this.tokens.delete(token as string);
      if (answer.status === 200) {
        return { status: 500, body: { __type: "com.amazon.coral.service#InternalFailure", message: "local write engine: a validation probe was applied" } };
      }
      return answer;
    }

    // The client request token.
    if (typeof token === "string" && !ownToken) {
      const known = this.tokens.get(token);
      if (known?.done !== undefined && this.now() - known.done > CLIENT_TOKEN_WINDOW_MS) this.tokens.delete(token);
      const current = this.tokens.get(token);
      if (current) {
        if (fingerprintOf(current) !== fingerprint(request)) {
          return { status: 400, body: { __type: `${DYNAMODB}IdempotentParameterMismatchException`, Message: "Error: Request parameters don't match those of the idempotency token" } };
        }
        if (current.done === undefined) {
          return { status: 400, body: { __type: `${DYNAMODB}TransactionInProgressException`, Message: "Transaction with the given request token is already in progress" } };
        }
        return { status: 200, body: structuredClone(current.answer!.body) };
      }
      this.tokens.set(token, { request });
    }

    let answer: DynamoAnswer;
    try {
      answer = await this.lock.run(
        items.map((i) => i.identity),
        () => this.applyTransaction(items, origin),
      );
    } catch (error) {
      if (typeof token === "string") this.tokens.delete(token);
      throw error;
    }
    if (typeof token === "string") {
      if (answer.status === 200) this.tokens.set(token, { request, done: this.now(), answer });
      else this.tokens.delete(token);
    }
    return answer;
  }

  /** Drops tokens completed more than {@link CLIENT_TOKEN_WINDOW_MS} ago (oldest first; every 100 new tokens). */
  private sweepTokens(): void {
    if (++this.tokensSinceSweep < 100) return;
    this.tokensSinceSweep = 0;
    const now = this.now();
    for (const [token, entry] of this.tokens) {
      if (entry.done === undefined) continue;
      if (now - entry.done <= CLIENT_TOKEN_WINDOW_MS) break;
      this.tokens.delete(token);
    }
  }

  /**
   * The transaction in one pass, under the lock of every item (no ConditionCheck, every key valid): each write is
   * sent as its item's own request (the fields the validation probe sends, its condition as given), Put and Delete
   * returning the item they replaced, an Update's item read first. When every write succeeds the transaction is
   * done, with the answer and stream records the full path gives. When one is refused (a condition, a validation
   * error, anything) the writes before it are undone and the answer is `undefined`: the caller runs the full path,
   * which checks every item before writing and so answers as AWS does (a ValidationException before any
   * cancellation, a reason for every item). A few requests per item instead of the full path's three or four.
   */
  private async applyInOnePass(items: readonly TransactItem[], origin: string | undefined): Promise<DynamoAnswer | undefined> {
    const target = this.options.target;
    const before: (Item | undefined)[] = [];
    const after: (Item | undefined)[] = [];
    for (const [index, item] of items.entries()) {
      const { operation } = item;
      // Built field by field, not spread (see withFields).
      const common: Record<string, unknown> = { TableName: operation.TableName };
      if (operation.ConditionExpression !== undefined) common.ConditionExpression = operation.ConditionExpression;
      if (operation.ExpressionAttributeNames !== undefined) common.ExpressionAttributeNames = operation.ExpressionAttributeNames;
      if (operation.ExpressionAttributeValues !== undefined) common.ExpressionAttributeValues = operation.ExpressionAttributeValues;
      let answer: DynamoAnswer;
      if (item.kind === "Update") {
        const read = await this.getItem(item.table, item.key);
        if (read.answer.status !== 200) {
          await this.undo(items.slice(0, index), before);
          return undefined;
        }
        before.push(read.item);
        common.Key = operation.Key;
        common.UpdateExpression = operation.UpdateExpression;
        common.ReturnValues = "ALL_NEW";
        answer = await target("UpdateItem", common);
        if (answer.status === 200) after.push(answer.body.Attributes as Item | undefined);
        else before.pop();
      } else {
        const put = item.kind === "Put";
        if (put) common.Item = operation.Item;
        else common.Key = operation.Key;
        common.ReturnValues = "ALL_OLD";
        answer = await target(put ? "PutItem" : "DeleteItem", common);
        if (answer.status === 200) {
          before.push(isObject(answer.body.Attributes) ? (answer.body.Attributes as Item) : undefined);
          after.push(put ? (operation.Item as Item) : undefined);
        }
      }
      if (answer.status !== 200) {
        await this.undo(items.slice(0, index), before);
        return undefined;
      }
    }
    for (const [index, item] of items.entries()) {
      if (this.options.recorder?.has(item.table)) this.record(item.table, before[index], after[index], origin);
    }
    return { status: 200, body: {} };
  }

  /** The item's own request with a condition that cannot hold: dynalite validates it and writes nothing. */
  private probe(item: TransactItem): [string, Record<string, unknown>] {
    const { operation } = item;
    const never = "(attribute_exists(#localTransactionProbe) AND attribute_not_exists(#localTransactionProbe))";
    const condition = typeof operation.ConditionExpression === "string" ? `(${operation.ConditionExpression}) AND ${never}` : never;
    const names = { ...(isObject(operation.ExpressionAttributeNames) ? operation.ExpressionAttributeNames : {}), "#localTransactionProbe": "localTransactionProbe" };
    const common = {
      TableName: operation.TableName,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ...(operation.ExpressionAttributeValues !== undefined ? { ExpressionAttributeValues: operation.ExpressionAttributeValues } : {}),
    };
    switch (item.kind) {
      case "Put":
        return ["PutItem", { ...common, Item: operation.Item }];
      case "Update":
        return ["UpdateItem", { ...common, Key: operation.Key, UpdateExpression: operation.UpdateExpression }];
      default:
        return ["DeleteItem", { ...common, Key: operation.Key }];
    }
  }

  private async applyTransaction(items: readonly TransactItem[], origin: string | undefined): Promise<DynamoAnswer> {
    const target = this.options.target;
    // Read every item, then evaluate every condition against it.
    const before: (Item | undefined)[] = [];
    for (const item of items) {
      const read = await this.getItem(item.table, item.key);
      if (read.answer.status !== 200) return read.answer;
      before.push(read.item);
    }
    const reasons: CancellationReason[] = [];
    for (const [index, item] of items.entries()) {
      const condition = item.operation.ConditionExpression;
      if (typeof condition !== "string") {
        reasons.push({ Code: "None" });
        continue;
      }
      const current = before[index];
      const check = {
        TableName: item.table,
        ConditionExpression: condition,
        ...expressionParts(item.operation, [condition]),
      };
      // A write that changes nothing: the item put back as it is, or the absent item deleted.
      const answer = current ? await target("PutItem", { ...check, Item: current }) : await target("DeleteItem", { ...check, Key: item.key });
      const type = errorType(answer);
      if (answer.status === 200) reasons.push({ Code: "None" });
      else if (type === "ConditionalCheckFailedException") {
        reasons.push({
          Code: "ConditionalCheckFailed",
          ...(item.operation.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && current ? { Item: current } : {}),
          Message: "The conditional request failed",
        });
      } else return answer;
    }
    if (reasons.some((r) => r.Code !== "None")) return cancelled(reasons);

    // Apply, undoing on a failure.
    const after: (Item | undefined)[] = [];
    for (const [index, item] of items.entries()) {
      let answer: DynamoAnswer | undefined;
      let failure: unknown;
      try {
        answer = await this.applyOne(item);
      } catch (error) {
        failure = error;
      }
      if (answer?.status === 200) {
        after.push(item.kind === "Put" ? (item.operation.Item as Item) : item.kind === "Delete" ? undefined : item.kind === "Update" ? (answer.body.Attributes as Item) : before[index]);
        continue;
      }
      await this.undo(items.slice(0, index), before);
      if (failure !== undefined) throw failure;
      return cancelled(items.map((_, i) => (i === index ? { Code: "ValidationError", Message: errorMessage(answer!) ?? errorType(answer!) ?? "ValidationError" } : { Code: "None" })));
    }
    for (const [index, item] of items.entries()) {
      if (item.kind !== "ConditionCheck" && this.options.recorder?.has(item.table)) this.record(item.table, before[index], after[index], origin);
    }
    return { status: 200, body: {} };
  }

  private applyOne(item: TransactItem): Promise<DynamoAnswer> {
    const target = this.options.target;
    const { operation } = item;
    switch (item.kind) {
      case "Put":
        return target("PutItem", { TableName: item.table, Item: operation.Item });
      case "Delete":
        return target("DeleteItem", { TableName: item.table, Key: item.key });
      case "Update":
        return target("UpdateItem", {
          TableName: item.table,
          Key: item.key,
          UpdateExpression: operation.UpdateExpression,
          ...expressionParts(operation, [operation.UpdateExpression]),
          ReturnValues: "ALL_NEW",
        });
      default:
        return Promise.resolve({ status: 200, body: {} });
    }
  }

  /** Writes back the items as they were before the transaction (newest first). */
  private async undo(applied: readonly TransactItem[], before: readonly (Item | undefined)[]): Promise<void> {
    for (let i = applied.length - 1; i >= 0; i--) {
      const item = applied[i]!;
      if (item.kind === "ConditionCheck") continue;
      const old = before[i];
      const answer = old
        ? await this.options.target("PutItem", { TableName: item.table, Item: old })
        : await this.options.target("DeleteItem", { TableName: item.table, Key: item.key });
      if (answer.status !== 200) {
        throw new Error(`local write engine: could not undo the transaction's write to ${item.table} ${JSON.stringify(item.key)}: ${errorMessage(answer) ?? errorType(answer)}`);
      }
    }
  }
}
