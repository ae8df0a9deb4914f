import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition } from "../lib/generator";
import { GENERATOR_VERSION, MANIFEST_FILE, renderManifest } from "../lib/manifest";
import {
  checkConsumed,
  checkPublished,
  checkService,
  consumerName,
  ENTITY_NAME,
  entityNames,
  fillFrom,
  schemaShape,
} from "../lib/model";
import { checkName } from "../lib/names";
import type { FileChange } from "../lib/plan";
import type { Answers } from "../lib/prompts";
import { catalogWithNewEvents } from "./event";
import { routeFiles } from "./route";
import { consumerFiles } from "./consumer";
import { RELATIONAL_PUBLISHES } from "./consumer";
import { checkStore, declareRelational, newServiceRelationalFiles, schemaOf, STORES, tableOf } from "./relational";

/** Stages a generated service gets a config file for, and the region they start in. */
export const STAGES = ["dev", "prod"] as const;
export const DEFAULT_REGION = "eu-west-1";

export const quoteList = (items: readonly string[]): string => items.map((i) => `"${i}"`).join(", ");

export function oneLine(value: unknown, flag: string, what: string, max = 200): string {
  const text = String(value ?? "").trim();
  if (!text) throw new GeneratorError(`${what} is empty (${flag})`);
  if (/[\r\n]/.test(text)) throw new GeneratorError(`${what} (${flag}) must be one line`);
  if (text.length > max) throw new GeneratorError(`${what} (${flag}) is ${text.length} characters long; at most ${max}`);
  return text;
}

export const service: GeneratorDefinition = {
  name: "service",
  description: "a new event-driven service under services/<name>",
  prompts: (repo) => [
    { name: "name", flag: "name", kind: "text", message: "Service name (kebab-case)" },
    {
      name: "purpose",
      flag: "purpose",
      kind: "text",
      message: "What it does, in one line",
      default: (given) => `The ${String(given.name ?? "new")} service.`,
    },
    { name: "team", flag: "team", kind: "text", message: "Owning team", default: (given) => `${String(given.name ?? "new")}-team` },
    {
      name: "consumes",
      flag: "consumes",
      kind: "list",
      message: "Events it consumes",
      default: [],
      choices: () => [...repo.catalog().keys()],
    },
    { name: "publishes", flag: "publishes", kind: "list", message: "Events it publishes (new ones join the catalog)", default: [] },
    { name: "http", flag: "http", kind: "confirm", message: "Does it have an HTTP API?", default: false },
    {
      name: "entity",
      flag: "entity",
      kind: "text",
      message: "Its first entity (kebab-case, e.g. invoice)",
      default: (given) => `${String(given.name ?? "item").replace(/s$/, "")}-record`,
    },
    {
      name: "store",
      flag: "store",
      kind: "text",
      message: `Where it keeps its own data (${STORES.join(" or ")}: postgres adds the relational store, its first migration and typed tables)`,
      default: "dynamodb",
    },
  ],
  plan(answers: Answers, ctx) {
    const { repo } = ctx;
    const name = checkService(repo, String(answers.name ?? ""));
    const purpose = oneLine(answers.purpose, "--purpose", "purpose");
    const team = oneLine(answers.team, "--team", "team", 60);
    const catalog = repo.catalog();
    const consumes = checkConsumed(answers.consumes as string[], catalog, "--consumes");
    const { existing, created } = checkPublished(answers.publishes as string[], name, catalog, "--publishes");
    const http = answers.http === true;
    const entity = checkName(String(answers.entity ?? ""), ENTITY_NAME);
    const store = checkStore(answers.store);
    const names = entityNames(entity);
    if (!http && consumes.length === 0) {
      throw new GeneratorError("a service needs something to react to: consume at least one event (--consumes) or have an HTTP API (--http)");
    }

    const publishes = [...existing, ...created];
    // A relational service's first table is named after the entity: its consumers write it, its GET route reads it.
    const relational = store === "postgres";
    const table = relational ? tableOf(entity) : undefined;
    if (relational && publishes.length) throw new GeneratorError(`--publishes with --store postgres: ${RELATIONAL_PUBLISHES}`);
    const primary = publishes[0];
    // Fields of the primary event's schema: new events carry just the entity id; existing ones are read from the catalog.
    const primaryShape: Record<string, string> =
      primary === undefined ? {} : created.includes(primary) ? { [names.idField]: "string" } : (schemaShape(repo, primary) ?? {});
    const dir = `services/${name}`;
    // A JSON string is a valid YAML scalar: a purpose with `: ` or `#` stays one description in Pulumi.yaml.
    const base = { service: name, name, purpose, purposeYaml: JSON.stringify(purpose), team, ...names, relational, table, schema: schemaOf(name) };
    const files: FileChange[] = [];

    const consumers: { name: string; event: string; version: number; publishesList: string }[] = [];
    for (const event of consumes) {
      const consumer = consumerName(event, consumers.map((c) => c.name));
      const copied = primary === undefined ? undefined : fillFrom(primaryShape, schemaShape(repo, event) ?? {}, names.idField);
      // The version it reads is the one current now: when the event moves on, the consumer keeps reading this one.
      consumers.push({ name: consumer, event, version: catalog.get(event)!.version, publishesList: copied ? quoteList([primary!]) : "" });
      files.push(...consumerFiles(ctx, { ...base, consumer, event, publishes: copied ? { type: primary!, copied } : undefined, dir, ...(table ? { table } : {}) }));
    }
    const routes: { name: string; routeKey: string; publishesList: string }[] = [];
    if (http) {
      const routeKey = `${relational ? "GET" : "POST"} /${names.pluralKebab}`;
      const routeName = relational ? `get-${names.pluralKebab}` : `create-${entity}`;
      routes.push({ name: routeName, routeKey, publishesList: primary ? quoteList([primary]) : "" });
      files.push(...routeFiles(ctx, { ...base, routeKey, routeName, publishes: primary, fields: Object.keys(primaryShape), dir, ...(table ? { table } : {}) }));
    }

    files.push(
      { kind: "create", path: `${dir}/Pulumi.yaml`, content: ctx.render("service/Pulumi.yaml.hbs", base) },
      ...STAGES.map((stage) => ({
        kind: "create" as const,
        path: `${dir}/Pulumi.${stage}.yaml`,
        content: ctx.render("service/Pulumi.stage.yaml.hbs", { ...base, stage, region: DEFAULT_REGION }),
      })),
      {
        kind: "create",
        path: `${dir}/index.ts`,
        content: ((index: string) => (store === "postgres" ? declareRelational(index, `${dir}/index.ts`) : index))(
          ctx.render("service/index.ts.hbs", { ...base, publishesList: quoteList(publishes), consumers, routes, http }),
        ),
      },
      ...(store === "postgres" ? newServiceRelationalFiles(ctx, name, dir, entity) : []),
      ...(relational ? [] : [{ kind: "create" as const, path: `${dir}/entities/${entity}.ts`, content: ctx.render("parts/entity.ts.hbs", base) }]),
      {
        kind: "create",
        path: `${dir}/README.md`,
        content: ctx.render("service/README.md.hbs", { ...base, consumes, publishes, consumers, routes, http }),
      },
      {
        kind: "create",
        path: `${dir}/${MANIFEST_FILE}`,
        content: renderManifest({
          service: name,
          runs: [{ generator: "service", version: GENERATOR_VERSION, answers: { ...answers, name, purpose, team, consumes, publishes, http, entity, ...(store === "postgres" ? { store } : {}) } }],
        }),
      },
    );
    if (created.length) files.push(catalogWithNewEvents(ctx, created.map((type) => ({ type, owner: name, idField: names.idField, description: `Published by ${name}: ${purpose}` }))));
    return files;
  },
};
