import * as z from "zod/mini";
import { stringify } from "yaml";
import type { EventDefinition, PreviousVersions } from "../contract/define-event";
import { envelopeSchema, messageAttributeNames } from "../contract/envelope";
import { FAILURE_EVENT_TYPE, failureEventData } from "../contract/failure-event";
import { streamName, topicName } from "../contract/naming";
import { BreakingSchemaChangeError, describeBreakingChanges, type JsonSchema, type VersionPair } from "./compatibility";

/** Where `npm run catalog` writes the document, relative to the repository root. */
export const DOCUMENT_PATH = "docs/asyncapi.yaml";

/** The catalog as the document reads it: event type -> definition. */
export type CatalogLike = Readonly<Record<string, EventDefinition<z.ZodMiniType, string, PreviousVersions>>>;

/** One consumer as its service program declares it (the `platform:infra:EventConsumer` component's inputs). */
export interface ConsumerWiring {
  service: string;
  name: string;
  event: string;
  versions: number[];
  /** The subscription's filter policy, as deployed (the version filter included). */
  filter?: { policy: Record<string, unknown>; scope: "MessageAttributes" | "MessageBody" };
  /** The consumer's queue and its dead-letter queue (names with `{stage}`); seconds. */
  queue?: {
    name: string;
    fifo: boolean;
    visibilityTimeout: number;
    retention: number;
    maxReceiveCount: number;
    deadLetterQueue: { name: string; retention: number };
  };
  /** A consumer of a stream event: its event source mapping on the stream and its on-failure queue. */
  stream?: StreamMappingWiring;
}

/** How a stream consumer's event source mapping reads its Kinesis stream (as the program deploys it). */
export interface StreamMappingWiring {
  startingPosition: string;
  batchSize: number;
  maxBatchingWindow: number;
  parallelizationFactor: number;
  bisectBatchOnFunctionError: boolean;
  maxRetryAttempts: number;
  maxRecordAgeSeconds: number;
  /** Reads through an enhanced fan-out consumer of the stream. */
  enhancedFanOut: boolean;
  /** Lambda's filter patterns on the record's `data` (the envelope), when the consumer filters. */
  filterPatterns?: unknown[];
  /** Where Lambda sends the record of a batch it gives up on (shard and sequence range, not the data). */
  onFailureQueue: { name: string; retention: number };
}

/** The SQS binding (0.2.0) of a consumer's receive operation: its queue, redriving to its dead-letter queue. */
function sqsBinding(queue: NonNullable<ConsumerWiring["queue"]>): JsonSchema {
  return {
    sqs: {
      queues: [
        {
          name: queue.name,
          fifoQueue: queue.fifo,
          visibilityTimeout: queue.visibilityTimeout,
          messageRetentionPeriod: queue.retention,
          redrivePolicy: { deadLetterQueue: { name: queue.deadLetterQueue.name }, maxReceiveCount: queue.maxReceiveCount },
        },
        { name: queue.deadLetterQueue.name, fifoQueue: queue.fifo, messageRetentionPeriod: queue.deadLetterQueue.retention },
      ],
      bindingVersion: "0.2.0",
    },
  };
}

/** Where failure events go: the platform's failure topic and the queue that keeps them (names with `{stage}`). */
export interface FailureWiring {
  topic: string;
  queue: { name: string; retention: number };
}

/** What the programs wire, beside the catalog. */
export interface SystemWiring {
  consumers: ConsumerWiring[];
  failures: FailureWiring;
}

export interface DocumentInput {
  catalog: CatalogLike;
  consumers: readonly ConsumerWiring[];
  /** The failure topic and its queue. @default not in the document */
  failures?: FailureWiring;
  /** The document's own version (`info.version`): the project's version. */
  version: string;
  /**
   * The committed document: its version schemas are compared with the catalog's (a breaking change to a recorded
   * version throws `BreakingSchemaChangeError`), and the schemas of versions no longer published stay in the new
   * document as retired, so a version number never comes back with another schema.
   */
  previous?: JsonSchema;
}

/**
 * Version of the failure event's data; the runtime sends it as the `dataversion` attribute
 * (`FAILURE_EVENT_VERSION` in shared/runtime/failure-event.ts: a test keeps the two equal).
 */
export const FAILURE_EVENT_DATA_VERSION = 1;

/** The components key of one version's `data` schema and message: `orders.order-placed.v1`. */
export function versionKey(type: string, version: number): string {
  return `${type}.v${version}`;
}

const VERSION_KEY = /^(.+)\.v(\d+)$/;

/** JSON Schema (draft 7, the base of AsyncAPI's schema format) of a zod schema, as readers receive it. */
export function jsonSchemaOf(schema: z.ZodMiniType): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io: "input" }) as JsonSchema;
  return rest;
}

/** What each envelope attribute means (CloudEvents 1.0 and the platform's extensions). */
const ENVELOPE_DESCRIPTIONS: Record<string, string> = {
  specversion: "CloudEvents version.",
  id: "The event's id, unique per source; consumers apply an event once per id.",
  source: "The publishing service (the event's owner in the catalog).",
  type: "The event type, `<domain>.<event>`.",
  time: "When the event happened (RFC 3339).",
  datacontenttype: "Content type of `data`.",
  dataschema: "Optional URI of the schema of `data`.",
  subject: "What the event is about inside its source (an order id).",
  correlationid: "Extension: the conversation this event belongs to, kept across every hop.",
  causationid: "Extension: the id of the event that caused this one.",
  traceparent: "Extension: W3C Trace Context of the hop that published the event.",
  dataversion: "Extension: the catalog version of `data` (also the `dataversion` message attribute). Absent: the current version.",
  data: "The event's payload: the schema of its type and version.",
};

function envelopeJsonSchema(): JsonSchema {
  const schema = jsonSchemaOf(envelopeSchema);
  const properties = schema.properties as Record<string, JsonSchema>;
  for (const [key, description] of Object.entries(ENVELOPE_DESCRIPTIONS)) {
    if (properties[key]) properties[key] = { description, ...properties[key] };
  }
  return {
    title: "CloudEvents 1.0 envelope",
    description:
      "Every event travels as a CloudEvents 1.0 JSON object (structured mode) with the extensions correlationid, causationid, traceparent and dataversion.",
    ...schema,
  };
}

/** The message attributes' schema; `owner` undefined: any service may send it. */
function headersSchema(type: string, owner: string | undefined, version: number): JsonSchema {
  return {
    type: "object",
    description: "SNS message attributes every event carries, for subscription filter policies (raw delivery keeps them).",
    properties: {
      [messageAttributeNames.type]: { type: "string", const: type },
      [messageAttributeNames.source]: owner === undefined ? { type: "string", description: "The sending service." } : { type: "string", const: owner },
      [messageAttributeNames.correlationId]: { type: "string", minLength: 1 },
      [messageAttributeNames.version]: { type: "integer", const: version, description: "An SNS Number attribute." },
    },
    required: Object.values(messageAttributeNames),
  };
}

/**
 * An example message; `inEnvelope: false` for an event whose envelope does not carry `dataversion`, `headers: false`
 * for a stream event (a Kinesis record carries no attributes).
 */
function exampleOf(type: string, owner: string, version: number, data: unknown, options: { inEnvelope?: boolean; headers?: boolean } = {}) {
  return {
    name: "example",
    summary: `The catalog's example of ${type} version ${version}.`,
    ...(options.headers === false ? {} : { headers: { type, source: owner, correlationid: "2f1c0e4a-7b5d-4c1e-9a3f-0d6b8e2c4a71", dataversion: version } }),
    payload: {
      specversion: "1.0",
      id: "4a26a2f8-3c1d-4e5f-8a9b-0c1d2e3f4a5b",
      source: owner,
      type,
      time: "2026-01-01T12:00:00.000Z",
      datacontenttype: "application/json",
      correlationid: "2f1c0e4a-7b5d-4c1e-9a3f-0d6b8e2c4a71",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      ...(options.inEnvelope === false ? {} : { dataversion: version }),
      data,
    },
  };
}

function ref(path: string): { $ref: string } {
  return { $ref: `#/${path}` };
}

/** Every version an entry publishes, oldest first, with its schema and example. */
function versionsOf(entry: CatalogLike[string]): { version: number; schema: z.ZodMiniType; example: unknown }[] {
  const previous = Object.entries(entry.previousVersions ?? {}).map(([version, def]) => ({ version: Number(version), schema: def.schema, example: def.example }));
  return [...previous.filter((p) => p.version !== entry.version), { version: entry.version, schema: entry.schema, example: entry.example }].sort(
    (a, b) => a.version - b.version,
  );
}

/** The `data` schemas a document records, by type and version (published and retired). */
export function recordedVersions(document: JsonSchema | undefined): Map<string, { type: string; version: number; schema: JsonSchema }> {
  const recorded = new Map<string, { type: string; version: number; schema: JsonSchema }>();
  const schemas = ((document?.components as JsonSchema | undefined)?.schemas ?? {}) as Record<string, JsonSchema>;
  for (const [key, schema] of Object.entries(schemas)) {
    const match = VERSION_KEY.exec(key);
    if (match) recorded.set(key, { type: match[1]!, version: Number(match[2]), schema });
  }
  return recorded;
}

/** Drops what the document adds to a `data` schema (`x-` keys), leaving the schema the catalog produced. */
function bareSchema(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !key.startsWith("x-")));
}

/**
 * Compares every version the catalog publishes with the same version in the committed document; throws
 * `BreakingSchemaChangeError` naming each event, version and field whose change breaks readers.
 */
export function checkCompatibility(catalog: CatalogLike, previous: JsonSchema | undefined, documentPath = DOCUMENT_PATH): void {
  const recorded = recordedVersions(previous);
  const pairs: VersionPair[] = [];
  for (const [type, entry] of Object.entries(catalog)) {
    for (const { version, schema } of versionsOf(entry)) {
      const before = recorded.get(versionKey(type, version));
      if (before) pairs.push({ type, version, before: bareSchema(before.schema), after: jsonSchemaOf(schema) });
    }
  }
  const failure = recorded.get(versionKey(FAILURE_EVENT_TYPE, FAILURE_EVENT_DATA_VERSION));
  if (failure) {
    pairs.push({ type: FAILURE_EVENT_TYPE, version: FAILURE_EVENT_DATA_VERSION, before: bareSchema(failure.schema), after: jsonSchemaOf(failureEventData) });
  }
  const lines = describeBreakingChanges(pairs);
  if (lines.length) throw new BreakingSchemaChangeError(lines, documentPath);
}

/**
 * The failure topic: every consumer's function publishes a failure event there for an event a retry cannot fix
 * (the runtime does it for them); the platform's failure queue keeps them for operators.
 */
function addFailures(
  failures: FailureWiring,
  consumers: readonly ConsumerWiring[],
  into: { channels: JsonSchema; operations: JsonSchema; messages: JsonSchema; schemas: JsonSchema },
  published: Set<string>,
): void {
  const type = FAILURE_EVENT_TYPE;
  const key = versionKey(type, FAILURE_EVENT_DATA_VERSION);
  published.add(key);
  into.schemas[key] = { title: `${type} version ${FAILURE_EVENT_DATA_VERSION}`, ...jsonSchemaOf(failureEventData) };
  const example = {
    service: "billing",
    handler: "on-order-placed",
    reason: "invalid-event",
    message: "data of orders.order-placed version 1 does not match the catalog schema: data.total: Required",
    originalType: "orders.order-placed",
    originalId: "4a26a2f8-3c1d-4e5f-8a9b-0c1d2e3f4a5b",
    originalBody: '{"specversion":"1.0","type":"orders.order-placed","...":"the original message body, exactly as received"}',
  };
  into.messages[key] = {
    name: type,
    title: `${type} version ${FAILURE_EVENT_DATA_VERSION}`,
    summary: "An event a consumer gave up on (invalid, or a broken business rule): the original message and the reason.",
    contentType: "application/cloudevents+json",
    headers: headersSchema(type, undefined, FAILURE_EVENT_DATA_VERSION),
    payload: {
      allOf: [
        ref("components/schemas/CloudEventsEnvelope"),
        { type: "object", properties: { type: { const: type }, data: ref(`components/schemas/${key}`) } },
      ],
    },
    examples: [exampleOf(type, "billing", FAILURE_EVENT_DATA_VERSION, example, { inEnvelope: false })],
    "x-event-type": type,
    "x-version": FAILURE_EVENT_DATA_VERSION,
  };
  into.channels[type] = {
    address: failures.topic,
    title: type,
    description: "The platform's failure topic: events consumers rejected, with the reason. Its queue keeps them 14 days for operators (replay, then delete).",
    parameters: { stage: { description: "The stage: dev, prod, ci-<build id>, local." } },
    messages: { [key]: ref(`components/messages/${key}`) },
    bindings: { sns: { name: failures.topic, ordering: { type: "standard" }, bindingVersion: "0.1.0" } },
    "x-owner": "platform",
  };
  const messageRef = ref(`channels/${type}/messages/${key}`);
  into.operations[`consumers.publish.${type}`] = {
    action: "send",
    channel: ref(`channels/${type}`),
    title: `Every consumer publishes ${type}`,
    summary: "The runtime publishes it for the consumer, then acknowledges the event: nothing retries it.",
    messages: [messageRef],
    "x-consumers": [...consumers].map((c) => `${c.service}/${c.name}`).sort(),
  };
  into.operations[`platform.failure-queue.receive`] = {
    action: "receive",
    channel: ref(`channels/${type}`),
    title: `The platform's failure queue keeps ${type}`,
    summary: "Nothing consumes it: operators read it and replay what they fixed (the README's failure events).",
    messages: [messageRef],
    bindings: { sqs: { queues: [{ name: failures.queue.name, fifoQueue: false, messageRetentionPeriod: failures.queue.retention }], bindingVersion: "0.2.0" } },
    "x-service": "platform",
  };
}

function consumerOperationId(consumer: ConsumerWiring): string {
  return `${consumer.service}.${consumer.name}.receive`;
}

/**
 * The AsyncAPI 3.0 document of the system: a channel per event type (its SNS topic, `{stage}` in the address; FIFO
 * topics say so; a stream event's Kinesis stream with its partition key field, as x-kinesis), the owner's send operation, each consumer's receive operation with the versions it reads and its
 * subscription's filter policy, a message per published version (CloudEvents envelope, `data` schema from the
 * catalog's zod schema, SNS message attributes as headers, the catalog's example), and the schemas of retired
 * versions. Checks the catalog against `previous` first.
 */
export function buildDocument(input: DocumentInput): JsonSchema {
  const { catalog, previous } = input;
  checkCompatibility(catalog, previous);
  const channels: JsonSchema = {};
  const operations: JsonSchema = {};
  const messages: JsonSchema = {};
  const schemas: JsonSchema = { CloudEventsEnvelope: envelopeJsonSchema() };
  const published = new Set<string>();

  for (const type of Object.keys(catalog).sort()) {
    const entry = catalog[type]!;
    const fifo = entry.ordering === "fifo";
    const stream = entry.ordering === "stream";
    const versions = versionsOf(entry);
    const channelMessages: JsonSchema = {};
    for (const { version, schema, example } of versions) {
      const key = versionKey(type, version);
      published.add(key);
      schemas[key] = { title: `${type} version ${version}`, ...jsonSchemaOf(schema) };
      messages[key] = {
        name: type,
        title: `${type} version ${version}${version === entry.version ? "" : " (still published while consumers move)"}`,
        summary: entry.description,
        contentType: "application/cloudevents+json",
        // A Kinesis record has no attributes: the envelope is the record's data, the partition key comes from it.
        ...(stream ? {} : { headers: headersSchema(type, entry.owner, version) }),
        payload: {
          allOf: [
            ref("components/schemas/CloudEventsEnvelope"),
            {
              type: "object",
              properties: {
                type: { const: type },
                source: { const: entry.owner },
                dataversion: { const: version },
                data: ref(`components/schemas/${key}`),
              },
            },
          ],
        },
        examples: [exampleOf(type, entry.owner, version, example, { headers: !stream })],
        "x-event-type": type,
        "x-version": version,
      };
      channelMessages[key] = ref(`components/messages/${key}`);
    }
    const address = stream ? streamName("{stage}", type) : topicName("{stage}", type, fifo);
    const ordering = stream
      ? `Stream: a Kinesis data stream, ordered per \`${entry.partitionKeyField}\` (the partition key), read in batches by sequence number.`
      : fifo
        ? `FIFO: ordered per \`${entry.messageGroupField}\` (the message group).`
        : "Standard: at-least-once, any order.";
    channels[type] = {
      address,
      title: type,
      description: `${entry.description} Owner: ${entry.owner}. ${ordering}`,
      parameters: { stage: { description: "The stage: dev, prod, ci-<build id>, local." } },
      messages: channelMessages,
      // AsyncAPI has no Kinesis binding: a stream is described by x-kinesis (its name, the partition key's field).
      ...(stream
        ? { "x-kinesis": { streamName: address, partitionKeyField: entry.partitionKeyField, encryption: "KMS (the platform's events key)" } }
        : { bindings: { sns: { name: address, ordering: { type: fifo ? "FIFO" : "standard" }, bindingVersion: "0.1.0" } } }),
      "x-owner": entry.owner,
      "x-ordering": entry.ordering,
      ...(fifo ? { "x-message-group-field": entry.messageGroupField } : {}),
      ...(stream ? { "x-partition-key-field": entry.partitionKeyField } : {}),
      "x-current-version": entry.version,
    };
    operations[`${entry.owner}.publish.${type}`] = {
      action: "send",
      channel: ref(`channels/${type}`),
      title: `${entry.owner} publishes ${type}`,
      summary: `The owner (the only publisher) publishes version ${versions.map((v) => v.version).join(" and ")}.`,
      messages: versions.map(({ version }) => ref(`channels/${type}/messages/${versionKey(type, version)}`)),
      "x-service": entry.owner,
    };
  }

  if (input.failures) addFailures(input.failures, input.consumers, { channels, operations, messages, schemas }, published);

  const consumers = [...input.consumers].sort((a, b) => consumerOperationId(a).localeCompare(consumerOperationId(b)));
  for (const consumer of consumers) {
    const entry = catalog[consumer.event];
    if (!entry) throw new Error(`consumer ${consumer.service}/${consumer.name} reads ${consumer.event}, which is not in the catalog`);
    operations[consumerOperationId(consumer)] = {
      action: "receive",
      channel: ref(`channels/${consumer.event}`),
      title: `${consumer.service}/${consumer.name} consumes ${consumer.event}`,
      summary: consumer.stream
        ? `Through an event source mapping on the stream (in order per partition key); reads version ${consumer.versions.join(", ")}.${consumer.filter ? " Only events its filter matches." : ""}`
        : `Through its own SQS queue (raw delivery); reads version ${consumer.versions.join(", ")}.${consumer.filter ? " Only events its filter policy matches." : ""}`,
      messages: consumer.versions.map((version) => ref(`channels/${consumer.event}/messages/${versionKey(consumer.event, version)}`)),
      "x-service": consumer.service,
      "x-consumer": consumer.name,
      "x-versions": consumer.versions,
      // The SNS binding (0.1.0) has a filterPolicy, but only with string values: it cannot hold numeric, prefix or
      // nested conditions, so the policy is an extension of the operation.
      ...(consumer.filter ? { "x-filter-policy": consumer.filter.policy, "x-filter-policy-scope": consumer.filter.scope } : {}),
      ...(consumer.queue ? { bindings: sqsBinding(consumer.queue) } : {}),
      ...(consumer.stream ? { "x-stream-mapping": consumer.stream } : {}),
    };
  }

  // Versions no longer published keep their schema: the number stays taken.
  for (const [key, recorded] of [...recordedVersions(previous)].sort(([a], [b]) => a.localeCompare(b))) {
    if (!published.has(key)) schemas[key] = { ...recorded.schema, "x-retired": true };
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "Event platform: the event catalog",
      version: input.version,
      description:
        "Every event of the system (shared/contract/catalog.ts), who publishes it and who consumes it, generated by `npm run catalog` " +
        "from the catalog and the service programs. Do not edit: `npm test` fails when this document is out of date, and when the " +
        "catalog changes a version recorded here in a way that breaks its readers.",
    },
    defaultContentType: "application/cloudevents+json",
    channels,
    operations,
    components: { schemas, messages },
  };
}

/** The document as committed: YAML, one line per value where it fits, so a change reads well in a diff. */
export function renderDocument(document: JsonSchema): string {
  return `# Generated by \`npm run catalog\`; do not edit.\n${stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
