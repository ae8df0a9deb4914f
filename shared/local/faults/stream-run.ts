/**
 * What the fault runs of a Kinesis stream's readers share (stream-scenario.ts: ledger's consumer; relational-scenario.ts:
 * reporting's relational writer): the crashes of the reader while it runs a batch, the poison records put among the
 * events, the wait until the reader's checkpoints reach the end of every shard, and the reading of the outcome
 * (the records inside the reader's on-failure ranges, the failure events reported) with the check that every
 * event and every poison record is accounted for.
 */
import type { FunctionHost } from "../lambda/function-host";
import type { LocalStage } from "../stage";
import type { StageWiring } from "../stage/wiring";
import type { OnFailureRecord } from "../streams/shard-poller";
import type { Prng } from "./prng";

/**
 * The stage's wiring with the reader's timeout set to `timeoutSeconds` and, when `retryAttempts` is given, its stream
 * mappings' `maximumRetryAttempts` (the runs' compressed time: a crashed batch's lock lasts the invocation's time).
 */
export function withReaderTiming(wiring: StageWiring, reader: string, timeoutSeconds: number, retryAttempts: number | undefined): StageWiring {
  const fn = wiring.functions.find((f) => f.name === reader);
  return {
    ...wiring,
    functions: wiring.functions.map((f) => (f === fn ? { ...f, timeoutSeconds } : f)),
    streamMappings: (wiring.streamMappings ?? []).map((m) => (retryAttempts !== undefined && fn && m.functionArn === fn.arn ? { ...m, maximumRetryAttempts: retryAttempts } : m)),
  };
}

/** Crashes of a function while it runs a batch, stopped with `stop()` (idempotent); `count` is how many were made. */
export interface BatchCrasher {
  readonly count: number;
  stop(): void;
}

/**
 * Kills `host`'s execution environment while it runs an invocation (`FunctionHost.crash`), at most `max` times: every
 * `everyMs`, when an invocation is running, with a chance of one half drawn from `prng`.
 */
export function crashRunningBatches(host: FunctionHost, options: { prng: Prng; max: number; everyMs: number }): BatchCrasher {
  const running = new Set<string>();
  const invoke = host.invoke.bind(host);
  host.invoke = async (event, invokeOptions = {}) => {
    const requestId = invokeOptions.requestId;
    if (requestId) running.add(requestId);
    try {
      return await invoke(event, invokeOptions);
    } finally {
      if (requestId) running.delete(requestId);
    }
  };
  let count = 0;
  const timer = setInterval(() => {
    if (count >= options.max || running.size === 0 || !options.prng.chance(0.5)) return;
    const [requestId] = running;
    count++;
    void host.crash({ requestId: requestId! });
  }, options.everyMs);
  return {
    get count() {
      return count;
    },
    stop: () => clearInterval(timer),
  };
}

/** The `i`th poison record: text that is no JSON, or (as often) an envelope of `type` whose `data` breaks its schema. */
export function poisonRecord(prng: Prng, options: { seed: number; i: number; type: string; source: string; data: Record<string, unknown> }): string {
  return prng.chance(0.5)
    ? `not an event ${options.i}`
    : JSON.stringify({ specversion: "1.0", id: `poison-${options.seed}-${options.i}`, type: options.type, source: options.source, data: options.data });
}

/**
 * Waits until `reader`'s checkpoint of every shard of `stream` reached the shard's last record.
 * @returns a violation when `deadlineMs` passed first, else undefined
 */
export async function waitUntilRead(stage: LocalStage, options: { stream: string; reader: string; role: string; deadlineMs: number }): Promise<string | undefined> {
  const deadline = Date.now() + options.deadlineMs;
  for (;;) {
    const [stream] = (await stage.kinesis.listStreams()).filter((s) => s.name === options.stream);
    const consumer = stream?.consumers.find((c) => c.function === options.reader);
    const done =
      stream &&
      consumer &&
      stream.shards.every((s) => !s.lastSequenceNumber || (consumer.checkpoints[s.shardId] !== undefined && BigInt(consumer.checkpoints[s.shardId]!) >= BigInt(s.lastSequenceNumber)));
    if (done) return undefined;
    if (Date.now() > deadline) {
      return `the ${options.role} had not read the stream to its end after ${options.deadlineMs} ms: ${JSON.stringify(consumer?.checkpoints)} of ${JSON.stringify(stream?.shards)}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Event ids and record data, as a check matches them. */
export interface RecordsFound {
  ids: Set<string>;
  bodies: Set<string>;
}

/** The records of `stream` inside the ranges of `onFailure` records (the batches Lambda gave up on): their data and event ids. */
export async function recordsGivenUp(stage: LocalStage, stream: string, onFailure: readonly OnFailureRecord[]): Promise<RecordsFound> {
  const ranges = onFailure.flatMap((r) => (r.KinesisBatchInfo ? [r.KinesisBatchInfo] : []));
  const records = (await Promise.all((await stage.kinesis.engine.shards(stream)).map((s) => stage.kinesis.engine.readRange(stream, s.ShardId)))).flat();
  const found: RecordsFound = { ids: new Set(), bodies: new Set() };
  for (const record of records) {
    const inRange = ranges.some(
      (r) => r.shardId === record.shardId && BigInt(record.sequenceNumber) >= BigInt(r.startSequenceNumber) && BigInt(record.sequenceNumber) <= BigInt(r.endSequenceNumber),
    );
    if (!inRange) continue;
    const body = record.data.toString("utf8");
    found.bodies.add(body);
    try {
      found.ids.add(String((JSON.parse(body) as { id?: unknown }).id));
    } catch {}
  }
  return found;
}

/**
 * The events the failure events in the platform's failure queue report (their original id and body), all of them
 * or only those `service` reported.
 */
export function reportedInFailureEvents(stage: LocalStage, service?: string): RecordsFound {
  const failureQueue = stage.sqs.listQueues().find((q) => q.name === "local-platform-event-failed");
  const reports = failureQueue
    ? stage.sqs.peek(failureQueue.arn).flatMap((m) => {
        try {
          const event = JSON.parse(m.body) as { data: { originalId?: string; originalBody?: string; service?: string } };
          return service === undefined || event.data.service === service ? [event.data] : [];
        } catch {
          return [];
        }
      })
    : [];
  return {
    ids: new Set(reports.map((r) => r.originalId).filter((id): id is string => id !== undefined)),
    bodies: new Set(reports.flatMap((r) => (r.originalBody === undefined ? [] : [r.originalBody]))),
  };
}

/**
 * Every planned event applied, given up on (in an on-failure range) or reported (a failure event); a violation
 * (`describe`d) for each that is none of these.
 */
export function accountForEvents<E extends { id: string }>(
  planned: readonly E[],
  outcome: { applied: (event: E) => boolean; givenUp: RecordsFound; reported: RecordsFound; describe: (event: E) => string },
  violations: string[],
): { applied: number; deadLettered: number; reported: number } {
  const counts = { applied: 0, deadLettered: 0, reported: 0 };
  for (const event of planned) {
    if (outcome.applied(event)) counts.applied++;
    else if (outcome.givenUp.ids.has(event.id)) counts.deadLettered++;
    else if (outcome.reported.ids.has(event.id)) counts.reported++;
    else violations.push(`event ${event.id} (${outcome.describe(event)}) was lost: not applied, not in an on-failure range, not reported`);
  }
  return counts;
}

/** Every poison record reported (a failure event names its body) or given up on; a violation for each that is neither. */
export function accountForPoison(
  poisonBodies: readonly string[],
  outcome: { givenUp: RecordsFound; reported: RecordsFound },
  violations: string[],
): { poisonReported: number; poisonDeadLettered: number } {
  const counts = { poisonReported: 0, poisonDeadLettered: 0 };
  for (const body of poisonBodies) {
    if (outcome.reported.bodies.has(body)) counts.poisonReported++;
    else if (outcome.givenUp.bodies.has(body)) counts.poisonDeadLettered++;
    else violations.push(`poison record ${body.slice(0, 60)} became no failure event and is in no on-failure range`);
  }
  return counts;
}
