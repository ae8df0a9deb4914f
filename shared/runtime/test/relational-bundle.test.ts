// The relational store is in a function's bundle (code in the output, not just an input esbuild looked at) only with the `relational` bundle setting: the runtime's index
// exports relationalStore, so without the setting's define esbuild would keep Kysely and the Data API client in
// every bundle that imports the runtime.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { bundleOptions } from "../bundle-options";

const REPO = join(__dirname, "..", "..", "..");
const relationalInputs = (meta: esbuild.Metafile) =>
  Object.values(meta.outputs)
    .flatMap((o) => Object.entries(o.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path))
    .filter((path) => /node_modules\/(kysely|kysely-data-api|@aws-sdk\/client-rds-data)\//.test(path));
const build = async (entry: string, relational: boolean) =>
  (await esbuild.build({ ...bundleOptions(entry, join(__dirname, ".build", "bundle", `relational-${relational}`, "index.mjs"), { relational }), write: false })).metafile!;

test("a function of a service without a relational store bundles none of Kysely or the Data API client", async () => {
  const inputs = relationalInputs(await build(join(__dirname, "..", "bench", "sample", "issue-invoice.ts"), false));
  assert.equal(inputs, []);
});

test("reporting's relational writer bundles them; without the setting, not the Data API client", async () => {
  const entry = join(REPO, "services", "reporting", "handlers", "on-entry-posted.ts");
  const withStore = relationalInputs(await build(entry, true));
  assert.ok(withStore.some((p) => p.includes("kysely-data-api/")), "kysely-data-api");
  assert.ok(withStore.some((p) => p.includes("client-rds-data/")), "the Data API client");
  assert.equal(relationalInputs(await build(entry, false)).filter((p) => p.includes("client-rds-data/")), []);
});

test.run();
