import { randomUUID } from "node:crypto";
import { AwsServiceError, createSnsEndpoint, startEndpointServer, type SnsPublishInput } from "../../../local/endpoints";

/**
 * A local SNS endpoint for the unmodified @aws-sdk/client-sns. Client 3.1169 speaks the AWS Query protocol
 * (`AwsQueryProtocol` in its runtime config): a form-encoded POST with `Action=Publish` or `Action=PublishBatch`,
 * answered with XML, served by the local stage's SNS endpoint. The stub records what was published and enforces
 * the SNS rules our publisher must respect:
 * at most 10 entries per batch and 10 message attributes, 256 KiB per message and per batch, distinct entry ids,
 * and a group id plus a deduplication id on FIFO topics (content-based deduplication is off on the platform's).
 */

export interface PublishedAttribute {
  readonly dataType: string;
  readonly value: string;
}

export interface PublishedMessage {
  readonly action: "Publish" | "PublishBatch";
  readonly topicArn: string;
  readonly message: string;
  readonly attributes: Readonly<Record<string, PublishedAttribute>>;
  readonly messageGroupId?: string;
  readonly messageDeduplicationId?: string;
  readonly messageId: string;
  readonly sequenceNumber?: string;
}

/** An error response: SNS's code, HTTP status and message. */
export interface SnsFault {
  code: string;
  status: number;
  message: string;
}

/** How a PublishBatch entry fails (`BatchResultErrorEntry`). */
export interface EntryFault {
  code: string;
  senderFault: boolean;
}

export const THROTTLED: SnsFault = { code: "Throttled", status: 429, message: "Rate exceeded" };

export interface SnsStub {
  readonly endpoint: string;
  /** Accepted messages, in order. */
  readonly published: PublishedMessage[];
  /** Requests received (accepted or not): action and entry count. */
  readonly requests: { action: string; topicArn: string; entries: number }[];
  /** The parsed bodies (CloudEvents) of messages sent to a topic. */
  events(topicArn?: string): any[];
  /** Answers the next `times` requests with `fault` (optionally only those to one topic). */
  fail(fault: SnsFault, options?: { times?: number; topicArn?: string }): void;
  /**
   * PublishBatch entries whose message matches are reported in `Failed` (the rest succeed), with `fault`'s code and
   * sender fault (default `InternalError`, `SenderFault: false`), or the fault the predicate returns.
   */
  failEntries(predicate: ((message: string) => boolean | EntryFault) | undefined, fault?: EntryFault): void;
  reset(): void;
  close(): Promise<void>;
}

const LIMIT = 262_144;

interface Entry {
  id?: string;
  message: string;
  attributes: Record<string, PublishedAttribute>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
}

const invalid = (message: string) => new AwsServiceError("InvalidParameter", message);

function entryOf(request: Omit<SnsPublishInput, "TopicArn"> & { Id?: string }): Entry {
  const attributes: Record<string, PublishedAttribute> = {};
  for (const [name, value] of Object.entries(request.MessageAttributes ?? {})) {
    attributes[name] = {
      dataType: value.DataType ?? "",
      value: value.StringValue ?? (value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : ""),
    };
  }
  return {
    message: request.Message,
    attributes,
    ...(request.Id !== undefined ? { id: request.Id } : {}),
    ...(request.MessageGroupId !== undefined ? { messageGroupId: request.MessageGroupId } : {}),
    ...(request.MessageDeduplicationId !== undefined ? { messageDeduplicationId: request.MessageDeduplicationId } : {}),
  };
}

function size(entry: Entry): number {
  let bytes = Buffer.byteLength(entry.message);
  for (const [name, a] of Object.entries(entry.attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(a.dataType) + Buffer.byteLength(a.value);
  }
  return bytes;
}

function check(topicArn: string, entry: Entry): void {
  if (Object.keys(entry.attributes).length > 10) throw invalid("Number of message attributes [11] exceeds the allowed maximum [10].");
  if (size(entry) > LIMIT) throw invalid("Message too long");
  if (topicArn.endsWith(".fifo")) {
    if (!entry.messageGroupId) throw invalid("The MessageGroupId parameter is required for FIFO topics");
    if (!entry.messageDeduplicationId) {
      throw invalid("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
    }
  }
}

/**
 * Starts the stub on a free port and points the SDK at it (AWS_ENDPOINT_URL_SNS). The wire protocol is the local
 * stage's SNS endpoint (shared/local/endpoints); this backend records messages and injects faults.
 */
export async function startSnsStub(): Promise<SnsStub> {
  const published: PublishedMessage[] = [];
  const requests: SnsStub["requests"] = [];
  let faults: { fault: SnsFault; times: number; topicArn?: string }[] = [];
  let failEntry: ((message: string) => boolean | EntryFault) | undefined;
  let entryFault: EntryFault = { code: "InternalError", senderFault: false };
  let sequence = 0;

  function record(action: PublishedMessage["action"], topicArn: string, entry: Entry): PublishedMessage {
    const message: PublishedMessage = {
      action,
      topicArn,
      message: entry.message,
      attributes: entry.attributes,
      messageId: randomUUID(),
      ...(entry.messageGroupId !== undefined ? { messageGroupId: entry.messageGroupId } : {}),
      ...(entry.messageDeduplicationId !== undefined ? { messageDeduplicationId: entry.messageDeduplicationId } : {}),
      ...(topicArn.endsWith(".fifo") ? { sequenceNumber: String(10_000_000_000_000_000_000n + BigInt(++sequence)) } : {}),
    };
    published.push(message);
    return message;
  }

  /** Logs the request, then answers an injected fault or a missing topic the way SNS would. */
  function admit(action: PublishedMessage["action"], topicArn: string, entries: number): void {
    requests.push({ action, topicArn, entries });
    const fault = faults.find((f) => f.times > 0 && (f.topicArn === undefined || f.topicArn === topicArn));
    if (fault) {
      fault.times--;
      throw new AwsServiceError(fault.fault.code, fault.fault.message, { status: fault.fault.status });
    }
    if (!/^arn:aws:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/.test(topicArn)) throw new AwsServiceError("NotFound", "Topic does not exist");
  }

  const server = await startEndpointServer({
    services: [
      createSnsEndpoint({
        backend: {
          async publish(request) {
            admit("Publish", request.TopicArn, 1);
            const entry = entryOf(request);
            check(request.TopicArn, entry);
            const m = record("Publish", request.TopicArn, entry);
            return { MessageId: m.messageId, ...(m.sequenceNumber ? { SequenceNumber: m.sequenceNumber } : {}) };
          },
          async publishBatch(request) {
            admit("PublishBatch", request.TopicArn, request.PublishBatchRequestEntries.length);
            const entries = request.PublishBatchRequestEntries.map(entryOf);
            if (entries.reduce((sum, e) => sum + size(e), 0) > LIMIT) {
              throw new AwsServiceError("BatchRequestTooLong", "The length of all the messages put together is more than the limit.");
            }
            entries.forEach((e) => check(request.TopicArn, e));
            const successful: { Id: string; MessageId: string; SequenceNumber?: string }[] = [];
            const failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
            for (const entry of entries) {
              const fails = failEntry?.(entry.message);
              if (fails) {
                const fault = fails === true ? entryFault : fails;
                failed.push({ Id: entry.id!, Code: fault.code, Message: "injected failure", SenderFault: fault.senderFault });
                continue;
              }
              const m = record("PublishBatch", request.TopicArn, entry);
              successful.push({ Id: entry.id!, MessageId: m.messageId, ...(m.sequenceNumber ? { SequenceNumber: m.sequenceNumber } : {}) });
            }
            return { Successful: successful, Failed: failed };
          },
        },
      }),
    ],
  });
  const endpoint = server.url;
  process.env.AWS_ENDPOINT_URL_SNS = endpoint;

  return {
    endpoint,
    published,
    requests,
    events: (topicArn) => published.filter((m) => topicArn === undefined || m.topicArn === topicArn).map((m) => JSON.parse(m.message)),
    fail(fault, options = {}) {
      faults.push({ fault, times: options.times ?? 1, ...(options.topicArn ? { topicArn: options.topicArn } : {}) });
    },
    failEntries(predicate, fault = { code: "InternalError", senderFault: false }) {
      failEntry = predicate;
      entryFault = fault;
    },
    reset() {
      published.length = 0;
      requests.length = 0;
      faults = [];
      failEntry = undefined;
    },
    close: () => server.close(),
  };
}
