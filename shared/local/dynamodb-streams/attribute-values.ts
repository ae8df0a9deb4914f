/**
 * DynamoDB items in their wire shape (`{ "pk": { "S": "a" } }`): keys, sizes and equality, as DynamoDB and DynamoDB
 * Streams count them.
 */

/** One attribute value as DynamoDB's JSON protocol carries it (`{ "S": "x" }`, `{ "N": "1" }`, `{ "M": {...} }`). */
export type AttributeValue = Record<string, unknown>;
/** An item (or a key): attribute name -> value. */
export type Item = Record<string, AttributeValue>;

/** A table's primary key attribute names. */
export interface PrimaryKey {
  partitionKey: string;
  sortKey?: string;
}

/** The item's primary key attributes, or `undefined` when one is missing or is not a key type (S, N, B). */
export function keyOf(item: unknown, key: PrimaryKey): Item | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const record = item as Record<string, unknown>;
  const names = key.sortKey ? [key.partitionKey, key.sortKey] : [key.partitionKey];
  const out: Item = {};
  for (const name of names) {
    const value = record[name];
    if (!isKeyValue(value)) return undefined;
    out[name] = value;
  }
  return out;
}

function isKeyValue(value: unknown): value is AttributeValue {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length === 1 && ["S", "N", "B"].includes(entries[0]![0]) && typeof entries[0]![1] === "string";
}

/**
 * A string naming one item of one table, the same for every spelling of its key (numbers compare by value, as
 * DynamoDB stores them): what the write lock and the transaction's "one operation per item" check go by.
 */
export function itemIdentity(table: string, key: Item, schema: PrimaryKey): string {
  const part = (name: string | undefined) => {
    if (name === undefined) return "";
    const value = key[name]!;
    const [type, raw] = Object.entries(value)[0]!;
    return `${type}:${type === "N" ? canonicalNumber(String(raw)) : String(raw)}`;
  };
  return JSON.stringify([table, part(schema.partitionKey), part(schema.sortKey)]);
}

/**
 * A DynamoDB number in one spelling per value: `1`, `1.0`, `+1.00` and `10e-1` all give `1E0` (digits without
 * leading or trailing zeros, then the exponent). An unreadable number is returned as it is.
 */
export function canonicalNumber(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) return text;
  const sign = match[1] === "-" ? "-" : "";
  const whole = match[2] ?? "";
  const fraction = match[3] ?? "";
  let digits = whole + fraction;
  let exponent = Number(match[4] ?? 0) - fraction.length;
  const leading = digits.search(/[1-9]/);
  if (leading === -1) return "0";
  digits = digits.slice(leading);
  const trailing = digits.length - digits.replace(/0+$/, "").length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  return `${sign}${digits}E${exponent}`;
}

/** True when two attribute values hold the same data (sets in any order, numbers by value, maps by key). */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return a === b;
  const [typeA, rawA] = Object.entries(a)[0] ?? [];
  const [typeB, rawB] = Object.entries(b)[0] ?? [];
  if (typeA !== typeB || typeA === undefined) return false;
  switch (typeA) {
    case "N":
      return canonicalNumber(String(rawA)) === canonicalNumber(String(rawB));
    case "SS":
    case "BS":
    case "NS": {
      const norm = (list: unknown) =>
        new Set((Array.isArray(list) ? list : []).map((v) => (typeA === "NS" ? canonicalNumber(String(v)) : String(v))));
      const setA = norm(rawA);
      const setB = norm(rawB);
      return setA.size === setB.size && [...setA].every((v) => setB.has(v));
    }
    case "L": {
      const listA = Array.isArray(rawA) ? rawA : [];
      const listB = Array.isArray(rawB) ? rawB : [];
      return listA.length === listB.length && listA.every((v, i) => valuesEqual(v, listB[i]));
    }
    case "M":
      return itemsEqual(rawA as Item, rawB as Item);
    default:
      return rawA === rawB;
  }
}

/** True when two items (or two absences) hold the same attributes with the same values. */
export function itemsEqual(a: Item | undefined, b: Item | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  return keysA.every((name) => Object.hasOwn(b, name) && valuesEqual(a[name], b[name]));
}

/** The size of a number as DynamoDB counts it: about one byte per two significant digits, plus one. */
function numberSize(text: string): number {
  const canonical = canonicalNumber(text);
  if (canonical === "0") return 1;
  const match = /^(-?)(\d+)E(-?\d+)$/.exec(canonical);
  if (!match) return Buffer.byteLength(text);
  const digits = match[2]!.length;
  // dynalite's count, which follows DynamoDB's base-100 storage: digits pair up from the decimal point.
  const scale = Number(match[3]) + digits;
  return 1 + Math.ceil(digits / 2) + (digits % 2 === 0 && scale % 2 !== 0 ? 1 : 0) + (match[1] ? 1 : 0);
}

/** The size in bytes of one attribute value (names not included). */
export function valueSize(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  const [type, raw] = Object.entries(value)[0] ?? [];
  switch (type) {
    case "S":
      return Buffer.byteLength(String(raw));
    case "B":
      return Buffer.from(String(raw), "base64").length;
    case "N":
      return numberSize(String(raw));
    case "SS":
      return (raw as string[]).reduce((sum, v) => sum + Buffer.byteLength(v), 0);
    case "BS":
      return (raw as string[]).reduce((sum, v) => sum + Buffer.from(v, "base64").length, 0);
    case "NS":
      return (raw as string[]).reduce((sum, v) => sum + numberSize(v), 0);
    case "BOOL":
    case "NULL":
      return 1;
    case "L":
      return 3 + (raw as unknown[]).reduce<number>((sum, v) => sum + 1 + valueSize(v), 0);
    case "M":
      return 3 + Object.keys(raw as Item).length + itemSize(raw as Item);
    default:
      return 0;
  }
}

/** The size in bytes of an item: its attribute names plus their values (DynamoDB's item size). */
export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}
