/**
 * The local stage: the whole system offline in one Node process. The platform program and every service program
 * run under Pulumi's mocks as stage `local`; each registration becomes its local equivalent (dynalite tables, SNS
 * topics and subscriptions, SQS queues with their redrive, Lambda-like pollers, function hosts running the same
 * esbuild bundles, HTTP routes), with IAM enforced from the functions' role policies and every event's path traced.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { APIGatewayProxyStructuredResultV2, SQSEvent } from "aws-lambda";
import { catalog, isEventType, type EventType } from "../../contract/catalog";
import { esbuildTarget, isCurrentRuntime } from "../../infra/helpers/runtimes";
import { createEvent } from "../../runtime/envelope";
import { EventSchemaError } from "../../runtime/errors";
import { messageAttributes } from "../../runtime/sns-publish";
import { createSnsEndpoint } from "../endpoints/sns";
import { createSqsEndpoint } from "../endpoints/sqs";
import { startEndpointServer, type EndpointServer, type ServiceEndpoint } from "../endpoints/server";
import { Authorizer, type IamAuthorizationRequest, type IamDecision } from "../iam/authorizer";
import type { TableKeySchema } from "../iam/dynamodb-requests";
import { FunctionHost, functionAccessKeyId, type FunctionLogEntry, type InvocationResult } from "../lambda/function-host";
import { readHttpApiEvent } from "../lambda-events/http-api-event";
import { SnsEngine, type PublishInput, type PublishResult } from "../sns/engine";
import { snsDeliveryAuthorizer } from "./queue-policies";
import { SqsEngine } from "../sqs/engine";
import { ServiceError } from "../sqs/errors";
import { interpretBatchResponse, QueuePoller } from "../sqs/poller";
import type { QueueAttributesInput, StoredMessageView } from "../sqs/queue";
import { snsBackend, sqsBackend, type PublishCaller } from "./backends";
import { createTables, startDynamoService, type LocalDynamo } from "./dynamodb";
import { FailureDesk, type FailureDetail, type FailureSummary, type ReplayResult } from "./failures";
import { listen, readBody, sendJson, type ListeningServer } from "./http";
import { runStagePrograms, type ProgramResult, type RunStageProgramsOptions } from "./programs";
import { authorizeRoute, routeAuthLabel } from "./route-auth";
import { RouteTable } from "./routes";
import { renderTrace, TraceRecorder, WRITE_OPERATIONS, type InvocationTrace, type TraceTree } from "./trace";
import { deadLetterQueues, wiringFrom, type FunctionSpec, type QueueSpec, type RouteSpec, type StageWiring } from "./wiring";

/** Options of {@link startLocalStage}. */
export interface LocalStageOptions extends RunStageProgramsOptions {
  /**
   * Port of the HTTP server (every service's routes, and the admin API under `/_local/`). `0` picks a free one.
   * @default 3000
   */
  port?: number;
  /**
   * Keep DynamoDB data in this folder (LevelDB) across restarts. Queues and topics always start empty.
   * @default in memory
   */
  persistDir?: string;
  /**
   * AWS endpoints handed to the functions instead of the stage's own (`AWS_ENDPOINT_URL_SNS`, `_SQS`, `_DYNAMODB`),
   * e.g. moto or LocalStack. The stage does not create resources there, and what goes there is not traced.
   * @default the stage's own endpoints
   */
  endpoints?: { sns?: string; sqs?: string; dynamodb?: string };
  /** Called with each trace tree when it settles (again when something later happens in it). */
  onTrace?: (tree: TraceTree) => void;
  /**
   * Called with every line a function writes.
   * @default dropped (ERROR lines still show in the trace)
   */
  onLog?: (entry: FunctionLogEntry) => void;
  /**
   * Trace trees kept in memory.
   * @default 5000
   */
  maxTraces?: number;
  /**
   * Adjusts the wiring read from the programs before anything starts, e.g. a fault scenario that compresses time
   * (shorter function and visibility timeouts). ARNs and names must stay as they are.
   * @default the programs' wiring, unchanged
   */
  adjustWiring?: (wiring: StageWiring) => StageWiring;
}

/** A dead-letter queue and how many messages wait in it. */
export interface DeadLetterQueueInfo {
  name: string;
  arn: string;
  /** Visible, in flight and delayed messages. */
  depth: number;
  /** Where its messages came from: the queue whose redrive policy names it, or the queue a subscription feeds. */
  source: string;
  /** `queue`: a consumer failed maxReceiveCount times; `subscription`: SNS could not deliver. */
  kind: "queue" | "subscription";
}

/** What a hand publish sent. */
export interface LocalPublishResult {
  eventId: string;
  correlationId: string;
  messageId: string;
  topicArn: string;
}

/** A consumer: the event, the queue and the function that handles it. */
export interface ConsumerInfo {
  /** `<service>/<function>`. */
  label: string;
  events: string[];
  queue: string;
  function: string;
}

/** A running local stage. */
export interface LocalStage {
  /** The HTTP server: every service's routes. */
  readonly url: string;
  readonly port: number;
  /** The admin API (`<url>/_local/`). */
  readonly adminUrl: string;
  /**
   * The AWS endpoints functions use (the stage's own unless overridden); `dynamodbProxy` is the stage's own
   * IAM-enforcing DynamoDB proxy even when `dynamodb` points elsewhere.
   */
  readonly endpoints: { sns: string; sqs: string; dynamodb: string; dynalite: string; dynamodbProxy: string };
  /** Where DynamoDB keeps its data (`memory` or a folder). */
  readonly storage: string;
  /** The wiring read from the programs. */
  readonly wiring: StageWiring;
  /** The programs that ran (platform first). */
  readonly programs: readonly ProgramResult[];
  /** Service projects, in the order they ran. */
  readonly services: string[];
  readonly consumers: ConsumerInfo[];
  /** `METHOD /path -> service/function`, most specific first. */
  /** Routes, their functions (`<service>/<function>`) and how API Gateway authorizes them (see route-auth.ts). */
  readonly routes: { routeKey: string; function: string; auth: "none" | "iam" | "jwt" }[];
  /** Milliseconds from the call to ready. */
  readonly startupMs: number;
  /** The in-process engines (for tests and tools). */
  readonly sns: SnsEngine;
  readonly sqs: SqsEngine;
  /** The function hosts by function name, and the event source mappings' pollers (for tests and tools: fault injection). */
  readonly hosts: ReadonlyMap<string, FunctionHost>;
  readonly pollers: readonly QueuePoller[];
  /** One trace tree, or `undefined` for an id never seen. */
  trace(correlationId: string): TraceTree | undefined;
  /** Correlation ids seen, oldest first. */
  traceIds(): string[];
  /** Publishes a catalog event by hand: validated against the catalog, wrapped in a CloudEvent with `source: "local"`. */
  publish(type: string, data: unknown, options?: { correlationId?: string }): LocalPublishResult;
  /** Every dead-letter queue with its depth. */
  deadLetterQueues(): DeadLetterQueueInfo[];
  /** The messages in a dead-letter queue (by name). */
  deadLetterMessages(name: string): StoredMessageView[];
  /** Moves a dead-letter queue's visible messages back to their source queue; returns how many moved. */
  redrive(name: string): { moved: number; to: string };
  /** The platform's failure queue (by name): failure events, kept as a deployed stage keeps them. */
  readonly failureQueue: string | undefined;
  /** Every failure event in the failure queue, oldest first. */
  failures(): FailureSummary[];
  /** One failure event in full, by its id (the SQS message id) or its failure event id. */
  failure(id: string): FailureDetail;
  /** Publishes a failure's original event to its topic again (same envelope, same id) and deletes the failure. */
  replayFailure(id: string): ReplayResult;
  /** Invokes a function directly with an event (traced like any invocation). */
  invoke(functionName: string, event: unknown): Promise<InvocationResult>;
  /** Stops everything: HTTP, pollers, functions, endpoints, DynamoDB. */
  stop(): Promise<void>;
}

/** The stage could not start (a bundle failed, a table could not be created); the message says what to fix. */
export class LocalStageError extends Error {
  override name = "LocalStageError";
}

const MAX_HTTP_BODY = 10 * 1024 * 1024;

/** `Root=1-<8 hex seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`: a new X-Ray trace header, unique per invocation. */
function newTraceHeader(): string {
  const seconds = Math.floor(Date.now() / 1000).toString(16).padStart(8, "0");
  return `Root=1-${seconds}-${randomBytes(12).toString("hex")};Parent=${randomBytes(8).toString("hex")};Sampled=1`;
}

function roleName(arn: string): string {
  return arn.split("/").pop() || arn;
}

function queueAttributes(spec: QueueSpec): QueueAttributesInput {
  return {
    ...(spec.fifo ? { FifoQueue: true } : {}),
    ...(spec.fifo && spec.contentBasedDeduplication ? { ContentBasedDeduplication: true } : {}),
    ...(spec.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: spec.visibilityTimeoutSeconds } : {}),
    ...(spec.messageRetentionSeconds !== undefined ? { MessageRetentionPeriod: spec.messageRetentionSeconds } : {}),
    ...(spec.delaySeconds !== undefined ? { DelaySeconds: spec.delaySeconds } : {}),
    ...(spec.receiveWaitTimeSeconds !== undefined ? { ReceiveMessageWaitTimeSeconds: spec.receiveWaitTimeSeconds } : {}),
    ...(spec.redrive ? { RedrivePolicy: spec.redrive } : {}),
  };
}

/** A ServiceEndpoint whose implementation is made once the server's URL is known (queue URLs are built on it). */
function lateEndpoint(service: string, get: () => ServiceEndpoint | undefined): ServiceEndpoint {
  return {
    service,
    matches: (request) => get()?.matches(request) ?? false,
    handle: (request) => {
      const endpoint = get();
      if (!endpoint) return Promise.resolve({ status: 503, headers: { "content-type": "application/json" }, body: '{"message":"starting"}' });
      return endpoint.handle(request);
    },
  };
}

/**
 * Starts the local stage. Resolves once everything is listening and every handler is bundled.
 * @throws ProgramError when a program fails, WiringError when the programs do not connect, PortInUseError when the
 *   port is taken, LocalStageError for anything else that stops the start
 *
 * @example
 * const stage = await startLocalStage({ port: 0 });
 * await fetch(`${stage.url}/orders`, { method: "POST", body: JSON.stringify(order), headers: { "content-type": "application/json" } });
 * console.log(renderTrace(stage.trace(correlationId)!));
 * await stage.stop();
 */
export async function startLocalStage(options: LocalStageOptions = {}): Promise<LocalStage> {
  const started = performance.now();
  const cleanup: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // keep stopping the rest
      }
    }
  };
  try {
    return await start(options, started, cleanup, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function start(
  options: LocalStageOptions,
  started: number,
  cleanup: (() => Promise<void> | void)[],
  stopAll: () => Promise<void>,
): Promise<LocalStage> {
  // The port first: a taken port fails at once, before the programs run.
  let ready: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const http: ListeningServer = await listen((req, res) => {
    if (ready) ready(req, res);
    else sendJson(res, 503, { message: "the local stage is starting" });
  }, options.port ?? 3000);
  cleanup.push(() => http.close());

  const programs = await runStagePrograms(options);
  const runs = [programs.platform, ...programs.services];
  const programWiring = wiringFrom(
    runs.map((run) => ({ project: run.project, resources: run.resources })),
    { region: programs.region, accountId: programs.accountId },
  );
  const wiring = options.adjustWiring ? options.adjustWiring(programWiring) : programWiring;
  const { region, accountId } = wiring;

  // Names for trace lines.
  const functionsByName = new Map(wiring.functions.map((f) => [f.name, f]));
  const functionsByArn = new Map(wiring.functions.map((f) => [f.arn, f]));
  const labelOf = (name: string) => {
    const fn = functionsByName.get(name);
    return fn ? `${fn.service}/${fn.logicalName}` : name;
  };
  const keptFailureQueue = (programs.platform.outputs.failureQueue as { arn?: string } | undefined)?.arn;
  const recorder = new TraceRecorder({
    names: {
      queue: (arn) => arn.split(":").pop() ?? arn,
      topic: (arn) => arn.split(":").pop() ?? arn,
      functionLabel: labelOf,
      // Nothing consumes the failure queue: a failure event waits there for a person (npm run local -- failures).
      keptIn: (arn) => (arn === keptFailureQueue ? "a failure event, waiting for a person (npm run local -- failures)" : undefined),
    },
    ...(options.onTrace ? { onSettled: options.onTrace } : {}),
    ...(options.maxTraces ? { maxTrees: options.maxTraces } : {}),
  });
  cleanup.push(() => recorder.close());

  // IAM for the SNS and SQS endpoints; the DynamoDB thread holds the same registrations for its proxy.
  const authorizer = new Authorizer({
    accountId,
    // Local tools (the AWS CLI, a seeding script) sign with keys of their own: only functions are held to a role.
    unknownPrincipals: "allow",
    onDecision: (request: IamAuthorizationRequest, decision: IamDecision) => {
      const context = request.context as (IamAuthorizationRequest["context"] & { traceHeader?: string }) | undefined;
      if (decision.allowed) return;
      recorder.denied(
        { action: request.action, resource: request.resource, ...(context?.traceHeader ? { traceHeader: context.traceHeader } : {}) },
        `${decision.explicitDeny ? "explicitly denied" : decision.reason}`,
      );
    },
  });
  const registrations = wiring.functions.map((fn) => ({
    principal: functionAccessKeyId(fn.name),
    policies: fn.policies,
    identity: { roleName: roleName(fn.roleArn), sessionName: fn.name, accountId },
  }));
  for (const r of registrations) authorizer.register(r.principal, r.policies, r.identity);

  // DynamoDB: dynalite and the IAM proxy every function talks to, in a thread of their own; the programs' tables.
  const keySchemas: Record<string, TableKeySchema> = {};
  for (const table of wiring.tables) {
    const indexes: Record<string, { partitionKey: string; sortKey?: string }> = {};
    for (const index of [...table.globalIndexes, ...table.localIndexes]) {
      indexes[index.name] = { partitionKey: index.hashKey, ...(index.rangeKey ? { sortKey: index.rangeKey } : {}) };
    }
    keySchemas[table.name] = { partitionKey: table.hashKey, ...(table.rangeKey ? { sortKey: table.rangeKey } : {}), indexes } as TableKeySchema;
  }
  const dynamo: LocalDynamo = await startDynamoService({
    ...(options.persistDir ? { persistDir: options.persistDir } : {}),
    accountId,
    keySchemas,
    tables: wiring.tables,
    registrations,
    reported: [...WRITE_OPERATIONS],
    onDecision: (event) =>
      recorder.dynamo({
        requestId: event.requestId,
        operation: event.operation,
        allowed: event.allowed,
        ...(event.traceHeader ? { traceHeader: event.traceHeader } : {}),
        authorizations: event.authorizations,
        ...(event.denied ? { denied: { message: event.denied.message } } : {}),
      }),
    onAnswered: (answer) => recorder.dynamoAnswered(answer),
  });
  cleanup.push(() => dynamo.close());
  try {
    await createTables(dynamo.dynaliteEndpoint, wiring.tables);
  } catch (error) {
    throw new LocalStageError(`could not create the tables in dynalite: ${(error as Error).message}`, { cause: error });
  }

  // SNS and SQS: the engines, behind the endpoints the functions' SDK clients use.
  let snsEndpoint: ServiceEndpoint | undefined;
  let sqsEndpoint: ServiceEndpoint | undefined;
  const endpointServer: EndpointServer = await startEndpointServer({
    services: [lateEndpoint("sns", () => snsEndpoint), lateEndpoint("sqs", () => sqsEndpoint)],
  });
  cleanup.push(() => endpointServer.close());
  const sqs = new SqsEngine({ region, accountId, queueUrlBase: endpointServer.url });
  // SNS delivers as sns.amazonaws.com: each queue's policy decides what reaches it, as in AWS.
  const sns = new SnsEngine({ sqs, authorizeDelivery: snsDeliveryAuthorizer(wiring.queues) });
  sqs.addTraceListener((event) => recorder.messaging(event));
  sns.addTraceListener((event) => recorder.messaging(event));
  const tracedPublish = (input: PublishInput, caller: PublishCaller): PublishResult =>
    recorder.publishing(
      {
        topicArn: input.TopicArn,
        message: input.Message,
        ...(input.MessageAttributes ? { attributes: input.MessageAttributes } : {}),
        principal: caller.principal,
        ...(caller.traceHeader ? { traceHeader: caller.traceHeader } : {}),
      },
      () => sns.publish(input),
    );
  snsEndpoint = createSnsEndpoint({ backend: snsBackend(sns, tracedPublish), authorize: authorizer.authorize, accountId, region });
  sqsEndpoint = createSqsEndpoint({ backend: sqsBackend(sqs), authorize: authorizer.authorize, accountId, region });

  createQueues(sqs, wiring.queues);
  for (const topic of wiring.topics) {
    const created = sns.createTopic(topic.name, { FifoTopic: topic.fifo, ...(topic.fifo && topic.contentBasedDeduplication ? { ContentBasedDeduplication: true } : {}) });
    if (created.arn !== topic.arn) throw new LocalStageError(`topic ${topic.name} would be ${created.arn} locally but the program says ${topic.arn}`);
  }
  for (const subscription of wiring.subscriptions) {
    sns.subscribe({
      TopicArn: subscription.topicArn,
      Protocol: "sqs",
      Endpoint: subscription.queueArn,
      Attributes: {
        RawMessageDelivery: subscription.raw,
        ...(subscription.filterPolicy ? { FilterPolicy: subscription.filterPolicy } : {}),
        ...(subscription.filterPolicyScope ? { FilterPolicyScope: subscription.filterPolicyScope } : {}),
        ...(subscription.deadLetterTargetArn ? { RedrivePolicy: { deadLetterTargetArn: subscription.deadLetterTargetArn } } : {}),
      },
    });
  }

  // Functions: one host each, with the role's policies registered under the function's access key id.
  const endpointsForFunctions = {
    dynamodb: options.endpoints?.dynamodb ?? dynamo.endpoint,
    sns: options.endpoints?.sns ?? endpointServer.url,
    sqs: options.endpoints?.sqs ?? endpointServer.url,
  };
  const mappingConcurrency = new Map<string, number>();
  for (const mapping of wiring.mappings) {
    const current = mappingConcurrency.get(mapping.functionArn) ?? 0;
    mappingConcurrency.set(mapping.functionArn, current + (mapping.maximumConcurrency ?? 5));
  }
  const hosts = new Map<string, FunctionHost>();
  for (const fn of wiring.functions) {
    hosts.set(fn.name, createHost(fn, { region, accountId, endpoints: endpointsForFunctions, maxConcurrency: mappingConcurrency.get(fn.arn), recorder, onLog: options.onLog }));
  }
  cleanup.push(() => Promise.all([...hosts.values()].map((host) => host.stop())).then(() => undefined));
  await Promise.all(
    [...hosts.entries()].map(async ([name, host]) => {
      try {
        await host.prepare();
      } catch (error) {
        const fn = functionsByName.get(name)!;
        // A LocalBundleError carries esbuild's messages with file and line.
        throw new LocalStageError(`the handler of ${fn.service}/${fn.logicalName} (${fn.entry}) does not build: ${(error as Error).message}`, { cause: error });
      }
    }),
  );

  // Event source mappings: a poller per mapping, invoking the function's host.
  const pollers: QueuePoller[] = [];
  cleanup.push(() => Promise.all(pollers.map((poller) => poller.stop())).then(() => undefined));
  for (const mapping of wiring.mappings) {
    if (!mapping.enabled) continue;
    const fn = functionsByArn.get(mapping.functionArn)!;
    const host = hosts.get(fn.name)!;
    const poller = new QueuePoller({
      sqs,
      queue: mapping.queueArn,
      functionName: fn.name,
      batchSize: mapping.batchSize,
      maximumBatchingWindowInSeconds: mapping.maximumBatchingWindowInSeconds,
      ...(mapping.maximumConcurrency !== undefined ? { maximumConcurrency: mapping.maximumConcurrency } : {}),
      // The host enforces the function's timeout (and reports it as Lambda does); the poller's is a backstop.
      functionTimeoutSeconds: Math.min(900, fn.timeoutSeconds + 1),
      reportBatchItemFailures: mapping.reportBatchItemFailures,
      onTrace: (event) => recorder.messaging(event),
      handler: (event, context) => invokeForBatch(host, recorder, event, context.awsRequestId, mapping.reportBatchItemFailures),
    });
    poller.start();
    pollers.push(poller);
  }

  // HTTP: every service's routes on one port, the admin API under /_local/.
  const routes = new RouteTable<{ spec: RouteSpec; fn: FunctionSpec; host: FunctionHost }>();
  for (const route of wiring.routes) {
    const fn = functionsByArn.get(route.functionArn)!;
    routes.add(route.routeKey, { spec: route, fn, host: hosts.get(fn.name)! }, `${route.project} (${route.api})`);
  }

  const dlqs = deadLetterQueues(wiring);
  const dlqInfo = (): DeadLetterQueueInfo[] =>
    dlqs.map(({ queue, sourceArn, kind }) => {
      const counts = sqs.counts(queue.arn);
      return {
        name: queue.name,
        arn: queue.arn,
        depth: counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible + counts.ApproximateNumberOfMessagesDelayed,
        source: sourceArn.split(":").pop() ?? sourceArn,
        kind,
      };
    });
  const findDlq = (name: string) => {
    const found = dlqs.find((d) => d.queue.name === name || d.queue.arn === name);
    if (!found) throw new ServiceError("NotFound", `no dead-letter queue named ${name} (have: ${dlqs.map((d) => d.queue.name).join(", ") || "none"})`);
    return found;
  };

  const publish = (type: string, data: unknown, publishOptions: { correlationId?: string } = {}): LocalPublishResult => {
    if (!isEventType(type)) throw new ServiceError("UnknownEventType", `"${type}" is not in the event catalog; known types: ${Object.keys(catalog).join(", ")}`);
    const entry = catalog[type as EventType];
    const envelope = createEvent(type as EventType, data as never, {
      source: "local",
      ...(publishOptions.correlationId ? { correlationId: publishOptions.correlationId } : {}),
    });
    const topicArn = (programs.platform.outputs.eventTopics as Record<string, { arn: string }> | undefined)?.[type]?.arn;
    if (!topicArn) throw new ServiceError("NotFound", `the platform has no topic for ${type}`);
    const input: PublishInput = {
      TopicArn: topicArn,
      Message: JSON.stringify(envelope),
      MessageAttributes: messageAttributes(envelope, entry.version) as PublishInput["MessageAttributes"],
    };
    if (entry.ordering === "fifo") {
      const field = "messageGroupField" in entry ? (entry.messageGroupField as string | undefined) : undefined;
      const group = field ? (envelope.data as Record<string, unknown>)[field] : undefined;
      input.MessageGroupId = String(group ?? envelope.id);
      input.MessageDeduplicationId = envelope.id;
    }
    const result = tracedPublish(input, { principal: "local" });
    return { eventId: envelope.id, correlationId: envelope.correlationid, messageId: result.MessageId, topicArn };
  };

  const failureQueueArn = keptFailureQueue;
  const failureDesk = failureQueueArn
    ? new FailureDesk({
        sqs,
        queueArn: failureQueueArn,
        topics: (programs.platform.outputs.eventTopics ?? {}) as Record<string, { arn: string; fifo?: boolean }>,
        publish: (input) => tracedPublish(input, { principal: "local" }),
      })
    : undefined;
  const desk = (): FailureDesk => {
    if (!failureDesk) throw new ServiceError("NotFound", "the platform exports no failureQueue: its failure events are kept nowhere");
    return failureDesk;
  };

  const redrive = (name: string): { moved: number; to: string } => {
    const dlq = findDlq(name);
    let moved = 0;
    for (;;) {
      const batch = sqs.receiveNow(dlq.queue.arn, { MaxNumberOfMessages: 10, VisibilityTimeout: 30 });
      if (batch.length === 0) break;
      for (const message of batch) {
        const source = sqs.queue(dlq.sourceArn);
        sqs.sendMessage(source.arn, {
          MessageBody: message.Body,
          ...(Object.keys(message.MessageAttributes).length ? { MessageAttributes: message.MessageAttributes } : {}),
          ...(source.fifo ? { MessageGroupId: message.Attributes.MessageGroupId ?? message.MessageId, MessageDeduplicationId: message.Attributes.MessageDeduplicationId ?? message.MessageId } : {}),
        });
        sqs.delete(dlq.queue.arn, message.ReceiptHandle);
        moved++;
      }
    }
    return { moved, to: dlq.sourceArn.split(":").pop() ?? dlq.sourceArn };
  };

  const invoke = async (functionName: string, event: unknown): Promise<InvocationResult> => {
    const host = hosts.get(functionName);
    if (!host) throw new ServiceError("ResourceNotFoundException", `Function not found: ${functionName}`);
    const traceHeader = newTraceHeader();
    const requestId = randomUUID();
    const node = recorder.invocationStarted({ functionName, traceHeader, requestId });
    let result: InvocationResult;
    try {
      result = await host.invoke(event, { requestId, traceHeader });
    } catch (error) {
      recorder.invocationFinished(node, { status: "failed", error: (error as Error).message });
      throw error;
    }
    recorder.invocationFinished(node, result.ok ? { status: "ok", durationMs: result.durationMs } : { status: "failed", error: `${result.error.errorType}: ${result.error.errorMessage}` });
    return result;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0]!;
    const work = path === "/_local" || path.startsWith("/_local/") ? admin(req, res, path) : serveRoute(req, res, path);
    work.catch((error: unknown) => sendJson(res, 500, { message: `local stage: ${(error as Error).message}` }));
  };

  const serveRoute = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const match = routes.match(req.method ?? "GET", path);
    if (!match) {
      await readBody(req, MAX_HTTP_BODY);
      sendJson(res, 404, { message: "Not Found" });
      return;
    }
    const { spec, fn, host } = match.target;
    const startedAt = performance.now();
    const decision = authorizeRoute(spec, { headers: req.headers, url: req.url ?? "/" }, { accountId });
    if (!decision.allowed) {
      await readBody(req, MAX_HTTP_BODY);
      sendJson(res, decision.status, { message: decision.message });
      return;
    }
    const event = await readHttpApiEvent(req, {
      routeKey: match.routeKey,
      pathParameters: match.pathParameters,
      accountId,
      apiId: spec.apiId,
      ...(decision.authorizer ? { authorizer: decision.authorizer } : {}),
    });
    const traceHeader = newTraceHeader();
    const requestId = randomUUID();
    const node = recorder.invocationStarted({
      functionName: fn.name,
      traceHeader,
      requestId,
      request: { method: event.requestContext.http.method, path: event.rawPath, routeKey: match.routeKey, ...(decision.note ? { note: decision.note } : {}) },
    });
    let result: InvocationResult;
    try {
      result = await host.invoke(event, { requestId, traceHeader });
    } catch (error) {
      recorder.invocationFinished(node, { status: "failed", error: (error as Error).message });
      recorder.requestFinished(node, { status: 500, durationMs: performance.now() - startedAt });
      sendJson(res, 500, { message: "Internal Server Error" });
      return;
    }
    const answer = httpAnswer(result);
    recorder.invocationFinished(
      node,
      result.ok
        ? { status: "ok", durationMs: result.durationMs, ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}) }
        : { status: result.error.errorType === "Sandbox.Timedout" ? "timeout" : "failed", error: `${result.error.errorType}: ${result.error.errorMessage}`, durationMs: result.durationMs },
    );
    const correlation = answer.headers["x-correlation-id"] ?? (typeof req.headers["x-correlation-id"] === "string" ? req.headers["x-correlation-id"] : undefined);
    recorder.requestFinished(node, { status: answer.status, durationMs: performance.now() - startedAt, ...(correlation ? { correlationId: correlation } : {}) });
    if (!res.headersSent) {
      res.writeHead(answer.status, { ...answer.headers, "content-length": String(answer.body.length), ...(answer.cookies.length ? { "set-cookie": answer.cookies } : {}) });
      res.end(answer.body);
    }
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const body = await readBody(req, MAX_HTTP_BODY);
    const method = req.method ?? "GET";
    const parts = path.split("/").filter(Boolean).slice(1).map(decodeURIComponent);
    try {
      if (method === "GET" && parts.length === 0) {
        sendJson(res, 200, adminIndex(stage));
      } else if (method === "GET" && parts[0] === "dlq" && parts.length === 1) {
        sendJson(res, 200, { deadLetterQueues: dlqInfo() });
      } else if (method === "GET" && parts[0] === "dlq" && parts.length === 2) {
        const dlq = findDlq(parts[1]!);
        sendJson(res, 200, { queue: dlq.queue.name, source: dlq.sourceArn.split(":").pop(), messages: sqs.peek(dlq.queue.arn) });
      } else if (method === "POST" && parts[0] === "dlq" && parts.length === 3 && parts[2] === "redrive") {
        sendJson(res, 200, redrive(parts[1]!));
      } else if (method === "GET" && parts[0] === "failures" && parts.length === 1) {
        sendJson(res, 200, { queue: desk().queueName, failures: desk().list() });
      } else if (method === "GET" && parts[0] === "failures" && parts.length === 2) {
        sendJson(res, 200, desk().read(parts[1]!));
      } else if (method === "POST" && parts[0] === "failures" && parts.length === 3 && parts[2] === "replay") {
        sendJson(res, 200, desk().replay(parts[1]!));
      } else if (method === "POST" && parts[0] === "publish" && parts.length === 1) {
        let input: { type?: unknown; data?: unknown; correlationId?: unknown };
        try {
          input = JSON.parse(body?.toString("utf8") || "{}") as typeof input;
        } catch {
          sendJson(res, 400, { message: "the body must be JSON: { type, data, correlationId? }" });
          return;
        }
        if (typeof input.type !== "string") {
          sendJson(res, 400, { message: "give the event type: { type, data, correlationId? }" });
          return;
        }
        const published = publish(input.type, input.data, typeof input.correlationId === "string" ? { correlationId: input.correlationId } : {});
        sendJson(res, 202, published);
      } else if (method === "GET" && parts[0] === "trace" && parts.length === 2) {
        const tree = recorder.tree(parts[1]!);
        if (!tree) sendJson(res, 404, { message: `no trace with correlation id ${parts[1]}` });
        else sendJson(res, 200, { tree, text: renderTrace(tree) });
      } else if (method === "GET" && parts[0] === "trace" && parts.length === 1) {
        sendJson(res, 200, { correlationIds: recorder.correlationIds().slice(-100) });
      } else {
        sendJson(res, 404, { message: "Not Found", see: `${stage.adminUrl}` });
      }
    } catch (error) {
      if (error instanceof EventSchemaError) {
        sendJson(res, 400, { message: error.message, issues: error.issues });
      } else if (error instanceof ServiceError) {
        sendJson(res, error.code === "NotFound" ? 404 : 400, { message: error.message, code: error.code });
      } else {
        throw error;
      }
    }
  };


  const consumers: ConsumerInfo[] = wiring.mappings.map((mapping) => {
    const fn = functionsByArn.get(mapping.functionArn)!;
    const events = wiring.subscriptions
      .filter((s) => s.queueArn === mapping.queueArn)
      .map((s) => {
        const type = Object.entries((programs.platform.outputs.eventTopics ?? {}) as Record<string, { arn: string }>).find(([, t]) => t.arn === s.topicArn)?.[0];
        return type ?? s.topicArn.split(":").pop()!;
      });
    return { label: labelOf(fn.name), events, queue: mapping.queueArn.split(":").pop()!, function: fn.name };
  });

  let stopping: Promise<void> | undefined;
  const stage: LocalStage = {
    url: http.url,
    port: http.port,
    adminUrl: `${http.url}/_local/`,
    endpoints: { ...endpointsForFunctions, dynalite: dynamo.dynaliteEndpoint, dynamodbProxy: dynamo.endpoint },
    storage: dynamo.storage,
    wiring,
    programs: runs,
    services: programs.services.map((s) => s.project),
    consumers,
    routes: routes.keys().map((routeKey) => {
      const target = wiring.routes.find((r) => r.routeKey === routeKey)!;
      return { routeKey, function: labelOf(functionsByArn.get(target.functionArn)!.name), auth: routeAuthLabel(target) };
    }),
    startupMs: performance.now() - started,
    sns,
    sqs,
    hosts,
    pollers,
    trace: (id) => recorder.tree(id),
    traceIds: () => recorder.correlationIds(),
    publish,
    deadLetterQueues: dlqInfo,
    deadLetterMessages: (name) => sqs.peek(findDlq(name).queue.arn),
    redrive,
    failureQueue: failureDesk?.queueName,
    failures: () => desk().list(),
    failure: (id) => desk().read(id),
    replayFailure: (id) => desk().replay(id),
    invoke,
    stop() {
      ready = (_req, res) => sendJson(res, 503, { message: "the local stage is stopping" });
      stopping ??= stopAll();
      return stopping;
    },
  };
  ready = handle;
  return stage;
}

function createQueues(sqs: SqsEngine, queues: readonly QueueSpec[]): void {
  // Dead-letter targets first: a queue's redrive policy must name an existing queue.
  const pending = [...queues];
  while (pending.length) {
    const ready = pending.filter((q) => !q.redrive || sqs.findQueue(q.redrive.deadLetterTargetArn));
    if (ready.length === 0) throw new LocalStageError(`queues ${pending.map((q) => q.name).join(", ")} redrive into each other in a cycle`);
    for (const queue of ready) {
      const created = sqs.createQueue(queue.name, queueAttributes(queue));
      if (created.arn !== queue.arn) throw new LocalStageError(`queue ${queue.name} would be ${created.arn} locally but the program says ${queue.arn}`);
      pending.splice(pending.indexOf(queue), 1);
    }
  }
}

function createHost(
  fn: FunctionSpec,
  context: {
    region: string;
    accountId: string;
    endpoints: { sns: string; sqs: string; dynamodb: string };
    maxConcurrency: number | undefined;
    recorder: TraceRecorder;
    onLog: ((entry: FunctionLogEntry) => void) | undefined;
  },
): FunctionHost {
  const level = fn.applicationLogLevel as "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" | undefined;
  return new FunctionHost(
    {
      name: fn.name,
      entry: fn.entry,
      exportName: fn.exportName,
      timeout: fn.timeoutSeconds,
      memory: fn.memoryMb,
      environment: fn.environment,
      ...(fn.reservedConcurrency !== undefined && fn.reservedConcurrency > 0 ? { reservedConcurrency: fn.reservedConcurrency } : {}),
      runtime: fn.runtime,
      logFormat: fn.logFormat,
      ...(level ? { applicationLogLevel: level } : {}),
      // The deploy's bundle settings: the shared options, targeting the function's runtime.
      bundle: isCurrentRuntime(fn.runtime) ? { target: esbuildTarget(fn.runtime) } : {},
    },
    {
      region: context.region,
      accountId: context.accountId,
      endpoints: context.endpoints,
      ...(context.maxConcurrency !== undefined ? { maxConcurrency: context.maxConcurrency } : {}),
      onLog: (entry) => {
        context.recorder.log(entry);
        context.onLog?.(entry);
      },
    },
  );
}

/** Runs one SQS batch on the host and reports it to the trace; throws when the invocation failed (as Lambda fails it). */
async function invokeForBatch(host: FunctionHost, recorder: TraceRecorder, event: SQSEvent, requestId: string, reportBatchItemFailures: boolean): Promise<unknown> {
  const traceHeader = newTraceHeader();
  const ids = event.Records.map((r) => r.messageId);
  const node: InvocationTrace = recorder.invocationStarted({
    functionName: host.name,
    traceHeader,
    requestId,
    records: event.Records.map((r) => ({ messageId: r.messageId, body: r.body, queueArn: r.eventSourceARN })),
  });
  let result: InvocationResult;
  try {
    result = await host.invoke(event, { requestId, traceHeader });
  } catch (error) {
    recorder.invocationFinished(node, { status: "failed", error: (error as Error).message, failedMessageIds: ids });
    throw error;
  }
  if (!result.ok) {
    const timedOut = result.error.errorType === "Sandbox.Timedout";
    recorder.invocationFinished(node, {
      status: timedOut ? "timeout" : "failed",
      error: `${result.error.errorType}: ${result.error.errorMessage}`,
      failedMessageIds: ids,
      durationMs: result.durationMs,
    });
    throw Object.assign(new Error(result.error.errorMessage), { name: result.error.errorType });
  }
  const verdict = interpretBatchResponse(result.payload, ids, reportBatchItemFailures);
  recorder.invocationFinished(
    node,
    verdict.ok
      ? {
          status: verdict.failed.length ? "partial" : "ok",
          failedMessageIds: verdict.failed,
          durationMs: result.durationMs,
          ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}),
        }
      : { status: "failed", error: `Invalid batch response: ${verdict.reason}`, failedMessageIds: ids, durationMs: result.durationMs },
  );
  return result.payload;
}

/** What API Gateway answers for a function's result (payload format 2.0). */
function httpAnswer(result: InvocationResult): { status: number; headers: Record<string, string>; cookies: string[]; body: Buffer } {
  const json = (status: number, message: string) => ({
    status,
    headers: { "content-type": "application/json" },
    cookies: [],
    body: Buffer.from(JSON.stringify({ message })),
  });
  if (!result.ok) return result.error.errorType === "Sandbox.Timedout" ? json(503, "Service Unavailable") : json(500, "Internal Server Error");
  const payload = result.payload;
  // A result without statusCode is the body of a 200 JSON answer (API Gateway's 2.0 inference).
  if (payload === null || typeof payload !== "object" || !("statusCode" in payload)) {
    return { status: 200, headers: { "content-type": "application/json" }, cookies: [], body: Buffer.from(JSON.stringify(payload) ?? "") };
  }
  const structured = payload as APIGatewayProxyStructuredResultV2;
  const status = Number(structured.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) return json(500, "Internal Server Error");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name.toLowerCase()] = String(value);
  const text = structured.body ?? "";
  const body = structured.isBase64Encoded ? Buffer.from(text, "base64") : Buffer.from(text, "utf8");
  return { status, headers, cookies: structured.cookies ?? [], body };
}

function adminIndex(stage: LocalStage): Record<string, unknown> {
  return {
    about: "The local stage's admin API",
    services: stage.services,
    routes: stage.routes,
    consumers: stage.consumers,
    endpoints: stage.endpoints,
    operations: {
      "GET /_local/dlq": "every dead-letter queue with its depth",
      "GET /_local/dlq/<queue name>": "the messages in a dead-letter queue",
      "POST /_local/dlq/<queue name>/redrive": "move a dead-letter queue's messages back to their source queue",
      "GET /_local/failures": "failure events (events a consumer rejected: invalid, business rule, unknown type) in the failure queue",
      "GET /_local/failures/<id>": "one failure event in full, with the original message",
      "POST /_local/failures/<id>/replay": "publish the original event to its topic again (same envelope, same id) and delete the failure",
      "POST /_local/publish": 'publish a catalog event by hand: { "type": "orders.order-placed", "data": { ... }, "correlationId": "optional" }',
      "GET /_local/trace": "the latest correlation ids",
      "GET /_local/trace/<correlation id>": "the trace tree of a correlation id (JSON and text)",
    },
  };
}
