// The outbox's transaction goes out through dynamoDbClient() as a low-level TransactWriteItemsCommand, marshalled by
// the outbox itself. These tests hold it to what lib-dynamodb's TransactWriteCommand (through the document client)
// sends for the same writes: the HTTP body, byte for byte, as a local server receives it; and what a failed
// transaction throws (TransactionCanceledException with its CancellationReasons), field for field.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { NumberValue, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { catalog, ENV } from "../../contract";
import { DOCUMENT_MARSHALL_OPTIONS, documentClient, dynamoDbClient, dynamoDbModule, resetAwsClients } from "../aws-clients";
import { defineEntity } from "../entity";
import { runInScope } from "../invocation-scope";
import { createOutbox, marshallTransactEntry, transactEntry, type OutboxWrite } from "../outbox";
import { useLocalAwsEnvironment } from "./helpers/aws-environment";

const DATA_TABLE = "test-data";
const OUTBOX_TABLE = "test-billing-outbox";

interface Received {
  body: string;
  headers: IncomingHttpHeaders;
}
let server: Server;
const received: Received[] = [];
/** The next answers (status and JSON body); `{}` with 200 when none is queued. */
const answers: Array<{ status: number; body: unknown }> = [];

test.before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: request.headers });
      const answer = answers.shift() ?? { status: 200, body: {} };
      const text = JSON.stringify(answer.body);
      response.writeHead(answer.status, {
        "content-type": "application/x-amz-json-1.0",
        "content-length": Buffer.byteLength(text),
        "x-amzn-requestid": "REQUEST0000000000000000000000000000000000000000000000",
      });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  useLocalAwsEnvironment();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env[ENV.service] = "billing";
  process.env[ENV.dataTable] = DATA_TABLE;
  process.env[ENV.outboxTable] = OUTBOX_TABLE;
  delete process.env[ENV.recordEvents];
  resetAwsClients();
});
test.after(async () => {
  resetAwsClients();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
test.before.each(() => {
  received.length = 0;
  answers.length = 0;
});

// The billing service's invoice, as its handler writes it, with `details` holding what a payload can hold.
const invoices = defineEntity({
  model: { entity: "invoice", version: "1" },
  attributes: {
    invoiceId: { type: "string", required: true },
    status: { type: "string", required: true, default: "created" },
    details: { type: "any" },
    tags: { type: "set", items: "string" },
    amounts: { type: "set", items: "number" },
    lines: { type: "list", items: { type: "map", properties: { sku: { type: "string" }, quantity: { type: "number" }, note: { type: "string" } } } },
    total: { type: "number" },
    createdBy: { type: "string", required: true },
    createdAt: { type: "string", required: true, default: () => new Date().toISOString(), readOnly: true },
  },
  indexes: {
    byId: { pk: { composite: ["invoiceId"] } },
    byCreator: { index: "gsi1", pk: { composite: ["createdBy"] }, sk: { composite: ["invoiceId"] } },
  },
});

const details = {
  orderId: "order-1",
  customer: { id: "customer-1", address: { street: "Rue 1", city: "Lyon", floor: undefined, unit: null }, vip: true },
  items: [{ sku: "A-1", quantity: 2, price: 10.25 }, { sku: "B-2", quantity: 1, price: 0.1, discount: undefined }, [1, "two", false, null]],
  total: { amount: 42.5, currency: "EUR" },
  big: 12345678901234567890n,
  precise: NumberValue.from("3.14159265358979323846264338327950288"),
  blob: new Uint8Array([0, 1, 2, 253, 254, 255]),
  codes: new Set(["x", "y"]),
  counts: new Set([1, 2.5, 1e20 / 1e5]),
  empty: "",
  emptyMap: {},
  emptyList: [],
  unicode: "é\u2028😀\"\\\n",
  negative: -0.000001,
  missing: undefined,
};

/** An ElectroDB operation whose params() are fixed (made once), so both ways send the same attributes. */
function fixed(params: Record<string, unknown>): OutboxWrite {
  return { params: () => structuredClone(params) };
}

/** The writes: ElectroDB's create (condition), put, update (set, add, remove, condition), delete, and hand-made entries. */
function writes(): OutboxWrite[] {
  return [
    fixed(invoices().create({ invoiceId: "inv-1", details, tags: ["a", "b"], amounts: [1, 2.5], lines: [{ sku: "s", quantity: 3 }], total: 42.5, createdBy: "evt-1" }).params()),
    fixed(invoices().put({ invoiceId: "inv-2", details: { nested: { deeper: [{ a: undefined, b: 1 }] } }, createdBy: "evt-1" }).params()),
    fixed(
      invoices()
        .update({ invoiceId: "inv-3" })
        .set({ status: "paid", details: { paidAt: "2026-12-07", fee: undefined } })
        .add({ total: 1.5, tags: ["c"] })
        .remove(["lines"])
        .where(({ status }, { eq }) => eq(status, "created"))
        .params(),
    ),
    fixed(invoices().delete({ invoiceId: "inv-4" }).where(({ status }, { eq }) => eq(status, "void")).params()),
    { ConditionCheck: { TableName: DATA_TABLE, Key: { pk: "$billing#x", sk: "y", gone: undefined }, ConditionExpression: "attribute_exists(pk)" } },
    {
      Update: {
        TableName: DATA_TABLE,
        Key: { pk: "$billing#u", sk: "" },
        UpdateExpression: "SET #a = :a, #b = :b",
        ExpressionAttributeNames: { "#a": "a", "#b": "b" },
        ExpressionAttributeValues: { ":a": [1, { m: new Set([new Uint8Array([9])]) }], ":b": undefined },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      },
    },
    { Put: { TableName: DATA_TABLE, Item: { pk: "$billing#p", sk: "1", n: 0, f: -1.25e-7, b: true, nil: null }, ExpressionAttributeValues: undefined } },
  ];
}

/** A body with its ClientRequestToken (a fresh UUID the SDK makes for each call, either way) checked and set aside. */
function tokenless(body: string): string {
  const token = /"ClientRequestToken":"([0-9a-f-]{36})"/.exec(body);
  assert.ok(token, `a ClientRequestToken in ${body.slice(-80)}`);
  return body.replace(token![1]!, "TOKEN");
}

/** What the document client (lib-dynamodb's TransactWriteCommand, as the outbox sent it before) sends for these items. */
async function sentByDocumentClient(items: unknown[]): Promise<Received> {
  const before = received.length;
  await documentClient().send(new TransactWriteCommand({ TransactItems: items as never }));
  assert.is(received.length, before + 1);
  return received[before]!;
}

test("the marshalling options are the document client's (lib-dynamodb's own, as it is given them)", () => {
  assert.equal({ ...DOCUMENT_MARSHALL_OPTIONS }, { removeUndefinedValues: true });
  assert.equal((documentClient().config as { translateConfig?: unknown }).translateConfig, { marshallOptions: { removeUndefinedValues: true } });
});

test("each entry, marshalled by the outbox and sent by the cached client, is the document client's body byte for byte", async () => {
  const entries = writes().map(transactEntry);
  const { TransactWriteItemsCommand } = dynamoDbModule();
  await dynamoDbClient().send(new TransactWriteItemsCommand({ TransactItems: entries.map(marshallTransactEntry) }));
  const ours = received.at(-1)!;
  const theirs = await sentByDocumentClient(entries);
  assert.is(tokenless(ours.body), tokenless(theirs.body));
  // Each entry alone too (a difference shows which).
  for (const [index, entry] of entries.entries()) {
    await dynamoDbClient().send(new TransactWriteItemsCommand({ TransactItems: [marshallTransactEntry(entry)] }));
    const one = received.at(-1)!.body;
    assert.is(tokenless(one), tokenless((await sentByDocumentClient([entry])).body), `entry ${index}`);
  }
  // What was sent holds what the writes hold (not two equal mistakes): sets, numbers as written, no undefined.
  const sent = JSON.parse(ours.body) as { TransactItems: Array<Record<string, Record<string, unknown>>> };
  const item = sent.TransactItems[0]!.Put!.Item as Record<string, Record<string, unknown>>;
  assert.equal(item.tags, { SS: ["a", "b"] });
  const detailsSent = (item.details as { M: Record<string, Record<string, unknown>> }).M;
  assert.equal(detailsSent.big, { N: "12345678901234567890" });
  assert.equal(detailsSent.blob, { B: Buffer.from([0, 1, 2, 253, 254, 255]).toString("base64") });
  assert.not.ok("missing" in detailsSent);
  assert.equal(Object.keys((detailsSent.customer!.M as Record<string, { M: object }>).address!.M), ["street", "city", "unit"]);
  assert.is(sent.TransactItems[0]!.Put!.ConditionExpression, "attribute_not_exists(#pk) AND attribute_not_exists(#sk)");
  assert.equal(sent.TransactItems[5]!.Update!.ExpressionAttributeValues, { ":a": { L: [{ N: "1" }, { M: { m: { BS: ["CQ=="] } } }] } });
});

test("outbox.record(): the transaction it sends is the document client's for the same writes and outbox item", async () => {
  const outbox = createOutbox("billing");
  const scope = { correlationId: "corr-wire", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", eventId: "cause-wire", sequence: new Map<string, number>() };
  const list = writes();
  const [event] = await runInScope(scope, () =>
    outbox.record(list, [
      { type: "billing.invoice-issued", data: catalog["billing.invoice-issued"].example },
      { type: "billing.invoice-issued", data: { ...catalog["billing.invoice-issued"].example, invoiceId: "invoice-2" } },
    ]),
  );
  assert.is(received.length, 1);
  const ours = received[0]!;
  const sent = JSON.parse(ours.body) as { TransactItems: Array<{ Put?: { TableName: string; Item: Record<string, never> } }> };
  assert.is(sent.TransactItems.length, list.length + 1);
  const last = sent.TransactItems.at(-1)!.Put!;
  assert.is(last.TableName, OUTBOX_TABLE);
  // The outbox item holds strings, a list of strings and a whole number: it reads back as it was.
  const outboxItem = unmarshall(last.Item);
  assert.is(outboxItem.sk, `$outbox#${event!.id}`);
  const theirs = await sentByDocumentClient([...list.map(transactEntry), { Put: { TableName: OUTBOX_TABLE, Item: outboxItem } }]);
  assert.is(tokenless(ours.body), tokenless(theirs.body));
  // The headers the signature covers are the same too (the user agent differs by lib-dynamodb's feature mark only).
  for (const name of ["content-type", "x-amz-target", "content-length", "host"]) assert.is(ours.headers[name], theirs.headers[name], name);
  const agent = (headers: IncomingHttpHeaders) => String(headers["user-agent"]).replace(/ m\/[A-Za-z0-9,]+/, "");
  assert.is(agent(ours.headers), agent(theirs.headers));
});

/** What a failed send throws, as a caller reads it. */
function failure(error: unknown) {
  const e = error as TransactionCanceledException & { $response?: unknown };
  return {
    class: e.constructor,
    isCancellation: e instanceof TransactionCanceledException,
    name: e.name,
    message: e.message,
    fault: e.$fault,
    reasons: e.CancellationReasons,
    status: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
    own: Object.keys(e).filter((key) => key !== "$response").sort(),
  };
}

const CANCELLED = {
  __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
  Message: "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, ValidationError]",
  CancellationReasons: [
    { Code: "ConditionalCheckFailed", Message: "The conditional request failed", Item: { pk: { S: "$billing#inv-1" }, sk: { S: "$invoice_1" }, total: { N: "42.5" }, tags: { SS: ["a"] } } },
    { Code: "None" },
    { Code: "ValidationError", Message: "One or more parameter values were invalid" },
  ],
};

test("a cancelled transaction reaches the caller as it did through the document client: class, message, reasons", async () => {
  const entries = writes().map(transactEntry);
  const { TransactWriteItemsCommand } = dynamoDbModule();
  answers.push({ status: 400, body: CANCELLED });
  const ours = await dynamoDbClient().send(new TransactWriteItemsCommand({ TransactItems: entries.map(marshallTransactEntry) })).then(() => undefined, (e: unknown) => e);
  answers.push({ status: 400, body: CANCELLED });
  const theirs = await documentClient().send(new TransactWriteCommand({ TransactItems: entries as never })).then(() => undefined, (e: unknown) => e);
  assert.ok(ours && theirs, "both reject");
  assert.equal(failure(ours), failure(theirs));
  assert.ok(failure(ours).isCancellation);
  assert.equal(failure(ours).reasons, CANCELLED.CancellationReasons);
  assert.is(failure(ours).message, CANCELLED.Message);
});

test("outbox.record() rejects with the TransactionCanceledException and its reasons; other errors pass as they are", async () => {
  const outbox = createOutbox("billing");
  answers.push({ status: 400, body: CANCELLED });
  const error = await outbox.recordOne(writes()[0]!, "billing.invoice-issued", catalog["billing.invoice-issued"].example).then(() => undefined, (e: unknown) => e);
  assert.instance(error, TransactionCanceledException);
  assert.equal((error as TransactionCanceledException).CancellationReasons, CANCELLED.CancellationReasons);
  const conditional = { __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", message: "The conditional request failed" };
  answers.push({ status: 400, body: conditional });
  const ours = await outbox.recordOne(writes()[1]!, "billing.invoice-issued", catalog["billing.invoice-issued"].example).then(() => undefined, (e: unknown) => e);
  answers.push({ status: 400, body: conditional });
  const theirs = await documentClient().send(new TransactWriteCommand({ TransactItems: [transactEntry(writes()[1]!, 0)] as never })).then(() => undefined, (e: unknown) => e);
  assert.equal(failure(ours), failure(theirs));
  assert.is(failure(ours).name, "ConditionalCheckFailedException");
});

test("a value neither can marshall fails alike, before anything is sent", async () => {
  class Money {
    constructor(readonly amount: number) {}
  }
  const entry = transactEntry({ Put: { TableName: DATA_TABLE, Item: { pk: "$billing#m", sk: "1", money: new Money(1) } } }, 0);
  const ours = (() => {
    try {
      marshallTransactEntry(entry);
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  const theirs = await documentClient().send(new TransactWriteCommand({ TransactItems: [entry] as never })).then(() => undefined, (e: Error) => e);
  assert.ok(ours && theirs);
  assert.is(ours!.message, theirs!.message);
  assert.is(ours!.constructor, theirs!.constructor);
  assert.is(received.length, 0);
});

test.run();
