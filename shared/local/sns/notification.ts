import { createHash, randomUUID } from "node:crypto";

/** A message attribute as it appears in an SNS notification: `{ "Type": ..., "Value": ... }` (binary as base64). */
export interface NotificationAttribute {
  Type: string;
  Value: string;
}

/**
 * The fields of an SNS `Notification` as delivered to an SQS queue without raw message delivery. Standard topics
 * carry `SignatureVersion`, `Signature` and `SigningCertURL`; FIFO topics carry `SequenceNumber` and no signature.
 * `Subject` is absent when the publisher set none; `MessageAttributes` is absent when there are none.
 */
export interface NotificationFields {
  MessageId: string;
  SequenceNumber?: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  /** ISO-8601 with milliseconds, e.g. `2021-01-19T10:07:07.287Z`. */
  Timestamp: string;
  SignatureVersion?: string;
  Signature?: string;
  SigningCertURL?: string;
  UnsubscribeURL: string;
  MessageAttributes?: Record<string, NotificationAttribute>;
}

/**
 * A JSON string literal the way SNS writes one (Jackson): `"` and `\` escaped, control characters as `\b \t \n \f \r`
 * or `\u00XX` with uppercase hex, everything else (slashes, non-ASCII) as is.
 */
export function jacksonString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (code < 0x20) {
      const short: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r" };
      out += short[code] ?? `\\u00${code.toString(16).toUpperCase().padStart(2, "0")}`;
    } else out += char;
  }
  return `${out}"`;
}

/**
 * The body SNS puts in an SQS message for a non-raw subscription, byte for byte in AWS's layout: pretty-printed with
 * two-space indent and `" : "` separators, keys in AWS's order (Type, MessageId, SequenceNumber, TopicArn, Subject,
 * Message, Timestamp, SignatureVersion, Signature, SigningCertURL, UnsubscribeURL, MessageAttributes), each message
 * attribute on one line as `{"Type":...,"Value":...}`.
 */
export function formatNotification(fields: NotificationFields): string {
  const lines: string[] = [];
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined) lines.push(`  ${jacksonString(key)} : ${jacksonString(value)}`);
  };
  add("Type", "Notification");
  add("MessageId", fields.MessageId);
  add("SequenceNumber", fields.SequenceNumber);
  add("TopicArn", fields.TopicArn);
  add("Subject", fields.Subject);
  add("Message", fields.Message);
  add("Timestamp", fields.Timestamp);
  add("SignatureVersion", fields.SignatureVersion);
  add("Signature", fields.Signature);
  add("SigningCertURL", fields.SigningCertURL);
  add("UnsubscribeURL", fields.UnsubscribeURL);
  const attributes = Object.entries(fields.MessageAttributes ?? {});
  if (attributes.length > 0) {
    const entries = attributes.map(
      ([name, attribute]) =>
        `    ${jacksonString(name)} : {"Type":${jacksonString(attribute.Type)},"Value":${jacksonString(attribute.Value)}}`,
    );
    lines.push(`  "MessageAttributes" : {\n${entries.join(",\n")}\n  }`);
  }
  return `{\n${lines.join(",\n")}\n}`;
}

/**
 * An SNS-style message id: shaped as a name-based (version 5) UUID, as SNS message ids are (`d88d4479-6ec0-54fe-...`),
 * with random bits (a version 4 UUID's, from `randomUUID`'s buffered pool of entropy) where the name's hash would
 * be: unique, without a call into OpenSSL's generator and a SHA-1 per message.
 */
export function snsMessageId(): string {
  const id = randomUUID();
  return `${id.slice(0, 14)}5${id.slice(15)}`;
}

/**
 * The string SNS signs for a Notification (the documented canonical form: key, newline, value, newline, for
 * Message, MessageId, Subject when present, Timestamp, TopicArn, Type).
 */
export function stringToSign(fields: NotificationFields): string {
  const pairs: Array<[string, string | undefined]> = [
    ["Message", fields.Message],
    ["MessageId", fields.MessageId],
    ["Subject", fields.Subject],
    ["Timestamp", fields.Timestamp],
    ["TopicArn", fields.TopicArn],
    ["Type", "Notification"],
  ];
  return pairs.filter(([, value]) => value !== undefined).map(([key, value]) => `${key}\n${value}\n`).join("");
}

/**
 * A stand-in signature with the shape of a real one (base64 of 256 bytes, as an RSA-2048 signature is), derived
 * from the string to sign. It is not verifiable: the local stage has no SNS signing key.
 */
export function localSignature(fields: NotificationFields): string {
  const seed = stringToSign(fields);
  const blocks: Buffer[] = [];
  for (let i = 0; i < 8; i++) blocks.push(createHash("sha256").update(`${i}\n${seed}`).digest());
  return Buffer.concat(blocks).toString("base64");
}
