// Data isolation through indexes. dynamodb:LeadingKeys constrains only the base table's partition key, so a rogue
// service, holding exactly its own grant, can write an item under its own prefix whose index keys carry another
// service's prefix. The entity layer must keep that item out of the victim's index queries (access patterns and
// collections). dynalite behind the local stage's IAM proxy, each service signing with its own role's policy, as
// shared/infra's grants render it; the victim uses the runtime's entities with the unmodified AWS SDK.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { Service } from "electrodb";
import { grantStatements, type FunctionAccess } from "../../infra/helpers/grants";
import { Authorizer } from "../../local/iam/authorizer";
import { startDynamoDbProxy, type DynamoDbProxy, type DynamoDbProxyEvent } from "../../local/iam/dynamodb-proxy";
import { resetAwsClients } from "../aws-clients";
import { dataTable, ownItemsClient } from "../data-table";
import { defineEntity } from "../entity";
import { ConfigurationError } from "../errors";
import { ACCOUNT, setFunctionEnvironment, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";

const REGION = "eu-west-1";
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TEST_TABLES.data}`;
const KEYS = { billing: "AKIALOCALBILLINGFN", orders: "AKIALOCALROGUEORDERS" };

// The victim's entities, as a service defines them: an index access pattern in a collection, and another index.
const invoices = defineEntity({
  model: { entity: "invoice", version: "1" },
  attributes: {
    invoiceId: { type: "string", required: true },
    orderId: { type: "string", required: true },
    amount: { type: "number", required: true },
    status: { type: ["issued", "paid"] as const, default: "issued" },
  },
  indexes: {
    byId: { pk: { composite: ["invoiceId"] } },
    byOrder: { index: "gsi1", collection: "order", pk: { composite: ["orderId"] }, sk: { composite: ["invoiceId"] } },
    byStatus: { index: "gsi2", pk: { composite: ["status"] }, sk: { composite: ["invoiceId"] } },
  },
});
const payments = defineEntity({
  model: { entity: "payment", version: "1" },
  attributes: { paymentId: { type: "string", required: true }, orderId: { type: "string", required: true } },
  indexes: {
    byId: { pk: { composite: ["paymentId"] } },
    byOrder: { index: "gsi1", collection: "order", pk: { composite: ["orderId"] }, sk: { composite: ["paymentId"] } },
  },
});

let dynamo: LocalDynamo;
let proxy: DynamoDbProxy;
let rogue: DynamoDBDocumentClient;
const events: DynamoDbProxyEvent[] = [];

const access = (service: string): FunctionAccess => ({ service, publishes: [], failures: false, data: "read-write", idempotency: false });
function policyOf(service: string) {
  const statements = grantStatements(access(service), {
    logGroupArn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/test-${service}`,
    tracing: "PassThrough",
    eventsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/k`,
    topicArns: {},
    failureTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:failures`,
    dataTableArn: TABLE_ARN,
    dataIndexNames: ["gsi1", "gsi2"],
    idempotencyTableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TEST_TABLES.idempotency}`,
  });
  return { Version: "2012-10-17", Statement: statements };
}

test.before(async () => {
  useLocalAwsEnvironment();
  dynamo = await startDynalite();
  const authorizer = new Authorizer({ accountId: ACCOUNT });
  authorizer.register(KEYS.billing, [policyOf("billing")], { roleName: "test-billing-fn", sessionName: "test-billing-fn" });
  authorizer.register(KEYS.orders, [policyOf("orders")], { roleName: "test-orders-fn", sessionName: "test-orders-fn" });
  proxy = await startDynamoDbProxy({ target: dynamo.endpoint, accountId: ACCOUNT, authorize: authorizer.authorize, onDecision: (event) => events.push(event) });
  // The victim: the runtime's own clients, signing as billing's function, through the IAM proxy.
  setFunctionEnvironment({ service: "billing" });
  process.env.AWS_ACCESS_KEY_ID = KEYS.billing;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;
  resetAwsClients();
  // The rogue: another service's function, with its own (real) grant, writing raw items.
  const credentials = { accessKeyId: KEYS.orders, secretAccessKey: "local" };
  rogue = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: proxy.endpoint, region: REGION, credentials, maxAttempts: 1 }));
});

test.after(async () => {
  rogue?.destroy();
  resetAwsClients();
  await proxy?.close();
  await dynamo?.stop();
});

/** The victim's real item for `invoiceId`, copied under the rogue's own partition key with index keys left aimed at the victim. */
async function forge(invoiceId: string, forgedId: string): Promise<Record<string, unknown>> {
  const real = (await dynamo.scan(TEST_TABLES.data)).find((item) => item.invoiceId === invoiceId);
  assert.ok(real, `the victim's item ${invoiceId}`);
  const retarget = (value: unknown) => (typeof value === "string" ? value.replaceAll(invoiceId.toLowerCase(), forgedId) : value);
  return {
    ...real,
    pk: `$orders#forged_${forgedId}`,
    invoiceId: forgedId,
    amount: 1_000_000,
    gsi1sk: retarget(real!.gsi1sk),
    gsi2sk: retarget(real!.gsi2sk),
  };
}

test("a rogue service's item whose index keys carry the victim's prefix never reaches the victim's index queries", async () => {
  await invoices().create({ invoiceId: "i-1", orderId: "o-1", amount: 42 }).go();
  await payments().create({ paymentId: "p-1", orderId: "o-1" }).go();
  const forged = await forge("i-1", "i-forged");
  assert.match(String(forged.gsi1pk), /^\$billing#orderid_o-1$/);

  // Its own grant lets the rogue write it: the partition key is its own, and LeadingKeys sees nothing else.
  await rogue.send(new PutCommand({ TableName: TEST_TABLES.data, Item: forged }));
  const put = events.find((e) => e.principal === KEYS.orders && e.operation === "PutItem");
  assert.ok(put?.allowed, "IAM allows the forged write");
  assert.equal(put?.authorizations[0]?.conditionKeys["dynamodb:LeadingKeys"], ["$orders#forged_i-forged"]);

  // The attack is real: the victim's own credentials, querying its index without the entity layer, get the forgery,
  // and ElectroDB's entity checks cannot tell it apart (it carries the victim's entity name and version).
  const raw = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: proxy.endpoint, region: REGION, credentials: { accessKeyId: KEYS.billing, secretAccessKey: "local" }, maxAttempts: 1 }),
  );
  const exposed = await raw.send(
    new QueryCommand({
      TableName: TEST_TABLES.data,
      IndexName: "gsi1",
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": "gsi1pk" },
      ExpressionAttributeValues: { ":pk": "$billing#orderid_o-1" },
    }),
  );
  assert.ok(exposed.Items?.some((item) => item.invoiceId === "i-forged"), "the forged item is in the victim's index partition");
  raw.destroy();

  // Through the entity layer: the access pattern, the other index, pages, and the collection see only billing's items.
  const byOrder = await invoices().query.byOrder({ orderId: "o-1" }).go({ pages: "all" });
  assert.equal(byOrder.data.map((i) => i.invoiceId), ["i-1"]);
  const byStatus = await invoices().query.byStatus({ status: "issued" }).go();
  assert.equal(byStatus.data.map((i) => i.invoiceId), ["i-1"]);
  const filtered = await invoices()
    .query.byOrder({ orderId: "o-1" })
    .where(({ amount }, { gt }) => gt(amount, 10))
    .go();
  assert.equal(filtered.data.map((i) => [i.invoiceId, i.amount]), [["i-1", 42]], "an author's own filter still applies, ANDed");
  const order = new Service({ invoice: invoices(), payment: payments() }, dataTable());
  const collection = await order.collections.order({ orderId: "o-1" }).go();
  assert.equal(collection.data.invoice.map((i) => i.invoiceId), ["i-1"]);
  assert.equal(collection.data.payment.map((p) => p.paymentId), ["p-1"]);

});

test("reads of an index that cannot be limited to the service's items are refused before they leave", async () => {
  const client = dataTable().client;
  const refused = await client.send(new ScanCommand({ TableName: TEST_TABLES.data, IndexName: "gsi1" })).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.instance(refused, ConfigurationError);
  assert.match(String(refused), /ScanCommand reads index gsi1 of the data table without a key condition/);
  // The same client object every time (ElectroDB entities compare it), and only the data table is filtered.
  assert.is(dataTable().client, client);
  const other = ownItemsClient(DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION })), "another-table", "billing");
  assert.is.not(other, client);
});

test.run();
