import { test } from "uvu";
import * as assert from "uvu/assert";
import { catalog, eventTypes } from "../../contract/catalog";
import { checkCompatibility, DOCUMENT_PATH } from "../document";
import { documentProblems, generateDocument, readCommittedDocument, REPO_ROOT } from "../system";

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
    channels: Record<string, { address: string; bindings: { sns: { ordering: { type: string } } } }>;
    operations: Record<string, { action: string; channel: { $ref: string }; "x-versions"?: number[] }>;
  };
  for (const type of eventTypes) {
    const channel = document.channels[type];
    assert.ok(channel, `no channel for ${type}`);
    const fifo = catalog[type].ordering === "fifo";
    assert.is(channel.address.endsWith(".fifo"), fifo, `${type}: FIFO topics end in .fifo`);
    assert.is(channel.bindings.sns.ordering.type, fifo ? "FIFO" : "standard");
    const send = document.operations[`${catalog[type].owner}.publish.${type}`];
    assert.is(send?.action, "send");
  }
  const billing = document.operations["billing.on-order-placed.receive"];
  assert.is(billing?.action, "receive");
  assert.is(billing?.channel.$ref, "#/channels/orders.order-placed");
  assert.equal(billing?.["x-versions"], [1]);
});

test.run();
