import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition } from "../lib/generator";
import { MANIFEST_FILE } from "../lib/manifest";
import { ENTITY_NAME, entityNames, existingService } from "../lib/model";
import { checkName } from "../lib/names";
import { readManifest, withRun } from "./consumer";

export const entity: GeneratorDefinition = {
  name: "entity",
  description: "a new ElectroDB entity in an existing service",
  prompts: (repo) => [
    { name: "service", flag: "service", kind: "text", message: "Service", choices: () => repo.services() },
    { name: "entity", flag: "entity", kind: "text", message: "Entity name (kebab-case, e.g. refund)" },
  ],
  plan(answers, ctx) {
    const { service, dir } = existingService(ctx.repo, answers.service);
    const name = checkName(String(answers.entity ?? ""), ENTITY_NAME);
    const path = `${dir}/entities/${name}.ts`;
    if (ctx.repo.exists(path)) throw new GeneratorError(`${path} already exists; nothing was written`);
    const { manifest, text } = readManifest(ctx, dir);
    return [
      { kind: "create", path, content: ctx.render("parts/entity.ts.hbs", { service, ...entityNames(name) }) },
      { kind: "update", path: `${dir}/${MANIFEST_FILE}`, expected: text, content: withRun(manifest, "entity", { service, entity: name }) },
    ];
  },
};
