import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog, eventTypes } from "../../contract/catalog";
import { FAILURE_EVENT_TYPE } from "../../contract/failure-event";
import { FAILURE_EVENT_VERSION } from "../../runtime/failure-event";
import { buildDocument, checkCompatibility, DOCUMENT_PATH, FAILURE_EVENT_DATA_VERSION, renderDocument } from "../document";
import { documentProblems, generateDocument, readCommittedDocument, REPO_ROOT, systemConsumers } from "../system";

const committed = readCommittedDocument(REPO_ROOT);

test("the committed catalog document exists", () => {
  assert.ok(committed, `${DOCUMENT_PATH} is missing: run \`npm run catalog\` and commit it`);
});

test("the catalog breaks no reader of a version the committed document records", () => {
  // Throws BreakingSchemaChangeError naming the event, its version and each field.
  checkCompatibility(catalog, committed?.document);
});

test("the committed document is up to date with the catalog and the service programs", async () => {
  const text = await generateDocument(REPO_ROOT);
  if (text !== committed?.text) {
    const current = text.split("\n");
    const old = committed?.text.split("\n") ?? [];
    const line = current.findIndex((value, index) => value !== old[index]);
    assert.unreachable(
      `${DOCUMENT_PATH} is out of date: run \`npm run catalog\` and commit it (first difference at line ${line + 1}: ` +
        `${JSON.stringify(old[line] ?? "")} should be ${JSON.stringify(current[line] ?? "")})`,
    );
  }
});

test("the committed document is valid AsyncAPI 3.0 (@asyncapi/parser: no error, no warning)", async () => {
  assert.equal(await documentProblems(committed!.text), []);
  assert.is(committed!.document.asyncapi, "3.0.0");
});

test("the document has a channel per catalog event, the owner's send and each consumer's receive", () => {
  const document = committed!.document as {
    channels: Record<string, { address: string; bindings?: { sns: { ordering: { type: string } } }; "x-partition-key-field"?: string }>;
    operations: Record<string, { action: string; channel: { $ref: string }; "x-versions"?: number[] }>;
  };
  for (const type of eventTypes) {
    const channel = document.channels[type];
    assert.ok(channel, `no channel for ${type}`);
    const ordering: string = catalog[type].ordering;
    const fifo = ordering === "fifo";
    assert.is(channel.address.endsWith(".fifo"), fifo, `${type}: FIFO topics end in .fifo`);
    if (ordering === "stream") {
      // a Kinesis stream: no SNS binding, its partition key field instead
      assert.is(channel.bindings, undefined, `${type}: a stream has no SNS binding`);
      assert.is(channel["x-partition-key-field"], (catalog[type] as { partitionKeyField?: string }).partitionKeyField);
    } else {
      assert.is(channel.bindings?.sns.ordering.type, fifo ? "FIFO" : "standard");
    }
    const send = document.operations[`${catalog[type].owner}.publish.${type}`];
    assert.is(send?.action, "send");
  }
  const billing = document.operations["billing.on-order-placed.receive"];
  assert.is(billing?.action, "receive");
  assert.is(billing?.channel.$ref, "#/channels/orders.order-placed");
  assert.equal(billing?.["x-versions"], [1]);
  // Its queue as the program wires it: the subscription's endpoint, redriving to its dead-letter queue.
  const binding = (billing as unknown as { bindings: { sqs: { queues: { name: string; redrivePolicy?: { deadLetterQueue: { name: string }; maxReceiveCount: number } }[] } } }).bindings.sqs;
  assert.is(binding.queues[0]!.name, "{stage}-billing-on-order-placed");
  assert.equal(binding.queues[0]!.redrivePolicy, { deadLetterQueue: { name: "{stage}-billing-on-order-placed-dlq" }, maxReceiveCount: 5 });
  assert.is(binding.queues[1]!.name, "{stage}-billing-on-order-placed-dlq");
});

test("a consumer's filter policy is read from its subscription as the program wires it, and the document carries it", async () => {
  // The sample service's consumer filters on the type attribute.
  const consumers = await systemConsumers(REPO_ROOT, "dev", [join(REPO_ROOT, "shared/infra/test/fixtures/sample-service")]);
  const consumer = consumers.find((c) => c.filter);
  assert.ok(consumer, "no consumer with a filter");
  assert.equal(consumer.filter, { policy: { type: ["orders.order-placed"] }, scope: "MessageAttributes" });
  const document = buildDocument({ catalog, consumers, version: "0.1.0", previous: committed?.document });
  const operation = (document.operations as Record<string, Record<string, unknown>>)[`${consumer.service}.${consumer.name}.receive`]!;
  assert.equal(operation["x-filter-policy"], { type: ["orders.order-placed"] });
  assert.is(operation["x-filter-policy-scope"], "MessageAttributes");
  assert.equal(await documentProblems(renderDocument(document)), []);
});

test("the failure topic is a channel: every consumer sends platform.event-failed, the platform's failure queue keeps it", () => {
  assert.is(FAILURE_EVENT_DATA_VERSION, FAILURE_EVENT_VERSION, "the document's failure event version is the runtime's");
  const document = committed!.document as {
    channels: Record<string, { address: string }>;
    operations: Record<string, { action: string; "x-consumers"?: string[]; bindings?: { sqs: { queues: { name: string }[] } } }>;
  };
  assert.is(document.channels[FAILURE_EVENT_TYPE]?.address, "{stage}-platform-event-failed");
  assert.ok(document.operations[`consumers.publish.${FAILURE_EVENT_TYPE}`]?.["x-consumers"]?.includes("billing/on-order-placed"));
  assert.is(document.operations["platform.failure-queue.receive"]?.bindings?.sqs.queues[0]?.name, "{stage}-platform-event-failed");
});

test("a change to the failure event that breaks its readers fails too", () => {
  const previous = structuredClone(committed!.document) as { components: { schemas: Record<string, { properties: Record<string, unknown>; required: string[] }> } };
  const recorded = previous.components.schemas[`${FAILURE_EVENT_TYPE}.v1`]!;
  recorded.properties.stage = { type: "string" };
  recorded.required.push("stage");
  assert.throws(() => checkCompatibility(catalog, previous), /platform\.event-failed version 1: field "stage" was removed/);
});

test.run();
