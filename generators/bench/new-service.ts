// Benchmark: `npm run new-service` (non-interactive) against plop running a one-file generator, side by side in
// one run on the same machine. Prints both medians, the ratio and a JSON line.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyRepo } from "../test/helpers";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

function timed(command: string, args: string[], cwd: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const repo = copyRepo("bench-generators-");
const baseline = mkdtempSync(join(tmpdir(), "bench-plop-"));
writeFileSync(
  join(baseline, "plopfile.js"),
  `module.exports = (plop) => plop.setGenerator("one", {
  description: "one file",
  prompts: [{ type: "input", name: "name", message: "name" }],
  actions: [{ type: "add", path: "out/{{name}}.txt", template: "hello {{name}}" }],
});\n`,
);

const catalogPath = join(repo, "shared", "contract", "catalog.ts");
const catalog = readFileSync(catalogPath, "utf8");
const ours: number[] = [];
const plop: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    // Alternate the two so drift on a shared machine hits both alike.
    const name = `bench-svc-${i}`;
    ours.push(
      timed("npm", ["run", "--silent", "new-service", "--", "--name", name, "--purpose", "Benchmark", "--team", "bench",
        "--consumes", "orders.order-placed", "--publishes", `${name}.done`, "--entity", "item", "--yes"], repo),
    );
    rmSync(join(repo, "services", name), { recursive: true });
    writeFileSync(catalogPath, catalog);
    plop.push(timed("npm", ["exec", "--prefix", repo, "--", "plop", "--plopfile", join(baseline, "plopfile.js"), "--dest", baseline, "one", "--", "--name", `file-${i}`], baseline));
  }
} finally {
  rmSync(repo, { recursive: true, force: true });
  rmSync(baseline, { recursive: true, force: true });
}
const result = { runs: RUNS, newServiceMs: Math.round(median(ours)), plopOneFileMs: Math.round(median(plop)), ratio: +(median(ours) / median(plop)).toFixed(2) };
console.log(`npm run new-service: median ${result.newServiceMs} ms; plop one-file generator: median ${result.plopOneFileMs} ms; ratio ${result.ratio}x (goal: < 2000 ms and <= 1.5x)`);
console.log(JSON.stringify({ bench: "generators", ...result }));
