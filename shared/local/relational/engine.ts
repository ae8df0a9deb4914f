/**
 * The local relational engine: PostgreSQL (PGlite, compiled to WASM, in-process) with the RDS Data API's execution
 * model on top: statements with named parameters and type hints, each run as a database role (the one the call's
 * secret names), autocommit or inside a transaction started by BeginTransaction, results in the Data API's typed
 * records or its JSON format.
 *
 * PGlite has one connection, so a Data API transaction holds the engine from BeginTransaction to its commit or
 * rollback: other calls wait for it (AWS runs them on other connections). A transaction nobody uses for
 * `transactionIdleMs` is rolled back, as AWS ends one after three minutes without calls.
 */
import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, openAsBlob, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PGlite, Results } from "@electric-sql/pglite";
import { replacePlaceholders } from "../../runtime/relational-sql-text";

/** A Data API parameter (`SqlParameter`). */
export interface SqlParameter {
  name?: string;
  value?: Field;
  typeHint?: "DATE" | "DECIMAL" | "JSON" | "TIME" | "TIMESTAMP" | "UUID" | string;
}

/** A Data API value (`Field`): exactly one member set. */
export interface Field {
  isNull?: boolean;
  booleanValue?: boolean;
  longValue?: number;
  doubleValue?: number;
  stringValue?: string;
  blobValue?: string | Uint8Array;
  arrayValue?: ArrayValue;
}

export interface ArrayValue {
  booleanValues?: boolean[];
  longValues?: number[];
  doubleValues?: number[];
  stringValues?: string[];
  arrayValues?: ArrayValue[];
}

/** The Data API's column metadata (`ColumnMetadata`). */
export interface ColumnMetadata {
  name: string;
  label: string;
  type: number;
  typeName: string;
  schemaName: string;
  tableName: string;
  isAutoIncrement: boolean;
  isSigned: boolean;
  isCurrency: boolean;
  isCaseSensitive: boolean;
  nullable: number;
  precision: number;
  scale: number;
  arrayBaseColumnType: number;
}

/** A statement as ExecuteStatement carries it. */
export interface StatementInput {
  sql: string;
  parameters?: readonly SqlParameter[];
  /** The role the statement runs as (the one the call's secret names). */
  role: string;
  transactionId?: string;
  includeResultMetadata?: boolean;
  formatRecordsAs?: "NONE" | "JSON";
  resultSetOptions?: { decimalReturnType?: "STRING" | "DOUBLE_OR_LONG"; longReturnType?: "STRING" | "LONG" };
  /** Called after the statement ran (besides the engine's `onStatement`): the endpoint traces it under its caller. */
  report?: (report: StatementReport) => void;
}

/** What ExecuteStatement answers. */
export interface StatementResult {
  records?: Field[][];
  formattedRecords?: string;
  columnMetadata?: ColumnMetadata[];
  numberOfRecordsUpdated: number;
  generatedFields?: Field[];
}

/** A failure the Data API answers with one of its error codes (the message is PostgreSQL's, or the API's own). */
export class DataApiError extends Error {
  constructor(
    readonly code: "BadRequestException" | "DatabaseErrorException" | "NotFoundException" | "TransactionNotFoundException" | "StatementTimeoutException" | "ForbiddenException",
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** One statement the engine ran, for the trace and the bench. */
export interface StatementReport {
  sql: string;
  role: string;
  transactionId?: string;
  durationMs: number;
  rows: number;
  error?: string;
}

/** Options of {@link RelationalEngine.start}. */
export interface RelationalEngineOptions {
  /**
   * Keep the database in this folder (PGlite's data directory) across restarts.
   * @default in memory
   */
  dataDir?: string;
  /**
   * A fresh database (in memory, or a new data directory) starts from a copy of an empty one kept in this file (made
   * once, by an in-memory start: PostgreSQL's initdb takes seconds under WASM, loading the copy a fraction of that).
   * @default no copy kept
   */
  baseImage?: string;
  /** A transaction without calls for this long is rolled back. @default 30000 */
  transactionIdleMs?: number;
  /** Called after every statement. */
  onStatement?: (report: StatementReport) => void;
}

interface OpenTransaction {
  id: string;
  role: string;
  timer: NodeJS.Timeout;
  release: () => void;
  /** Statements of one transaction run one after another. */
  tail: Promise<unknown>;
}

// Raw text for the types whose JavaScript value would lose what the Data API answers (dates as Date objects, int8 and
// numeric precision, JSON parsed).
const RAW_TYPES = [20, 114, 1082, 1083, 1114, 1184, 1266, 1700, 3802, 1186];
const RAW_PARSERS = Object.fromEntries(RAW_TYPES.map((oid) => [oid, (value: string) => value]));

/** JDBC type codes the Data API reports in `type`, by PostgreSQL type name. */
const JDBC_TYPES: Record<string, number> = {
  bool: -7,
  int2: 5,
  int4: 4,
  int8: -5,
  oid: -5,
  float4: 7,
  float8: 8,
  numeric: 2,
  text: 12,
  varchar: 12,
  bpchar: 1,
  name: 12,
  date: 91,
  time: 92,
  timetz: 92,
  timestamp: 93,
  timestamptz: 93,
  bytea: -2,
};

export class RelationalEngine {
  private readonly transactions = new Map<string, OpenTransaction>();
  private lock: Promise<void> = Promise.resolve();
  private typeNames = new Map<number, { name: string; element: number }>();
  private closed = false;
  /** Each role's own settings (pg_db_role_setting), read once; forgotten when a statement alters a role. */
  private readonly roleSettings = new Map<string, [string, string][]>();

  private constructor(
    readonly db: PGlite,
    readonly options: RelationalEngineOptions,
    /** `memory` or the data directory. */
    readonly storage: string,
  ) {}

  /** Starts PGlite (from the base image when one is kept and the database is in memory). */
  static async start(options: RelationalEngineOptions = {}): Promise<RelationalEngine> {
    // Loaded here, not on import: the stage's own thread uses this module's types and errors without PGlite (it runs
    // in the relational thread, engine-thread.ts).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded by the first start only
    const { PGlite } = require("@electric-sql/pglite") as typeof import("@electric-sql/pglite");
    let db: PGlite;
    if (options.dataDir) {
      mkdirSync(options.dataDir, { recursive: true });
      // A new data directory starts from the base image too (initdb into a folder takes seconds more).
      const fresh = !existsSync(join(options.dataDir, "PG_VERSION"));
      db =
        fresh && options.baseImage && existsSync(options.baseImage)
          ? new PGlite(options.dataDir, { loadDataDir: await openAsBlob(options.baseImage), parsers: RAW_PARSERS })
          : new PGlite(options.dataDir, { parsers: RAW_PARSERS });
    } else if (options.baseImage && existsSync(options.baseImage)) {
      // A Blob backed by the file (read when PGlite reads it): no copy of the ~40 MB image in memory before that.
      db = new PGlite({ loadDataDir: await openAsBlob(options.baseImage), parsers: RAW_PARSERS });
    } else {
      db = new PGlite({ parsers: RAW_PARSERS });
      await db.waitReady;
      if (options.baseImage) {
        const image = await db.dumpDataDir("none");
        keepBaseImage(options.baseImage, Buffer.from(await image.arrayBuffer()));
      }
    }
    await db.waitReady;
    await db.exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'");
    const engine = new RelationalEngine(db, options, options.dataDir ?? "memory");
    await engine.loadTypeNames();
    return engine;
  }

  private async loadTypeNames(): Promise<void> {
    const types = await this.db.query<{ oid: number; typname: string; typelem: number }>("select oid::int4 as oid, typname, typelem::int4 as typelem from pg_type");
    this.typeNames = new Map(types.rows.map((t) => [Number(t.oid), { name: t.typname, element: Number(t.typelem) }]));
  }

  /** Waits for the engine (held by an open transaction or a running statement); returns its release. */
  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const before = this.lock;
    this.lock = before.then(() => held);
    await before;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }

  /** Runs work with the engine held (migrations' bookkeeping, the admin rows, psql's server is not held). */
  async exclusive<T>(work: (db: PGlite) => Promise<T>): Promise<T> {
    this.open();
    const release = await this.acquire();
    try {
      return await work(this.db);
    } finally {
      release();
    }
  }

  private open(): void {
    if (this.closed) throw new DataApiError("BadRequestException", "The local database is stopping.");
  }

  /** BeginTransaction: holds the engine for the transaction; answers its id. */
  async begin(role: string): Promise<string> {
    this.open();
    const release = await this.acquire();
    try {
      await this.enterRole(role);
    } catch (error) {
      await this.db.exec("ROLLBACK").catch(() => undefined);
      release();
      throw databaseError(error);
    }
    const id = randomBytes(24).toString("base64");
    const transaction: OpenTransaction = { id, role, release, tail: Promise.resolve(), timer: setTimeout(() => void this.expire(id), this.idleMs()) };
    transaction.timer.unref();
    this.transactions.set(id, transaction);
    return id;
  }

  /**
   * Starts a transaction as `role`, with the role's own settings (`ALTER ROLE ... SET search_path`): what a Data API
   * call gets from a connection that logged in as the secret's user.
   */
  private async enterRole(role: string): Promise<void> {
    await this.db.exec(`BEGIN; SET LOCAL ROLE ${quoteIdentifier(role)}`);
    let settings = this.roleSettings.get(role);
    if (!settings) {
      const rows = await this.db.query<{ setting: string }>(
        "select unnest(s.setconfig) as setting from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1 and s.setdatabase = 0",
        [role],
      );
      settings = rows.rows.map((r) => {
        const at = r.setting.indexOf("=");
        return [r.setting.slice(0, at), r.setting.slice(at + 1)] as [string, string];
      });
      this.roleSettings.set(role, settings);
    }
    for (const [name, value] of settings) await this.db.query("select set_config($1, $2, true)", [name, value]);
  }

  private idleMs(): number {
    return this.options.transactionIdleMs ?? 30_000;
  }

  private async expire(id: string): Promise<void> {
    const transaction = this.transactions.get(id);
    if (!transaction) return;
    this.transactions.delete(id);
    await transaction.tail.catch(() => undefined);
    await this.db.exec("ROLLBACK").catch(() => undefined);
    transaction.release();
  }

  private transaction(id: string, role: string): OpenTransaction {
    const transaction = this.transactions.get(id);
    if (!transaction) throw new DataApiError("TransactionNotFoundException", `Transaction ${id} is not found`, 404);
    if (transaction.role !== role) throw new DataApiError("BadRequestException", `Transaction ${id} was started with another secret`);
    transaction.timer.refresh();
    return transaction;
  }

  /** CommitTransaction or RollbackTransaction. */
  async end(id: string, role: string, how: "COMMIT" | "ROLLBACK"): Promise<string> {
    const transaction = this.transaction(id, role);
    this.transactions.delete(id);
    clearTimeout(transaction.timer);
    try {
      await transaction.tail.catch(() => undefined);
      // A transaction in which a statement failed is aborted: PostgreSQL answers COMMIT with a rollback.
      await this.db.exec(how);
    } catch (error) {
      await this.db.exec("ROLLBACK").catch(() => undefined);
      throw databaseError(error);
    } finally {
      transaction.release();
    }
    return how === "COMMIT" ? "Transaction Committed" : "Rollback Complete";
  }

  /** ExecuteStatement. */
  async execute(input: StatementInput): Promise<StatementResult> {
    this.open();
    const { text, values } = bindParameters(input.sql, input.parameters ?? []);
    if (input.transactionId) {
      const transaction = this.transaction(input.transactionId, input.role);
      const run = transaction.tail.catch(() => undefined).then(() => this.run(input, text, values));
      transaction.tail = run;
      return run;
    }
    const release = await this.acquire();
    try {
      try {
        await this.enterRole(input.role);
      } catch (error) {
        await this.db.exec("ROLLBACK").catch(() => undefined);
        throw databaseError(error);
      }
      let result: StatementResult;
      try {
        result = await this.run(input, text, values);
      } catch (error) {
        await this.db.exec("ROLLBACK").catch(() => undefined);
        throw error;
      }
      await this.db.exec("COMMIT");
      return result;
    } finally {
      release();
    }
  }

  /** BatchExecuteStatement: one statement over parameter sets, in one transaction unless inside one. */
  async batch(input: Omit<StatementInput, "parameters" | "includeResultMetadata" | "formatRecordsAs"> & { parameterSets: readonly (readonly SqlParameter[])[] }): Promise<{ updateResults: { generatedFields: Field[] }[] }> {
    const sets = input.parameterSets.length ? input.parameterSets : [[]];
    const runAll = async () => {
      const results: { generatedFields: Field[] }[] = [];
      for (const parameters of sets) {
        const { text, values } = bindParameters(input.sql, parameters);
        const result = await this.run({ ...input, parameters }, text, values);
        results.push({ generatedFields: result.records?.[0] ?? [] });
      }
      return results;
    };
    if (input.transactionId) {
      const transaction = this.transaction(input.transactionId, input.role);
      const run = transaction.tail.catch(() => undefined).then(runAll);
      transaction.tail = run;
      return { updateResults: await run };
    }
    const id = await this.begin(input.role);
    try {
      const transaction = this.transactions.get(id)!;
      const run = runAll();
      transaction.tail = run;
      const updateResults = await run;
      await this.end(id, input.role, "COMMIT");
      return { updateResults };
    } catch (error) {
      if (this.transactions.has(id)) await this.end(id, input.role, "ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  private async run(input: StatementInput, text: string, values: unknown[]): Promise<StatementResult> {
    const started = performance.now();
    let results: Results<Record<string, unknown>>;
    try {
      results = await this.db.query<Record<string, unknown>>(text, values, { rowMode: "object" });
    } catch (error) {
      const failure = databaseError(error);
      const report: StatementReport = { sql: input.sql, role: input.role, ...(input.transactionId ? { transactionId: input.transactionId } : {}), durationMs: performance.now() - started, rows: 0, error: failure.message };
      this.options.onStatement?.(report);
      input.report?.(report);
      throw failure;
    }
    if (/\balter\s+role\b/i.test(input.sql)) this.roleSettings.clear();
    const result = this.answer(input, results);
    const report: StatementReport = {
      sql: input.sql,
      role: input.role,
      ...(input.transactionId ? { transactionId: input.transactionId } : {}),
      durationMs: performance.now() - started,
      rows: results.fields.length ? results.rows.length : (results.affectedRows ?? 0),
    };
    this.options.onStatement?.(report);
    input.report?.(report);
    return result;
  }

  private answer(input: StatementInput, results: Results<Record<string, unknown>>): StatementResult {
    const fields = results.fields;
    if (!fields.length) return { numberOfRecordsUpdated: results.affectedRows ?? 0, generatedFields: [] };
    const metadata = fields.map((f) => this.column(f.name, f.dataTypeID));
    const options = input.resultSetOptions ?? {};
    const out: StatementResult = { numberOfRecordsUpdated: results.affectedRows ?? 0 };
    if (input.formatRecordsAs === "JSON") {
      // Keys are the column labels; a repeated label is refused by AWS as well.
      const labels = new Set<string>();
      for (const f of fields) {
        if (labels.has(f.name)) throw new DataApiError("BadRequestException", `The result contains the column name "${f.name}" more than once. Use column aliases.`);
        labels.add(f.name);
      }
      out.formattedRecords = JSON.stringify(results.rows.map((row) => Object.fromEntries(fields.map((f, i) => [f.name, jsonValue(row[f.name], metadata[i]!.typeName, options)]))));
    } else {
      out.records = results.rows.map((row) => fields.map((f, i) => typedField(row[f.name], metadata[i]!, this.typeNames, options)));
    }
    if (input.includeResultMetadata) out.columnMetadata = metadata;
    return out;
  }

  private column(name: string, oid: number): ColumnMetadata {
    const type = this.typeNames.get(oid);
    const typeName = type?.name ?? String(oid);
    const isArray = typeName.startsWith("_");
    return {
      name,
      label: name,
      type: isArray ? 2003 : (JDBC_TYPES[typeName] ?? 1111),
      typeName: isArray ? typeName : typeName,
      schemaName: "",
      tableName: "",
      isAutoIncrement: false,
      isSigned: ["int2", "int4", "int8", "float4", "float8", "numeric"].includes(typeName),
      isCurrency: false,
      isCaseSensitive: ["text", "varchar", "bpchar", "name"].includes(typeName),
      nullable: 2,
      precision: 0,
      scale: 0,
      arrayBaseColumnType: isArray ? (JDBC_TYPES[typeName.slice(1)] ?? 1111) : 0,
    };
  }

  /** Open Data API transactions (the admin rows). */
  openTransactions(): number {
    return this.transactions.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.transactions.keys()]) await this.expire(id);
    await this.lock.catch(() => undefined);
    await this.db.close();
  }
}

/** `"name"` with inner quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The SQL with `$n` for each `:name` and the values in order, cast as the Data API's JDBC driver types them. */
export function bindParameters(sql: string, parameters: readonly SqlParameter[]): { text: string; values: unknown[] } {
  const byName = new Map<string, SqlParameter>();
  for (const p of parameters) {
    if (!p.name) throw new DataApiError("BadRequestException", "Parameter name must be specified");
    byName.set(p.name, p);
  }
  const positions = new Map<string, number>();
  const values: unknown[] = [];
  const text = replacePlaceholders(sql, (name) => {
    const parameter = byName.get(name);
    if (!parameter && /^\d/.test(name)) return undefined;
    if (!parameter) throw new DataApiError("BadRequestException", `No value specified for parameter: ${name}`);
    let position = positions.get(name);
    if (position === undefined) {
      const { value, cast } = parameterValue(parameter);
      values.push(value);
      position = values.length;
      positions.set(name, position);
      return `$${position}${cast}`;
    }
    return `$${position}${parameterValue(parameter).cast}`;
  });
  return { text, values };
}

const HINT_CASTS: Record<string, string> = { DATE: "::date", TIME: "::time", TIMESTAMP: "::timestamp", DECIMAL: "::numeric", JSON: "::json", UUID: "::uuid" };

function parameterValue(parameter: SqlParameter): { value: unknown; cast: string } {
  const field = parameter.value ?? { isNull: true };
  if (parameter.typeHint !== undefined && !(parameter.typeHint in HINT_CASTS)) {
    throw new DataApiError("BadRequestException", `Invalid type hint ${parameter.typeHint} for parameter ${parameter.name}: one of ${Object.keys(HINT_CASTS).join(", ")}`);
  }
  if (field.isNull) return { value: null, cast: "" };
  if (field.arrayValue) throw new DataApiError("BadRequestException", "Array parameters are not supported.");
  if (typeof field.stringValue === "string") {
    if (parameter.typeHint) return { value: field.stringValue, cast: HINT_CASTS[parameter.typeHint]! };
    // The Data API's driver sends a string as varchar: comparing it with a date, uuid or json column needs a type hint.
    return { value: field.stringValue, cast: "::varchar" };
  }
  if (typeof field.longValue === "number") return { value: String(field.longValue), cast: "::int8" };
  if (typeof field.doubleValue === "number") return { value: field.doubleValue, cast: parameter.typeHint === "DECIMAL" ? "::numeric" : "::float8" };
  if (typeof field.booleanValue === "boolean") return { value: field.booleanValue, cast: "::bool" };
  if (field.blobValue !== undefined) return { value: typeof field.blobValue === "string" ? Buffer.from(field.blobValue, "base64") : field.blobValue, cast: "::bytea" };
  throw new DataApiError("BadRequestException", `Parameter ${parameter.name} has no value`);
}

function typedField(value: unknown, column: ColumnMetadata, types: Map<number, { name: string; element: number }>, options: NonNullable<StatementInput["resultSetOptions"]>): Field {
  if (value === null || value === undefined) return { isNull: true };
  const type = column.typeName;
  if (type.startsWith("_") && Array.isArray(value)) return { arrayValue: arrayOf(value, type.slice(1)) };
  switch (type) {
    case "bool":
      return { booleanValue: Boolean(value) };
    case "int2":
    case "int4":
    case "int8":
    case "oid":
      return options.longReturnType === "STRING" ? { stringValue: String(value) } : { longValue: Number(value) };
    case "float4":
    case "float8":
      return { doubleValue: Number(value) };
    case "numeric":
      return options.decimalReturnType === "DOUBLE_OR_LONG" ? numberField(String(value)) : { stringValue: String(value) };
    case "bytea":
      return { blobValue: Buffer.from(value as Uint8Array).toString("base64") };
    case "timestamptz":
      return { stringValue: String(value).replace(/\+00(:00)?$/, "") };
    default:
      void types;
      return { stringValue: typeof value === "string" ? value : JSON.stringify(value) };
  }
}

function numberField(text: string): Field {
  return /^-?\d+$/.test(text) ? { longValue: Number(text) } : { doubleValue: Number(text) };
}

function arrayOf(values: unknown[], element: string): ArrayValue {
  if (values.some(Array.isArray)) return { arrayValues: values.map((v) => arrayOf(Array.isArray(v) ? v : [v], element)) };
  if (element === "bool") return { booleanValues: values.map(Boolean) };
  if (["int2", "int4", "int8"].includes(element)) return { longValues: values.map(Number) };
  if (["float4", "float8"].includes(element)) return { doubleValues: values.map(Number) };
  return { stringValues: values.map((v) => (v === null ? "" : String(v))) };
}

function jsonValue(value: unknown, type: string, options: NonNullable<StatementInput["resultSetOptions"]>): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "int2":
    case "int4":
    case "int8":
    case "oid":
      return options.longReturnType === "STRING" ? String(value) : Number(value);
    case "float4":
    case "float8":
      return Number(value);
    case "numeric":
      return options.decimalReturnType === "DOUBLE_OR_LONG" ? Number(value) : String(value);
    case "bool":
      return Boolean(value);
    case "bytea":
      return Buffer.from(value as Uint8Array).toString("base64");
    case "timestamptz":
      return String(value).replace(/\+00(:00)?$/, "");
    default:
      return Array.isArray(value) ? value : typeof value === "string" ? value : JSON.stringify(value);
  }
}

/** PostgreSQL's error as the Data API answers it: `DatabaseErrorException` carrying Postgres's message. */
function databaseError(error: unknown): DataApiError {
  if (error instanceof DataApiError) return error;
  const e = error as { message?: string; code?: string; position?: string };
  // AWS prefixes the driver's words: "ERROR: relation \"nope\" does not exist\n  Position: 15; SQLState: 42P01".
  const position = e.position ? `\n  Position: ${e.position}` : "";
  return new DataApiError("DatabaseErrorException", `ERROR: ${e.message ?? String(error)}${position}${e.code ? `; SQLState: ${e.code}` : ""}`);
}

/** Where a persisted stage keeps the database: `<persist dir>/relational`. */
export function relationalDataDir(persistDir: string): string {
  return join(persistDir, "relational");
}

/** The role the cluster's master secret logs in as locally (PGlite's superuser). */
export const LOCAL_MASTER_ROLE = "postgres";

/**
 * Where the stage keeps its copy of an empty database (`.build/relational/pglite-<version>.tar`, made on first use):
 * a fresh in-memory engine loads it instead of running initdb.
 */
/**
 * Writes the base image at `path` unless one is there already; never replaces one. Test files start their engines
 * in parallel processes: two may both find no image and both make one, while a third has already opened the first
 * one's file as a Blob (read later, by PGlite). A file-backed Blob cannot be read once its file is replaced
 * (NotReadableError), so the second image is dropped instead: the file is written aside and hard-linked into place,
 * which fails (EEXIST) rather than replaces. Whole or absent: no reader sees a half-written image.
 * @returns whether this call's image was kept
 */
export function keepBaseImage(path: string, image: Uint8Array): boolean {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temporary, image);
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
}

export function defaultBaseImage(): string {
  const root = join(__dirname, "..", "..", "..");
  const version = (JSON.parse(readFileSync(join(root, "node_modules/@electric-sql/pglite/package.json"), "utf8")) as { version: string }).version;
  return join(root, ".build", "relational", `pglite-${version}.tar`);
}
