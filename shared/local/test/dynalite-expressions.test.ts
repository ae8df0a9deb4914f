// dynalite's condition parser, memoized: every request gets exactly the parse (or the error) the parser gives it,
// with its own values; checked against the unmemoized parser and end to end against dynalite with the SDK.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { memoizeExpressionParser, type ExpressionParser } from "../stage/dynalite-expressions";

const conditionParser = require("dynalite/db/conditionParser") as ExpressionParser;
const original = conditionParser.parse.bind(conditionParser);
const dynalite = require("dynalite") as (options: { createTableMs?: number }) => Server;

const LOCK =
  "attribute_not_exists(#id) OR #expiration < :nowSeconds OR (#status = :inProgress AND attribute_exists(#lockExpiry) AND #lockExpiry < :nowMillis)";
const NAMES = { "#id": "id", "#expiration": "expiration", "#status": "status", "#lockExpiry": "lockExpiry" };

function context(values: Record<string, Record<string, unknown>>, names: Record<string, string> = NAMES) {
  return {
    attrNames: names,
    attrVals: values,
    unusedAttrNames: Object.fromEntries(Object.keys(names).map((k) => [k, true])),
    unusedAttrVals: Object.fromEntries(Object.keys(values).map((k) => [k, true])),
    isReserved: (name: string) => name.toUpperCase() === "STATUS",
    compare: (op: string, x: { N?: string }, y: { N?: string }) => op === "GT" && Number(x.N) > Number(y.N),
  };
}

/** The parse, or the error message it throws. */
function outcome(parser: ExpressionParser["parse"], expression: string, ctx: ReturnType<typeof context>): unknown {
  try {
    const result = parser(expression, { context: ctx });
    // The parser answers semantic errors as a message, syntax errors by throwing.
    if (typeof result === "string") return { error: result };
    return { result, unusedNames: Object.keys(ctx.unusedAttrNames), unusedValues: Object.keys(ctx.unusedAttrVals) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function lockValues(now: number) {
  return { ":nowSeconds": { N: String(Math.floor(now / 1000)) }, ":nowMillis": { N: String(now) }, ":inProgress": { S: "IN_PROGRESS" } };
}

test("each request gets the parser's own result, holding its own value objects, and marks the same names and values used", () => {
  let parses = 0;
  const memo = memoizeExpressionParser({ parse: (expression: string, options?: object) => (parses++, original(expression, options)) });
  for (const now of [1_700_000_000_000, 1_700_000_123_456, 1_800_000_000_001]) {
    const values = { ...lockValues(now), ":unused": { S: "x" } };
    const expected = outcome(original, LOCK, context(structuredClone(values)));
    const ctx = context(values);
    const got = outcome(memo.parse, LOCK, ctx) as { result: unknown; unusedValues: string[] };
    assert.equal(got, expected);
    assert.equal(got.unusedValues, [":unused"]);
    // The request's own objects, not copies of an earlier request's.
    const found: unknown[] = [];
    const visit = (node: unknown): void => {
      if (node === values[":nowMillis"] || node === values[":nowSeconds"]) found.push(node);
      else if (node && typeof node === "object") Object.values(node).forEach(visit);
    };
    visit(got.result);
    assert.is(found.length, 2);
  }
  assert.is(parses, 1, "the expression was parsed once for three requests");
});

test("types count: a value of another type gets the parser's error, not an earlier success", () => {
  const memo = memoizeExpressionParser({ parse: original });
  const names = { "#a": "a" };
  const ok = outcome(memo.parse, "begins_with(#a, :v)", context({ ":v": { S: "pre" } }, names));
  assert.ok(!("error" in (ok as object)), JSON.stringify(ok));
  const wrongType = outcome(memo.parse, "begins_with(#a, :v)", context({ ":v": { N: "1" } }, names));
  assert.equal(wrongType, outcome(original, "begins_with(#a, :v)", context({ ":v": { N: "1" } }, names)));
  assert.match((wrongType as { error: string }).error, "Incorrect operand type");
});

test("errors are the parser's every time; BETWEEN and attribute_type, which read values, are parsed each time", () => {
  const memo = memoizeExpressionParser({ parse: original });
  for (let i = 0; i < 2; i++) {
    const missing = outcome(memo.parse, "#nope = :v", context({ ":v": { S: "x" } }, { "#a": "a" }));
    assert.equal(missing, outcome(original, "#nope = :v", context({ ":v": { S: "x" } }, { "#a": "a" })));
    assert.ok("error" in (missing as object));
    const syntax = outcome(memo.parse, "#a = = :v", context({ ":v": { S: "x" } }, { "#a": "a" }));
    assert.equal(syntax, outcome(original, "#a = = :v", context({ ":v": { S: "x" } }, { "#a": "a" })));
    assert.ok("error" in (syntax as object));
  }
  const names = { "#a": "a" };
  const between = (lo: string, hi: string) => context({ ":lo": { N: lo }, ":hi": { N: hi } }, names);
  assert.ok(!("error" in (outcome(memo.parse, "#a BETWEEN :lo AND :hi", between("1", "2")) as object)));
  const swapped = outcome(memo.parse, "#a BETWEEN :lo AND :hi", between("2", "1"));
  assert.equal(swapped, outcome(original, "#a BETWEEN :lo AND :hi", between("2", "1")));
  assert.match((swapped as { error: string }).error, "upper bound to be greater than or equal to lower bound");
  const typeName = (name: string) => context({ ":t": { S: name } }, names);
  assert.ok(!("error" in (outcome(memo.parse, "attribute_type(#a, :t)", typeName("S")) as object)));
  assert.match((outcome(memo.parse, "attribute_type(#a, :t)", typeName("STRING")) as { error: string }).error, "Invalid attribute type name");
});

test("end to end: dynalite with the memoized parser decides each conditional put on that put's own values", async () => {
  memoizeExpressionParser(conditionParser);
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: "us-east-1",
    maxAttempts: 1,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: "locks",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      }),
    );
    const lock = (now: number) =>
      client.send(
        new PutItemCommand({
          TableName: "locks",
          Item: { id: { S: "event-1" }, status: { S: "IN_PROGRESS" }, expiration: { N: String(Math.floor(now / 1000) + 60) }, lockExpiry: { N: String(now + 1000) } },
          ConditionExpression: LOCK,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: lockValues(now),
        }),
      );
    const now = 1_700_000_000_000;
    await lock(now); // no item yet: acquired
    // Half a second later the lock is held: refused. Two seconds later it has expired: taken over.
    try {
      await lock(now + 500);
      assert.unreachable("the held lock was taken");
    } catch (error) {
      assert.instance(error, ConditionalCheckFailedException);
    }
    await lock(now + 2000);
    try {
      await lock(now + 2500);
      assert.unreachable("the lock taken over was taken again");
    } catch (error) {
      assert.instance(error, ConditionalCheckFailedException);
    }
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test.run();
