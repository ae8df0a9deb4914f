/**
 * The message group of a FIFO event, defined once: the runtime's publisher, the local stage's admin publish and
 * the failure desk's replay all take it from here.
 *
 * A FIFO event's catalog entry names a top-level field of `data` (`messageGroupField`); its value, as text, is the
 * message group, so events with the same value are delivered in order. The value must be a string or a number and,
 * as text, a valid `MessageGroupId`: AWS's SNS and SQS API references allow 1 to 128 characters, alphanumeric and
 * punctuation (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``). A value that breaks this is an error of the event, named as
 * such, never replaced by another group (a fallback group would silently give up the order the event asks for).
 */

/** What `MessageGroupId` (and `MessageDeduplicationId`) may be: 1 to 128 alphanumeric or punctuation characters. */
export const MESSAGE_GROUP_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Whether a text is a valid `MessageGroupId` (or `MessageDeduplicationId`). */
export function isMessageGroupId(value: string): boolean {
  return MESSAGE_GROUP_ID_PATTERN.test(value);
}

/** The event has no valid message group; `field` is the catalog's group field, `reason` what is wrong. */
export class MessageGroupError extends Error {
  override name = "MessageGroupError";

  constructor(
    readonly eventType: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${eventType} is a FIFO event: ${field ? `data.${field}` : "its messageGroupField"} ${reason}`);
  }
}

/** What of a catalog entry decides the group. */
export interface MessageGroupSource {
  readonly ordering: string;
  readonly messageGroupField?: string;
}

/**
 * The message group of an event of `type` with `data`, or undefined for a standard (non-FIFO) event.
 * @throws MessageGroupError for a FIFO event without a group field, or whose field is missing, empty, not a string
 *   or number, or not a valid `MessageGroupId`
 */
export function messageGroupOf(type: string, entry: MessageGroupSource, data: unknown): string | undefined {
  if (entry.ordering !== "fifo") return undefined;
  const field = entry.messageGroupField;
  if (!field) throw new MessageGroupError(type, "", "is not set in the catalog (a FIFO event names the field that groups its messages)");
  const value = data !== null && typeof data === "object" ? (data as Record<string, unknown>)[field] : undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    throw new MessageGroupError(type, field, `must be a non-empty string or number (it is the message group), not ${value === undefined ? "missing" : JSON.stringify(value)}`);
  }
  const group = String(value);
  if (!isMessageGroupId(group)) {
    throw new MessageGroupError(
      type,
      field,
      group === "" ? "must be a non-empty string or number (it is the message group)" : `must be 1 to 128 alphanumeric or punctuation characters (it is the message group), not ${JSON.stringify(group.slice(0, 140))}`,
    );
  }
  return group;
}
