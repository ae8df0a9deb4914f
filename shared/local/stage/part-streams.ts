/**
 * The streams part: one shard poller (shared/local/streams, Lambda's stream event source mapping semantics) per
 * event source mapping on a stream, invoking the function's host with batches of records, sending on-failure records
 * to the mapping's destination (an SQS queue or SNS topic), and hanging each invocation in the trace under the stream
 * records it got (themselves under the writes that made them).
 *
 * A kind of stream is a {@link StreamSourceKind}: how to open a mapping's stream as a `ShardSource` and build the
 * function's event. DynamoDB Streams' is {@link dynamodbStreamKind} (the DynamoDB part's recorder); another kind is
 * one more entry in `kinds`.
 */
import { randomUUID } from "node:crypto";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { AwsServiceError } from "../aws";
import { childContext, rootContext, traceHeaderOf, type RequestContext } from "../context";
import { compileFilterCriteria, recorderShardSource, type StreamRecord, type StreamRecorder } from "../dynamodb-streams";
import type { Authorizer } from "../iam/authorizer";
import type { FunctionHost } from "../lambda/function-host";
import type { PublishInput } from "../sns/engine";
import type { SqsEngine } from "../sqs/engine";
import {
  rememberInvocation,
  ShardPoller,
  type OnFailureRecord,
  type ShardPollerEvent,
  type ShardPosition,
  type ShardSource,
  type StreamInvokeOutcome,
} from "../streams";
import { checkOnFailureSend } from "./on-failure-send";
import type { PartHealth, StagePart } from "./parts";
import type { InvocationTrace, TraceRecorder } from "./trace";
import type { FunctionSpec, StageWiring, StreamMappingSpec } from "./wiring";

/** One kind of stream the part can read. */
export interface StreamSourceKind<R = unknown> {
  readonly kind: StreamMappingSpec["kind"];
  /** Opens the stream a mapping reads (called when the poller starts). */
  source(mapping: StreamMappingSpec, fn: FunctionSpec): ShardSource<R>;
  /** The id the trace knows a record by (DynamoDB: its `eventID`, under the write that made it). */
  traceId?(record: R): string | undefined;
  /** Calls back for each new record of a stream (its ARN and trace id), so the trace waits for the mappings reading it. */
  onRecord?(listener: (eventSourceArn: string, traceId: string) => void): () => void;
}

/** DynamoDB Streams: the records the DynamoDB part's write engine recorded. */
export function dynamodbStreamKind(streams: () => StreamRecorder): StreamSourceKind<StreamRecord> {
  return {
    kind: "dynamodb",
    source(mapping) {
      const recorder = streams();
      const table = recorder.tables().find((t) => recorder.stream(t)?.streamArn === mapping.eventSourceArn);
      if (!table) throw new Error(`event source mapping ${mapping.origin.name} reads ${mapping.eventSourceArn}, which no table's stream is`);
      return recorderShardSource(recorder, table);
    },
    traceId: (record) => record.eventID,
    onRecord: (listener) => streams().subscribe((stored) => listener(stored.record.eventSourceARN, stored.record.eventID)),
  };
}

/** What the streams part needs. */
export interface StreamsPartOptions {
  wiring: StageWiring;
  recorder: TraceRecorder;
  hosts: () => ReadonlyMap<string, FunctionHost>;
  sqs: () => SqsEngine;
  /** Publishes to an SNS on-failure destination. */
  publish?: (input: PublishInput, context: RequestContext) => unknown;
  /**
   * IAM: each on-failure record is sent as Lambda sends it, with the function's role, so a role that may not send it
   * (or use the destination's KMS key) loses it, as in AWS. Without one, records are sent unchecked.
   */
  authorizer?: Authorizer;
  /** The programs' captured resources: the destinations' resource policies and KMS keys. */
  programs?: () => readonly { resources: readonly CapturedResource[] }[];
  /** Where the line about a refused on-failure record goes. @default standard error */
  log?: (line: string) => void;
  kinds: readonly StreamSourceKind<unknown>[];
  /** How often shards are read besides the new-record wake-up. @default 250 (Lambda polls DynamoDB streams 4 times a second) */
  pollIntervalMs?: number;
}

/** One running mapping. */
export interface StreamMappingRun {
  /** As the wiring says now. */
  mapping: StreamMappingSpec;
  functionName: string;
  poller: ShardPoller<unknown>;
}

/** A mapping as the admin API lists it. */
export interface StreamMappingInfo {
  function: string;
  kind: StreamMappingSpec["kind"];
  eventSourceArn: string;
  state: "Enabled" | "Disabled" | "no local source";
  startingPosition: StreamMappingSpec["startingPosition"];
  batchSize: number;
  parallelizationFactor: number;
  onFailure?: string;
  invocations: number;
  filtered: number;
  discarded: { RetryAttemptsExhausted: number; RecordAgeExceeded: number };
  /** On-failure records the destination refused (the role may not send them), so lost: Lambda's metric of that name. */
  destinationDeliveryFailures: number;
  shards: ShardPosition[];
}

/** The streams part. */
export interface StreamsPart extends StagePart<StageWiring> {
  readonly mappings: readonly StreamMappingRun[];
  /** Every stream mapping with its shards' positions. */
  list(): StreamMappingInfo[];
  /** The on-failure records in the SQS destinations of the mappings (without taking them). */
  onFailureRecords(): { queue: string; function: string; messageId: string; record: OnFailureRecord }[];
  /**
   * Invokes a mapping's function again with the records of a shard's sequence range (an on-failure record's
   * `DDBStreamBatchInfo`), read back from the stream while its retention lasts, through the mapping's filter, as one
   * batch. A DynamoDB stream cannot be written to (its records are made by table writes), so a replay re-invokes the
   * function instead of putting records again.
   * @throws AwsServiceError naming the function, shard or range (not a mapping, no such shard, records past retention)
   */
  replay(functionName: string, shardId: string, range: { from: string; to: string }): Promise<StreamReplayResult>;
}

/** What a replay did. */
export interface StreamReplayResult {
  function: string;
  shardId: string;
  /** Records the function got again (the range's records its filter passes). */
  reinvoked: number;
  /** The range's records the mapping's filter left out. */
  filtered: number;
  /** `ok` (all taken), `partial` (batch item failures reported), `failed` (the function failed). */
  outcome: "ok" | "partial" | "failed";
  batchItemFailures?: unknown[];
  error?: string;
}

const key = (m: StreamMappingSpec) => `${m.eventSourceArn} -> ${m.functionArn}`;
const settings = (m: StreamMappingSpec) => JSON.stringify({ ...m, origin: undefined });

export function streamsPart(options: StreamsPartOptions): StreamsPart {
  const { recorder } = options;
  let wiring = options.wiring;
  const runs: StreamMappingRun[] = [];
  const kinds = new Map(options.kinds.map((k) => [k.kind, k]));
  const unsubscribe: (() => void)[] = [];
  let state: PartHealth = { status: "starting" };
  let problems: string[] = [];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  /** The trace context of recent invocations by request id: a refused on-failure record is shown under the last one. */
  const invocationContexts = new Map<string, RequestContext>();

  const ours = (w: StageWiring) => (w.streamMappings ?? []).filter((m) => kinds.has(m.kind));

  const start = async (mapping: StreamMappingSpec, checkpoints?: ReadonlyMap<string, string>): Promise<void> => {
    if (!mapping.enabled) return;
    const kind = kinds.get(mapping.kind)!;
    const fn = wiring.functions.find((f) => f.arn === mapping.functionArn);
    if (!fn) throw new Error(`event source mapping ${mapping.origin.name} invokes ${mapping.functionArn}, which no program created`);
    let filter;
    try {
      filter = mapping.filterCriteria ? compileFilterCriteria(mapping.filterCriteria) : undefined;
    } catch (error) {
      throw new Error(`event source mapping ${mapping.origin.name} of ${mapping.origin.project}: ${(error as Error).message}`, { cause: error });
    }
    const destination = mapping.onFailureDestinationArn;
    const poller: ShardPoller<unknown> = new ShardPoller<unknown>({
      source: kind.source(mapping, fn),
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
      ...(filter ? { filter } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(destination
        ? {
            onFailure: async (record: OnFailureRecord) => {
              if (options.authorizer) {
                checkOnFailureSend({ authorizer: options.authorizer, wiring, programs: options.programs?.() ?? [], fn, destinationArn: destination, record, recorder, invocationContexts, log });
              }
              if (destination.startsWith("arn:aws:sns:")) {
                if (!options.publish) throw new Error(`no SNS to send the on-failure record to ${destination}`);
                options.publish({ TopicArn: destination, Message: JSON.stringify(record) }, rootContext("lambda.amazonaws.com"));
              } else options.sqs().sendMessage(destination, { MessageBody: JSON.stringify(record) });
            },
          }
        : {}),
      onEvent: (event) => traceEvent(event, kind, recorder),
      // The function's host as it is now (watch mode may have replaced it since the poller started).
      invoke: (batch) =>
        invokeBatch(options.hosts().get(fn.name), recorder, kind, batch.records.map((r) => r.record), batch.requestId, mapping.reportBatchItemFailures, invocationContexts, batch.recordsJson),
    });
    await poller.start();
    runs.push({ mapping, functionName: fn.name, poller });
  };

  const health = (): PartHealth => {
    if (state.status !== "ok") return state;
    const blocked = runs.filter((r) => r.poller.positions().some((p) => p.retrying));
    const detail = `${runs.length} stream mappings, ${runs.reduce((n, r) => n + r.poller.busy, 0)} batches in flight`;
    if (problems.length) return { status: "degraded", detail: `${detail}; ${problems.join("; ")}` };
    return blocked.length ? { status: "ok", detail: `${detail}; retrying a batch: ${blocked.map((r) => r.functionName).join(", ")}` } : { status: "ok", detail };
  };

  return {
    name: "streams",
    mappings: runs,
    async start() {
      // The trace waits for every mapping reading a stream record before it settles.
      for (const kind of kinds.values()) {
        const off = kind.onRecord?.((eventSourceArn, traceId) => {
          const reading = runs.filter((r) => r.mapping.eventSourceArn === eventSourceArn).length;
          if (reading) recorder.streamRecordAwaited(traceId, reading);
        });
        if (off) unsubscribe.push(off);
      }
      for (const mapping of ours(wiring)) await start(mapping);
      state = { status: "ok" };
    },
    async stop() {
      state = { status: "stopped" };
      for (const off of unsubscribe.splice(0)) off();
      await Promise.all(runs.splice(0).map((r) => r.poller.stop()));
    },
    health,
    /**
     * Replaces the pollers of mappings removed, added or changed (and of functions whose definition changed): the
     * successor of a changed mapping resumes at its predecessor's checkpoints, as Lambda keeps an updated mapping's
     * position. The others keep reading.
     */
    async reconcile(next) {
      const before = new Map(ours(wiring).map((m) => [key(m), m]));
      const after = new Map(ours(next).map((m) => [key(m), m]));
      const changedFunctions = new Set(
        next.functions.filter((f) => {
          const old = wiring.functions.find((o) => o.name === f.name);
          return old && JSON.stringify({ ...old, origin: undefined }) !== JSON.stringify({ ...f, origin: undefined });
        }).map((f) => f.arn),
      );
      wiring = next;
      const failures: string[] = [];
      for (const [k, old] of before) {
        const replacement = after.get(k);
        const run = runs.find((r) => key(r.mapping) === k);
        if (replacement && settings(replacement) === settings(old) && !changedFunctions.has(old.functionArn)) {
          if (run) run.mapping = replacement;
          continue;
        }
        let checkpoints: Map<string, string> | undefined;
        if (run) {
          runs.splice(runs.indexOf(run), 1);
          await run.poller.stop();
          checkpoints = run.poller.checkpoints();
        }
        if (replacement) {
          try {
            await start(replacement, checkpoints);
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      }
      for (const [k, added] of after) {
        if (before.has(k)) continue;
        try {
          await start(added);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
      problems = failures;
    },
    list() {
      return (wiring.streamMappings ?? []).map((mapping) => {
        const run = runs.find((r) => key(r.mapping) === key(mapping));
        const fn = wiring.functions.find((f) => f.arn === mapping.functionArn);
        return {
          function: fn?.name ?? mapping.functionArn,
          kind: mapping.kind,
          eventSourceArn: mapping.eventSourceArn,
          state: !kinds.has(mapping.kind) ? "no local source" : mapping.enabled ? "Enabled" : "Disabled",
          startingPosition: mapping.startingPosition,
          batchSize: mapping.batchSize,
          parallelizationFactor: mapping.parallelizationFactor,
          ...(mapping.onFailureDestinationArn ? { onFailure: mapping.onFailureDestinationArn } : {}),
          invocations: run?.poller.invocations ?? 0,
          filtered: run?.poller.filtered ?? 0,
          discarded: { ...(run?.poller.discarded ?? { RetryAttemptsExhausted: 0, RecordAgeExceeded: 0 }) },
          destinationDeliveryFailures: run?.poller.destinationDeliveryFailures ?? 0,
          shards: run?.poller.positions() ?? [],
        };
      });
    },
    async replay(functionName, shardId, range) {
      const run = runs.find((r) => r.functionName === functionName && kinds.has(r.mapping.kind));
      if (!run) {
        const known = runs.map((r) => r.functionName).join(", ") || "none";
        throw new AwsServiceError("ResourceNotFoundException", `no running stream mapping invokes function ${functionName} (mappings: ${known})`);
      }
      if (!/^\d+$/.test(range.from) || !/^\d+$/.test(range.to) || BigInt(range.from) > BigInt(range.to)) {
        throw new AwsServiceError("InvalidParameter", `the sequence range must be two numbers, from <= to (got ${range.from} to ${range.to})`);
      }
      const mapping = run.mapping;
      const kind = kinds.get(mapping.kind)!;
      const fn = wiring.functions.find((f) => f.arn === mapping.functionArn)!;
      const source = kind.source(mapping, fn);
      if (!(await source.shards()).includes(shardId)) {
        throw new AwsServiceError("ResourceNotFoundException", `the stream ${source.streamArn} read by ${functionName} has no shard ${shardId}`);
      }
      const [from, to] = [BigInt(range.from), BigInt(range.to)];
      const reader = await source.reader(shardId, { after: (from - 1n).toString() });
      const records: unknown[] = [];
      let first: string | undefined;
      let filtered = 0;
      const filter = mapping.filterCriteria ? compileFilterCriteria(mapping.filterCriteria) : undefined;
      try {
        read: for (;;) {
          const page = await reader.read(1000);
          if (page.length === 0) break;
          for (const record of page) {
            if (BigInt(record.sequenceNumber) > to) break read;
            first ??= record.sequenceNumber;
            // The records Lambda gave the function passed the mapping's filter; the others in the range did not reach it.
            if (filter && !filter.matches(source.filterView ? source.filterView(record.record) : record.record)) filtered++;
            else records.push(record.record);
          }
        }
      } finally {
        reader.close?.();
      }
      if (first === undefined || BigInt(first) !== from) {
        throw new AwsServiceError(
          "InvalidParameter",
          `the records of ${shardId} from ${range.from} are no longer in the stream (a DynamoDB stream keeps them 24 hours): nothing to replay`,
        );
      }
      const base = { function: functionName, shardId, reinvoked: records.length, filtered };
      if (records.length === 0) return { ...base, outcome: "ok" };
      const outcome = await invokeBatch(options.hosts().get(functionName), recorder, kind, records, randomUUID(), mapping.reportBatchItemFailures);
      if (!outcome.ok) return { ...base, outcome: "failed", error: outcome.error };
      const failures = (outcome.payload as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
      return Array.isArray(failures) && failures.length > 0 && mapping.reportBatchItemFailures
        ? { ...base, outcome: "partial", batchItemFailures: failures }
        : { ...base, outcome: "ok" };
    },
    onFailureRecords() {
      const sqs = options.sqs();
      const seen = new Set<string>();
      return runs.flatMap((run) => {
        const arn = run.mapping.onFailureDestinationArn;
        if (!arn || arn.startsWith("arn:aws:sns:") || seen.has(arn) || !sqs.findQueue(arn)) return [];
        seen.add(arn);
        return sqs.peek(arn).flatMap((message) => {
          try {
            const record = JSON.parse(message.body) as OnFailureRecord;
            // One queue may take several mappings' records: the record names its function.
            const functionName = wiring.functions.find((f) => f.arn === record.requestContext?.functionArn)?.name ?? run.functionName;
            return [{ queue: arn.split(":").pop()!, function: functionName, messageId: message.messageId, record }];
          } catch {
            return [];
          }
        });
      });
    },
  };
}

/** The poller's events in the trace: what became of each traced record. */
function traceEvent(event: ShardPollerEvent<unknown>, kind: StreamSourceKind<unknown>, recorder: TraceRecorder): void {
  const done = (record: unknown, outcome: string) => {
    const id = kind.traceId?.(record);
    if (id) recorder.streamRecordDone(id, outcome);
  };
  if (event.kind === "filtered") done(event.record.record, "filtered-out");
  // A record the destination refused is given up on with nothing recording it.
  else if (event.kind === "discarded") for (const r of event.records) done(r.record, event.refused ? "given-up-unrecorded" : "given-up");
  else if (event.kind === "processed") for (const r of event.records) done(r.record, "processed");
}

/**
 * Runs one batch on the function's host, as Lambda invokes a function for a stream (synchronously, `{ Records }`),
 * with the trace continued from the batch's first traced record. A missing or stopped host is an invocation that
 * did not happen (the poller retries it without counting).
 */
async function invokeBatch(
  host: FunctionHost | undefined,
  recorder: TraceRecorder,
  kind: StreamSourceKind<unknown>,
  records: unknown[],
  requestId: string,
  reportBatchItemFailures: boolean,
  contexts?: Map<string, RequestContext>,
  /** Each record's JSON, as the poller encoded it: the event is built from them (the same text as encoding it whole). */
  recordsJson?: readonly string[],
): Promise<StreamInvokeOutcome> {
  if (!host) throw new Error("the function has no host (it was removed)");
  const ids = records.map((r) => kind.traceId?.(r)).filter((id): id is string => id !== undefined);
  const recordContext = ids.map((id) => recorder.streamRecordContext(id)).find((c) => c !== undefined);
  const context = recordContext ? childContext(recordContext, "lambda") : rootContext("lambda");
  if (contexts) rememberInvocation(contexts, requestId, context);
  const node: InvocationTrace = recorder.invocationStarted({ functionName: host.name, context, requestId: requestId || randomUUID(), streamRecords: ids });
  let result;
  try {
    const eventJson = recordsJson ? `{"Records":[${recordsJson.join(",")}]}` : undefined;
    result = await host.invoke({ Records: records }, { requestId, traceHeader: traceHeaderOf(context), ...(eventJson === undefined ? {} : { eventJson }) });
  } catch (error) {
    recorder.invocationFinished(node, { status: "failed", error: (error as Error).message });
    throw error;
  }
  if (!result.ok) {
    recorder.invocationFinished(node, {
      status: result.error.errorType === "Sandbox.Timedout" ? "timeout" : "failed",
      error: `${result.error.errorType}: ${result.error.errorMessage}`,
      durationMs: result.durationMs,
    });
    return { ok: false, error: `${result.error.errorType}: ${result.error.errorMessage}`, functionError: "Unhandled" };
  }
  const failures = (result.payload as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  const partial = reportBatchItemFailures && Array.isArray(failures) && failures.length > 0;
  recorder.invocationFinished(node, {
    status: partial ? "partial" : "ok",
    durationMs: result.durationMs,
    ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}),
  });
  return { ok: true, payload: result.payload };
}
