// What the write engine sends dynalite for a write on a table with a stream: the caller's request with ReturnValues
// set, every other field as the caller sent it, and a request holding an own `__proto__` key (JSON.parse makes one an
// own property) still holds it as an own key, with the plain prototype (a copy through Object.assign would have made
// it the copy's prototype and dropped the field).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StreamRecorder, WriteEngine, type DynamoTarget } from "../dynamodb-streams";

const TABLE = "local-requests";
const sent: { operation: string; request: Record<string, unknown> }[] = [];
// A target that keeps what it is sent and answers as dynalite does for an item that was not there.
const target: DynamoTarget = async (operation, request) => {
  sent.push({ operation, request: request as Record<string, unknown> });
  if (operation === "GetItem") return { status: 200, body: {} };
  if (operation === "UpdateItem") return { status: 200, body: { Attributes: { pk: { S: "u" }, n: { N: "1" } } } };
  return { status: 200, body: {} };
};
const recorder = new StreamRecorder({ region: "us-east-1" });
recorder.enable(TABLE, { streamArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}/stream/x`, viewType: "NEW_AND_OLD_IMAGES", key: { partitionKey: "pk" } });
const engine = new WriteEngine({ target, recorder, keySchema: () => ({ partitionKey: "pk" }) });

test("PutItem, DeleteItem and UpdateItem reach dynalite as sent, with the ReturnValues the engine needs", async () => {
  sent.length = 0;
  const put = { TableName: TABLE, Item: { pk: { S: "p" } }, ConditionExpression: "attribute_not_exists(pk)", ReturnConsumedCapacity: "TOTAL" };
  const del = { TableName: TABLE, Key: { pk: { S: "d" } }, ReturnValues: "ALL_OLD" };
  const update = { TableName: TABLE, Key: { pk: { S: "u" } }, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "1" } } };
  for (const [operation, request] of [["PutItem", put], ["DeleteItem", del], ["UpdateItem", update]] as const) {
    assert.is((await engine.handle(operation, request)).status, 200);
  }
  assert.equal(sent, [
    { operation: "PutItem", request: { ...put, ReturnValues: "ALL_OLD" } },
    { operation: "DeleteItem", request: del },
    { operation: "GetItem", request: { TableName: TABLE, Key: { pk: { S: "u" } }, ConsistentRead: true } },
    { operation: "UpdateItem", request: { ...update, ReturnValues: "ALL_NEW" } },
  ]);
  assert.is.not(sent[0]!.request, put, "the caller's request is not changed");
  assert.not.ok("ReturnValues" in put);
});

test("a request's own __proto__ key stays an own key of what dynalite is sent", async () => {
  sent.length = 0;
  const request = JSON.parse(`{"TableName":"${TABLE}","Item":{"pk":{"S":"x"}},"__proto__":{"polluted":{"S":"yes"}}}`) as Record<string, unknown>;
  assert.ok(Object.hasOwn(request, "__proto__"));
  await engine.handle("PutItem", request);
  const forwarded = sent[0]!.request;
  assert.is(Object.getPrototypeOf(forwarded), Object.prototype);
  assert.ok(Object.hasOwn(forwarded, "__proto__"));
  assert.equal(Object.keys(forwarded), ["TableName", "Item", "__proto__", "ReturnValues"]);
  assert.is((forwarded as { polluted?: unknown }).polluted, undefined);
});

test.run();
