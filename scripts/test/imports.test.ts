// Parts import one way: every import of every source file follows the directions in scripts/imports.ts (the
// README's "Parts import one way" paragraph is generated from them), no service imports another, and the parts'
// imports form no cycle. The other cases feed the same check a file or a graph that breaks a rule, and expect it
// to fail naming the file and the import.
//
//   node --import tsx scripts/test/imports.test.ts
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkImports, cyclesInDirections, directionsParagraph, importsOf, isSource, partOf, PARTS, type Part } from "../imports";

const ROOT = join(__dirname, "..", "..");
// Folders no source of the repository lives in: installed packages, git's store, build and local-stage output.
const SKIPPED = new Set(["node_modules", "coverage"]);

function repoSources(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (SKIPPED.has(entry) || entry.startsWith(".")) continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const file = relative(ROOT, path).split(sep).join("/");
        if (isSource(file)) files.set(file, readFileSync(path, "utf8"));
      }
    }
  };
  walk(ROOT);
  return files;
}

const sources = repoSources();
const squash = (text: string) => text.replace(/\s+/g, " ").trim();

test("every import in the repository goes the way the directions say, and no part is left out", () => {
  assert.ok(sources.size > 100, `found only ${sources.size} source files under ${ROOT}`);
  const { problems, edges } = checkImports(sources);
  assert.equal(problems, [], `imports against the directions in scripts/imports.ts:\n${problems.join("\n")}`);
  // The check saw the imports that matter: the local stage reads the capture, infra builds with the runtime's options.
  assert.ok(edges.some((e) => e.file === "shared/local/stage/programs.ts" && e.target === "shared/capture/run-program"));
  assert.ok(edges.some((e) => e.file.startsWith("shared/infra/") && e.target === "shared/runtime/bundle-options"));
});

test("the README's paragraph on import directions says what the data says", () => {
  const readme = squash(readFileSync(join(ROOT, "README.md"), "utf8"));
  const paragraph = directionsParagraph();
  assert.ok(readme.includes(squash(paragraph)), `README.md must carry this paragraph (generated from scripts/imports.ts):\n\n${paragraph}`);
});

test("the directions themselves point one way and name only known parts", () => {
  assert.equal(cyclesInDirections(), []);
  const names = new Set(PARTS.map((p) => p.name));
  for (const part of PARTS) {
    for (const allowed of part.imports) {
      if (allowed !== "*") assert.ok(names.has(allowed.split("/")[0]!), `${part.name} may import ${allowed}: no such part`);
    }
  }
  assert.is(partOf("shared/infra/guardrails/adapter.ts"), "infra");
  assert.is(partOf("services/orders/index.ts"), "services");
  assert.is(partOf("services/orders/handlers/create-order.ts"), "handlers");
  assert.is(partOf("services/orders/test/create-order.test.ts"), "tests");
  assert.is(partOf("shared/runtime/bench/cold-start.ts"), "tests");
  assert.is(partOf("plopfile.ts"), "generators");
  assert.is(partOf("elsewhere/tool.ts"), undefined);
});

test("imports are read in every form, and not from comments or template literals", () => {
  const text = [
    `import * as pulumi from "@pulumi/pulumi";`,
    `import type {`,
    `  A,`,
    `  B,`,
    `} from "../contract/catalog";`,
    `import def, { type C } from './single-quoted';`,
    `export * from "./re-exported";`,
    `export { d as e } from "./named-re-export";`,
    `import "./side-effect";`,
    `const lazy = await import("./dynamic");`,
    `type T = typeof import("./type-query");`,
    `import legacy = require("./legacy");`,
    `const required = require("./required");`,
    `// import { no } from "./line-comment";`,
    `/* import { no } from "./block-comment"; */`,
    `const glob = "services/*/index.ts"; // a string holding "/*" does not open a comment`,
    `import { afterGlob } from "./after-glob";`,
    "const source = `import { no } from \"./template\"; ${`nested`}`;",
    `const prop = loader.import("./member-call");`,
    `/** e.g. const { handler } = await import("../handlers/in-jsdoc"); */`,
  ].join("\n");
  assert.equal(importsOf(text), [
    "@pulumi/pulumi",
    "../contract/catalog",
    "./single-quoted",
    "./re-exported",
    "./named-re-export",
    "./side-effect",
    "./dynamic",
    "./type-query",
    "./legacy",
    "./required",
    "./after-glob",
  ]);
});

/** The check's problems for the repository plus `extra` files (path -> source). */
function problemsWith(extra: Record<string, string>): string[] {
  return checkImports(new Map([...sources, ...Object.entries(extra)])).problems;
}

test("an import against the directions fails, naming the file, the import and the rule", () => {
  // An import the wrong way also closes a circle (local imports infra): both are reported.
  // (Every circle it closes is reported: also catalog -> infra -> local -> catalog, since local imports catalog/diagram.)
  const [wrongWay, ...circles] = problemsWith({ "shared/infra/leak.ts": `import { startLocalStage } from "../local";\n` });
  assert.is(wrongWay, `shared/infra/leak.ts imports "../local" (local): infra may import contract, runtime/bundle-options, capture`);
  const circle = circles.find((c) => c.startsWith("cycle infra -> local -> infra"));
  assert.match(circle ?? "", /^cycle infra -> local -> infra: shared\/infra\/leak\.ts imports "\.\.\/local"; shared\/local\/\S+ imports "[^"]*infra[^"]*"$/);
  assert.ok(circles.length > 0 && circles.every((c) => c.startsWith("cycle ") && c.includes(`shared/infra/leak.ts imports "../local"`)), circles.join("\n"));
  assert.is(
    problemsWith({ "shared/contract/leak.ts": `export type { Logger } from "../runtime/logger";\n` })[0],
    `shared/contract/leak.ts imports "../runtime/logger" (runtime): contract may import no other part`,
  );
  // infra may import the runtime's bundle options, and nothing else of the runtime
  assert.equal(problemsWith({ "shared/infra/ok.ts": `import { bundleOptions } from "../runtime/bundle-options";\n` }), []);
  assert.equal(problemsWith({ "shared/infra/leak.ts": `import { consume } from "../runtime/consume";\n` }), [
    `shared/infra/leak.ts imports "../runtime/consume" (runtime): infra may import contract, runtime/bundle-options, capture`,
  ]);
  // testing may import the runtime's workflow client (its test bed resets it), and nothing else of the runtime
  assert.equal(problemsWith({ "shared/testing/ok.ts": `import { resetWorkflowClient } from "../runtime/workflow";\n` }), []);
  assert.equal(problemsWith({ "shared/testing/leak.ts": `import { resetAwsClients } from "../runtime/aws-clients";\n` }), [
    `shared/testing/leak.ts imports "../runtime/aws-clients" (runtime): testing may import contract, runtime/workflow, capture, infra, local`,
  ]);
  // the capture is below the guardrails and the local stage: it imports neither
  assert.is(
    problemsWith({ "shared/capture/leak.ts": `import type { Violation } from "../infra/guardrails";\n` })[0],
    `shared/capture/leak.ts imports "../infra/guardrails" (infra): capture may import contract`,
  );
});

test("a forbidden package, a service importing another, a part importing a test and a stray file each fail", () => {
  assert.equal(problemsWith({ "shared/runtime/leak.ts": `import * as pulumi from "@pulumi/pulumi";\n` }), [
    `shared/runtime/leak.ts imports "@pulumi/pulumi": runtime must not import @pulumi/*`,
  ]);
  assert.equal(problemsWith({ "services/orders/handlers/peek.ts": `import { Invoice } from "../../billing/entities/invoice";\n` }), [
    `services/orders/handlers/peek.ts imports "../../billing/entities/invoice": services never import one another (orders -> billing)`,
  ]);
  assert.equal(problemsWith({ "shared/local/leak.ts": `import { platformOutputs } from "../infra/test/harness";\n` }), [
    `shared/local/leak.ts imports "../infra/test/harness": only tests and scripts import tests`,
  ]);
  assert.equal(problemsWith({ "tools/stray.ts": `export const x = 1;\n` }), [
    `tools/stray.ts belongs to no part: add its folder to a part in scripts/imports.ts`,
  ]);
});

test("a cycle between parts fails, naming one import per step", () => {
  // Directions that (wrongly) allow both ways, so only the cycle check stands between them and a circle.
  const parts: Part[] = [
    { name: "a", paths: ["a/"], imports: ["b"] },
    { name: "b", paths: ["b/"], imports: ["c"] },
    { name: "c", paths: ["c/"], imports: ["a"] },
  ];
  assert.equal(cyclesInDirections(parts), ["cycle a -> b -> c -> a: a may import b; b may import c; c may import a"]);
  const files = new Map([
    ["a/one.ts", `import { two } from "../b/two";\n`],
    ["b/two.ts", `import { three } from "../c";\n`],
    ["c/index.ts", `import { one } from "../a/one";\n`],
  ]);
  assert.equal(checkImports(files, parts).problems, [
    `cycle a -> b -> c -> a: a/one.ts imports "../b/two"; b/two.ts imports "../c"; c/index.ts imports "../a/one"`,
  ]);
  // one link less, no cycle
  files.set("c/index.ts", "export const one = 1;\n");
  assert.equal(checkImports(files, parts).problems, []);
});

test.run();
