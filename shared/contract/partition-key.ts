/**
 * The partition key of a stream event, defined once: the runtime's publisher (PutRecord, PutRecords), the local
 * stage's admin publish and replay, and the catalog checks all take it from here.
 *
 * A stream event's catalog entry names a top-level field of `data` (`partitionKeyField`); its value, as text, is the
 * Kinesis partition key, so events with the same value land on the same shard and are read in order. Kinesis's API
 * reference: partition keys are Unicode strings of 1 to 256 characters. Here the characters are counted as UTF-16
 * code units (a character outside the Basic Multilingual Plane, such as an emoji, counts twice): the local engine
 * (kinesalite) counts that way, and a key within it is within AWS's limit too. A lone surrogate (text that is not
 * valid Unicode, so not sendable as UTF-8) is refused. A value that breaks this is an error of the event, named as
 * such, never replaced by another key (a fallback key would silently give up the order the event asks for).
 */

/** Kinesis's limit on a partition key: 1 to 256 characters. */
export const PARTITION_KEY_MAX_LENGTH = 256;

/** Whether a text is a valid partition key: 1 to 256 characters (UTF-16 code units) of well-formed Unicode. */
export function isPartitionKey(value: string): boolean {
  return value.length >= 1 && value.length <= PARTITION_KEY_MAX_LENGTH && !/\p{Surrogate}/u.test(value);
}

/** The event has no valid partition key; `field` is the catalog's key field, `reason` what is wrong. */
export class PartitionKeyError extends Error {
  override name = "PartitionKeyError";

  constructor(
    readonly eventType: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${eventType} is a stream event: ${field ? `data.${field}` : "its partitionKeyField"} ${reason}`);
  }
}

/** What of a catalog entry decides the partition key. */
export interface PartitionKeySource {
  readonly ordering: string;
  readonly partitionKeyField?: string;
}

/**
 * The partition key of an event of `type` with `data`, or undefined for an event that is not a stream event.
 * @throws PartitionKeyError for a stream event without a key field, or whose field is missing, empty, not a string
 *   or number, longer than 256 characters or not well-formed Unicode
 */
export function partitionKeyOf(type: string, entry: PartitionKeySource, data: unknown): string | undefined {
  if (entry.ordering !== "stream") return undefined;
  const field = entry.partitionKeyField;
  if (!field) throw new PartitionKeyError(type, "", "is not set in the catalog (a stream event names the field whose value is its partition key)");
  const value = data !== null && typeof data === "object" ? (data as Record<string, unknown>)[field] : undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    throw new PartitionKeyError(type, field, `must be a non-empty string or number (it is the partition key), not ${value === undefined ? "missing" : JSON.stringify(value)}`);
  }
  const key = String(value);
  if (key === "") throw new PartitionKeyError(type, field, "must be a non-empty string or number (it is the partition key)");
  if (key.length > PARTITION_KEY_MAX_LENGTH) {
    throw new PartitionKeyError(type, field, `must be at most ${PARTITION_KEY_MAX_LENGTH} characters (it is the partition key), not ${key.length}`);
  }
  if (!isPartitionKey(key)) throw new PartitionKeyError(type, field, "must be well-formed Unicode (it is the partition key): it holds a lone surrogate");
  return key;
}
