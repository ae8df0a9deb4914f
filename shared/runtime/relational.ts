import type { RDSData } from "@aws-sdk/client-rds-data";
import { Kysely, sql, type RawBuilder, type Transaction } from "kysely";
import { DataApiDialect } from "kysely-data-api";
import { ENV, type EnvName } from "../contract/environment";
import { ConfigurationError } from "./errors";
import { readEnv } from "./function-environment";
import { inFunction } from "./init";
import { rdsDataClient, rdsDataClientCreated, resetRdsDataClient } from "./relational-client";
import type { PlatformRelationalTables } from "./relational-tables";

declare global {
  /**
   * Set by the bundle (`define` in bundle-options.ts): `false` in the bundle of a function whose service declares no
   * relational store, so esbuild leaves Kysely and the Data API client out of it. Unset outside a bundle (tests).
   */
  var PLATFORM_BUNDLE_RELATIONAL: boolean | undefined;
}

export { MIGRATIONS_TABLE, PROCESSED_EVENTS_TABLE, type PlatformRelationalTables } from "./relational-tables";
export { RESUME_WAIT_MS, retryWhileResuming, type ResumeRetryOptions } from "./relational-client";

/** Where a service's tables are: the Data API's cluster, secret and database, and the service's schema. */
export interface RelationalConfig {
  clusterArn: string;
  secretArn: string;
  database: string;
  schema: string;
}

// Folded by esbuild: without `relational` in the bundle settings nothing below references Kysely or the client.
const bundled =
  globalThis.PLATFORM_BUNDLE_RELATIONAL === false
    ? undefined
    : {
        kysely: <DB>(config: RelationalConfig, client: RDSData) =>
          new Kysely<DB>({
            dialect: new DataApiDialect({ mode: "postgres", driver: { client, resourceArn: config.clusterArn, secretArn: config.secretArn, database: config.database } }),
          }),
        client: rdsDataClient,
        created: rdsDataClientCreated,
        reset: resetRdsDataClient,
      };

function required(name: EnvName): string {
  const value = readEnv(name);
  if (!value) {
    throw new ConfigurationError(
      `${name} is not set: relational queries need the function environment of a service that declares relational (defineService({ relational: { migrations: "migrations" } }))`,
    );
  }
  return value;
}

/** The store's settings from the function environment (`PLATFORM_RELATIONAL_*`). */
export function relationalConfig(): RelationalConfig {
  return {
    clusterArn: required(ENV.relationalClusterArn),
    secretArn: required(ENV.relationalSecretArn),
    database: required(ENV.relationalDatabase),
    schema: required(ENV.relationalSchema),
  };
}

/**
 * Values the Data API would send as text, cast to their column's type inside the statement (still a parameter): the
 * Data API sends a string as `varchar`, which PostgreSQL will not compare with or store into a `date`, `uuid` or
 * `jsonb` column ("column "day" is of type date but expression is of type character varying").
 * @example
 * trx.insertInto("revenue").values({ customer_id, day: asSql.date("2026-12-07"), amount_cents })
 * db.selectFrom("revenue").selectAll().where("day", ">=", asSql.date(from))
 */
export const asSql = {
  /** A `date` (the Data API dialect answers dates as `Date` objects at midnight UTC: type such columns `Date`). */
  date: (value: string | Date): RawBuilder<Date> => sql<Date>`cast(${value instanceof Date ? value.toISOString().slice(0, 10) : value} as date)`,
  /** A `timestamptz` (read back as a `Date`, as the Data API dialect converts it: type such columns `Date`). */
  timestamptz: (value: string | Date): RawBuilder<Date> => sql<Date>`cast(${value instanceof Date ? value.toISOString() : value} as timestamptz)`,
  uuid: (value: string): RawBuilder<string> => sql<string>`cast(${value} as uuid)`,
  numeric: (value: string | number): RawBuilder<string> => sql<string>`cast(${String(value)} as numeric)`,
  jsonb: <T>(value: T): RawBuilder<T> => sql<T>`cast(${JSON.stringify(value)} as jsonb)`,
};

/** How a relational write ended: applied (and the event recorded), or a duplicate (nothing changed). */
export type WriteOutcome = "applied" | "duplicate";

/** A service's relational store: typed queries on its schema, and writes recorded once per event. */
export interface RelationalStore<DB> {
  /**
   * The Kysely instance over the Data API, its tables in the service's schema (`withSchema` is applied: name tables
   * without it). Typed by the service's table interfaces; values are always sent as parameters.
   */
  readonly db: Kysely<DB & PlatformRelationalTables>;
  /** The service's schema. */
  readonly schema: string;
  /**
   * Runs `change` and records `event.id` in `processed_events`, in one transaction: an event already recorded changes
   * nothing (`"duplicate"`), so a redelivered record never counts twice, and a crash before the commit leaves neither
   * the change nor the record.
   * @example
   * await store.writeOnce(event, (trx) => trx.insertInto("revenue").values(row).execute());
   */
  writeOnce(event: { id: string; type: string }, change: (trx: Transaction<DB & PlatformRelationalTables>) => Promise<unknown>): Promise<WriteOutcome>;
}

/** Options of {@link relationalStore}. */
export interface RelationalStoreOptions {
  /** @default read from the function environment on first use */
  config?: RelationalConfig;
  /** @default the process's Data API client (which retries while a paused database resumes: wrap your own with retryWhileResuming) */
  client?: RDSData;
}

/**
 * The service's relational store, typed by its tables. Call it in module scope: inside a function (Lambda, the local
 * stage) the Data API client is created at init; elsewhere (a test that sets the environment later) on first use.
 * @throws ConfigurationError (on first use) when the function's service declares no relational store
 * @example
 * interface Tables { revenue: { customer_id: string; day: string; amount_cents: number } }
 * const store = relationalStore<Tables>();
 * const rows = await store.db.selectFrom("revenue").selectAll().where("customer_id", "=", id).execute();
 */
export function relationalStore<DB>(options: RelationalStoreOptions = {}): RelationalStore<DB> {
  type All = DB & PlatformRelationalTables;
  let db: Kysely<All> | undefined;
  let config = options.config;
  const open = (): Kysely<All> => {
    if (db) return db;
    if (!bundled) throw new ConfigurationError("the relational store is not in this bundle: the function's service declares no relational store (bundle setting `relational`)");
    config ??= relationalConfig();
    db = bundled.kysely<All>(config, options.client ?? bundled.client()).withSchema(config.schema) as Kysely<All>;
    return db;
  };
  if (inFunction() && bundled && readEnv(ENV.relationalClusterArn)) open();
  return {
    get db() {
      return open();
    },
    get schema() {
      open();
      return config!.schema;
    },
    async writeOnce(event, change) {
      return open()
        .transaction()
        .execute(async (trx) => {
          const recorded = await trx
            .insertInto("processed_events")
            .values({ event_id: event.id, event_type: event.type } as never)
            .onConflict((conflict) => conflict.column("event_id" as never).doNothing())
            .returning("event_id" as never)
            .executeTakeFirst();
          if (!recorded) return "duplicate" as const;
          await change(trx);
          return "applied" as const;
        });
    },
  };
}

/** Whether the Data API client exists (for tests of what init prepares); `false` in a bundle without it. */
export function relationalClientCreated(): boolean {
  return bundled?.created() ?? false;
}

/** Forgets the Data API client, so the next store builds a new one from the current environment. */
export function resetRelationalClient(): void {
  bundled?.reset();
}
