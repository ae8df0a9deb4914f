/**
 * A service's relational store for its tests: PGlite behind the local Data API endpoint, the service's migrations
 * applied with the runtime's migration runner (as `pulumi up` and `npm start` apply them), and the function
 * environment set (`PLATFORM_RELATIONAL_*`, `AWS_ENDPOINT_URL_RDS_DATA`), so the service's handlers run with their
 * unmodified Data API client against real PostgreSQL.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RDSData } from "@aws-sdk/client-rds-data";
import { ENV } from "../../contract/environment";
import { resetRelationalClient } from "../../runtime/relational";
import { applyMigrations, type MigrationReport } from "../../runtime/relational-migrations";
import { LOCAL_ACCOUNT_ID } from "../aws";
import { startEndpointServer } from "../endpoints/server";
import { createDataApiEndpoint } from "./endpoint";
import { defaultBaseImage, RelationalEngine } from "./engine";

const REGION = "us-east-1";
// The stage's account, as every part of the local stage names it.
const ACCOUNT = LOCAL_ACCOUNT_ID;

/** What {@link relationalTestBed} set up. */
export interface RelationalTestBed {
  engine: RelationalEngine;
  /** The Data API endpoint. */
  url: string;
  migrations: MigrationReport;
  /** The cluster's master secret (the Data API logs in as `postgres` with it): what the migration step uses. */
  masterSecretArn: string;
  /**
   * Pauses the database as Aurora Serverless v2 at 0 ACUs does: for `ms`, every Data API call is answered
   * DatabaseResumingException and runs nothing.
   */
  pause(ms: number): void;
  /** How many calls were answered DatabaseResumingException. */
  readonly resumingAnswers: number;
  /** Rows of a query run as the service's role (JSON records). */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  stop(): Promise<void>;
}

/**
 * @param service the service name (its schema and role: `-` as `_`)
 * @param migrationsDir the service's migrations folder
 * @example
 * const db = await relationalTestBed("reporting", join(__dirname, "..", "migrations"));
 * await handler(event);
 * assert.equal(await db.rows("select * from revenue"), [...]);
 */
export async function relationalTestBed(service: string, migrationsDir: string): Promise<RelationalTestBed> {
  const schema = service.replaceAll("-", "_");
  const clusterArn = `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:test-platform`;
  const master = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:rds!cluster-test`;
  const roleSecret = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:test-${service}-db`;
  const database = "platform";
  const engine = await RelationalEngine.start({ baseImage: defaultBaseImage(), transactionIdleMs: 5000 });
  const secrets = new Map([
    [master, { arn: master, username: "postgres" }],
    [roleSecret, { arn: roleSecret, username: schema }],
  ]);
  let pausedUntil = 0;
  let resumingAnswers = 0;
  const resuming = () => Date.now() < pausedUntil && ++resumingAnswers > 0;
  const server = await startEndpointServer({
    services: [createDataApiEndpoint({ engine, clusterArn, database, secrets: () => secrets, accountId: ACCOUNT, region: REGION, resuming })],
  });
  const client = new RDSData({ region: REGION, endpoint: server.url, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const files = readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(migrationsDir, name), "utf8") }));
  const migrations = await applyMigrations({ client, clusterArn, masterSecretArn: master, database, schema, role: { username: schema, password: "testpasswordtestpassword" }, migrations: files, empty: "wait" });
  Object.assign(process.env, {
    [ENV.relationalClusterArn]: clusterArn,
    [ENV.relationalSecretArn]: roleSecret,
    [ENV.relationalDatabase]: database,
    [ENV.relationalSchema]: schema,
    AWS_ENDPOINT_URL_RDS_DATA: server.url,
    AWS_REGION: process.env.AWS_REGION ?? REGION,
  });
  resetRelationalClient();
  return {
    engine,
    url: server.url,
    migrations,
    masterSecretArn: master,
    pause(ms: number) {
      pausedUntil = Date.now() + ms;
    },
    get resumingAnswers() {
      return resumingAnswers;
    },
    async rows<T>(sql: string) {
      const answer = await client.executeStatement({ resourceArn: clusterArn, secretArn: roleSecret, database, sql, formatRecordsAs: "JSON" });
      return JSON.parse(answer.formattedRecords ?? "[]") as T[];
    },
    async stop() {
      resetRelationalClient();
      client.destroy();
      await server.close();
      await engine.close();
    },
  };
}
