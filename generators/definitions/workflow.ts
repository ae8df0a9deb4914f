import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition, PlanContext } from "../lib/generator";
import { existingService, ownedEvent, schemaShape } from "../lib/model";
import { camel, checkName, pascal } from "../lib/names";
import { MANIFEST_FILE } from "../lib/manifest";
import type { FileChange } from "../lib/plan";
import { insertBeforeMarker } from "../lib/repo";
import { readManifest, withRun } from "./consumer";

export const WORKFLOWS_MARKER = "      // new workflows are added above this line";
const WORKFLOW_NAME = { what: "workflow name", flag: "--name", maxLength: 32 } as const;

/** Adds `workflows: { ... }` to a service's program: into its block, or as a new block before the HTTP API (or the end). */
function declareWorkflow(index: string, name: string, exported: string, file: string): string {
  const entry = `      "${name}": ${exported},\n`;
  let out = index.includes(WORKFLOWS_MARKER)
    ? insertBeforeMarker(index, WORKFLOWS_MARKER, entry, file)
    : (() => {
        const block = `    workflows: {\n${entry}${WORKFLOWS_MARKER}\n    },\n`;
        const anchor = /^ {4}(\/\/ no HTTP API yet|http: \{)/m.exec(index) ?? /^ {2}\}\)\.outputs;/m.exec(index);
        if (!anchor) throw new GeneratorError(`${file} has no place for workflows (no "http: {" and no "}).outputs;"): add "workflows: {}" by hand`);
        return index.slice(0, anchor.index) + block + index.slice(anchor.index);
      })();
  const imports = [...out.matchAll(/^import .*;\n/gm)];
  const last = imports.at(-1);
  if (!last) throw new GeneratorError(`${file} has no imports`);
  const at = last.index! + last[0].length;
  out = `${out.slice(0, at)}import { ${exported} } from "./workflows/${name}";\n${out.slice(at)}`;
  return out;
}

/** Lets consumer `starter` start the workflow: `starts: ["<name>"]` on its line. */
function addStarter(index: string, starter: string, name: string, file: string): string {
  const line = new RegExp(`^( {6}"${starter}": \\{ event: .*?)( \\},)$`, "m").exec(index);
  if (!line) throw new GeneratorError(`${file} has no consumer "${starter}" (--starter) on one line; add starts: ["${name}"] to it by hand`);
  const existing = /starts: \[([^\]]*)\]/.exec(line[1]!);
  const updated = existing
    ? line[0].replace(existing[0], `starts: [${existing[1] ? `${existing[1]}, ` : ""}"${name}"]`)
    : `${line[1]}, starts: ["${name}"]${line[2]}`;
  return index.replace(line[0], updated);
}

/** The runtime's names on one import line, as the consumer template writes it. */
const RUNTIME_IMPORT = /^import \{ ([A-Za-z, ]+) \} from "\.\.\/\.\.\/\.\.\/shared\/runtime";$/m;
/** The end of a generated consumer: its one action closes, then consume({ ... }). */
const CONSUMER_END = "  },\n});\n";
/** The test bed line of a generated consumer test. */
const BED_LINE = /^( {2}bed = await serviceTestBed\(\{ )(.*)( \}\);)$/m;
const TEST_END = "\ntest.run();\n";

/**
 * The starter's handler with the `startWorkflow` call written at the end of its action, or undefined when the file
 * is not the shape the consumer generator writes (one action in `consume({ ... })`, the runtime imported on one line):
 * an arbitrary handler is not edited.
 */
function withStartCall(source: string, name: string): string | undefined {
  const imported = RUNTIME_IMPORT.exec(source);
  const actions = source.match(/^ {2}"[a-z0-9.-]+": async \(event, /gm) ?? [];
  if (!imported || actions.length !== 1 || !/^export const handler = consume\(\{$/m.test(source) || !source.endsWith(`;\n${CONSUMER_END}`)) return undefined;
  if (source.includes(`startWorkflow("${name}"`)) return undefined;
  const names = imported[1]!.split(",").map((n) => n.trim());
  if (!names.includes("startWorkflow")) names.push("startWorkflow");
  names.sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
  const call = `    // Starts workflow ${name}: the event id names the execution, so a redelivered event starts nothing twice.\n    await startWorkflow("${name}", { ...event.data });\n`;
  const body = source.slice(0, source.length - CONSUMER_END.length) + call + CONSUMER_END;
  return body.replace(imported[0], `import { ${names.join(", ")} } from "../../../shared/runtime";`);
}

/**
 * The starter's generated test with the workflow in its test bed (run on the local engine) and a test that the
 * handler starts it once, named after the event; undefined when the file is not the generated shape.
 */
function withStartTest(source: string, view: { name: string; exported: string; step: string; event: string; succeeds: boolean }): string | undefined {
  const bed = BED_LINE.exec(source);
  if (!bed || !source.endsWith(TEST_END) || !/^import \{ catalog \} from "\.\.\/\.\.\/\.\.\/shared\/contract";$/m.test(source)) return undefined;
  const stepHandler = camel(view.step);
  const entry = `"${view.name}": { definition: ${view.exported}, functions: { "${view.step}": ${stepHandler} } }`;
  const options = bed[2]!.includes("workflows: { ") ? bed[2]!.replace("workflows: { ", `workflows: { ${entry}, `) : `${bed[2]}, workflows: { ${entry} }`;
  let out = source.replace(bed[0], `${bed[1]}${options}${bed[3]}`);
  const imports = [...out.matchAll(/^import .*;\n/gm)];
  const last = imports.at(-1)!;
  const at = last.index! + last[0].length;
  out = `${out.slice(0, at)}import { handler as ${stepHandler} } from "../handlers/${view.step}";\nimport { ${view.exported} } from "../workflows/${view.name}";\n${out.slice(at)}`;
  const test = [
    ``,
    `test("starts workflow ${view.name} for ${view.event}, once, named after the event", async () => {`,
    `  const data = catalog["${view.event}"].example;`,
    `  const event = bed.consumerEvent("${view.event}", data);`,
    `  assert.equal(await handler(event), { batchItemFailures: [] });`,
    `  assert.equal(await handler(event), { batchItemFailures: [] }, "a duplicate delivery is acknowledged");`,
    `  const started = bed.executions("${view.name}").filter((execution) => execution.name === bed.lastEventId);`,
    `  assert.is(started.length, 1, "one execution, named after the event");`,
    `  const input = JSON.parse(started[0]!.input);`,
    `  assert.equal(Object.fromEntries(Object.keys(data).map((field) => [field, input[field]])), data);`,
    ...(view.succeeds ? [`  assert.is((await started[0]!.done).status, "SUCCEEDED");`] : []),
    `});`,
  ].join("\n");
  return out.slice(0, out.length - TEST_END.length) + `${test}\n${TEST_END}`;
}

/** Writes the `startWorkflow` call into the starter's handler and its test, when both are the generated shape. */
function startFrom(
  ctx: PlanContext,
  index: string,
  starter: string,
  view: { service: string; dir: string; name: string; exported: string; step: string; publishes: string | undefined },
): FileChange[] {
  const line = new RegExp(`^ {6}"${starter}": \\{ event: "([^"]+)".*handler: "\\./(handlers/[a-z0-9-]+)\\.ts"`, "m").exec(index);
  const call = `await startWorkflow("${view.name}", { ...event.data }); // import { startWorkflow } from "../../../shared/runtime"`;
  if (!line) {
    ctx.notice(`starter "${starter}" is not a consumer line the generator can read in ${view.dir}/index.ts: add to its action by hand: ${call}`);
    return [];
  }
  const [event, handlerFile] = [line[1]!, `${view.dir}/${line[2]}.ts`];
  const testFile = `${view.dir}/test/${line[2]!.slice("handlers/".length)}.test.ts`;
  // A publish state reads its fields from the execution's input: the consumed event's data must hold them.
  const missing = view.publishes ? Object.keys(schemaShape(ctx.repo, view.publishes) ?? {}).filter((f) => !(f in (schemaShape(ctx.repo, event) ?? {}))) : [];
  if (missing.length > 0) {
    ctx.notice(`${view.name} publishes ${view.publishes}, which needs ${missing.join(", ")} in its input; ${event}'s data has no such field: add ${missing.length === 1 ? "it" : "them"} to the startWorkflow input in ${handlerFile}`);
  }
  const changes: FileChange[] = [];
  const handler = ctx.repo.exists(handlerFile) ? ctx.repo.read(handlerFile) : undefined;
  const edited = handler === undefined ? undefined : withStartCall(handler, view.name);
  if (handler === undefined || edited === undefined) {
    if (!handler?.includes(`startWorkflow("${view.name}"`)) {
      ctx.notice(`${handlerFile} is not the handler the consumer generator writes, so it was left alone: add to its action ${call}`);
    }
    return changes;
  }
  changes.push({ kind: "update", path: handlerFile, expected: handler, content: edited });
  const test = ctx.repo.exists(testFile) ? ctx.repo.read(testFile) : undefined;
  const testEdited = test === undefined ? undefined : withStartTest(test, { ...view, event, succeeds: missing.length === 0 });
  if (test === undefined || testEdited === undefined) {
    ctx.notice(
      `${testFile} is not the test the consumer generator writes, so it was left alone: its handler now starts ${view.name}; give its serviceTestBed ` +
        `workflows: { "${view.name}": { definition: ${view.exported}, functions: { "${view.step}": <the step's handler> } } }`,
    );
  } else {
    changes.push({ kind: "update", path: testFile, expected: test, content: testEdited });
  }
  return changes;
}

export const workflow: GeneratorDefinition = {
  name: "workflow",
  description: "a Step Functions workflow (one step, retry, failure event) in an existing service, with its test",
  prompts: (repo) => [
    { name: "service", flag: "service", kind: "text", message: "Service", choices: () => repo.services() },
    { name: "name", flag: "name", kind: "text", message: "Workflow name (kebab-case)" },
    { name: "publishes", flag: "publishes", kind: "text", message: "Event it publishes at the end (one the service owns; empty for none)", default: "" },
    { name: "starter", flag: "starter", kind: "text", message: "Consumer that starts it (empty for none)", default: "" },
  ],
  plan(answers, ctx) {
    const { repo } = ctx;
    const { service, dir } = existingService(repo, answers.service);
    const name = checkName(String(answers.name ?? ""), WORKFLOW_NAME);
    const step = `${name}-step`;
    const indexPath = `${dir}/index.ts`;
    const index = repo.read(indexPath);
    for (const path of [`${dir}/workflows/${name}.ts`, `${dir}/handlers/${step}.ts`, `${dir}/test/${name}.workflow.test.ts`]) {
      if (repo.exists(path)) throw new GeneratorError(`${path} already exists`);
    }
    if (index.includes(`"${name}": `) || index.includes(`"${step}": `)) throw new GeneratorError(`${service} already has a workflow or function named "${name}" or "${step}"`);
    const catalog = repo.catalog();
    const published = ownedEvent(catalog, service, answers.publishes);
    if (published && catalog.get(published)!.ordering !== "standard") {
      throw new GeneratorError(`${published} (--publishes) is a ${catalog.get(published)!.ordering} event; a workflow publishes standard events only`);
    }
    if (published && !new RegExp(`publishes: \\[[^\\]]*"${published.replace(/\./g, "\\.")}"`).test(index)) {
      throw new GeneratorError(`${service} does not declare ${published} in its publishes (--publishes)`);
    }
    const fields = published ? Object.keys(schemaShape(repo, published) ?? {}) : [];
    const exported = camel(name);
    const view = {
      service,
      name,
      step,
      exported,
      stepState: pascal(step),
      resultField: camel(step),
      publishes: published,
      dataLines: fields.map((f) => `        "${f}.$": "$.${f}",`),
    };
    const starter = String(answers.starter ?? "").trim();
    let updated = declareWorkflow(index, name, exported, indexPath);
    if (starter) updated = addStarter(updated, checkName(starter, { what: "consumer name", flag: "--starter", maxLength: 64 }), name, indexPath);
    const started = starter ? startFrom(ctx, index, starter, { service, dir, name, exported, step, publishes: published }) : [];
    const { manifest, text } = readManifest(ctx, dir);
    const changes: FileChange[] = [
      { kind: "create", path: `${dir}/workflows/${name}.ts`, content: ctx.render("parts/workflow.ts.hbs", view) },
      { kind: "create", path: `${dir}/handlers/${step}.ts`, content: ctx.render("parts/workflow-step.ts.hbs", view) },
      { kind: "create", path: `${dir}/test/${name}.workflow.test.ts`, content: ctx.render("parts/workflow.test.ts.hbs", view) },
      { kind: "update", path: indexPath, expected: index, content: updated },
      ...started,
      { kind: "update", path: `${dir}/${MANIFEST_FILE}`, expected: text, content: withRun(manifest, "workflow", { service, name, publishes: published ?? "", starter }) },
    ];
    return changes;
  },
};
