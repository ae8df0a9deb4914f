/**
 * SQS in the AWS Query protocol, the one AWS still accepts beside JSON 1.0 and that older SDKs and the AWS CLI 2.9 of
 * Debian send: `POST` form-encoded `Action=SendMessage&Version=2012-11-05&QueueUrl=...`, lists and maps flattened
 * (`AttributeName.1`, `MessageAttribute.1.Name`, `MessageAttribute.1.Value.StringValue`,
 * `SendMessageBatchRequestEntry.1.Id`), answers in XML (`<SendMessageResponse><SendMessageResult>...`), errors as an
 * XML `ErrorResponse` whose `Code` is the query code (`AWS.SimpleQueueService.NonExistentQueue`).
 *
 * This module only translates: a Query request becomes the SDK's input shape (what the JSON protocol carries), and
 * the SDK's output shape becomes the Query protocol's XML, so both protocols run the same operations.
 */
import type * as Sqs from "@aws-sdk/client-sqs";
import {
  element,
  queryErrorResponse,
  queryObject,
  queryResponse,
  queryString,
  type QueryObject,
  type QueryValue,
  type XmlContent,
} from "./query-protocol";

export const SQS_QUERY_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/";

/** The API version Query requests name (`Version=2012-11-05`). */
export const SQS_QUERY_VERSION = "2012-11-05";

// ---------------------------------------------------------------------------------------------------------------
// Request: Query parameters -> the SDK's input shape

const INTEGER_PARAMETERS = new Set(["DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds", "MaxResults"]);
const STRING_PARAMETERS = [
  "QueueUrl",
  "QueueName",
  "QueueNamePrefix",
  "QueueOwnerAWSAccountId",
  "MessageBody",
  "ReceiptHandle",
  "MessageGroupId",
  "MessageDeduplicationId",
  "ReceiveRequestAttemptId",
  "NextToken",
];

/** A flattened list of strings: `Name.1`, `Name.2`, ... */
function flatStrings(params: QueryObject, name: string): string[] | undefined {
  const node = queryObject(params, name);
  if (!node) return undefined;
  return indexed(node).flatMap((value) => (typeof value === "string" ? [value] : []));
}

/** The members of a flattened list (`Name.1.*`, `Name.2.*`), in index order. */
function indexed(node: QueryObject): QueryValue[] {
  return Object.keys(node)
    .filter((index) => /^\d+$/.test(index))
    .sort((a, b) => Number(a) - Number(b))
    .map((index) => node[index]!);
}

/** A flattened map (`Attribute.1.Name` / `Attribute.1.Value`) of strings. */
function flatStringMap(params: QueryObject, name: string): Record<string, string> | undefined {
  const node = queryObject(params, name);
  if (!node) return undefined;
  const map: Record<string, string> = {};
  for (const entry of indexed(node)) {
    if (typeof entry !== "object") continue;
    const key = queryString(entry, "Name");
    if (key !== undefined) map[key] = queryString(entry, "Value") ?? "";
  }
  return map;
}

/** A flattened map of message attributes (`MessageAttribute.1.Name`, `MessageAttribute.1.Value.DataType`, ...). */
function messageAttributes(params: QueryObject, name: string): Record<string, Sqs.MessageAttributeValue> | undefined {
  const node = queryObject(params, name);
  if (!node) return undefined;
  const map: Record<string, Sqs.MessageAttributeValue> = {};
  for (const entry of indexed(node)) {
    if (typeof entry !== "object") continue;
    const key = queryString(entry, "Name");
    const value = queryObject(entry, "Value");
    if (key === undefined || !value) continue;
    const dataType = queryString(value, "DataType");
    const stringValue = queryString(value, "StringValue");
    const binaryValue = queryString(value, "BinaryValue");
    map[key] = {
      DataType: dataType,
      ...(stringValue === undefined ? {} : { StringValue: stringValue }),
      ...(binaryValue === undefined ? {} : { BinaryValue: Buffer.from(binaryValue, "base64") }),
    } as Sqs.MessageAttributeValue;
  }
  return map;
}

/** The fields of one request or batch entry, in the SDK's shape. */
function fields(params: QueryObject): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of STRING_PARAMETERS) {
    const value = queryString(params, key);
    if (value !== undefined) input[key] = value;
  }
  for (const key of INTEGER_PARAMETERS) {
    const value = queryString(params, key);
    if (value !== undefined) input[key] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  const id = queryString(params, "Id");
  if (id !== undefined) input.Id = id;
  const lists: Array<[string, string]> = [
    ["AttributeName", "AttributeNames"],
    ["MessageAttributeName", "MessageAttributeNames"],
    ["MessageSystemAttributeName", "MessageSystemAttributeNames"],
  ];
  for (const [wire, key] of lists) {
    const list = flatStrings(params, wire);
    if (list) input[key] = list;
  }
  const attributes = flatStringMap(params, "Attribute");
  if (attributes) input.Attributes = attributes;
  const tags = queryObject(params, "Tag");
  if (tags) {
    input.tags = Object.fromEntries(
      indexed(tags).flatMap((tag) => (typeof tag === "object" && queryString(tag, "Key") !== undefined ? [[queryString(tag, "Key")!, queryString(tag, "Value") ?? ""]] : [])),
    );
  }
  const attributeValues = messageAttributes(params, "MessageAttribute");
  if (attributeValues) input.MessageAttributes = attributeValues;
  const systemValues = messageAttributes(params, "MessageSystemAttribute");
  if (systemValues) input.MessageSystemAttributes = systemValues;
  return input;
}

/** The batch entry list of each batch action. */
const BATCH_ENTRIES: Record<string, string> = {
  SendMessageBatch: "SendMessageBatchRequestEntry",
  DeleteMessageBatch: "DeleteMessageBatchRequestEntry",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibilityBatchRequestEntry",
};

/**
 * The SDK input of a Query request. `pathQueueUrl` is the queue URL the request was posted to (`POST /<account>/<name>`,
 * as older SDKs do), used when the parameters name none.
 */
export function sqsQueryInput(action: string, params: QueryObject, pathQueueUrl: string | undefined): Record<string, unknown> {
  const input = fields(params);
  if (input.QueueUrl === undefined && pathQueueUrl !== undefined) input.QueueUrl = pathQueueUrl;
  const entries = BATCH_ENTRIES[action];
  if (entries) {
    const node = queryObject(params, entries);
    input.Entries = node ? indexed(node).flatMap((entry) => (typeof entry === "object" ? [fields(entry)] : [])) : [];
  }
  return input;
}

// ---------------------------------------------------------------------------------------------------------------
// Response: the SDK's output shape -> Query XML

type Output = Record<string, unknown>;

function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

function nameValues(tag: string, map: unknown): XmlContent {
  if (!map || typeof map !== "object") return undefined;
  return Object.entries(map as Record<string, unknown>).map(([name, value]) => element(tag, [element("Name", name), element("Value", text(value))]));
}

function messageAttributeValues(map: unknown): XmlContent {
  if (!map || typeof map !== "object") return undefined;
  return Object.entries(map as Record<string, Sqs.MessageAttributeValue>).map(([name, value]) =>
    element("MessageAttribute", [
      element("Name", name),
      element("Value", [
        element("StringValue", value.StringValue),
        element("BinaryValue", value.BinaryValue === undefined ? undefined : Buffer.from(value.BinaryValue).toString("base64")),
        element("DataType", value.DataType),
      ]),
    ]),
  );
}

function batchErrors(failed: unknown): XmlContent {
  return ((failed as Sqs.BatchResultErrorEntry[] | undefined) ?? []).map((entry) =>
    element("BatchResultErrorEntry", [
      element("Id", entry.Id),
      element("SenderFault", entry.SenderFault),
      element("Code", entry.Code),
      element("Message", entry.Message),
    ]),
  );
}

/** The `<Action>Result` content of each action, from its SDK output. */
const RESULTS: Record<string, (output: Output) => XmlContent> = {
  SendMessage: (output) => [
    element("MessageId", text(output.MessageId)),
    element("MD5OfMessageBody", text(output.MD5OfMessageBody)),
    element("MD5OfMessageAttributes", text(output.MD5OfMessageAttributes)),
    element("MD5OfMessageSystemAttributes", text(output.MD5OfMessageSystemAttributes)),
    element("SequenceNumber", text(output.SequenceNumber)),
  ],
  SendMessageBatch: (output) => [
    ((output.Successful as Sqs.SendMessageBatchResultEntry[] | undefined) ?? []).map((entry) =>
      element("SendMessageBatchResultEntry", [
        element("Id", entry.Id),
        element("MessageId", entry.MessageId),
        element("MD5OfMessageBody", entry.MD5OfMessageBody),
        element("MD5OfMessageAttributes", entry.MD5OfMessageAttributes),
        element("MD5OfMessageSystemAttributes", entry.MD5OfMessageSystemAttributes),
        element("SequenceNumber", entry.SequenceNumber),
      ]),
    ),
    batchErrors(output.Failed),
  ],
  ReceiveMessage: (output) =>
    ((output.Messages as Sqs.Message[] | undefined) ?? []).map((message) =>
      element("Message", [
        element("MessageId", message.MessageId),
        element("ReceiptHandle", message.ReceiptHandle),
        element("MD5OfBody", message.MD5OfBody),
        element("Body", message.Body),
        nameValues("Attribute", message.Attributes),
        element("MD5OfMessageAttributes", message.MD5OfMessageAttributes),
        messageAttributeValues(message.MessageAttributes),
      ]),
    ),
  DeleteMessage: () => undefined,
  DeleteMessageBatch: (output) => [
    ((output.Successful as Sqs.DeleteMessageBatchResultEntry[] | undefined) ?? []).map((entry) => element("DeleteMessageBatchResultEntry", element("Id", entry.Id))),
    batchErrors(output.Failed),
  ],
  ChangeMessageVisibility: () => undefined,
  ChangeMessageVisibilityBatch: (output) => [
    ((output.Successful as Sqs.ChangeMessageVisibilityBatchResultEntry[] | undefined) ?? []).map((entry) =>
      element("ChangeMessageVisibilityBatchResultEntry", element("Id", entry.Id)),
    ),
    batchErrors(output.Failed),
  ],
  GetQueueAttributes: (output) => nameValues("Attribute", output.Attributes),
  GetQueueUrl: (output) => element("QueueUrl", text(output.QueueUrl)),
  ListQueues: (output) => [
    ((output.QueueUrls as string[] | undefined) ?? []).map((url) => element("QueueUrl", url)),
    element("NextToken", text(output.NextToken)),
  ],
  PurgeQueue: () => undefined,
  CreateQueue: (output) => element("QueueUrl", text(output.QueueUrl)),
  DeleteQueue: () => undefined,
  SetQueueAttributes: () => undefined,
};

/** The XML answer of a Query request: `<ActionResponse>` with its result (none for actions that return nothing). */
export function sqsQueryResponse(action: string, output: Output, requestId: string): string {
  const result = RESULTS[action]?.(output);
  if (result === undefined) {
    return `<?xml version="1.0"?>\n<${action}Response xmlns="${SQS_QUERY_NAMESPACE}"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>\n`;
  }
  return queryResponse(SQS_QUERY_NAMESPACE, action, result, requestId);
}

/** The XML `ErrorResponse` of a Query request. */
export function sqsQueryError(code: string, message: string, senderFault: boolean, requestId: string): string {
  return queryErrorResponse(SQS_QUERY_NAMESPACE, code, message, senderFault, requestId);
}

/** The queue URL a Query request was posted to (`http://host/<12-digit account>/<name>`), if any. */
export function queueUrlFromPath(host: string | undefined, url: string): string | undefined {
  const path = url.split("?")[0] ?? "/";
  if (!host || !/^\/\d{12}\/[^/]+$/.test(path)) return undefined;
  return `http://${host}${path}`;
}
