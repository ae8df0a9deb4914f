/**
 * The relational part: PostgreSQL on PGlite (in memory, or under `<persist dir>/relational`) behind a local RDS Data
 * API endpoint that the functions' unmodified `@aws-sdk/client-rds-data` uses (`AWS_ENDPOINT_URL_RDS_DATA`). It
 * starts only when the programs declare a relational store (the platform's `relational` output enabled, or a
 * service's `platform:infra:RelationalStore`); otherwise it loads nothing.
 *
 * At start it applies each service's migrations with the runtime's migration runner (`applyMigrations`, through the
 * Data API with the cluster's master secret), as the deploy's migration function does: role and schema first, each
 * file in a transaction, recorded. A failed migration stops the stage, naming the file.
 * Every Data API call is held to IAM (the function's role: `rds-data:*` on the cluster, `GetSecretValue` on the
 * secret it names), runs as the role the secret names, and each statement shows in the trace under its invocation.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RDSData } from "@aws-sdk/client-rds-data";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { str } from "../../capture/read";
import { ENV } from "../../contract/environment";
import type { MigrationFile, MigrationReport } from "../../runtime/relational-migrations";
import { statementTitle } from "../../runtime/relational-sql-text";
import type { RequestContext } from "../context";
import { startEndpointServer, type EndpointServer } from "../endpoints/server";
import type { Authorizer } from "../iam/authorizer";
import type { RelationalEngineThread, RelationalSecret, StatementReport } from "../relational";
import { LOCAL_MASTER_ROLE } from "../relational/engine";
import type { AdminRoute } from "./admin";
import type { PartHealth, StagePart } from "./parts";
import { REPO_ROOT, type ProgramResult } from "./programs";
import { preloadRelationalEngine, type PreloadedRelationalEngine } from "./relational-preload";
import type { TraceRecorder } from "./trace";
import type { StageWiring } from "./wiring";

/** The component type a service's relational store registers (shared/infra/relational-store.ts). */
export const RELATIONAL_STORE_TYPE = "platform:infra:RelationalStore";
export { LOCAL_MASTER_ROLE } from "../relational/engine";

/** The platform's cluster as its contract exports it. */
export interface RelationalClusterSpec {
  clusterArn: string;
  database: string;
  masterSecretArn: string;
}

/** A service's store: its schema, role, secret and migrations. */
export interface RelationalStoreSpec {
  project: string;
  service: string;
  schema: string;
  /** The role's secret (the one the service's functions name). */
  secretArn?: string;
  /** The migrations folder, relative to the repository root. */
  migrationsDir: string;
  migrations: string[];
}

/** The cluster (when the platform has one) and the services' stores. */
export function relationalSpecs(programs: readonly Pick<ProgramResult, "project" | "resources" | "outputs">[], wiring: StageWiring): { cluster?: RelationalClusterSpec; stores: RelationalStoreSpec[] } {
  let cluster: RelationalClusterSpec | undefined;
  const stores: RelationalStoreSpec[] = [];
  for (const program of programs) {
    const relational = program.outputs.relational as { enabled?: boolean; clusterArn?: string; database?: string; masterSecretArn?: string } | undefined;
    if (relational?.enabled && relational.clusterArn && relational.database && relational.masterSecretArn) {
      cluster = { clusterArn: relational.clusterArn, database: relational.database, masterSecretArn: relational.masterSecretArn };
    }
    for (const r of program.resources as readonly CapturedResource[]) {
      if (r.type !== RELATIONAL_STORE_TYPE) continue;
      const schema = str(r.inputs.schema);
      const service = str(r.inputs.service);
      const migrationsDir = str(r.inputs.migrationsDir);
      if (!schema || !service || !migrationsDir) throw new Error(`the relational store ${r.name} of ${program.project} registered no schema, service or migrations folder`);
      // The role's secret: what the service's functions name (the migration function names it as the role's).
      const fn = wiring.functions.find((f) => f.service === service && f.environment[ENV.relationalSchema] === schema && f.environment[ENV.relationalRoleSecretArn]);
      const secretArn = fn?.environment[ENV.relationalRoleSecretArn] ?? wiring.functions.find((f) => f.service === service && f.environment[ENV.relationalSchema] === schema)?.environment[ENV.relationalSecretArn];
      stores.push({
        project: program.project,
        service,
        schema,
        migrationsDir,
        migrations: Array.isArray(r.inputs.migrations) ? (r.inputs.migrations as unknown[]).map(String) : [],
        ...(secretArn ? { secretArn } : {}),
      });
    }
  }
  return { ...(cluster ? { cluster } : {}), stores };
}

/** What the relational part needs. */
export interface RelationalPartOptions {
  wiring: StageWiring;
  programs: () => readonly ProgramResult[];
  authorizer: Authorizer;
  recorder: TraceRecorder;
  /** Keep the database under `<persistDir>/relational`. */
  persistDir?: string;
  /** A Data API transaction without calls for this long is rolled back. @default 30000 */
  transactionIdleMs?: number;
  /**
   * The engine, started before the programs ran (relational-preload.ts, with the same `persistDir` and
   * `transactionIdleMs`): the part takes it when a store is declared and closes it when none is.
   * @default the part starts its own engine when a store is declared
   */
  preloaded?: PreloadedRelationalEngine;
}

/** A schema as the admin API lists it. */
export interface RelationalSchemaInfo {
  schema: string;
  service?: string;
  tables: { name: string; rows: number }[];
  migrations: { name: string; appliedAt: string }[];
}

export interface RelationalPart extends StagePart<StageWiring> {
  /** Whether a store is declared (else the part loaded nothing). */
  readonly enabled: boolean;
  /** The Data API endpoint (`AWS_ENDPOINT_URL_RDS_DATA`); `undefined` when not started. */
  readonly url: string | undefined;
  /**
   * Settles once `url` is final, before the migrations run: with the endpoint when it serves, `undefined` when no store
   * is declared or the start failed before it served (the start's own error is the part's failure). The functions part
   * waits for this, not for the migrations, so its bundles are checked while they run.
   */
  readonly serving: Promise<string | undefined>;
  /** When (performance.now()) the Data API began serving and the migrations were all applied, this start. */
  readonly timings: { serving?: number; migrated?: number };
  /** PostgreSQL (PGlite) in its thread. */
  readonly engine: RelationalEngineThread | undefined;
  readonly cluster: RelationalClusterSpec | undefined;
  readonly stores: readonly RelationalStoreSpec[];
  /** What each store's migration run did at start. */
  readonly migrations: readonly MigrationReport[];
  /** Statements run since start (bench, admin). */
  readonly statements: number;
  /** Schemas with their tables (and row counts) and applied migrations. */
  listSchemas(): Promise<RelationalSchemaInfo[]>;
  /** A Data API client signed as a local tool (the master secret is allowed to it): for tests and tools. */
  client(): Promise<RDSData>;
  /** Serves PostgreSQL's wire protocol on a port (psql) until the stage stops; answers the address. */
  servePsql(port: number): Promise<{ host: string; port: number }>;
}

/**
 * Applies a store's migrations to the stage's PostgreSQL with the runtime's runner, as the service's role (at start
 * and in watch mode). A migration without a statement yet waits, with those after it.
 */
export async function applyStoreMigrations(
  client: RDSData,
  cluster: RelationalClusterSpec,
  store: RelationalStoreSpec,
  migrations: readonly MigrationFile[],
): Promise<MigrationReport> {
  // Loaded on the first call: a stage without a relational store never loads it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a store is declared
  const { applyMigrations } = require("../../runtime/relational-migrations") as typeof import("../../runtime/relational-migrations");
  // The role's password: locally nobody logs in with it (the Data API maps the secret to the role).
  const role = { username: store.schema, password: randomBytes(24).toString("hex") };
  const { clusterArn, masterSecretArn, database } = cluster;
  return applyMigrations({ client, clusterArn, masterSecretArn, database, schema: store.schema, role, migrations, empty: "wait" });
}

/** The local principal the stage's own calls (migrations, admin rows) sign with: allowed as a local tool. */
const STAGE_PRINCIPAL = "local-stage-relational";

export function relationalPart(options: RelationalPartOptions): RelationalPart {
  let state: PartHealth = { status: "starting" };
  let engine: RelationalEngineThread | undefined;
  let server: EndpointServer | undefined;
  let cluster: RelationalClusterSpec | undefined;
  let stores: RelationalStoreSpec[] = [];
  const migrations: MigrationReport[] = [];
  const clients: RDSData[] = [];
  let statements = 0;
  const secrets = new Map<string, RelationalSecret>();
  let served!: (url: string | undefined) => void;
  const serving = new Promise<string | undefined>((resolve) => (served = resolve));
  const timings: { serving?: number; migrated?: number } = {};

  const makeClient = async (): Promise<RDSData> => {
    if (!server) throw new Error("the relational part has not started: no service declares a relational store");
    // The stage's own client runs on this machine's Node.js (the functions' hosts quiet the same notice).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    const { RDSData } = require("@aws-sdk/client-rds-data") as typeof import("@aws-sdk/client-rds-data");
    const client = new RDSData({ region: options.wiring.region, endpoint: server.url, maxAttempts: 1, credentials: { accessKeyId: STAGE_PRINCIPAL, secretAccessKey: "local" } });
    clients.push(client);
    return client;
  };

  const startPart = async (): Promise<void> => {
    const began = performance.now();
    const specs = relationalSpecs(options.programs(), options.wiring);
    stores = specs.stores;
    cluster = specs.cluster;
    if (!cluster && stores.length === 0) {
      await options.preloaded?.discard();
      state = { status: "ok", detail: "not started: no service declares a relational store" };
      return;
    }
    if (!cluster) {
      await options.preloaded?.discard();
      throw new Error(
        `services ${stores.map((s) => s.service).join(", ")} declare a relational store but the platform exports none (platform:relational is off)`,
      );
    }
    // Loaded only now: a stage without a relational store never loads PGlite.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a store is declared
    const { createDataApiEndpoint } = require("../relational") as typeof import("../relational");
    // Started (and warmed up) now when nothing started it while the programs ran.
    const engineStart =
      options.preloaded ??
      preloadRelationalEngine({
        ...(options.persistDir ? { persistDir: options.persistDir } : {}),
        ...(options.transactionIdleMs !== undefined ? { transactionIdleMs: options.transactionIdleMs } : {}),
      });
    const started = await engineStart.take(() => statements++);
    engine = started;
    secrets.set(cluster.masterSecretArn, { arn: cluster.masterSecretArn, username: LOCAL_MASTER_ROLE });
    for (const store of stores) if (store.secretArn) secrets.set(store.secretArn, { arn: store.secretArn, username: store.schema });
    server = await startEndpointServer({
      services: [
        createDataApiEndpoint({
          engine: started,
          clusterArn: cluster.clusterArn,
          database: cluster.database,
          secrets: () => secrets,
          authorize: options.authorizer.authorize,
          accountId: options.wiring.accountId,
          region: options.wiring.region,
          onStatement: (s: StatementReport & { context: RequestContext }) => traceStatement(options.recorder, s),
        }),
      ],
    });
    timings.serving = performance.now();
    served(server.url);
    const client = await makeClient();
    for (const store of stores) {
      const files = store.migrations.map((name) => ({ name, sql: readFileSync(join(REPO_ROOT, store.migrationsDir, name), "utf8") }));
      try {
        migrations.push(await applyStoreMigrations(client, cluster, store, files));
      } catch (error) {
        throw new Error(`service ${store.service}: ${(error as Error).message}`);
      }
    }
    timings.migrated = performance.now();
    const applied = migrations.reduce((n, m) => n + m.applied.length, 0);
    const waiting = migrations.filter((m) => m.waiting).map((m) => `${m.schema}'s ${m.waiting!.name} holds no statement yet and waits${m.waiting!.after ? ` with ${m.waiting!.after} after it` : ""}`);
    state = {
      status: "ok",
      detail: `${stores.length} schema${stores.length === 1 ? "" : "s"} (${stores.map((s) => s.schema).join(", ")}), ${applied} migration${applied === 1 ? "" : "s"} applied now${waiting.length ? ` (${waiting.join("; ")})` : ""}; Data API at ${server.url}${started.storage === "memory" ? "" : ` (kept in ${started.storage})`}; ${options.preloaded ? `PostgreSQL started ${options.preloaded.early ? "as npm start began" : "while the programs ran"}, then ` : ""}started in ${Math.round(performance.now() - began)} ms`,
    };
  };

  const part: RelationalPart = {
    name: "relational",
    // Starts alongside the other engines (see parts.ts).
    needs: [],
    get enabled() {
      return cluster !== undefined || stores.length > 0;
    },
    get url() {
      return server?.url;
    },
    serving,
    timings,
    get engine() {
      return engine;
    },
    get cluster() {
      return cluster;
    },
    get stores() {
      return stores;
    },
    migrations,
    get statements() {
      return statements;
    },
    async start() {
      try {
        await startPart();
      } finally {
        // Not serving by now: none declared, or a failure (which the part reports); whoever waits goes on.
        served(server?.url);
      }
    },
    async stop() {
      state = { status: "stopped" };
      for (const c of clients.splice(0)) c.destroy();
      await server?.close();
      await engine?.close();
    },
    health: () => state,
    async listSchemas() {
      if (!engine) return [];
      const listed = await engine.listSchemas(stores.map((store) => store.schema));
      return listed.map((info, i) => ({ ...info, service: stores[i]!.service }));
    },
    client: makeClient,
    async servePsql(port) {
      if (!engine) throw new Error("the relational part has not started: no service declares a relational store");
      // Served from PostgreSQL's thread (PGlite's single connection is there); it stops with the engine.
      await engine.servePsql(port);
      return { host: "127.0.0.1", port };
    },
  };
  return part;
}

function traceStatement(recorder: TraceRecorder, statement: StatementReport & { context: RequestContext }): void {
  recorder.statement(statement.context, {
    sql: statementTitle(statement.sql),
    role: statement.role,
    ...(statement.transactionId ? { transaction: statement.transactionId.slice(0, 8) } : {}),
    at: Date.now() - statement.durationMs,
    durationMs: statement.durationMs,
    rows: statement.rows,
    ...(statement.error ? { error: statement.error } : {}),
  });
}

/** The admin API's relational row (`/_local/relational`). */
export function relationalAdminRoutes(part: () => RelationalPart): AdminRoute[] {
  return [
    {
      method: "GET",
      path: "/relational",
      describe: "the relational store: each service's schema, its tables with row counts, and the migrations applied",
      handle: async () => {
        const p = part();
        return {
          status: 200,
          body: {
            enabled: p.enabled,
            ...(p.url ? { dataApi: p.url } : {}),
            ...(p.cluster ? { cluster: p.cluster } : {}),
            storage: p.engine?.storage ?? "not started",
            openTransactions: p.engine ? await p.engine.openTransactions() : 0,
            statements: p.statements,
            schemas: await p.listSchemas(),
          },
        };
      },
    },
  ];
}
