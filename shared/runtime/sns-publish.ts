import type { PublishBatchRequestEntry } from "@aws-sdk/client-sns";
import type { Envelope } from "../contract";
import { messageAttributes } from "./message-attributes";
import { snsClient, snsModule } from "./aws-clients";
import { PublishError } from "./errors";

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

/** Splits in order into batches of at most 10 entries and 256 KiB (SNS's PublishBatch limits). */
export function chunkMessages<T extends { readonly bytes: number }>(entries: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === SNS_LIMITS.batchEntries || (current.length > 0 && bytes + entry.bytes > SNS_LIMITS.batchBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.bytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What became of one call: the positions (in the chunk) of the events not published, and the error saying why. */
export interface ChunkOutcome {
  readonly failed: ReadonlySet<number>;
  readonly error?: PublishError;
}

const PUBLISHED: ChunkOutcome = { failed: new Set() };

/**
 * Sends one chunk (from `chunkMessages`) to `topicArn` in one call: Publish for a single event, PublishBatch (entry
 * ids `e0`, `e1`, ... in chunk order) for several. Does not throw for what SNS answers: a failed call fails every
 * event of the chunk, a PublishBatch's `Failed` entries fail theirs; `error` names them.
 */
export async function publishChunk(topicArn: string, chunk: readonly PreparedMessage[]): Promise<ChunkOutcome> {
  const { PublishCommand, PublishBatchCommand } = snsModule();
  const all = () => new Set(chunk.map((_, index) => index));
  if (chunk.length === 1) {
    const { entry, eventId } = chunk[0]!;
    try {
      await snsClient().send(new PublishCommand({ TopicArn: topicArn, ...entry }));
    } catch (cause) {
      return { failed: all(), error: new PublishError(`publishing event ${eventId} to ${topicArn} failed: ${describe(cause)}`, [eventId], { cause }) };
    }
    return PUBLISHED;
  }
  let failed: { Id?: string; Code?: string; Message?: string }[] | undefined;
  try {
    const response = await snsClient().send(
      new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: chunk.map((p, index) => ({ Id: `e${index}`, ...p.entry })) }),
    );
    failed = response.Failed;
  } catch (cause) {
    const eventIds = chunk.map((p) => p.eventId);
    return { failed: all(), error: new PublishError(`publishing ${chunk.length} events to ${topicArn} failed: ${describe(cause)}`, eventIds, { cause }) };
  }
  if (!failed?.length) return PUBLISHED;
  const positions = new Set<number>();
  for (const entry of failed) {
    const match = /^e(\d+)$/.exec(entry.Id ?? "");
    const index = match ? Number(match[1]) : -1;
    if (index < 0 || index >= chunk.length) {
      // An id that is none of ours: no entry can be known to be published.
      const eventIds = chunk.map((p) => p.eventId);
      return { failed: all(), error: new PublishError(`SNS answered PublishBatch to ${topicArn} with an unknown entry id ${String(entry.Id)}`, eventIds) };
    }
    positions.add(index);
  }
  const ids = [...positions].map((index) => chunk[index]!.eventId);
  const reasons = [...new Set(failed.map((f) => `${f.Code ?? "error"}: ${f.Message ?? ""}`))].join("; ");
  return { failed: positions, error: new PublishError(`SNS refused ${failed.length} of ${chunk.length} events to ${topicArn} (${reasons})`, ids) };
}

/**
 * Sends events to SNS: one Publish for a single event, PublishBatch (chunks of 10, at most 256 KiB) for several to
 * the same topic. Topics are sent one after another and chunks in order, which keeps FIFO order within a call.
 * Throws `PublishError` naming the events that were not published.
 */
export async function sendToTopics(messages: readonly TopicMessage[]): Promise<void> {
  const byTopic = new Map<string, PreparedMessage[]>();
  for (const message of messages) {
    const prepared = prepareMessage(message);
    const list = byTopic.get(message.topicArn);
    if (list) list.push(prepared);
    else byTopic.set(message.topicArn, [prepared]);
  }
  for (const [topicArn, entries] of byTopic) {
    for (const part of chunkMessages(entries)) {
      const { error } = await publishChunk(topicArn, part);
      if (error) throw error;
    }
  }
}
