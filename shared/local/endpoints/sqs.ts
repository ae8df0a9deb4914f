import { createHash, randomUUID } from "node:crypto";
import { contextFromHeader, type RequestContext } from "../context";
import type * as Sqs from "@aws-sdk/client-sqs";
import { allowAll, denialMessage, type Authorizer } from "./authorization";
import { awsErrorParts, AwsServiceError, LOCAL_ACCOUNT_ID } from "../aws";
import { parseQuery, type QueryObject } from "./query-protocol";
import type { EndpointRequest, EndpointResponse, ServiceEndpoint } from "./server";
import { queueUrlFromPath, sqsQueryError, sqsQueryInput, sqsQueryResponse } from "./sqs-query";

/** Who is calling, passed to the backend with every request. */
export interface SqsCall {
  /**
   * Who calls (the access key id, see `AuthorizationRequest.principal`), the call's own span under the `Parent` of
   * the `X-Amzn-Trace-Id` the SDK sent (it forwards `_X_AMZN_TRACE_ID` inside Lambda), and that header as sent.
   */
  context: RequestContext;
  region: string;
  requestId: string;
  /** Aborted when the client goes away or the endpoint closes: a long poll should then answer at once. */
  signal: AbortSignal;
}

/**
 * The SQS service behind the endpoint, in the SQS API's own shapes (as `@aws-sdk/client-sqs` types them: binary
 * attribute values as bytes), so an engine speaking the API's vocabulary plugs in with little glue. Methods throw an
 * error with an AWS `code` for what AWS would reject: `AWS.SimpleQueueService.NonExistentQueue` (or
 * `QueueDoesNotExist`), `ReceiptHandleIsInvalid`, `InvalidParameterValue`, ...
 */
export interface SqsBackend {
  sendMessage(input: Sqs.SendMessageRequest, call: SqsCall): Promise<Sqs.SendMessageResult>;
  sendMessageBatch(input: Sqs.SendMessageBatchRequest, call: SqsCall): Promise<Sqs.SendMessageBatchResult>;
  /** Long-polls when `WaitTimeSeconds` (or the queue's default) is above 0; ends early when `call.signal` aborts. */
  receiveMessage(input: Sqs.ReceiveMessageRequest, call: SqsCall): Promise<Sqs.ReceiveMessageResult>;
  deleteMessage(input: Sqs.DeleteMessageRequest, call: SqsCall): Promise<void>;
  deleteMessageBatch(input: Sqs.DeleteMessageBatchRequest, call: SqsCall): Promise<Sqs.DeleteMessageBatchResult>;
  changeMessageVisibility(input: Sqs.ChangeMessageVisibilityRequest, call: SqsCall): Promise<void>;
  getQueueAttributes(input: Sqs.GetQueueAttributesRequest, call: SqsCall): Promise<Sqs.GetQueueAttributesResult>;
  getQueueUrl(input: Sqs.GetQueueUrlRequest, call: SqsCall): Promise<Sqs.GetQueueUrlResult>;
  listQueues(input: Sqs.ListQueuesRequest, call: SqsCall): Promise<Sqs.ListQueuesResult>;
  /** Optional operations: without them the endpoint answers `UnsupportedOperation`. */
  changeMessageVisibilityBatch?(input: Sqs.ChangeMessageVisibilityBatchRequest, call: SqsCall): Promise<Sqs.ChangeMessageVisibilityBatchResult>;
  purgeQueue?(input: Sqs.PurgeQueueRequest, call: SqsCall): Promise<void>;
  createQueue?(input: Sqs.CreateQueueRequest, call: SqsCall): Promise<Sqs.CreateQueueResult>;
  deleteQueue?(input: Sqs.DeleteQueueRequest, call: SqsCall): Promise<void>;
  setQueueAttributes?(input: Sqs.SetQueueAttributesRequest, call: SqsCall): Promise<void>;
  /**
   * The ARN of the queue at a URL, for authorization.
   * @default `arn:aws:sqs:<region>:<account>:<name>` from a URL ending in `/<account>/<name>`
   */
  queueArn?(queueUrl: string): string | undefined;
}

/** Options of {@link createSqsEndpoint}. */
export interface SqsEndpointOptions {
  backend: SqsBackend;
  /**
   * Called before every operation; a denial answers `AccessDenied` (HTTP 403).
   * @default allow everything
   */
  authorize?: Authorizer;
  /**
   * Account of ARNs the endpoint builds (`GetQueueUrl` without an owner, `CreateQueue`) and of denial messages.
   * @default LOCAL_ACCOUNT_ID
   */
  accountId?: string;
  /**
   * Region of ARNs the endpoint builds.
   * @default the region the request was signed for
   */
  region?: string;
}

/** SQS errors the SDK models: shape name (the exception class), wire code (`x-amzn-query-error`), HTTP status. */
const MODELED_ERRORS: ReadonlyArray<readonly [shape: string, queryCode: string, status: number]> = [
  ["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400],
  ["BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400],
  ["BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400],
  ["EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400],
  ["InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400],
  ["TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400],
  ["UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400],
  ["MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400],
  ["PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403],
  ["QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400],
  ["QueueNameExists", "QueueAlreadyExists", 400],
  ["ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404],
  ["InvalidAddress", "InvalidAddress", 404],
  ["InvalidSecurity", "InvalidSecurity", 403],
  ["OverLimit", "OverLimit", 403],
  ["RequestThrottled", "RequestThrottled", 403],
  ["ResourceNotFoundException", "ResourceNotFoundException", 404],
  ["InvalidAttributeName", "InvalidAttributeName", 400],
  ["InvalidAttributeValue", "InvalidAttributeValue", 400],
  ["InvalidIdFormat", "InvalidIdFormat", 400],
  ["InvalidMessageContents", "InvalidMessageContents", 400],
];
const BY_CODE = new Map<string, (typeof MODELED_ERRORS)[number]>();
for (const error of MODELED_ERRORS) {
  BY_CODE.set(error[0], error);
  BY_CODE.set(error[1], error);
}
/** Unmodeled codes with a status other than 400. */
const STATUS: Record<string, number> = { AccessDenied: 403, MissingAuthenticationToken: 403, InternalError: 500, ServiceUnavailable: 503 };


type Operation = {
  /** The IAM action. */
  action: string;
  /** What the action is on: a queue from its URL, a queue from its name, or no resource (`*`). */
  resource: "queueUrl" | "queueName" | "none";
  run: (backend: SqsBackend, input: Record<string, unknown>, call: SqsCall) => Promise<unknown> | undefined;
};

/** An operation whose input the backend takes in the SDK's shape. */
function operation<Input>(
  action: string,
  resource: Operation["resource"],
  run: (backend: SqsBackend, input: Input, call: SqsCall) => Promise<unknown> | undefined,
): Operation {
  return { action, resource, run: (backend, input, call) => run(backend, input as unknown as Input, call) };
}

const OPERATIONS: Record<string, Operation> = {
  SendMessage: operation<Sqs.SendMessageRequest>("sqs:SendMessage", "queueUrl", async (backend, input, call) => {
    const result = await backend.sendMessage(input, call);
    // The SDK checks MD5OfMessageBody against the body it sent.
    return { ...result, MD5OfMessageBody: result.MD5OfMessageBody ?? md5(input.MessageBody ?? "") };
  }),
  SendMessageBatch: operation<Sqs.SendMessageBatchRequest>("sqs:SendMessage", "queueUrl", async (backend, input, call) => {
    const result = await backend.sendMessageBatch(input, call);
    const bodies = new Map((input.Entries ?? []).map((entry) => [entry.Id, entry.MessageBody ?? ""]));
    return {
      ...result,
      Successful: (result.Successful ?? []).map((entry) => ({
        ...entry,
        MD5OfMessageBody: entry.MD5OfMessageBody ?? md5(bodies.get(entry.Id) ?? ""),
      })),
      Failed: result.Failed ?? [],
    };
  }),
  ReceiveMessage: operation<Sqs.ReceiveMessageRequest>("sqs:ReceiveMessage", "queueUrl", async (backend, input, call) => {
    const result = await backend.receiveMessage(input, call);
    if (!result.Messages?.length) return {};
    return { ...result, Messages: result.Messages.map((message) => ({ ...message, MD5OfBody: message.MD5OfBody ?? md5(message.Body ?? "") })) };
  }),
  DeleteMessage: operation<Sqs.DeleteMessageRequest>("sqs:DeleteMessage", "queueUrl", (backend, input, call) => backend.deleteMessage(input, call)),
  DeleteMessageBatch: operation<Sqs.DeleteMessageBatchRequest>("sqs:DeleteMessage", "queueUrl", (backend, input, call) =>
    backend.deleteMessageBatch(input, call),
  ),
  ChangeMessageVisibility: operation<Sqs.ChangeMessageVisibilityRequest>("sqs:ChangeMessageVisibility", "queueUrl", (backend, input, call) =>
    backend.changeMessageVisibility(input, call),
  ),
  ChangeMessageVisibilityBatch: operation<Sqs.ChangeMessageVisibilityBatchRequest>("sqs:ChangeMessageVisibility", "queueUrl", (backend, input, call) =>
    backend.changeMessageVisibilityBatch?.(input, call),
  ),
  GetQueueAttributes: operation<Sqs.GetQueueAttributesRequest>("sqs:GetQueueAttributes", "queueUrl", (backend, input, call) =>
    backend.getQueueAttributes(input, call),
  ),
  GetQueueUrl: operation<Sqs.GetQueueUrlRequest>("sqs:GetQueueUrl", "queueName", (backend, input, call) => backend.getQueueUrl(input, call)),
  ListQueues: operation<Sqs.ListQueuesRequest>("sqs:ListQueues", "none", (backend, input, call) => backend.listQueues(input, call)),
  PurgeQueue: operation<Sqs.PurgeQueueRequest>("sqs:PurgeQueue", "queueUrl", (backend, input, call) => backend.purgeQueue?.(input, call)),
  CreateQueue: operation<Sqs.CreateQueueRequest>("sqs:CreateQueue", "queueName", (backend, input, call) => backend.createQueue?.(input, call)),
  DeleteQueue: operation<Sqs.DeleteQueueRequest>("sqs:DeleteQueue", "queueUrl", (backend, input, call) => backend.deleteQueue?.(input, call)),
  SetQueueAttributes: operation<Sqs.SetQueueAttributesRequest>("sqs:SetQueueAttributes", "queueUrl", (backend, input, call) =>
    backend.setQueueAttributes?.(input, call),
  ),
};

/** The optional backend method behind each optional operation. */
const OPTIONAL: Record<string, keyof SqsBackend> = {
  ChangeMessageVisibilityBatch: "changeMessageVisibilityBatch",
  PurgeQueue: "purgeQueue",
  CreateQueue: "createQueue",
  DeleteQueue: "deleteQueue",
  SetQueueAttributes: "setQueueAttributes",
};

const TARGET_PREFIX = "AmazonSQS.";

/**
 * The SQS API on HTTP, in both protocols AWS accepts:
 * - AWS JSON 1.0, as `@aws-sdk/client-sqs` 3.1169 speaks it (`POST /` with `X-Amz-Target: AmazonSQS.<Operation>`, JSON
 *   bodies, binary values in base64) in its query-compatible form (errors carry `x-amzn-query-error: <code>;Sender`,
 *   from which the SDK picks the exception class: `QueueDoesNotExist`, `ReceiptHandleIsInvalid`, ...; an unmodeled
 *   code such as `AccessDenied` arrives as an `SQSServiceException` of that name);
 * - the Query protocol older SDKs and the AWS CLI 2.9 send (form-encoded `Action=<Operation>&Version=2012-11-05`,
 *   in the body or the URL, posted to `/` or to the queue's URL; XML answers and XML `ErrorResponse`s), see
 *   `sqs-query.ts`.
 * Both run the same operations in the SDK's shapes. Every operation is authorized first with the caller's access key
 * id.
 *
 * @example
 * const sqs = createSqsEndpoint({ backend: sqsEngineAdapter, authorize: (request) => policy.allows(request) });
 * const server = await startEndpointServer({ services: [sqs] });
 */
export function createSqsEndpoint(options: SqsEndpointOptions): ServiceEndpoint {
  const { backend } = options;
  const authorize = options.authorize ?? allowAll;
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;

  async function handle(request: EndpointRequest): Promise<EndpointResponse> {
    const requestId = randomUUID();
    const target = String(request.headers["x-amz-target"] ?? "");
    const query = target.startsWith(TARGET_PREFIX) ? undefined : queryParams(request);
    try {
      let operationName: string;
      if (query === undefined) {
        operationName = target.slice(TARGET_PREFIX.length);
      } else {
        operationName = typeof query.Action === "string" ? query.Action : "";
        if (!operationName) {
          throw new AwsServiceError(
            "MissingAction",
            "The request must contain an Action: the local SQS endpoint speaks AWS JSON 1.0 (X-Amz-Target: AmazonSQS.<Operation>) and the Query protocol (Action=<Operation>).",
          );
        }
      }
      const operation = OPERATIONS[operationName];
      if (!operation) throw new AwsServiceError("InvalidAction", `The action ${operationName} is not valid for this endpoint.`);
      if (!request.credential) throw new AwsServiceError("MissingAuthenticationToken", "Request is missing Authentication Token");
      const optional = OPTIONAL[operationName];
      if (optional && typeof backend[optional] !== "function") {
        throw new AwsServiceError("AWS.SimpleQueueService.UnsupportedOperation", `${operationName} is not supported by the local SQS endpoint.`);
      }
      const host = request.headers.host;
      const input =
        query === undefined ? parseBody(request.body) : sqsQueryInput(operationName, query, queueUrlFromPath(typeof host === "string" ? host : undefined, request.url));
      const region = options.region ?? request.credential.region;
      const trace = request.headers["x-amzn-trace-id"];
      const call: SqsCall = {
        context: contextFromHeader(typeof trace === "string" ? trace : undefined, request.credential.accessKeyId),
        region,
        requestId,
        signal: request.signal,
      };
      const resource = resourceOf(operation, input, region);
      const denied = await denialMessage(
        authorize,
        {
          principal: call.context.principal,
          action: operation.action,
          resource,
          context: {
            operation: operationName,
            service: "sqs",
            region,
            requestId,
            requestContext: call.context,
            conditionKeys: { "aws:RequestedRegion": region, "aws:SourceIp": request.remoteAddress, "aws:CurrentTime": new Date().toISOString() },
          },
        },
        accountId,
      );
      if (denied) throw new AwsServiceError("AccessDenied", denied);
      const output = (await operation.run(backend, input, call)) ?? {};
      if (query !== undefined) return xml(200, sqsQueryResponse(operationName, output as Record<string, unknown>, requestId), requestId);
      return json(200, JSON.stringify(output, encodeBinary), requestId, undefined);
    } catch (error) {
      return errorResponse(error, requestId, query !== undefined);
    }
  }

  function resourceOf(operation: Operation, input: Record<string, unknown>, region: string): string {
    if (operation.resource === "none") return "*";
    if (operation.resource === "queueName") {
      const name = requiredString(input, "QueueName");
      const owner = typeof input.QueueOwnerAWSAccountId === "string" ? input.QueueOwnerAWSAccountId : accountId;
      return `arn:aws:sqs:${region}:${owner}:${name}`;
    }
    const queueUrl = requiredString(input, "QueueUrl");
    const arn = backend.queueArn?.(queueUrl) ?? arnFromQueueUrl(queueUrl, region);
    if (!arn) throw new AwsServiceError("InvalidAddress", `The address ${queueUrl} is not valid for this endpoint.`);
    return arn;
  }

  return {
    service: "sqs",
    matches: (request) => {
      if (String(request.headers["x-amz-target"] ?? "").startsWith(TARGET_PREFIX)) return true;
      const action = queryParams(request)?.Action;
      return typeof action === "string" && action in OPERATIONS;
    },
    handle,
  };
}

/** `arn:aws:sqs:<region>:<account>:<name>` from a queue URL ending in `/<account>/<name>`. */
export function arnFromQueueUrl(queueUrl: string, region: string): string | undefined {
  let path: string;
  try {
    path = new URL(queueUrl).pathname;
  } catch {
    return undefined;
  }
  const parts = path.split("/").filter(Boolean);
  const [account, name] = parts.slice(-2);
  if (parts.length < 2 || !account || !name || !/^\d{12}$/.test(account)) return undefined;
  return `arn:aws:sqs:${region}:${account}:${decodeURIComponent(name)}`;
}

function requiredString(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (typeof value !== "string" || value === "") throw new AwsServiceError("MissingParameter", `The request must contain the parameter ${key}.`);
  return value;
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    // Binary attribute values travel as base64: the backend gets bytes, as the SDK types them.
    parsed = JSON.parse(body.toString("utf8"), (key, value: unknown) => {
      if (key === "BinaryValue" && typeof value === "string") return Buffer.from(value, "base64");
      if (key === "BinaryListValues" && Array.isArray(value)) return value.map((item) => (typeof item === "string" ? Buffer.from(item, "base64") : item));
      return value;
    });
  } catch {
    throw new AwsServiceError("SerializationException", "The request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new AwsServiceError("SerializationException", "The request body must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

/** JSON replacer: bytes (a `BinaryValue`) as base64. `this` is the holder, whose value is seen before `toJSON`. */
function encodeBinary(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return Buffer.from(original).toString("base64");
  return value;
}

function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/**
 * The parameters of a Query-protocol request (form body and URL query string), or `undefined` when the request is
 * not one (no form body and no `Action` in the URL).
 */
function queryParams(request: EndpointRequest): QueryObject | undefined {
  const form = String(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
  const at = request.url.indexOf("?");
  const search = at >= 0 ? request.url.slice(at + 1) : "";
  if (!form && !/(^|&)Action=/.test(search)) return undefined;
  return parseQuery([search, form ? request.body.toString("utf8") : ""].filter(Boolean).join("&"));
}

function errorResponse(error: unknown, requestId: string, query: boolean): EndpointResponse {
  const aws = awsErrorParts(error);
  if (!aws) {
    const detail = error instanceof Error ? error.message : String(error);
    const message = `The local SQS backend failed: ${detail}`;
    if (query) return xml(500, sqsQueryError("InternalError", message, false, requestId), requestId);
    const body = JSON.stringify({ __type: "com.amazonaws.sqs#InternalError", message });
    return json(500, body, requestId, "InternalError;Receiver");
  }
  const modeled = BY_CODE.get(aws.code);
  const queryCode = modeled?.[1] ?? aws.code;
  const shape = modeled?.[0] ?? aws.code;
  const status = aws.status ?? modeled?.[2] ?? STATUS[aws.code] ?? (aws.senderFault ? 400 : 500);
  const sender = aws.senderFault && status < 500;
  if (query) return xml(status, sqsQueryError(queryCode, aws.message, sender, requestId), requestId);
  const type = aws.code === "AccessDenied" ? "com.amazon.coral.service#AccessDeniedException" : `com.amazonaws.sqs#${shape}`;
  return json(status, JSON.stringify({ __type: type, message: aws.message }), requestId, `${queryCode};${sender ? "Sender" : "Receiver"}`);
}

function xml(status: number, body: string, requestId: string): EndpointResponse {
  return { status, headers: { "content-type": "text/xml", "x-amzn-requestid": requestId }, body };
}

function json(status: number, body: string, requestId: string, queryError: string | undefined): EndpointResponse {
  const headers: Record<string, string> = { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": requestId };
  if (queryError) headers["x-amzn-query-error"] = queryError;
  return { status, headers, body };
}
