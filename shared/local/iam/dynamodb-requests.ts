/**
 * What AWS authorizes for one DynamoDB API call: from a JSON-protocol request (`X-Amz-Target:
 * DynamoDB_20120810.<Operation>` and its body) the IAM action(s), resource ARN(s) and DynamoDB condition keys
 * (Amazon DynamoDB Developer Guide, "Using IAM policy conditions for fine-grained access control" and "Using IAM with
 * DynamoDB transactions"):
 *
 * - Single-item and query/scan operations: one request, `dynamodb:<Operation>` on the table ARN, or on
 *   `<table ARN>/index/<index>` for a `Query`/`Scan` with `IndexName`.
 * - `BatchGetItem`/`BatchWriteItem`: one request per table, action `dynamodb:BatchGetItem`/`dynamodb:BatchWriteItem`,
 *   whose `dynamodb:LeadingKeys` are the partition keys of all that table's items.
 * - `TransactWriteItems`/`TransactGetItems`: one request per item, with the item action (`Put` -> `dynamodb:PutItem`,
 *   `Update` -> `dynamodb:UpdateItem`, `Delete` -> `dynamodb:DeleteItem`, `ConditionCheck` ->
 *   `dynamodb:ConditionCheckItem`, `Get` -> `dynamodb:GetItem`) and `dynamodb:EnclosingOperation`.
 * - PartiQL (`ExecuteStatement`, `BatchExecuteStatement`, `ExecuteTransaction`): `dynamodb:PartiQL<Verb>` on the
 *   table (or index) the statement names; its leading keys are not derived (unresolved: conditions on them fail closed).
 * - Everything else: `dynamodb:<Operation>` on the table named by `TableName` (or the `ResourceArn`), else `*`.
 *
 * Condition keys:
 * - `dynamodb:LeadingKeys`: the partition key values the request touches (`Key`, `Item`, or the partition key
 *   equality of `KeyConditionExpression`/`KeyConditions`; for an index query, the index's partition key). `S` and `N`
 *   values as their text, `B` values as their base64 text. Absent for `Scan` (so `ForAllValues` holds, as in AWS).
 * - `dynamodb:Select` (reads), `dynamodb:ReturnValues` (single-item writes), `dynamodb:ReturnConsumedCapacity`, each
 *   with DynamoDB's default when the request does not set it.
 * - `dynamodb:Attributes`: the top-level attribute names the request names (key, item, expressions, projection), when
 *   that is the whole story; when the request returns whole items (no projection, `ReturnValues: ALL_*`) the names
 *   are not knowable from the request and the key is reported as unresolved.
 *
 * A condition key the request determines in AWS but that cannot be derived here (unknown key schema, an expression
 * this module cannot read) is listed in `unresolvedConditionKeys`: the evaluator fails closed on it.
 */

/** The prefix of DynamoDB's `X-Amz-Target` header values. */
export const DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810.";

/** The key attributes of a table or index. */
export interface KeySchema {
  /** The partition (HASH) key attribute name. */
  partitionKey: string;
  /** The sort (RANGE) key attribute name, if any. */
  sortKey?: string;
}

/** A table's key schema and its indexes' (GSIs and LSIs, by index name). */
export interface TableKeySchema extends KeySchema {
  indexes?: Readonly<Record<string, KeySchema>>;
}

/** Finds a table's key schema by table name; `undefined` when it is not known. */
export type KeySchemaLookup = (table: string) => TableKeySchema | undefined;

/** Where the request goes: ARNs are built from these. */
export interface DynamoDbScope {
  region: string;
  accountId: string;
  /** @default "aws" */
  partition?: string;
}

/** One authorization AWS performs for a DynamoDB request. */
export interface DynamoDbAuthorization {
  /** The API operation (`TransactWriteItems`), which may differ from the action's name. */
  operation: string;
  /** The IAM action, `dynamodb:PutItem`. */
  action: string;
  /** The table or index ARN, or `*`. */
  resource: string;
  /** The table name, when there is one. */
  table?: string;
  /** The index name, for index queries and scans. */
  index?: string;
  /** DynamoDB condition keys of this authorization. */
  conditionKeys: Record<string, string | string[]>;
  /** Condition keys that exist for this request in AWS but whose value could not be derived here. */
  unresolvedConditionKeys: string[];
}

type Item = Record<string, unknown>;
type Names = Record<string, string> | undefined;

/** The operation of an `X-Amz-Target` header (`DynamoDB_20120810.PutItem` -> `PutItem`), else `undefined`. */
export function dynamoDbOperation(target: string | undefined): string | undefined {
  if (!target?.startsWith(DYNAMODB_TARGET_PREFIX)) return undefined;
  const operation = target.slice(DYNAMODB_TARGET_PREFIX.length);
  return /^[A-Za-z]+$/.test(operation) ? operation : undefined;
}

/** The ARN of a table (`arn:aws:dynamodb:<region>:<account>:table/<name>`). */
export function tableArn(scope: DynamoDbScope, table: string): string {
  return `arn:${scope.partition ?? "aws"}:dynamodb:${scope.region}:${scope.accountId}:table/${table}`;
}

/**
 * The names of the tables a request addresses, for looking up their key schemas before
 * {@link dynamoDbAuthorizations}. A `TableName` given as an ARN yields the name inside it.
 */
export function tableNamesOf(operation: string, body: unknown): string[] {
  const request = record(body);
  const names = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === "string" && value) names.add(tableNameOf(value));
  };
  switch (operation) {
    case "BatchGetItem":
    case "BatchWriteItem":
      for (const table of Object.keys(record(request.RequestItems))) add(table);
      break;
    case "TransactWriteItems":
    case "TransactGetItems":
      for (const entry of array(request.TransactItems)) {
        for (const inner of Object.values(record(entry))) add(record(inner).TableName);
      }
      break;
    default:
      add(request.TableName);
  }
  return [...names];
}

/**
 * The authorizations AWS performs for one DynamoDB request, in request order. `keySchemas` tells each table's
 * partition key (and its indexes'); without it, `dynamodb:LeadingKeys` is unresolved for that table's requests.
 */
export function dynamoDbAuthorizations(
  operation: string,
  body: unknown,
  scope: DynamoDbScope,
  keySchemas: KeySchemaLookup,
): DynamoDbAuthorization[] {
  const authorizations = authorizationsOf(operation, record(body), scope, keySchemas);
  // A request that names nothing to authorize (an empty batch, unknown transaction entries) is invalid in DynamoDB;
  // it is still authorized as the operation on "*", so that no request reaches the engine unchecked.
  return authorizations.length ? authorizations : [newAuthorization(operation, `dynamodb:${operation}`, undefined, scope)];
}

function authorizationsOf(
  operation: string,
  request: Record<string, unknown>,
  scope: DynamoDbScope,
  keySchemas: KeySchemaLookup,
): DynamoDbAuthorization[] {
  const consumed = stringOr(request.ReturnConsumedCapacity, "NONE");
  switch (operation) {
    case "GetItem":
    case "PutItem":
    case "UpdateItem":
    case "DeleteItem": {
      const auth = itemAuthorization(operation, `dynamodb:${operation}`, request, scope, keySchemas, { returnValues: true });
      auth.conditionKeys["dynamodb:ReturnConsumedCapacity"] = consumed;
      return [auth];
    }
    case "Query":
    case "Scan":
      return [queryAuthorization(operation, request, scope, keySchemas, consumed)];
    case "BatchGetItem":
    case "BatchWriteItem":
      return Object.entries(record(request.RequestItems)).map(([table, entries]) => {
        const auth = batchAuthorization(operation, table, entries, scope, keySchemas);
        auth.conditionKeys["dynamodb:ReturnConsumedCapacity"] = consumed;
        return auth;
      });
    case "TransactWriteItems":
    case "TransactGetItems":
      return array(request.TransactItems).flatMap((entry) =>
        Object.entries(record(entry)).flatMap(([kind, inner]) => {
          const action = TRANSACT_ACTIONS[kind];
          if (!action) return [];
          const auth = itemAuthorization(operation, action, record(inner), scope, keySchemas, { returnValues: false });
          auth.conditionKeys["dynamodb:EnclosingOperation"] = operation;
          auth.conditionKeys["dynamodb:ReturnConsumedCapacity"] = consumed;
          return [auth];
        }),
      );
    case "ExecuteStatement":
      return [partiqlAuthorization(operation, request.Statement, scope)];
    case "BatchExecuteStatement":
      return array(request.Statements).map((statement) => partiqlAuthorization(operation, record(statement).Statement, scope));
    case "ExecuteTransaction":
      return array(request.TransactStatements).map((statement) =>
        partiqlAuthorization(operation, record(statement).Statement, scope),
      );
    default:
      return [controlAuthorization(operation, request, scope)];
  }
}

const TRANSACT_ACTIONS: Readonly<Record<string, string>> = {
  Put: "dynamodb:PutItem",
  Update: "dynamodb:UpdateItem",
  Delete: "dynamodb:DeleteItem",
  ConditionCheck: "dynamodb:ConditionCheckItem",
  Get: "dynamodb:GetItem",
};

/** Collects `dynamodb:Attributes`; `complete` turns false when the request's attributes are not knowable. */
class AttributeNames {
  readonly names = new Set<string>();
  complete = true;

  add(names: Iterable<string>): void {
    for (const name of names) this.names.add(name);
  }
  /** Adds the top-level attribute names of an expression; an unreadable expression makes the set incomplete. */
  addExpression(expression: unknown, names: Names): void {
    if (expression === undefined) return;
    const found = typeof expression === "string" ? expressionAttributeNames(expression, names) : undefined;
    if (found) this.add(found);
    else this.complete = false;
  }
  /** Records the result on an authorization. */
  apply(auth: DynamoDbAuthorization): void {
    if (this.complete) auth.conditionKeys["dynamodb:Attributes"] = [...this.names];
    else auth.unresolvedConditionKeys.push("dynamodb:Attributes");
  }
}

function newAuthorization(operation: string, action: string, tableValue: unknown, scope: DynamoDbScope, index?: unknown) {
  const auth: DynamoDbAuthorization = { operation, action, resource: "*", conditionKeys: {}, unresolvedConditionKeys: [] };
  if (typeof tableValue === "string" && tableValue) {
    auth.table = tableNameOf(tableValue);
    const arn = tableValue.startsWith("arn:") ? tableValue : tableArn(scope, tableValue);
    if (typeof index === "string" && index) {
      auth.index = index;
      auth.resource = `${arn}/index/${index}`;
    } else {
      auth.resource = arn;
    }
  }
  return auth;
}

function itemAuthorization(
  operation: string,
  action: string,
  request: Record<string, unknown>,
  scope: DynamoDbScope,
  keySchemas: KeySchemaLookup,
  options: { returnValues: boolean },
): DynamoDbAuthorization {
  const auth = newAuthorization(operation, action, request.TableName, scope);
  const names = stringRecord(request.ExpressionAttributeNames);
  const item = action === "dynamodb:PutItem" ? record(request.Item) : record(request.Key);
  const schema = auth.table === undefined ? undefined : keySchemas(auth.table);
  if (schema) {
    auth.conditionKeys["dynamodb:LeadingKeys"] = keyValues([item], schema.partitionKey);
  } else {
    auth.unresolvedConditionKeys.push("dynamodb:LeadingKeys");
  }

  const attributes = new AttributeNames();
  attributes.add(Object.keys(item));
  attributes.addExpression(request.ConditionExpression, names);
  attributes.add(Object.keys(record(request.Expected)));
  if (request.ReturnValuesOnConditionCheckFailure === "ALL_OLD") attributes.complete = false;
  if (action === "dynamodb:GetItem") {
    const select = readSelect(request, false);
    auth.conditionKeys["dynamodb:Select"] = select;
    if (select !== "SPECIFIC_ATTRIBUTES") attributes.complete = false;
    attributes.addExpression(request.ProjectionExpression, names);
    attributes.add(strings(request.AttributesToGet));
  } else if (action !== "dynamodb:ConditionCheckItem") {
    attributes.addExpression(request.UpdateExpression, names);
    attributes.add(Object.keys(record(request.AttributeUpdates)));
    if (options.returnValues) {
      const returnValues = stringOr(request.ReturnValues, "NONE");
      auth.conditionKeys["dynamodb:ReturnValues"] = returnValues;
      if (returnValues === "ALL_OLD" || returnValues === "ALL_NEW") attributes.complete = false;
    }
  }
  attributes.apply(auth);
  return auth;
}

function queryAuthorization(
  operation: "Query" | "Scan",
  request: Record<string, unknown>,
  scope: DynamoDbScope,
  keySchemas: KeySchemaLookup,
  consumed: string,
): DynamoDbAuthorization {
  const auth = newAuthorization(operation, `dynamodb:${operation}`, request.TableName, scope, request.IndexName);
  const names = stringRecord(request.ExpressionAttributeNames);
  if (operation === "Query") {
    const schema = auth.table === undefined ? undefined : keySchemas(auth.table);
    const keys = auth.index === undefined ? schema : schema?.indexes?.[auth.index];
    const values = keys ? queryPartitionValues(request, keys.partitionKey, names) : undefined;
    if (values) auth.conditionKeys["dynamodb:LeadingKeys"] = values;
    else auth.unresolvedConditionKeys.push("dynamodb:LeadingKeys");
  }
  const select = readSelect(request, auth.index !== undefined);
  auth.conditionKeys["dynamodb:Select"] = select;
  auth.conditionKeys["dynamodb:ReturnConsumedCapacity"] = consumed;

  const attributes = new AttributeNames();
  if (select === "ALL_ATTRIBUTES" || select === "ALL_PROJECTED_ATTRIBUTES") attributes.complete = false;
  attributes.addExpression(request.ProjectionExpression, names);
  attributes.add(strings(request.AttributesToGet));
  attributes.addExpression(request.KeyConditionExpression, names);
  attributes.addExpression(request.FilterExpression, names);
  for (const legacy of [request.KeyConditions, request.QueryFilter, request.ScanFilter]) attributes.add(Object.keys(record(legacy)));
  attributes.apply(auth);
  return auth;
}

function batchAuthorization(
  operation: "BatchGetItem" | "BatchWriteItem",
  table: string,
  entries: unknown,
  scope: DynamoDbScope,
  keySchemas: KeySchemaLookup,
): DynamoDbAuthorization {
  const auth = newAuthorization(operation, `dynamodb:${operation}`, table, scope);
  const attributes = new AttributeNames();
  const items: Item[] = [];
  if (operation === "BatchGetItem") {
    const request = record(entries);
    const names = stringRecord(request.ExpressionAttributeNames);
    items.push(...array(request.Keys).map(record));
    const select = readSelect(request, false);
    auth.conditionKeys["dynamodb:Select"] = select;
    if (select !== "SPECIFIC_ATTRIBUTES") attributes.complete = false;
    attributes.addExpression(request.ProjectionExpression, names);
    attributes.add(strings(request.AttributesToGet));
  } else {
    for (const entry of array(entries)) {
      const write = record(entry);
      if (write.PutRequest !== undefined) items.push(record(record(write.PutRequest).Item));
      if (write.DeleteRequest !== undefined) items.push(record(record(write.DeleteRequest).Key));
    }
  }
  for (const item of items) attributes.add(Object.keys(item));
  const schema = auth.table === undefined ? undefined : keySchemas(auth.table);
  if (schema) auth.conditionKeys["dynamodb:LeadingKeys"] = keyValues(items, schema.partitionKey);
  else auth.unresolvedConditionKeys.push("dynamodb:LeadingKeys");
  attributes.apply(auth);
  return auth;
}

const PARTIQL_ACTIONS: Readonly<Record<string, string>> = {
  SELECT: "dynamodb:PartiQLSelect",
  INSERT: "dynamodb:PartiQLInsert",
  UPDATE: "dynamodb:PartiQLUpdate",
  DELETE: "dynamodb:PartiQLDelete",
};

function partiqlAuthorization(operation: string, statement: unknown, scope: DynamoDbScope): DynamoDbAuthorization {
  const text = typeof statement === "string" ? statement : "";
  const verb = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? "";
  // An unknown verb gets an action no policy names except a wildcard: unknown statements fail closed.
  const action = PARTIQL_ACTIONS[verb] ?? `dynamodb:${operation}`;
  const target = /\b(?:FROM|INTO|UPDATE)\s+("(?:[^"]|"")+"|[A-Za-z0-9_.-]+)(?:\s*\.\s*("(?:[^"]|"")+"|[A-Za-z0-9_.-]+))?/i.exec(text);
  const unquote = (name: string | undefined) => (name?.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name);
  const auth = newAuthorization(operation, action, unquote(target?.[1]), scope, verb === "SELECT" ? unquote(target?.[2]) : undefined);
  auth.unresolvedConditionKeys.push("dynamodb:LeadingKeys", "dynamodb:Attributes");
  return auth;
}

function controlAuthorization(operation: string, request: Record<string, unknown>, scope: DynamoDbScope): DynamoDbAuthorization {
  const auth = newAuthorization(operation, `dynamodb:${operation}`, request.TableName, scope);
  if (auth.resource === "*" && typeof request.ResourceArn === "string" && request.ResourceArn) auth.resource = request.ResourceArn;
  return auth;
}

/** `Select` as DynamoDB defaults it: SPECIFIC_ATTRIBUTES with a projection, else all (projected, for an index). */
function readSelect(request: Record<string, unknown>, onIndex: boolean): string {
  if (typeof request.Select === "string") return request.Select;
  if (request.ProjectionExpression !== undefined || request.AttributesToGet !== undefined) return "SPECIFIC_ATTRIBUTES";
  return onIndex ? "ALL_PROJECTED_ATTRIBUTES" : "ALL_ATTRIBUTES";
}

/** The distinct partition key values of some items or keys, as strings; items without the attribute add none. */
function keyValues(items: readonly Item[], partitionKey: string): string[] {
  const values = new Set<string>();
  for (const item of items) {
    const value = scalarText(item[partitionKey]);
    if (value !== undefined) values.add(value);
  }
  return [...values];
}

function scalarText(value: unknown): string | undefined {
  const attribute = record(value);
  for (const type of ["S", "N", "B"]) {
    if (typeof attribute[type] === "string") return attribute[type] as string;
  }
  return undefined;
}

/**
 * The partition key values a `Query` selects: from `KeyConditionExpression` (`<pk> = :v`, either side) or the legacy
 * `KeyConditions` (`EQ`). `undefined` when none can be read: the caller fails closed.
 */
function queryPartitionValues(request: Record<string, unknown>, partitionKey: string, names: Names): string[] | undefined {
  if (typeof request.KeyConditionExpression === "string") {
    const tokens = tokenize(request.KeyConditionExpression, names);
    if (!tokens) return undefined;
    const values = record(request.ExpressionAttributeValues);
    const found = new Set<string>();
    for (let i = 1; i + 1 < tokens.length; i++) {
      if (tokens[i]!.kind !== "=") continue;
      const left = tokens[i - 1]!;
      const right = tokens[i + 1]!;
      const pair = isPlainName(tokens, i - 1) && right.kind === "value" ? [left, right] : isPlainName(tokens, i + 1) && left.kind === "value" ? [right, left] : undefined;
      if (!pair || pair[0]!.text !== partitionKey) continue;
      const value = scalarText(values[pair[1]!.text]);
      if (value === undefined) return undefined;
      found.add(value);
    }
    return found.size ? [...found] : undefined;
  }
  const legacy = record(record(request.KeyConditions)[partitionKey]);
  if (legacy.ComparisonOperator !== "EQ") return undefined;
  const value = scalarText(array(legacy.AttributeValueList)[0]);
  return value === undefined ? undefined : [value];
}

/** A name token that is a whole top-level attribute (not part of a path, not a function, not a keyword). */
function isPlainName(tokens: readonly Token[], i: number): boolean {
  const token = tokens[i];
  if (!token || (token.kind !== "name" && token.kind !== "placeholder")) return false;
  if (token.kind === "name" && KEYWORDS.has(token.text.toUpperCase())) return false;
  const before = tokens[i - 1]?.kind;
  const after = tokens[i + 1]?.kind;
  return before !== "." && after !== "." && after !== "[" && after !== "(";
}

interface Token {
  kind: "name" | "placeholder" | "value" | "number" | "=" | "." | "[" | "(" | "op";
  /** The attribute name (a placeholder resolved through ExpressionAttributeNames), the `:value`, or the symbol. */
  text: string;
}

const KEYWORDS = new Set(["AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"]);

/** Splits a DynamoDB expression into tokens; `undefined` for anything it cannot read (including unknown `#names`). */
function tokenize(expression: string, names: Names): Token[] | undefined {
  const tokens: Token[] = [];
  const pattern = /\s+|(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|(<>|<=|>=|[=<>+\-,)\]])|([.[(])/y;
  let position = 0;
  while (position < expression.length) {
    pattern.lastIndex = position;
    const match = pattern.exec(expression);
    if (!match) return undefined;
    position = pattern.lastIndex;
    const [, placeholder, value, name, number, op, open] = match;
    if (placeholder !== undefined) {
      const resolved = names?.[placeholder];
      if (resolved === undefined) return undefined;
      tokens.push({ kind: "placeholder", text: resolved });
    } else if (value !== undefined) tokens.push({ kind: "value", text: value });
    else if (name !== undefined) tokens.push({ kind: "name", text: name });
    else if (number !== undefined) tokens.push({ kind: "number", text: number });
    else if (op !== undefined) tokens.push({ kind: op === "=" ? "=" : "op", text: op });
    else if (open !== undefined) tokens.push({ kind: open as "." | "[" | "(", text: open });
  }
  return tokens;
}

/** The top-level attribute names an expression mentions (paths count by their first element). */
function expressionAttributeNames(expression: string, names: Names): string[] | undefined {
  const tokens = tokenize(expression, names);
  if (!tokens) return undefined;
  const found: string[] = [];
  tokens.forEach((token, i) => {
    if (token.kind !== "name" && token.kind !== "placeholder") return;
    if (tokens[i - 1]?.kind === ".") return;
    if (token.kind === "name" && (KEYWORDS.has(token.text.toUpperCase()) || tokens[i + 1]?.kind === "(")) return;
    found.push(token.text);
  });
  return found;
}

/** The table name of a `TableName` that may be a table ARN (`arn:...:table/<name>`). */
function tableNameOf(value: string): string {
  if (!value.startsWith("arn:")) return value;
  const marker = value.indexOf(":table/");
  return marker < 0 ? value : value.slice(marker + ":table/".length).split("/")[0]!;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function strings(value: unknown): string[] {
  return array(value).filter((v): v is string => typeof v === "string");
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}
