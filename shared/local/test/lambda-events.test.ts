import { readFileSync } from "node:fs";
import { request as httpRequest, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { APIGatewayProxyEventV2, SQSEvent, SQSRecord } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { apiGatewayTime, buildSqsEvent, md5OfBody, md5OfMessageAttributes, readHttpApiEvent, toSqsRecord, type HttpApiEventOptions } from "../lambda-events";
import { SnsEngine } from "../sns";
import { FakeClock, SqsEngine } from "../sqs";

const fixtures = join(__dirname, "..", "..", "testing", "fixtures", "aws-events");
const fixture = <T>(file: string): T => JSON.parse(readFileSync(join(fixtures, file), "utf8")) as T;

// ---------------------------------------------------------------------------------------------------------------
// Shape comparison: same keys and value types, recursively, with named exceptions.

type Shape = "null" | "array" | "object" | "string" | "number" | "boolean" | "undefined";
const shapeOf = (v: unknown): Shape => (v === null ? "null" : Array.isArray(v) ? "array" : (typeof v as Shape));

interface ShapeRules {
  /** Paths whose object keys are data (headers, attribute names), compared by value type only. */
  maps?: string[];
  /** path -> why our event differs from the sample there (documented, justified exceptions). */
  exceptions?: Record<string, string>;
}

/** Differences between the shapes of `actual` and `expected`; also reports which exceptions were used. */
function shapeDiff(actual: unknown, expected: unknown, rules: ShapeRules, used = new Set<string>(), path = "$"): { diffs: string[]; used: Set<string> } {
  const diffs: string[] = [];
  const exception = (p: string) => {
    if (rules.exceptions?.[p] !== undefined) {
      used.add(p);
      return true;
    }
    return false;
  };
  const a = shapeOf(actual);
  const e = shapeOf(expected);
  if (a !== e) {
    if (!exception(path)) diffs.push(`${path}: ${a} where the sample has ${e}`);
    return { diffs, used };
  }
  if (a === "array") {
    const [first] = expected as unknown[];
    if (first !== undefined) for (const item of actual as unknown[]) diffs.push(...shapeDiff(item, first, rules, used, `${path}[]`).diffs);
  } else if (a === "object") {
    const act = actual as Record<string, unknown>;
    const exp = expected as Record<string, unknown>;
    if (rules.maps?.includes(path)) {
      const sampleTypes = new Set(Object.values(exp).map(shapeOf));
      for (const [key, value] of Object.entries(act)) {
        if (sampleTypes.size > 0 && !sampleTypes.has(shapeOf(value)) && !exception(`${path}.*`)) diffs.push(`${path}.${key}: ${shapeOf(value)} not among the sample's ${[...sampleTypes].join("/")}`);
      }
      return { diffs, used };
    }
    for (const key of Object.keys(exp)) {
      if (!(key in act)) {
        if (!exception(`${path}.${key}`)) diffs.push(`${path}.${key}: missing (the sample has it)`);
      } else diffs.push(...shapeDiff(act[key], exp[key], rules, used, `${path}.${key}`).diffs);
    }
    for (const key of Object.keys(act)) if (!(key in exp) && !exception(`${path}.${key}`)) diffs.push(`${path}.${key}: not in the sample`);
  }
  return { diffs, used };
}

function assertSameShape(actual: unknown, expected: unknown, rules: ShapeRules, label: string): void {
  const { diffs, used } = shapeDiff(actual, expected, rules);
  assert.equal(diffs, [], `${label}: shape differs from the AWS sample`);
  const unused = Object.keys(rules.exceptions ?? {}).filter((p) => !used.has(p));
  assert.equal(unused, [], `${label}: documented exceptions that no longer apply`);
}

// ---------------------------------------------------------------------------------------------------------------
// SQS events

function engines() {
  const clock = new FakeClock(Date.UTC(2024, 5, 17, 15, 52, 39));
  const sqs = new SqsEngine({ clock, region: "eu-west-1", accountId: "231436140809" });
  const sns = new SnsEngine({ sqs });
  return { clock, sqs, sns };
}

function recordFrom(sqs: SqsEngine, queueUrl: string): SQSRecord {
  const queue = sqs.queue(queueUrl);
  const [message] = sqs.receiveNow(queueUrl);
  assert.ok(message, "a message to build the record from");
  return toSqsRecord(message, { queueArn: queue.arn, region: sqs.region });
}

test("MD5s use AWS's algorithms (checked against AWS captures and SDK test vectors)", () => {
  const raw = fixture<SQSEvent>("sqs-raw.json").Records[0]!;
  assert.is(md5OfBody(raw.body), raw.md5OfBody);
  const envelope = fixture<SQSEvent>("sqs-sns-envelope-2.json").Records[0]!;
  assert.is(md5OfBody(envelope.body), envelope.md5OfBody, "the captured SNS envelope's md5OfBody");
  // Vectors from SDK-validated test suites (an SQS emulator's Go test run against aws-sdk-go-v2's checks, and a JS
  // SQS library's test): attributes sorted by name, length-prefixed name/type/value, transport byte.
  assert.is(md5OfMessageAttributes({ SellerName: { DataType: "String", StringValue: "Example Store" } }), "cd28f3b68aeee4b2eac9c66f2f694b58");
  assert.is(
    md5OfMessageAttributes({ ordinal: { DataType: "Number", StringValue: "1" }, category: { DataType: "String", StringValue: "test" } }),
    "d21ae90c49061e927f57df5f5d72be1f",
  );
  assert.is(md5OfMessageAttributes({}), undefined);
  // Binary, non-ASCII, list and empty values (pinned: the values the length-prefixed byte layout above gives).
  assert.is(
    md5OfMessageAttributes({
      type: { DataType: "String", StringValue: "orders.order-placed" },
      amount: { DataType: "Number", StringValue: "12.50" },
      blob: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 1, 2, 255]) },
      custom: { DataType: "String.custom", StringValue: "\u00e9 \u00fcn\u00efcode \ud83d\ude00" },
    }),
    "9ec9dd440c85595204e66c6a733f3377",
  );
  assert.is(
    md5OfMessageAttributes({
      tags: { DataType: "String.Array", StringListValues: ["a", "", "\u00fc"] },
      bins: { DataType: "Binary", BinaryListValues: [Uint8Array.from([1, 2, 3]), new Uint8Array(0)] },
    }),
    "4a00403949f971867006304d37fa22a3",
  );
  assert.is(md5OfMessageAttributes({ e: { DataType: "String", StringValue: "" } }), "6bc73efe9a52418a9ef9300a04f7287d");
  assert.is.not(
    md5OfMessageAttributes({ b: { DataType: "Binary", BinaryValue: Uint8Array.from([1]) } }),
    md5OfMessageAttributes({ b: { DataType: "Binary", BinaryValue: Uint8Array.from([2]) } }),
  );
});

test("an SNS-enveloped record has the keys, order and types of AWS's captured record", () => {
  const { sqs, sns } = engines();
  const topic = sns.createTopic("powertools265");
  const queue = sqs.createQueue("powertools265");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  sns.publish({ TopicArn: topic.arn, Message: '{"message": "hello world", "username": "lessa"}' });
  const record = recordFrom(sqs, queue.url);
  const sample = fixture<SQSEvent>("sqs-sns-envelope-2.json").Records[0]!;
  assertSameShape(record, sample, {}, "sqs-sns-envelope-2");
  assert.equal(Object.keys(record), Object.keys(sample), "record key order");
  assert.equal(Object.keys(record.attributes), Object.keys(sample.attributes), "attribute key order");
  assert.equal(Object.keys(JSON.parse(record.body)), Object.keys(JSON.parse(sample.body)), "envelope key order");
  assert.is(record.md5OfBody, md5OfBody(record.body));
  assert.is(record.eventSourceARN, "arn:aws:sqs:eu-west-1:231436140809:powertools265");
  assert.is(record.awsRegion, "eu-west-1");

  const edited = fixture<SQSEvent>("sqs-sns-envelope.json").Records[0]!;
  assertSameShape(record, edited, {}, "sqs-sns-envelope");
  assertSameShape(JSON.parse(record.body), JSON.parse(edited.body), {
    exceptions: {
      "$.Subject":
        'this sample says "Subject" : null, but its md5OfBody does not match its body (it was edited); the capture ' +
        "whose MD5 matches (sqs-sns-envelope-2) and AWS-recorded snapshots have no Subject key when none was published",
    },
  }, "sqs-sns-envelope body");
});

test("a FIFO record (SNS FIFO topic -> SQS FIFO queue) matches AWS's keys, order and types", () => {
  const { sqs, sns } = engines();
  const topic = sns.createTopic("Test.fifo", { FifoTopic: true, ContentBasedDeduplication: true });
  const queue = sqs.createQueue("Test.fifo", { FifoQueue: true });
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn });
  sns.publish({ TopicArn: topic.arn, Message: '{"message": "hello world", "username": "lessa"}', MessageGroupId: "powertools-test" });
  const record = recordFrom(sqs, queue.url);
  const sample = fixture<SQSEvent>("sqs-sns-envelope-fifo.json").Records[0]!;
  assertSameShape(record, sample, {}, "sqs-sns-envelope-fifo");
  assert.equal(Object.keys(record.attributes), Object.keys(sample.attributes), "FIFO attribute key order");
  assert.equal(Object.keys(JSON.parse(record.body)), Object.keys(JSON.parse(sample.body)), "FIFO envelope key order");
  assert.match(record.attributes.SequenceNumber!, /^\d{20}$/);
  assert.match(JSON.parse(record.body).SequenceNumber, /^\d{20}$/);
});

test("a raw-delivery record with attributes has the shape of the plain SQS samples", () => {
  const { sqs, sns } = engines();
  const topic = sns.createTopic("t");
  const queue = sqs.createQueue("my-queue");
  sns.subscribe({ TopicArn: topic.arn, Protocol: "sqs", Endpoint: queue.arn, Attributes: { RawMessageDelivery: true } });
  sns.publish({
    TopicArn: topic.arn,
    Message: "Message Body",
    MessageAttributes: {
      Attribute1: { DataType: "String", StringValue: "AttributeValue1" },
      Attribute2: { DataType: "Number", StringValue: "123" },
      Attribute3: { DataType: "Binary", BinaryValue: Buffer.from("1100") },
    },
  });
  const record = recordFrom(sqs, queue.url);
  assert.equal(record.messageAttributes, {
    Attribute1: { stringValue: "AttributeValue1", stringListValues: [], binaryListValues: [], dataType: "String" },
    Attribute2: { stringValue: "123", stringListValues: [], binaryListValues: [], dataType: "Number" },
    Attribute3: { binaryValue: "MTEwMA==", stringListValues: [], binaryListValues: [], dataType: "Binary" },
  });
  assert.is(
    record.md5OfMessageAttributes,
    md5OfMessageAttributes({
      Attribute1: { DataType: "String", StringValue: "AttributeValue1" },
      Attribute2: { DataType: "Number", StringValue: "123" },
      Attribute3: { DataType: "Binary", BinaryValue: Buffer.from("1100") },
    }),
  );
  const full = fixture<SQSEvent>("sqs-raw-full-attributes.json").Records[0]!;
  assertSameShape(record, full, { maps: ["$.messageAttributes"] }, "sqs-raw-full-attributes");
  for (const [name, value] of Object.entries(record.messageAttributes)) {
    const sample = Object.values(full.messageAttributes).find((s) => s.dataType === value.dataType)!;
    assertSameShape(value, sample, {}, `attribute ${name} (${value.dataType})`);
    assert.equal(Object.keys(value), Object.keys(sample), `attribute ${name} key order`);
  }

  const base = fixture<SQSEvent>("sqs-raw.json").Records[0]!;
  assertSameShape(record, base, {
    maps: ["$.messageAttributes"],
    exceptions: {
      "$.md5OfMessageAttributes": "SQS returns it whenever a message has attributes (the aws-lambda-go sample has it); this hand-written sample omits it",
    },
  }, "sqs-raw record 1");
});

test("a dead-letter record carries DeadLetterQueueSourceArn, as in AWS's sample", async () => {
  const { sqs, clock } = engines();
  const dlq = sqs.createQueue("my-queue-dead");
  const source = sqs.createQueue("my-queue", { VisibilityTimeout: 1, RedrivePolicy: { deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 } });
  sqs.sendMessage(source.url, { MessageBody: '{"message": "foo1"}' });
  sqs.receiveNow(source.url);
  await clock.advance(1000);
  sqs.receiveNow(source.url);
  const record = recordFrom(sqs, dlq.url);
  const sample = fixture<SQSEvent>("sqs-raw.json").Records[1]!;
  assertSameShape(record, sample, {}, "sqs-raw record 2");
  assert.equal(Object.keys(record.attributes), Object.keys(sample.attributes));
  assert.is(record.attributes.DeadLetterQueueSourceArn, source.arn);
});

test("a record's MD5s are those of its body and attributes, after a redrive to a dead-letter queue too", async () => {
  const { sqs, clock } = engines();
  const dlq = sqs.createQueue("md5-dead");
  const source = sqs.createQueue("md5-source", { VisibilityTimeout: 1, RedrivePolicy: { deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 } });
  const attributes = {
    type: { DataType: "String", StringValue: "orders.order-placed" },
    blob: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 1, 255]) },
  };
  sqs.sendMessage(source.url, { MessageBody: '{"id":"\u00e9v\u00e9nement"}', MessageAttributes: attributes });
  const first = recordFrom(sqs, source.url);
  await clock.advance(1000);
  sqs.receiveNow(source.url);
  const redriven = recordFrom(sqs, dlq.url);
  for (const record of [first, redriven]) {
    assert.is(record.md5OfBody, md5OfBody('{"id":"\u00e9v\u00e9nement"}'));
    assert.is(record.md5OfMessageAttributes, md5OfMessageAttributes(attributes));
    assert.equal(Object.keys(record.messageAttributes), ["type", "blob"]);
    assert.is(record.messageAttributes.blob!.binaryValue, Buffer.from([0, 1, 255]).toString("base64"));
  }
  assert.is(redriven.attributes.DeadLetterQueueSourceArn, source.arn);
});

test("buildSqsEvent wraps records in batch order", () => {
  const { sqs } = engines();
  const queue = sqs.createQueue("q");
  sqs.sendMessage(queue.url, { MessageBody: "a" });
  sqs.sendMessage(queue.url, { MessageBody: "b" });
  const event = buildSqsEvent(sqs.receiveNow(queue.url, { MaxNumberOfMessages: 10 }), { queueArn: queue.arn });
  assert.equal(event.Records.map((r) => r.body), ["a", "b"]);
  assert.is(event.Records[0]!.awsRegion, "eu-west-1", "region defaults to the ARN's");
});

// ---------------------------------------------------------------------------------------------------------------
// API Gateway HTTP API (payload 2.0)

async function withServer(options: HttpApiEventOptions, run: (port: number, events: APIGatewayProxyEventV2[]) => Promise<void>): Promise<void> {
  const events: APIGatewayProxyEventV2[] = [];
  const server: Server = createServer((req, res) => {
    void readHttpApiEvent(req, options).then((event) => {
      events.push(event);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run((server.address() as AddressInfo).port, events);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(port: number, method: string, path: string, headers: Record<string, string | string[]>, body?: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve());
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("an HTTP API event without body, query or cookies has the shape of AWS's captured event", async () => {
  await withServer({ routeKey: "POST /lambda", apiId: "lsw1ro4ipb", accountId: "123456789012", timeEpoch: Date.UTC(2024, 5, 17, 15, 52, 39, 80) }, async (port, events) => {
    await send(port, "POST", "/lambda", { Accept: "*/*", "User-Agent": "HTTPie/3.2.2", Authorization: "Bearer foo", "Content-Length": "0" });
    const event = events[0]!;
    const sample = fixture<APIGatewayProxyEventV2>("apigw-http-v2.json");
    assertSameShape(event, sample, {
      maps: ["$.headers"],
      exceptions: { "$.requestContext.authorizer": "only present when the route has an authorizer; the sample's route had one ({lambda: null})" },
    }, "apigw-http-v2");
    assert.equal(Object.keys(event), Object.keys(sample), "top-level key order");
    assert.equal(Object.keys(event.requestContext).filter((k) => k !== "authorizer"), Object.keys(sample.requestContext).filter((k) => k !== "authorizer"));
    assert.is(event.version, "2.0");
    assert.is(event.routeKey, "POST /lambda");
    assert.is(event.rawPath, "/lambda");
    assert.is(event.rawQueryString, "");
    assert.is(event.isBase64Encoded, false);
    assert.is(event.body, undefined);
    assert.equal(event.requestContext.http, { method: "POST", path: "/lambda", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "HTTPie/3.2.2" });
    assert.is(event.requestContext.stage, "$default");
    assert.is(event.requestContext.time, "17/Jun/2024:15:52:39 +0000");
    assert.is(event.requestContext.timeEpoch, Date.UTC(2024, 5, 17, 15, 52, 39, 80));
    assert.match(event.requestContext.requestId, /^[A-Za-z0-9+/]{15}=$/);
    assert.is(event.requestContext.domainName, `127.0.0.1:${port}`);
    assert.is(event.requestContext.domainPrefix, "127");
    assert.is(event.headers.authorization, "Bearer foo");
    assert.is(event.headers["x-forwarded-for"], "127.0.0.1");
    assert.is(event.headers["x-forwarded-port"], String(port));
    assert.is(event.headers["x-forwarded-proto"], "http");
    assert.match(event.headers["x-amzn-trace-id"] ?? "", /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    for (const name of Object.keys(event.headers)) assert.is(name, name.toLowerCase());
  });
});

test("an HTTP API event with cookies, query, body, path parameters and stage variables has the shape of AWS's full sample", async () => {
  const options: HttpApiEventOptions = {
    routeKey: "POST /my/{proxy+}",
    pathParameters: { proxy: "path" },
    stageVariables: { stageVariable1: "value1" },
    authorizer: { jwt: { claims: { sub: "user-1" }, scopes: ["scope1"] } },
    apiId: "api-id",
  };
  await withServer(options, async (port, events) => {
    const query = "parameter1=value1&parameter1=value2&parameter2=va%20lue&flag";
    await send(
      port,
      "POST",
      `/my/path?${query}`,
      { Header1: "value1", Header2: ["value1", "value2"], Cookie: "cookie1=a; cookie2=b", "Content-Type": "application/json" },
      '{"message": "hello world", "username": "tom"}',
    );
    const event = events[0]!;
    const sample = fixture<APIGatewayProxyEventV2>("apigw-http-v2-full.json");
    assertSameShape(event, sample, {
      maps: ["$.headers", "$.queryStringParameters", "$.pathParameters", "$.stageVariables", "$.requestContext.authorizer.jwt.claims"],
      exceptions: { "$.requestContext.authentication": "mutual TLS client certificates do not exist on the local HTTP server" },
    }, "apigw-http-v2-full");
    assert.equal(Object.keys(event), Object.keys(sample), "top-level key order");
    assert.equal(event.cookies, ["cookie1=a", "cookie2=b"]);
    assert.is(event.headers.cookie, undefined, "cookies leave the headers");
    assert.is(event.headers.header2, "value1,value2", "repeated headers are comma-joined");
    assert.is(event.rawQueryString, query);
    assert.equal(event.queryStringParameters, { parameter1: "value1,value2", parameter2: "va lue", flag: "" });
    assert.is(event.body, '{"message": "hello world", "username": "tom"}');
    assert.is(event.isBase64Encoded, false);
    assert.equal(event.pathParameters, { proxy: "path" });
    assert.equal(event.stageVariables, { stageVariable1: "value1" });
    assert.is(event.routeKey, "POST /my/{proxy+}");
    assert.is(event.requestContext.routeKey, "POST /my/{proxy+}");
  });
});

test("binary bodies are base64-encoded, text bodies are not", async () => {
  await withServer({ routeKey: "$default" }, async (port, events) => {
    const bytes = Buffer.from([0xff, 0x00, 0x10]);
    await send(port, "PUT", "/upload", { "Content-Type": "application/octet-stream" }, bytes);
    await send(port, "PUT", "/upload", { "Content-Type": "text/plain; charset=utf-8" }, "héllo");
    await send(port, "PUT", "/upload", {}, "no content type but UTF-8");
    assert.is(events[0]!.isBase64Encoded, true);
    assert.is(events[0]!.body, bytes.toString("base64"));
    assert.is(events[1]!.isBase64Encoded, false);
    assert.is(events[1]!.body, "héllo");
    assert.is(events[2]!.isBase64Encoded, false);
  });
});

test("API Gateway's time format", () => {
  assert.is(apiGatewayTime(Date.UTC(2020, 2, 12, 19, 3, 58)), "12/Mar/2020:19:03:58 +0000");
  assert.is(apiGatewayTime(Date.UTC(2024, 0, 5, 1, 2, 3)), "05/Jan/2024:01:02:03 +0000");
});

test.run();
