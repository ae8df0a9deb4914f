import type { SQSRecord } from "aws-lambda";

/** How the message reached the queue. */
export type Delivery = "raw" | "sns";

/** The message inside an SQS record, unwrapped from an SNS notification when there is one. */
export interface RecordMessage {
  /** The message as the publisher sent it (for us, the CloudEvent JSON). */
  readonly message: string;
  /** `message` parsed as JSON, when it is JSON. */
  readonly json?: unknown;
  readonly delivery: Delivery;
  /** For SNS envelopes: the topic and SNS message id. */
  readonly topicArn?: string;
  readonly snsMessageId?: string;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  // Cheap pre-check: most non-JSON bodies fail here without an exception.
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[" && first !== '"') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Reads the message of an SQS record. With raw message delivery the body is the message itself; without it, the
 * body is an SNS `Notification` envelope whose `Message` is the message (and its `TopicArn`, `MessageId` are kept).
 */
export function readRecordMessage(record: Pick<SQSRecord, "body">): RecordMessage {
  const body = record.body ?? "";
  const parsed = parseJson(body);
  if (!parsed.ok) return { message: body, delivery: "raw" };
  const value = parsed.value as Record<string, unknown> | null;
  if (
    typeof value === "object" &&
    value !== null &&
    value.Type === "Notification" &&
    typeof value.Message === "string" &&
    typeof value.TopicArn === "string"
  ) {
    const inner = parseJson(value.Message);
    return {
      message: value.Message,
      ...(inner.ok ? { json: inner.value } : {}),
      delivery: "sns",
      topicArn: value.TopicArn,
      ...(typeof value.MessageId === "string" ? { snsMessageId: value.MessageId } : {}),
    };
  }
  return { message: body, json: parsed.value, delivery: "raw" };
}
