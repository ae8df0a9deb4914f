import { GeneratorError } from "../lib/errors";
import type { GeneratorDefinition, PlanContext } from "../lib/generator";
import { checkEventType } from "../lib/model";
import { camel, checkName } from "../lib/names";
import type { FileChange } from "../lib/plan";
import { CATALOG_MARKER, CATALOG_PATH, insertBeforeMarker } from "../lib/repo";
import { oneLine } from "./service";

const FIELD_TYPES = {
  string: { schema: "z.string().check(z.minLength(1))", example: (f: string) => JSON.stringify(`${f.replace(/Id$/, "")}-1`) },
  number: { schema: "z.number()", example: () => "1" },
  integer: { schema: "z.int()", example: () => "1" },
  boolean: { schema: "z.boolean()", example: () => "true" },
} as const;
type FieldType = keyof typeof FIELD_TYPES;

/** How an event travels: an SNS topic (standard or FIFO) or a Kinesis data stream. */
export const ORDERINGS = ["standard", "fifo", "stream"] as const;
export type Ordering = (typeof ORDERINGS)[number];

export interface NewEvent {
  type: string;
  owner: string;
  description: string;
  fifo?: boolean;
  groupField?: string;
  /** A stream event (a Kinesis data stream, ordered per partition key). */
  stream?: boolean;
  /** Stream events: the field whose value is the partition key. */
  partitionKeyField?: string;
  /** `name:type` pairs; @default `<entity>Id:string` */
  fields?: { name: string; type: FieldType }[];
  idField?: string;
}

function parseField(spec: string): { name: string; type: FieldType } {
  const [name = "", type = "string"] = spec.split(":").map((s) => s.trim());
  if (!/^[a-z][a-zA-Z0-9]{0,39}$/.test(name)) {
    throw new GeneratorError(`field "${spec}" (--fields) needs a camelCase name, e.g. orderId:string`);
  }
  if (!(type in FIELD_TYPES)) {
    throw new GeneratorError(`field "${spec}" (--fields) has type "${type}"; use one of ${Object.keys(FIELD_TYPES).join(", ")}`);
  }
  return { name, type: type as FieldType };
}

/** The catalog with new entries inserted (one `update` of shared/contract/catalog.ts). */
export function catalogWithNewEvents(ctx: PlanContext, events: NewEvent[]): FileChange {
  const before = ctx.repo.read(CATALOG_PATH);
  let after = before;
  for (const event of events) {
    const fields = event.fields ?? [{ name: event.idField ?? "id", type: "string" as const }];
    if (event.fifo && !fields.some((f) => f.name === event.groupField)) {
      throw new GeneratorError(`the message group field "${event.groupField}" (--group-field) must be one of the fields (--fields)`);
    }
    if (event.stream) {
      const keyField = fields.find((f) => f.name === event.partitionKeyField);
      if (!keyField) {
        throw new GeneratorError(`the partition key field "${event.partitionKeyField}" (--partition-key-field) must be one of the fields (--fields: ${fields.map((f) => f.name).join(", ")})`);
      }
      if (keyField.type === "boolean") {
        throw new GeneratorError(`the partition key field "${keyField.name}" (--partition-key-field) is a boolean; a partition key is a string or a number`);
      }
    }
    const entry = ctx.render("parts/catalog-entry.ts.hbs", {
      ...event,
      descriptionLiteral: JSON.stringify(event.description),
      ordering: event.stream ? "stream" : event.fifo ? "fifo" : "standard",
      groupField: event.fifo ? event.groupField : undefined,
      partitionKeyField: event.stream ? event.partitionKeyField : undefined,
      fields: fields.map((f) => ({ name: f.name, schema: FIELD_TYPES[f.type].schema })),
      example: fields.map((f) => `${f.name}: ${FIELD_TYPES[f.type].example(f.name)}`).join(", "),
    });
    after = insertBeforeMarker(after, CATALOG_MARKER, entry, CATALOG_PATH);
  }
  return { kind: "update", path: CATALOG_PATH, expected: before, content: after };
}

export const event: GeneratorDefinition = {
  name: "event",
  description: "a new event type in the catalog (the platform creates its topic, or its Kinesis stream for --ordering stream)",
  prompts: (repo) => [
    { name: "type", flag: "type", kind: "text", message: "Event type (<domain>.<event>, e.g. orders.order-shipped)" },
    { name: "owner", flag: "owner", kind: "text", message: "Owning service (the only publisher)", choices: () => repo.services() },
    { name: "description", flag: "description", kind: "text", message: "What happened, in one sentence" },
    { name: "fields", flag: "fields", kind: "list", message: "Fields as name:type (string, number, integer, boolean)", default: [] },
    {
      name: "ordering",
      flag: "ordering",
      kind: "text",
      message: "Ordering: standard (SNS, any order), fifo (SNS FIFO, in order per group) or stream (Kinesis, in order per partition key)",
      choices: () => [...ORDERINGS],
      default: (given) => (given.fifo === true ? "fifo" : "standard"),
    },
    { name: "fifo", flag: "fifo", kind: "confirm", message: "FIFO (the same as --ordering fifo)?", default: (given) => given.ordering === "fifo" },
    { name: "groupField", flag: "group-field", kind: "text", message: "FIFO only: the field that groups ordered events", default: "" },
    {
      name: "partitionKeyField",
      flag: "partition-key-field",
      kind: "text",
      message: "Stream only: the field whose value is the partition key (events with the same value are read in order)",
      default: "",
    },
  ],
  plan(answers, ctx) {
    const type = checkEventType(String(answers.type ?? ""), "--type");
    const catalog = ctx.repo.catalog();
    const existing = catalog.get(type);
    if (existing) throw new GeneratorError(`event "${type}" already exists (owned by "${existing.owner}"); an event has exactly one owner`);
    const owner = checkName(String(answers.owner ?? ""), { what: "owner", flag: "--owner", maxLength: 24 });
    const description = oneLine(answers.description, "--description", "description");
    const domain = type.split(".")[0]!;
    const fieldSpecs = answers.fields as string[];
    const fields = fieldSpecs.length ? fieldSpecs.map(parseField) : [{ name: `${camel(domain.replace(/s$/, ""))}Id`, type: "string" as const }];
    const names = new Set<string>();
    for (const f of fields) {
      if (names.has(f.name)) throw new GeneratorError(`field "${f.name}" (--fields) is given twice`);
      names.add(f.name);
    }
    const ordering = String(answers.ordering ?? "standard").trim() as Ordering;
    if (!ORDERINGS.includes(ordering)) throw new GeneratorError(`--ordering is "${ordering}"; use one of ${ORDERINGS.join(", ")}`);
    if (answers.fifo === true && ordering !== "fifo") throw new GeneratorError(`--fifo and --ordering ${ordering} disagree: give one of them`);
    const fifo = ordering === "fifo";
    const stream = ordering === "stream";
    const groupField = String(answers.groupField ?? "").trim();
    if (fifo && !groupField) throw new GeneratorError("a FIFO event needs --group-field (the field that groups ordered events)");
    if (!fifo && groupField) throw new GeneratorError("--group-field applies to FIFO events only (add --fifo)");
    const partitionKeyField = String(answers.partitionKeyField ?? "").trim();
    if (stream && !partitionKeyField) {
      throw new GeneratorError("a stream event needs --partition-key-field (the field whose value is the partition key: events with the same value are read in order)");
    }
    if (!stream && partitionKeyField) throw new GeneratorError("--partition-key-field applies to stream events only (add --ordering stream)");
    return [catalogWithNewEvents(ctx, [{ type, owner, description, fifo, groupField, stream, partitionKeyField, fields }])];
  },
};
