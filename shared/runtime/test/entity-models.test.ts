// Function bundles leave ElectroDB's model validation out (bundle-options.ts bundles a stand-in for `jsonschema` that
// accepts the model: VALIDATED_MODEL_JSONSCHEMA). This is where the models are validated instead: every entity of
// every service (and of the bench's samples) is built here with the full ElectroDB, whose constructor validates the
// model with the real jsonschema and throws ElectroError InvalidModel on a model it refuses.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import * as esbuild from "esbuild";
import { ENV } from "../../contract/environment";
import { bundleOptions } from "../bundle-options";
import { defineEntity, definedEntities } from "../entity";
import { resetAwsClients } from "../aws-clients";
import { useLocalAwsEnvironment } from "./helpers/aws-environment";

const REPO = join(__dirname, "..", "..", "..");

/** Source files (not tests) that define entities: under services/<service>/ and the bench's samples. */
function entityModules(): { file: string; service: string }[] {
  const found: { file: string; service: string }[] = [];
  const walk = (dir: string, service: string) => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name === "test" || name.startsWith(".")) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, service);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && readFileSync(path, "utf8").includes("defineEntity(")) found.push({ file: path, service });
    }
  };
  for (const service of readdirSync(join(REPO, "services"))) {
    if (statSync(join(REPO, "services", service)).isDirectory()) walk(join(REPO, "services", service), service);
  }
  walk(join(REPO, "shared", "runtime", "bench", "sample"), "billing");
  return found;
}

test.before(() => {
  useLocalAwsEnvironment();
  // Not inside a function: importing a module defines its entities without building them.
  delete process.env[ENV.service];
  process.env[ENV.dataTable] = "test-data";
});
test.after(() => resetAwsClients());

test("ElectroDB's own validation accepts the model of every entity of every service", async () => {
  const modules = entityModules();
  assert.ok(modules.some((m) => m.file.endsWith(join("billing", "entities", "invoice.ts"))), "billing's invoice entity is found");
  let built = 0;
  for (const { file, service } of modules) {
    const before = definedEntities().length;
    await import(file);
    const entities = definedEntities().slice(before);
    assert.ok(entities.length > 0, `${relative(REPO, file)} defines no entity when imported`);
    process.env[ENV.service] = service;
    for (const { entity, build } of entities) {
      try {
        build();
      } catch (error) {
        assert.unreachable(`entity ${entity} of ${relative(REPO, file)}: ${(error as Error).message}`);
      }
      built++;
    }
    delete process.env[ENV.service];
  }
  assert.ok(built >= modules.length);
});

test("a model ElectroDB refuses fails here (the real jsonschema validation runs in tests, not the stand-in)", () => {
  const broken = defineEntity({
    model: { entity: "broken", version: "1" },
    // An attribute's `type` must be a string or a list; jsonschema finds this, ElectroDB's parsing alone would not.
    attributes: { id: { type: "string", required: true }, note: { type: "string", required: "yes" as unknown as boolean } },
    indexes: { byId: { pk: { composite: ["id"] } } },
  });
  process.env[ENV.service] = "billing";
  try {
    assert.throws(() => broken(), (error: Error) => /attributes\.note\.required is not of a type\(s\) boolean/.test(error.message));
  } finally {
    delete process.env[ENV.service];
  }
});

test("function bundles take the stand-in, not jsonschema: billing's consumer", async () => {
  const entry = join(REPO, "services", "billing", "handlers", "on-order-placed.ts");
  const result = await esbuild.build({ ...bundleOptions(entry, join(__dirname, ".build", "models", "index.mjs")), absWorkingDir: REPO, write: false });
  const inputs = Object.keys(Object.values(result.metafile!.outputs)[0]!.inputs);
  assert.not.ok(inputs.some((path) => path.includes("node_modules/jsonschema/")), "jsonschema is not bundled");
  assert.ok(inputs.includes("validated-model:jsonschema"), `the stand-in is: ${inputs.filter((p) => !p.includes("node_modules")).join(", ")}`);
  assert.ok(inputs.some((path) => path.includes("node_modules/electrodb/")));
});

test.run();
