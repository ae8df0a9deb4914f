/**
 * The write engine's calls to dynalite without the HTTP round trip. In the DynamoDB thread every item write and read
 * of a function goes through the write engine (shared/local/dynamodb-streams), which sends one to three requests of
 * its own to dynalite per call. Through dynalite's request listener ({@link listenerTarget}) each of those was
 * serialized to JSON, given HTTP-like headers (a date, a signature header), parsed again by dynalite, given a random
 * request id (a `randomBytes` call) and answered as JSON with a CRC32, which the engine parsed back: about a tenth of
 * the thread's CPU, for answers nobody but the engine reads.
 *
 * The seam: {@link startDynalite} starts dynalite as usual and keeps the store it created (dynalite's `db.create`,
 * wrapped for that one call); {@link directTarget} runs what dynalite's listener runs for a request — its type checks
 * (`validations.checkTypes`), its validations (`checkValidations`, with the operation's own rules) and the operation's
 * action on that store — and answers with the action's result or error body, as the listener would have sent them.
 *
 * - The request is copied first, as the JSON round trip copied it: dynalite's type checks delete null and unknown
 *   fields from what they are given, and the engine still reads its request afterwards (the stream record's image).
 *   A request holding anything JSON would change (`undefined`, a non-finite number, a class instance) is copied
 *   through JSON itself.
 * - The answer is the action's own object: what the listener would have serialized. dynalite builds it afresh
 *   (items are decoded from its store, the request's values come from its own copy); JSON.stringify of it gives the
 *   listener's body byte for byte (dynalite-direct.test.ts compares both on every operation the engine sends).
 * - Operations outside {@link DIRECT_OPERATIONS}, and requests that are not JSON objects, go to `fallback` (the
 *   listener): dynalite's answers to those (an unknown operation, a body that is not an object) stay its own.
 * - An unexpected error inside an action (not a DynamoDB error answer) rejects the call; through the listener it was
 *   thrown from a storage callback and ended the thread.
 */
import type { Server } from "node:http";
import type { DynamoAnswer, DynamoTarget } from "../dynamodb-streams";

/** The store dynalite's `db.create` returns (opaque here: it is handed back to dynalite's validations and actions). */
export type DynaliteStore = object;

/** A DynamoDB error as dynalite's actions and validations raise it. */
interface DynaliteError extends Error {
  statusCode?: number;
  body?: Record<string, unknown>;
}

type Action = (store: DynaliteStore, data: Record<string, unknown>, callback: (error: DynaliteError | null | undefined, data?: Record<string, unknown>) => void) => void;

interface ActionValidation {
  types: Record<string, unknown>;
  custom?: unknown;
}

/** The parts of dynalite (4.x) this seam uses, loaded from the package. */
export interface DynaliteInternals {
  dynalite: (options: Record<string, unknown>) => Server;
  db: { create: (options: Record<string, unknown>) => DynaliteStore };
  validations: {
    checkTypes(data: Record<string, unknown>, types: Record<string, unknown>): Record<string, unknown>;
    checkValidations(data: Record<string, unknown>, types: Record<string, unknown>, custom: unknown, store: DynaliteStore): void;
  };
  action(operation: string): Action;
  validation(operation: string): ActionValidation;
}

/** What the write engine sends to dynalite; each is one of dynalite's own operations. */
export const DIRECT_OPERATIONS: ReadonlySet<string> = new Set(["PutItem", "GetItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "DescribeTable"]);

const lowerFirst = (operation: string) => operation[0]!.toLowerCase() + operation.slice(1);

/** dynalite's modules, as its listener loads them (`actions/<operation>`, `validations/<operation>`). */
export function loadDynaliteInternals(): DynaliteInternals {
  // dynalite has no type declarations; the worker's bundle keeps it a package import.
  const actions = new Map<string, Action>();
  const rules = new Map<string, ActionValidation>();
  return {
    dynalite: require("dynalite") as DynaliteInternals["dynalite"],
    db: require("dynalite/db") as DynaliteInternals["db"],
    validations: require("dynalite/validations") as DynaliteInternals["validations"],
    action(operation) {
      let found = actions.get(operation);
      if (!found) actions.set(operation, (found = require(`dynalite/actions/${lowerFirst(operation)}`) as Action));
      return found;
    },
    validation(operation) {
      let found = rules.get(operation);
      if (!found) rules.set(operation, (found = require(`dynalite/validations/${lowerFirst(operation)}`) as ActionValidation));
      return found;
    },
  };
}

/** Starts dynalite (not listening yet) and returns its server with the store it created. */
export function startDynalite(internals: DynaliteInternals, options: Record<string, unknown>): { server: Server; store: DynaliteStore } {
  const create = internals.db.create;
  let store: DynaliteStore | undefined;
  internals.db.create = (createOptions) => (store = create(createOptions));
  let server: Server;
  try {
    server = internals.dynalite(options);
  } finally {
    internals.db.create = create;
  }
  if (store === undefined) throw new Error("dynalite did not create its store through db.create: this dynalite version does not fit the local stage's direct calls");
  return { server, store };
}

const NOT_PLAIN = Symbol("not plain JSON");

/** A deep copy of JSON data (what JSON.parse(JSON.stringify(value)) gives), or NOT_PLAIN when JSON would change it. */
function copyJson(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : NOT_PLAIN;
  if (typeof value !== "object") return NOT_PLAIN;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return NOT_PLAIN;
      const inner = copyJson(value[i]);
      if (inner === NOT_PLAIN) return NOT_PLAIN;
      out[i] = inner;
    }
    return out;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    // JSON.parse gives a `__proto__` key as an own property; an assignment would set the prototype.
    if (key === "__proto__") return NOT_PLAIN;
    const inner = copyJson((value as Record<string, unknown>)[key]);
    if (inner === NOT_PLAIN) return NOT_PLAIN;
    out[key] = inner;
  }
  return out;
}

/**
 * `value` as JSON.parse(JSON.stringify(value)) would give it back: the same object when JSON would keep it as it is,
 * else a copy of the parts that change (undefined, function or symbol properties left out: dynalite's answers carry
 * `ConsumedCapacity: undefined`), or NOT_PLAIN when JSON would change it in another way.
 */
function asJson(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
  if (typeof value !== "object") return NOT_PLAIN;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return NOT_PLAIN;
      const inner = asJson(value[i]);
      if (inner === NOT_PLAIN) return NOT_PLAIN;
      if (inner !== value[i]) (out ??= value.slice())[i] = inner;
    }
    return out ?? value;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  let out: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key in source) {
    if (key === "__proto__") return NOT_PLAIN;
    const item = source[key];
    if (item === undefined || typeof item === "function" || typeof item === "symbol") {
      if (!out) {
        out = {};
        for (const earlier in source) {
          if (earlier === key) break;
          out[earlier] = source[earlier];
        }
      }
      continue;
    }
    const inner = asJson(item);
    if (inner === NOT_PLAIN) return NOT_PLAIN;
    if (inner !== item && !out) {
      out = {};
      for (const earlier in source) {
        if (earlier === key) break;
        out[earlier] = source[earlier];
      }
    }
    if (out) out[key] = inner;
  }
  return out ?? value;
}

/** An answer's body as the listener's JSON round trip would have given it. */
function answerBody(body: Record<string, unknown> | undefined): Record<string, unknown> {
  if (body === undefined) return {};
  const shaped = asJson(body);
  return shaped === NOT_PLAIN ? (JSON.parse(JSON.stringify(body)) as Record<string, unknown>) : (shaped as Record<string, unknown>);
}

/** The request as dynalite's listener would have parsed it from its JSON. */
function requestCopy(request: Record<string, unknown>): Record<string, unknown> {
  const copy = copyJson(request);
  return copy === NOT_PLAIN ? (JSON.parse(JSON.stringify(request)) as Record<string, unknown>) : (copy as Record<string, unknown>);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A write engine target that runs {@link DIRECT_OPERATIONS} on dynalite's store in this thread (see the file's
 * comment); anything else goes to `fallback`.
 */
export function directTarget(internals: DynaliteInternals, store: DynaliteStore, fallback: DynamoTarget): DynamoTarget {
  const { checkTypes, checkValidations } = internals.validations;
  return (operation, request) => {
    if (!DIRECT_OPERATIONS.has(operation) || !isPlainObject(request)) return fallback(operation, request);
    const rules = internals.validation(operation);
    let data: Record<string, unknown>;
    try {
      data = checkTypes(requestCopy(request), rules.types);
      checkValidations(data, rules.types, rules.custom, store);
    } catch (error) {
      const failure = error as DynaliteError;
      if (failure?.statusCode) return Promise.resolve({ status: failure.statusCode, body: answerBody(failure.body) });
      return Promise.reject(error);
    }
    return new Promise<DynamoAnswer>((resolve, reject) => {
      try {
        internals.action(operation)(store, data, (error, answer) => {
          if (error?.statusCode) resolve({ status: error.statusCode, body: answerBody(error.body) });
          else if (error) reject(error);
          else resolve({ status: 200, body: answerBody(answer) });
        });
      } catch (error) {
        reject(error);
      }
    });
  };
}
