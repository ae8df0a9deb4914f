import type { SQSEvent, SQSMessageAttribute, SQSRecord, SQSRecordAttributes } from "aws-lambda";
import type { SqsMessageAttributeValue } from "../sqs/md5";
import { md5OfBody, md5OfMessageAttributes } from "../sqs/md5";
import type { ReceivedMessage } from "../sqs/queue";

export { md5OfBody, md5OfMessageAttributes };

/** The queue a batch comes from, as the event source mapping names it in each record. */
export interface SqsEventSource {
  /** `eventSourceARN` of every record. */
  queueArn: string;
  /** `awsRegion` of every record; defaults to the region in the ARN. */
  region?: string;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/**
 * One message attribute as Lambda shapes it in an SQS record: `stringValue` or `binaryValue` (base64), then the
 * (always present, usually empty) `stringListValues` and `binaryListValues`, then `dataType`.
 */
export function toLambdaMessageAttribute(value: SqsMessageAttributeValue): SQSMessageAttribute {
  return {
    ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
    ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
    stringListValues: [...(value.StringListValues ?? [])],
    binaryListValues: (value.BinaryListValues ?? []).map(base64),
    dataType: value.DataType,
  };
}

/** The record `attributes` in Lambda's key order (FIFO and trace-header keys only when set). */
function recordAttributes(message: ReceivedMessage): SQSRecordAttributes {
  const a = message.Attributes;
  const out: SQSRecordAttributes = {} as SQSRecordAttributes;
  out.ApproximateReceiveCount = a.ApproximateReceiveCount;
  if (a.AWSTraceHeader !== undefined) out.AWSTraceHeader = a.AWSTraceHeader;
  out.SentTimestamp = a.SentTimestamp;
  if (a.SequenceNumber !== undefined) out.SequenceNumber = a.SequenceNumber;
  if (a.MessageGroupId !== undefined) out.MessageGroupId = a.MessageGroupId;
  out.SenderId = a.SenderId;
  if (a.MessageDeduplicationId !== undefined) out.MessageDeduplicationId = a.MessageDeduplicationId;
  out.ApproximateFirstReceiveTimestamp = a.ApproximateFirstReceiveTimestamp;
  if (a.DeadLetterQueueSourceArn !== undefined) out.DeadLetterQueueSourceArn = a.DeadLetterQueueSourceArn;
  return out;
}

function regionOf(arn: string): string {
  return arn.split(":")[3] ?? "us-east-1";
}

/**
 * A Lambda SQS event record for a received message, with AWS's keys in AWS's order: messageId, receiptHandle, body,
 * attributes, messageAttributes, md5OfBody, md5OfMessageAttributes (only when there are attributes), eventSource
 * `aws:sqs`, eventSourceARN, awsRegion. The MD5s are recomputed with AWS's algorithms.
 */
export function toSqsRecord(message: ReceivedMessage, source: SqsEventSource): SQSRecord {
  const messageAttributes: SQSRecord["messageAttributes"] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes)) {
    messageAttributes[name] = toLambdaMessageAttribute(value);
  }
  const md5Attributes = md5OfMessageAttributes(message.MessageAttributes);
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body,
    attributes: recordAttributes(message),
    messageAttributes,
    md5OfBody: md5OfBody(message.Body),
    ...(md5Attributes ? { md5OfMessageAttributes: md5Attributes } : {}),
    eventSource: "aws:sqs",
    eventSourceARN: source.queueArn,
    awsRegion: source.region ?? regionOf(source.queueArn),
  };
}

/** The Lambda SQS event (`{ Records: [...] }`) for a batch of received messages, in batch order. */
export function buildSqsEvent(messages: ReceivedMessage[], source: SqsEventSource): SQSEvent {
  return { Records: messages.map((message) => toSqsRecord(message, source)) };
}
