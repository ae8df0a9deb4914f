// Tables of the reporting service's schema (reporting), as its migrations (migrations/*.sql) create them, typed
// for Kysely: one interface per table (a row as relationalStore<Database>() returns it through the RDS Data API:
// timestamp, timestamptz and date as Date, bigint and integer as number, numeric as string), `Database` names them. A migration that changes a table changes its interface here too: test/tables.test.ts applies
// the migrations to PostgreSQL (PGlite) and compares their columns with `columns`, which the compiler holds to the
// interfaces.
import type { ColumnType, Generated } from "kysely";

/** revenue: revenue per customer per day, the projection of ledger.entry-posted */
export interface RevenueTable {
  customer_id: string;
  /**
   * A `date`: read as a `Date` at midnight UTC (the Data API dialect converts it), written and compared with
   * `asSql.date("YYYY-MM-DD")` (the Data API sends a string as varchar, which PostgreSQL will not store in a date).
   */
  day: ColumnType<Date, Date, Date>;
  /** The sum of the day's posted amounts, in cents (a `bigint`, which the Data API returns as a number). */
  amount_cents: number;
  /** How many entries made the sum. */
  entries: number;
  /** Set by the database (DEFAULT now()), and again by each entry; a timestamptz, read as a Date. */
  updated_at: Generated<Date>;
}

// new table interfaces are added above this line

/** The schema as Kysely sees it: table name -> row. */
export interface Database {
  revenue: RevenueTable;
  // new tables are added above this line
}

/** Every column of every table: the compiler checks it against the interfaces, test/tables.test.ts against the migrations. */
export const columns: { [T in keyof Database]: Record<keyof Database[T], true> } = {
  revenue: { customer_id: true, day: true, amount_cents: true, entries: true, updated_at: true },
  // new table columns are added above this line
};
