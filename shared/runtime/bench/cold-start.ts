// Cold-start benchmark (not a test): bundles a sample consumer (runtime + one ElectroDB entity + publish) and an
// empty handler exactly as functions are bundled (bundle-options.ts), then measures them in fresh Node processes.
//
//   node --import tsx shared/runtime/bench/cold-start.ts [runs=15]
//
// Reported per bundle (medians of `runs`, bundles measured in turn so load changes hit all alike):
// - size: bytes on disk and gzipped;
// - init: a fresh `node` importing the bundle: wall time from spawn to exit, and the import() alone in-process;
// - first event: a fresh `node` importing the bundle and handling one SQS event against local DynamoDB (dynalite)
//   and SNS (a stub): import + first invocation, where the lazily loaded SDK clients and ElectroDB are paid for.
// The goal (at most 1.5x the empty handler's init, under 300 KB) is checked on the init wall time.
// The last line is a JSON summary.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { bundleOptions, type BundleSettings } from "../bundle-options";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "../test/helpers/aws-environment";
import { startDynalite } from "../test/helpers/dynalite";
import { cloudEvent, orderPlaced, sqsEvent, sqsRecord } from "../test/helpers/events";
import { startSnsStub } from "../test/helpers/sns-server";

const RUNS = Number(process.argv[2] ?? 15);
const OUT = join(__dirname, ".build");
const GOAL = { ratio: 1.5, bytes: 300 * 1024 };

interface Variant {
  name: string;
  entry: string;
  settings?: BundleSettings;
  note: string;
}

const variants: Variant[] = [
  { name: "empty", entry: join(__dirname, "sample", "empty-handler.ts"), note: "baseline: a handler that does nothing" },
  { name: "consumer", entry: join(__dirname, "sample", "issue-invoice.ts"), note: "runtime defaults: ESM, @aws-sdk external, lazy SDK and ElectroDB" },
  {
    name: "consumer-sdk-bundled",
    entry: join(__dirname, "sample", "issue-invoice.ts"),
    settings: { externalAwsSdk: false },
    note: "for comparison: the AWS SDK bundled in (externalAwsSdk: false)",
  },
];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Runs an ES module script in a fresh `node`; resolves to its last stdout line (JSON) and the wall time. */
function fresh(script: string): Promise<{ result: any; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env: process.env, cwd: OUT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`exit ${code}: ${stderr}`));
      resolve({ result: JSON.parse(stdout.trim().split("\n").at(-1)!), wallMs });
    });
  });
}

const importScript = (file: string) => `
  const t0 = performance.now();
  await import(${JSON.stringify(pathToFileURL(file).href)});
  console.log(JSON.stringify({ importMs: performance.now() - t0 }));
`;

const firstEventScript = (file: string, event: unknown) => `
  const t0 = performance.now();
  const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)});
  const t1 = performance.now();
  const response = await handler(${JSON.stringify(event)});
  const t2 = performance.now();
  if (response.batchItemFailures.length) throw new Error("the event failed: " + JSON.stringify(response));
  console.log(JSON.stringify({ importMs: t1 - t0, invokeMs: t2 - t1, readyMs: t2 }));
`;

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  useLocalAwsEnvironment();
  setFunctionEnvironment({ service: "billing", handler: "issue-invoice", logLevel: "WARN" });
  const [dynamo, sns] = await Promise.all([startDynalite(), startSnsStub()]);

  const built = [];
  for (const variant of variants) {
    const outfile = join(OUT, variant.name, "index.mjs");
    await esbuild.build(bundleOptions(variant.entry, outfile, variant.settings));
    const code = readFileSync(outfile);
    built.push({ ...variant, outfile, bytes: code.length, gzipBytes: gzipSync(code).length, wall: [] as number[], imports: [] as number[], first: [] as number[], invokes: [] as number[] });
  }

  // One warm-up round (file system cache), not counted.
  for (const b of built) await fresh(importScript(b.outfile));
  for (let run = 0; run < RUNS; run++) {
    for (const b of built) {
      const { result, wallMs } = await fresh(importScript(b.outfile));
      b.wall.push(wallMs);
      b.imports.push(result.importMs);
    }
    for (const b of built) {
      const event = sqsEvent(sqsRecord(JSON.stringify(cloudEvent("orders.order-placed", orderPlaced()))));
      const { result } = await fresh(firstEventScript(b.outfile, event));
      b.first.push(result.importMs + result.invokeMs);
      b.invokes.push(result.invokeMs);
    }
  }
  await Promise.all([dynamo.stop(), sns.close()]);

  const empty = built[0]!;
  const rows = built.map((b) => ({
    bundle: b.name,
    kb: round(b.bytes / 1024),
    gzipKb: round(b.gzipBytes / 1024),
    initWallMs: round(median(b.wall)),
    initRatio: round(median(b.wall) / median(empty.wall), 2),
    importMs: round(median(b.imports)),
    importRatio: round(median(b.imports) / median(empty.imports), 2),
    firstEventMs: round(median(b.first)),
    firstInvokeMs: round(median(b.invokes)),
  }));

  console.log(`cold start, ${RUNS} fresh Node ${process.version} processes per measure (medians)\n`);
  console.table(rows);
  for (const b of built) console.log(`  ${b.name}: ${b.note}`);
  const consumer = rows[1]!;
  const ok = consumer.initRatio <= GOAL.ratio && built[1]!.bytes < GOAL.bytes;
  console.log(
    `\ngoal (init wall time <= ${GOAL.ratio}x the empty handler, bundle < ${GOAL.bytes / 1024} KB): ` +
      `${consumer.initRatio}x, ${consumer.kb} KB -> ${ok ? "met" : "NOT met"}`,
  );
  console.log(
    `first event (import + one invocation with SDK and ElectroDB loading on first use): ${consumer.firstEventMs} ms vs ` +
      `${rows[0]!.firstEventMs} ms for the empty handler`,
  );
  console.log(JSON.stringify({ benchmark: "cold-start", runs: RUNS, node: process.version, goal: GOAL, goalMet: ok, bundles: rows }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
