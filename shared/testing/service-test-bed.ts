import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, DynamoDBBatchResponse, DynamoDBStreamEvent, KinesisStreamEvent, SQSEvent } from "aws-lambda";
import {
  catalog,
  DATA_TABLE_LAYOUT,
  ENV,
  isStreamEvent,
  partitionKeyOf,
  streamName,
  topicName,
  type EventData,
  type EventType,
  type StreamEventType,
  type TopicEventType,
} from "../contract";
import { OUTBOX_TABLE_LAYOUT, outboxFilterPattern } from "../contract/outbox";
import { compileFilterCriteria, ENGINE_OPERATIONS, listenerTarget, StreamRecorder, WriteEngine, type StreamRecord } from "../local/dynamodb-streams";
import { startDynamoDbProxy } from "../local/iam/dynamodb-proxy";
import { parseRouteKey } from "../contract/route-key";
import { createSnsEndpoint, startEndpointServer, type EndpointServer, type SnsPublishInput } from "../local/endpoints";
import { apiGatewayTime, md5OfBody } from "../local/lambda-events";
import type { ExecutionRecord, StepFunctionsEngine } from "../local/stepfunctions";
import type { WorkflowDefinition } from "../infra/workflow";
import type { WorkflowFunction } from "./workflow-runner";
import { createOutboxTable, startLocalDynamo, TEST_OUTBOX_TABLE, TEST_TABLES, type LocalDynamo } from "./local-dynamo";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const STAGE = "test";
const topicArn = (name: string) => `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
const FAILURE_TOPIC = topicArn(`${STAGE}-platform-event-failed`);
/** Shard and first sequence number of the Kinesis records the test bed makes (Kinesis's are 56-digit decimals). */
const SHARD_ID = "shardId-000000000000";
const FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898n;
/** Item writes the data table can be told to refuse (`failWrites`). */
const WRITE_OPERATIONS = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

/** A CloudEvent as a handler published it (parsed from the SNS message). */
export interface PublishedEvent {
  id: string;
  type: string;
  source: string;
  correlationid: string;
  causationid?: string;
  traceparent?: string;
  data: any;
  /** The SNS message attributes sent with it. */
  attributes: Record<string, string | undefined>;
  topicArn: string;
}

export interface ServiceTestBedOptions {
  service: string;
  /** Logical name of the function under test (`PLATFORM_HANDLER`). */
  handler: string;
  /** Event types the function may publish (as its component would grant). */
  publishes?: readonly EventType[];
  /**
   * The service's outbox relay (`outboxRelay` from shared/runtime), run as its event source mapping would run it:
   * every record of the service's outbox table's stream its filter passes (its outbox items) is relayed, in order,
   * retried up to 3 times when the relay reports it failed; its events land in `published()`. Await `settle()`
   * before reading them.
   */
  relay?: (options: { service: string; topics: Record<string, string> }) => (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  /**
   * The workflows the function may start (its `starts`), by name: each runs on the local Step Functions engine (the
   * interpreter `npm start` runs, Standard: a repeated execution name starts nothing), its `invoke` states calling
   * `functions` (its handlers, by logical name) in this process, its publishes sent to the test bed's SNS. The
   * function's `startWorkflow` reaches the engine through the unmodified client; `executions()` lists what started.
   */
  workflows?: Readonly<Record<string, { definition: WorkflowDefinition; functions: Readonly<Record<string, WorkflowFunction>> }>>;
}

/** What a generated service's tests use: real DynamoDB (dynalite), a local SNS, and AWS-shaped events. */
export interface ServiceTestBed {
  /** Items of this service in the data table, optionally of one entity. */
  items(entity?: string): Promise<Record<string, any>[]>;
  /** Items of the service's outbox table (`TEST_OUTBOX_TABLE`, `ENV.outboxTable`): what `createOutbox` recorded. */
  outboxItems(): Promise<Record<string, any>[]>;
  /** Events published to the topic of `type` (every event topic when omitted). */
  published(type?: EventType): PublishedEvent[];
  /** Failure events published to the platform's failure topic. */
  failures(): PublishedEvent[];
  /**
   * SNS refuses the next `times` publishes (error `KMSDisabled`, as when the topic's key is disabled: a client error
   * the SDK does not retry), to test what a handler does when a publish fails.
   */
  failPublishes(times?: number): void;
  /** Every publish SNS accepted, as the request carried it (FIFO group and deduplication id included), in order. */
  sent(): SnsPublishInput[];
  /** The topics the relay (option `relay`) publishes to: every event type the service owns. */
  readonly relayTopics: Readonly<Record<string, string>>;
  /** Events SNS refused (see `failPublishes`), optionally of one type. */
  refused(type?: EventType): PublishedEvent[];
  /**
   * The data table refuses the next `times` item writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
   * TransactWriteItems) with `AccessDeniedException` (a client error the SDK does not retry), to test what a consumer
   * reports when its write fails. The idempotency table is not affected.
   */
  failWrites(times?: number): void;
  /**
   * An SQS event with one record carrying `type` as a raw-delivered CloudEvent: what a consumer of a standard or FIFO
   * event receives from its queue. A stream event is refused (its consumer reads Kinesis records: `kinesisEvent`).
   */
  sqsEvent<T extends TopicEventType>(type: T, data: EventData<T>, options?: { id?: string; correlationId?: string; raw?: boolean }): SQSEvent;
  /**
   * A Kinesis event as Lambda delivers it from a stream event's data stream (its event source mapping): one record
   * per item of `data`, in order, on one shard with increasing sequence numbers, each carrying its CloudEvent as
   * base64 `data`. The partition key is the value of the catalog's `partitionKeyField` (as the runtime's publisher
   * takes it); `partitionKey` sets it for data that has none (a record that breaks its schema).
   */
  kinesisEvent<T extends StreamEventType>(
    type: T,
    data: EventData<T> | readonly EventData<T>[],
    options?: { ids?: readonly string[]; correlationId?: string; partitionKey?: string },
  ): KinesisStreamEvent;
  /**
   * The event a consumer of `type` receives as deployed, chosen by the catalog's ordering: `kinesisEvent` for a
   * stream event, `sqsEvent` for the others (one record).
   */
  consumerEvent<T extends EventType>(type: T, data: EventData<T>, options?: { id?: string; correlationId?: string; partitionKey?: string }): SQSEvent | KinesisStreamEvent;
  /** The id of the last event `sqsEvent`, `kinesisEvent` or `consumerEvent` made (of its last record). */
  readonly lastEventId: string;
  /** The ids of the events of the last event made, one per record, in order. */
  readonly lastEventIds: readonly string[];
  /** An API Gateway HTTP API (payload 2.0) event for `routeKey`; objects are sent as JSON. */
  httpEvent(routeKey: string, body?: unknown, headers?: Record<string, string>): APIGatewayProxyEventV2;
  readonly dynamo: LocalDynamo;
  /** Waits until the relay (option `relay`) is done with every stream record so far. */
  settle(): Promise<void>;
  /** Records of the data table's stream so far (DynamoDB Streams' shape). */
  streamRecords(): StreamRecord[];
  /** Records of the outbox table's stream so far (what the relay's mapping reads). */
  outboxRecords(): StreamRecord[];
  /** Stream records the relay gave up on after its retries (what would go to the on-failure destination). */
  relayFailures(): StreamRecord[];
  /** Executions of the workflows (option `workflows`) so far, optionally of one; each has `name`, `input`, `done`. */
  executions(workflow?: string): ExecutionRecord[];
  stop(): Promise<void>;
}

function topicOf(type: EventType): string {
  return topicArn(topicName(STAGE, type, catalog[type].ordering === "fifo"));
}

/**
 * Starts what a handler needs to run in a test exactly as in Lambda, minus Lambda: dynalite with the platform's
 * tables, a local SNS endpoint for the unmodified SNS client, and the environment the function component sets.
 *
 * @example
 * const bed = await serviceTestBed({ service: "billing", handler: "on-order-placed", publishes: ["billing.invoice-issued"] });
 * const { handler } = await import("../handlers/on-order-placed");
 * await handler(bed.sqsEvent("orders.order-placed", catalog["orders.order-placed"].example));
 */
export async function serviceTestBed(options: ServiceTestBedOptions): Promise<ServiceTestBed> {
  process.env.AWS_REGION = REGION;
  process.env.AWS_ACCESS_KEY_ID = "local";
  process.env.AWS_SECRET_ACCESS_KEY = "local";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  delete process.env.AWS_PROFILE;

  const dynamo = await startLocalDynamo();
  await createOutboxTable(dynamo.client, TEST_OUTBOX_TABLE);
  // Writes pass through the local write engine, as on the local stage: TransactWriteItems (the outbox, over the data
  // and the outbox table) and the tables' streams. IAM is not what these tests check: every request is allowed.
  let writeFailures = 0;
  const recorder = new StreamRecorder({ region: REGION });
  recorder.enable(TEST_TABLES.data, {
    streamArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TEST_TABLES.data}/stream/2026-01-01T00:00:00.000`,
    viewType: "NEW_AND_OLD_IMAGES",
    key: { partitionKey: DATA_TABLE_LAYOUT.partitionKey, sortKey: DATA_TABLE_LAYOUT.sortKey },
  });
  recorder.enable(TEST_OUTBOX_TABLE, {
    streamArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TEST_OUTBOX_TABLE}/stream/2026-01-01T00:00:00.000`,
    viewType: OUTBOX_TABLE_LAYOUT.streamViewType,
    key: { partitionKey: OUTBOX_TABLE_LAYOUT.partitionKey, sortKey: OUTBOX_TABLE_LAYOUT.sortKey },
  });
  const engine = new WriteEngine({ target: listenerTarget(dynamo.listener), recorder });
  const proxy = await startDynamoDbProxy({
    target: dynamo.endpoint,
    targetListener: dynamo.listener,
    authorize: () => true,
    accountId: ACCOUNT,
    writes: {
      operations: ENGINE_OPERATIONS,
      handle: (operation, request) => {
        if (writeFailures > 0 && WRITE_OPERATIONS.has(operation) && tablesWritten(request).includes(TEST_TABLES.data)) {
          writeFailures--;
          return Promise.resolve({
            status: 400,
            body: {
              __type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
              Message: `User is not authorized to perform: dynamodb:${operation} on resource: ${TEST_TABLES.data} (refused by the test bed: failWrites)`,
            },
          });
        }
        return engine.handle(operation, request);
      },
      forget: (table) => engine.forget(table),
    },
  });
  const topics = new Map<string, string>(
    (Object.keys(catalog) as EventType[]).map((type) => [topicOf(type), type]),
  );
  topics.set(FAILURE_TOPIC, "failure");
  const messages: { request: SnsPublishInput }[] = [];
  const refusedMessages: { request: SnsPublishInput }[] = [];
  let failures = 0;
  const sns: EndpointServer = await startEndpointServer({
    services: [
      createSnsEndpoint({
        accountId: ACCOUNT,
        backend: {
          async publish(request) {
            if (!topics.has(request.TopicArn)) {
              throw Object.assign(new Error(`Topic does not exist: ${request.TopicArn}`), { code: "NotFound" });
            }
            if (failures > 0) {
              failures--;
              refusedMessages.push({ request });
              throw Object.assign(new Error("The request was rejected because the KMS key of the topic is disabled (injected by the test bed)"), {
                code: "KMSDisabled",
              });
            }
            messages.push({ request });
            return { MessageId: randomUUID(), ...(request.MessageGroupId ? { SequenceNumber: String(messages.length).padStart(20, "0") } : {}) };
          },
        },
      }),
    ],
  });

  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;
  process.env.AWS_ENDPOINT_URL_SNS = sns.url;
  process.env[ENV.stage] = STAGE;
  process.env[ENV.service] = options.service;
  process.env[ENV.handler] = options.handler;
  process.env[ENV.dataTable] = TEST_TABLES.data;
  process.env[ENV.idempotencyTable] = TEST_TABLES.idempotency;
  process.env[ENV.outboxTable] = TEST_OUTBOX_TABLE;
  process.env[ENV.failureTopicArn] = FAILURE_TOPIC;
  process.env[ENV.publishTopics] = JSON.stringify(Object.fromEntries((options.publishes ?? []).map((t) => [t, topicOf(t)])));
  process.env[ENV.logLevel] = process.env[ENV.logLevel] ?? "WARN";

  const parse = (request: SnsPublishInput): PublishedEvent => ({
    ...(JSON.parse(request.Message) as Omit<PublishedEvent, "attributes" | "topicArn">),
    attributes: Object.fromEntries(Object.entries(request.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])),
    topicArn: request.TopicArn,
  });
  let lastEventIds: string[] = [];
  const envelopeOf = (type: EventType, id: string, correlationId: string, data: unknown) => ({
    specversion: "1.0",
    id,
    source: catalog[type].owner,
    type,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    correlationid: correlationId,
    data,
  });
  let sequence = FIRST_SEQUENCE;
  const kinesisEvent = (
    type: EventType,
    items: readonly unknown[],
    eventOptions: { ids?: readonly string[]; correlationId?: string; partitionKey?: string },
  ): KinesisStreamEvent => {
    if (!isStreamEvent(type)) throw new Error(`kinesisEvent: ${type} is not a stream event (ordering "${catalog[type].ordering}"): its consumer reads an SQS queue (sqsEvent)`);
    if (eventOptions.ids && eventOptions.ids.length !== items.length) {
      throw new Error(`kinesisEvent: ${eventOptions.ids.length} ids (options.ids) for ${items.length} records`);
    }
    const correlationId = eventOptions.correlationId ?? randomUUID();
    const ids = items.map((_, i) => eventOptions.ids?.[i] ?? randomUUID());
    const records = items.map((data, i) => {
      sequence += 1000n;
      const sequenceNumber = sequence.toString();
      return {
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: eventOptions.partitionKey ?? partitionKeyOf(type, catalog[type], data)!,
          sequenceNumber,
          data: Buffer.from(JSON.stringify(envelopeOf(type, ids[i]!, correlationId, data))).toString("base64"),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${SHARD_ID}:${sequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/${STAGE}-${options.service}-${options.handler}`,
        awsRegion: REGION,
        eventSourceARN: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${streamName(STAGE, type)}`,
      };
    });
    lastEventIds = ids;
    return { Records: records };
  };

  // The relay, as its event source mapping runs it: filtered, one record after another, bounded retries.
  const relayTopics = Object.fromEntries(
    (Object.keys(catalog) as EventType[]).filter((type) => catalog[type].owner === options.service).map((type) => [type, topicOf(type)]),
  );
  const relayHandler = options.relay?.({ service: options.service, topics: relayTopics });
  const filter = compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify(outboxFilterPattern(options.service)) }] });
  const gaveUp: StreamRecord[] = [];
  let relaying: Promise<void> = Promise.resolve();
  const unsubscribe = recorder.subscribe((stored) => {
    if (!relayHandler || stored.table !== TEST_OUTBOX_TABLE || !filter.matches(stored.record)) return;
    relaying = relaying.then(async () => {
      for (let attempt = 1; attempt <= 4; attempt++) {
        const answer = await relayHandler({ Records: [stored.record as never] }).catch(() => undefined);
        if (answer && answer.batchItemFailures.length === 0) return;
      }
      gaveUp.push(stored.record);
    });
  });

  const workflows = options.workflows && Object.keys(options.workflows).length > 0 ? await startWorkflows(options.service, options.workflows, topicOf) : undefined;

  const bed: ServiceTestBed = {
    dynamo,
    get lastEventId() {
      return lastEventIds[lastEventIds.length - 1] ?? "";
    },
    get lastEventIds() {
      return [...lastEventIds];
    },
    async items(entity) {
      const all = await dynamo.scan(TEST_TABLES.data);
      return all.filter(
        (item) => String(item.pk).startsWith(`$${options.service}#`) && (entity === undefined || item.__edb_e__ === entity),
      );
    },
    outboxItems() {
      return dynamo.scan(TEST_OUTBOX_TABLE);
    },
    published(type) {
      return messages
        .filter(({ request }) => (type ? request.TopicArn === topicOf(type) : request.TopicArn !== FAILURE_TOPIC))
        .map(({ request }) => parse(request));
    },
    failures() {
      return messages.filter(({ request }) => request.TopicArn === FAILURE_TOPIC).map(({ request }) => parse(request));
    },
    sent() {
      return messages.map(({ request }) => request);
    },
    relayTopics,
    failPublishes(times = 1) {
      failures = times;
    },
    refused(type) {
      return refusedMessages.filter(({ request }) => type === undefined || request.TopicArn === topicOf(type)).map(({ request }) => parse(request));
    },
    failWrites(times = 1) {
      writeFailures = times;
    },
    kinesisEvent(type, data, eventOptions = {}) {
      return kinesisEvent(type, Array.isArray(data) ? data : [data], eventOptions);
    },
    consumerEvent(type, data, eventOptions = {}) {
      if (isStreamEvent(type)) {
        const { id, ...rest } = eventOptions;
        return kinesisEvent(type, [data], { ...rest, ...(id === undefined ? {} : { ids: [id] }) });
      }
      return bed.sqsEvent(type as TopicEventType, data as EventData<TopicEventType>, eventOptions);
    },
    sqsEvent(type, data, eventOptions = {}) {
      if (isStreamEvent(type)) {
        throw new Error(`sqsEvent: ${type} is a stream event: Lambda delivers its consumer Kinesis records (use kinesisEvent or consumerEvent)`);
      }
      const lastEventId = eventOptions.id ?? randomUUID();
      lastEventIds = [lastEventId];
      const correlationId = eventOptions.correlationId ?? randomUUID();
      const body = JSON.stringify(envelopeOf(type, lastEventId, correlationId, data));
      const now = String(Date.now());
      const fifo = catalog[type].ordering === "fifo";
      return {
        Records: [
          {
            messageId: randomUUID(),
            receiptHandle: `local-${randomUUID()}`,
            body,
            attributes: {
              ApproximateReceiveCount: "1",
              SentTimestamp: now,
              SenderId: "AIDAIT2UOQQY3AUEKVGXU",
              ApproximateFirstReceiveTimestamp: now,
              ...(fifo ? { MessageGroupId: "group-1", MessageDeduplicationId: lastEventId, SequenceNumber: "1" } : {}),
            },
            messageAttributes: {
              type: { stringValue: type, stringListValues: [], binaryListValues: [], dataType: "String" },
              correlationid: { stringValue: correlationId, stringListValues: [], binaryListValues: [], dataType: "String" },
            },
            md5OfBody: md5OfBody(body),
            eventSource: "aws:sqs",
            eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:${STAGE}-${options.service}-${options.handler}${fifo ? ".fifo" : ""}`,
            awsRegion: REGION,
          },
        ],
      };
    },
    httpEvent(routeKey, body, headers = {}) {
      const { method, path } = parseRouteKey(routeKey); // a key the route grammar refuses fails here, naming it
      const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const now = Date.now();
      const event: APIGatewayProxyEventV2 = {
        version: "2.0",
        routeKey,
        rawPath: path,
        rawQueryString: "",
        headers: {
          host: "api.local",
          "user-agent": "service-test",
          ...(text !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) } : {}),
          ...headers,
        },
        requestContext: {
          accountId: ACCOUNT,
          apiId: "local",
          domainName: "api.local",
          domainPrefix: "api",
          http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "service-test" },
          requestId: randomUUID(),
          routeKey,
          stage: "$default",
          time: apiGatewayTime(now),
          timeEpoch: now,
        },
        isBase64Encoded: false,
      };
      if (text !== undefined) event.body = text;
      return event;
    },
    async settle() {
      let seen: Promise<void> | undefined;
      while (seen !== relaying) {
        seen = relaying;
        await seen;
      }
    },
    streamRecords() {
      return recorder.records(TEST_TABLES.data);
    },
    outboxRecords() {
      return recorder.records(TEST_OUTBOX_TABLE);
    },
    relayFailures() {
      return [...gaveUp];
    },
    executions(workflow) {
      if (!workflows) return [];
      if (workflow !== undefined && !workflows.arns[workflow]) {
        throw new Error(`executions: no workflow "${workflow}" in the test bed's workflows (${Object.keys(workflows.arns).join(", ")})`);
      }
      return workflows.engine.executions(workflow === undefined ? undefined : workflows.arns[workflow]);
    },
    async stop() {
      unsubscribe();
      await relaying;
      await workflows?.stop();
      await sns.close();
      await proxy.close();
      await dynamo.stop();
    },
  };
  return bed;
}

/** The tables an item write names (`TableName`, `RequestItems`' keys, or each of `TransactItems`). */
function tablesWritten(request: unknown): string[] {
  if (request === null || typeof request !== "object") return [];
  const r = request as { TableName?: unknown; RequestItems?: unknown; TransactItems?: unknown };
  const tables: string[] = [];
  if (typeof r.TableName === "string") tables.push(r.TableName);
  if (r.RequestItems && typeof r.RequestItems === "object") tables.push(...Object.keys(r.RequestItems));
  if (Array.isArray(r.TransactItems)) {
    for (const item of r.TransactItems as Record<string, { TableName?: unknown } | undefined>[]) {
      for (const part of Object.values(item ?? {})) if (typeof part?.TableName === "string") tables.push(part.TableName);
    }
  }
  return tables;
}

/** The workflows of `serviceTestBed`'s option `workflows` on the local Step Functions engine and its endpoint. */
async function startWorkflows(
  service: string,
  definitions: NonNullable<ServiceTestBedOptions["workflows"]>,
  topicOf: (type: EventType) => string,
): Promise<{ engine: StepFunctionsEngine; arns: Record<string, string>; stop(): Promise<void> }> {
  // Loaded only by tests that start workflows (the interpreter costs about 250 ms to load).
  const { StepFunctionsEngine, createStepFunctionsEndpoint } = require("../local/stepfunctions") as typeof import("../local/stepfunctions");
  const { SNSClient, PublishCommand } = require("@aws-sdk/client-sns") as typeof import("@aws-sdk/client-sns");
  const { resetWorkflowClient } = require("../runtime/workflow") as typeof import("../runtime/workflow");
  const prefix = `${STAGE}-${service}-`;
  const functionArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${prefix}${name}`;
  const functions = new Map<string, WorkflowFunction>();
  for (const { functions: given } of Object.values(definitions)) {
    for (const [name, handler] of Object.entries(given)) functions.set(functionArn(name), handler);
  }
  const sns = new SNSClient({ region: REGION });
  const engine = new StepFunctionsEngine({
    region: REGION,
    accountId: ACCOUNT,
    shortWaitsMs: 1,
    runner: {
      async invokeFunction(arn, payload) {
        const handler = functions.get(arn);
        if (!handler) return { ok: false, errorType: "ResourceNotFoundException", errorMessage: `Function not found: ${arn} (not in the test bed's workflow functions)` };
        try {
          return { ok: true, payload: JSON.parse(JSON.stringify((await handler(payload)) ?? null)) };
        } catch (error) {
          return { ok: false, errorType: (error as Error).name, errorMessage: (error as Error).message };
        }
      },
      async publish(input) {
        const { MessageId } = await sns.send(new PublishCommand(input as never));
        return { MessageId: MessageId! };
      },
    },
  });
  const arns = Object.fromEntries(Object.keys(definitions).map((name) => [name, `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${prefix}${name}`]));
  await engine.setStateMachines(
    Object.entries(definitions).map(([name, { definition }]) => ({
      name: `${prefix}${name}`,
      arn: arns[name]!,
      definition: JSON.stringify(definition.toAsl({ service, workflow: name, functionArn, topicArn: topicOf, failureTopicArn: FAILURE_TOPIC })),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${prefix}${name}`,
      type: "STANDARD" as const,
    })),
  );
  const server = await startEndpointServer({ services: [createStepFunctionsEndpoint({ engine, region: REGION })] });
  process.env.AWS_ENDPOINT_URL_SFN = server.url;
  process.env[ENV.workflows] = JSON.stringify(arns);
  resetWorkflowClient();
  return {
    engine,
    arns,
    async stop() {
      await engine.stop();
      await server.close();
      sns.destroy();
      delete process.env[ENV.workflows];
      resetWorkflowClient();
    },
  };
}
