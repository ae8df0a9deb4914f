import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { cryptoModule, derivedEventId } from "../event-id";

/** The derivation as first written (a Hash object per id): ids already recorded must not change. */
function reference(...parts: string[]): string {
  const hash = createHash("sha256").update(parts.join("\u0000")).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const cases: string[][] = [
  ["invoice", "0b5e3c2e-4f7a-4c1e-9d2b-6a1f0e3d9c11"],
  ["billing#issue-invoice#evt-1", "billing.invoice-issued", "1"],
  ["émission", "facture €", "😀"],
  [""],
];

test("derived ids are the same as ever (version 8 UUIDs of the SHA-256 of the parts)", () => {
  assert.is(derivedEventId("invoice", "evt-1"), "dd87bba8-05c6-8dda-9415-f4aebf67cad8");
  for (const parts of cases) {
    const id = derivedEventId(...parts);
    assert.is(id, reference(...parts), parts.join(" | "));
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

test("without crypto.hash (Node.js before 20.12) the ids are the same", () => {
  const crypto = cryptoModule() as { hash?: unknown };
  const hash = Object.getOwnPropertyDescriptor(crypto, "hash");
  Object.defineProperty(crypto, "hash", { value: undefined, configurable: true, writable: true });
  try {
    for (const parts of cases) assert.is(derivedEventId(...parts), reference(...parts), parts.join(" | "));
  } finally {
    if (hash) Object.defineProperty(crypto, "hash", hash);
    else delete crypto.hash;
  }
});

test.run();
