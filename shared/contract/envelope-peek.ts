/**
 * The envelope peek, defined once: what identifies a message (event id, type, correlation id, trace context) read
 * from a body that may be invalid, without validating it. The runtime uses it for a message it rejects (the failure
 * event names the original), the local stage to follow a message it carries without judging it.
 *
 * Rules: the body is a CloudEvent as JSON text (or an already parsed object), raw or inside an SNS notification
 * (`{"Type":"Notification","Message":"<the CloudEvent>"}`, what a subscription without raw delivery sends); a field
 * counts only as a non-empty string of at most 256 characters (longer ones are not ids: a peek must not copy a huge
 * value into a log line or a failure event); anything else gives no hints. It never throws.
 */

/** What a message says about itself, each field only when present and plausible. */
export interface EnvelopeHints {
  id?: string;
  type?: string;
  correlationid?: string;
  causationid?: string;
  traceparent?: string;
}

const PEEKED = ["id", "type", "correlationid", "causationid", "traceparent"] as const;
/** The longest value a peek takes for any field. */
export const PEEK_MAX_LENGTH = 256;

function parsed(input: unknown): unknown {
  if (typeof input !== "string") return input;
  try {
    return JSON.parse(input);
  } catch {
    return undefined;
  }
}

/** Reads whatever envelope fields a (possibly invalid) message has, never throwing. */
export function peekEnvelope(input: unknown): EnvelopeHints {
  let value = parsed(input);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const notification = value as { Type?: unknown; Message?: unknown };
  if (notification.Type === "Notification" && typeof notification.Message === "string") {
    value = parsed(notification.Message);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  }
  const record = value as Record<string, unknown>;
  const hints: EnvelopeHints = {};
  for (const key of PEEKED) {
    const field = record[key];
    if (typeof field === "string" && field.length > 0 && field.length <= PEEK_MAX_LENGTH) hints[key] = field;
  }
  return hints;
}
