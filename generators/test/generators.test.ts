import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { runFromArgs } from "../run";
import { copyRepo, unusedServiceName } from "./helpers";

// Every generator, run programmatically into a copy of the repository, then the copy is checked the way CI checks
// the real one: type-check, the generated service's own tests, and the whole-system mocks run with the guardrails.
const root = copyRepo("generators-all-");
// The README's example service, under a name of its own if the repository already has a `shipping`.
const name = unusedServiceName(root, "shipping");
const [sent, returned] = [`${name}.parcel-sent`, `${name}.parcel-returned`];
const escaped = (text: string) => text.replace(/[.]/g, "\\.");
const written: Record<string, string[]> = {};

async function generate(generator: string, args: string[]): Promise<void> {
  written[generator] = await runFromArgs(generator, [...args, "--root", root], { interactive: false });
}

function run(command: string, args: string[]): { code: number; output: string } {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: result.status ?? -1, output: `${result.stdout}\n${result.stderr}` };
}

// A colon and a hash, which a bare YAML scalar would misread.
const purpose = "Ships invoiced orders: one parcel per order #1";

test.before(async () => {
  await generate("service", [
    "--name", name, "--purpose", purpose, "--team", "logistics",
    "--consumes", "billing.invoice-issued", "--publishes", sent, "--entity", "parcel", "--yes",
  ]);
  await generate("event", [
    "--type", returned, "--owner", name, "--description", "A customer sent a parcel back.",
    "--fields", "parcelId:string,reason:string,items:integer",
  ]);
  await generate("entity", ["--service", name, "--entity", "return"]);
  await generate("consumer", ["--service", name, "--event", "orders.order-status-changed", "--entity", "return"]);
  // A consumer of a stream event (ordering "stream"): Lambda delivers it Kinesis records.
  written["stream-consumer"] = await runFromArgs("consumer", ["--service", name, "--event", "ledger.entry-posted", "--entity", "parcel", "--root", root], { interactive: false });
  await generate("route", ["--service", name, "--path", "/returns", "--entity", "return", "--publishes", returned]);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test("new-service writes the service and adds the events it publishes to the catalog", () => {
  const dir = join(root, "services", name);
  for (const file of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "index.ts", "README.md", "generator.json", "entities/parcel.ts", "handlers/on-invoice-issued.ts", "test/on-invoice-issued.test.ts"]) {
    assert.ok(existsSync(join(dir, file)), file);
  }
  assert.match(readFileSync(join(dir, "Pulumi.prod.yaml"), "utf8"), new RegExp(`${name}:platformStack: organization/platform/prod`));
  assert.is((parseYaml(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as { description: string }).description, purpose);
  const catalog = readFileSync(join(root, "shared/contract/catalog.ts"), "utf8");
  assert.match(catalog, new RegExp(`"${escaped(sent)}": defineEvent\\(\\{\\n\\s+version: 1,\\n\\s+owner: "${name}",`));
  assert.match(catalog, new RegExp(`"${escaped(returned)}": defineEvent\\([\\s\\S]*reason: z\\.string\\(\\)[\\s\\S]*items: z\\.int\\(\\)`));
});

test("edits land in place and every run is recorded with the generator version", () => {
  const index = readFileSync(join(root, "services", name, "index.ts"), "utf8");
  // Both consumers declare the version they read: the event's current version when they were generated.
  assert.match(index, /"on-order-status-changed": \{ event: "orders\.order-status-changed", versions: \[1\],/);
  assert.match(index, /"on-invoice-issued": \{ event: "billing\.invoice-issued", versions: \[1\],/);
  assert.match(index, /http: \{\n\s+routes: \{\n\s+"POST \/returns": \{ handler: "\.\/handlers\/create-returns\.ts"/);
  assert.match(index, /\/\/ new routes are added above this line/);
  assert.not.match(index, /no HTTP API yet/);
  const manifest = JSON.parse(readFileSync(join(root, "services", name, "generator.json"), "utf8"));
  assert.equal(manifest.runs.map((r: { generator: string }) => r.generator), ["service", "entity", "consumer", "consumer", "route"]);
  assert.ok(manifest.runs.every((r: { version: string }) => /^\d+\.\d+\.\d+$/.test(r.version)));
  assert.is(manifest.runs[0].answers.entity, "parcel");
});

test("a consumer of a stream event gets a test fed Kinesis records, asserting the sequence number a failed write reports", () => {
  assert.ok(written["stream-consumer"]!.includes(`services/${name}/test/on-entry-posted.test.ts`));
  const stream = readFileSync(join(root, "services", name, "test/on-entry-posted.test.ts"), "utf8");
  assert.match(stream, /bed\.consumerEvent\("ledger\.entry-posted", data\)/);
  assert.match(stream, /bed\.kinesisEvent\("ledger\.entry-posted", \{ unexpected: true \} as never, \{ partitionKey: "poison" \}\)/);
  assert.match(stream, /batchItemFailures: \[\{ itemIdentifier: second!\.kinesis\.sequenceNumber \}\]/);
  assert.not.match(stream, /sqsEvent/);
  // a consumer of a queue's event keeps SQS records
  const queue = readFileSync(join(root, "services", name, "test/on-order-status-changed.test.ts"), "utf8");
  assert.match(queue, /bed\.sqsEvent\("orders\.order-status-changed", \{ unexpected: true \} as never\)/);
  assert.not.match(queue, /kinesisEvent|failWrites/);
});

test("the repository with the generated code type-checks under the strict tsconfig", () => {
  const { code, output } = run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]);
  assert.is(code, 0, output);
});

test("the generated service's own tests pass", () => {
  const { code, output } = run(process.execPath, ["scripts/test.mjs", `services/${name}`]);
  assert.is(code, 0, output);
  assert.match(output, /\b[1-9]\d* passed, 0 failed/);
});

test("the generated service passes the whole-system mocks run and every guardrail rule", () => {
  const { code, output } = run(process.execPath, ["scripts/test.mjs", "shared/infra/test/whole-system.test.ts"]);
  assert.is(code, 0, output);
});

test.run();
