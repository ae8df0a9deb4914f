import { test } from "uvu";
import * as assert from "uvu/assert";
import type { SQSEvent } from "aws-lambda";
import { readRecordMessage } from "../sqs-record";
import { fixture } from "./helpers/events";

// Real samples (shared/testing/fixtures/aws-events, see SOURCES.md) carry foreign payloads: they test the record
// layer. consume.test.ts puts our CloudEvent inside copies of them for the full path.

test("sqs-raw.json: plain bodies are read as they are (text and JSON)", () => {
  const [text, json] = fixture<SQSEvent>("sqs-raw.json").Records;
  assert.equal(readRecordMessage(text!), { message: "Test message.", delivery: "raw" });
  assert.equal(readRecordMessage(json!), { message: '{"message": "foo1"}', json: { message: "foo1" }, delivery: "raw" });
});

test("sqs-raw-full-attributes.json: the body is the message", () => {
  const [record] = fixture<SQSEvent>("sqs-raw-full-attributes.json").Records;
  assert.equal(readRecordMessage(record!), { message: "Message Body", delivery: "raw" });
});

test("sqs-sns-envelope.json: the SNS Notification is unwrapped (Subject null)", () => {
  const [record] = fixture<SQSEvent>("sqs-sns-envelope.json").Records;
  assert.equal(readRecordMessage(record!), {
    message: '{"message": "hello world"}',
    json: { message: "hello world" },
    delivery: "sns",
    topicArn: "arn:aws:sns:eu-west-1:231436140809:powertools265",
    snsMessageId: "d88d4479-6ec0-54fe-b63f-1cf9df4bb16e",
  });
});

test("sqs-sns-envelope-2.json: unwrapped without a Subject key", () => {
  const [record] = fixture<SQSEvent>("sqs-sns-envelope-2.json").Records;
  const read = readRecordMessage(record!);
  assert.is(read.delivery, "sns");
  assert.equal(read.json, { message: "hello world", username: "lessa" });
});

test("sqs-sns-envelope-fifo.json: FIFO envelopes (no signature, a sequence number) are unwrapped", () => {
  const [record] = fixture<SQSEvent>("sqs-sns-envelope-fifo.json").Records;
  const read = readRecordMessage(record!);
  assert.is(read.delivery, "sns");
  assert.is(read.topicArn, "arn:aws:sns:eu-west-1:231436140809:Test.fifo");
  assert.equal(read.json, { message: "hello world", username: "lessa" });
  assert.is(record!.attributes.MessageGroupId, "powertools-test");
});

test("JSON that only looks like a notification stays raw", () => {
  const body = JSON.stringify({ Type: "Notification", Message: { not: "a string" } });
  assert.is(readRecordMessage({ body }).delivery, "raw");
  assert.is(readRecordMessage({ body: "" }).message, "");
});

test("an SNS envelope whose Message is not JSON keeps the text", () => {
  const body = JSON.stringify({ Type: "Notification", TopicArn: "arn:aws:sns:eu-west-1:1:t", Message: "plain" });
  assert.equal(readRecordMessage({ body }), { message: "plain", delivery: "sns", topicArn: "arn:aws:sns:eu-west-1:1:t" });
});

test.run();
