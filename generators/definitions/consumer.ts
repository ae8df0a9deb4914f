import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition, PlanContext } from "../lib/generator";
import { GENERATOR_VERSION, MANIFEST_FILE, type ServiceManifest, renderManifest } from "../lib/manifest";
import { checkConsumed, consumerName, ENTITY_NAME, entityNames, existingEntity, existingService, fillFrom, ownedEvent, schemaShape } from "../lib/model";
import { checkName } from "../lib/names";
import type { FileChange } from "../lib/plan";
import { declarePublished, insertBeforeMarker } from "../lib/repo";
import { relationalTable } from "./relational";

export const CONSUMERS_MARKER = "      // new consumers are added above this line";

export interface ConsumerFilesInput {
  service: string;
  dir: string;
  consumer: string;
  event: string;
  /** The event the handler publishes and the fields it copies from the consumed event. */
  publishes?: { type: string; copied: string[] };
  entity: string;
  /** The relational table the handler writes (through `writeOnce`), instead of the DynamoDB entity. */
  table?: string;
}

/** A relational handler records its change in PostgreSQL; the outbox that publishes with a write is DynamoDB's. */
export const RELATIONAL_PUBLISHES =
  "a relational handler does not publish (the outbox that records an event with its write is DynamoDB's): leave --publishes out, or use a DynamoDB entity";

/** The handler of a consumer and its test. */
export function consumerFiles(ctx: PlanContext, input: ConsumerFilesInput): FileChange[] {
  const names = entityNames(input.entity);
  const parts = input.publishes ? [names.idField, ...input.publishes.copied.map((f) => `${f}: event.data.${f}`)] : [];
  // One line when it fits, one field per line when it does not (the way a formatter would write it).
  const oneLine = `{ ${parts.join(", ")} }`;
  const data = oneLine.length <= 60 ? oneLine : `{\n${parts.map((p) => `      ${p},\n`).join("")}    }`;
  const view = {
    ...input,
    ...names,
    publishes: input.publishes?.type,
    publishData: data,
    // A stream event's consumer reads Kinesis records: its test feeds it those.
    stream: ctx.repo.catalog().get(input.event)?.ordering === "stream",
  };
  const templates = input.table ? "relational" : "parts";
  return [
    { kind: "create", path: `${input.dir}/handlers/${input.consumer}.ts`, content: ctx.render(`${templates}/consumer.ts.hbs`, view) },
    { kind: "create", path: `${input.dir}/test/${input.consumer}.test.ts`, content: ctx.render(`${templates}/consumer.test.ts.hbs`, view) },
  ];
}

/** Reads a service's manifest and its first entity (the one handlers write by default). */
export function readManifest(ctx: PlanContext, dir: string): { manifest: ServiceManifest; text: string } {
  const path = `${dir}/${MANIFEST_FILE}`;
  if (!ctx.repo.exists(path)) throw new GeneratorError(`${path} is missing: the service was not made by the generators`);
  const text = ctx.repo.read(path);
  return { manifest: JSON.parse(text) as ServiceManifest, text };
}

export function withRun(manifest: ServiceManifest, generator: string, answers: Record<string, string | string[] | boolean>): string {
  return renderManifest({ ...manifest, runs: [...manifest.runs, { generator, version: GENERATOR_VERSION, answers }] });
}

export const consumer: GeneratorDefinition = {
  name: "consumer",
  description: "a consumer of an event in an existing service",
  prompts: (repo) => [
    { name: "service", flag: "service", kind: "text", message: "Service", choices: () => repo.services() },
    { name: "event", flag: "event", kind: "text", message: "Event to consume", choices: () => [...repo.catalog().keys()] },
    { name: "entity", flag: "entity", kind: "text", message: "Entity the handler records (kebab-case): an entity, or a table of the service's tables.ts" },
    { name: "publishes", flag: "publishes", kind: "text", message: "Event the handler publishes (one the service owns; empty for none)", default: "" },
  ],
  plan(answers, ctx) {
    const { repo } = ctx;
    const { service, dir } = existingService(repo, answers.service);
    const catalog = repo.catalog();
    const [event] = checkConsumed([String(answers.event ?? "")], catalog, "--event");
    // A table of the service's relational store (tables.ts) gets a relational writer; otherwise a DynamoDB entity.
    const table = relationalTable(repo, dir, checkName(String(answers.entity ?? ""), ENTITY_NAME));
    const entity = table ? checkName(String(answers.entity ?? ""), ENTITY_NAME) : existingEntity(repo, dir, answers.entity);
    const indexPath = `${dir}/index.ts`;
    const index = repo.read(indexPath);
    if (index.includes(`event: "${event}"`)) throw new GeneratorError(`${service} already consumes ${event}`);
    const name = consumerName(event!, [...index.matchAll(/^\s+"([a-z0-9-]+)": \{ event:/gm)].map((m) => m[1]!));
    if (repo.exists(`${dir}/handlers/${name}.ts`)) throw new GeneratorError(`${dir}/handlers/${name}.ts already exists`);

    let publishes: ConsumerFilesInput["publishes"];
    const published = ownedEvent(catalog, service, answers.publishes);
    if (published && table) throw new GeneratorError(`--publishes ${published}: ${RELATIONAL_PUBLISHES}`);
    if (published) {
      const copied = fillFrom(schemaShape(repo, published) ?? {}, schemaShape(repo, event!) ?? {}, entityNames(entity).idField);
      if (!copied) {
        throw new GeneratorError(`the data of ${published} cannot be filled from ${event} (--publishes): leave it out and publish from the handler by hand`);
      }
      publishes = { type: published, copied };
    }
    // The version it reads is the one current now: when the event moves on, the consumer keeps reading this one.
    const line = `      "${name}": { event: "${event}", versions: [${catalog.get(event!)!.version}], handler: "./handlers/${name}.ts", records: [${publishes ? `"${publishes.type}"` : ""}] },\n`;
    const { manifest, text } = readManifest(ctx, dir);
    return [
      ...consumerFiles(ctx, { service, dir, consumer: name, event: event!, publishes, entity, ...(table ? { table } : {}) }),
      {
        kind: "update",
        path: indexPath,
        expected: index,
        content: insertBeforeMarker(publishes ? declarePublished(index, publishes.type, indexPath) : index, CONSUMERS_MARKER, line, indexPath),
      },
      { kind: "update", path: `${dir}/${MANIFEST_FILE}`, expected: text, content: withRun(manifest, "consumer", { service, event: event!, entity, publishes: published ?? "" }) },
    ];
  },
};
