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
  // The bytes are written into one buffer sized up front: strings encoded in place, no buffer per field.
  const fields: Array<string | Uint8Array | number> = [];
  let size = 0;
  const add = (value: string | Uint8Array): void => {
    fields.push(value);
    size += 4 + (typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.length);
  };
  const transport = (index: number): void => {
    fields.push(index);
    size += 1;
  };
  for (const name of names) {
    const value = attributes[name]!;
    add(name);
    add(value.DataType);
    if (value.StringValue !== undefined) {
      transport(STRING_TYPE_FIELD_INDEX);
      add(value.StringValue);
    } else if (value.BinaryValue !== undefined) {
      transport(BINARY_TYPE_FIELD_INDEX);
      add(value.BinaryValue);
    } else if (value.StringListValues && value.StringListValues.length > 0) {
      transport(STRING_LIST_TYPE_FIELD_INDEX);
      for (const item of value.StringListValues) add(item);
    } else if (value.BinaryListValues && value.BinaryListValues.length > 0) {
      transport(BINARY_LIST_TYPE_FIELD_INDEX);
      for (const item of value.BinaryListValues) add(item);
    }
  }
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const field of fields) {
    if (typeof field === "number") {
      offset = bytes.writeUInt8(field, offset);
    } else if (typeof field === "string") {
      const length = bytes.write(field, offset + 4, "utf8");
      bytes.writeUInt32BE(length, offset);
      offset += 4 + length;
    } else {
      offset = bytes.writeUInt32BE(field.length, offset);
      bytes.set(field, offset);
      offset += field.length;
    }
  }
  return createHash("md5").update(bytes).digest("hex");
}
