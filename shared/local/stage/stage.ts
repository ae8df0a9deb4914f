/**
 * The local stage: the whole system offline in one Node process. The platform program and every service program
 * run under Pulumi's mocks as stage `local`; each registration becomes its local equivalent (dynalite tables, SNS
 * topics and subscriptions, SQS queues with their redrive, Lambda-like pollers, function hosts running the same
 * esbuild bundles, HTTP routes), with IAM enforced from the functions' role policies and every event's path traced.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { catalog, isEventType, isStreamEvent, type EventType } from "../../contract/catalog";
import { partitionKeyOf } from "../../contract/partition-key";
import { messageGroupOf } from "../../contract/message-group";
import { createEvent } from "../../runtime/envelope";
import { messageAttributes } from "../../runtime/message-attributes";
import { rootContext, traceHeaderOf, type RequestContext } from "../context";
import { Authorizer, type IamAuthorizationRequest, type IamDecision } from "../iam/authorizer";
import { functionAccessKeyId, type FunctionHost, type FunctionLogEntry, type InvocationResult } from "../lambda/function-host";
import type { PublishInput } from "../sns/engine";
import type { SnsEngine } from "../sns/engine";
import type { SqsEngine } from "../sqs/engine";
import { ServiceError } from "../sqs/errors";
import type { QueuePoller } from "../sqs/poller";
import type { StoredMessageView } from "../sqs/queue";
import { functionRegistrations } from "../watch/reconcile";
import { consoleServer, crossSiteRefusal } from "../console/server";
import { AdminRoutes, jsonBody, type AdminAnswer } from "./admin";
import { FailureDesk, type FailureDetail, type FailureSummary, type ReplayResult } from "./failures";
import { listen, readBody, sendJson, type ListeningServer } from "./http";
import { dynamoPart } from "./part-dynamodb";
import { discardPreloadedDynamoThread, preloadDynamoThread } from "./dynamodb";
import { functionsPart, pollersPart, type FunctionsPart } from "./part-functions";
import { gatewayPart, MAX_HTTP_BODY } from "./part-gateway";
import { messagingPart, type MessagingPart } from "./part-messaging";
import { dynamodbStreamKind, streamsPart, type StreamsPart } from "./part-streams";
import { workflowsPart } from "./part-workflows";
import { kinesisAdminRoutes, kinesisPart, type KinesisPart } from "./part-kinesis";
import { relationalAdminRoutes, relationalPart, type RelationalPart } from "./part-relational";
import { relationalForStage, type PreloadedRelationalEngine } from "./relational-preload";
import type { ExecutionRecord, StepFunctionsEngine } from "../stepfunctions/engine";
import { StageParts, type PartHealth, type StagePart } from "./parts";
import { runStagePrograms, type ProgramResult, type RunStageProgramsOptions, type StagePrograms } from "./programs";
import { renderTrace, TraceRecorder, type TraceNames, type TraceTree } from "./trace";
import { deadLetterQueues, wiringFrom, type StageWiring } from "./wiring";

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
  /**
   * Shortens every workflow Wait state and Retry interval (`true`: to 10 ms; a number: to that many ms), for quick
   * runs and tests (`npm start -- --short-waits`).
   * @default waits and retry intervals as the definitions say
   */
  shortWaits?: boolean | number;
  /**
   * Serve PostgreSQL's wire protocol on this port (`psql -h 127.0.0.1 -p <port> -U postgres`) when the relational
   * part runs (`npm start -- --psql-port 5432`).
   * @default not served
   */
  psqlPort?: number;
  /**
   * How long an open Data API transaction may go without calls before the relational part rolls it back (a crashed
   * function's transaction holds the single PGlite connection until then).
   * @default 30000
   */
  relationalTransactionIdleMs?: number;
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
  readonly endpoints: { sns: string; sqs: string; dynamodb: string; sfn: string; dynalite: string; dynamodbProxy: string };
  /** Where DynamoDB keeps its data (`memory` or a folder). */
  readonly storage: string;
  /** The wiring read from the programs (as last reconciled, in watch mode). */
  readonly wiring: StageWiring;
  /** The programs that ran (platform first; in watch mode, their last good runs). */
  readonly programs: readonly ProgramResult[];
  /** Service projects, in the order they ran. */
  readonly services: string[];
  readonly consumers: ConsumerInfo[];
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
  /** The event source mappings on streams (DynamoDB Streams): their shard pollers, positions, on-failure records. */
  readonly streamMappings: StreamsPart;
  /** The Step Functions engine: state machines, executions and their histories (the workflows part's). */
  readonly workflows: StepFunctionsEngine;
  /** The Kinesis part: its engine, streams, stream consumers' pollers, replay. */
  readonly kinesis: KinesisPart;
  /** The relational part: PGlite behind the local Data API, the services' schemas and migrations (when any is declared). */
  readonly relational: RelationalPart;
  /** The stage's parts in start order (dynamodb, messaging, functions, pollers, gateway, admin). */
  readonly parts: StageParts<StageWiring>;
  /** Each part's health by name (also `GET /_local/health`). */
  health(): Record<string, PartHealth>;
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
  /**
   * Watch mode: takes the programs' new runs (platform first), reads their wiring and applies the difference while
   * the stage runs: the functions part first (new hosts are built before anything changes, so a handler that does not
   * build fails here with nothing changed), then IAM, then every other part that can `reconcile`, in start order.
   * Tables keep their data and queues their messages. One reconcile at a time.
   * @throws WiringError when the programs do not connect, or the functions part's error; the stage keeps serving
   */
  reconcile(programs: readonly ProgramResult[]): Promise<void>;
  /** Stops everything: HTTP, pollers, functions, endpoints, DynamoDB. */
  stop(): Promise<void>;
}

/** The stage could not start (a bundle failed, a table could not be created); the message says what to fix. */
export class LocalStageError extends Error {
  override name = "LocalStageError";
}

export { PartStartError, StageParts, type PartHealth, type StagePart } from "./parts";

/**
 * Starts the local stage: the programs, then its parts in order (dynamodb, messaging, functions, pollers, gateway,
 * admin; see parts.ts). Resolves once everything is listening and every handler is bundled.
 * @throws ProgramError when a program fails, WiringError when the programs do not connect, PortInUseError when the
 *   port is taken, PartStartError (a LocalStageError naming the part) when a part does not start
 *
 * @example
 * const stage = await startLocalStage({ port: 0 });
 * await fetch(`${stage.url}/orders`, { method: "POST", body: JSON.stringify(order), headers: { "content-type": "application/json" } });
 * console.log(renderTrace(stage.trace(correlationId)!));
 * await stage.stop();
 */
export async function startLocalStage(options: LocalStageOptions = {}): Promise<LocalStage> {
  const started = performance.now();
  // The port first: a taken port fails at once, before the programs run.
  let ready: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const http: ListeningServer = await listen((req, res) => {
    if (ready) ready(req, res);
    else sendJson(res, 503, { message: "the local stage is starting" });
  }, options.port ?? 3000);
  let recorder: TraceRecorder | undefined;
  // The DynamoDB thread loads dynalite on the other core while the programs run; the dynamodb part hands it its setup.
  preloadDynamoThread();
  // PostgreSQL too, when a service will use it: its WASM compiles and its base image loads while the programs run.
  let preloadedRelational: PreloadedRelationalEngine | undefined;
  try {
    // (npm start may have started it already, before it loaded the stage's modules: see relational-preload.ts.)
    preloadedRelational = relationalForStage({
      ...(options.persistDir ? { persistDir: options.persistDir } : {}),
      ...(options.relationalTransactionIdleMs !== undefined ? { transactionIdleMs: options.relationalTransactionIdleMs } : {}),
      ...(options.platformDir ? { platformDir: options.platformDir } : {}),
      ...(options.serviceDirs ? { serviceDirs: options.serviceDirs } : {}),
    });
    const programs = await runStagePrograms(options);
    const runs = [programs.platform, ...programs.services];
    const programWiring = wiringFrom(
      runs.map((run) => ({ project: run.project, resources: run.resources })),
      { region: programs.region, accountId: programs.accountId },
    );
    const wiring = options.adjustWiring ? options.adjustWiring(programWiring) : programWiring;
    const names = stageNames(wiring, programs.platform.outputs);
    recorder = new TraceRecorder({
      names: names.trace,
      ...(options.onTrace ? { onSettled: options.onTrace } : {}),
      ...(options.maxTraces ? { maxTrees: options.maxTraces } : {}),
    });
    const stage = await composeStage(options, {
      http,
      programs,
      runs,
      wiring,
      recorder,
      names,
      started,
      setHandler: (handler) => (ready = handler),
      ...(preloadedRelational ? { preloadedRelational } : {}),
    });
    return stage;
  } catch (error) {
    recorder?.close();
    await discardPreloadedDynamoThread();
    await preloadedRelational?.discard();
    await http.close();
    throw error;
  }
}

/** Names for trace lines and the admin API. */
function stageNames(wiring: StageWiring, platformOutputs: Record<string, unknown>) {
  const functionsByName = new Map(wiring.functions.map((f) => [f.name, f]));
  const labelOf = (name: string) => {
    const fn = functionsByName.get(name);
    return fn ? `${fn.service}/${fn.logicalName}` : name;
  };
  const eventTopics = (platformOutputs.eventTopics ?? {}) as Record<string, { arn: string; fifo?: boolean }>;
  const eventStreams = (platformOutputs.eventStreams ?? {}) as Record<string, { arn: string; name: string }>;
  const failureQueueArn = (platformOutputs.failureQueue as { arn?: string } | undefined)?.arn;
  const trace: TraceNames = {
    queue: (arn) => arn.split(":").pop() ?? arn,
    topic: (arn) => arn.split(":").pop() ?? arn,
    functionLabel: labelOf,
    // Nothing consumes the failure queue: a failure event waits there for a person (npm run local -- failures).
    keptIn: (arn) => (arn === failureQueueArn ? "a failure event, waiting for a person (npm run local -- failures)" : undefined),
  };
  return { labelOf, eventTopics, eventStreams, failureQueueArn, trace, functionsByName };
}

async function composeStage(
  options: LocalStageOptions,
  shell: {
    http: ListeningServer;
    programs: StagePrograms;
    runs: ProgramResult[];
    wiring: StageWiring;
    recorder: TraceRecorder;
    names: ReturnType<typeof stageNames>;
    started: number;
    setHandler: (handler: (req: IncomingMessage, res: ServerResponse) => void) => void;
    /** PostgreSQL started while the programs ran (the relational part takes it, or closes it). */
    preloadedRelational?: PreloadedRelationalEngine;
  },
): Promise<LocalStage> {
  const { http, programs, runs, wiring, recorder, names } = shell;
  const { accountId } = wiring;

  // IAM for the SNS and SQS endpoints; the DynamoDB thread holds the same registrations for its proxy.
  const authorizer = new Authorizer({
    accountId,
    // Local tools (the AWS CLI, a seeding script) sign with keys of their own: only functions are held to a role.
    unknownPrincipals: "allow",
    onDecision: (request: IamAuthorizationRequest, decision: IamDecision) => {
      if (decision.allowed) return;
      const context = (request.context as { requestContext?: RequestContext } | undefined)?.requestContext;
      recorder.denied(
        { action: request.action, resource: request.resource, ...(context ? { context } : {}) },
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

  // The parts, in start order (stopped in reverse).
  const dynamodb = dynamoPart({ wiring, registrations, recorder, ...(options.persistDir ? { persistDir: options.persistDir } : {}) });
  const messaging = messagingPart({ wiring, authorizer, recorder });
  const shortWaitsMs = options.shortWaits === true ? 10 : typeof options.shortWaits === "number" ? options.shortWaits : undefined;
  const workflows = workflowsPart({
    wiring,
    authorizer,
    recorder,
    hosts: () => functions.hosts,
    publish: (input, context) => messaging.publish(input, context),
    ...(shortWaitsMs !== undefined ? { shortWaitsMs } : {}),
  });
  const endpointsForFunctions = () => ({
    dynamodb: options.endpoints?.dynamodb ?? dynamodb.dynamo.endpoint,
    sns: options.endpoints?.sns ?? messaging.url,
    sqs: options.endpoints?.sqs ?? messaging.url,
    sfn: workflows.url,
    kinesis: kinesis.url,
    ...(relational.url ? { rdsData: relational.url } : {}),
  });
  const functions = functionsPart({
    wiring,
    recorder,
    endpoints: endpointsForFunctions,
    // The engines whose endpoints the functions get; the relational part's is known once its Data API serves, before
    // its migrations run, so the bundles are checked alongside them (the parts after this one wait for both).
    needs: ["dynamodb", "messaging", "kinesis", "workflows"],
    endpointsKnown: () => relational.serving,
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
  const pollers = pollersPart({ wiring, recorder, sqs: () => messaging.sqs, hosts: () => functions.hosts });
  const streams = streamsPart({
    wiring,
    recorder,
    hosts: () => functions.hosts,
    sqs: () => messaging.sqs,
    publish: (input, context) => messaging.publish(input, context),
    // On-failure records are sent with the function's role: its policies, the destination's policy and KMS key decide.
    authorizer,
    programs: () => current.runs,
    kinds: [dynamodbStreamKind(() => dynamodb.streams)],
  });
  const gateway = gatewayPart({ wiring, recorder, hosts: () => functions.hosts, labelOf: names.labelOf });
  // What watch mode changes (reconcile): the wiring and the program runs it came from.
  let current = { wiring, runs: [...runs] as readonly ProgramResult[] };
  const operations = stageOperations({ wiring: () => current.wiring, programs, recorder, names, messaging, functions, kinesis: () => kinesis });
  let stage!: LocalStage;
  const admin = adminPart(() => stage, operations, recorder);
  // The programs as watch mode last reloaded them: an on-failure send reads the destination's policies and key then.
  const kinesis = kinesisPart({ wiring, programs: () => current.runs, authorizer, recorder, hosts: () => functions.hosts, sqs: () => messaging.sqs, ...(options.persistDir ? { persistDir: options.persistDir } : {}) });
  const relational = relationalPart({
    wiring,
    programs: () => runs,
    authorizer,
    recorder,
    ...(options.persistDir ? { persistDir: options.persistDir } : {}),
    ...(options.relationalTransactionIdleMs !== undefined ? { transactionIdleMs: options.relationalTransactionIdleMs } : {}),
    ...(shell.preloadedRelational ? { preloaded: shell.preloadedRelational } : {}),
  });
  const parts = new StageParts<StageWiring>([dynamodb, messaging, kinesis, relational, workflows, functions, pollers, streams, gateway, admin]);
  await parts.start();
  if (options.psqlPort !== undefined && relational.enabled) {
    await relational.servePsql(options.psqlPort).catch(async (error: unknown) => {
      await parts.stop();
      throw new LocalStageError(`psql port ${options.psqlPort}: ${(error as Error).message}`);
    });
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0]!;
    const work = path === "/_local" || path.startsWith("/_local/") ? admin.serve(req, res, path) : gateway.serve(req, res, path);
    work.catch((error: unknown) => sendJson(res, 500, { message: `local stage: ${(error as Error).message}` }));
  };

  const consumersOf = (of: StageWiring): ConsumerInfo[] => {
    const functionsByArn = new Map(of.functions.map((f) => [f.arn, f]));
    return of.mappings.map((mapping) => {
      const fn = functionsByArn.get(mapping.functionArn)!;
      const events = of.subscriptions
        .filter((s) => s.queueArn === mapping.queueArn)
        .map((s) => Object.entries(names.eventTopics).find(([, t]) => t.arn === s.topicArn)?.[0] ?? s.topicArn.split(":").pop()!);
      return { label: names.labelOf(fn.name), events, queue: mapping.queueArn.split(":").pop()!, function: fn.name };
    });
  };
  let consumers = consumersOf(wiring);
  let reconciling: Promise<void> = Promise.resolve();
  const reconcile = async (nextRuns: readonly ProgramResult[]): Promise<void> => {
    const programWiring = wiringFrom(
      nextRuns.map((run) => ({ project: run.project, resources: run.resources })),
      { region: current.wiring.region, accountId: current.wiring.accountId },
    );
    const next = options.adjustWiring ? options.adjustWiring(programWiring) : programWiring;
    // The functions first: building new hosts is what a broken edit fails, and nothing else has changed yet.
    await functions.reconcile(next);
    const gone = current.wiring.functions.filter((fn) => !next.functions.some((f) => f.name === fn.name));
    for (const fn of gone) authorizer.unregister(functionAccessKeyId(fn.name));
    for (const r of functionRegistrations(next)) authorizer.register(r.principal, r.policies, r.identity);
    names.functionsByName.clear();
    for (const fn of next.functions) names.functionsByName.set(fn.name, fn);
    for (const part of parts.parts) if (part !== functions) await part.reconcile?.(next);
    current = { wiring: next, runs: [...nextRuns] };
    consumers = consumersOf(next);
  };

  let stopping: Promise<void> | undefined;
  stage = {
    url: http.url,
    port: http.port,
    adminUrl: `${http.url}/_local/`,
    endpoints: { ...endpointsForFunctions(), dynalite: dynamodb.dynamo.dynaliteEndpoint, dynamodbProxy: dynamodb.dynamo.endpoint },
    storage: dynamodb.dynamo.storage,
    get wiring() {
      return current.wiring;
    },
    get programs() {
      return current.runs;
    },
    services: programs.services.map((s) => s.project),
    get consumers() {
      return consumers;
    },
    get routes() {
      return gateway.routes();
    },
    startupMs: performance.now() - shell.started,
    sns: messaging.sns,
    sqs: messaging.sqs,
    hosts: functions.hosts,
    pollers: pollers.pollers,
    streamMappings: streams,
    workflows: workflows.engine,
    kinesis,
    relational,
    parts,
    health: () => parts.health(),
    trace: (id) => recorder.tree(id),
    traceIds: () => recorder.correlationIds(),
    publish: operations.publish,
    deadLetterQueues: operations.deadLetterQueues,
    deadLetterMessages: operations.deadLetterMessages,
    redrive: operations.redrive,
    failureQueue: operations.failureQueue,
    failures: () => operations.desk().list(),
    failure: (id) => operations.desk().read(id),
    replayFailure: (id) => operations.desk().replay(id),
    invoke: operations.invoke,
    reconcile(nextRuns) {
      const run = reconciling.then(() => reconcile(nextRuns));
      reconciling = run.catch(() => undefined);
      return run;
    },
    stop() {
      shell.setHandler((_req, res) => sendJson(res, 503, { message: "the local stage is stopping" }));
      stopping ??= (async () => {
        await parts.stop();
        recorder.close();
        await http.close();
      })();
      return stopping;
    },
  };
  shell.setHandler(handle);
  return stage;
}

function roleName(arn: string): string {
  return arn.split("/").pop() || arn;
}

/** What the stage does on request (the admin API and `LocalStage`'s methods): publish, dead letters, failures, invoke. */
function stageOperations(context: {
  /** The wiring as it is now. */
  wiring: () => StageWiring;
  programs: StagePrograms;
  recorder: TraceRecorder;
  names: ReturnType<typeof stageNames>;
  messaging: MessagingPart;
  functions: FunctionsPart;
  /** The Kinesis part (stream events are put on their streams). */
  kinesis: () => KinesisPart;
}) {
  const { wiring, recorder, names, messaging, functions } = context;
  const dlqs = () => deadLetterQueues(wiring());
  const deadLetterQueueInfo = (): DeadLetterQueueInfo[] =>
    dlqs().map(({ queue, sourceArn, kind }) => {
      const counts = messaging.sqs.counts(queue.arn);
      return {
        name: queue.name,
        arn: queue.arn,
        depth: counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible + counts.ApproximateNumberOfMessagesDelayed,
        source: sourceArn.split(":").pop() ?? sourceArn,
        kind,
      };
    });
  const findDlq = (name: string) => {
    const found = dlqs().find((d) => d.queue.name === name || d.queue.arn === name);
    if (!found) throw new ServiceError("NotFound", `no dead-letter queue named ${name} (have: ${dlqs().map((d) => d.queue.name).join(", ") || "none"})`);
    return found;
  };

  const publish = (type: string, data: unknown, publishOptions: { correlationId?: string } = {}): LocalPublishResult => {
    if (!isEventType(type)) throw new ServiceError("UnknownEventType", `"${type}" is not in the event catalog; known types: ${Object.keys(catalog).join(", ")}`);
    const entry = catalog[type as EventType];
    const envelope = createEvent(type as EventType, data as never, {
      source: "local",
      ...(publishOptions.correlationId ? { correlationId: publishOptions.correlationId } : {}),
    });
    if (isStreamEvent(type as EventType)) {
      // A stream event: PutRecord on its stream, keyed by its partitionKeyField (traced as put by hand).
      const stream = context.kinesis().streams.find((s) => s.name === (names.eventStreams[type]?.name ?? ""));
      if (!stream) throw new ServiceError("NotFound", `the platform has no stream for ${type}`);
      const key = partitionKeyOf(type, entry, envelope.data)!;
      const put = context.kinesis().putEvent(stream.name, key, JSON.stringify(envelope), envelope.correlationid);
      put.catch(() => undefined);
      return Object.defineProperty({ eventId: envelope.id, correlationId: envelope.correlationid, messageId: "", topicArn: stream.arn }, "put", { value: put, enumerable: false });
    }
    const topicArn = names.eventTopics[type]?.arn;
    if (!topicArn) throw new ServiceError("NotFound", `the platform has no topic for ${type}`);
    const input: PublishInput = {
      TopicArn: topicArn,
      Message: JSON.stringify(envelope),
      MessageAttributes: messageAttributes(envelope, entry.version) as PublishInput["MessageAttributes"],
    };
    if (entry.ordering === "fifo") {
      input.MessageGroupId = messageGroupOf(type, entry, envelope.data);
      input.MessageDeduplicationId = envelope.id;
    }
    const result = messaging.publish(input, rootContext("local", envelope.correlationid));
    return { eventId: envelope.id, correlationId: envelope.correlationid, messageId: result.MessageId, topicArn };
  };

  let failureDesk: FailureDesk | undefined;
  const desk = (): FailureDesk => {
    if (!names.failureQueueArn) throw new ServiceError("NotFound", "the platform exports no failureQueue: its failure events are kept nowhere");
    failureDesk ??= new FailureDesk({
      sqs: messaging.sqs,
      queueArn: names.failureQueueArn,
      topics: names.eventTopics,
      publish: (input) => messaging.publish(input, rootContext("local")),
    });
    return failureDesk;
  };

  const redrive = (name: string): { moved: number; to: string } => {
    const sqs = messaging.sqs;
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
    const host = functions.hosts.get(functionName);
    if (!host) throw new ServiceError("ResourceNotFoundException", `Function not found: ${functionName}`);
    const context = rootContext("local");
    const traceHeader = traceHeaderOf(context);
    const requestId = randomUUID();
    const node = recorder.invocationStarted({ functionName, context, requestId });
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

  return {
    publish,
    deadLetterQueues: deadLetterQueueInfo,
    deadLetterMessages: (name: string) => messaging.sqs.peek(findDlq(name).queue.arn),
    findDlq,
    redrive,
    failureQueue: names.failureQueueArn ? names.failureQueueArn.split(":").pop() : undefined,
    desk,
    invoke,
  };
}

type StageOperations = ReturnType<typeof stageOperations>;

/** The admin API part: its routes as a table (admin.ts); `GET /_local/health` reports every part. */
function adminPart(stage: () => LocalStage, operations: StageOperations, recorder: TraceRecorder): StagePart<StageWiring> & { serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> } {
  const ok = (body: unknown, status = 200): AdminAnswer => ({ status, body });
  // The console (its page, script, flow diagram and live trace stream; its data are rows of this table).
  const web = consoleServer({ stage, recorder });
  const routes = new AdminRoutes([
    { method: "GET", path: "/", describe: "services, routes, consumers, endpoints, these operations", handle: () => ok(adminIndex(stage(), routes.operations())) },
    { method: "GET", path: "/health", describe: "each part of the stage and its health", handle: () => ok({ parts: stage().health() }) },
    { method: "GET", path: "/dlq", describe: "every dead-letter queue with its depth", handle: () => ok({ deadLetterQueues: operations.deadLetterQueues() }) },
    {
      method: "GET",
      path: "/dlq/{name}",
      describe: "the messages in a dead-letter queue",
      handle: ({ params }) => {
        const dlq = operations.findDlq(params.name!);
        return ok({ queue: dlq.queue.name, source: dlq.sourceArn.split(":").pop(), messages: operations.deadLetterMessages(params.name!) });
      },
    },
    { method: "POST", path: "/dlq/{name}/redrive", describe: "move a dead-letter queue's messages back to their source queue", handle: ({ params }) => ok(operations.redrive(params.name!)) },
    {
      method: "GET",
      path: "/failures",
      describe: "failure events (events a consumer rejected: invalid, business rule, unknown type) in the failure queue",
      handle: () => ok({ queue: operations.desk().queueName, failures: operations.desk().list() }),
    },
    { method: "GET", path: "/failures/{id}", describe: "one failure event in full, with the original message", handle: ({ params }) => ok(operations.desk().read(params.id!)) },
    {
      method: "POST",
      path: "/failures/{id}/replay",
      describe: "publish the original event to its topic again (same envelope, same id) and delete the failure",
      handle: ({ params }) => ok(operations.desk().replay(params.id!)),
    },
    {
      method: "POST",
      path: "/publish",
      describe: 'publish a catalog event by hand: { "type": "orders.order-placed", "data": { ... }, "correlationId": "optional" }',
      handle: async ({ body }) => {
        const input = jsonBody<{ type?: unknown; data?: unknown; correlationId?: unknown }>(body, "{ type, data, correlationId? }");
        if (typeof input.type !== "string") throw new ServiceError("InvalidParameter", "give the event type: { type, data, correlationId? }");
        const result = operations.publish(input.type, input.data, typeof input.correlationId === "string" ? { correlationId: input.correlationId } : {});
        // A stream event's put is answered once the record is on its stream (its sequence number as the message id).
        const put = (result as { put?: Promise<{ sequenceNumber: string }> }).put;
        return ok(put ? { ...result, messageId: (await put).sequenceNumber } : result, 202);
      },
    },
    {
      method: "GET",
      path: "/executions",
      describe: "workflow executions, newest first: state machine, name, status, who started it",
      handle: () => ok({ executions: stage().workflows.executions().map(executionSummary) }),
    },
    {
      method: "GET",
      path: "/executions/{id}",
      describe: "one workflow execution (by ARN or name): input, output, error and its history",
      handle: ({ params }) => ok(executionDetail(findExecution(stage().workflows, params.id!))),
    },
    {
      method: "GET",
      path: "/stream-mappings",
      describe: "event source mappings on streams (DynamoDB Streams) with their shards' checkpoints, backlog and retries",
      handle: () => ok({ mappings: stage().streamMappings.list() }),
    },
    {
      method: "GET",
      path: "/stream-mappings/failures",
      describe: "on-failure records of stream mappings waiting in their destination queues (shard and sequence range of each batch given up on)",
      handle: () => ok({ failures: stage().streamMappings.onFailureRecords() }),
    },
    {
      method: "POST",
      path: "/stream-mappings/replay",
      describe:
        'invoke a stream mapping\'s function again with a shard\'s sequence range read back from the stream while retention lasts: { "function": "<name>", "shardId": "<shard>", "from": "<seq>", "to": "<seq>" } (an on-failure record\'s DDBStreamBatchInfo has them)',
      handle: async ({ body }) => {
        const input = jsonBody<{ function?: unknown; shardId?: unknown; from?: unknown; to?: unknown }>(body, "{ function, shardId, from, to }");
        if (typeof input.function !== "string" || typeof input.shardId !== "string" || typeof input.from !== "string" || typeof input.to !== "string") {
          throw new ServiceError("InvalidParameter", "give the function, the shard and the sequence range: { function, shardId, from, to } (an on-failure record names the function; its DDBStreamBatchInfo has the rest)");
        }
        return ok(await stage().streamMappings.replay(input.function, input.shardId, { from: input.from, to: input.to }));
      },
    },
    { method: "GET", path: "/trace", describe: "the latest correlation ids", handle: () => ok({ correlationIds: recorder.correlationIds().slice(-100) }) },
    {
      method: "GET",
      path: "/trace/{correlationId}",
      describe: "the trace tree of a correlation id (JSON and text)",
      handle: ({ params }) => {
        const tree = recorder.tree(params.correlationId!);
        return tree ? ok({ tree, text: renderTrace(tree) }) : ok({ message: `no trace with correlation id ${params.correlationId}` }, 404);
      },
    },
    ...web.routes,
    ...kinesisAdminRoutes(() => stage().kinesis),
    ...relationalAdminRoutes(() => stage().relational),
  ]);
  let state: PartHealth = { status: "starting" };
  return {
    name: "admin",
    start() {
      state = { status: "ok", detail: `${routes.routes.length} operations under /_local/` };
    },
    stop() {
      web.close();
      state = { status: "stopped" };
    },
    // The live trace streams open now (the console's), beside the operations.
    health: () => (state.status === "ok" ? { ...state, detail: `${state.detail ?? ""}, ${web.streams} live trace stream${web.streams === 1 ? "" : "s"}` } : state),
    async serve(req, res, path) {
      if (web.serve(req, res, path)) return;
      // A browser page of another site must not make the browser act on the stage.
      const refused = crossSiteRefusal(req);
      if (refused) return sendJson(res, 403, { message: refused });
      const body = (await readBody(req, MAX_HTTP_BODY)) ?? Buffer.alloc(0);
      const answer = await routes.answer(req.method ?? "GET", path, body);
      if (!answer) sendJson(res, 404, { message: "Not Found", see: stage().adminUrl });
      else sendJson(res, answer.status, answer.body);
    },
  };
}

function executionSummary(execution: ExecutionRecord): Record<string, unknown> {
  return {
    stateMachine: execution.stateMachineName,
    name: execution.name,
    executionArn: execution.executionArn,
    status: execution.status,
    startedBy: execution.startedBy,
    startDate: execution.startDate.toISOString(),
    ...(execution.stopDate ? { stopDate: execution.stopDate.toISOString(), durationMs: execution.stopDate.getTime() - execution.startDate.getTime() } : {}),
  };
}

function executionDetail(execution: ExecutionRecord): Record<string, unknown> {
  return {
    ...executionSummary(execution),
    input: execution.input,
    ...(execution.output !== undefined ? { output: execution.output } : {}),
    ...(execution.error !== undefined ? { error: execution.error } : {}),
    ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
    states: execution.states.map((s) => ({
      name: s.name,
      type: s.type,
      status: s.status,
      retries: s.retries,
      ...(s.exitedAt !== undefined ? { durationMs: s.exitedAt - s.enteredAt } : {}),
      ...(s.error !== undefined ? { error: s.error } : {}),
    })),
    history: execution.history.map((event) => ({ ...event, timestamp: event.timestamp.toISOString() })),
  };
}

/** An execution by ARN, or by name (the newest of that name). */
function findExecution(engine: StepFunctionsEngine, id: string): ExecutionRecord {
  if (id.startsWith("arn:")) return engine.execution(id);
  const found = engine.executions().find((e) => e.name === id);
  if (!found) throw new ServiceError("NotFound", `no workflow execution named ${id} (have: ${engine.executions().slice(0, 10).map((e) => e.name).join(", ") || "none"})`);
  return found;
}

function adminIndex(stage: LocalStage, operations: Record<string, string>): Record<string, unknown> {
  return {
    about: "The local stage's admin API",
    services: stage.services,
    routes: stage.routes,
    consumers: stage.consumers,
    endpoints: stage.endpoints,
    parts: stage.health(),
    operations,
  };
}
