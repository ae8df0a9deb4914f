// The deploy's migration function (shared/runtime/relational-migrate.ts, as the program invokes it) against PGlite
// behind the local Data API and a Secrets Manager endpoint holding the role's secret, both reached by the unmodified
// SDK clients: it creates role and schema, applies the migrations given, and throws naming the file that fails.
import { randomUUID } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV } from "../../contract/environment";
import { startEndpointServer, type EndpointResponse, type EndpointServer, type ServiceEndpoint } from "../endpoints/server";
import { createDataApiEndpoint, defaultBaseImage, RelationalEngine } from "../relational";
import { handler } from "../../runtime/relational-migrate";
import { resetRdsDataClient } from "../../runtime/relational-client";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REGION = "us-east-1";
const CLUSTER = `arn:aws:rds:${REGION}:000000000000:cluster:dev-platform`;
const MASTER = `arn:aws:secretsmanager:${REGION}:000000000000:secret:rds!cluster-1`;
const ROLE_SECRET = `arn:aws:secretsmanager:${REGION}:000000000000:secret:dev-reporting-db-AbCdEf`;
let engine: RelationalEngine;
let server: EndpointServer;
const secretsRead: string[] = [];

/** Secrets Manager's GetSecretValue (AWS JSON 1.1), holding the role's secret. */
const secretsManager: ServiceEndpoint = {
  service: "secretsmanager",
  matches: (request) => String(request.headers["x-amz-target"] ?? "").startsWith("secretsmanager."),
  async handle(request): Promise<EndpointResponse> {
    const input = JSON.parse(request.body.toString("utf8")) as { SecretId: string };
    secretsRead.push(input.SecretId);
    if (input.SecretId !== ROLE_SECRET) {
      return { status: 400, headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID() }, body: JSON.stringify({ __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." }) };
    }
    return {
      status: 200,
      headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID() },
      body: JSON.stringify({ ARN: ROLE_SECRET, Name: "dev-reporting-db", SecretString: JSON.stringify({ username: "reporting", password: "p4ssw0rdp4ssw0rdp4ssw0rd" }), VersionId: "v1" }),
    };
  },
};

test.before(async () => {
  engine = await RelationalEngine.start({ baseImage: defaultBaseImage() });
  const secrets = new Map([[MASTER, { arn: MASTER, username: "postgres" }]]);
  server = await startEndpointServer({
    services: [createDataApiEndpoint({ engine, clusterArn: CLUSTER, database: "platform", secrets: () => secrets, accountId: "000000000000", region: REGION }), secretsManager],
  });
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: "migrate",
    AWS_SECRET_ACCESS_KEY: "x",
    AWS_ENDPOINT_URL_RDS_DATA: server.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
    [ENV.relationalClusterArn]: CLUSTER,
    [ENV.relationalSecretArn]: MASTER,
    [ENV.relationalDatabase]: "platform",
    [ENV.relationalSchema]: "reporting",
    [ENV.relationalRoleSecretArn]: ROLE_SECRET,
  });
  resetRdsDataClient();
});

test.after(async () => {
  resetRdsDataClient();
  await server?.close();
  await engine?.close();
});

test("applies the migrations it is invoked with, after reading the role's secret; a second invocation applies nothing", async () => {
  const migrations = [{ name: "0001_create_revenue.sql", sql: "create table revenue (customer_id text primary key, amount_cents bigint not null);" }];
  assert.equal(await handler({ migrations }), { schema: "reporting", applied: ["0001_create_revenue.sql"], alreadyApplied: [] });
  assert.equal(secretsRead, [ROLE_SECRET]);
  assert.equal(await handler({ migrations }), { schema: "reporting", applied: [], alreadyApplied: ["0001_create_revenue.sql"] });
  const roles = await engine.db.query<{ rolname: string; rolcanlogin: boolean }>("select rolname, rolcanlogin from pg_roles where rolname = 'reporting'");
  assert.equal(roles.rows, [{ rolname: "reporting", rolcanlogin: true }]);
});

test("a failing migration throws naming the file (the Invocation fails, and pulumi up with it)", async () => {
  const failed = await handler({
    migrations: [
      { name: "0001_create_revenue.sql", sql: "create table revenue (customer_id text primary key, amount_cents bigint not null);" },
      { name: "0002_add_region.sql", sql: "alter table revenue add column region text;\nalter table nope add column x int;" },
    ],
  }).catch((e: Error) => e);
  assert.instance(failed, Error);
  assert.match((failed as Error).message, /^migration 0002_add_region\.sql failed at "alter table nope add column x int": ERROR: relation "nope" does not exist/);
  const columns = await engine.db.query<{ column_name: string }>("select column_name from information_schema.columns where table_schema = 'reporting' and table_name = 'revenue' order by column_name");
  assert.equal(columns.rows.map((c) => c.column_name), ["amount_cents", "customer_id"], "0002 rolled back whole");
});

test("an input without migrations is refused by name", async () => {
  const refused = await handler({} as never).catch((e: Error) => e);
  assert.match((refused as Error).message, /takes \{ "migrations": \[\{ "name", "sql" \}\] \}/);
});

test.run();
