import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";

/** The event inside a Kinesis record, as Lambda delivers it (`kinesis.data` in base64). */
export interface KinesisRecordMessage {
  /** The record's data decoded as UTF-8 (for us, the CloudEvent JSON). */
  readonly message: string;
  /** `message` parsed as JSON, when it is JSON. */
  readonly json?: unknown;
  /** The data is not base64 (a record Lambda would never deliver, but a hand-made event might). */
  readonly notBase64?: true;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /** From `eventID` (`shardId-000000000000:<sequence number>`). */
  readonly shardId: string;
  readonly streamArn: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Whether a Lambda event is a Kinesis batch (`Records[].eventSource` is `aws:kinesis`). */
export function isKinesisEvent(event: unknown): event is KinesisStreamEvent {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0) return false;
  const first = records[0] as { eventSource?: unknown; kinesis?: unknown } | null;
  return first?.eventSource === "aws:kinesis" || (typeof first?.kinesis === "object" && first.kinesis !== null);
}

/** Reads the data of a Kinesis record: base64 to UTF-8, then JSON when it is JSON. */
export function readKinesisRecord(record: KinesisStreamRecord): KinesisRecordMessage {
  const kinesis = record.kinesis ?? ({} as KinesisStreamRecord["kinesis"]);
  const data = typeof kinesis.data === "string" ? kinesis.data : "";
  const meta = {
    partitionKey: String(kinesis.partitionKey ?? ""),
    sequenceNumber: String(kinesis.sequenceNumber ?? ""),
    shardId: String(record.eventID ?? "").split(":")[0] ?? "",
    streamArn: String(record.eventSourceARN ?? ""),
  };
  if (!BASE64.test(data)) return { message: data, notBase64: true, ...meta };
  const message = Buffer.from(data, "base64").toString("utf8");
  const first = message.trimStart()[0];
  if (first === "{" || first === "[" || first === '"') {
    try {
      return { message, json: JSON.parse(message), ...meta };
    } catch {}
  }
  return { message, ...meta };
}
