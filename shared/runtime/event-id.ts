import type * as NodeCrypto from "node:crypto";

// node:crypto costs several milliseconds to load: it is loaded on first use, not during the init phase.
let nodeCrypto: typeof NodeCrypto | undefined;

/** `node:crypto`, loaded on first use. */
export function cryptoModule(): typeof NodeCrypto {
  nodeCrypto ??= require("node:crypto") as typeof NodeCrypto;
  return nodeCrypto;
}

/** A new random event id (UUID v4). */
export function newEventId(): string {
  return cryptoModule().randomUUID();
}

/**
 * A UUID (version 8, RFC 9562) derived from `parts`: the same parts give the same id. Used for events published
 * while handling an event, so that a retried action republishes the same ids.
 */
export function derivedEventId(...parts: readonly string[]): string {
  const crypto = cryptoModule();
  const text = parts.join("\u0000");
  // crypto.hash (Node.js 20.12 and later) is the one-shot form: the same digest without a Hash object per id.
  const hash = typeof crypto.hash === "function" ? (crypto.hash("sha256", text, "buffer") as Buffer) : crypto.createHash("sha256").update(text).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
