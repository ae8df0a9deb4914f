/**
 * The SQS endpoint speaks both protocols AWS accepts, on the same queues: AWS JSON 1.0 (the unmodified
 * `@aws-sdk/client-sqs`) and the Query protocol that older SDKs and Debian's AWS CLI 2.9 send, written here by hand in
 * the form the SQS API reference documents (form-encoded `Action`, `Version=2012-11-05`, flattened lists and maps,
 * SigV4-signed with the SDK's own signer), answered in XML. Backed by the real engine (`SqsEngine`) as the local stage
 * wires it.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { SignatureV4 } from "@smithy/signature-v4";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Sha256 } from "../../testing/stage-target";
import { LOCAL_ACCOUNT_ID } from "../aws";
import { createSqsEndpoint, startEndpointServer, type EndpointServer } from "../endpoints";
import { SqsEngine } from "../sqs";
import { md5OfMessageAttributes } from "../sqs/md5";
import { sqsBackend } from "../stage/backends";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const REGION = "eu-west-1";
const CALLER = "AKIDQUERYCALLER";

const signer = new SignatureV4({ service: "sqs", region: REGION, credentials: { accessKeyId: CALLER, secretAccessKey: "secret" }, sha256: Sha256 });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

let server: EndpointServer;
let engine: SqsEngine;
let queueUrl: string;
let denyAll = false;
let sdk: SQSClient;

test.before.each(async () => {
  const port = await freePort();
  engine = new SqsEngine({ region: REGION, queueUrlBase: `http://127.0.0.1:${port}` });
  queueUrl = engine.createQueue("local-orders", { VisibilityTimeout: "30" }).url;
  denyAll = false;
  const endpoint = createSqsEndpoint({ backend: sqsBackend(engine), authorize: () => !denyAll, region: REGION });
  server = await startEndpointServer({ services: [endpoint], port });
  sdk = new SQSClient({ endpoint: server.url, region: REGION, credentials: { accessKeyId: CALLER, secretAccessKey: "x" }, maxAttempts: 1 });
});

test.after.each(async () => {
  sdk.destroy();
  await server.close();
});

/** A Query-protocol request as the SQS API reference shows it: signed `POST` of a form to `path`. */
async function query(parameters: Record<string, string>, options: { path?: string; method?: "GET" | "POST"; signed?: boolean } = {}) {
  const url = new URL(server.url);
  const form = new URLSearchParams({ ...parameters, Version: "2012-11-05" }).toString();
  const method = options.method ?? "POST";
  const path = options.path ?? "/";
  const request = {
    method,
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: method === "GET" ? Object.fromEntries(new URLSearchParams(form)) : {},
    headers: {
      host: url.host,
      ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded; charset=utf-8" } : {}),
    } as Record<string, string>,
    ...(method === "POST" ? { body: form } : {}),
  };
  const headers = options.signed === false ? request.headers : (await signer.sign(request)).headers;
  const response = await fetch(`${server.url}${path}${method === "GET" ? `?${form}` : ""}`, {
    method,
    headers,
    ...(method === "POST" ? { body: form } : {}),
  });
  return { status: response.status, contentType: response.headers.get("content-type"), xml: await response.text() };
}

/** The text of every `<tag>` in `xml`, in order. */
function all(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((match) => match[1]!);
}
function one(xml: string, tag: string): string | undefined {
  return all(xml, tag)[0];
}
function unescape(text: string | undefined): string | undefined {
  return text?.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

test("SendMessage in the Query protocol; the JSON SDK receives it with its attributes", async () => {
  const body = `<order id="1"> & "more"`;
  const answer = await query({
    Action: "SendMessage",
    QueueUrl: queueUrl,
    MessageBody: body,
    "MessageAttribute.1.Name": "type",
    "MessageAttribute.1.Value.DataType": "String",
    "MessageAttribute.1.Value.StringValue": "orders.order-placed",
    "MessageAttribute.2.Name": "blob",
    "MessageAttribute.2.Value.DataType": "Binary",
    "MessageAttribute.2.Value.BinaryValue": Buffer.from([1, 2, 3]).toString("base64"),
  });
  assert.is(answer.status, 200, answer.xml);
  assert.match(answer.contentType ?? "", /xml/);
  assert.match(answer.xml, /^<\?xml version="1.0"\?>\n<SendMessageResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><SendMessageResult>/);
  assert.is(one(answer.xml, "MD5OfMessageBody"), createHash("md5").update(body).digest("hex"));
  const attributes = {
    type: { DataType: "String", StringValue: "orders.order-placed" },
    blob: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
  };
  assert.is(one(answer.xml, "MD5OfMessageAttributes"), md5OfMessageAttributes(attributes));
  assert.match(one(answer.xml, "RequestId") ?? "", /^[0-9a-f-]{36}$/);

  const received = await sdk.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageAttributeNames: ["All"] }));
  const [message] = received.Messages ?? [];
  assert.is(message?.Body, body);
  assert.is(message?.MessageId, one(answer.xml, "MessageId"));
  assert.equal(message?.MessageAttributes?.type, { DataType: "String", StringValue: "orders.order-placed" });
  assert.equal([...(message?.MessageAttributes?.blob?.BinaryValue ?? [])], [1, 2, 3]);
});

test("ReceiveMessage, DeleteMessage and GetQueueAttributes in the Query protocol on what the JSON SDK sent", async () => {
  await sdk.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "from json", MessageAttributes: { n: { DataType: "Number", StringValue: "42" } } }),
  );
  const received = await query({
    Action: "ReceiveMessage",
    QueueUrl: queueUrl,
    "AttributeName.1": "All",
    "MessageAttributeName.1": "All",
    MaxNumberOfMessages: "10",
  });
  assert.is(received.status, 200, received.xml);
  const messages = all(received.xml, "Message");
  assert.is(messages.length, 1);
  const message = messages[0]!;
  assert.is(one(message, "Body"), "from json");
  assert.is(one(message, "MD5OfBody"), createHash("md5").update("from json").digest("hex"));
  const systemAttributes = Object.fromEntries(all(message, "Attribute").map((entry) => [one(entry, "Name"), one(entry, "Value")]));
  assert.is(systemAttributes.ApproximateReceiveCount, "1");
  assert.ok(systemAttributes.SentTimestamp, "system attributes are named Attribute/Name/Value");
  const [attribute] = all(message, "MessageAttribute");
  assert.is(one(attribute!, "Name"), "n");
  assert.is(one(attribute!, "StringValue"), "42");
  assert.is(one(attribute!, "DataType"), "Number");

  const receipt = unescape(one(message, "ReceiptHandle"))!;
  const deleted = await query({ Action: "DeleteMessage", QueueUrl: queueUrl, ReceiptHandle: receipt });
  assert.is(deleted.status, 200, deleted.xml);
  assert.match(deleted.xml, /<DeleteMessageResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><ResponseMetadata><RequestId>/);

  const attributes = await query({ Action: "GetQueueAttributes", QueueUrl: queueUrl, "AttributeName.1": "All" });
  const values = Object.fromEntries(all(attributes.xml, "Attribute").map((entry) => [one(entry, "Name"), one(entry, "Value")]));
  assert.is(values.ApproximateNumberOfMessages, "0");
  assert.is(values.ApproximateNumberOfMessagesNotVisible, "0");
  assert.is(values.QueueArn, `arn:aws:sqs:${REGION}:${LOCAL_ACCOUNT_ID}:local-orders`);
  assert.is(values.VisibilityTimeout, "30");
});

test("batches in the Query protocol answer per entry", async () => {
  const sent = await query({
    Action: "SendMessageBatch",
    QueueUrl: queueUrl,
    "SendMessageBatchRequestEntry.1.Id": "a",
    "SendMessageBatchRequestEntry.1.MessageBody": "one",
    "SendMessageBatchRequestEntry.2.Id": "b",
    "SendMessageBatchRequestEntry.2.MessageBody": "two",
    "SendMessageBatchRequestEntry.2.DelaySeconds": "9000",
  });
  assert.is(sent.status, 200, sent.xml);
  const ok = all(sent.xml, "SendMessageBatchResultEntry");
  assert.equal(ok.map((entry) => one(entry, "Id")), ["a"]);
  assert.is(one(ok[0]!, "MD5OfMessageBody"), createHash("md5").update("one").digest("hex"));
  const failed = all(sent.xml, "BatchResultErrorEntry");
  assert.equal(failed.map((entry) => [one(entry, "Id"), one(entry, "Code"), one(entry, "SenderFault")]), [["b", "InvalidParameterValue", "true"]]);

  const received = await query({ Action: "ReceiveMessage", QueueUrl: queueUrl });
  const receipt = unescape(one(received.xml, "ReceiptHandle"))!;
  const deleted = await query({
    Action: "DeleteMessageBatch",
    QueueUrl: queueUrl,
    "DeleteMessageBatchRequestEntry.1.Id": "x",
    "DeleteMessageBatchRequestEntry.1.ReceiptHandle": receipt,
  });
  assert.equal(all(deleted.xml, "DeleteMessageBatchResultEntry").map((entry) => one(entry, "Id")), ["x"]);
});

test("older SDKs post to the queue's URL and GET with the parameters in the URL", async () => {
  const sent = await query({ Action: "SendMessage", MessageBody: "posted to the queue" }, { path: `/${LOCAL_ACCOUNT_ID}/local-orders` });
  assert.is(sent.status, 200, sent.xml);
  const listed = await query({ Action: "ListQueues", QueueNamePrefix: "local-" }, { method: "GET" });
  assert.is(listed.status, 200, listed.xml);
  assert.equal(all(listed.xml, "QueueUrl"), [queueUrl]);
  const url = await query({ Action: "GetQueueUrl", QueueName: "local-orders" });
  assert.is(one(url.xml, "QueueUrl"), queueUrl);
  const received = await sdk.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }));
  assert.is(received.Messages?.[0]?.Body, "posted to the queue");
});

test("Query-protocol errors are XML ErrorResponses with SQS's query codes and statuses", async () => {
  const missing = await query({ Action: "SendMessage", QueueUrl: `${server.url}/${LOCAL_ACCOUNT_ID}/nope`, MessageBody: "x" });
  assert.is(missing.status, 400);
  assert.match(missing.xml, /<ErrorResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><Error><Type>Sender<\/Type>/);
  assert.is(one(missing.xml, "Code"), "AWS.SimpleQueueService.NonExistentQueue");
  assert.is(one(missing.xml, "Message"), "The specified queue does not exist.");

  const stale = await query({ Action: "DeleteMessage", QueueUrl: queueUrl, ReceiptHandle: "stale" });
  assert.is(stale.status, 404);
  assert.is(one(stale.xml, "Code"), "ReceiptHandleIsInvalid");

  const unknown = await query({ Action: "FlyAway" });
  assert.is(one(unknown.xml, "Code"), "InvalidAction");

  const unsigned = await query({ Action: "ListQueues" }, { signed: false });
  assert.is(unsigned.status, 403);
  assert.is(one(unsigned.xml, "Code"), "MissingAuthenticationToken");

  denyAll = true;
  const denied = await query({ Action: "SendMessage", QueueUrl: queueUrl, MessageBody: "x" });
  assert.is(denied.status, 403);
  assert.is(one(denied.xml, "Code"), "AccessDenied");
  assert.match(unescape(one(denied.xml, "Message")) ?? "", /is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:eu-west-1:\d+:local-orders/);
});

test.run();
