// The stage's backends over the engines on their own: what an SDK request becomes in the engine.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { contextFromHeader, rootContext, traceHeaderOf } from "../context";
import type { SqsCall } from "../endpoints";
import { SqsEngine } from "../sqs/engine";
import { sqsBackend } from "../stage";

function setup() {
  const engine = new SqsEngine({ region: "us-east-1", accountId: "123456789012", queueUrlBase: "http://127.0.0.1:1" });
  const queue = engine.createQueue("local-q", {});
  const call = (header?: string): SqsCall => ({ context: contextFromHeader(header, "local-f"), region: "us-east-1", requestId: "r", signal: new AbortController().signal });
  const traceOf = () => engine.receiveNow(queue.arn, { MaxNumberOfMessages: 10 }).map((m) => m.Attributes.AWSTraceHeader);
  return { backend: sqsBackend(engine), queue, call, traceOf };
}

test("SendMessage with an X-Amzn-Trace-Id: the message's AWSTraceHeader names the call's span, in the caller's trace", async () => {
  const { backend, queue, call, traceOf } = setup();
  const invocation = rootContext("lambda");
  const sending = call(traceHeaderOf(invocation));
  await backend.sendMessage({ QueueUrl: queue.url, MessageBody: "a" }, sending);
  await backend.sendMessageBatch!({ QueueUrl: queue.url, Entries: [{ Id: "1", MessageBody: "b" }] }, sending);
  assert.equal(traceOf(), [traceHeaderOf(sending.context), traceHeaderOf(sending.context)]);
  assert.is(sending.context.parentSpanId, invocation.spanId);
  assert.is(sending.context.traceId, invocation.traceId);
});

test("the message's own AWSTraceHeader wins; a request without a trace header sends none", async () => {
  const { backend, queue, call, traceOf } = setup();
  const own = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  await backend.sendMessage(
    { QueueUrl: queue.url, MessageBody: "a", MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: own } } },
    call(traceHeaderOf(rootContext("lambda"))),
  );
  await backend.sendMessage({ QueueUrl: queue.url, MessageBody: "b" }, call(undefined));
  assert.equal(traceOf(), [own, undefined]);
});

test.run();
