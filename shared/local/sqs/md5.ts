import { createHash } from "node:crypto";

/**
 * An SQS message attribute in the shape of the SQS API and the AWS SDK (`MessageAttributeValue`). `DataType` is
 * `String`, `Number` or `Binary`, optionally followed by `.customLabel` (and `String.Array` from SNS raw delivery).
 */
export interface SqsMessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
  /** Reserved by AWS for future use; carried for completeness. */
  StringListValues?: string[];
  /** Reserved by AWS for future use; carried for completeness. */
  BinaryListValues?: Uint8Array[];
}

/** Lowercase hex MD5 of the UTF-8 body: SQS's `MD5OfMessageBody` / the Lambda record's `md5OfBody`. */
export function md5OfBody(body: string): string {
  return createHash("md5").update(body, "utf8").digest("hex");
}

const STRING_TYPE_FIELD_INDEX = 1;
const BINARY_TYPE_FIELD_INDEX = 2;
const STRING_LIST_TYPE_FIELD_INDEX = 3;
const BINARY_LIST_TYPE_FIELD_INDEX = 4;

function lengthPrefixed(bytes: Uint8Array): Buffer[] {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return [length, Buffer.from(bytes)];
}

/**
 * AWS's MD5 of message attributes (`MD5OfMessageAttributes`), as the SQS service and the AWS SDKs compute it:
 * attributes sorted by name; for each, the name, then the data type, each as a 4-byte big-endian length and UTF-8
 * bytes; then a transport-type byte (1 string, 2 binary, 3 string list, 4 binary list) and the value(s), each
 * length-prefixed (binary values as raw bytes). Returns `undefined` when there are no attributes, as SQS omits the
 * field then.
 */
export function md5OfMessageAttributes(attributes: Record<string, SqsMessageAttributeValue> | undefined): string | undefined {
  const names = Object.keys(attributes ?? {}).sort();
  if (!attributes || names.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const name of names) {
    const value = attributes[name]!;
    parts.push(...lengthPrefixed(Buffer.from(name, "utf8")), ...lengthPrefixed(Buffer.from(value.DataType, "utf8")));
    if (value.StringValue !== undefined) {
      parts.push(Buffer.from([STRING_TYPE_FIELD_INDEX]), ...lengthPrefixed(Buffer.from(value.StringValue, "utf8")));
    } else if (value.BinaryValue !== undefined) {
      parts.push(Buffer.from([BINARY_TYPE_FIELD_INDEX]), ...lengthPrefixed(value.BinaryValue));
    } else if (value.StringListValues && value.StringListValues.length > 0) {
      parts.push(Buffer.from([STRING_LIST_TYPE_FIELD_INDEX]));
      for (const item of value.StringListValues) parts.push(...lengthPrefixed(Buffer.from(item, "utf8")));
    } else if (value.BinaryListValues && value.BinaryListValues.length > 0) {
      parts.push(Buffer.from([BINARY_LIST_TYPE_FIELD_INDEX]));
      for (const item of value.BinaryListValues) parts.push(...lengthPrefixed(item));
    }
  }
  return createHash("md5").update(Buffer.concat(parts)).digest("hex");
}
