import type { PublishBatchRequestEntry, SNSClient } from "@aws-sdk/client-sns";
import type { Envelope } from "../contract";
import { messageAttributes } from "./message-attributes";
import { snsClient, snsModule } from "./aws-clients";
import { PublishError } from "./errors";
import { logger } from "./logger";
import { groupBy } from "./collections";
import { refreshUntil } from "./retry-wait";

/** One event on its way to a topic. */
export interface TopicMessage {
  readonly topicArn: string;
  readonly envelope: Envelope;
  /** Catalog version of `data` (the `dataversion` attribute). */
  readonly dataVersion: number;
  /** For FIFO topics: the message group (the deduplication id is always the event id). */
  readonly messageGroupId?: string;
}

/** SNS limits: entries per PublishBatch, bytes per message and per batch (message plus attributes). */
export const SNS_LIMITS = { batchEntries: 10, messageBytes: 262_144, batchBytes: 262_144 } as const;

/** The filterable attributes every event carries (message-attributes.ts). */
export { messageAttributes };

/** An event ready to send to its topic: its PublishBatch entry (the batch gives it its `Id`) and size, checked. */
export interface PreparedMessage {
  readonly topicArn: string;
  readonly entry: Omit<PublishBatchRequestEntry, "Id">;
  /** Message plus attributes, as SNS counts them against its limits. */
  readonly bytes: number;
  readonly eventId: string;
}

/**
 * The entry for one event: the envelope as the body, its filterable attributes, and on FIFO topics its message group
 * with the event id as deduplication id. Throws `PublishError` for an event over SNS's message size.
 */
export function prepareMessage(message: TopicMessage): PreparedMessage {
  const body = JSON.stringify(message.envelope);
  const attributes = messageAttributes(message.envelope, message.dataVersion);
  let bytes = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? "") + Buffer.byteLength(value.StringValue ?? "");
  }
  const eventId = message.envelope.id;
  if (bytes > SNS_LIMITS.messageBytes) {
    throw new PublishError(`event ${eventId} is ${bytes} bytes; SNS accepts at most ${SNS_LIMITS.messageBytes}`, [eventId]);
  }
  const entry: Omit<PublishBatchRequestEntry, "Id"> =
    message.messageGroupId === undefined
      ? { Message: body, MessageAttributes: attributes }
      : { Message: body, MessageAttributes: attributes, MessageGroupId: message.messageGroupId, MessageDeduplicationId: eventId };
  return { topicArn: message.topicArn, entry, bytes, eventId };
}

/**
 * Splits in order into batches of at most 10 entries and 256 KiB (SNS's PublishBatch limits), with at most one entry
 * of each FIFO message group per batch: SNS reports a batch's entries one by one, so a group's later entry could be
 * published while an earlier one failed, and go out before it once that one is sent again.
 */
export function chunkMessages<T extends { readonly bytes: number; readonly entry?: { readonly MessageGroupId?: string | undefined } }>(
  entries: readonly T[],
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  let groups = new Set<string>();
  for (const entry of entries) {
    const group = entry.entry?.MessageGroupId;
    if (
      current.length === SNS_LIMITS.batchEntries ||
      (current.length > 0 && bytes + entry.bytes > SNS_LIMITS.batchBytes) ||
      (group !== undefined && groups.has(group))
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
      groups = new Set();
    }
    current.push(entry);
    bytes += entry.bytes;
    if (group !== undefined) groups.add(group);
  }
  if (current.length) chunks.push(current);
  return chunks;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What became of one chunk: the positions (in the chunk) of the events not published, and the error saying why. */
export interface ChunkOutcome {
  readonly failed: ReadonlySet<number>;
  readonly error?: PublishError;
}

export interface PublishChunkOptions {
  /**
   * Epoch milliseconds after which no PublishBatch entry is sent again (the relay passes its invocation's end minus
   * a margin). @default no bound but the SNS client's `maxAttempts`
   */
  readonly deadline?: number;
  /**
   * The group of the chunk's entry at `index` (the relay's: its record), whose entries go out in chunk order: an entry
   * is not sent again once an earlier one of its group failed for good. @default each entry its own group
   */
  readonly groupOf?: (index: number) => unknown;
}

const PUBLISHED: ChunkOutcome = { failed: new Set() };

/** The entry codes SNS documents as throttling (PublishBatch's `Throttled` and `KMSThrottling` errors). */
const THROTTLING_CODES: ReadonlySet<string> = new Set(["Throttled", "KMSThrottling", "Throttling", "ThrottlingException"]);

/** The SNS client's retry strategy, as its config gives it (the SDK's standard or adaptive strategy). */
type RetryStrategyV2 = Extract<Awaited<ReturnType<SNSClient["config"]["retryStrategy"]>>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2["acquireInitialRetryToken"]>>;
type RetryError = NonNullable<Parameters<RetryStrategyV2["refreshRetryTokenForRetry"]>[1]["error"]>;

type FailedEntry = { Id?: string; Code?: string; Message?: string; SenderFault?: boolean };

/** One PublishBatch call: the failed entries' positions with their `Failed` answers, or the call's error. */
async function publishBatch(topicArn: string, chunk: readonly PreparedMessage[]): Promise<{ failed: Map<number, FailedEntry> } | { error: PublishError }> {
  const { PublishBatchCommand } = snsModule();
  const eventIds = () => chunk.map((p) => p.eventId);
  let answered: FailedEntry[] | undefined;
  try {
    const response = await snsClient().send(
      new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: chunk.map((p, index) => ({ Id: `e${index}`, ...p.entry })) }),
    );
    answered = response.Failed;
  } catch (cause) {
    return { error: new PublishError(`publishing ${chunk.length} events to ${topicArn} failed: ${describe(cause)}`, eventIds(), { cause }) };
  }
  const failed = new Map<number, FailedEntry>();
  for (const entry of answered ?? []) {
    const match = /^e(\d+)$/.exec(entry.Id ?? "");
    const index = match ? Number(match[1]) : -1;
    if (index < 0 || index >= chunk.length) {
      // An id that is none of ours: no entry can be known to be published.
      return { error: new PublishError(`SNS answered PublishBatch to ${topicArn} with an unknown entry id ${String(entry.Id)}`, eventIds()) };
    }
    failed.set(index, entry);
  }
  return { failed };
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

/** The SNS client's own retry strategy (standard or adaptive, with its `maxAttempts` and retry quota), if it is one. */
async function clientRetryStrategy(): Promise<RetryStrategyV2 | undefined> {
  const strategy = await snsClient().config.retryStrategy();
  return "acquireInitialRetryToken" in strategy ? strategy : undefined;
}

/** Waits `ms`, or until `deadline` if that comes first. */
async function pause(ms: number, deadline: number | undefined): Promise<void> {
  const wait = Math.min(ms, deadline === undefined ? ms : deadline - Date.now());
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * Sends one chunk (from `chunkMessages`) to `topicArn`: Publish for a single event (the SDK retries a throttled or
 * failed call itself), PublishBatch (entry ids `e0`, `e1`, ... in chunk order) for several. PublishBatch entries SNS
 * failed on its side (`SenderFault: false`: `InternalError`, `Throttled`, `KMSThrottling`) are sent again, in a
 * PublishBatch of only those entries in chunk order, with the SNS client's own retry strategy: its backoff (the
 * throttling one for throttling codes; waited in the strategy or, as the SDK's retry middleware does, from its
 * token's `getRetryDelay()`, cut at the deadline), its `maxAttempts` (counting the first call) and its retry quota, and never
 * after `options.deadline`. Entries the sender caused (`SenderFault: true`) are not sent again, nor the later entries
 * of their group (`options.groupOf`). Does not throw for
 * what SNS answers: a failed call fails every event not yet published, entries still failed at the end fail theirs;
 * `error` names them.
 */
export async function publishChunk(topicArn: string, chunk: readonly PreparedMessage[], options: PublishChunkOptions = {}): Promise<ChunkOutcome> {
  const { PublishCommand } = snsModule();
  if (chunk.length === 1) {
    const { entry, eventId } = chunk[0]!;
    try {
      await snsClient().send(new PublishCommand({ TopicArn: topicArn, ...entry }));
    } catch (cause) {
      return { failed: new Set([0]), error: new PublishError(`publishing event ${eventId} to ${topicArn} failed: ${describe(cause)}`, [eventId], { cause }) };
    }
    return PUBLISHED;
  }
  // Positions (in the chunk) still to send; those failed for good (the sender's fault); the failed entries' answers.
  let pending = chunk.map((_, index) => index);
  const stopped: number[] = [];
  const answers = new Map<number, FailedEntry>();
  let strategy: RetryStrategyV2 | undefined;
  let token: RetryToken | undefined;
  const past = () => options.deadline !== undefined && Date.now() >= options.deadline;
  const DEADLINE = "the deadline (the invocation's end less its margin) came";
  /** Why entries SNS failed on its side were not sent again (for the error), and how many calls were made. */
  let gaveUp = "";
  let calls = 0;
  for (let attempt = 1; ; attempt++) {
    calls = attempt;
    const result = await publishBatch(topicArn, pending.map((index) => chunk[index]!));
    if ("error" in result) {
      const failed = new Set([...stopped, ...pending]);
      const eventIds = [...failed].sort((x, y) => x - y).map((index) => chunk[index]!.eventId);
      return { failed, error: new PublishError(result.error.message, eventIds, { cause: result.error.cause ?? result.error }) };
    }
    const failedNow = [...result.failed].map(([at, entry]) => [pending[at]!, entry] as const);
    for (const [index, entry] of failedNow) answers.set(index, entry);
    let retryable = failedNow.filter(([, entry]) => entry.SenderFault === false);
    stopped.push(...failedNow.filter(([, entry]) => entry.SenderFault !== false).map(([index]) => index));
    // An entry whose group has an earlier entry failed for good stays failed: it must not overtake that one.
    const { groupOf } = options;
    const [blocked, free] = partition(retryable, ([index]) => groupOf !== undefined && stopped.some((at) => at < index && groupOf(at) === groupOf(index)));
    stopped.push(...blocked.map(([index]) => index));
    retryable = free;
    pending = retryable.map(([index]) => index);
    if (pending.length === 0) {
      if (strategy && token) strategy.recordSuccess(token);
      break;
    }
    if (past()) {
      gaveUp = DEADLINE;
      break;
    }
    strategy ??= await clientRetryStrategy();
    if (!strategy) {
      gaveUp = "the SNS client has no retry strategy to follow";
      break;
    }
    token ??= await strategy.acquireInitialRetryToken("sns:PublishBatch");
    const codes = [...new Set(retryable.map(([, entry]) => entry.Code ?? "error"))];
    const error = Object.assign(new Error(retryable.map(([, e]) => `${e.Code ?? "error"}: ${e.Message ?? ""}`).join("; ")), { name: codes[0]! });
    const errorType = codes.some((code) => THROTTLING_CODES.has(code)) ? "THROTTLING" : "TRANSIENT";
    // Waits the strategy's backoff; it refuses (throws) once the client's maxAttempts or its retry quota are spent.
    // At the deadline the wait ends (no timer of it left) and a retry that will not happen gives its cost back to
    // the quota (recordSuccess returns a token's cost), whenever its token comes.
    const retry = strategy;
    const previous = token;
    const giveBack = (unused: RetryToken | "refused") => unused !== "refused" && retry.recordSuccess(unused);
    const next = await refreshUntil(
      () => retry.refreshRetryTokenForRetry(previous, { errorType, error: error as RetryError }).catch(() => "refused" as const),
      options.deadline,
      giveBack,
    );
    if (next === "refused" || !next || past()) {
      if (next) giveBack(next);
      gaveUp = next === "refused" ? "the SNS client's retry strategy refused another attempt (its maxAttempts or retry quota)" : DEADLINE;
      break;
    }
    token = next;
    // A strategy may also hand its backoff back in the token, for the caller to wait (as the SDK's retry middleware does).
    await pause(next.getRetryDelay(), options.deadline);
    if (past()) {
      giveBack(next);
      gaveUp = DEADLINE;
      break;
    }
    logger.debug("PublishBatch entries failed on SNS's side: sending them again", {
      topicArn,
      attempt: attempt + 1,
      eventIds: pending.map((index) => chunk[index]!.eventId),
      codes,
    });
  }
  const failed = new Set([...stopped, ...pending]);
  if (failed.size === 0) return PUBLISHED;
  const ids = [...failed].sort((x, y) => x - y).map((index) => chunk[index]!.eventId);
  const reasons = [...new Set([...failed].map((index) => answers.get(index)).map((f) => `${f?.Code ?? "error"}: ${f?.Message ?? ""}`))].join("; ");
  const retries = pending.length ? `; not sent again after ${calls} ${calls === 1 ? "call" : "calls"}: ${gaveUp}` : "";
  return { failed, error: new PublishError(`SNS refused ${failed.size} of ${chunk.length} events to ${topicArn} (${reasons})${retries}`, ids) };
}

/**
 * Sends events to SNS: one Publish for a single event, PublishBatch (`chunkMessages`: chunks of 10, at most 256 KiB,
 * one entry per FIFO message group) for several to
 * the same topic. Topics are sent one after another and chunks in order, which keeps FIFO order within a call.
 * Throws `PublishError` naming the events that were not published.
 */
export async function sendToTopics(messages: readonly TopicMessage[]): Promise<void> {
  const byTopic = groupBy(messages.map(prepareMessage), (prepared) => prepared.topicArn);
  for (const [topicArn, entries] of byTopic) {
    for (const part of chunkMessages(entries)) {
      const { error } = await publishChunk(topicArn, part);
      if (error) throw error;
    }
  }
}
