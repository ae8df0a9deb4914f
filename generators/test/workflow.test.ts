import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFromArgs } from "../run";
import { copyRepo, unusedServiceName } from "./helpers";

// new-workflow, run into a copy of the repository on a service new-service made, then checked as CI checks it:
// type-check, the service's own tests (the workflow's included), the whole-system mocks run with every guardrail.
const root = copyRepo("generators-workflow-");
const name = unusedServiceName(root, "dispatch");
const sent = `${name}.parcel-dispatched`;

async function generate(generator: string, args: string[]): Promise<string[]> {
  return runFromArgs(generator, [...args, "--root", root], { interactive: false });
}

function run(command: string, args: string[]): { code: number; output: string } {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: result.status ?? -1, output: `${result.stdout}\n${result.stderr}` };
}

async function refused(args: string[], message: RegExp): Promise<void> {
  try {
    await generate("workflow", args);
    assert.unreachable(`expected ${message}`);
  } catch (error) {
    assert.match((error as Error).message, message);
  }
}

test.before(async () => {
  await generate("service", [
    "--name", name, "--purpose", "Dispatches invoiced orders", "--team", "logistics",
    "--consumes", "billing.invoice-issued", "--publishes", sent, "--entity", "parcel", "--yes",
  ]);
  await generate("workflow", ["--service", name, "--name", "dispatch-parcel", "--publishes", sent, "--starter", "on-invoice-issued"]);
  await generate("workflow", ["--service", name, "--name", "recount"]);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test("new-workflow writes the workflow, its step and its test, and declares it (and its starter) in the program", () => {
  const dir = join(root, "services", name);
  for (const file of ["workflows/dispatch-parcel.ts", "handlers/dispatch-parcel-step.ts", "test/dispatch-parcel.workflow.test.ts", "workflows/recount.ts"]) {
    assert.ok(existsSync(join(dir, file)), file);
  }
  const index = readFileSync(join(dir, "index.ts"), "utf8");
  assert.match(index, /import \{ dispatchParcel \} from "\.\/workflows\/dispatch-parcel";\nimport \{ recount \} from "\.\/workflows\/recount";/);
  assert.match(index, /workflows: \{\n\s+"dispatch-parcel": dispatchParcel,\n\s+"recount": recount,\n\s+\/\/ new workflows are added above this line\n\s+\},/);
  assert.match(index, /"on-invoice-issued": \{ event: "billing\.invoice-issued".*, starts: \["dispatch-parcel"\] \},/);
  const workflow = readFileSync(join(dir, "workflows/dispatch-parcel.ts"), "utf8");
  assert.match(workflow, new RegExp(`publish\\("${sent.replace(/\./g, "\\.")}"`));
  const manifest = JSON.parse(readFileSync(join(dir, "generator.json"), "utf8"));
  assert.equal(manifest.runs.map((r: { generator: string }) => r.generator).slice(-2), ["workflow", "workflow"]);
});

test("--starter writes the startWorkflow call into the generated consumer, and its test checks the start", () => {
  const dir = join(root, "services", name);
  const handler = readFileSync(join(dir, "handlers/on-invoice-issued.ts"), "utf8");
  assert.match(handler, /^import \{ [^}]*\bstartWorkflow\b[^}]* \} from "\.\.\/\.\.\/\.\.\/shared\/runtime";$/m);
  assert.match(handler, /\n {4}await startWorkflow\("dispatch-parcel", \{ \.\.\.event\.data \}\);\n {2}\},\n\}\);\n$/);
  const test = readFileSync(join(dir, "test/on-invoice-issued.test.ts"), "utf8");
  assert.match(test, /workflows: \{ "dispatch-parcel": \{ definition: dispatchParcel, functions: \{ "dispatch-parcel-step": dispatchParcelStep \} \} \}/);
  assert.match(test, /import \{ handler as dispatchParcelStep \} from "\.\.\/handlers\/dispatch-parcel-step";\nimport \{ dispatchParcel \} from "\.\.\/workflows\/dispatch-parcel";/);
  assert.match(test, /test\("starts workflow dispatch-parcel for billing\.invoice-issued, once, named after the event"/);
});

test("new-workflow refuses a taken name, an event the service does not own, an unknown starter", async () => {
  await refused(["--service", name, "--name", "recount"], /already exists/);
  await refused(["--service", name, "--name", "ship", "--publishes", "orders.order-placed"], /owned by "orders"/);
  await refused(["--service", name, "--name", "ship", "--starter", "on-nothing"], /no consumer "on-nothing" \(--starter\)/);
  await refused(["--service", name, "--name", "Ship"], /not kebab-case/);
});

test("a starter whose handler is not the generated shape is left alone, and a note says exactly what to add", async () => {
  const file = join(root, "services", name, "handlers/on-invoice-issued.ts");
  // The runtime's names one per line, as a formatter may leave them: no longer the generated shape.
  const handWritten = readFileSync(file, "utf8").replace(
    /^import \{ (.*) \} from "(\.\.\/\.\.\/\.\.\/shared\/runtime)";$/m,
    (_, names: string, from: string) => `import {\n  ${names.split(", ").join(",\n  ")},\n} from "${from}";`,
  );
  writeFileSync(file, handWritten);
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    await generate("workflow", ["--service", name, "--name", "audit", "--starter", "on-invoice-issued"]);
  } finally {
    console.log = log;
  }
  assert.is(readFileSync(file, "utf8"), handWritten);
  assert.equal(printed, [
    `note: services/${name}/handlers/on-invoice-issued.ts is not the handler the consumer generator writes, so it was left alone: add to its action await startWorkflow("audit", { ...event.data }); // import { startWorkflow } from "../../../shared/runtime"`,
  ]);
  assert.match(readFileSync(join(root, "services", name, "index.ts"), "utf8"), /"on-invoice-issued": \{ event: "billing\.invoice-issued".*, starts: \["dispatch-parcel", "audit"\] \},/);
});

test("the generated code type-checks under the strict tsconfig", () => {
  const { output } = run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--pretty", "false"]);
  // Only this service's files are ours to judge (other work in progress may be in the copy of the tree).
  const ours = output.split("\n").filter((line) => line.startsWith(`services/${name}/`));
  assert.equal(ours, []);
});

test("the generated service's tests pass, the workflow's among them", () => {
  const { code, output } = run(process.execPath, ["scripts/test.mjs", `services/${name}`]);
  assert.is(code, 0, output);
  assert.match(output, /dispatch-parcel\.workflow\.test\.ts/);
  assert.match(output, /✔ services\/[a-z0-9]+\/test\/on-invoice-issued\.test\.ts/);
  assert.match(output, /\b[1-9]\d* passed, 0 failed/);
});

test("the generated service passes the whole-system mocks run and every guardrail rule", () => {
  const { code, output } = run(process.execPath, ["scripts/test.mjs", "shared/infra/test/whole-system.test.ts"]);
  assert.is(code, 0, output);
});

test.run();
