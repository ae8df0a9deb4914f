// The template's tests must hold in a user's repository, whatever services and events the user adds. This copies
// the repository to a temporary folder, generates services there as a user would (`npm run new-*`: the README's
// example, a new FIFO event with a route that publishes it, and a service with a route and a consumer of every event
// in the catalog, FIFO ones included; then `npm run catalog`, as a user would), then runs the whole `npm test` in the copy. That is a second full suite, so CI
// runs it after `npm test` (.ci/run); `npm test` does not.
//
//   node --import tsx scripts/ci-user-services.ts          generate, test, remove the copy
//   node --import tsx scripts/ci-user-services.ts --keep   leave the copy for a look (its path is printed)
//
// Its last line is "N passed, N failed" for the copy's suite, with one failure more when something before or around
// the suite failed (generating, preparing the copy, a type-check that stopped the suite); it exits non-zero exactly
// when that line counts a failure.
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { Repo } from "../generators/lib/repo";
// The generators' tests' own helpers: copy the repository, run an npm script in it, pick unused names.
import { copyRepo, npmRun, unusedServiceName } from "../generators/test/helpers";

type Step = [script: string, args: string[]];
type Counts = { passed: number; failed: number };

/**
 * The counts of a suite's run from its output (the last "N passed, N failed" line) and exit code. A run that ended
 * without that line, or failed with no failure counted, is one failure.
 */
export function suiteCounts(output: string, exitCode: number | null): Counts {
  const line = [...output.matchAll(/^(\d+) passed, (\d+) failed$/gm)].pop();
  const passed = Number(line?.[1] ?? 0);
  const failed = Number(line?.[2] ?? 0);
  return { passed, failed: failed === 0 && (exitCode !== 0 || !line) ? 1 : failed };
}

/**
 * What a user might add, in order, as [npm script, flags], with service names that `root` does not use yet. A
 * function stands for steps that depend on what the steps before it made.
 */
function userGenerators(root: string): (Step | (() => Step[]))[] {
  const ship = unusedServiceName(root, "shipping");
  const [sent, tracked] = [`${ship}.parcel-sent`, `${ship}.parcel-tracked`];
  return [
    // The README's own example.
    ["new-service", ["--name", ship, "--purpose", "Ships invoiced orders", "--team", "logistics", "--consumes", "billing.invoice-issued", "--publishes", sent, "--entity", "parcel", "--yes"]],
    ["new-event", ["--type", tracked, "--owner", ship, "--description", "A parcel moved; consumers see one parcel's moves in order.", "--fifo", "--group-field", "parcelId", "--fields", "parcelId:string,status:string"]],
    ["new-route", ["--service", ship, "--path", "/parcels/moves", "--entity", "parcel", "--publishes", tracked]],
    // Named to sort before billing; consumes every event there is by then (so also what billing consumes), and the
    // FIFO event above through new-consumer.
    () => {
      const audit = unusedServiceName(root, "audit");
      const consumes = [...new Repo(root).catalog().keys()].filter((type) => type !== tracked);
      return [
        ["new-service", ["--name", audit, "--purpose", "Keeps a record of what happened", "--team", "compliance", "--consumes", consumes.join(","), "--http", "--entity", "entry", "--yes"]],
        ["new-consumer", ["--service", audit, "--event", tracked, "--entity", "entry"]],
      ];
    },
    // What a user does after changing events or consumers: the catalog document follows (npm test checks it).
    ["catalog", []],
  ];
}

async function main(): Promise<void> {
  const keep = process.argv.includes("--keep");
  const started = Date.now();
  const root = copyRepo("user-services-");
  console.log(`user services: a copy of the repository in ${root}`);

  const finish = ({ passed, failed }: Counts): never => {
    console.log(`user services: ${((Date.now() - started) / 1000).toFixed(0)} s in all${keep ? `; the copy stays in ${root}` : ""}`);
    if (!keep) rmSync(root, { recursive: true, force: true });
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  };

  try {
    const steps = userGenerators(root);
    while (steps.length) {
      const step = steps.shift()!;
      if (typeof step === "function") {
        steps.unshift(...step());
        continue;
      }
      const [script, args] = step;
      const { code, stdout, stderr } = npmRun(root, script, args);
      const command = `npm run ${script} -- ${args.join(" ")}`;
      if (code !== 0) {
        console.log(`✘ ${command}\n${stdout}${stderr}`);
        return finish({ passed: 0, failed: 1 });
      }
      console.log(`✔ ${command}: ${stdout.trim().split("\n").pop()}`);
    }
    // The copy is a repository of its own, as a user's is (tests that copy the repository list its files with git).
    const init = spawnSync("git", ["init", "-q"], { cwd: root, encoding: "utf8" });
    if (init.status !== 0) {
      console.log(`✘ git init in the copy: ${init.stderr}`);
      return finish({ passed: 0, failed: 1 });
    }
  } catch (error) {
    console.log(`✘ preparing the copy: ${(error as Error)?.stack ?? String(error)}`);
    return finish({ passed: 0, failed: 1 });
  }

  // The whole suite, its output passed through as it comes.
  const { code, text } = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn("npm", ["test"], { cwd: root, env: { ...process.env, FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const pass = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      text += chunk;
      stream.write(chunk);
    };
    child.stdout.on("data", pass(process.stdout));
    child.stderr.on("data", pass(process.stderr));
    child.on("close", (code) => resolve({ code, text }));
  });
  finish(suiteCounts(text, code));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    console.log("\n0 passed, 1 failed");
    process.exit(1);
  });
}
