/**
 * Glue between the local AWS endpoints (`shared/local/endpoints`, which speak the SDK's wire protocols) and the
 * in-process engines (`shared/local/sns`, `shared/local/sqs`): the endpoints decode requests into the API's shapes,
 * these backends run them on the engines.
 */
import type * as Sns from "@aws-sdk/client-sns";
import type * as Sqs from "@aws-sdk/client-sqs";
import { messageAttributeNames } from "../../contract/envelope";
import { childContext, traceHeaderOf, type RequestContext } from "../context";
import type { SnsBackend, SnsPublishInput } from "../endpoints/sns";
import type { SqsBackend } from "../endpoints/sqs";
import type { PublishInput, PublishResult, SnsEngine, SnsMessageAttributeValue } from "../sns/engine";
import type { SqsEngine } from "../sqs/engine";
import { ServiceError } from "../sqs/errors";
import type { SqsMessageAttributeValue } from "../sqs/md5";
import type { Queue, QueueAttributes, ReceivedMessage, SendMessageInput } from "../sqs/queue";

/**
 * Publishes on the engine on a caller's behalf (the stage traces it): `context` is the publish's own (who publishes,
 * its span, a child of the caller's).
 */
export type TracedPublish = (input: PublishInput, context: RequestContext) => PublishResult;

/** The SDK's `PublishInput` as the engine takes it (the same fields; the engine's types say what it checked). */
function toEngineRequest(input: SnsPublishInput): PublishInput {
  let attributes: Record<string, SnsMessageAttributeValue> | undefined;
  for (const [name, value] of Object.entries(input.MessageAttributes ?? {})) {
    attributes ??= {};
    attributes[name] =
      value.BinaryValue !== undefined
        ? { DataType: value.DataType ?? "", BinaryValue: value.BinaryValue }
        : { DataType: value.DataType ?? "", StringValue: value.StringValue ?? "" };
  }
  if (input.MessageStructure !== undefined && input.MessageStructure !== "json") {
    throw new ServiceError("InvalidParameter", "Invalid parameter: MessageStructure");
  }
  return {
    TopicArn: input.TopicArn,
    Message: input.Message,
    ...(input.Subject !== undefined ? { Subject: input.Subject } : {}),
    ...(attributes ? { MessageAttributes: attributes } : {}),
    ...(input.MessageStructure === "json" ? { MessageStructure: "json" as const } : {}),
    ...(input.MessageGroupId !== undefined ? { MessageGroupId: input.MessageGroupId } : {}),
    ...(input.MessageDeduplicationId !== undefined ? { MessageDeduplicationId: input.MessageDeduplicationId } : {}),
  };
}

/** The publish's context, with the correlation id of the message it sends (the `correlationid` attribute) when it has one. */
function withCorrelation(context: RequestContext, input: Pick<Sns.PublishInput, "MessageAttributes">): RequestContext {
  const correlationId = input.MessageAttributes?.[messageAttributeNames.correlationId]?.StringValue;
  return correlationId ? { ...context, correlationId } : context;
}

/**
 * The SNS endpoint's backend over the engine: Publish and PublishBatch go through `publish` (so the stage sees who
 * published what); ListTopics, ListSubscriptions, ListSubscriptionsByTopic, GetTopicAttributes and
 * GetSubscriptionAttributes read the engine. Topics and subscriptions come from the Pulumi programs only, so
 * CreateTopic and Subscribe are not offered.
 */
export function snsBackend(engine: SnsEngine, publish: TracedPublish): SnsBackend {
  return {
    async publish(input, call) {
      // The Publish call's span is the publish's (active tracing: SNS carries it on to SQS as AWSTraceHeader).
      const result = publish(toEngineRequest(input), withCorrelation(call.context, input));
      return { MessageId: result.MessageId, ...(result.SequenceNumber ? { SequenceNumber: result.SequenceNumber } : {}) };
    },
    async publishBatch(input, call) {
      const successful: Sns.PublishBatchResultEntry[] = [];
      const failed: Sns.BatchResultErrorEntry[] = [];
      // A missing topic fails the whole batch, as in SNS (ids and entry count were checked by the endpoint).
      if (!engine.listTopics().some((t) => t.arn === input.TopicArn)) throw new ServiceError("NotFound", "Topic does not exist");
      for (const { Id, ...entry } of input.PublishBatchRequestEntries) {
        try {
          // Each entry is a publish of its own under the PublishBatch call.
          const published = publish(toEngineRequest({ ...entry, TopicArn: input.TopicArn }), withCorrelation(childContext(call.context), entry));
          successful.push({ Id, MessageId: published.MessageId, ...(published.SequenceNumber ? { SequenceNumber: published.SequenceNumber } : {}) });
        } catch (error) {
          if (!(error instanceof ServiceError)) throw error;
          failed.push({ Id, Code: error.code, Message: error.message, SenderFault: error.senderFault });
        }
      }
      return { Successful: successful, Failed: failed };
    },
    async listTopics() {
      return { Topics: engine.listTopics().map((t) => ({ TopicArn: t.arn })) };
    },
    async listSubscriptions(input) {
      return page(engine.listSubscriptions(), input.NextToken);
    },
    async listSubscriptionsByTopic(input) {
      return page(engine.listSubscriptionsByTopic(input.TopicArn ?? ""), input.NextToken);
    },
    async getTopicAttributes(input) {
      return { Attributes: engine.getTopicAttributes(input.TopicArn ?? "") };
    },
    async getSubscriptionAttributes(input) {
      return { Attributes: engine.getSubscriptionAttributes(input.SubscriptionArn ?? "") };
    },
  };
}

/** SNS lists subscriptions 100 at a time; the token is where the next page starts. */
function page<T>(items: T[], token: string | undefined): { Subscriptions: T[]; NextToken?: string } {
  const start = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new ServiceError("InvalidParameter", "Invalid parameter: NextToken");
  const end = start + 100;
  return { Subscriptions: items.slice(start, end), ...(end < items.length ? { NextToken: String(end) } : {}) };
}

function toEngineAttributes(attributes: Record<string, Sqs.MessageAttributeValue> | undefined): Record<string, SqsMessageAttributeValue> | undefined {
  if (!attributes) return undefined;
  const out: Record<string, SqsMessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    out[name] = {
      DataType: value.DataType ?? "",
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
      ...(value.StringListValues?.length ? { StringListValues: value.StringListValues } : {}),
      ...(value.BinaryListValues?.length ? { BinaryListValues: value.BinaryListValues } : {}),
    };
  }
  return out;
}

/**
 * The engine's send input for an SDK `SendMessage` (or batch entry). As SQS does, a request that carried an
 * `X-Amzn-Trace-Id` gives its messages an `AWSTraceHeader` (the message's own system attribute wins): the header
 * names the SendMessage call's span, so the consumer's invocation continues the trace under it.
 */
function toSendInput(
  input: {
  MessageBody?: string | undefined;
  DelaySeconds?: number | undefined;
  MessageAttributes?: Record<string, Sqs.MessageAttributeValue> | undefined;
  MessageSystemAttributes?: Record<string, Sqs.MessageSystemAttributeValue> | undefined;
  MessageGroupId?: string | undefined;
  MessageDeduplicationId?: string | undefined;
  },
  context: RequestContext,
): SendMessageInput {
  if (input.MessageBody === undefined) throw new ServiceError("MissingParameter", "The request must contain the parameter MessageBody.");
  const attributes = toEngineAttributes(input.MessageAttributes);
  const traceHeader = input.MessageSystemAttributes?.AWSTraceHeader ?? (context.traceHeader ? { DataType: "String", StringValue: traceHeaderOf(context) } : undefined);
  return {
    MessageBody: input.MessageBody,
    ...(input.DelaySeconds !== undefined ? { DelaySeconds: input.DelaySeconds } : {}),
    ...(attributes && Object.keys(attributes).length ? { MessageAttributes: attributes } : {}),
    ...(traceHeader ? { MessageSystemAttributes: { AWSTraceHeader: { DataType: traceHeader.DataType ?? "String", StringValue: traceHeader.StringValue ?? "" } } } : {}),
    ...(input.MessageGroupId !== undefined ? { MessageGroupId: input.MessageGroupId } : {}),
    ...(input.MessageDeduplicationId !== undefined ? { MessageDeduplicationId: input.MessageDeduplicationId } : {}),
  };
}

const SYSTEM_ATTRIBUTE_NAMES = [
  "ApproximateReceiveCount",
  "AWSTraceHeader",
  "SentTimestamp",
  "SequenceNumber",
  "MessageGroupId",
  "SenderId",
  "MessageDeduplicationId",
  "ApproximateFirstReceiveTimestamp",
  "DeadLetterQueueSourceArn",
] as const;

function selected(requested: readonly string[] | undefined, name: string): boolean {
  if (!requested?.length) return false;
  return requested.includes("All") || requested.includes(".*") || requested.includes(name) || requested.some((r) => r.endsWith(".*") && name.startsWith(r.slice(0, -2)));
}

function toSdkMessage(message: ReceivedMessage, systemNames: readonly string[] | undefined, attributeNames: readonly string[] | undefined): Sqs.Message {
  const attributes: Record<string, string> = {};
  for (const name of SYSTEM_ATTRIBUTE_NAMES) {
    const value = message.Attributes[name];
    if (value !== undefined && selected(systemNames, name)) attributes[name] = value;
  }
  const messageAttributes: Record<string, Sqs.MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes)) {
    if (!selected(attributeNames, name)) continue;
    messageAttributes[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return {
    MessageId: message.MessageId,
    ReceiptHandle: message.ReceiptHandle,
    MD5OfBody: message.MD5OfBody,
    Body: message.Body,
    ...(Object.keys(attributes).length ? { Attributes: attributes } : {}),
    ...(Object.keys(messageAttributes).length ? { MessageAttributes: messageAttributes, MD5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
  };
}

function queueAttributes(queue: Queue, names: readonly string[] | undefined): Record<string, string> {
  const a: QueueAttributes = queue.attributes;
  const counts = queue.counts();
  const all: Record<string, string> = {
    QueueArn: queue.arn,
    ApproximateNumberOfMessages: String(counts.ApproximateNumberOfMessages),
    ApproximateNumberOfMessagesNotVisible: String(counts.ApproximateNumberOfMessagesNotVisible),
    ApproximateNumberOfMessagesDelayed: String(counts.ApproximateNumberOfMessagesDelayed),
    VisibilityTimeout: String(a.visibilityTimeout),
    MessageRetentionPeriod: String(a.messageRetentionPeriod),
    DelaySeconds: String(a.delaySeconds),
    ReceiveMessageWaitTimeSeconds: String(a.receiveMessageWaitTimeSeconds),
    MaximumMessageSize: String(a.maximumMessageSize),
    SqsManagedSseEnabled: "true",
  };
  if (a.redrivePolicy) all.RedrivePolicy = JSON.stringify(a.redrivePolicy);
  if (a.fifo) {
    all.FifoQueue = "true";
    all.ContentBasedDeduplication = String(a.contentBasedDeduplication);
    all.DeduplicationScope = a.deduplicationScope;
  }
  if (!names?.length) return {};
  if (names.includes("All")) return all;
  return Object.fromEntries(Object.entries(all).filter(([name]) => names.includes(name)));
}

/**
 * The SQS endpoint's backend over the engine: what a function's SDK client may do with a queue (send, receive,
 * delete, change visibility, read attributes, look queues up). Queues come from the Pulumi programs only, so
 * CreateQueue and DeleteQueue are not offered.
 */
export function sqsBackend(engine: SqsEngine): SqsBackend {
  const queue = (url: string | undefined): Queue => {
    if (!url) throw new ServiceError("MissingParameter", "The request must contain the parameter QueueUrl.");
    return engine.queue(url);
  };
  return {
    async sendMessage(input, call) {
      const sent = queue(input.QueueUrl).send(toSendInput(input, call.context), { origin: "api", senderId: "AIDALOCALSTAGE" });
      return {
        MessageId: sent.MessageId,
        MD5OfMessageBody: sent.MD5OfMessageBody,
        ...(sent.MD5OfMessageAttributes ? { MD5OfMessageAttributes: sent.MD5OfMessageAttributes } : {}),
        ...(sent.SequenceNumber ? { SequenceNumber: sent.SequenceNumber } : {}),
      };
    },
    async sendMessageBatch(input, call) {
      const target = queue(input.QueueUrl);
      const result = engine.sendMessageBatch(
        target.url,
        (input.Entries ?? []).map((entry) => ({ Id: entry.Id ?? "", ...toSendInput(entry, call.context) })),
      );
      return { Successful: result.Successful, Failed: result.Failed };
    },
    async receiveMessage(input, call) {
      const target = queue(input.QueueUrl);
      const messages = await target.receive({
        ...(input.MaxNumberOfMessages !== undefined ? { MaxNumberOfMessages: input.MaxNumberOfMessages } : {}),
        ...(input.VisibilityTimeout !== undefined ? { VisibilityTimeout: input.VisibilityTimeout } : {}),
        ...(input.WaitTimeSeconds !== undefined ? { WaitTimeSeconds: input.WaitTimeSeconds } : {}),
        signal: call.signal,
      });
      const systemNames = [...(input.MessageSystemAttributeNames ?? []), ...((input.AttributeNames as string[] | undefined) ?? [])];
      return messages.length ? { Messages: messages.map((m) => toSdkMessage(m, systemNames, input.MessageAttributeNames)) } : {};
    },
    async deleteMessage(input) {
      queue(input.QueueUrl).delete(input.ReceiptHandle ?? "");
    },
    async deleteMessageBatch(input) {
      const target = queue(input.QueueUrl);
      const result: Sqs.DeleteMessageBatchResult = { Successful: [], Failed: [] };
      for (const entry of input.Entries ?? []) {
        try {
          target.delete(entry.ReceiptHandle ?? "");
          result.Successful!.push({ Id: entry.Id });
        } catch (error) {
          if (!(error instanceof ServiceError)) throw error;
          result.Failed!.push({ Id: entry.Id, Code: error.code, Message: error.message, SenderFault: error.senderFault });
        }
      }
      return result;
    },
    async changeMessageVisibility(input) {
      queue(input.QueueUrl).changeVisibility(input.ReceiptHandle ?? "", input.VisibilityTimeout ?? 0);
    },
    async getQueueAttributes(input) {
      return { Attributes: queueAttributes(queue(input.QueueUrl), input.AttributeNames as string[] | undefined) };
    },
    async getQueueUrl(input) {
      const found = engine.findQueue(input.QueueName ?? "");
      if (!found || found.name !== input.QueueName) throw new ServiceError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");
      return { QueueUrl: found.url };
    },
    async listQueues(input) {
      const urls = engine
        .listQueues()
        .filter((q) => !input.QueueNamePrefix || q.name.startsWith(input.QueueNamePrefix))
        .map((q) => q.url)
        .slice(0, input.MaxResults ?? 1000);
      return urls.length ? { QueueUrls: urls } : {};
    },
    async purgeQueue(input) {
      queue(input.QueueUrl).purge();
    },
    queueArn(queueUrl) {
      return engine.findQueue(queueUrl)?.arn;
    },
  };
}
