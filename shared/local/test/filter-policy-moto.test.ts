/**
 * Compares our filter-policy matcher with moto's (a second, independent implementation) on the conformance table:
 * a real moto_server on a free loopback port, and for each policy a topic, an SQS queue and a subscription with the
 * policy (raw delivery); each case's message is published and the queue received, all through the real AWS SDK
 * clients. Cases moto cannot judge (it lacks IP matching, nested $or, ...) carry `motoSkip` and are checked on our
 * side only. Without moto_server on PATH the test says so and still checks our side of every case: it never fails
 * for lack of moto (a moto_server on PATH that does not start within 120 s fails it, naming why). It also checks our
 * MD5 of message attributes against moto's SQS.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilterPolicy } from "../sns/filter-policy";
import { md5OfMessageAttributes, type SqsMessageAttributeValue } from "../sqs/md5";
import { caseMessage, filterCases, type FilterCase } from "./filter-policy-cases";

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Moto {
  endpoint: string;
  child: ChildProcess;
}

async function startMoto(executable: string): Promise<Moto | string> {
  const port = await freePort();
  const child = spawn(executable, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr = (stderr + String(chunk)).slice(-2000)));
  const endpoint = `http://127.0.0.1:${port}`;
  // moto_server is a Python program: its imports alone take seconds on a loaded machine. A bound for a hang.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return `moto_server exited (${child.exitCode}): ${stderr.trim()}`;
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return { endpoint, child };
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  return `moto_server did not answer within 120 s: ${stderr.trim()}`;
}

let moto: Moto | undefined;
let motoMissing = "";
let sns: SNSClient;
let sqs: SQSClient;

test.before(async () => {
  const executable = findOnPath("moto_server");
  if (!executable) {
    motoMissing = "moto_server is not on PATH";
  } else {
    const started = await startMoto(executable);
    // moto is there but does not run: that is a failure to report, not a comparison to skip quietly.
    if (typeof started === "string") {
      // Printed as well: uvu swallows a before hook's error (the runner counts the tests that did not run as failed).
      const reason = `filter-policy-moto: ${started} (moto_server is on PATH at ${executable}: fix it, or take it off PATH to check our side only)`;
      console.error(reason);
      throw new Error(reason);
    }
    moto = started;
  }
  if (!moto) {
    console.log(`filter-policy-moto: ${motoMissing}; checking our matcher against the table only (install moto to compare).`);
    return;
  }
  const config = { endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  sns = new SNSClient(config);
  sqs = new SQSClient(config);
});

test.after(() => {
  sns?.destroy();
  sqs?.destroy();
  moto?.child.kill();
});

/**
 * Runs the cases that share a policy through one topic, queue and subscription of their own (no other policy's
 * subscription sees their messages): publish a case's message, receive, note whether it arrived. A received message
 * stays invisible, so it never counts for the next case.
 */
async function motoDelivers(group: number, cases: FilterCase[]): Promise<boolean[]> {
  const name = `policy-${group}`;
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const first = cases[0]!;
  await sns.send(
    new SubscribeCommand({
      TopicArn,
      Protocol: "sqs",
      Endpoint: `arn:aws:sqs:us-east-1:123456789012:${name}`,
      Attributes: { RawMessageDelivery: "true", FilterPolicyScope: first.scope ?? "MessageAttributes", FilterPolicy: JSON.stringify(first.policy) },
    }),
  );
  const results: boolean[] = [];
  for (const c of cases) {
    const message = caseMessage(c);
    await sns.send(new PublishCommand({ TopicArn, Message: message.Message, MessageAttributes: message.MessageAttributes }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    results.push((received.Messages ?? []).length > 0);
  }
  return results;
}

test("our matcher gives the documented result for every case, and agrees with moto where moto supports the operator", async () => {
  const ours = filterCases.map((c) => compileFilterPolicy(c.policy, c.scope).matches(caseMessage(c)));
  filterCases.forEach((c, index) => assert.is(ours[index], c.expect, `our matcher on ${c.id}`));
  if (!moto) return;

  const groups = new Map<string, Array<{ c: FilterCase; index: number }>>();
  filterCases.forEach((c, index) => {
    if (c.motoSkip) return;
    const key = JSON.stringify([c.scope ?? "MessageAttributes", c.policy]);
    groups.set(key, [...(groups.get(key) ?? []), { c, index }]);
  });
  const work = [...groups.values()];
  const disagreements: string[] = [];
  for (let start = 0; start < work.length; start += 8) {
    await Promise.all(
      work.slice(start, start + 8).map(async (entries, offset) => {
        const delivered = await motoDelivers(start + offset, entries.map((entry) => entry.c));
        entries.forEach(({ c, index }, i) => {
          if (delivered[i] !== ours[index]) {
            disagreements.push(`${c.id}: moto ${delivered[i] ? "delivered" : "filtered"}, we ${ours[index] ? "deliver" : "filter"}`);
          }
        });
      }),
    );
  }
  const compared = work.reduce((sum, entries) => sum + entries.length, 0);
  console.log(`filter-policy-moto: ${compared} cases compared with moto, ${filterCases.length - compared} outside moto's support`);
  assert.equal(disagreements, [], "moto and our matcher disagree");
  assert.ok(compared >= 60, `${compared} cases compared`);
});

test("our MD5 of message attributes equals moto's SQS MD5OfMessageAttributes", async () => {
  const attributes: Record<string, SqsMessageAttributeValue> = {
    type: { DataType: "String", StringValue: "orders.order-placed" },
    amount: { DataType: "Number", StringValue: "12.50" },
    blob: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 1, 2, 255]) },
    custom: { DataType: "String.custom", StringValue: "é ünïcode" },
  };
  const ours = md5OfMessageAttributes(attributes);
  assert.match(ours ?? "", /^[0-9a-f]{32}$/);
  if (!moto) return;
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "md5-check" }));
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "body", MessageAttributes: attributes }));
  assert.is(sent.MD5OfMessageAttributes, ours);
});

test.run();
