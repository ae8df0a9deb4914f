import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition } from "../lib/generator";
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
    const { manifest, text } = readManifest(ctx, dir);
    const changes: FileChange[] = [
      { kind: "create", path: `${dir}/workflows/${name}.ts`, content: ctx.render("parts/workflow.ts.hbs", view) },
      { kind: "create", path: `${dir}/handlers/${step}.ts`, content: ctx.render("parts/workflow-step.ts.hbs", view) },
      { kind: "create", path: `${dir}/test/${name}.workflow.test.ts`, content: ctx.render("parts/workflow.test.ts.hbs", view) },
      { kind: "update", path: indexPath, expected: index, content: updated },
      { kind: "update", path: `${dir}/${MANIFEST_FILE}`, expected: text, content: withRun(manifest, "workflow", { service, name, publishes: published ?? "", starter }) },
    ];
    return changes;
  },
};
