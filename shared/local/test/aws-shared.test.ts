/**
 * The local stage names one account and throws one AWS error class everywhere: every part that builds an ARN or an
 * event without being told the account uses the stage's account (the account its programs run under), and an
 * engine's error is the endpoints' error.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { IncomingMessage } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MOCK_ACCOUNT_ID } from "../../capture/pulumi-mocks";
import { AwsServiceError, LOCAL_ACCOUNT_ID } from "../aws";
import { AwsServiceError as EndpointError } from "../endpoints/errors";
import { buildHttpApiEvent } from "../lambda-events";
import { SnsEngine } from "../sns";
import { ServiceError, SqsEngine } from "../sqs";

const LOCAL = join(__dirname, "..");

test("the stage's account is the account its programs run under", () => {
  assert.is(LOCAL_ACCOUNT_ID, MOCK_ACCOUNT_ID);
});

test("engines and Lambda events default to the stage's account", () => {
  const sqs = new SqsEngine();
  assert.is(sqs.createQueue("q").arn, `arn:aws:sqs:us-east-1:${LOCAL_ACCOUNT_ID}:q`);
  const sns = new SnsEngine({ sqs });
  assert.is(sns.createTopic("t").arn, `arn:aws:sns:us-east-1:${LOCAL_ACCOUNT_ID}:t`);
  const request = { method: "GET", url: "/", rawHeaders: ["Host", "localhost"] } as unknown as IncomingMessage;
  const event = buildHttpApiEvent(request, undefined, { routeKey: "$default" });
  assert.is(event.requestContext.accountId, LOCAL_ACCOUNT_ID);
});

// Twelve digits standing alone, as an account id is written; not a Kinesis shard id ("shardId-" and twelve digits).
const ACCOUNT_ID_LIKE = /(?<![\d.]|shardId-)\d{12}(?![\d.])/;

test("what the account id scan counts as an account id", () => {
  for (const line of [`const ACCOUNT = "000000000000";`, "arn:aws:sqs:us-east-1:123456789012:q", "accountId: 210987654321,"]) {
    assert.ok(ACCOUNT_ID_LIKE.test(line), line);
  }
  for (const line of [`{ "shardId": "shardId-000000000000" }`, "1234567890123", "0.123456789012", "sequence 49590338271490256608559692538361571095921575989136588898"]) {
    assert.not.ok(ACCOUNT_ID_LIKE.test(line), line);
  }
});

test("no other account id is written anywhere in the local stage's code", () => {
  const offenders: string[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "test" && name !== "node_modules") visit(path);
      } else if (name.endsWith(".ts")) {
        readFileSync(path, "utf8")
          .split("\n")
          .forEach((line, index) => {
            if (ACCOUNT_ID_LIKE.test(line)) offenders.push(`${relative(LOCAL, path)}:${index + 1}: ${line.trim()}`);
          });
      }
    }
  };
  visit(LOCAL);
  assert.equal(offenders, [], `account ids outside LOCAL_ACCOUNT_ID:\n${offenders.join("\n")}`);
});

test("one AWS error class: what the engines throw is what the endpoints answer with", () => {
  assert.is(ServiceError, AwsServiceError);
  assert.is(EndpointError, AwsServiceError);
  const sqs = new SqsEngine();
  try {
    sqs.queue("nope");
    assert.unreachable("a missing queue is an error");
  } catch (error) {
    assert.instance(error, AwsServiceError);
    assert.is((error as AwsServiceError).code, "AWS.SimpleQueueService.NonExistentQueue");
    assert.is((error as AwsServiceError).senderFault, true);
  }
  assert.is(new AwsServiceError("InternalError", "x", false).senderFault, false, "the engines' positional senderFault still reads");
});

test.run();
