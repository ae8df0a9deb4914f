// The relay faults on a relay's PublishBatch (the relay sends its rounds' events in PublishBatch calls): the crash
// after a publish finds the invocation that sent the batch, as it does for a Publish. The unmodified SDK client, the
// local SNS endpoint and the stage's backend over the engine.
import { PublishBatchCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { randomUUID } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSnsEndpoint, startEndpointServer, type EndpointServer } from "../endpoints";
import { installRelayFaults } from "../faults/relay-faults";
import { SnsEngine } from "../sns";
import { SqsEngine } from "../sqs";
import { snsBackend } from "../stage/backends";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const RELAY = "local-billing-outbox-relay";
const INVOCATION_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

let server: EndpointServer;
let sns: SnsEngine;
let client: SNSClient;
let topicArn: string;
let crashes: { functionName: string; traceHeader: string | undefined }[];
let uninstall: () => void;

test.before.each(async () => {
  sns = new SnsEngine({ sqs: new SqsEngine({ region: "eu-west-1", accountId: "123456789012" }) });
  topicArn = sns.createTopic("local-billing-invoice-issued").arn;
  crashes = [];
  ({ uninstall } = installRelayFaults(sns, {
    seed: 7,
    rates: { throttle: 0, crashAfterPublish: 1 },
    relays: new Set([RELAY]),
    crash: async (functionName, traceHeader) => {
      crashes.push({ functionName, traceHeader });
      return true;
    },
  }));
  server = await startEndpointServer({ services: [createSnsEndpoint({ backend: snsBackend(sns, (input, context) => sns.publish(input, context)) })] });
  client = new SNSClient({ endpoint: server.url, region: "eu-west-1", credentials: { accessKeyId: RELAY, secretAccessKey: "x" }, maxAttempts: 1 });
});

test.after.each(async () => {
  uninstall();
  client.destroy();
  await server.close();
});

/** Sends as the relay's invocation would: the SDK forwards `_X_AMZN_TRACE_ID` as X-Amzn-Trace-Id inside Lambda. */
async function fromInvocation(send: () => Promise<unknown>): Promise<void> {
  const saved = { name: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
  process.env.AWS_LAMBDA_FUNCTION_NAME = RELAY;
  process.env._X_AMZN_TRACE_ID = INVOCATION_TRACE;
  try {
    await send();
  } finally {
    for (const [key, value] of [["AWS_LAMBDA_FUNCTION_NAME", saved.name], ["_X_AMZN_TRACE_ID", saved.trace]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  // The crash comes right after the call returns.
  await new Promise((resolve) => setImmediate(resolve));
}

const message = () => JSON.stringify({ id: randomUUID(), type: "billing.invoice-issued" });

test("a crash after a relay's PublishBatch kills the invocation that sent it (its trace header), as after a Publish", async () => {
  await fromInvocation(() => client.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: [{ Id: "e0", Message: message() }, { Id: "e1", Message: message() }] })));
  // Each entry drew its crash (rate 1): each names the invocation.
  assert.equal(crashes, [
    { functionName: RELAY, traceHeader: INVOCATION_TRACE },
    { functionName: RELAY, traceHeader: INVOCATION_TRACE },
  ]);

  crashes.length = 0;
  await fromInvocation(() => client.send(new PublishCommand({ TopicArn: topicArn, Message: message() })));
  assert.equal(crashes, [{ functionName: RELAY, traceHeader: INVOCATION_TRACE }]);
});

test.run();
