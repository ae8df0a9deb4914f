import { ServiceError } from "./errors";
import type { SqsMessageAttributeValue } from "./md5";

/** SQS's number grammar for `Number` attributes (up to 38 significant digits, exponent -128..126). */
const NUMBER_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True when `value` is a number as SQS and SNS accept it in a `Number` attribute. */
export function isValidNumberAttribute(value: string): boolean {
  if (!NUMBER_PATTERN.test(value)) return false;
  const digits = value.replace(/^[+-]/, "").split(/[eE]/)[0]!.replace(".", "").replace(/^0+/, "");
  return digits.length <= 38;
}

/** Characters SQS accepts in a message body or attribute value (XML 1.0 characters). */
export function firstInvalidCharacter(text: string): number | undefined {
  // One regular expression scan (by code point: a lone surrogate is a character of its own, and not allowed), not a
  // string iterator: every message body sent is checked, and iterating one took about ten times as long.
  const found = INVALID_CHARACTER.exec(text);
  return found ? found[0].codePointAt(0) : undefined;
}

/** A character outside #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
const INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;

/** Validates a message attribute name the way SQS does; throws {@link ServiceError}. */
export function checkAttributeName(name: string): void {
  const lower = name.toLowerCase();
  if (
    !ATTRIBUTE_NAME.test(name) ||
    name.startsWith(".") ||
    name.endsWith(".") ||
    name.includes("..") ||
    lower.startsWith("aws.") ||
    lower.startsWith("amazon.")
  ) {
    throw new ServiceError(
      "InvalidParameterValue",
      `The message attribute name '${name}' is invalid. Attribute name can contain A-Z, a-z, 0-9, underscore (_), ` +
        "hyphen (-), and period (.) characters, up to 256, must not start or end with a period, contain two periods " +
        "in a row, or start with AWS. or Amazon.",
    );
  }
}

/** The base type of a data type (`String`, `Number`, `Binary`), or undefined when it has none of those prefixes. */
export function baseDataType(dataType: string): "String" | "Number" | "Binary" | undefined {
  const base = dataType.split(".")[0];
  return base === "String" || base === "Number" || base === "Binary" ? base : undefined;
}

/**
 * Validates SQS message attributes (count, names, data types, values) and returns their total size in bytes, as
 * counted against the maximum message size (name, data type and value bytes).
 */
export function checkSqsMessageAttributes(attributes: Record<string, SqsMessageAttributeValue> | undefined): number {
  const names = Object.keys(attributes ?? {});
  if (names.length > 10) {
    throw new ServiceError(
      "InvalidParameterValue",
      `Number of message attributes [${names.length}] exceeds the allowed maximum [10].`,
    );
  }
  let size = 0;
  for (const name of names) {
    const value = attributes![name]!;
    checkAttributeName(name);
    const base = baseDataType(value.DataType ?? "");
    if (!base || value.DataType.length > 256) {
      throw new ServiceError(
        "InvalidParameterValue",
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes ` +
          "is Binary, Number, and String.",
      );
    }
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType);
    if (base === "Binary") {
      if (value.BinaryValue === undefined) {
        throw new ServiceError("InvalidParameterValue", `The message attribute '${name}' must contain a non-empty message attribute value for message attribute type 'Binary'.`);
      }
      size += value.BinaryValue.length;
    } else {
      if (value.StringValue === undefined || value.StringValue === "") {
        throw new ServiceError(
          "InvalidParameterValue",
          `The message attribute '${name}' must contain a non-empty message attribute value for message attribute type '${base}'.`,
        );
      }
      if (base === "Number" && !isValidNumberAttribute(value.StringValue)) {
        throw new ServiceError(
          "InvalidParameterValue",
          `Can't cast the value of message (user) attribute '${name}' to a number.`,
        );
      }
      const bad = firstInvalidCharacter(value.StringValue);
      if (bad !== undefined) {
        throw new ServiceError(
          "InvalidParameterValue",
          `Invalid non-alphanumeric character '#x${bad.toString(16).toUpperCase()}' was found in the message attribute '${name}'.`,
        );
      }
      size += Buffer.byteLength(value.StringValue);
    }
  }
  return size;
}

/** Checks that `value` is an integer within [min, max]; throws {@link ServiceError} naming `parameter`. */
export function checkIntegerRange(parameter: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ServiceError(
      "InvalidParameterValue",
      `Value ${value} for parameter ${parameter} is invalid. Reason: must be an integer between ${min} and ${max}.`,
    );
  }
  return value;
}
