// One bundle per function: capturing the programs under mocks runs no esbuild, a local stage start bundles each
// handler at most once (and not at all when nothing changed), and the host runs the very bytes the deployed function
// references (its sourceCodeHash).
import { esbuildRuns } from "./support/count-esbuild";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runSystem } from "../../capture/system";
import { functionBuilds } from "../../infra/helpers/bundle";
import { buildBundlesUnderMocks } from "../../infra/service-function";
import { discoverServiceDirs, startLocalStage, type LocalStage } from "../stage";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REPO = join(__dirname, "..", "..", "..");
const LOCAL = join(REPO, "shared", "local");
const serviceDirs = discoverServiceDirs(REPO);

/** esbuild runs since `from` whose entry is a function's handler (not the stage's own worker scripts). */
function handlerRuns(from: number): string[] {
  return esbuildRuns
    .slice(from)
    .flat()
    .filter((entry) => !entry.startsWith(LOCAL));
}

/** The same digest the build service names a bundle by: every file of its folder, by name, with its bytes. */
function digestOf(dir: string): string {
  const digest = createHash("sha256");
  for (const name of readdirSync(dir).sort()) {
    const contents = readFileSync(join(dir, name));
    digest.update(`${name}\0${contents.length}\0`).update(contents);
  }
  return digest.digest("hex");
}

test("capturing every program of the system under mocks runs no esbuild", async () => {
  const from = esbuildRuns.length;
  const system = await runSystem({ root: REPO, stage: "dev", serviceDirs });
  const functions = system.services.flatMap((s) => s.run.mocks.resources.filter((r) => r.type === "aws:lambda/function:Function"));
  assert.ok(functions.length >= 2, `the services declare functions (${functions.length})`);
  assert.equal(esbuildRuns.slice(from), [], "no esbuild run while the programs ran");
});

test("a local stage start bundles each handler at most once; a second start bundles none; the host runs the deployed bytes", async () => {
  let stage: LocalStage | undefined;
  const from = esbuildRuns.length;
  try {
    stage = await startLocalStage({ port: 0, serviceDirs });
    const functions = stage.wiring.functions;
    const runs = handlerRuns(from);
    assert.equal(runs.length, new Set(runs).size, `no handler bundled twice: ${runs.join(", ")}`);
    for (const entry of runs) assert.ok(functions.some((fn) => join(REPO, fn.entry) === entry), `${entry} is a function's handler`);
  } finally {
    await stage?.stop();
    stage = undefined;
  }

  // Again, with the programs asking the build service for their archives as `pulumi up` does.
  const second = esbuildRuns.length;
  const hits = functionBuilds.stats.cacheHits;
  buildBundlesUnderMocks(true);
  try {
    stage = await startLocalStage({ port: 0, serviceDirs });
  } finally {
    buildBundlesUnderMocks(false);
  }
  try {
    assert.equal(handlerRuns(second), [], "nothing changed: no handler is bundled again");
    assert.ok(functionBuilds.stats.cacheHits > hits, "the bundles came from the build service's manifests");
    const captured = stage.programs.flatMap((p) => p.resources.filter((r) => r.type === "aws:lambda/function:Function"));
    assert.is(captured.length, stage.hosts.size);
    for (const fn of captured) {
      const name = fn.inputs.name as string;
      const deployed = fn.inputs.sourceCodeHash as string;
      assert.match(deployed, /^[0-9a-f]{64}$/, `${name} references its bundle by content hash`);
      const bundle = await stage.hosts.get(name)!.prepare();
      assert.is(bundle.hash, deployed, `${name}: the host runs the bundle the function deploys`);
      assert.is(digestOf(bundle.dir), deployed, `${name}: the folder the host loads from holds exactly those bytes`);
    }
  } finally {
    await stage.stop();
  }
});

test.run();
