/**
 * An IAM-enforcing HTTP proxy in front of the local DynamoDB (dynalite, or any DynamoDB-compatible endpoint). Each
 * function's SDK client points at the proxy; the proxy tells the caller by the access key id of its SigV4 signature,
 * computes the authorizations AWS would perform for the request ({@link dynamoDbAuthorizations}), asks the injected
 * `authorize` hook about each, and either answers AWS's `AccessDeniedException` or forwards the request unchanged and
 * streams the target's answer back.
 */
import { EventEmitter } from "node:events";
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { crc32 } from "node:zlib";
import { readBody } from "../endpoints/server";
import { sigV4Credential } from "../endpoints/sigv4";
import { accessDeniedMessage } from "./authorizer";
import {
  DYNAMODB_TARGET_PREFIX,
  dynamoDbAuthorizations,
  dynamoDbOperation,
  tableNamesOf,
  type DynamoDbAuthorization,
  type KeySchema,
  type TableKeySchema,
} from "./dynamodb-requests";
import { answerTableSettings, TABLE_SETTINGS_OPERATIONS, type DeclaredTableSettings } from "./dynamodb-table-settings";

/** What the proxy asks its `authorize` hook, once per authorization of a request. */
export interface DynamoDbAuthorizationRequest {
  /** The caller's access key id. */
  principal: string;
  /** `dynamodb:PutItem`, ... */
  action: string;
  /** The table or index ARN, or `*`. */
  resource: string;
  context: {
    /** The API operation (`BatchWriteItem`, `TransactWriteItems`, ...). */
    operation: string;
    service: "dynamodb";
    /** The region the request was signed for. */
    region: string;
    /** The request id of the answer. */
    requestId: string;
    table?: string;
    index?: string;
    /** DynamoDB keys (`dynamodb:LeadingKeys`, ...) and the global keys the proxy knows (`aws:SecureTransport`, `aws:SourceIp`). */
    conditionKeys: Record<string, string | string[]>;
    /** Keys that exist in AWS for this request but could not be derived (conditions on them fail closed). */
    unresolvedConditionKeys: string[];
  };
}

/**
 * The hook's answer: `true`/`false`, or an object. A denial may carry the caller's ARN for the message
 * (default `arn:aws:sts::<account>:assumed-role/<principal>/<principal>`), whether it is explicit, and the reason.
 */
export type DynamoDbDecision =
  | boolean
  | { allowed: true }
  | { allowed: false; principalArn?: string; explicitDeny?: boolean; reason?: string };

/** The authorization hook (an {@link Authorizer}'s `authorize` fits). */
export type DynamoDbAuthorize = (request: DynamoDbAuthorizationRequest) => DynamoDbDecision | Promise<DynamoDbDecision>;

/** Where key schemas come from before the proxy asks the target. */
export type KeySchemaSource =
  | Readonly<Record<string, TableKeySchema>>
  | ((table: string) => TableKeySchema | undefined | Promise<TableKeySchema | undefined>);

/** Options of {@link startDynamoDbProxy}. */
export interface DynamoDbProxyOptions {
  /** The DynamoDB endpoint requests are forwarded to, e.g. dynalite's `http://127.0.0.1:<port>`. */
  target: string;
  /**
   * The target's own request listener, when it runs in this thread (dynalite's server): authorized requests are
   * handed to it directly instead of over a second loopback connection. `target` still names it (DescribeTable).
   */
  targetListener?: RequestListener;
  /** Asked for every authorization; a denial (or a thrown error) stops the request. */
  authorize: DynamoDbAuthorize;
  /** The account in table ARNs (the one the Pulumi programs' ARNs name). */
  accountId: string;
  /**
   * Key schemas by table name, for `dynamodb:LeadingKeys`. Tables not found here are described on the target
   * (`DescribeTable`, cached until a `CreateTable`/`UpdateTable`/`DeleteTable` passes through), unless
   * `describeTables` is false; a table whose schema stays unknown gets unresolved leading keys (fail closed).
   */
  keySchemas?: KeySchemaSource;
  /** @default true */
  describeTables?: boolean;
  /**
   * TTL and point-in-time recovery by table name, as the programs declared them: the proxy answers
   * `DescribeTimeToLive` and `DescribeContinuousBackups` (which dynalite lacks) from these, after IAM, for tables the
   * target holds. Without it those calls go to the target like any other.
   */
  tableSettings?: Readonly<Record<string, DeclaredTableSettings>>;
  /**
   * Takes over some operations after IAM allowed them (the local write engine: item writes with their stream
   * records, and `TransactWriteItems`, which dynalite lacks): their answer is the handler's, sent as DynamoDB sends
   * it (JSON, request id, CRC32).
   */
  writes?: DynamoDbOperationHandler;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 0 (a free port) */
  port?: number;
  /**
   * The value of `aws:SecureTransport`. Functions in AWS reach DynamoDB over TLS; the plain-HTTP loopback hop exists
   * only locally, so by default requests count as secure, as they would when deployed.
   * @default true
   */
  secureTransport?: boolean;
  /** Called once per request that the proxy authorized (allowed or denied). */
  onDecision?: (event: DynamoDbProxyEvent) => void;
  /**
   * Called once the target's answer to an allowed request has been passed back: its HTTP status and, for an error,
   * the DynamoDB error type (`ConditionalCheckFailedException`).
   */
  onAnswered?: (event: DynamoDbProxyEvent & { status: number; errorType?: string }) => void;
}

/** Operations answered by something other than the target (see {@link DynamoDbProxyOptions.writes}). */
export interface DynamoDbOperationHandler {
  readonly operations: ReadonlySet<string>;
  handle(operation: string, request: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Told when a table passed through CreateTable/UpdateTable/DeleteTable (its key schema may have changed). */
  forget?(table: string): void;
}

/** A request the proxy authorized. */
export interface DynamoDbProxyEvent {
  requestId: string;
  principal: string;
  operation: string;
  authorizations: DynamoDbAuthorization[];
  allowed: boolean;
  /** The denied authorization and AWS's message, when denied. */
  denied?: { authorization: DynamoDbAuthorization; message: string };
  /**
   * The request's `X-Amzn-Trace-Id` (inside Lambda the SDK sends the invocation's trace header), so a listener can
   * tell which invocation made the request.
   */
  traceHeader?: string;
}

/** A running proxy. */
export interface DynamoDbProxy {
  /** `http://<host>:<port>`: the endpoint to give SDK clients. */
  readonly endpoint: string;
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** DynamoDB's largest request is 16 MB; anything larger is refused before it is buffered whole. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024 + 64 * 1024;
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

/** Starts the proxy on loopback. */
export async function startDynamoDbProxy(options: DynamoDbProxyOptions): Promise<DynamoDbProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const schemas = new KeySchemaCache(options, target, agent);
  const server = createServer((req, res) => {
    handle(req, res, options, target, agent, schemas).catch((error: unknown) => {
      sendError(res, 500, "InternalFailure", `local IAM proxy: ${(error as Error).message ?? String(error)}`, newRequestId(), req);
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: DynamoDbProxyOptions,
  target: URL,
  agent: Agent,
  schemas: KeySchemaCache,
): Promise<void> {
  const body = await readBody(req, MAX_REQUEST_BYTES);
  if (body === undefined) {
    res.writeHead(413, { "content-length": "0" }).end();
    return;
  }
  // Only POSTs carry operations; other methods (dynalite's health check, CORS preflight) go through as they are.
  const pass = (answered?: Answered) =>
    options.targetListener ? forwardInProcess(options.targetListener, req, res, body, answered) : forward(req, res, body, target, agent, answered);
  if (req.method !== "POST") return pass();
  const requestId = newRequestId();
  // Nothing the proxy cannot authorize reaches the target: an unknown target (for example dynalite's legacy
  // DynamoDB_20111205 API) or a body that is not JSON is answered here, as DynamoDB answers them.
  const header = req.headers["x-amz-target"];
  const operation = dynamoDbOperation(typeof header === "string" ? header : undefined);
  if (!operation) {
    sendError(res, 400, "UnknownOperationException", undefined, requestId, req);
    return;
  }
  let parsed: unknown;
  try {
    parsed = body.length ? JSON.parse(body.toString("utf8")) : {};
  } catch {
    sendError(res, 400, "SerializationException", undefined, requestId, req);
    return;
  }

  const credential = sigV4Credential(req.headers, req.url ?? "/");
  if (!credential) {
    sendError(res, 400, "MissingAuthenticationTokenException", "Request is missing Authentication Token", requestId, req, "message");
    return;
  }
  const scope = { region: credential.region, accountId: options.accountId };
  const traceHeader = req.headers["x-amzn-trace-id"];
  const tables = tableNamesOf(operation, parsed);
  const known = new Map<string, TableKeySchema | undefined>();
  // Key schemas given as an object are known at once: only the others are awaited.
  let unknown: string[] | undefined;
  for (const table of tables) {
    const schema = schemas.known(table);
    if (schema === NOT_KNOWN) (unknown ??= []).push(table);
    else known.set(table, schema);
  }
  if (unknown) await Promise.all(unknown.map(async (table) => known.set(table, await schemas.get(table))));
  const authorizations = dynamoDbAuthorizations(operation, parsed, scope, (table) => known.get(table));

  const globalKeys: Record<string, string> = {
    "aws:SecureTransport": String(options.secureTransport ?? true),
    "aws:SourceIp": normaliseIp(req.socket.remoteAddress ?? ""),
  };
  for (const authorization of authorizations) {
    const asked = options.authorize({
      principal: credential.accessKeyId,
      action: authorization.action,
      resource: authorization.resource,
      context: {
        operation,
        service: "dynamodb",
        region: credential.region,
        requestId,
        ...(authorization.table === undefined ? {} : { table: authorization.table }),
        ...(authorization.index === undefined ? {} : { index: authorization.index }),
        // Object.assign, not a spread: V8 (Node 20) spreads objects of varying shapes on a slow path (about 2 us each).
        conditionKeys: Object.assign({}, globalKeys, authorization.conditionKeys),
        unresolvedConditionKeys: authorization.unresolvedConditionKeys,
      },
    });
    // An authorizer that answers at once (the local stage's) is not awaited.
    const decision = isPromiseLike(asked) ? await asked : asked;
    if (decision === true || (typeof decision === "object" && decision.allowed)) continue;
    const denial: { principalArn?: string; explicitDeny?: boolean; reason?: string } =
      typeof decision === "object" && !decision.allowed ? decision : {};
    const message = accessDeniedMessage({
      principalArn: denial.principalArn ?? `arn:aws:sts::${options.accountId}:assumed-role/${credential.accessKeyId}/${credential.accessKeyId}`,
      action: authorization.action,
      resource: authorization.resource,
      explicitDeny: denial.explicitDeny ?? false,
      ...(denial.reason === undefined ? {} : { reason: denial.reason }),
    });
    const refused: DynamoDbProxyEvent = { requestId, principal: credential.accessKeyId, operation, authorizations, allowed: false, denied: { authorization, message } };
    if (typeof traceHeader === "string") refused.traceHeader = traceHeader;
    options.onDecision?.(refused);
    sendError(res, 400, "AccessDeniedException", message, requestId, req);
    return;
  }
  const decided: DynamoDbProxyEvent = { requestId, principal: credential.accessKeyId, operation, authorizations, allowed: true };
  if (typeof traceHeader === "string") decided.traceHeader = traceHeader;
  options.onDecision?.(decided);
  if (operation === "CreateTable" || operation === "UpdateTable" || operation === "DeleteTable") {
    res.once("finish", () =>
      tables.forEach((table) => {
        schemas.forget(table);
        options.writes?.forget?.(table);
      }),
    );
  }
  const onAnswered = options.onAnswered;
  if (options.tableSettings && TABLE_SETTINGS_OPERATIONS.has(operation)) {
    const table = tables[0];
    const described = table === undefined ? undefined : await describeTable(target.href, table, agent);
    const createdAt = typeof described?.CreationDateTime === "number" ? described.CreationDateTime : described ? Date.now() / 1000 : undefined;
    const answer = answerTableSettings(operation, table, table === undefined ? undefined : options.tableSettings[table], createdAt, Date.now());
    const body = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      "content-type": "application/x-amz-json-1.0",
      "content-length": String(Buffer.byteLength(body)),
      "x-amzn-requestid": requestId,
      "x-amz-crc32": String(crc32(body)),
    });
    res.end(body);
    tellAnswered(onAnswered && ((status, errorType) => onAnswered(answeredEvent(decided, status, errorType))), answer.status, () => Buffer.from(body));
    return;
  }
  if (options.writes?.operations.has(operation)) {
    const answer = await options.writes.handle(operation, parsed);
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      "content-type": req.headers["content-type"]?.startsWith("application/json") ? "application/json" : "application/x-amz-json-1.0",
      "content-length": String(Buffer.byteLength(text)),
      "x-amzn-requestid": requestId,
      "x-amz-crc32": String(crc32(text)),
    });
    res.end(text);
    tellAnswered(onAnswered && ((status, errorType) => onAnswered(answeredEvent(decided, status, errorType))), answer.status, () => Buffer.from(text));
    return;
  }
  if (!onAnswered) return pass();
  return pass((status, errorType) => onAnswered(answeredEvent(decided, status, errorType)));
}

type Answered = (status: number, errorType: string | undefined) => void;

/** The decision with its answer's status and error type (built without a spread: see `conditionKeys` above). */
function answeredEvent(decided: DynamoDbProxyEvent, status: number, errorType: string | undefined): DynamoDbProxyEvent & { status: number; errorType?: string } {
  const event: DynamoDbProxyEvent & { status: number; errorType?: string } = Object.assign({}, decided, { status });
  if (errorType !== undefined) event.errorType = errorType;
  return event;
}

/** The DynamoDB error type in an error answer's JSON body (`ConditionalCheckFailedException`). */
function errorTypeOf(body: Buffer): string | undefined {
  try {
    return String((JSON.parse(body.toString("utf8")) as { __type?: unknown }).__type ?? "").split("#").pop() || undefined;
  } catch {
    return undefined;
  }
}

function tellAnswered(answered: Answered | undefined, status: number, body: () => Buffer): void {
  if (!answered) return;
  try {
    answered(status, status === 200 ? undefined : errorTypeOf(body()));
  } catch {
    // a failing listener must not break the proxy
  }
}

/**
 * Hands the buffered request to the target's request listener in this thread: the listener gets a request that
 * emits the body and a response that collects status, headers and body, which then go back to the caller as the
 * target wrote them. The answer is what the target would have sent over HTTP, one socket hop fewer.
 */
function forwardInProcess(listener: RequestListener, req: IncomingMessage, res: ServerResponse, body: Buffer, answered?: Answered): Promise<void> {
  return new Promise<void>((resolve) => {
    const request = Object.assign(new EventEmitter(), { method: req.method, url: req.url, headers: req.headers, socket: req.socket });
    const headers: Record<string, string | number | readonly string[]> = {};
    let finished = false;
    const response = {
      statusCode: 200,
      headersSent: false,
      setHeader(name: string, value: string | number | readonly string[]) {
        headers[name.toLowerCase()] = value;
        return response;
      },
      getHeader: (name: string) => headers[name.toLowerCase()],
      removeHeader: (name: string) => void delete headers[name.toLowerCase()],
      end(chunk?: string | Buffer) {
        if (finished) return response;
        finished = true;
        response.headersSent = true;
        const data = chunk === undefined ? Buffer.alloc(0) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, "utf8");
        res.writeHead(response.statusCode, headers as Record<string, string | number | string[]>);
        res.end(data);
        tellAnswered(answered, response.statusCode, () => data);
        resolve();
        return response;
      },
    };
    try {
      listener(request as unknown as IncomingMessage, response as unknown as ServerResponse);
      if (body.length) request.emit("data", body);
      request.emit("end");
    } catch (error) {
      if (!finished) {
        finished = true;
        sendError(res, 500, "InternalFailure", `local IAM proxy: the target failed: ${(error as Error).message ?? String(error)}`, newRequestId(), req);
        resolve();
      }
    }
  });
}

/** Sends the buffered request to the target unchanged (less hop-by-hop headers) and streams the answer back. */
function forward(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  target: URL,
  agent: Agent,
  answered?: Answered,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const headers = endToEnd(req.headers);
    if (req.headers["transfer-encoding"] !== undefined || req.headers["content-length"] !== undefined) {
      headers["content-length"] = String(body.length);
    }
    const upstream = httpRequest(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        const status = answer.statusCode ?? 502;
        res.writeHead(status, answer.statusMessage, endToEnd(answer.headers));
        // Errors are small JSON bodies: keep a copy to tell the listener their type.
        const copy: Buffer[] | undefined = answered && status !== 200 ? [] : undefined;
        if (copy) answer.on("data", (chunk: Buffer) => copy.push(chunk));
        answer.pipe(res);
        answer.once("end", () => {
          tellAnswered(answered, status, () => Buffer.concat(copy ?? []));
          resolve();
        });
        answer.once("error", () => {
          res.destroy();
          resolve();
        });
      },
    );
    upstream.once("error", (error) => {
      if (!res.headersSent) {
        sendError(res, 500, "InternalFailure", `local IAM proxy: the target ${target.origin} failed: ${error.message}`, newRequestId(), req);
      } else {
        res.destroy();
      }
      resolve();
    });
    upstream.end(body);
  });
}

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}


/** Answers an error the way DynamoDB does: JSON with `__type`, `x-amzn-RequestId` and `x-amz-crc32`. */
function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string | undefined,
  requestId: string,
  req: IncomingMessage,
  messageField: "Message" | "message" = "Message",
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ __type: `com.amazon.coral.service#${code}`, ...(message === undefined ? {} : { [messageField]: message }) });
  const contentType = req.headers["content-type"]?.startsWith("application/json") ? "application/json" : "application/x-amz-json-1.0";
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": String(Buffer.byteLength(body)),
    "x-amzn-requestid": requestId,
    "x-amz-crc32": String(crc32(body)),
  });
  res.end(body);
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** 20 random characters of every request id this thread makes (the other 32 are each request's own). */
const REQUEST_ID_PREFIX = randomUUID().replaceAll("-", "").slice(0, 20).toUpperCase();

/**
 * A request id shaped like DynamoDB's (52 upper-case alphanumerics): this thread's random prefix and a random UUID's
 * 32 hex digits. `randomUUID` draws on a buffered pool of entropy rather than a `randomBytes` system call per request.
 */
function newRequestId(): string {
  return REQUEST_ID_PREFIX + randomUUID().replaceAll("-", "").toUpperCase();
}

function normaliseIp(address: string): string {
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

const NOT_KNOWN = Symbol("not known without waiting");

/** Key schemas: the configured source first, then `DescribeTable` on the target, cached per table. */
class KeySchemaCache {
  private readonly described = new Map<string, Promise<TableKeySchema | undefined>>();

  constructor(
    private readonly options: DynamoDbProxyOptions,
    private readonly target: URL,
    private readonly agent: Agent,
  ) {}

  /** The table's schema when the configured source is an object (or describing is off): no need to wait. */
  known(table: string): TableKeySchema | undefined | typeof NOT_KNOWN {
    const source = this.options.keySchemas;
    if (typeof source === "function") return NOT_KNOWN;
    const configured = source?.[table];
    if (configured || this.options.describeTables === false) return configured;
    return NOT_KNOWN;
  }

  async get(table: string): Promise<TableKeySchema | undefined> {
    const source = this.options.keySchemas;
    const configured = typeof source === "function" ? await source(table) : source?.[table];
    if (configured || this.options.describeTables === false) return configured;
    let pending = this.described.get(table);
    if (!pending) {
      pending = describeTableKeySchema(this.target.href, table, this.agent);
      this.described.set(table, pending);
      // Unknown tables are not remembered: the table may be created later, directly on the target.
      pending.then(
        (schema) => schema === undefined && this.described.delete(table),
        () => this.described.delete(table),
      );
    }
    return pending;
  }

  forget(table: string): void {
    this.described.delete(table);
  }
}

/**
 * Reads a table's key schema (and its indexes') from a DynamoDB endpoint with `DescribeTable`. `undefined` when the
 * table does not exist. The request is signed with a placeholder credential: local engines do not verify signatures.
 */
export async function describeTableKeySchema(endpoint: string, table: string, agent?: Agent): Promise<TableKeySchema | undefined> {
  const described = await describeTable(endpoint, table, agent);
  return described ? keySchemaOf(described) : undefined;
}

/** A table's description from a DynamoDB endpoint (`DescribeTable`), `undefined` when the table does not exist. */
function describeTable(endpoint: string, table: string, agent?: Agent): Promise<DescribedTable | undefined> {
  const url = new URL(endpoint);
  const payload = JSON.stringify({ TableName: table });
  const date = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        method: "POST",
        path: "/",
        agent,
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "content-length": String(Buffer.byteLength(payload)),
          "x-amz-target": `${DYNAMODB_TARGET_PREFIX}DescribeTable`,
          "x-amz-date": date,
          authorization: `AWS4-HMAC-SHA256 Credential=local-iam-proxy/${date.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0`,
        },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.once("error", reject);
        answer.once("end", () => {
          let json: { __type?: string; Table?: DescribedTable };
          try {
            json = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof json;
          } catch (error) {
            reject(new Error(`DescribeTable ${table}: unreadable answer (${(error as Error).message})`));
            return;
          }
          if (answer.statusCode === 200 && json.Table) resolve(json.Table);
          else if (json.__type?.endsWith("ResourceNotFoundException")) resolve(undefined);
          else reject(new Error(`DescribeTable ${table}: ${answer.statusCode} ${json.__type ?? ""}`));
        });
      },
    );
    request.once("error", reject);
    request.end(payload);
  });
}

interface DescribedKeyElement {
  AttributeName?: string;
  KeyType?: string;
}
interface DescribedIndex {
  IndexName?: string;
  KeySchema?: DescribedKeyElement[];
}
interface DescribedTable {
  /** Epoch seconds. */
  CreationDateTime?: number;
  KeySchema?: DescribedKeyElement[];
  GlobalSecondaryIndexes?: DescribedIndex[];
  LocalSecondaryIndexes?: DescribedIndex[];
}

function keySchemaOf(table: DescribedTable): TableKeySchema | undefined {
  const keys = (elements: DescribedKeyElement[] | undefined): KeySchema | undefined => {
    const partitionKey = elements?.find((e) => e.KeyType === "HASH")?.AttributeName;
    if (!partitionKey) return undefined;
    const sortKey = elements?.find((e) => e.KeyType === "RANGE")?.AttributeName;
    return sortKey ? { partitionKey, sortKey } : { partitionKey };
  };
  const own = keys(table.KeySchema);
  if (!own) return undefined;
  const indexes: Record<string, KeySchema> = {};
  for (const index of [...(table.GlobalSecondaryIndexes ?? []), ...(table.LocalSecondaryIndexes ?? [])]) {
    const schema = keys(index.KeySchema);
    if (index.IndexName && schema) indexes[index.IndexName] = schema;
  }
  return { ...own, indexes };
}
