import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENV } from "../../contract";
import { resetAwsClients } from "../aws-clients";
import { DATA_TABLE, dataTable } from "../data-table";
import { defineEntity } from "../entity";
import { ConfigurationError } from "../errors";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "./helpers/aws-environment";
import { startDynalite, TEST_TABLES, type LocalDynamo } from "./helpers/dynalite";

let dynamo: LocalDynamo;

const loaded = (name: string) => Object.keys(require.cache).some((path) => path.includes(`/node_modules/${name}/`));

// Defined at import, like a service's entity file; nothing is loaded until first use.
const invoices = defineEntity({
  model: { entity: "invoice", version: "1" },
  attributes: {
    invoiceId: { type: "string", required: true },
    orderId: { type: "string", required: true },
    status: { type: ["issued", "paid"] as const, default: "issued" },
    expiresAt: { type: "number" },
  },
  indexes: {
    byId: { pk: { composite: ["invoiceId"] } },
    byOrder: { index: "gsi1", collection: "order", pk: { composite: ["orderId"] }, sk: { composite: ["invoiceId"] } },
    byStatus: { index: "gsi2", pk: { composite: ["status"] }, sk: { composite: ["invoiceId"] } },
  },
});

test.before(async () => {
  useLocalAwsEnvironment();
  setFunctionEnvironment({ service: "billing" });
  dynamo = await startDynalite();
});
test.after(() => dynamo?.stop());

test("ElectroDB is not loaded until an entity is first used", async () => {
  assert.not.ok(loaded("electrodb"), "defining an entity loads nothing");
  invoices();
  assert.ok(loaded("electrodb"));
});

test("items land in the data table under the service's key prefix, in the platform's key fields", async () => {
  await invoices().create({ invoiceId: "i-1", orderId: "o-1", expiresAt: 1_900_000_000 }).go();
  const [item] = await dynamo.scan(TEST_TABLES.data);
  assert.ok(item);
  assert.match(item!.pk as string, /^\$billing#invoiceid_i-1$/);
  assert.match(item!.sk as string, /^\$invoice_1$/);
  assert.match(item!.gsi1pk as string, /^\$billing#orderid_o-1$/);
  assert.match(item!.gsi2pk as string, /^\$billing#status_issued$/);
  assert.is(item![DATA_TABLE.ttlAttribute], 1_900_000_000);
  const byOrder = await invoices().query.byOrder({ orderId: "o-1" }).go();
  assert.equal(byOrder.data.map((i) => i.invoiceId), ["i-1"]);
  const got = await invoices().get({ invoiceId: "i-1" }).go();
  assert.is(got.data?.status, "issued");
});

test("the entity and its client are built once per process and reused", () => {
  assert.is(invoices(), invoices());
  assert.is(dataTable().client, dataTable().client);
  assert.is(dataTable().table, TEST_TABLES.data);
});

test("the entity is built again when the table, the service or the document client changes, and only then", async () => {
  const first = invoices();
  assert.is(invoices(), first);
  setFunctionEnvironment({ service: "billing", dataTable: "other-data" });
  const otherTable = invoices();
  assert.is.not(otherTable, first);
  assert.is(otherTable.getTableName(), "other-data");
  assert.is(invoices(), otherTable);
  setFunctionEnvironment({ service: "payments", dataTable: "other-data" });
  const otherService = invoices();
  assert.is.not(otherService, otherTable);
  assert.match(otherService.put({ invoiceId: "i-9", orderId: "o-9" }).params().Item.pk, /^\$payments#/);
  resetAwsClients();
  const otherClient = invoices();
  assert.is.not(otherClient, otherService, "a new document client (resetAwsClients) builds the entity again");
  setFunctionEnvironment({ service: "billing" });
  resetAwsClients();
  assert.is(invoices().getTableName(), TEST_TABLES.data);
  assert.is((await invoices().get({ invoiceId: "i-1" }).go()).data?.orderId, "o-1", "the rebuilt entity reads through the new client");
});

test("an index the table does not have, or a wrong key field, fails at definition", () => {
  assert.throws(
    () =>
      defineEntity({
        model: { entity: "bad", version: "1" },
        attributes: { id: { type: "string" } },
        indexes: { byId: { pk: { composite: ["id"] } }, other: { index: "gsi9", pk: { composite: ["id"] } } },
      }),
    (error: unknown) => error instanceof ConfigurationError && /no index "gsi9" \(it has gsi1, gsi2\)/.test(error.message),
  );
  assert.throws(
    () =>
      defineEntity({
        model: { entity: "bad", version: "1" },
        attributes: { id: { type: "string" } },
        indexes: { byId: { pk: { field: "id", composite: ["id"] } } },
      }),
    /the field must be "pk" on the data table, not "id"/,
  );
});

test("without the service or table variables the first use says what is missing", () => {
  const orphan = defineEntity({
    model: { entity: "orphan", version: "1" },
    attributes: { id: { type: "string" } },
    indexes: { byId: { pk: { composite: ["id"] } } },
  });
  delete process.env[ENV.service];
  assert.throws(orphan, /PLATFORM_SERVICE is not set; it is needed for ElectroDB entities/);
  setFunctionEnvironment({ service: "billing" });
  delete process.env[ENV.dataTable];
  assert.throws(orphan, /PLATFORM_DATA_TABLE is not set/);
  setFunctionEnvironment({ service: "billing" });
});

test.run();
