// What AWS authorizes for each DynamoDB request: actions, resource ARNs, and the condition keys derived from the
// request (Amazon DynamoDB Developer Guide: fine-grained access control; IAM with transactions).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  dynamoDbAuthorizations,
  dynamoDbOperation,
  tableArn,
  tableNamesOf,
  type KeySchemaLookup,
  type TableKeySchema,
} from "../iam/dynamodb-requests";

const scope = { region: "eu-west-1", accountId: "123456789012" };
const DATA = tableArn(scope, "data");
const IDEMPOTENCY = tableArn(scope, "idempotency");
const SCHEMAS: Record<string, TableKeySchema> = {
  data: { partitionKey: "pk", sortKey: "sk", indexes: { gsi1: { partitionKey: "gsi1pk", sortKey: "gsi1sk" } } },
  idempotency: { partitionKey: "id" },
};
const lookup: KeySchemaLookup = (table) => SCHEMAS[table];
const S = (value: string) => ({ S: value });

function only(operation: string, body: unknown, keys: KeySchemaLookup = lookup) {
  const list = dynamoDbAuthorizations(operation, body, scope, keys);
  assert.is(list.length, 1, `${operation} yields one authorization`);
  return list[0]!;
}

test("X-Amz-Target names the operation", () => {
  assert.is(dynamoDbOperation("DynamoDB_20120810.PutItem"), "PutItem");
  assert.is(dynamoDbOperation("DynamoDB_20120810."), undefined);
  assert.is(dynamoDbOperation("AmazonSQS.SendMessage"), undefined);
  assert.is(dynamoDbOperation(undefined), undefined);
  assert.equal(tableArn(scope, "data"), "arn:aws:dynamodb:eu-west-1:123456789012:table/data");
});

test("single-item operations: their own action on the table, leading key from Key or Item", () => {
  const get = only("GetItem", { TableName: "data", Key: { pk: S("$billing#id_1"), sk: S("$invoice_1") } });
  assert.is(get.action, "dynamodb:GetItem");
  assert.is(get.resource, DATA);
  assert.is(get.table, "data");
  assert.equal(get.conditionKeys["dynamodb:LeadingKeys"], ["$billing#id_1"]);
  assert.is(get.conditionKeys["dynamodb:Select"], "ALL_ATTRIBUTES");
  assert.is(get.conditionKeys["dynamodb:ReturnConsumedCapacity"], "NONE");
  assert.equal(get.unresolvedConditionKeys, ["dynamodb:Attributes"]);

  const put = only("PutItem", { TableName: "data", Item: { pk: S("$billing#id_2"), sk: S("x"), amount: { N: "3" } }, ReturnConsumedCapacity: "TOTAL" });
  assert.is(put.action, "dynamodb:PutItem");
  assert.equal(put.conditionKeys["dynamodb:LeadingKeys"], ["$billing#id_2"]);
  assert.is(put.conditionKeys["dynamodb:ReturnValues"], "NONE");
  assert.is(put.conditionKeys["dynamodb:ReturnConsumedCapacity"], "TOTAL");
  assert.equal(put.conditionKeys["dynamodb:Attributes"], ["pk", "sk", "amount"]);
  assert.equal(put.unresolvedConditionKeys, []);

  const update = only("UpdateItem", {
    TableName: "data",
    Key: { pk: S("$billing#id_3"), sk: S("x") },
    UpdateExpression: "SET #amount = if_not_exists(#amount, :zero) + :inc, paid = :yes REMOVE #notes[0]",
    ConditionExpression: "attribute_exists(#pk) AND size(history.entries) < :max",
    ExpressionAttributeNames: { "#amount": "amount", "#notes": "notes", "#pk": "pk" },
    ReturnValues: "UPDATED_NEW",
  });
  assert.is(update.action, "dynamodb:UpdateItem");
  assert.equal(update.conditionKeys["dynamodb:LeadingKeys"], ["$billing#id_3"]);
  assert.is(update.conditionKeys["dynamodb:ReturnValues"], "UPDATED_NEW");
  assert.equal([...(update.conditionKeys["dynamodb:Attributes"] as string[])].sort(), ["amount", "history", "notes", "paid", "pk", "sk"]);

  const del = only("DeleteItem", { TableName: "idempotency", Key: { id: S("billing#fn#evt-1") }, ReturnValues: "ALL_OLD" });
  assert.is(del.action, "dynamodb:DeleteItem");
  assert.is(del.resource, IDEMPOTENCY);
  assert.equal(del.conditionKeys["dynamodb:LeadingKeys"], ["billing#fn#evt-1"]);
  // ALL_OLD returns every attribute of the old item: the attribute names are not knowable from the request.
  assert.ok(del.unresolvedConditionKeys.includes("dynamodb:Attributes"));

  // Number and binary partition keys count by their text.
  const numeric = only("GetItem", { TableName: "numbers", Key: { n: { N: "42" } } }, () => ({ partitionKey: "n" }));
  assert.equal(numeric.conditionKeys["dynamodb:LeadingKeys"], ["42"]);
  const binary = only("GetItem", { TableName: "bytes", Key: { b: { B: "AQID" } } }, () => ({ partitionKey: "b" }));
  assert.equal(binary.conditionKeys["dynamodb:LeadingKeys"], ["AQID"]);
});

test("projections make dynamodb:Select SPECIFIC_ATTRIBUTES and name the attributes", () => {
  const get = only("GetItem", {
    TableName: "data",
    Key: { pk: S("$billing#1"), sk: S("x") },
    ProjectionExpression: "#a, b.c[2], d",
    ExpressionAttributeNames: { "#a": "amount" },
  });
  assert.is(get.conditionKeys["dynamodb:Select"], "SPECIFIC_ATTRIBUTES");
  assert.equal([...(get.conditionKeys["dynamodb:Attributes"] as string[])].sort(), ["amount", "b", "d", "pk", "sk"]);
  // A placeholder without a name makes the expression unreadable: fail closed.
  const broken = only("GetItem", { TableName: "data", Key: { pk: S("$billing#1"), sk: S("x") }, ProjectionExpression: "#missing" });
  assert.ok(broken.unresolvedConditionKeys.includes("dynamodb:Attributes"));
});

test("Query: leading keys from KeyConditionExpression; an index query uses the index ARN and its partition key", () => {
  const table = only("Query", {
    TableName: "data",
    KeyConditionExpression: "#pk = :pk and begins_with(#sk1, :sk1)",
    ExpressionAttributeNames: { "#pk": "pk", "#sk1": "sk" },
    ExpressionAttributeValues: { ":pk": S("$billing#customer_7"), ":sk1": S("$invoice") },
  });
  assert.is(table.action, "dynamodb:Query");
  assert.is(table.resource, DATA);
  assert.equal(table.conditionKeys["dynamodb:LeadingKeys"], ["$billing#customer_7"]);
  assert.is(table.conditionKeys["dynamodb:Select"], "ALL_ATTRIBUTES");

  const index = only("Query", {
    TableName: "data",
    IndexName: "gsi1",
    KeyConditionExpression: "(:v = #gsi1pk) AND #gsi1sk BETWEEN :a AND :b",
    ExpressionAttributeNames: { "#gsi1pk": "gsi1pk", "#gsi1sk": "gsi1sk" },
    ExpressionAttributeValues: { ":v": S("$billing#customer_7"), ":a": S("a"), ":b": S("b") },
  });
  assert.is(index.resource, `${DATA}/index/gsi1`);
  assert.is(index.index, "gsi1");
  assert.equal(index.conditionKeys["dynamodb:LeadingKeys"], ["$billing#customer_7"]);
  assert.is(index.conditionKeys["dynamodb:Select"], "ALL_PROJECTED_ATTRIBUTES");

  // The table's pk condition on an index query is not the index's partition key.
  const wrongKey = only("Query", {
    TableName: "data",
    IndexName: "gsi1",
    KeyConditionExpression: "pk = :v",
    ExpressionAttributeValues: { ":v": S("$billing#x") },
  });
  assert.ok(wrongKey.unresolvedConditionKeys.includes("dynamodb:LeadingKeys"));

  const legacy = only("Query", {
    TableName: "data",
    KeyConditions: { pk: { ComparisonOperator: "EQ", AttributeValueList: [S("$billing#legacy")] } },
    AttributesToGet: ["pk", "total"],
  });
  assert.equal(legacy.conditionKeys["dynamodb:LeadingKeys"], ["$billing#legacy"]);
  assert.is(legacy.conditionKeys["dynamodb:Select"], "SPECIFIC_ATTRIBUTES");
  assert.equal([...(legacy.conditionKeys["dynamodb:Attributes"] as string[])].sort(), ["pk", "total"]);

  for (const body of [
    { TableName: "data", KeyConditionExpression: "#pk = :pk", ExpressionAttributeValues: { ":pk": S("x") } }, // unnamed placeholder
    { TableName: "data", KeyConditionExpression: "pk = :missing", ExpressionAttributeValues: {} },
    { TableName: "data", KeyConditionExpression: "pk $ :x" },
    { TableName: "unknown-table", KeyConditionExpression: "pk = :x", ExpressionAttributeValues: { ":x": S("x") } },
    { TableName: "data", IndexName: "no-such-index", KeyConditionExpression: "pk = :x", ExpressionAttributeValues: { ":x": S("x") } },
  ]) {
    const auth = only("Query", body);
    assert.ok(auth.unresolvedConditionKeys.includes("dynamodb:LeadingKeys"), JSON.stringify(body));
    assert.is(auth.conditionKeys["dynamodb:LeadingKeys"], undefined);
  }
});

test("Scan has no leading keys at all (so ForAllValues holds for it, as in AWS)", () => {
  const scan = only("Scan", { TableName: "data", IndexName: "gsi1", Select: "COUNT" });
  assert.is(scan.action, "dynamodb:Scan");
  assert.is(scan.resource, `${DATA}/index/gsi1`);
  assert.is(scan.conditionKeys["dynamodb:LeadingKeys"], undefined);
  assert.not.ok(scan.unresolvedConditionKeys.includes("dynamodb:LeadingKeys"));
  assert.is(scan.conditionKeys["dynamodb:Select"], "COUNT");
});

test("BatchGetItem / BatchWriteItem: one authorization per table with all its leading keys", () => {
  const write = dynamoDbAuthorizations(
    "BatchWriteItem",
    {
      RequestItems: {
        data: [
          { PutRequest: { Item: { pk: S("$billing#1"), sk: S("a") } } },
          { DeleteRequest: { Key: { pk: S("$orders#2"), sk: S("b") } } },
          { PutRequest: { Item: { pk: S("$billing#1"), sk: S("c") } } },
        ],
        idempotency: [{ DeleteRequest: { Key: { id: S("k") } } }],
      },
    },
    scope,
    lookup,
  );
  assert.equal(
    write.map((a) => [a.action, a.resource, a.conditionKeys["dynamodb:LeadingKeys"]]),
    [
      ["dynamodb:BatchWriteItem", DATA, ["$billing#1", "$orders#2"]],
      ["dynamodb:BatchWriteItem", IDEMPOTENCY, ["k"]],
    ],
  );
  const get = dynamoDbAuthorizations(
    "BatchGetItem",
    { RequestItems: { data: { Keys: [{ pk: S("$billing#1"), sk: S("a") }, { pk: S("$billing#3"), sk: S("b") }], ProjectionExpression: "total" } } },
    scope,
    lookup,
  );
  assert.is(get.length, 1);
  assert.is(get[0]!.action, "dynamodb:BatchGetItem");
  assert.equal(get[0]!.conditionKeys["dynamodb:LeadingKeys"], ["$billing#1", "$billing#3"]);
  assert.is(get[0]!.conditionKeys["dynamodb:Select"], "SPECIFIC_ATTRIBUTES");
  assert.equal(tableNamesOf("BatchWriteItem", { RequestItems: { data: [], idempotency: [] } }), ["data", "idempotency"]);
});

test("TransactWriteItems / TransactGetItems: one authorization per item, with the item's action", () => {
  const body = {
    TransactItems: [
      { Put: { TableName: "data", Item: { pk: S("$billing#1"), sk: S("a") } } },
      { Update: { TableName: "data", Key: { pk: S("$billing#2"), sk: S("a") }, UpdateExpression: "SET x = :x", ExpressionAttributeValues: { ":x": S("1") } } },
      { Delete: { TableName: "idempotency", Key: { id: S("k") } } },
      { ConditionCheck: { TableName: "data", Key: { pk: S("$orders#9"), sk: S("a") }, ConditionExpression: "attribute_exists(pk)" } },
    ],
  };
  const write = dynamoDbAuthorizations("TransactWriteItems", body, scope, lookup);
  assert.equal(
    write.map((a) => [a.action, a.resource, a.conditionKeys["dynamodb:LeadingKeys"], a.conditionKeys["dynamodb:EnclosingOperation"]]),
    [
      ["dynamodb:PutItem", DATA, ["$billing#1"], "TransactWriteItems"],
      ["dynamodb:UpdateItem", DATA, ["$billing#2"], "TransactWriteItems"],
      ["dynamodb:DeleteItem", IDEMPOTENCY, ["k"], "TransactWriteItems"],
      ["dynamodb:ConditionCheckItem", DATA, ["$orders#9"], "TransactWriteItems"],
    ],
  );
  assert.ok(write.every((a) => a.operation === "TransactWriteItems"));
  assert.equal(tableNamesOf("TransactWriteItems", body), ["data", "idempotency"]);

  const read = dynamoDbAuthorizations("TransactGetItems", { TransactItems: [{ Get: { TableName: "data", Key: { pk: S("$billing#1"), sk: S("a") } } }] }, scope, lookup);
  assert.equal(read.map((a) => [a.action, a.conditionKeys["dynamodb:EnclosingOperation"]]), [["dynamodb:GetItem", "TransactGetItems"]]);
});

test("an unknown key schema leaves the leading keys unresolved (fail closed)", () => {
  const put = only("PutItem", { TableName: "mystery", Item: { id: S("1") } }, () => undefined);
  assert.equal(put.unresolvedConditionKeys, ["dynamodb:LeadingKeys"]);
  assert.is(put.conditionKeys["dynamodb:LeadingKeys"], undefined);
});

test("TableName given as an ARN, control-plane operations, PartiQL", () => {
  const arnName = only("GetItem", { TableName: DATA, Key: { pk: S("$billing#1"), sk: S("x") } });
  assert.is(arnName.resource, DATA);
  assert.is(arnName.table, "data");
  assert.equal(arnName.conditionKeys["dynamodb:LeadingKeys"], ["$billing#1"]);
  assert.equal(tableNamesOf("GetItem", { TableName: DATA }), ["data"]);

  assert.equal(pick(only("DescribeTable", { TableName: "data" })), ["dynamodb:DescribeTable", DATA]);
  assert.equal(pick(only("CreateTable", { TableName: "new-table" })), ["dynamodb:CreateTable", tableArn(scope, "new-table")]);
  assert.equal(pick(only("ListTables", {})), ["dynamodb:ListTables", "*"]);
  assert.equal(pick(only("TagResource", { ResourceArn: DATA, Tags: [] })), ["dynamodb:TagResource", DATA]);
  // A request without a table authorizes against "*": only a policy granting "*" lets it reach the engine's validation.
  assert.equal(pick(only("PutItem", { Item: {} })), ["dynamodb:PutItem", "*"]);

  const select = only("ExecuteStatement", { Statement: 'SELECT * FROM "data"."gsi1" WHERE gsi1pk = ?' });
  assert.equal(pick(select), ["dynamodb:PartiQLSelect", `${DATA}/index/gsi1`]);
  assert.ok(select.unresolvedConditionKeys.includes("dynamodb:LeadingKeys"));
  const batch = dynamoDbAuthorizations(
    "BatchExecuteStatement",
    { Statements: [{ Statement: "INSERT INTO data VALUE {'pk': ?}" }, { Statement: 'UPDATE "data" SET x = 1 WHERE pk = ?' }, { Statement: 'DELETE FROM "data" WHERE pk = ?' }] },
    scope,
    lookup,
  );
  assert.equal(batch.map(pick), [
    ["dynamodb:PartiQLInsert", DATA],
    ["dynamodb:PartiQLUpdate", DATA],
    ["dynamodb:PartiQLDelete", DATA],
  ]);
  assert.equal(pick(only("ExecuteStatement", { Statement: "EXISTS(...)" })), ["dynamodb:ExecuteStatement", "*"]);
});

test("a request naming nothing to authorize is still authorized, as the operation on *", () => {
  assert.equal(dynamoDbAuthorizations("BatchWriteItem", { RequestItems: {} }, scope, lookup).map(pick), [["dynamodb:BatchWriteItem", "*"]]);
  assert.equal(dynamoDbAuthorizations("TransactWriteItems", { TransactItems: [{ Bogus: { TableName: "data" } }] }, scope, lookup).map(pick), [
    ["dynamodb:TransactWriteItems", "*"],
  ]);
  assert.equal(dynamoDbAuthorizations("TransactGetItems", "not an object", scope, lookup).map(pick), [["dynamodb:TransactGetItems", "*"]]);
});

function pick(auth: { action: string; resource: string }): [string, string] {
  return [auth.action, auth.resource];
}

test.run();
