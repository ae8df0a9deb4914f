import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import { ENV } from "../../contract";
import { awsClientsCreated, resetAwsClients } from "../aws-clients";
import { consume } from "../consume";
import { defineEntity } from "../entity";
import { createPublisher } from "../publisher";
import { setFunctionEnvironment, useLocalAwsEnvironment } from "./helpers/aws-environment";

// In a function, module scope is Lambda's init phase (full CPU, before the first request): consume(), defineEntity()
// and createPublisher() prepare there what the first event needs, without touching the network. Outside a function
// (a test importing a handler before setting the environment) they prepare nothing.

let connects = 0;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  connects++;
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof connect;

const unset = () => {
  for (const name of Object.values(ENV)) delete process.env[name];
  resetAwsClients();
};

/** A model ElectroDB refuses (an attribute type it does not know). */
const brokenModel = () =>
  ({
    model: { entity: "broken", version: "1" },
    attributes: { id: { type: "no-such-type" as "string", required: true } },
    indexes: { byId: { pk: { composite: ["id"] } } },
  }) as const;

test.before(() => {
  useLocalAwsEnvironment();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = "http://127.0.0.1:9";
  process.env.AWS_ENDPOINT_URL_SNS = "http://127.0.0.1:9";
});
test.before.each(unset);
test.after(unset);

test("outside a function, consume() and createPublisher() create no client", () => {
  consume({ "orders.order-placed": () => {} });
  createPublisher("billing");
  assert.equal(awsClientsCreated(), { dynamoDb: false, document: false, sns: false, kinesis: false });
});

test("inside a function, consume() creates the SDK clients at init, offline", () => {
  setFunctionEnvironment({ service: "billing", handler: "on-order-placed" });
  const before = connects;
  consume({ "orders.order-placed": () => {} });
  assert.equal(awsClientsCreated(), { dynamoDb: true, document: true, sns: true, kinesis: false }, "no Kinesis client: it publishes no stream event");
  assert.is(connects, before, "creating clients makes no connection");
});

test("inside a function that may publish a stream event, init creates the Kinesis client too, offline", () => {
  setFunctionEnvironment({ service: "ledger", handler: "post-entry" });
  process.env[ENV.publishStreams] = JSON.stringify({ "ledger.entry-posted": "test-ledger-entry-posted" });
  process.env.AWS_ENDPOINT_URL_KINESIS = "http://127.0.0.1:9";
  const before = connects;
  consume({});
  assert.equal(awsClientsCreated(), { dynamoDb: true, document: true, sns: true, kinesis: true });
  assert.is(connects, before, "creating clients makes no connection");
});

test("inside a function, createPublisher() and consume() accept the catalog's events at init", () => {
  setFunctionEnvironment({ service: "billing", handler: "on-order-placed", publishes: ["billing.invoice-issued"] });
  createPublisher("billing");
  consume({ "orders.order-placed": () => {}, "orders.order-status-changed": () => {} });
});

test("inside a function, an entity is built at definition: a model ElectroDB refuses fails the init", () => {
  setFunctionEnvironment({ service: "billing" });
  assert.throws(() => defineEntity(brokenModel()), /no-such-type/);
});

test("outside a function, the same entity fails only when first used", () => {
  const broken = defineEntity(brokenModel());
  setFunctionEnvironment({ service: "billing" });
  assert.throws(() => broken(), /no-such-type/);
});

test("inside a function, a valid entity is ready at definition and the accessor returns it", () => {
  setFunctionEnvironment({ service: "billing" });
  const before = connects;
  const items = defineEntity({
    model: { entity: "item", version: "1" },
    attributes: { id: { type: "string", required: true } },
    indexes: { byId: { pk: { composite: ["id"] } } },
  });
  assert.is(items(), items(), "built once");
  assert.equal(items().schema.model.service, "billing");
  assert.is(connects, before);
});

test.run();
