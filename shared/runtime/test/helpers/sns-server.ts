import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";

/**
 * A local SNS endpoint for the unmodified @aws-sdk/client-sns. Client 3.1169 speaks the AWS Query protocol
 * (`AwsQueryProtocol` in its runtime config): a form-encoded POST with `Action=Publish` or `Action=PublishBatch`,
 * answered with XML. The stub records what was published and enforces the SNS rules our publisher must respect:
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
  /** PublishBatch entries whose message matches are reported in `Failed` (the rest succeed). */
  failEntries(predicate: ((message: string) => boolean) | undefined): void;
  reset(): void;
  close(): Promise<void>;
}

const LIMIT = 262_144;

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!);
}

class SnsError extends Error {
  constructor(
    readonly fault: SnsFault,
  ) {
    super(fault.message);
  }
}

const invalid = (message: string) => new SnsError({ code: "InvalidParameter", status: 400, message });

interface Entry {
  id?: string;
  message: string;
  attributes: Record<string, PublishedAttribute>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
}

/** Reads `<prefix>MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}`. */
function readAttributes(form: URLSearchParams, prefix: string): Record<string, PublishedAttribute> {
  const out: Record<string, PublishedAttribute> = {};
  for (let n = 1; form.has(`${prefix}MessageAttributes.entry.${n}.Name`); n++) {
    const base = `${prefix}MessageAttributes.entry.${n}`;
    out[form.get(`${base}.Name`)!] = {
      dataType: form.get(`${base}.Value.DataType`) ?? "",
      value: form.get(`${base}.Value.StringValue`) ?? form.get(`${base}.Value.BinaryValue`) ?? "",
    };
  }
  return out;
}

function readEntry(form: URLSearchParams, prefix: string): Entry {
  const message = form.get(`${prefix}Message`);
  if (message === null) throw invalid("Message is required");
  const entry: Entry = { message, attributes: readAttributes(form, prefix) };
  const id = form.get(`${prefix}Id`);
  const group = form.get(`${prefix}MessageGroupId`);
  const dedup = form.get(`${prefix}MessageDeduplicationId`);
  if (id !== null) entry.id = id;
  if (group !== null) entry.messageGroupId = group;
  if (dedup !== null) entry.messageDeduplicationId = dedup;
  return entry;
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

/** Starts the stub on a free port and points the SDK at it (AWS_ENDPOINT_URL_SNS). */
export async function startSnsStub(): Promise<SnsStub> {
  const published: PublishedMessage[] = [];
  const requests: SnsStub["requests"] = [];
  let faults: { fault: SnsFault; times: number; topicArn?: string }[] = [];
  let failEntry: ((message: string) => boolean) | undefined;
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

  function handle(form: URLSearchParams): string {
    const action = form.get("Action") ?? "";
    const topicArn = form.get("TopicArn") ?? "";
    if (action !== "Publish" && action !== "PublishBatch") {
      throw new SnsError({ code: "InvalidAction", status: 400, message: `Unknown action ${action}` });
    }
    const entryCount = action === "Publish" ? 1 : [...form.keys()].filter((k) => /^PublishBatchRequestEntries\.member\.\d+\.Id$/.test(k)).length;
    requests.push({ action, topicArn, entries: entryCount });
    const fault = faults.find((f) => f.times > 0 && (f.topicArn === undefined || f.topicArn === topicArn));
    if (fault) {
      fault.times--;
      throw new SnsError(fault.fault);
    }
    if (!/^arn:aws:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/.test(topicArn)) {
      throw new SnsError({ code: "NotFound", status: 404, message: "Topic does not exist" });
    }
    if (action === "Publish") {
      const entry = readEntry(form, "");
      check(topicArn, entry);
      const m = record(action, topicArn, entry);
      const seq = m.sequenceNumber ? `<SequenceNumber>${m.sequenceNumber}</SequenceNumber>` : "";
      return `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${m.messageId}</MessageId>${seq}</PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`;
    }
    const entries: Entry[] = [];
    for (let n = 1; form.has(`PublishBatchRequestEntries.member.${n}.Id`); n++) {
      entries.push(readEntry(form, `PublishBatchRequestEntries.member.${n}.`));
    }
    if (entries.length === 0) throw new SnsError({ code: "EmptyBatchRequest", status: 400, message: "The batch request doesn't contain any entries." });
    if (entries.length > 10) {
      throw new SnsError({ code: "TooManyEntriesInBatchRequest", status: 400, message: "The batch request contains more entries than permissible." });
    }
    if (new Set(entries.map((e) => e.id)).size !== entries.length) {
      throw new SnsError({ code: "BatchEntryIdsNotDistinct", status: 400, message: "Two or more batch entries in the request have the same Id." });
    }
    if (entries.reduce((sum, e) => sum + size(e), 0) > LIMIT) {
      throw new SnsError({ code: "BatchRequestTooLong", status: 400, message: "The length of all the messages put together is more than the limit." });
    }
    entries.forEach((e) => check(topicArn, e));
    const ok: string[] = [];
    const failed: string[] = [];
    for (const entry of entries) {
      if (failEntry?.(entry.message)) {
        failed.push(`<member><Id>${xml(entry.id!)}</Id><Code>InternalError</Code><Message>injected failure</Message><SenderFault>false</SenderFault></member>`);
        continue;
      }
      const m = record(action, topicArn, entry);
      ok.push(`<member><Id>${xml(entry.id!)}</Id><MessageId>${m.messageId}</MessageId></member>`);
    }
    return `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${ok.join("")}</Successful><Failed>${failed.join("")}</Failed></PublishBatchResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishBatchResponse>`;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestId = randomUUID();
      try {
        const body = handle(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(200, { "content-type": "text/xml", "x-amzn-requestid": requestId });
        res.end(body);
      } catch (error) {
        const fault = error instanceof SnsError ? error.fault : { code: "InternalFailure", status: 500, message: String(error) };
        const type = fault.status < 500 ? "Sender" : "Receiver";
        res.writeHead(fault.status, { "content-type": "text/xml", "x-amzn-requestid": requestId });
        res.end(
          `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${xml(fault.code)}</Code><Message>${xml(fault.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_ENDPOINT_URL_SNS = endpoint;

  return {
    endpoint,
    published,
    requests,
    events: (topicArn) => published.filter((m) => topicArn === undefined || m.topicArn === topicArn).map((m) => JSON.parse(m.message)),
    fail(fault, options = {}) {
      faults.push({ fault, times: options.times ?? 1, ...(options.topicArn ? { topicArn: options.topicArn } : {}) });
    },
    failEntries(predicate) {
      failEntry = predicate;
    },
    reset() {
      published.length = 0;
      requests.length = 0;
      faults = [];
      failEntry = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
