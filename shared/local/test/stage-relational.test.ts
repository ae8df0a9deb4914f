// The relational path through the local stage with the example services ledger and reporting: the platform's
// relational store turned on for reporting's migrations, the migrations applied at start by the runtime's runner,
// billing.invoice-issued (published by hand) -> ledger -> ledger.entry-posted on its Kinesis stream -> reporting's
// relational writer (a stream consumer) -> PostgreSQL (PGlite) through the local Data API -> GET /reports/revenue;
// the trace's SQL lines, the admin row, IAM on the Data API and the secrets, and psql's wire protocol.
import { join } from "node:path";
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { RDSData } from "@aws-sdk/client-rds-data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog } from "../../contract/catalog";
import { ENV } from "../../contract/environment";
import { eventually } from "../../testing/stage-target";
import { functionAccessKeyId } from "../lambda/function-host";
import { renderTrace, startLocalStage, type LocalStage } from "../stage";
import type { FunctionsPart } from "../stage/part-functions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
let stage: LocalStage;
let psqlPort: number;

test.before(async () => {
  psqlPort = 15432 + (process.pid % 1000);
  stage = await startLocalStage({ port: 0, psqlPort, serviceDirs: [join(REPO, "services", "ledger"), join(REPO, "services", "reporting")] });
});

test.after(async () => {
  await stage?.stop();
});

test("the functions' bundles are checked while the migrations run; the migrations are applied before the stage is ready", () => {
  const functions = stage.parts.get("functions") as FunctionsPart;
  const { serving, migrated } = stage.relational.timings;
  assert.ok(serving !== undefined && migrated !== undefined && functions.timings.began !== undefined && functions.timings.prepared !== undefined, "the parts recorded their timings");
  assert.ok(functions.timings.began! < migrated!, `the functions began ${(functions.timings.began! - migrated!).toFixed(0)} ms after the migrations were applied`);
  assert.ok(functions.timings.began! >= serving!, "the functions began before the Data API's endpoint was known");
  assert.is(stage.relational.migrations.length, 1, "the migrations ran before the stage was ready");
});

test("PostgreSQL was warmed up while the programs ran: the services' roles were created hashing their password with one SCRAM round", async () => {
  // 4096 rounds (PostgreSQL's default) took a quarter of a second of the migrations, on the start's critical path.
  const answer = await stage.relational.engine!.execute({ sql: "SELECT rolpassword FROM pg_authid WHERE rolname = 'reporting'", role: "postgres", formatRecordsAs: "JSON" });
  const [row] = JSON.parse(answer.formattedRecords ?? "[]") as { rolpassword: string }[];
  assert.match(row!.rolpassword, /^SCRAM-SHA-256\$1:/);
});

const report = async (query: string) => {
  const answer = await fetch(`${stage.url}/reports/revenue?${query}`);
  return { status: answer.status, body: (await answer.json()) as { days: { customerId: string; day: string; amountCents: number; entries: number }[]; totalCents: number } };
};

test("the relational part starts for reporting: its schema, the migrations applied at start, the admin row", async () => {
  const health = stage.health();
  assert.is(health.relational?.status, "ok", health.relational?.detail);
  assert.match(health.relational!.detail!, /1 schema \(reporting\), 2 migrations applied now; Data API at http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(stage.relational.migrations.map((m) => [m.schema, m.applied]), [["reporting", ["0001_create_revenue.sql", "0002_index_revenue_by_day.sql"]]]);
  const row = (await (await fetch(`${stage.adminUrl}relational`)).json()) as { enabled: boolean; schemas: { schema: string; tables: { name: string }[]; migrations: { name: string }[] }[] };
  assert.ok(row.enabled);
  assert.equal(row.schemas.map((s) => s.schema), ["reporting"]);
  assert.equal(row.schemas[0]!.tables.map((t) => t.name), ["processed_events", "revenue", "schema_migrations"]);
  assert.equal(row.schemas[0]!.migrations.map((m) => m.name), ["0001_create_revenue.sql", "0002_index_revenue_by_day.sql"]);
  // The functions of reporting get the Data API endpoint with the relational environment.
  const fn = stage.wiring.functions.find((f) => f.name === "local-reporting-on-entry-posted")!;
  assert.is(fn.environment[ENV.relationalSchema], "reporting");
});

test("an invoice becomes revenue: ledger's entry on the stream, reporting's writer in PostgreSQL, the report over HTTP, SQL in the trace", async () => {
  const customerId = `customer-${Date.now()}`;
  const data = { ...catalog["billing.invoice-issued"].example, invoiceId: `invoice-${Date.now()}`, customerId, total: { amount: 12.34, currency: "EUR" } };
  const sent = stage.publish("billing.invoice-issued", data);
  const answer = await eventually("the revenue of the customer", async () => {
    const r = await report(`customerId=${customerId}`);
    return r.body.days?.length ? r : undefined;
  });
  assert.is(answer.status, 200);
  assert.equal(answer.body.days.map((d) => [d.customerId, d.amountCents, d.entries]), [[customerId, 1234, 1]]);
  assert.is(answer.body.days[0]!.day, new Date().toISOString().slice(0, 10));
  const text = await eventually("the trace shows reporting's statements", async () => {
    const tree = stage.trace(sent.correlationId);
    const rendered = tree ? renderTrace(tree) : "";
    return /SQL as reporting .*insert into "reporting"\."revenue"/.test(rendered) ? rendered : undefined;
  });
  assert.match(text, /reporting\/on-entry-posted/);
  assert.match(text, /SQL as reporting \(\d+(\.\d+)? ?ms, 1 row\): insert into "reporting"\."processed_events"/);
});

test("the same entry put twice (a duplicate on the stream) is counted once", async () => {
  const customerId = `customer-dup-${Date.now()}`;
  const data = { customerId, invoiceId: `invoice-dup-${Date.now()}`, amount: 5 };
  const first = await fetch(`${stage.adminUrl}publish`, { method: "POST", body: JSON.stringify({ type: "ledger.entry-posted", data }) });
  assert.is(first.status, 202, await first.clone().text());
  await eventually("the first entry counted", async () => ((await report(`customerId=${customerId}`)).body.days?.length ? true : undefined));
  // Put the same record again: a redelivery with the same event id.
  const streamName = "local-ledger-entry-posted";
  const records = await stage.kinesis.engine.readRange(streamName, "shardId-000000000000");
  const all = [...records];
  for (const shard of (await stage.kinesis.engine.shards(streamName)).slice(1)) all.push(...(await stage.kinesis.engine.readRange(streamName, shard.ShardId)));
  const record = all.find((r) => JSON.parse(r.data.toString()).data.customerId === customerId)!;
  await stage.kinesis.engine.putRecord(streamName, record.partitionKey, record.data);
  const processed = async () => {
    const client = await stage.relational.client();
    const rows = await client.executeStatement({
      resourceArn: stage.relational.cluster!.clusterArn,
      secretArn: stage.relational.cluster!.masterSecretArn,
      sql: "select count(*)::int as n from reporting.processed_events where event_id = :id",
      parameters: [{ name: "id", value: { stringValue: JSON.parse(record.data.toString()).id } }],
      formatRecordsAs: "JSON",
    });
    return JSON.parse(rows.formattedRecords!)[0].n as number;
  };
  assert.is(await processed(), 1);
  // Give the consumer time to read the duplicate (its checkpoint passes it), then check the sum did not move.
  await eventually("the duplicate read", async () => {
    const streams = await stage.kinesis.listStreams();
    const stream = streams.find((s) => s.name === streamName)!;
    const consumer = stream.consumers.find((c) => c.function === "local-reporting-on-entry-posted")!;
    const last = stream.shards.map((s) => s.lastSequenceNumber);
    return last.every((seq, i) => seq === undefined || consumer.checkpoints[stream.shards[i]!.shardId] === seq) ? true : undefined;
  });
  const after = await report(`customerId=${customerId}`);
  assert.equal(after.body.days.map((d) => [d.amountCents, d.entries]), [[500, 1]]);
});

test("IAM: a function without the grant is refused the Data API; reporting's function may not name the master secret", async () => {
  const cluster = stage.relational.cluster!;
  const dataApi = (principal: string) => new RDSData({ region: "us-east-1", endpoint: stage.relational.url!, maxAttempts: 1, credentials: { accessKeyId: functionAccessKeyId(principal), secretAccessKey: "x" } });
  const reportingSecret = stage.relational.stores[0]!.secretArn!;
  const ledger = await dataApi("local-ledger-on-entry-posted").executeStatement({ resourceArn: cluster.clusterArn, secretArn: reportingSecret, sql: "select 1" }).catch((e: Error) => e);
  assert.is((ledger as Error).name, "AccessDeniedException");
  assert.match((ledger as Error).message, /rds-data:ExecuteStatement/);
  const reporting = dataApi("local-reporting-on-entry-posted");
  const master = await reporting.executeStatement({ resourceArn: cluster.clusterArn, secretArn: cluster.masterSecretArn, sql: "select 1" }).catch((e: Error) => e);
  assert.is((master as Error).name, "AccessDeniedException");
  assert.match((master as Error).message, /secretsmanager:GetSecretValue/);
  const own = await reporting.executeStatement({ resourceArn: cluster.clusterArn, secretArn: reportingSecret, sql: "select current_user as who", formatRecordsAs: "JSON" });
  assert.equal(JSON.parse(own.formattedRecords!), [{ who: "reporting" }]);
});

test("the CLI's relational command lists the schema, its tables with rows and the migrations", async () => {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["--import", "tsx", join(__dirname, "..", "cli.ts"), "relational", "--url", stage.url], (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
  );
  assert.match(stdout, /^Data API http:\/\/127\.0\.0\.1:\d+ \(data: memory\), \d+ statements run, 0 open transactions$/m);
  assert.match(stdout, /^schema reporting \(service reporting\)$/m);
  assert.match(stdout, /^  table revenue: \d+ rows?$/m);
  assert.match(stdout, /^  migration 0002_index_revenue_by_day\.sql applied \d{4}-\d{2}-\d{2} /m);
});

test("psql's wire protocol is served on the --psql-port (PostgreSQL answers a startup message)", async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(psqlPort, "127.0.0.1", () => {
      // StartupMessage: length, protocol 3.0, user=postgres, database=postgres.
      const params = Buffer.from("user\0postgres\0database\0postgres\0\0");
      const header = Buffer.alloc(8);
      header.writeInt32BE(8 + params.length, 0);
      header.writeInt32BE(196608, 4);
      socket.write(Buffer.concat([header, params]));
    });
    socket.once("data", (chunk) => {
      resolve(String.fromCharCode(chunk[0]!));
      socket.destroy();
    });
    socket.once("error", reject);
  });
  // 'R': AuthenticationOk (or a request), the first message a PostgreSQL server sends.
  assert.is(answer, "R");
});

test.run();
