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

interface Prepared {
  readonly entry: PublishBatchRequestEntry;
  readonly bytes: number;
  readonly eventId: string;
}

function prepare(message: TopicMessage, index: number): Prepared {
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
  const entry: PublishBatchRequestEntry = { Id: `e${index}`, Message: body, MessageAttributes: attributes };
  if (message.messageGroupId !== undefined) {
    entry.MessageGroupId = message.messageGroupId;
    entry.MessageDeduplicationId = eventId;
  }
  return { entry, bytes, eventId };
}

/** Splits in order into batches of at most 10 entries and 256 KiB. */
function chunk(entries: readonly Prepared[]): Prepared[][] {
  const chunks: Prepared[][] = [];
  let current: Prepared[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === SNS_LIMITS.batchEntries || bytes + entry.bytes > SNS_LIMITS.batchBytes) {
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

async function publishChunk(topicArn: string, chunk: readonly Prepared[]): Promise<void> {
  const { PublishCommand, PublishBatchCommand } = snsModule();
  const eventIds = chunk.map((p) => p.eventId);
  if (chunk.length === 1) {
    const { entry } = chunk[0]!;
    try {
      await snsClient().send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: entry.Message,
          MessageAttributes: entry.MessageAttributes,
          MessageGroupId: entry.MessageGroupId,
          MessageDeduplicationId: entry.MessageDeduplicationId,
        }),
      );
    } catch (cause) {
      throw new PublishError(`publishing event ${eventIds[0]} to ${topicArn} failed: ${describe(cause)}`, eventIds, { cause });
    }
    return;
  }
  let failed: { Id?: string; Code?: string; Message?: string }[] | undefined;
  try {
    const response = await snsClient().send(
      new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: chunk.map((p) => p.entry) }),
    );
    failed = response.Failed;
  } catch (cause) {
    throw new PublishError(`publishing ${chunk.length} events to ${topicArn} failed: ${describe(cause)}`, eventIds, { cause });
  }
  if (failed?.length) {
    const byEntryId = new Map(chunk.map((p) => [p.entry.Id, p.eventId]));
    const ids = failed.map((f) => byEntryId.get(f.Id) ?? String(f.Id));
    const reasons = [...new Set(failed.map((f) => `${f.Code ?? "error"}: ${f.Message ?? ""}`))].join("; ");
    throw new PublishError(`SNS refused ${failed.length} of ${chunk.length} events to ${topicArn} (${reasons})`, ids);
  }
}

/**
 * Sends events to SNS: one Publish for a single event, PublishBatch (chunks of 10, at most 256 KiB) for several to
 * the same topic. Topics are sent one after another and chunks in order, which keeps FIFO order within a call.
 * Throws `PublishError` naming the events that were not published.
 */
export async function sendToTopics(messages: readonly TopicMessage[]): Promise<void> {
  const byTopic = new Map<string, Prepared[]>();
  messages.forEach((message, index) => {
    const prepared = prepare(message, index);
    const list = byTopic.get(message.topicArn);
    if (list) list.push(prepared);
    else byTopic.set(message.topicArn, [prepared]);
  });
  for (const [topicArn, entries] of byTopic) {
    for (const part of chunk(entries)) await publishChunk(topicArn, part);
  }
}
