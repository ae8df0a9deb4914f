import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { bundleOptions, ELECTRODB_SDK_IMPORTS } from "../bundle-options";
import { electrodbSdk } from "../electrodb-sdk";
import { setFunctionEnvironment, TEST_TOPICS, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";
import { cloudEvent, orderPlaced, sqsEvent, sqsRecord } from "./helpers/events";
import { startSnsStub, type SnsStub } from "./helpers/sns-server";

// The function bundle as the deploy-time component builds it: the bench's sample consumer (runtime, one ElectroDB
// entity, publish), run by plain Node (no tsx) in a fresh process with the function's environment (so its module
// scope is an init phase: clients, entity and schemas are prepared there).
const outfile = join(__dirname, ".build", "bundle", "issue-invoice", "index.mjs");
let dynamo: LocalDynamo;
let sns: SnsStub;
let metafile: esbuild.Metafile;

/** Runs an ES module script in a fresh Node process (asynchronously: the local endpoints live in this one). */
async function runBundle(script: string): Promise<any> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env: process.env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on("close", resolve));
  assert.is(code, 0, stderr);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

test.before(async () => {
  useLocalAwsEnvironment();
  [dynamo, sns] = await Promise.all([startDynalite(), startSnsStub()]);
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice" });
  metafile = (await esbuild.build(bundleOptions(join(__dirname, "..", "bench", "sample", "issue-invoice.ts"), outfile))).metafile!;
});
test.after(async () => {
  await Promise.all([dynamo?.stop(), sns?.close()]);
});

test("one minified ESM file: the AWS SDK inside (only the commands used), the rest under 300 KB", () => {
  const outputs = Object.entries(metafile.outputs);
  assert.is(outputs.length, 1);
  const [, output] = outputs[0]!;
  const inputs = Object.entries(output.inputs);
  const sdk = inputs.filter(([path]) => /node_modules\/@(aws-sdk|smithy|aws)\//.test(path));
  // The ES module builds (tree-shakable), of the version in package-lock.json: not the Lambda runtime's own SDK.
  // (Paths are relative to the working folder: "../…/node_modules/…" when node_modules is a link to elsewhere.)
  assert.ok(sdk.some(([path]) => path.includes("node_modules/@aws-sdk/client-dynamodb/dist-es/")));
  assert.ok(sdk.some(([path]) => path.includes("node_modules/@aws-sdk/client-sns/dist-es/")));
  const snsCommands = sdk.map(([path]) => path.match(/client-sns\/dist-es\/commands\/(\w+)\.js$/)?.[1]).filter(Boolean);
  assert.equal(snsCommands.sort(), ["PublishBatchCommand", "PublishCommand"], "only the SNS commands the runtime sends");
  const ownBytes = inputs.filter(([path]) => !sdk.some(([s]) => s === path)).reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  assert.ok(ownBytes < 300 * 1024, `runtime, ElectroDB, zod and handler: ${ownBytes} bytes`);
  assert.ok(inputs.some(([path]) => path.includes("node_modules/electrodb/")));
  assert.not.ok(inputs.some(([path]) => path.includes("platform-outputs")), "the contract's index is not pulled in");
  const code = readFileSync(outfile, "utf8");
  assert.match(code, /^import \{ createRequire as __platformCreateRequire \} from "node:module";/);
  assert.ok(code.split("\n").length < 60, "minified");
});

test("ElectroDB's require() of the SDK keeps only the commands it sends: no aggregated clients, no waiters", () => {
  const inputs = Object.values(metafile.outputs).flatMap((o) => Object.keys(o.inputs));
  const dynamoCommands = inputs.map((path) => path.match(/client-dynamodb\/dist-es\/commands\/(\w+)\.js$/)?.[1]).filter(Boolean).sort();
  // The runtime's own (the lock: Put, Get, Delete, Update), those behind ElectroDB's ten document commands and the
  // client's endpoint discovery (DescribeEndpoints, in every DynamoDB client).
  assert.equal(dynamoCommands, [
    "BatchGetItemCommand",
    "BatchWriteItemCommand",
    "DeleteItemCommand",
    "DescribeEndpointsCommand",
    "GetItemCommand",
    "PutItemCommand",
    "QueryCommand",
    "ScanCommand",
    "TransactGetItemsCommand",
    "TransactWriteItemsCommand",
    "UpdateItemCommand",
  ]);
  for (const whole of [/client-dynamodb\/dist-es\/DynamoDB\.js$/, /client-dynamodb\/dist-es\/waiters\//, /lib-dynamodb\/dist-es\/DynamoDBDocument\.js$/]) {
    assert.not.ok(inputs.some((path) => whole.test(path)), `${whole} is not bundled`);
  }
  assert.ok(inputs.includes("electrodb-sdk:@aws-sdk/lib-dynamodb"), "ElectroDB's require() is answered by the registry module");
});

test("ELECTRODB_SDK_IMPORTS: what ElectroDB's client takes from the SDK, and what the runtime registers", () => {
  const source = readFileSync(require.resolve("electrodb/src/client.js"), "utf8");
  assert.match(source, /const lib = require\("@aws-sdk\/lib-dynamodb"\);/);
  assert.match(source, /const util = require\("@aws-sdk\/util-dynamodb"\);/);
  const used = (pattern: RegExp) => [...new Set([...source.matchAll(pattern)].map((m) => m[1]!))].sort();
  assert.equal(used(/\blib\.(\w+)/g), [...ELECTRODB_SDK_IMPORTS["@aws-sdk/lib-dynamodb"]].sort());
  assert.equal(used(/\butil\.(\w+)/g), [...ELECTRODB_SDK_IMPORTS["@aws-sdk/util-dynamodb"]].sort());
  for (const [module, names] of Object.entries(ELECTRODB_SDK_IMPORTS)) {
    assert.equal(Object.keys(electrodbSdk[module as keyof typeof electrodbSdk]).sort(), [...names].sort(), module);
    for (const name of names) assert.type((electrodbSdk as Record<string, Record<string, unknown>>)[module]![name], "function", `${module} ${name}`);
  }
});

test("ElectroDB used without dataTable() in a bundle fails naming what to call, instead of sending anything", async () => {
  // An entity built on the document client directly: nothing fills the registry ElectroDB's SDK commands come from.
  const dir = join(__dirname, ".build", "bundle", "unregistered");
  const entry = join(dir, "entry.ts");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    entry,
    `import { Entity } from "electrodb";\n` +
      `import { documentClient } from ${JSON.stringify(join(__dirname, "..", "aws-clients"))};\n` +
      `const entity = new Entity({ model: { entity: "note", version: "1", service: "billing" }, attributes: { id: { type: "string", required: true } }, indexes: { byId: { pk: { field: "pk", composite: ["id"] }, sk: { field: "sk", composite: [] } } } }, { client: documentClient(), table: ${JSON.stringify(TEST_TABLES.data)} });\n` +
      `export const attempt = () => entity.put({ id: "n-1" }).go().then(() => "sent", (error) => String(error.message));\n`,
  );
  const outfile = join(dir, "index.mjs");
  await esbuild.build(bundleOptions(entry, outfile));
  const result = await runBundle(`
    const { attempt } = await import(${JSON.stringify(pathToFileURL(outfile).href)});
    console.log(JSON.stringify(await attempt()));
  `);
  assert.match(result, /ElectroDB's @aws-sdk\/lib-dynamodb is not registered in this function bundle: give entities dataTable\(\)'s configuration/);
  assert.not.ok((await dynamo.scan(TEST_TABLES.data)).some((item) => item.id === "n-1"), "nothing was written");
});

test("the Kinesis client is bundled only for a function that publishes a stream event (settings.kinesis)", async () => {
  const kinesisInputs = (meta: esbuild.Metafile) =>
    Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs)).filter((path) => /client-kinesis|runtime\/kinesis-client/.test(path));
  assert.equal(kinesisInputs(metafile), [], "the default bundle has none of it");
  const entry = join(__dirname, "..", "bench", "sample", "issue-invoice.ts");
  const withKinesis = await esbuild.build({ ...bundleOptions(entry, join(__dirname, ".build", "bundle", "kinesis", "index.mjs"), { kinesis: true }), write: false });
  const inputs = kinesisInputs(withKinesis.metafile!);
  assert.ok(inputs.some((path) => path.includes("client-kinesis/dist-es/commands/PutRecordsCommand.js")), "PutRecords is in it");
  const grown = withKinesis.outputFiles![0]!.contents.length - readFileSync(outfile).length;
  assert.ok(grown > 10_000, `the Kinesis client adds ${grown} bytes`);
});

test("importing the bundle loads nothing from node_modules and calls nothing on the network", async () => {
  const result = await runBundle(`
    import { createRequire } from "node:module";
    import net from "node:net";
    let connects = 0;
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...args) { connects++; return connect.apply(this, args); };
    const mod = await import(${JSON.stringify(pathToFileURL(outfile).href)});
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ handler: typeof mod.handler, loaded: cache.filter((p) => p.includes("node_modules")).length, connects }));
  `);
  assert.equal(result, { handler: "function", loaded: 0, connects: 0 });
});

test("the bundle handles an event end to end: entity write, publish, idempotency", async () => {
  const data = orderPlaced();
  const event = sqsEvent(sqsRecord(JSON.stringify(cloudEvent("orders.order-placed", data))));
  const result = await runBundle(`
    const { handler } = await import(${JSON.stringify(pathToFileURL(outfile).href)});
    const event = ${JSON.stringify(event)};
    const first = await handler(event);
    const again = await handler(event);
    console.log(JSON.stringify({ first, again }));
  `);
  assert.equal(result, { first: { batchItemFailures: [] }, again: { batchItemFailures: [] } });
  const issued = sns.events(TEST_TOPICS["billing.invoice-issued"]);
  assert.is(issued.length, 1);
  assert.is(issued[0].data.orderId, data.orderId);
  const invoices = (await dynamo.scan(TEST_TABLES.data)).filter((i) => i.orderId === data.orderId);
  assert.is(invoices.length, 1);
  assert.match(invoices[0]!.pk as string, /^\$billing#/);
});

test.run();
