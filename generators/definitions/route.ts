import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition, PlanContext } from "../lib/generator";
import { MANIFEST_FILE } from "../lib/manifest";
import { ENTITY_NAME, entityNames, existingEntity, existingService, ownedEvent, schemaShape } from "../lib/model";
import { checkName } from "../lib/names";
import type { FileChange } from "../lib/plan";
import { declarePublished, insertBeforeMarker } from "../lib/repo";
import { readManifest, RELATIONAL_PUBLISHES, withRun } from "./consumer";
import { relationalTable } from "./relational";

export const ROUTES_MARKER = "        // new routes are added above this line";
export const NO_HTTP_MARKER = "    // no HTTP API yet: `npm run new-route` adds it here\n";

export interface RouteFilesInput {
  service: string;
  dir: string;
  routeKey: string;
  routeName: string;
  entity: string;
  /** The event the route publishes, and its schema's top-level fields. */
  publishes?: string;
  fields: string[];
  /** The relational table a GET route reads, instead of the DynamoDB entity a POST route creates. */
  table?: string;
}

export function routeFiles(ctx: PlanContext, input: RouteFilesInput): FileChange[] {
  const names = entityNames(input.entity);
  const bodyFromEvent = input.publishes !== undefined;
  const bodyExpression = !bodyFromEvent
    ? ""
    : input.fields.includes(names.idField)
      ? `z.omit(catalog["${input.publishes}"].schema, { ${names.idField}: true })`
      : `catalog["${input.publishes}"].schema`;
  const [method, path] = input.routeKey.split(" ") as [string, string];
  const idInEvent = input.fields.includes(names.idField);
  const view = { ...input, ...names, bodyFromEvent, bodyExpression, idInEvent, method, path, name: input.routeName };
  const templates = input.table ? "relational" : "parts";
  return [
    { kind: "create", path: `${input.dir}/handlers/${input.routeName}.ts`, content: ctx.render(`${templates}/route.ts.hbs`, view) },
    { kind: "create", path: `${input.dir}/test/${input.routeName}.test.ts`, content: ctx.render(`${templates}/route.test.ts.hbs`, view) },
  ];
}

const PATH = /^\/[a-z0-9-]+(?:\/[a-z0-9-]+)*$/;

export const route: GeneratorDefinition = {
  name: "route",
  description: "an HTTP route in an existing service: a POST that creates an entity, or a GET that reads a table of its relational store",
  prompts: (repo) => [
    { name: "service", flag: "service", kind: "text", message: "Service", choices: () => repo.services() },
    { name: "path", flag: "path", kind: "text", message: "Path (e.g. /refunds)" },
    { name: "entity", flag: "entity", kind: "text", message: "Entity it creates (kebab-case), or a table of the service's tables.ts it reads" },
    { name: "publishes", flag: "publishes", kind: "text", message: "Event it publishes (one the service owns; empty for none)", default: "" },
  ],
  plan(answers, ctx) {
    const { repo } = ctx;
    const { service, dir } = existingService(repo, answers.service);
    const path = String(answers.path ?? "").trim();
    if (path.includes("..") || !PATH.test(path) || path.length > 100) {
      throw new GeneratorError(`path "${path}" (--path) must look like /refunds or /orders/refunds: lowercase kebab-case segments`);
    }
    // A table of the service's relational store (tables.ts) is read by a GET (its writes come through the consumers).
    const table = relationalTable(repo, dir, checkName(String(answers.entity ?? ""), ENTITY_NAME));
    const entity = table ? checkName(String(answers.entity ?? ""), ENTITY_NAME) : existingEntity(repo, dir, answers.entity);
    const routeKey = `${table ? "GET" : "POST"} ${path}`;
    const routeName = `${table ? "get" : "create"}-${path.slice(1).replace(/\//g, "-")}`;
    const indexPath = `${dir}/index.ts`;
    const index = repo.read(indexPath);
    if (index.includes(`"${routeKey}"`)) throw new GeneratorError(`${service} already has the route ${routeKey}`);
    if (repo.exists(`${dir}/handlers/${routeName}.ts`)) throw new GeneratorError(`${dir}/handlers/${routeName}.ts already exists`);

    const published = ownedEvent(repo.catalog(), service, answers.publishes);
    if (published && table) throw new GeneratorError(`--publishes ${published}: ${RELATIONAL_PUBLISHES}`);
    const fields = published ? Object.keys(schemaShape(repo, published) ?? {}) : [];
    const line = `        "${routeKey}": { handler: "./handlers/${routeName}.ts", name: "${routeName}", records: [${published ? `"${published}"` : ""}] },\n`;
    const declared = published ? declarePublished(index, published, indexPath) : index;
    const updated = declared.includes(ROUTES_MARKER)
      ? insertBeforeMarker(declared, ROUTES_MARKER, line, indexPath)
      : insertBeforeMarker(declared, NO_HTTP_MARKER, `    http: {\n      routes: {\n${line}${ROUTES_MARKER}\n      },\n    },\n`, indexPath).replace(NO_HTTP_MARKER, "");
    const { manifest, text } = readManifest(ctx, dir);
    return [
      ...routeFiles(ctx, { service, dir, routeKey, routeName, entity, publishes: published, fields, ...(table ? { table } : {}) }),
      { kind: "update", path: indexPath, expected: index, content: updated },
      { kind: "update", path: `${dir}/${MANIFEST_FILE}`, expected: text, content: withRun(manifest, "route", { service, path, entity, publishes: published ?? "" }) },
    ];
  },
};
