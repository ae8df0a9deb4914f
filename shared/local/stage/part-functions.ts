/**
 * The functions part (one host per function, running its bundle in worker threads, with the role's policies
 * registered under the function's access key id) and the pollers part (one poller per event source mapping,
 * invoking the function's host as Lambda's SQS poller does).
 */
import type { SQSEvent } from "aws-lambda";
import { esbuildTarget, isCurrentRuntime } from "../../infra/helpers/runtimes";
import { messageAttributeNames } from "../../contract/envelope";
import { contextFromHeader, traceHeaderOf } from "../context";
import { FunctionHost, type FunctionLogEntry, type InvocationResult } from "../lambda/function-host";
import type { SqsEngine } from "../sqs/engine";
import { interpretBatchResponse, QueuePoller } from "../sqs/poller";
import { hostChanges, pollerChanges } from "../watch/reconcile";
import { diffWiring, wiringKeys } from "../watch/wiring-diff";
import type { PartHealth, StagePart } from "./parts";
import type { InvocationTrace, TraceRecorder } from "./trace";
import type { FunctionSpec, MappingSpec, StageWiring } from "./wiring";

/** What the functions part needs. */
export interface FunctionsPartOptions {
  wiring: StageWiring;
  recorder: TraceRecorder;
  /** The AWS endpoints the functions get (known once DynamoDB and messaging started). */
  endpoints: () => { sns: string; sqs: string; dynamodb: string; sfn?: string; kinesis?: string; rdsData?: string };
  onLog?: (entry: FunctionLogEntry) => void;
  /**
   * The parts (by name) whose endpoints `endpoints` reads, started before this one (see parts.ts).
   * @default every part before it
   */
  needs?: readonly string[];
  /**
   * Settles once the endpoints of parts not in `needs` are known (the relational part's Data API serves before its
   * migrations run: the bundles are checked while they do). Awaited before `endpoints()` is read.
   */
  endpointsKnown?: () => Promise<unknown>;
}

/** The functions part: `hosts` by function name, there once it started. */
export interface FunctionsPart extends StagePart<StageWiring> {
  readonly hosts: ReadonlyMap<string, FunctionHost>;
  /** When (performance.now()) this start began checking the bundles and when they were all ready. */
  readonly timings: { began?: number; prepared?: number };
  reconcile(next: StageWiring): Promise<void>;
}

function createHost(
  fn: FunctionSpec,
  context: {
    region: string;
    accountId: string;
    endpoints: { sns: string; sqs: string; dynamodb: string; sfn?: string; kinesis?: string; rdsData?: string };
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
      // The deploy's bundle settings as its ServiceFunction registered them (so the host asks the build service for
      // the deployed bundle); for another function, the shared options targeting its runtime.
      bundle: fn.bundleSettings ?? (isCurrentRuntime(fn.runtime) ? { target: esbuildTarget(fn.runtime) } : {}),
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

/** Each function's concurrency from its event source mappings (the sum of their maximum concurrency). */
function mappingConcurrencyOf(wiring: StageWiring): Map<string, number> {
  const mappingConcurrency = new Map<string, number>();
  for (const mapping of wiring.mappings) {
    const current = mappingConcurrency.get(mapping.functionArn) ?? 0;
    mappingConcurrency.set(mapping.functionArn, current + (mapping.maximumConcurrency ?? 5));
  }
  return mappingConcurrency;
}

export function functionsPart(options: FunctionsPartOptions): FunctionsPart {
  const { recorder } = options;
  let wiring = options.wiring;
  const hosts = new Map<string, FunctionHost>();
  let state: PartHealth = { status: "starting" };
  const timings: { began?: number; prepared?: number } = {};
  return {
    name: "functions",
    ...(options.needs ? { needs: options.needs } : {}),
    hosts,
    timings,
    async start() {
      await options.endpointsKnown?.();
      timings.began = performance.now();
      const mappingConcurrency = mappingConcurrencyOf(wiring);
      const endpoints = options.endpoints();
      for (const fn of wiring.functions) {
        hosts.set(
          fn.name,
          createHost(fn, { region: wiring.region, accountId: wiring.accountId, endpoints, maxConcurrency: mappingConcurrency.get(fn.arn), recorder, onLog: options.onLog }),
        );
      }
      await Promise.all(
        wiring.functions.map(async (fn) => {
          try {
            await hosts.get(fn.name)!.prepare();
          } catch (error) {
            // A LocalBundleError carries esbuild's messages with file and line.
            throw new Error(`the handler of ${fn.service}/${fn.logicalName} (${fn.entry}) does not build: ${(error as Error).message}`, { cause: error });
          }
        }),
      );
      timings.prepared = performance.now();
      state = { status: "ok", detail: `${hosts.size} functions` };
    },
    async stop() {
      state = { status: "stopped" };
      await Promise.all([...hosts.values()].map((host) => host.stop()));
    },
    health: () => state,
    /**
     * New and changed functions get a new host, built before anything changes (a handler that does not build fails
     * the reconcile, and the old hosts keep serving); then each takes its name in `hosts`, and the host it replaces, or
     * a removed function's, drains (its invocations under way finish) and stops. A change to the role's policies only
     * is IAM's: the host stays. A changed handler file is the host's own business (`FunctionHost.reload`).
     */
    async reconcile(next) {
      const changes = hostChanges(diffWiring(wiring, next));
      const before = mappingConcurrencyOf(wiring);
      const after = mappingConcurrencyOf(next);
      const fresh = [...changes.added, ...changes.replaced];
      for (const fn of next.functions) {
        if (hosts.has(fn.name) && before.get(fn.arn) !== after.get(fn.arn) && !fresh.includes(fn)) fresh.push(fn);
      }
      const endpoints = options.endpoints();
      const built = new Map(
        fresh.map((fn) => [fn.name, createHost(fn, { region: next.region, accountId: next.accountId, endpoints, maxConcurrency: after.get(fn.arn), recorder, onLog: options.onLog })]),
      );
      try {
        await Promise.all(
          fresh.map(async (fn) => {
            try {
              await built.get(fn.name)!.prepare();
            } catch (error) {
              throw new Error(`the handler of ${fn.service}/${fn.logicalName} (${fn.entry}) does not build: ${(error as Error).message}`, { cause: error });
            }
          }),
        );
      } catch (error) {
        await Promise.all([...built.values()].map((host) => host.stop()));
        throw error;
      }
      for (const [name, host] of built) {
        const old = hosts.get(name);
        hosts.set(name, host);
        void old?.drain();
      }
      for (const fn of changes.removed) {
        const old = hosts.get(fn.name);
        hosts.delete(fn.name);
        void old?.drain();
      }
      wiring = next;
      state = { status: "ok", detail: `${hosts.size} functions` };
    },
  };
}

/** What the pollers part needs. */
export interface PollersPartOptions {
  wiring: StageWiring;
  recorder: TraceRecorder;
  sqs: () => SqsEngine;
  hosts: () => ReadonlyMap<string, FunctionHost>;
}

/** The pollers part: one per enabled event source mapping. */
export interface PollersPart extends StagePart<StageWiring> {
  readonly pollers: readonly QueuePoller[];
}

export function pollersPart(options: PollersPartOptions): PollersPart {
  const { recorder } = options;
  let wiring = options.wiring;
  const pollers: QueuePoller[] = [];
  /** The poller of each mapping (by `wiringKeys.mappings`). */
  const byMapping = new Map<string, QueuePoller>();
  let stopped = false;
  const startPoller = (mapping: MappingSpec, functionsByArn: ReadonlyMap<string, FunctionSpec>): void => {
    if (!mapping.enabled) return;
    const fn = functionsByArn.get(mapping.functionArn)!;
    const poller = new QueuePoller({
      sqs: options.sqs(),
      queue: mapping.queueArn,
      functionName: fn.name,
      batchSize: mapping.batchSize,
      maximumBatchingWindowInSeconds: mapping.maximumBatchingWindowInSeconds,
      ...(mapping.maximumConcurrency !== undefined ? { maximumConcurrency: mapping.maximumConcurrency } : {}),
      // The host enforces the function's timeout (and reports it as Lambda does); the poller's is a backstop.
      functionTimeoutSeconds: Math.min(900, fn.timeoutSeconds + 1),
      reportBatchItemFailures: mapping.reportBatchItemFailures,
      onTrace: (event) => recorder.messaging(event),
      // The function's host as it is now (watch mode may have replaced it since the poller started).
      handler: (event, context) => invokeForBatch(options.hosts().get(fn.name)!, recorder, event, context.awsRequestId, mapping.reportBatchItemFailures),
    });
    poller.start();
    pollers.push(poller);
    byMapping.set(wiringKeys.mappings(mapping), poller);
  };
  return {
    name: "pollers",
    pollers,
    start() {
      const functionsByArn = new Map(wiring.functions.map((f) => [f.arn, f]));
      for (const mapping of wiring.mappings) startPoller(mapping, functionsByArn);
    },
    /**
     * Stops the pollers of mappings removed or changed (and of functions whose definition changed: their timeout
     * bounds the poller) and starts their successors; the rest keep polling. A stopped poller's batches under way
     * finish; what it had gathered but not invoked becomes visible again for its successor.
     */
    reconcile(next) {
      const { stop, start } = pollerChanges(diffWiring(wiring, next), next);
      for (const mapping of stop) {
        const key = wiringKeys.mappings(mapping);
        const poller = byMapping.get(key);
        if (!poller) continue;
        byMapping.delete(key);
        pollers.splice(pollers.indexOf(poller), 1);
        void poller.stop();
      }
      const functionsByArn = new Map(next.functions.map((f) => [f.arn, f]));
      for (const mapping of start) startPoller(mapping, functionsByArn);
      wiring = next;
    },
    async stop() {
      stopped = true;
      await Promise.all(pollers.map((poller) => poller.stop()));
    },
    health() {
      if (stopped) return { status: "stopped" };
      const idle = pollers.filter((p) => !p.running);
      return idle.length
        ? { status: "degraded", detail: `${idle.length} of ${pollers.length} pollers stopped: ${idle.map((p) => p.functionName).join(", ")}` }
        : { status: "ok", detail: `${pollers.length} pollers, ${pollers.reduce((n, p) => n + p.inFlight, 0)} batches in flight` };
    },
  };
}

/** Runs one SQS batch on the host and reports it to the trace; throws when the invocation failed (as Lambda fails it). */
async function invokeForBatch(host: FunctionHost, recorder: TraceRecorder, event: SQSEvent, requestId: string, reportBatchItemFailures: boolean): Promise<unknown> {
  // Lambda continues the trace the first message carries (AWSTraceHeader): the invocation is a span of its own under
  // it, and runs with a header naming that span, so the function's SDK calls arrive as its children.
  // Its correlation id is the first message's (raw deliveries carry it as a message attribute).
  const first = event.Records[0];
  const context = contextFromHeader(first?.attributes.AWSTraceHeader, "lambda", first?.messageAttributes[messageAttributeNames.correlationId]?.stringValue);
  const traceHeader = traceHeaderOf(context);
  const ids = event.Records.map((r) => r.messageId);
  const node: InvocationTrace = recorder.invocationStarted({
    functionName: host.name,
    context,
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
