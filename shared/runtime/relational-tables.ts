import type { Generated } from "kysely";

// The platform's own tables in every service's schema (created by the migration step), apart from relational.ts so
// that the migration runner (the migration function, the local stage) does not load Kysely.

/** The table where a service's relational writer records the events it applied (created by the migration step). */
export const PROCESSED_EVENTS_TABLE = "processed_events";
/** The table where the migration step records the migrations it applied. */
export const MIGRATIONS_TABLE = "schema_migrations";

/** The tables the platform keeps in every service's schema, beside the service's own. */
export interface PlatformRelationalTables {
  /** One row per event a relational writer applied, written in the same transaction as the change. */
  processed_events: { event_id: string; event_type: string; processed_at: Generated<string> };
  /** One row per migration applied (file name and the sha256 of its text). */
  schema_migrations: { name: string; checksum: string; applied_at: Generated<string> };
}
