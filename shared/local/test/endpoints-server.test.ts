import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  createSnsEndpoint,
  createSqsEndpoint,
  parseCredentialScope,
  PortInUseError,
  sigV4Credential,
  startEndpointServer,
  type EndpointResponse,
  type SqsBackend,
} from "../endpoints";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const credentials = { accessKeyId: "local-orders-place-order", secretAccessKey: "x" };

function unusedSqs(overrides: Partial<SqsBackend>): SqsBackend {
  const fail = (): never => {
    throw new Error("not expected in this test");
  };
  return {
    sendMessage: fail,
    sendMessageBatch: fail,
    receiveMessage: fail,
    deleteMessage: fail,
    deleteMessageBatch: fail,
    changeMessageVisibility: fail,
    getQueueAttributes: fail,
    getQueueUrl: fail,
    listQueues: fail,
    ...overrides,
  };
}

test("listens on 127.0.0.1 and a free port by default", async () => {
  const server = await startEndpointServer({ services: [] });
  try {
    assert.is(server.host, "127.0.0.1");
    assert.ok(server.port > 0);
    assert.is(server.url, `http://127.0.0.1:${server.port}`);
  } finally {
    await server.close();
  }
});

test("a taken port is reported in one clear sentence", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    let error: unknown;
    try {
      await startEndpointServer({ services: [], port });
    } catch (caught) {
      error = caught;
    }
    assert.instance(error, PortInUseError);
    assert.is((error as Error).message, `port ${port} is in use: stop the other process or pass --port`);
    assert.is((error as PortInUseError).port, port);
  } finally {
    blocker.close();
  }
});

test("one port serves SNS and SQS: each request goes to the service its signature names", async () => {
  const seen: string[] = [];
  const server = await startEndpointServer({
    services: [
      createSnsEndpoint({ backend: { publish: async (request) => (seen.push(`sns:${request.TopicArn}`), { MessageId: "m-1" }) } }),
      createSqsEndpoint({ backend: unusedSqs({ listQueues: async () => (seen.push("sqs:list"), { QueueUrls: [] }) }) }),
    ],
  });
  const sns = new SNSClient({ endpoint: server.url, region: "eu-west-1", credentials, maxAttempts: 1 });
  const sqs = new SQSClient({ endpoint: server.url, region: "eu-west-1", credentials, maxAttempts: 1 });
  try {
    await sns.send(new PublishCommand({ TopicArn: "arn:aws:sns:eu-west-1:123456789012:t", Message: "m" }));
    await sqs.send(new ListQueuesCommand({}));
    assert.equal(seen, ["sns:arn:aws:sns:eu-west-1:123456789012:t", "sqs:list"]);
    const unknown = await fetch(server.url, {
      method: "POST",
      headers: { authorization: "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/kinesis/aws4_request, SignedHeaders=host, Signature=00" },
      body: "{}",
    });
    assert.is(unknown.status, 404);
    assert.match(await unknown.text(), `no local endpoint for service \\"kinesis\\"`);
  } finally {
    sns.destroy();
    sqs.destroy();
    await server.close();
  }
});

test("the caller's access key id comes from the SigV4 credential scope (header or presigned query)", () => {
  assert.equal(parseCredentialScope("local-fn/20260101/eu-west-1/sqs/aws4_request"), {
    accessKeyId: "local-fn",
    date: "20260101",
    region: "eu-west-1",
    service: "sqs",
  });
  assert.is(parseCredentialScope("local-fn/20260101/eu-west-1/sqs"), undefined);
  const header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d67";
  assert.is(sigV4Credential({ authorization: header }, "/")?.accessKeyId, "AKIDEXAMPLE");
  assert.is(sigV4Credential({ authorization: "Basic dXNlcjpwYXNz" }, "/"), undefined);
  const presigned = `/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent("local-fn/20260101/eu-west-1/sns/aws4_request")}`;
  assert.is(sigV4Credential({}, presigned)?.service, "sns");
  assert.is(sigV4Credential({}, "/"), undefined);
});

/** A service that hands each request's signal to the test and answers when `answer` is called (or at once). */
function signalService(held: boolean): { service: import("../endpoints").ServiceEndpoint; signals: AbortSignal[]; received: Promise<void> } {
  const signals: AbortSignal[] = [];
  let tellReceived!: () => void;
  const received = new Promise<void>((resolve) => (tellReceived = resolve));
  return {
    signals,
    received,
    service: {
      service: "sqs",
      matches: () => true,
      handle: (request) => {
        signals.push(request.signal);
        tellReceived();
        if (!held) return Promise.resolve({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" });
        return new Promise((resolve) => request.signal.addEventListener("abort", () => resolve({ status: 200, headers: {}, body: "" }), { once: true }));
      },
    },
  };
}

test("a request's signal aborts when its client goes away before the answer", async () => {
  const { service, signals, received } = signalService(true);
  const server = await startEndpointServer({ services: [service] });
  try {
    const client = new AbortController();
    const request = fetch(server.url, { method: "POST", body: "x", signal: client.signal }).catch(() => undefined);
    await received;
    client.abort();
    await request;
    for (let i = 0; i < 100 && !signals[0]!.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.is(signals[0]!.aborted, true);
  } finally {
    await server.close();
  }
});

test("a request's signal stays unaborted once its answer was sent (nobody is left to tell)", async () => {
  const { service, signals } = signalService(false);
  const server = await startEndpointServer({ services: [service] });
  try {
    const response = await fetch(server.url, { method: "POST", body: "x", headers: { connection: "close" } });
    assert.is(await response.text(), "ok");
    // The connection closes after the answer: the response's close event has fired by the time the socket is gone.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.is(signals.length, 1);
    assert.is(signals[0]!.aborted, false);
  } finally {
    await server.close();
  }
});

test("a request's signal is made only when an endpoint reads it, and is already aborted if its client has gone", async () => {
  const made: AbortController[] = [];
  const Original = globalThis.AbortController;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      made.push(this);
    }
  };
  let lateSignal: AbortSignal | undefined;
  let releaseLate!: () => void;
  const late = new Promise<void>((resolve) => (releaseLate = resolve));
  let tellReceived!: () => void;
  const received = new Promise<void>((resolve) => (tellReceived = resolve));
  let readBack!: () => void;
  const read = new Promise<void>((resolve) => (readBack = resolve));
  const server = await startEndpointServer({
    services: [
      {
        service: "sqs",
        matches: () => true,
        handle: async (request): Promise<EndpointResponse> => {
          if (request.url !== "/late") return { status: 200, headers: { "content-type": "text/plain" }, body: `${request.method} ${request.remoteAddress}` };
          tellReceived();
          // Reads its signal only after its client went away.
          await late;
          lateSignal = request.signal;
          readBack();
          return { status: 200, headers: {}, body: "" };
        },
      },
    ],
  });
  try {
    // node:http as the client (fetch makes AbortControllers of its own in this process).
    const post = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const outgoing = httpRequest(server.url, { method: "POST" }, (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => resolve(text));
        });
        outgoing.on("error", reject);
        outgoing.end("x");
      });
    for (let i = 0; i < 5; i++) assert.is(await post(), "POST 127.0.0.1");
    // Nothing read a signal: none was made (each costs an EventTarget per request).
    assert.is(made.length, 0);

    const client = new AbortController();
    const request = fetch(`${server.url}/late`, { method: "POST", body: "x", signal: client.signal }).catch(() => undefined);
    await received;
    client.abort();
    await request;
    // The server sees the client go (the response's close event), then the endpoint reads its signal.
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseLate();
    await read;
    assert.is(lateSignal?.aborted, true);
  } finally {
    globalThis.AbortController = Original;
    await server.close();
  }
});

test.run();
