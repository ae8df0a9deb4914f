import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, Context, SQSEvent, SQSMessageAttributes, SQSRecord } from "aws-lambda";
import type { EventData } from "../../../contract";
import type { PublishedMessage } from "./sns-server";

const FIXTURES = join(__dirname, "..", "..", "..", "testing", "fixtures", "aws-events");

/** A fixture from shared/testing/fixtures/aws-events (real samples; see its SOURCES.md). */
export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as T;
}

export const QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:test-billing-issue-invoice";

/** Order data that matches the catalog schema of `orders.order-placed`. */
export function orderPlaced(overrides: Partial<EventData<"orders.order-placed">> = {}): EventData<"orders.order-placed"> {
  return {
    orderId: `order-${randomUUID().slice(0, 8)}`,
    customerId: "customer-1",
    items: [{ sku: "sku-1", quantity: 2 }],
    total: { amount: 42.5, currency: "EUR" },
    ...overrides,
  };
}

/** A CloudEvent envelope (as JSON-ready object) with sensible defaults. */
export function cloudEvent(type: string, data: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: "orders",
    type,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    correlationid: randomUUID(),
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    data,
    ...overrides,
  };
}

/** An SQS record as Lambda delivers it, with `body` as given. */
export function sqsRecord(
  body: string,
  overrides: Partial<Omit<SQSRecord, "attributes">> & { attributes?: Partial<SQSRecord["attributes"]> } = {},
): SQSRecord {
  const { attributes, ...rest } = overrides;
  return {
    messageId: randomUUID(),
    receiptHandle: "AQEB-local",
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.now()),
      SenderId: "AIDAIENQZJOLO23YVJ4VO",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      ...attributes,
    } as SQSRecord["attributes"],
    messageAttributes: {},
    md5OfBody: "0",
    eventSource: "aws:sqs",
    eventSourceARN: QUEUE_ARN,
    awsRegion: "eu-west-1",
    ...rest,
  };
}

/** An SNS Notification envelope as SQS receives it without raw message delivery. */
export function snsNotification(message: string, topicArn: string, attributes: Record<string, { dataType: string; value: string }> = {}): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: randomUUID(),
    TopicArn: topicArn,
    Message: message,
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
    Signature: "local",
    SigningCertURL: "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-local.pem",
    UnsubscribeURL: `https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:local`,
    MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, a]) => [k, { Type: a.dataType, Value: a.value }])),
  });
}

/**
 * The SQS record a subscription would deliver for a published message: raw delivery (body = message, SNS
 * attributes become SQS message attributes) or an SNS envelope; FIFO topics add group, deduplication id and
 * sequence number to the record attributes.
 */
export function deliver(message: PublishedMessage, options: { raw?: boolean; receiveCount?: number } = {}): SQSRecord {
  const raw = options.raw ?? true;
  const messageAttributes: SQSMessageAttributes = {};
  if (raw) {
    for (const [name, a] of Object.entries(message.attributes)) {
      messageAttributes[name] = { stringValue: a.value, stringListValues: [], binaryListValues: [], dataType: a.dataType };
    }
  }
  const fifo = message.messageGroupId !== undefined
    ? {
        MessageGroupId: message.messageGroupId,
        MessageDeduplicationId: message.messageDeduplicationId,
        SequenceNumber: message.sequenceNumber,
      }
    : {};
  return sqsRecord(raw ? message.message : snsNotification(message.message, message.topicArn, message.attributes), {
    messageAttributes,
    attributes: { ApproximateReceiveCount: String(options.receiveCount ?? 1), ...fifo } as Partial<SQSRecord["attributes"]>,
  });
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A Lambda context with a fixed remaining time. */
export function lambdaContext(remainingMs = 30_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "test-billing-issue-invoice",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:test-billing-issue-invoice",
    memoryLimitInMB: "256",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/test-billing-issue-invoice",
    logStreamName: "local",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An HTTP API (payload 2.0) request. */
export function httpRequest(
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; routeKey?: string; isBase64Encoded?: boolean } = {},
): APIGatewayProxyEventV2 {
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: options.routeKey ?? `${method} ${path}`,
    rawPath: path,
    rawQueryString: "",
    headers: { host: "api.local", ...(options.body !== undefined ? { "content-type": "application/json" } : {}), ...options.headers },
    requestContext: {
      accountId: "123456789012",
      apiId: "local",
      domainName: "api.local",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: randomUUID(),
      routeKey: options.routeKey ?? `${method} ${path}`,
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
  if (options.body !== undefined) event.body = options.body;
  return event;
}
