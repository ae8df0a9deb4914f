import type * as Sqs from "@aws-sdk/client-sqs";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  UnsupportedOperation,
} from "@aws-sdk/client-sqs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AwsServiceError,
  createSqsEndpoint,
  startEndpointServer,
  type AuthorizationDecision,
  type AuthorizationRequest,
  type EndpointServer,
  type SqsBackend,
  type SqsCall,
} from "../endpoints";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const CALLER = "local-billing-issue-invoice";
const QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:local-billing-issue-invoice";

/** A fake engine: records each call, answers from `answers`, knows one queue. */
class FakeSqs implements SqsBackend {
  calls: Array<{ op: string; input: unknown; call: SqsCall }> = [];
  constructor(private readonly queueUrl: () => string) {}

  private record(op: string, input: object & { QueueUrl?: string | undefined }, call: SqsCall): void {
    this.calls.push({ op, input, call });
    if (input.QueueUrl !== undefined && input.QueueUrl !== this.queueUrl()) {
      throw new AwsServiceError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");
    }
  }
  async sendMessage(input: Sqs.SendMessageRequest, call: SqsCall): Promise<Sqs.SendMessageResult> {
    this.record("sendMessage", input, call);
    return { MessageId: "m-1", MD5OfMessageAttributes: "ignored-by-the-sdk", SequenceNumber: "18" };
  }
  async sendMessageBatch(input: Sqs.SendMessageBatchRequest, call: SqsCall): Promise<Sqs.SendMessageBatchResult> {
    this.record("sendMessageBatch", input, call);
    const [first, second] = input.Entries ?? [];
    return {
      Successful: [{ Id: first!.Id, MessageId: "m-a", MD5OfMessageBody: undefined as unknown as string }],
      Failed: [{ Id: second!.Id, Code: "InvalidParameterValue", Message: "Value for parameter DelaySeconds is invalid.", SenderFault: true }],
    };
  }
  receiveAnswer: (input: Sqs.ReceiveMessageRequest, call: SqsCall) => Promise<Sqs.ReceiveMessageResult> = async () => ({});
  async receiveMessage(input: Sqs.ReceiveMessageRequest, call: SqsCall): Promise<Sqs.ReceiveMessageResult> {
    this.record("receiveMessage", input, call);
    return this.receiveAnswer(input, call);
  }
  async deleteMessage(input: Sqs.DeleteMessageRequest, call: SqsCall): Promise<void> {
    this.record("deleteMessage", input, call);
    if (input.ReceiptHandle === "stale") throw new AwsServiceError("ReceiptHandleIsInvalid", `The input receipt handle "stale" is not a valid receipt handle.`);
  }
  async deleteMessageBatch(input: Sqs.DeleteMessageBatchRequest, call: SqsCall): Promise<Sqs.DeleteMessageBatchResult> {
    this.record("deleteMessageBatch", input, call);
    return { Successful: [{ Id: "1" }], Failed: [{ Id: "2", Code: "ReceiptHandleIsInvalid", Message: "stale", SenderFault: true }] };
  }
  async changeMessageVisibility(input: Sqs.ChangeMessageVisibilityRequest, call: SqsCall): Promise<void> {
    this.record("changeMessageVisibility", input, call);
  }
  async getQueueAttributes(input: Sqs.GetQueueAttributesRequest, call: SqsCall): Promise<Sqs.GetQueueAttributesResult> {
    this.record("getQueueAttributes", input, call);
    return { Attributes: { QueueArn: QUEUE_ARN, ApproximateNumberOfMessages: "3" } };
  }
  async getQueueUrl(input: Sqs.GetQueueUrlRequest, call: SqsCall): Promise<Sqs.GetQueueUrlResult> {
    this.record("getQueueUrl", {}, call);
    if (input.QueueName !== "local-billing-issue-invoice") throw new AwsServiceError("QueueDoesNotExist", "The specified queue does not exist.");
    return { QueueUrl: this.queueUrl() };
  }
  async listQueues(input: Sqs.ListQueuesRequest, call: SqsCall): Promise<Sqs.ListQueuesResult> {
    this.record("listQueues", input, call);
    return { QueueUrls: [this.queueUrl()] };
  }
}

let backend: FakeSqs;
let decisions: AuthorizationRequest[];
let decide: (request: AuthorizationRequest) => AuthorizationDecision;
let server: EndpointServer;
let sqs: SQSClient;
let queueUrl: string;

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new assert.Assertion({ message: "expected the call to fail", operator: "rejects", actual: "resolved", expects: "rejection" });
}

test.before.each(async () => {
  backend = new FakeSqs(() => queueUrl);
  decisions = [];
  decide = () => true;
  const endpoint = createSqsEndpoint({
    backend,
    authorize: (request) => {
      decisions.push(request);
      return decide(request);
    },
  });
  server = await startEndpointServer({ services: [endpoint] });
  queueUrl = `${server.url}/123456789012/local-billing-issue-invoice`;
  sqs = new SQSClient({ endpoint: server.url, region: "eu-west-1", credentials: { accessKeyId: CALLER, secretAccessKey: "x" }, maxAttempts: 1 });
});

test.after.each(async () => {
  sqs.destroy();
  await server.close();
});

test("SendMessage reaches the engine with body, attributes (binary as bytes), trace header, group and deduplication ids", async () => {
  const output = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: "héllo {json}",
      DelaySeconds: 2,
      MessageGroupId: "g-1",
      MessageDeduplicationId: "d-1",
      MessageAttributes: {
        type: { DataType: "String", StringValue: "billing.invoice-issued" },
        blob: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
      },
      MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: "Root=1-abc" } },
    }),
  );
  // The SDK checks MD5OfMessageBody; the endpoint fills it in when the engine leaves it out.
  assert.is(output.MessageId, "m-1");
  assert.is(output.SequenceNumber, "18");
  const [sent] = backend.calls;
  assert.is(sent?.op, "sendMessage");
  const input = sent!.input as Sqs.SendMessageRequest;
  assert.is(input.MessageBody, "héllo {json}");
  assert.is(input.DelaySeconds, 2);
  assert.is(input.MessageGroupId, "g-1");
  assert.is(input.MessageDeduplicationId, "d-1");
  assert.equal(input.MessageAttributes?.type, { DataType: "String", StringValue: "billing.invoice-issued" });
  assert.ok(input.MessageAttributes?.blob?.BinaryValue instanceof Uint8Array);
  assert.equal([...input.MessageAttributes!.blob!.BinaryValue!], [1, 2, 3]);
  assert.equal(input.MessageSystemAttributes, { AWSTraceHeader: { DataType: "String", StringValue: "Root=1-abc" } });
  assert.is(sent!.call.context.principal, CALLER);
  assert.equal(decisions.map((d) => [d.principal, d.action, d.resource, d.context.operation]), [[CALLER, "sqs:SendMessage", QUEUE_ARN, "SendMessage"]]);
});

test("SendMessageBatch answers per entry and passes the SDK's MD5 check", async () => {
  const output = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: [
        { Id: "a", MessageBody: "one", MessageGroupId: "g" },
        { Id: "b", MessageBody: "two", DelaySeconds: 9000 },
      ],
    }),
  );
  assert.equal(output.Successful?.map((e) => [e.Id, e.MessageId, e.MD5OfMessageBody]), [["a", "m-a", "f97c5d29941bfb1b2fdab0874906ab82"]]);
  assert.equal(output.Failed, [{ Id: "b", Code: "InvalidParameterValue", Message: "Value for parameter DelaySeconds is invalid.", SenderFault: true }]);
  assert.equal(decisions.map((d) => d.action), ["sqs:SendMessage"]);
});

test("ReceiveMessage passes the long-poll settings and returns messages with attributes and binary values", async () => {
  backend.receiveAnswer = async () => ({
    Messages: [
      {
        MessageId: "m-1",
        ReceiptHandle: "rh-1",
        Body: "body",
        Attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1700000000000" },
        MessageAttributes: { blob: { DataType: "Binary", BinaryValue: new Uint8Array([9, 8]) }, type: { DataType: "String", StringValue: "t" } },
      },
    ],
  });
  const output = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, VisibilityTimeout: 30, MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"] }),
  );
  const input = backend.calls[0]!.input as Sqs.ReceiveMessageRequest;
  assert.equal([input.MaxNumberOfMessages, input.WaitTimeSeconds, input.VisibilityTimeout, input.MessageAttributeNames], [10, 5, 30, ["All"]]);
  const [message] = output.Messages ?? [];
  assert.is(message?.Body, "body");
  assert.is(message?.ReceiptHandle, "rh-1");
  assert.equal(message?.Attributes, { ApproximateReceiveCount: "1", SentTimestamp: "1700000000000" });
  assert.equal([...(message?.MessageAttributes?.blob?.BinaryValue ?? [])], [9, 8]);
  assert.is(message?.MessageAttributes?.type?.StringValue, "t");
});

test("an empty receive answers no messages", async () => {
  const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }));
  assert.is(output.Messages, undefined);
});

test("DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility, GetQueueAttributes, GetQueueUrl and ListQueues reach the engine", async () => {
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: "rh-1" }));
  const batch = await sqs.send(
    new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: "1", ReceiptHandle: "rh-1" }, { Id: "2", ReceiptHandle: "rh-2" }] }),
  );
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: "rh-1", VisibilityTimeout: 0 }));
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["All"] }));
  const url = await sqs.send(new GetQueueUrlCommand({ QueueName: "local-billing-issue-invoice" }));
  const list = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: "local-" }));

  assert.equal(batch.Successful, [{ Id: "1" }]);
  assert.equal(batch.Failed, [{ Id: "2", Code: "ReceiptHandleIsInvalid", Message: "stale", SenderFault: true }]);
  assert.is(attributes.Attributes?.ApproximateNumberOfMessages, "3");
  assert.is(url.QueueUrl, queueUrl);
  assert.equal(list.QueueUrls, [queueUrl]);
  assert.equal(
    backend.calls.map((c) => c.op),
    ["deleteMessage", "deleteMessageBatch", "changeMessageVisibility", "getQueueAttributes", "getQueueUrl", "listQueues"],
  );
  assert.equal(backend.calls[2]!.input, { QueueUrl: queueUrl, ReceiptHandle: "rh-1", VisibilityTimeout: 0 });
  assert.equal(backend.calls[5]!.input, { QueueNamePrefix: "local-" });
  assert.equal(
    decisions.map((d) => [d.action, d.resource]),
    [
      ["sqs:DeleteMessage", QUEUE_ARN],
      ["sqs:DeleteMessage", QUEUE_ARN],
      ["sqs:ChangeMessageVisibility", QUEUE_ARN],
      ["sqs:GetQueueAttributes", QUEUE_ARN],
      ["sqs:GetQueueUrl", QUEUE_ARN],
      ["sqs:ListQueues", "*"],
    ],
  );
});

test("a missing queue raises QueueDoesNotExist, whether the engine names it by wire code or by class", async () => {
  const byWireCode = await rejection(sqs.send(new SendMessageCommand({ QueueUrl: `${server.url}/123456789012/nope`, MessageBody: "x" })));
  assert.instance(byWireCode, QueueDoesNotExist);
  assert.is(byWireCode.message, "The specified queue does not exist.");
  assert.is(byWireCode.$metadata?.httpStatusCode, 400);
  const byClass = await rejection(sqs.send(new GetQueueUrlCommand({ QueueName: "nope" })));
  assert.instance(byClass, QueueDoesNotExist);
});

test("a stale receipt handle raises ReceiptHandleIsInvalid", async () => {
  const error = await rejection(sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: "stale" })));
  assert.instance(error, ReceiptHandleIsInvalid);
  assert.match(error.message, "not a valid receipt handle");
});

test("a denied call raises AccessDenied with AWS's message and never reaches the engine", async () => {
  decide = (request) => request.action !== "sqs:SendMessage";
  const error = await rejection(sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x" })));
  assert.instance(error, SQSServiceException);
  assert.is(error.name, "AccessDenied");
  assert.is(error.$metadata?.httpStatusCode, 403);
  assert.is(
    error.message,
    `User: arn:aws:sts::123456789012:assumed-role/${CALLER}/${CALLER} is not authorized to perform: sqs:SendMessage on resource: ${QUEUE_ARN} because no identity-based policy allows the sqs:SendMessage action`,
  );
  assert.is(backend.calls.length, 0);
});

test("an operation the engine lacks raises UnsupportedOperation", async () => {
  const error = await rejection(sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl })));
  assert.instance(error, UnsupportedOperation);
});

test("a queue URL that names no queue raises InvalidAddress", async () => {
  const error = await rejection(sqs.send(new SendMessageCommand({ QueueUrl: `${server.url}/just-a-name`, MessageBody: "x" })));
  assert.instance(error, SQSServiceException);
  assert.is(error.name, "InvalidAddress");
  assert.is(error.$metadata?.httpStatusCode, 404);
});

test("close() ends a pending long poll instead of waiting it out", async () => {
  let aborted = false;
  backend.receiveAnswer = (_input, call) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve({}), 20_000);
      call.signal.addEventListener("abort", () => {
        aborted = true;
        clearTimeout(timer);
        resolve({});
      });
    });
  const receiving = sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 20 })).then(
    (output) => output.Messages ?? [],
    (error: Error) => error,
  );
  while (backend.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const started = Date.now();
  await server.close();
  assert.ok(aborted);
  assert.equal(await receiving, []);
  // Not the poll's 20 s (a loaded machine may take seconds to close: no tighter bound).
  assert.ok(Date.now() - started < 15_000, `close took ${Date.now() - started} ms`);
});

test.run();
