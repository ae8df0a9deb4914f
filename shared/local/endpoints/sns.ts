import { randomUUID } from "node:crypto";
import { childContext, contextFromHeader, type RequestContext } from "../context";
import type * as Sns from "@aws-sdk/client-sns";
import { allowAll, denialMessage, type Authorizer } from "./authorization";
import { awsErrorParts, AwsServiceError, LOCAL_ACCOUNT_ID } from "../aws";
import {
  element,
  parseQuery,
  queryErrorResponse,
  queryList,
  queryMap,
  queryObject,
  queryResponse,
  queryString,
  type QueryObject,
  type QueryValue,
  type XmlContent,
} from "./query-protocol";
import type { EndpointRequest, EndpointResponse, ServiceEndpoint } from "./server";

const NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/";

/**
 * A `Publish` request in the SDK's shape (`PublishInput` of `@aws-sdk/client-sns`), with what the endpoint checked:
 * the topic (`TopicArn`, or `TargetArn` when that names a topic) and a non-empty message; message attributes carry
 * their data type and value (binary values decoded).
 */
export type SnsPublishInput = Sns.PublishInput & { TopicArn: string; Message: string };

/** One `PublishBatch` entry in the SDK's shape, its id and message checked. */
export type SnsPublishBatchEntry = Sns.PublishBatchRequestEntry & { Id: string; Message: string };

/** A `PublishBatch` request in the SDK's shape (`PublishBatchInput`): the topic and 1 to 10 entries with distinct ids. */
export type SnsPublishBatchInput = Sns.PublishBatchInput & { TopicArn: string; PublishBatchRequestEntries: SnsPublishBatchEntry[] };

/** Who is calling, passed to the backend with every request. */
export interface SnsCall {
  /**
   * Who calls (the access key id, see `AuthorizationRequest.principal`), the call's own span under the `Parent` of
   * the `X-Amzn-Trace-Id` the SDK sent (it forwards `_X_AMZN_TRACE_ID` inside Lambda), and that header as sent.
   */
  context: RequestContext;
  region: string;
  requestId: string;
}

/**
 * The SNS service behind the endpoint (the local stage plugs its in-process engine in). Methods throw an error with an
 * AWS `code` (`AwsServiceError`, or any error with `code`) for what AWS would reject: `NotFound` for a missing topic,
 * `InvalidParameter`, ...
 */
export interface SnsBackend {
  publish(input: SnsPublishInput, call: SnsCall): Promise<Sns.PublishResponse>;
  /**
   * `PublishBatch`. Each entry is a publish of its own, traced as one Publish would be: `call.context` is the
   * caller's (its span is the one the `X-Amzn-Trace-Id` names as `Parent`), and each entry's publish gets a span under
   * it (`childContext`), so the entries of one batch, each in its own conversation (correlation id), hang under the
   * function that sent them. (In X-Ray a PublishBatch is one segment; what travels on per entry is its envelope's
   * `traceparent`.)
   * @default each entry through `publish` with a span of its own under the caller, its AWS errors reported as that
   * entry's failure
   */
  publishBatch?(input: SnsPublishBatchInput, call: SnsCall): Promise<Sns.PublishBatchResponse>;
  /** `CreateTopic` (the endpoint answers `InvalidAction` without it); `Name` is checked. */
  createTopic?(input: Sns.CreateTopicInput & { Name: string }, call: SnsCall): Promise<Sns.CreateTopicResponse>;
  /** `ListTopics` (the endpoint answers `InvalidAction` without it). */
  listTopics?(input: Sns.ListTopicsInput, call: SnsCall): Promise<Sns.ListTopicsResponse>;
  /** `Subscribe` (the endpoint answers `InvalidAction` without it); `TopicArn` and `Protocol` are checked. */
  subscribe?(input: Sns.SubscribeInput & { TopicArn: string; Protocol: string }, call: SnsCall): Promise<Sns.SubscribeResponse>;
  /**
   * The read operations a developer inspects a stage with, in the SDK's shapes (the endpoint answers `InvalidAction`
   * without them). Missing topics and subscriptions throw `NotFound` (`Topic does not exist`, `Subscription does not
   * exist`), as SNS does.
   */
  listSubscriptions?(input: Sns.ListSubscriptionsInput, call: SnsCall): Promise<Sns.ListSubscriptionsResponse>;
  listSubscriptionsByTopic?(input: Sns.ListSubscriptionsByTopicInput, call: SnsCall): Promise<Sns.ListSubscriptionsByTopicResponse>;
  getTopicAttributes?(input: Sns.GetTopicAttributesInput, call: SnsCall): Promise<Sns.GetTopicAttributesResponse>;
  getSubscriptionAttributes?(input: Sns.GetSubscriptionAttributesInput, call: SnsCall): Promise<Sns.GetSubscriptionAttributesResponse>;
}

/** Options of {@link createSnsEndpoint}. */
export interface SnsEndpointOptions {
  backend: SnsBackend;
  /**
   * Called before every operation; a denial answers `AuthorizationError` (HTTP 403).
   * @default allow everything
   */
  authorize?: Authorizer;
  /**
   * Account of ARNs the endpoint builds (`CreateTopic`'s resource) and of denial messages.
   * @default LOCAL_ACCOUNT_ID
   */
  accountId?: string;
  /**
   * Region of ARNs the endpoint builds.
   * @default the region the request was signed for
   */
  region?: string;
}

/** HTTP status AWS answers with per SNS error code (the rest: 400 for a sender fault, 500 otherwise). */
const STATUS: Record<string, number> = {
  AuthorizationError: 403,
  FilterPolicyLimitExceeded: 403,
  InvalidSecurity: 403,
  KMSOptInRequired: 403,
  MissingAuthenticationToken: 403,
  NotFound: 404,
  ResourceNotFound: 404,
  SubscriptionLimitExceeded: 403,
  TopicLimitExceeded: 403,
  Throttled: 429,
  InternalError: 500,
};

/** SDK exception names a backend may throw as codes, and the wire code SNS uses for them. */
const CODE_OF_EXCEPTION: Record<string, string> = {
  NotFoundException: "NotFound",
  InvalidParameterException: "InvalidParameter",
  InvalidParameterValueException: "ParameterValueInvalid",
  AuthorizationErrorException: "AuthorizationError",
  ThrottledException: "Throttled",
  InternalErrorException: "InternalError",
  EmptyBatchRequestException: "EmptyBatchRequest",
  TooManyEntriesInBatchRequestException: "TooManyEntriesInBatchRequest",
  BatchEntryIdsNotDistinctException: "BatchEntryIdsNotDistinct",
  InvalidBatchEntryIdException: "InvalidBatchEntryId",
  BatchRequestTooLongException: "BatchRequestTooLong",
  ValidationException: "ValidationException",
};

const ACTIONS = new Set([
  "Publish",
  "PublishBatch",
  "CreateTopic",
  "ListTopics",
  "Subscribe",
  "ListSubscriptions",
  "ListSubscriptionsByTopic",
  "GetTopicAttributes",
  "GetSubscriptionAttributes",
]);
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
const MAX_BATCH_ENTRIES = 10;


/**
 * The SNS API on HTTP, as `@aws-sdk/client-sns` speaks it: the AWS Query protocol (form-encoded `Action=Publish&...`,
 * XML answers, XML `ErrorResponse`s whose `Code` selects the SDK exception: `NotFound` -> `NotFoundException`,
 * `AuthorizationError` -> `AuthorizationErrorException`, ...). Supports `Publish` and `PublishBatch`, plus `CreateTopic`,
 * `ListTopics`, `Subscribe` and the read operations `ListSubscriptions`, `ListSubscriptionsByTopic`,
 * `GetTopicAttributes` and `GetSubscriptionAttributes` when the backend has them. Every operation is authorized first
 * with the caller's access key id.
 *
 * @example
 * const sns = createSnsEndpoint({
 *   backend: { publish: async (request) => ({ messageId: await engine.publish(request) }) },
 *   authorize: (request) => iam.authorize(request),
 * });
 * const server = await startEndpointServer({ services: [sns] });
 */
export function createSnsEndpoint(options: SnsEndpointOptions): ServiceEndpoint {
  const { backend } = options;
  const authorize = options.authorize ?? allowAll;
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;

  async function handle(request: EndpointRequest): Promise<EndpointResponse> {
    const requestId = randomUUID();
    try {
      const params = parseQuery(request.body.toString("utf8"));
      const action = queryString(params, "Action") ?? "";
      if (!request.credential) throw new AwsServiceError("MissingAuthenticationToken", "Request is missing Authentication Token");
      if (!ACTIONS.has(action)) throw new AwsServiceError("InvalidAction", `The action ${action || "(none)"} is not valid for this web service.`);
      const region = options.region ?? request.credential.region;
      const trace = request.headers["x-amzn-trace-id"];
      const call: SnsCall = {
        context: contextFromHeader(typeof trace === "string" ? trace : undefined, request.credential.accessKeyId),
        region,
        requestId,
      };
      const check = async (iamAction: string, resource: string): Promise<void> => {
        const denied = await denialMessage(
          authorize,
          {
            principal: call.context.principal,
            action: iamAction,
            resource,
            context: {
              operation: action,
              service: "sns",
              region,
              requestId,
              requestContext: call.context,
              conditionKeys: {
                "aws:RequestedRegion": region,
                "aws:SourceIp": request.remoteAddress,
                "aws:CurrentTime": new Date().toISOString(),
              },
            },
          },
          accountId,
        );
        if (denied) throw new AwsServiceError("AuthorizationError", denied);
      };
      const result = await run(action, params, call, check);
      return xml(200, queryResponse(NAMESPACE, action, result, requestId), requestId);
    } catch (error) {
      return errorResponse(error, requestId);
    }
  }

  async function run(
    action: string,
    params: QueryObject,
    call: SnsCall,
    check: (iamAction: string, resource: string) => Promise<void>,
  ): Promise<XmlContent> {
    switch (action) {
      case "Publish": {
        const publish = publishRequest(params);
        await check("sns:Publish", publish.TopicArn);
        const result = await backend.publish(publish, call);
        return [element("MessageId", result.MessageId), element("SequenceNumber", result.SequenceNumber)];
      }
      case "PublishBatch": {
        const batch = publishBatchRequest(params);
        await check("sns:Publish", batch.TopicArn);
        const entriesCall: SnsCall = { ...call, context: callerContext(call.context) };
        const result = backend.publishBatch ? await backend.publishBatch(batch, entriesCall) : await publishEach(backend, batch, entriesCall);
        return [
          element(
            "Successful",
            (result.Successful ?? []).map((entry) =>
              element("member", [element("Id", entry.Id), element("MessageId", entry.MessageId), element("SequenceNumber", entry.SequenceNumber)]),
            ),
          ),
          element(
            "Failed",
            (result.Failed ?? []).map((entry) =>
              element("member", [
                element("Id", entry.Id),
                element("Code", wireCode(entry.Code ?? "")),
                element("Message", entry.Message),
                element("SenderFault", entry.SenderFault),
              ]),
            ),
          ),
        ];
      }
      case "CreateTopic": {
        const name = required(params, "Name");
        const createTopic = backend.createTopic?.bind(backend) ?? unsupported(action);
        await check("sns:CreateTopic", `arn:aws:sns:${call.region}:${accountId}:${name}`);
        const tags = Object.fromEntries(
          queryList(params, "Tags").flatMap((tag) =>
            typeof tag === "object" && queryString(tag, "Key") !== undefined ? [[queryString(tag, "Key")!, queryString(tag, "Value") ?? ""]] : [],
          ),
        );
        const result = await createTopic(
          { Name: name, Attributes: stringMap(params, "Attributes"), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
          call,
        );
        return element("TopicArn", result.TopicArn);
      }
      case "ListTopics": {
        const listTopics = backend.listTopics?.bind(backend) ?? unsupported(action);
        await check("sns:ListTopics", `arn:aws:sns:${call.region}:${accountId}:*`);
        const nextToken = queryString(params, "NextToken");
        const result = await listTopics(nextToken === undefined ? {} : { NextToken: nextToken }, call);
        return [
          element(
            "Topics",
            (result.Topics ?? []).map((topic) => element("member", element("TopicArn", topic.TopicArn))),
          ),
          element("NextToken", result.NextToken),
        ];
      }
      case "Subscribe": {
        const topicArn = required(params, "TopicArn");
        const protocol = required(params, "Protocol");
        const subscribe = backend.subscribe?.bind(backend) ?? unsupported(action);
        await check("sns:Subscribe", topicArn);
        const endpoint = queryString(params, "Endpoint");
        const result = await subscribe(
          {
            TopicArn: topicArn,
            Protocol: protocol,
            ...(endpoint === undefined ? {} : { Endpoint: endpoint }),
            Attributes: stringMap(params, "Attributes"),
            ReturnSubscriptionArn: queryString(params, "ReturnSubscriptionArn") === "true",
          },
          call,
        );
        return element("SubscriptionArn", result.SubscriptionArn);
      }
      case "ListSubscriptions": {
        const listSubscriptions = backend.listSubscriptions?.bind(backend) ?? unsupported(action);
        await check("sns:ListSubscriptions", `arn:aws:sns:${call.region}:${accountId}:*`);
        const nextToken = queryString(params, "NextToken");
        return subscriptionList(await listSubscriptions(nextToken === undefined ? {} : { NextToken: nextToken }, call));
      }
      case "ListSubscriptionsByTopic": {
        const topicArn = required(params, "TopicArn");
        const listSubscriptionsByTopic = backend.listSubscriptionsByTopic?.bind(backend) ?? unsupported(action);
        await check("sns:ListSubscriptionsByTopic", topicArn);
        const nextToken = queryString(params, "NextToken");
        return subscriptionList(await listSubscriptionsByTopic({ TopicArn: topicArn, ...(nextToken === undefined ? {} : { NextToken: nextToken }) }, call));
      }
      case "GetTopicAttributes": {
        const topicArn = required(params, "TopicArn");
        const getTopicAttributes = backend.getTopicAttributes?.bind(backend) ?? unsupported(action);
        await check("sns:GetTopicAttributes", topicArn);
        return attributeMap((await getTopicAttributes({ TopicArn: topicArn }, call)).Attributes);
      }
      case "GetSubscriptionAttributes": {
        const subscriptionArn = required(params, "SubscriptionArn");
        const getSubscriptionAttributes = backend.getSubscriptionAttributes?.bind(backend) ?? unsupported(action);
        // The action has no resource type in IAM (as ListTopics and ListSubscriptions): it is checked on the account.
        await check("sns:GetSubscriptionAttributes", `arn:aws:sns:${call.region}:${accountId}:*`);
        return attributeMap((await getSubscriptionAttributes({ SubscriptionArn: subscriptionArn }, call)).Attributes);
      }
      default:
        throw new AwsServiceError("InvalidAction", `The action ${action} is not valid for this web service.`);
    }
  }

  return {
    service: "sns",
    matches: (request) => isForm(request) && ACTIONS.has(queryString(parseQuery(request.body.toString("utf8")), "Action") ?? ""),
    handle,
  };
}

/** `<Subscriptions><member>...</member></Subscriptions><NextToken/>`, as both list operations answer. */
function subscriptionList(result: { Subscriptions?: Sns.Subscription[] | undefined; NextToken?: string | undefined }): XmlContent {
  return [
    element(
      "Subscriptions",
      (result.Subscriptions ?? []).map((subscription) =>
        element("member", [
          element("TopicArn", subscription.TopicArn),
          element("Protocol", subscription.Protocol),
          element("SubscriptionArn", subscription.SubscriptionArn),
          element("Owner", subscription.Owner),
          element("Endpoint", subscription.Endpoint),
        ]),
      ),
    ),
    element("NextToken", result.NextToken),
  ];
}

/** `<Attributes><entry><key/><value/></entry>...</Attributes>`. */
function attributeMap(attributes: Record<string, string> | undefined): XmlContent {
  return element(
    "Attributes",
    Object.entries(attributes ?? {}).map(([key, value]) => element("entry", [element("key", key), element("value", value)])),
  );
}

function unsupported(action: string): never {
  throw new AwsServiceError("InvalidAction", `The action ${action} is not supported by the local SNS endpoint.`);
}

function isForm(request: EndpointRequest): boolean {
  return String(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
}

function required(params: QueryObject, key: string): string {
  const value = queryString(params, key);
  if (value === undefined || value === "") throw new AwsServiceError("InvalidParameter", `Invalid parameter: ${key} Reason: no value for required parameter`);
  return value;
}

function stringMap(params: QueryObject, key: string): Record<string, string> {
  return Object.fromEntries(queryMap(params, key, "key", "value").map(([name, value]) => [name, typeof value === "string" ? value : ""]));
}

function messageAttributes(params: QueryObject): Record<string, Sns.MessageAttributeValue> {
  const attributes: Record<string, Sns.MessageAttributeValue> = {};
  for (const [name, value] of queryMap(params, "MessageAttributes", "Name", "Value")) {
    const node = typeof value === "object" ? value : undefined;
    const dataType = queryString(node, "DataType");
    if (!dataType) throw new AwsServiceError("ParameterValueInvalid", `The message attribute '${name}' must contain non-empty message attribute type.`);
    const stringValue = queryString(node, "StringValue");
    const binaryValue = queryString(node, "BinaryValue");
    const binary = dataType === "Binary" || dataType.startsWith("Binary.");
    if (binary ? binaryValue === undefined : stringValue === undefined) {
      throw new AwsServiceError(
        "ParameterValueInvalid",
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType}'.`,
      );
    }
    attributes[name] = binary ? { DataType: dataType, BinaryValue: Buffer.from(binaryValue!, "base64") } : { DataType: dataType, StringValue: stringValue! };
  }
  return attributes;
}

/** The fields a `Publish` and a `PublishBatch` entry share. */
function messageFields(params: QueryObject): Omit<SnsPublishInput, "TopicArn"> {
  const message = queryString(params, "Message");
  if (message === undefined) {
    throw new AwsServiceError("ValidationError", "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null");
  }
  if (message === "") throw new AwsServiceError("InvalidParameter", "Invalid parameter: Empty message");
  const optional = (key: string): string | undefined => queryString(params, key);
  const subject = optional("Subject");
  const messageStructure = optional("MessageStructure");
  const messageGroupId = optional("MessageGroupId");
  const messageDeduplicationId = optional("MessageDeduplicationId");
  const attributes = messageAttributes(params);
  return {
    Message: message,
    ...(Object.keys(attributes).length ? { MessageAttributes: attributes } : {}),
    ...(subject === undefined ? {} : { Subject: subject }),
    ...(messageStructure === undefined ? {} : { MessageStructure: messageStructure }),
    ...(messageGroupId === undefined ? {} : { MessageGroupId: messageGroupId }),
    ...(messageDeduplicationId === undefined ? {} : { MessageDeduplicationId: messageDeduplicationId }),
  };
}

function publishRequest(params: QueryObject): SnsPublishInput {
  if (queryString(params, "PhoneNumber") !== undefined) {
    throw new AwsServiceError("InvalidParameter", "Invalid parameter: PhoneNumber Reason: the local SNS endpoint publishes to topics only");
  }
  const topicArn = queryString(params, "TopicArn") || queryString(params, "TargetArn");
  if (!topicArn) throw new AwsServiceError("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
  return { TopicArn: topicArn, ...messageFields(params) };
}

function publishBatchRequest(params: QueryObject): SnsPublishBatchInput {
  const topicArn = required(params, "TopicArn");
  const members = queryList(params, "PublishBatchRequestEntries").filter((entry): entry is QueryObject => typeof entry === "object");
  if (members.length === 0) throw new AwsServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries.");
  if (members.length > MAX_BATCH_ENTRIES) throw new AwsServiceError("TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.");
  const ids = new Set<string>();
  const entries = members.map((member: QueryValue) => {
    const entry = member as QueryObject;
    const id = queryString(entry, "Id") ?? "";
    if (!BATCH_ID.test(id)) {
      throw new AwsServiceError(
        "InvalidBatchEntryId",
        "The Id of a batch entry in a batch request doesn't abide by the specification: up to 80 alphanumeric characters, hyphens and underscores.",
      );
    }
    if (ids.has(id)) throw new AwsServiceError("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.");
    ids.add(id);
    return { Id: id, ...messageFields(entry) };
  });
  return { TopicArn: topicArn, PublishBatchRequestEntries: entries };
}

/**
 * The context a PublishBatch's entries are traced under: the caller's span (the `Parent` its `X-Amzn-Trace-Id` named),
 * so that each entry's publish is the caller's child, as a Publish of its own would be; the call's own context when
 * the header named no parent (the entries then start from it).
 */
function callerContext(context: RequestContext): RequestContext {
  if (context.parentSpanId === undefined) return context;
  const { parentSpanId, ...caller } = context;
  return { ...caller, spanId: parentSpanId };
}

/** `PublishBatch` for a backend without it: one `publish` per entry (each a span under the caller), AWS errors reported per entry. */
async function publishEach(backend: SnsBackend, batch: SnsPublishBatchInput, call: SnsCall): Promise<Sns.PublishBatchResponse> {
  const successful: Sns.PublishBatchResultEntry[] = [];
  const failed: Sns.BatchResultErrorEntry[] = [];
  for (const { Id, ...fields } of batch.PublishBatchRequestEntries) {
    try {
      const published = await backend.publish({ TopicArn: batch.TopicArn, ...fields }, { ...call, context: childContext(call.context) });
      successful.push({ Id, MessageId: published.MessageId, ...(published.SequenceNumber ? { SequenceNumber: published.SequenceNumber } : {}) });
    } catch (error) {
      const aws = awsErrorParts(error);
      if (!aws) throw error;
      failed.push({ Id, Code: wireCode(aws.code), Message: aws.message, SenderFault: aws.senderFault });
    }
  }
  return { Successful: successful, Failed: failed };
}

function wireCode(code: string): string {
  return CODE_OF_EXCEPTION[code] ?? code;
}

function errorResponse(error: unknown, requestId: string): EndpointResponse {
  const aws = awsErrorParts(error);
  if (!aws) {
    const detail = error instanceof Error ? error.message : String(error);
    return xml(500, queryErrorResponse(NAMESPACE, "InternalError", `The local SNS backend failed: ${detail}`, false, requestId), requestId);
  }
  const code = wireCode(aws.code);
  const status = aws.status ?? STATUS[code] ?? (aws.senderFault ? 400 : 500);
  return xml(status, queryErrorResponse(NAMESPACE, code, aws.message, aws.senderFault && status < 500, requestId), requestId);
}

function xml(status: number, body: string, requestId: string): EndpointResponse {
  return { status, headers: { "content-type": "text/xml", "x-amzn-requestid": requestId }, body };
}
