/**
 * The Kinesis part: kinesalite (in memory, or under `<persist dir>/kinesis`) behind an IAM-checked endpoint that the
 * functions' unmodified SDK clients use (`AWS_ENDPOINT_URL_KINESIS`), the programs' `aws:kinesis/stream:Stream`
 * resources as streams (their shard count and retention), and one shard poller (shared/local/streams, Lambda's
 * stream semantics) per event source mapping on a Kinesis stream, reading it through a Kinesis `ShardSource`
 * (GetShardIterator, GetRecords) and sending the on-failure records to the mapping's SQS destination.
 * The trace shows each record's hops: the put (under the invocation that put it), the record on its shard, and the
 * invocations that read it.
 */
import { join } from "node:path";
import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { num, str } from "../../capture/read";
import { peekEnvelope } from "../../contract/envelope-peek";
import { compileFilterCriteria } from "../dynamodb-streams/event-filter";
import { childContext, contextFromHeader, newSpanId, rootContext, traceHeaderOf, type RequestContext } from "../context";
import { startEndpointServer, type EndpointServer } from "../endpoints/server";
import type { Authorizer } from "../iam/authorizer";
import { createKinesisEndpoint, KinesisEngine, kinesisShardSource, type KinesisFault, type KinesisPutReport } from "../kinesis";
import { functionAccessKeyId, type FunctionHost } from "../lambda/function-host";
import type { SqsEngine } from "../sqs/engine";
import { ShardPoller, type OnFailureRecord, type ShardPollerEvent, type StreamInvokeOutcome } from "../streams/shard-poller";
import { rememberInvocation } from "../streams/on-failure-authorization";
import { ServiceError } from "../sqs/errors";
import { jsonBody, type AdminRoute } from "./admin";
import { checkOnFailureSend } from "./on-failure-send";
import type { PartHealth, StagePart } from "./parts";
import type { InvocationTrace, TraceRecorder } from "./trace";
import type { StageWiring, StreamMappingSpec } from "./wiring";

/** The Pulumi type of a Kinesis data stream. */
export const KINESIS_STREAM_TYPE = "aws:kinesis/stream:Stream";

/** A Kinesis data stream the programs declared. */
export interface KinesisStreamSpec {
  project: string;
  name: string;
  arn: string;
  /** ON_DEMAND streams get 4 shards, as AWS starts them. */
  shardCount: number;
  retentionHours: number;
  capacityMode: "PROVISIONED" | "ON_DEMAND";
}

/** The streams among the programs' captured resources. */
export function kinesisStreams(programs: readonly { project: string; resources: readonly CapturedResource[] }[]): KinesisStreamSpec[] {
  const out: KinesisStreamSpec[] = [];
  for (const { project, resources } of programs) {
    for (const r of resources) {
      if (r.type !== KINESIS_STREAM_TYPE) continue;
      const name = str(r.state.name) ?? str(r.inputs.name);
      const arn = str(r.state.arn);
      if (!name || !arn) throw new Error(`stream ${r.name} of ${project} has no name or ARN`);
      const mode = str((r.inputs.streamModeDetails as { streamMode?: unknown } | undefined)?.streamMode) === "ON_DEMAND" ? "ON_DEMAND" : "PROVISIONED";
      out.push({ project, name, arn, capacityMode: mode, shardCount: mode === "ON_DEMAND" ? 4 : (num(r.inputs.shardCount) ?? 1), retentionHours: num(r.inputs.retentionPeriod) ?? 24 });
    }
  }
  return out;
}

/**
 * What a Kinesis mapping's poller does with the function's role (the Lambda developer guide's Kinesis execution role
 * lists these with DescribeStreamSummary, ListStreams and SubscribeToShard, which a shared-iterator reader does not need).
 */
export const LAMBDA_KINESIS_READ_ACTIONS = ["kinesis:DescribeStream", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"] as const;

/** The enabled event source mappings on Kinesis streams. */
function kinesisMappings(wiring: StageWiring): StreamMappingSpec[] {
  return (wiring.streamMappings ?? []).filter((m) => m.kind === "kinesis" && m.enabled);
}

/** One stream as the admin API lists it. */
export interface StreamInfo {
  name: string;
  arn: string;
  retentionHours: number;
  shards: { shardId: string; records: number; firstSequenceNumber?: string; lastSequenceNumber?: string }[];
  /** `destinationDeliveryFailures`: on-failure records the destination refused (the role may not send them), so lost. */
  consumers: { function: string; checkpoints: Record<string, string>; destinationDeliveryFailures: number }[];
}

/** What the Kinesis part needs. */
export interface KinesisPartOptions {
  wiring: StageWiring;
  /** The programs' captured resources (the streams are read from them). */
  programs: () => readonly { project: string; resources: readonly CapturedResource[] }[];
  authorizer: Authorizer;
  recorder: TraceRecorder;
  hosts: () => ReadonlyMap<string, FunctionHost>;
  /** The SQS engine: on-failure destinations are queues. */
  sqs: () => SqsEngine;
  /** Keep the streams under `<persistDir>/kinesis`. */
  persistDir?: string;
  /** How often shards are read besides the put wake-up. @default 1000 (Lambda reads a Kinesis shard once a second) */
  pollIntervalMs?: number;
  /** Where the line about a refused on-failure record goes. @default standard error */
  log?: (line: string) => void;
}

/** The Kinesis part; its products are there once it started. */
export interface KinesisPart extends StagePart<StageWiring> {
  readonly engine: KinesisEngine;
  /** The Kinesis endpoint's URL (`AWS_ENDPOINT_URL_KINESIS`). */
  readonly url: string;
  readonly streams: readonly KinesisStreamSpec[];
  /** The shard pollers, one per enabled Kinesis mapping (fault runs pause or inspect them). */
  readonly pollers: readonly { mapping: StreamMappingSpec; functionName: string; poller: ShardPoller<KinesisStreamRecord> }[];
  /** Decides faults of puts (the fault run throttles some). */
  faults: ((call: { operation: "PutRecord" | "PutRecords"; streamName: string; records: number; context: RequestContext }) => KinesisFault | undefined) | undefined;
  /** Puts one record by hand (the admin publish of a stream event), traced as put by `local`. */
  putEvent(streamName: string, partitionKey: string, body: string, correlationId?: string): Promise<{ shardId: string; sequenceNumber: string }>;
  /** Streams with their shards, record counts and consumers' checkpoints. */
  listStreams(): Promise<StreamInfo[]>;
  /** The on-failure records waiting in the Kinesis mappings' destinations (without taking them). */
  onFailureRecords(): { queue: string; function: string; record: OnFailureRecord; messageId: string }[];
  /**
   * Replays a sequence range of one shard: reads its records back (while retention lasts) and puts them on the
   * stream again, in order, with their partition keys: the consumers see them as new records after the ones already
   * there (their idempotency lock skips events they had applied). Returns what was put.
   */
  replay(stream: string, shardId: string, range: { from: string; to: string }): Promise<{ replayed: number; records: { partitionKey: string; from: string; to: string }[] }>;
}

export function kinesisPart(options: KinesisPartOptions): KinesisPart {
  const { recorder } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  /** The trace context of recent invocations by request id: a refused on-failure record is shown under the last one. */
  const invocationContexts = new Map<string, RequestContext>();
  let engine: KinesisEngine | undefined;
  let server: EndpointServer | undefined;
  let streams: KinesisStreamSpec[] = [];
  const pollers: { mapping: StreamMappingSpec; functionName: string; poller: ShardPoller<KinesisStreamRecord> }[] = [];
  const listeners = new Map<string, Set<(shardId: string) => void>>();
  let state: PartHealth = { status: "starting" };
  let wiring = options.wiring;
  let startNotes: string[] = [];
  /** Mappings that got no poller, and why (by project/name). */
  const mappingNotes = new Map<string, string>();
  /** Checkpoints of pollers watch mode replaced, by mapping (project/name): their successors resume there. */
  const replaced = new Map<string, ReadonlyMap<string, string>>();
  const started = () => {
    if (!engine || !server) throw new Error("the kinesis part has not started");
    return { engine, server };
  };
  const report = () => {
    const { engine, server } = started();
    const detail = `${streams.length} streams, ${pollers.length} stream consumers; Kinesis at ${server.url}${engine.storage === "memory" ? "" : ` (kept in ${engine.storage})`}`;
    const notes = [...startNotes, ...mappingNotes.values()];
    state = notes.length ? { status: "degraded", detail: `${detail}; ${notes.join("; ")}` } : { status: "ok", detail };
  };

  /** One shard poller for a Kinesis mapping, invoking its function's host as it is at invoke time. */
  const startPoller = async (mapping: StreamMappingSpec, of: StageWiring): Promise<void> => {
    const { engine } = started();
    const fn = of.functions.find((f) => f.arn === mapping.functionArn);
    if (!fn) throw new Error(`event source mapping ${mapping.origin.name} invokes ${mapping.functionArn}, which no program created`);
    const streamName = mapping.eventSourceArn.split(":stream/")[1]?.split("/")[0] ?? "";
    if (!streams.some((s) => s.name === streamName)) throw new Error(`event source mapping ${mapping.origin.name} reads ${mapping.eventSourceArn}, which no program created`);
    // Lambda reads the stream with the function's role: a role that may not read it gets no poller (AWS refuses to
    // create such a mapping).
    const principal = functionAccessKeyId(fn.name);
    const missing = LAMBDA_KINESIS_READ_ACTIONS.filter(
      (action) => !options.authorizer.authorize({ principal, action, resource: engine.streamArn(streamName), context: { region: of.region } }).allowed,
    );
    if (missing.length) {
      mappingNotes.set(
        `${mapping.origin.project}/${mapping.origin.name}`,
        `${fn.service}/${fn.logicalName} does not read ${streamName}: its role may not ${missing.join(", ")} on it (Lambda reads a stream with the function's role)`,
      );
      return;
    }
    mappingNotes.delete(`${mapping.origin.project}/${mapping.origin.name}`);
    const checkpoints = replaced.get(`${mapping.origin.project}/${mapping.origin.name}`);
    const poller = new ShardPoller<KinesisStreamRecord>({
      source: kinesisShardSource({ engine, streamName, invokeIdentityArn: fn.roleArn, puts }),
      functionArn: fn.arn,
      startingPosition: mapping.startingPosition,
      ...(checkpoints ? { checkpoints } : {}),
      batchSize: mapping.batchSize,
      maximumBatchingWindowInSeconds: mapping.maximumBatchingWindowInSeconds,
      parallelizationFactor: mapping.parallelizationFactor,
      bisectBatchOnFunctionError: mapping.bisectBatchOnFunctionError,
      maximumRetryAttempts: mapping.maximumRetryAttempts,
      maximumRecordAgeInSeconds: mapping.maximumRecordAgeInSeconds,
      reportBatchItemFailures: mapping.reportBatchItemFailures,
      // Lambda's event filtering, matched against the record with its data read as JSON (the source's filterView).
      ...(mapping.filterCriteria ? { filter: compileFilterCriteria(mapping.filterCriteria) } : {}),
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      invoke: (batch) => invokeStreamBatch(options.hosts().get(fn.name), recorder, batch.records.map((r) => r.record), batch.requestId, invocationContexts),
      onEvent: (event) => onPollerEvent(event, recorder),
      ...(mapping.onFailureDestinationArn
        ? {
            onFailure: async (record: OnFailureRecord) => {
              const destination = mapping.onFailureDestinationArn!;
              checkOnFailureSend({ authorizer: options.authorizer, wiring, programs: options.programs(), fn, destinationArn: destination, record, recorder, invocationContexts, log });
              options.sqs().sendMessage(destination, { MessageBody: JSON.stringify(record) });
            },
          }
        : {}),
    });
    await poller.start();
    pollers.push({ mapping, functionName: fn.name, poller });
  };

  /** Each put record: a publish of its stream and a delivery onto its shard (the record), under the put's span. */
  const traced = (report: KinesisPutReport): void => {
    for (const record of report.records) {
      // The put's own span, under the caller's (the invocation that put it): one per record, as a publish has.
      const correlationId = peekEnvelope(record.data.toString("utf8")).correlationid ?? report.context.correlationId;
      const putContext: RequestContext = { ...report.context, spanId: newSpanId(), ...(correlationId ? { correlationId } : {}) };
      const recordId = `${record.shardId}:${record.sequenceNumber}`;
      recorder.publishing({ topicArn: report.streamArn, message: record.data.toString("utf8") }, putContext, () => {
        recorder.messaging({
          kind: "sns.delivered",
          time: Date.now(),
          topicArn: report.streamArn,
          context: childContext(putContext, "kinesis.amazonaws.com"),
          subscriptionArn: report.streamArn,
          endpoint: `${report.streamArn}/${record.shardId}`,
          messageId: recordId,
          sqsMessageId: recordId,
          raw: true,
        });
        return { MessageId: recordId };
      });
    }
    for (const listener of listeners.get(report.streamName) ?? []) for (const record of report.records) listener(record.shardId);
  };

  const puts = {
    subscribe(streamName: string, listener: (shardId: string) => void) {
      let set = listeners.get(streamName);
      if (!set) listeners.set(streamName, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
  };

  const part: KinesisPart = {
    name: "kinesis",
    // Starts alongside the other engines (see parts.ts).
    needs: ["messaging"],
    faults: undefined,
    get engine() {
      return started().engine;
    },
    get url() {
      return started().server.url;
    },
    get streams() {
      return streams;
    },
    pollers,
    async start() {
      const { region, accountId } = wiring;
      engine = new KinesisEngine({ region, accountId, ...(options.persistDir ? { path: join(options.persistDir, "kinesis") } : {}) });
      server = await startEndpointServer({
        services: [createKinesisEndpoint({ engine, authorize: options.authorizer.authorize, onPut: traced, faults: (call) => part.faults?.(call) })],
      });
      streams = kinesisStreams(options.programs());
      const notes: string[] = [];
      for (const stream of streams) {
        if (stream.arn !== engine.streamArn(stream.name)) throw new Error(`stream ${stream.name} would be ${engine.streamArn(stream.name)} locally but the program says ${stream.arn}`);
        const outcome = await engine.ensureStream({ name: stream.name, shardCount: stream.shardCount, retentionHours: stream.retentionHours });
        if (outcome !== "created" && outcome !== "exists") notes.push(outcome);
      }
      for (const mapping of kinesisMappings(wiring)) await startPoller(mapping, wiring);
      startNotes = notes;
      report();
    },
    /**
     * Watch mode: the pollers of Kinesis mappings removed or changed (or whose function's settings changed) stop, and
     * their successors start where they stopped (their checkpoints); the others keep reading. Streams are read from
     * the programs at start: a new stream takes a restart.
     */
    async reconcile(next) {
      const key = (mapping: StreamMappingSpec, of: StageWiring) => JSON.stringify([mapping, of.functions.find((f) => f.arn === mapping.functionArn)]);
      const wanted = new Map(kinesisMappings(next).map((m) => [key(m, next), m]));
      mappingNotes.clear();
      const kept = new Set<string>();
      for (const entry of [...pollers]) {
        const k = key(entry.mapping, wiring);
        if (wanted.has(k)) {
          kept.add(k);
          continue;
        }
        pollers.splice(pollers.indexOf(entry), 1);
        await entry.poller.stop();
        replaced.set(`${entry.mapping.origin.project}/${entry.mapping.origin.name}`, entry.poller.checkpoints());
      }
      wiring = next;
      for (const [k, mapping] of wanted) if (!kept.has(k)) await startPoller(mapping, next);
      report();
    },
    async stop() {
      state = { status: "stopped" };
      await Promise.all(pollers.splice(0).map((p) => p.poller.stop()));
      await server?.close();
      await engine?.close();
    },
    health: () => state,
    async listStreams() {
      const { engine } = started();
      const out: StreamInfo[] = [];
      for (const stream of streams) {
        const described = await engine.describe(stream.name);
        const shards: StreamInfo["shards"] = [];
        for (const shard of await engine.shards(stream.name)) {
          const records = await engine.readRange(stream.name, shard.ShardId);
          shards.push({
            shardId: shard.ShardId,
            records: records.length,
            ...(records.length ? { firstSequenceNumber: records[0]!.sequenceNumber, lastSequenceNumber: records.at(-1)!.sequenceNumber } : {}),
          });
        }
        const consumers = pollers
          .filter((p) => p.poller.streamArn === stream.arn)
          .map((p) => ({ function: p.functionName, checkpoints: Object.fromEntries(p.poller.checkpoints()), destinationDeliveryFailures: p.poller.destinationDeliveryFailures }));
        out.push({ name: stream.name, arn: stream.arn, retentionHours: described.retentionHours, shards, consumers });
      }
      return out;
    },
    onFailureRecords() {
      const sqs = options.sqs();
      return pollers.flatMap((p) => {
        const arn = p.mapping.onFailureDestinationArn;
        if (!arn || !sqs.findQueue(arn)) return [];
        return sqs.peek(arn).flatMap((message) => {
          try {
            return [{ queue: arn.split(":").pop()!, function: p.functionName, record: JSON.parse(message.body) as OnFailureRecord, messageId: message.messageId }];
          } catch {
            return [];
          }
        });
      });
    },
    async putEvent(streamName, partitionKey, body, correlationId) {
      const { engine } = started();
      const put = await engine.putRecord(streamName, partitionKey, body);
      traced({
        operation: "PutRecord",
        streamName,
        streamArn: engine.streamArn(streamName),
        records: [{ partitionKey, data: Buffer.from(body), shardId: put.shardId, sequenceNumber: put.sequenceNumber }],
        context: rootContext("local", correlationId),
      });
      return put;
    },
    async replay(streamName, shardId, range) {
      const { engine } = started();
      if (!streams.some((s) => s.name === streamName)) throw new Error(`no stream named ${streamName} (have: ${streams.map((s) => s.name).join(", ") || "none"})`);
      const records = await engine.readRange(streamName, shardId, range);
      const replayed: { partitionKey: string; from: string; to: string }[] = [];
      for (const record of records) {
        const put = await engine.putRecord(streamName, record.partitionKey, record.data);
        replayed.push({ partitionKey: record.partitionKey, from: record.sequenceNumber, to: put.sequenceNumber });
        traced({
          operation: "PutRecord",
          streamName,
          streamArn: engine.streamArn(streamName),
          records: [{ partitionKey: record.partitionKey, data: record.data, shardId: put.shardId, sequenceNumber: put.sequenceNumber }],
          context: rootContext("local"),
        });
      }
      return { replayed: replayed.length, records: replayed };
    },
  };
  return part;
}

function onPollerEvent(event: ShardPollerEvent<KinesisStreamRecord>, recorder: TraceRecorder): void {
  if (event.kind === "discarded") {
    // Given up on: the records' deliveries end there (their on-failure record names them).
    for (const record of event.records) recorder.messaging({ kind: "sqs.expired", time: Date.now(), queueArn: record.record.eventSourceARN, messageId: record.record.eventID });
  }
}

/**
 * One batch of a Kinesis mapping: the function's host invoked with the Kinesis event, traced under the first
 * record's put (its data's trace context and correlation id).
 */
async function invokeStreamBatch(
  host: FunctionHost | undefined,
  recorder: TraceRecorder,
  records: readonly KinesisStreamRecord[],
  requestId: string,
  contexts?: Map<string, RequestContext>,
): Promise<StreamInvokeOutcome> {
  if (!host) throw new Error("the function has no host (it is being replaced)");
  const first = records[0];
  const hints = first ? peekEnvelope(Buffer.from(first.kinesis.data, "base64").toString("utf8")) : {};
  const traceparent = typeof hints.traceparent === "string" ? hints.traceparent.split("-") : [];
  const header = traceparent.length === 4 ? `Root=1-${traceparent[1]!.slice(0, 8)}-${traceparent[1]!.slice(8)};Parent=${traceparent[2]};Sampled=1` : undefined;
  const context = contextFromHeader(header, "lambda", hints.correlationid);
  const traceHeader = traceHeaderOf(context);
  if (contexts) rememberInvocation(contexts, requestId, context);
  const ids = records.map((r) => r.eventID);
  const node: InvocationTrace = recorder.invocationStarted({
    functionName: host.name,
    context,
    requestId,
    records: records.map((r) => ({ messageId: r.eventID, body: Buffer.from(r.kinesis.data, "base64").toString("utf8"), queueArn: r.eventSourceARN })),
  });
  const event: KinesisStreamEvent = { Records: [...records] };
  let result;
  try {
    result = await host.invoke(event, { requestId, traceHeader });
  } catch (error) {
    recorder.invocationFinished(node, { status: "failed", error: (error as Error).message, failedMessageIds: ids });
    throw error;
  }
  if (!result.ok) {
    recorder.invocationFinished(node, {
      status: result.error.errorType === "Sandbox.Timedout" ? "timeout" : "failed",
      error: `${result.error.errorType}: ${result.error.errorMessage}`,
      failedMessageIds: ids,
      durationMs: result.durationMs,
    });
    return { ok: false, error: `${result.error.errorType}: ${result.error.errorMessage}`, functionError: "Unhandled" };
  }
  const reported = ((result.payload as { batchItemFailures?: { itemIdentifier?: string }[] } | null)?.batchItemFailures ?? []).map((f) => String(f.itemIdentifier));
  // Records from the first reported one on are retried: they stay "retrying"; the ones before it are done.
  const at = reported.length ? records.findIndex((r) => reported.includes(r.kinesis.sequenceNumber)) : -1;
  const failed = at >= 0 ? ids.slice(at) : [];
  recorder.invocationFinished(node, {
    status: failed.length ? "partial" : "ok",
    failedMessageIds: failed,
    durationMs: result.durationMs,
    ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}),
  });
  for (const record of at >= 0 ? records.slice(0, at) : records) recorder.messaging({ kind: "sqs.deleted", time: Date.now(), queueArn: record.eventSourceARN, messageId: record.eventID });
  return { ok: true, payload: result.payload };
}


/** The admin API's stream rows (`/_local/streams...`), over the stage's Kinesis part. */
export function kinesisAdminRoutes(part: () => KinesisPart): AdminRoute[] {
  return [
    { method: "GET", path: "/streams", describe: "Kinesis streams: shards, records kept, consumers and their checkpoints", handle: async () => ({ status: 200, body: { streams: await part().listStreams() } }) },
    {
      method: "GET",
      path: "/streams/failures",
      describe: "on-failure records of stream consumers (shard and sequence range given up on, not the data)",
      handle: () => ({ status: 200, body: { failures: part().onFailureRecords() } }),
    },
    {
      method: "POST",
      path: "/streams/{name}/replay",
      describe: 'put a shard\'s sequence range on the stream again: { "shardId": "shardId-000000000000", "from": "<seq>", "to": "<seq>" }',
      handle: async ({ params, body }) => {
        const input = jsonBody<{ shardId?: unknown; from?: unknown; to?: unknown }>(body, "{ shardId, from, to }");
        if (typeof input.shardId !== "string" || typeof input.from !== "string" || typeof input.to !== "string") {
          throw new ServiceError("InvalidParameter", "give the shard and the sequence range: { shardId, from, to } (an on-failure record's KinesisBatchInfo has them)");
        }
        return { status: 200, body: await part().replay(params.name!, input.shardId, { from: input.from, to: input.to }) };
      },
    },
  ];
}
