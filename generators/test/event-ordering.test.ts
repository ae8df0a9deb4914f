// `npm run new-event -- --ordering stream --partition-key-field <f>`: a stream event's catalog entry, run into a copy
// of the repository, and the answers the generator refuses.
//
//   node --import tsx generators/test/event-ordering.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runFromArgs } from "../run";
import { Repo } from "../lib/repo";
import { copyRepo, treeHashes, unknownEventType } from "./helpers";

const root = copyRepo("generators-ordering-");
const type = unknownEventType(root, "orders", "order-line-recorded");
const base = ["--type", type, "--owner", "orders", "--description", "A line of an order was recorded."];

async function generate(args: string[]): Promise<string[]> {
  return runFromArgs("event", [...args, "--root", root], { interactive: false });
}

async function refused(args: string[], message: RegExp): Promise<void> {
  const before = treeHashes(root);
  try {
    await generate(args);
  } catch (err) {
    assert.match((err as Error).message, message);
    assert.equal(treeHashes(root), before, `nothing written for ${args.join(" ")}`);
    return;
  }
  assert.unreachable(`new-event ${args.join(" ")} was accepted`);
}

test.after(() => rmSync(root, { recursive: true, force: true }));

test("--ordering stream refuses a missing, unknown or boolean partition key field, and mixed orderings", async () => {
  const fields = ["--fields", "orderId:string,sku:string,quantity:integer,gift:boolean"];
  await refused([...base, ...fields, "--ordering", "stream"], /a stream event needs --partition-key-field/);
  await refused([...base, ...fields, "--ordering", "stream", "--partition-key-field", "customerId"], /the partition key field "customerId" \(--partition-key-field\) must be one of the fields \(--fields: orderId, sku, quantity, gift\)/);
  await refused([...base, ...fields, "--ordering", "stream", "--partition-key-field", "gift"], /"gift" \(--partition-key-field\) is a boolean; a partition key is a string or a number/);
  await refused([...base, ...fields, "--partition-key-field", "orderId"], /--partition-key-field applies to stream events only \(add --ordering stream\)/);
  await refused([...base, ...fields, "--ordering", "stream", "--fifo", "--partition-key-field", "orderId"], /--fifo and --ordering stream disagree/);
  await refused([...base, ...fields, "--ordering", "serial"], /--ordering is "serial"; use one of standard, fifo, stream/);
  await refused([...base, ...fields, "--ordering", "stream", "--partition-key-field", "orderId", "--group-field", "orderId"], /--group-field applies to FIFO events only/);
});

test("--ordering stream writes an entry with the partition key field, and the catalog reads it as a stream event", async () => {
  const written = await generate([...base, "--fields", "orderId:string,sku:string,quantity:integer", "--ordering", "stream", "--partition-key-field", "orderId"]);
  assert.equal(written, ["shared/contract/catalog.ts"]);
  const text = readFileSync(join(root, "shared/contract/catalog.ts"), "utf8");
  const escaped = type.replace(/\./g, "\\.");
  assert.match(text, new RegExp(`"${escaped}": defineEvent\\(\\{\\n\\s+version: 1,\\n\\s+owner: "orders",[\\s\\S]*?ordering: "stream",\\n\\s+partitionKeyField: "orderId",\\n\\s+schema:`));
  const entry = new Repo(root).catalog().get(type)!;
  assert.is(entry.ordering, "stream");
  assert.is(entry.partitionKeyField, "orderId");
  // the copy's own contract: a stream event, with a partition key for its example
  const contract = require(join(root, "shared/contract")) as typeof import("../../shared/contract");
  assert.ok(contract.streamEventTypes.includes(type as never));
  assert.not.ok(contract.topicEventTypes.includes(type as never));
  const generated = (contract.catalog as Record<string, { example: unknown; ordering: string; partitionKeyField?: string }>)[type]!;
  assert.is(contract.partitionKeyOf(type, generated, generated.example), "order-1");
});

test("--fifo and --ordering fifo write the same entry; no flag writes a standard one", async () => {
  const fifo = unknownEventType(root, "orders", "order-noted");
  await generate(["--type", fifo, "--owner", "orders", "--description", "d", "--fields", "orderId:string", "--ordering", "fifo", "--group-field", "orderId"]);
  const standard = unknownEventType(root, "orders", "order-seen");
  await generate(["--type", standard, "--owner", "orders", "--description", "d"]);
  const catalog = new Repo(root).catalog();
  assert.is(catalog.get(fifo)!.ordering, "fifo");
  assert.is(catalog.get(fifo)!.messageGroupField, "orderId");
  assert.is(catalog.get(standard)!.ordering, "standard");
  assert.is(catalog.get(standard)!.partitionKeyField, undefined);
});

test.run();
