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
  // Built key by key (no spreads of throwaway objects): the poller makes one per attribute of every record.
  const attribute = {} as SQSMessageAttribute;
  if (value.StringValue !== undefined) attribute.stringValue = value.StringValue;
  if (value.BinaryValue !== undefined) attribute.binaryValue = base64(value.BinaryValue);
  attribute.stringListValues = value.StringListValues ? value.StringListValues.slice() : [];
  attribute.binaryListValues = value.BinaryListValues ? value.BinaryListValues.map(base64) : [];
  attribute.dataType = value.DataType;
  return attribute;
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
 * `aws:sqs`, eventSourceARN, awsRegion. The MD5s are the ones the queue computed with AWS's algorithms when the message
 * was sent (`MD5OfBody`, `MD5OfMessageAttributes` of the received message, which carries every attribute): the same
 * bytes, not hashed again per record.
 */
export function toSqsRecord(message: ReceivedMessage, source: SqsEventSource): SQSRecord {
  const messageAttributes: SQSRecord["messageAttributes"] = {};
  let attributeCount = 0;
  for (const name in message.MessageAttributes) {
    messageAttributes[name] = toLambdaMessageAttribute(message.MessageAttributes[name]!);
    attributeCount++;
  }
  const md5Attributes = attributeCount === 0 ? undefined : (message.MD5OfMessageAttributes ?? md5OfMessageAttributes(message.MessageAttributes));
  const record = {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body,
    attributes: recordAttributes(message),
    messageAttributes,
    md5OfBody: message.MD5OfBody,
  } as SQSRecord;
  if (md5Attributes) record.md5OfMessageAttributes = md5Attributes;
  record.eventSource = "aws:sqs";
  record.eventSourceARN = source.queueArn;
  record.awsRegion = source.region ?? regionOf(source.queueArn);
  return record;
}

/** The Lambda SQS event (`{ Records: [...] }`) for a batch of received messages, in batch order. */
export function buildSqsEvent(messages: ReceivedMessage[], source: SqsEventSource): SQSEvent {
  return { Records: messages.map((message) => toSqsRecord(message, source)) };
}
