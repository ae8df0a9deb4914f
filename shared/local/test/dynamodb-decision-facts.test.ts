// The DynamoDB thread tells the main thread of each reported decision only what its trace reads: the operation, the
// tables and partition keys each authorization named, the trace header and a denial's message (exactly AWS's, as the
// caller got it). The request's IAM details (principal, resource ARNs, other condition keys) stay in the thread.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createTables, startDynamoService, type LocalDynamo } from "../stage/dynamodb";
import type { DynamoDecision } from "../stage/dynamo-worker";
import type { TableSpec } from "../stage/wiring";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const ORDERS = "local-facts-orders";
const STOCK = "local-facts-stock";
const PRINCIPAL = "local-facts-fn";
const arn = (table: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`;
const table = (name: string): TableSpec => ({ origin: { project: "t", name: "t", type: "t" }, name, arn: arn(name), attributes: [{ name: "pk", type: "S" }], hashKey: "pk", globalIndexes: [], localIndexes: [] });
const TRACE = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1";

/** One signed JSON 1.0 call to the proxy as `PRINCIPAL`, with a trace header: its status and body. */
async function call(endpoint: string, operation: string, body: unknown): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `DynamoDB_20120810.${operation}`,
      "x-amzn-trace-id": TRACE,
      authorization: `AWS4-HMAC-SHA256 Credential=${PRINCIPAL}/20260101/${REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

test("a reported decision reaches the main thread as the trace reads it: tables, leading keys, trace header, denial message", async () => {
  const decisions: DynamoDecision[] = [];
  const answers: { requestId: string; status: number; errorType?: string }[] = [];
  const policy = JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"], Resource: [arn(ORDERS), arn(STOCK)] },
      { Effect: "Allow", Action: "dynamodb:DeleteItem", Resource: arn(ORDERS), Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["allowed#*"] } } },
    ],
  });
  let dynamo: LocalDynamo | undefined;
  try {
    dynamo = await startDynamoService({
      accountId: ACCOUNT,
      keySchemas: { [ORDERS]: { partitionKey: "pk", indexes: {} }, [STOCK]: { partitionKey: "pk", indexes: {} } },
      registrations: [{ principal: PRINCIPAL, policies: [policy], identity: { roleName: "facts-role", sessionName: "facts-fn", accountId: ACCOUNT } }],
      reported: ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"],
      onDecision: (event) => decisions.push(event),
      onAnswered: ({ requestId, status, errorType }) => answers.push({ requestId, status, ...(errorType ? { errorType } : {}) }),
    });
    await createTables(dynamo.dynaliteEndpoint, [table(ORDERS), table(STOCK)]);
    const transaction = await call(dynamo.endpoint, "TransactWriteItems", {
      TransactItems: [
        { Put: { TableName: ORDERS, Item: { pk: { S: "o#1" }, n: { N: "1" } } } },
        { Update: { TableName: STOCK, Key: { pk: { S: "s#1" } }, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: "2" } } } },
      ],
    });
    assert.is(transaction.status, 200);
    const read = await call(dynamo.endpoint, "GetItem", { TableName: ORDERS, Key: { pk: { S: "o#1" } } });
    assert.is(read.status, 200);
    const refused = await call(dynamo.endpoint, "DeleteItem", { TableName: ORDERS, Key: { pk: { S: "o#1" } } });
    assert.is(refused.status, 400);
    assert.is(refused.body.__type, "com.amazon.coral.service#AccessDeniedException");
    const deleted = await call(dynamo.endpoint, "DeleteItem", { TableName: ORDERS, Key: { pk: { S: "allowed#1" } }, ConditionExpression: "attribute_exists(pk)" });
    assert.is(deleted.status, 400);
    assert.is(deleted.body.__type, "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException");
    // The last events leave the thread once per event loop turn.
    for (let i = 0; i < 100 && answers.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));

    const requestIds = decisions.map((d) => d.requestId);
    assert.equal(decisions, [
      {
        requestId: requestIds[0]!,
        operation: "TransactWriteItems",
        allowed: true,
        traceHeader: TRACE,
        authorizations: [
          { action: "dynamodb:PutItem", table: ORDERS, conditionKeys: { "dynamodb:LeadingKeys": ["o#1"] } },
          { action: "dynamodb:UpdateItem", table: STOCK, conditionKeys: { "dynamodb:LeadingKeys": ["s#1"] } },
        ],
      },
      {
        requestId: requestIds[1]!,
        operation: "DeleteItem",
        allowed: false,
        traceHeader: TRACE,
        authorizations: [{ action: "dynamodb:DeleteItem", table: ORDERS, conditionKeys: { "dynamodb:LeadingKeys": ["o#1"] } }],
        denied: { message: refused.body.Message! },
      },
      {
        requestId: requestIds[2]!,
        operation: "DeleteItem",
        allowed: true,
        traceHeader: TRACE,
        authorizations: [{ action: "dynamodb:DeleteItem", table: ORDERS, conditionKeys: { "dynamodb:LeadingKeys": ["allowed#1"] } }],
      },
    ]);
    assert.is(
      refused.body.Message,
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/facts-role/facts-fn is not authorized to perform: dynamodb:DeleteItem on resource: ${arn(ORDERS)} because no identity-based policy allows the dynamodb:DeleteItem action`,
    );
    assert.equal(answers, [
      { requestId: requestIds[0]!, status: 200 },
      { requestId: requestIds[2]!, status: 400, errorType: "ConditionalCheckFailedException" },
    ]);
  } finally {
    await dynamo?.close();
  }
});

test.run();
