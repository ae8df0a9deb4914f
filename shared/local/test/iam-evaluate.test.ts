// Conformance of the local IAM evaluator with AWS's documented policy evaluation logic and condition operators
// (IAM User Guide: "Policy evaluation logic", "Condition operators", "Conditions with multiple context keys or
// values", "Multivalued context key examples", and the DynamoDB fine-grained access control examples).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { grantStatements } from "../../infra/helpers/grants";
import { dynamoDbAuthorizations } from "../iam/dynamodb-requests";
import { arnMatches, evaluate, IamPolicy, PolicyValidationError, type ConditionContext } from "../iam/evaluate";

const TABLE = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores";

function decide(policy: unknown, action: string, resource: string, context?: ConditionContext, unresolvedKeys?: string[]) {
  return evaluate(policy, { action, resource, ...(context ? { context } : {}), ...(unresolvedKeys ? { unresolvedKeys } : {}) }).decision;
}

// --- Explicit deny, allow, implicit deny -------------------------------------------------------------------------

// The IAM User Guide's AllowGetList / DenyReports example.
const GET_LIST_NO_REPORTS = {
  Version: "2012-10-17",
  Statement: [
    { Sid: "AllowGetList", Effect: "Allow", Action: ["iam:Get*", "iam:List*"], Resource: "*" },
    { Sid: "DenyReports", Effect: "Deny", Action: "iam:*Report", Resource: "*" },
  ],
};

test("explicit deny beats allow; no applicable statement is an implicit deny", () => {
  const user = "arn:aws:iam::123456789012:user/bob";
  const allowed = evaluate(GET_LIST_NO_REPORTS, { action: "iam:GetUser", resource: user });
  assert.is(allowed.decision, "Allow");
  assert.equal(allowed.matchedStatement, { policyIndex: 0, policyName: "#0", statementIndex: 0, sid: "AllowGetList" });

  const denied = evaluate(GET_LIST_NO_REPORTS, { action: "iam:GetOrganizationsAccessReport", resource: "*" });
  assert.is(denied.decision, "ExplicitDeny");
  assert.is(denied.matchedStatement?.sid, "DenyReports");
  assert.match(denied.reason, /explicitly denied by statement "DenyReports"/);

  const implicit = evaluate(GET_LIST_NO_REPORTS, { action: "iam:CreatePolicy", resource: "*" });
  assert.is(implicit.decision, "ImplicitDeny");
  assert.is(implicit.matchedStatement, undefined);
  assert.is(implicit.reason, "no identity-based policy allows the iam:CreatePolicy action");
});

test("a deny in one policy beats an allow in another; the statement order does not matter", () => {
  const allowAll = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*" } };
  const denyDelete = { Version: "2012-10-17", Statement: [{ Effect: "Deny", Action: "dynamodb:DeleteItem", Resource: TABLE }] };
  assert.is(decide([allowAll, denyDelete], "dynamodb:DeleteItem", TABLE), "ExplicitDeny");
  assert.is(decide([denyDelete, allowAll], "dynamodb:DeleteItem", TABLE), "ExplicitDeny");
  assert.is(decide([denyDelete, allowAll], "dynamodb:GetItem", TABLE), "Allow");
  assert.is(decide([], "dynamodb:GetItem", TABLE), "ImplicitDeny");
});

test("policies as JSON strings (as Pulumi renders them), Statement as a single object", () => {
  const json = JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" } });
  assert.is(decide(json, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:q"), "Allow");
  assert.is(decide(IamPolicy.parse(json), "sqs:ReceiveMessage", "arn:aws:sqs:eu-west-1:123456789012:q"), "ImplicitDeny");
});

// --- Action / NotAction ------------------------------------------------------------------------------------------

test("wildcard actions: * and ?, service prefix and action name case-insensitive", () => {
  const policy = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: ["dynamodb:Get*", "sqs:?eceiveMessage"], Resource: "*" } };
  assert.is(decide(policy, "dynamodb:GetItem", TABLE), "Allow");
  assert.is(decide(policy, "DynamoDB:getitem", TABLE), "Allow");
  assert.is(decide(policy, "dynamodb:BatchGetItem", TABLE), "ImplicitDeny");
  assert.is(decide(policy, "sqs:ReceiveMessage", "*"), "Allow");
  assert.is(decide(policy, "sqs:ReceiveMessages", "*"), "ImplicitDeny");
  assert.is(decide({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*" } }, "kms:Decrypt", "*"), "Allow");
});

test("NotAction allows everything but the listed actions; with Deny it denies everything else", () => {
  const allowAllButIam = { Version: "2012-10-17", Statement: { Effect: "Allow", NotAction: "iam:*", Resource: "*" } };
  assert.is(decide(allowAllButIam, "s3:GetObject", "arn:aws:s3:::bucket/key"), "Allow");
  assert.is(decide(allowAllButIam, "iam:CreateUser", "*"), "ImplicitDeny");

  // "Deny everything except dynamodb:GetItem" on top of an allow-all.
  const onlyGetItem = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "*", Resource: "*" },
      { Effect: "Deny", NotAction: ["dynamodb:GetItem"], Resource: "*" },
    ],
  };
  assert.is(decide(onlyGetItem, "dynamodb:GetItem", TABLE), "Allow");
  assert.is(decide(onlyGetItem, "dynamodb:PutItem", TABLE), "ExplicitDeny");
});

// --- Resource / NotResource --------------------------------------------------------------------------------------

test("resource wildcards: per ARN segment, case-sensitive; the resource part may hold colons", () => {
  const policy = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:*", Resource: "arn:aws:dynamodb:*:123456789012:table/Game*" } };
  assert.is(decide(policy, "dynamodb:GetItem", TABLE), "Allow");
  assert.is(decide(policy, "dynamodb:Query", `${TABLE}/index/ByScore`), "Allow");
  assert.is(decide(policy, "dynamodb:GetItem", "arn:aws:dynamodb:us-west-2:123456789012:table/gameScores"), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:GetItem", "arn:aws:dynamodb:us-west-2:999999999999:table/GameScores"), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:ListTables", "*"), "ImplicitDeny");

  // A table ARN does not cover its indexes: they are resources of their own.
  const tableOnly = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:Query", Resource: TABLE } };
  assert.is(decide(tableOnly, "dynamodb:Query", TABLE), "Allow");
  assert.is(decide(tableOnly, "dynamodb:Query", `${TABLE}/index/ByScore`), "ImplicitDeny");

  // The wildcard of the region segment cannot spill into the account; the resource part keeps its colons.
  assert.is(arnMatches("arn:aws:someservice:*:111122223333:finance/*", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), false);
  assert.is(arnMatches("arn:aws:logs:*:123456789012:log-group:/aws/lambda/fn:*", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:log-stream:abc"), true);
  assert.is(arnMatches("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/a"), true);
  assert.is(arnMatches("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/ab"), false);
});

test("NotResource applies to every resource but the listed ones", () => {
  const policy = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "dynamodb:*", Resource: "*" },
      { Effect: "Deny", Action: "dynamodb:*", NotResource: [TABLE, `${TABLE}/index/*`] },
    ],
  };
  assert.is(decide(policy, "dynamodb:GetItem", TABLE), "Allow");
  assert.is(decide(policy, "dynamodb:Query", `${TABLE}/index/ByScore`), "Allow");
  assert.is(decide(policy, "dynamodb:GetItem", "arn:aws:dynamodb:us-west-2:123456789012:table/Other"), "ExplicitDeny");
});

// --- DynamoDB leading keys: ForAllValues / ForAnyValue -----------------------------------------------------------

const BILLING_ITEMS = {
  Version: "2012-10-17",
  Statement: {
    Sid: "OwnItems",
    Effect: "Allow",
    Action: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem"],
    Resource: TABLE,
    Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$billing#*"] } },
  },
};

test("ForAllValues:StringLike on dynamodb:LeadingKeys: every key must match a pattern", () => {
  assert.is(decide(BILLING_ITEMS, "dynamodb:GetItem", TABLE, { "dynamodb:LeadingKeys": ["$billing#invoice_1"] }), "Allow");
  assert.is(decide(BILLING_ITEMS, "dynamodb:BatchWriteItem", TABLE, { "dynamodb:LeadingKeys": ["$billing#a", "$billing#b"] }), "Allow");
  const mixed = evaluate(BILLING_ITEMS, { action: "dynamodb:BatchWriteItem", resource: TABLE, context: { "dynamodb:LeadingKeys": ["$billing#a", "$orders#b"] } });
  assert.is(mixed.decision, "ImplicitDeny");
  assert.ok(mixed.notes.some((note) => note.includes('"$orders#b"') && note.includes("OwnItems")), mixed.notes.join("\n"));
  assert.is(decide(BILLING_ITEMS, "dynamodb:GetItem", TABLE, { "dynamodb:LeadingKeys": ["$Billing#x"] }), "ImplicitDeny");
  // A single-valued context value is a set of one.
  assert.is(decide(BILLING_ITEMS, "dynamodb:GetItem", TABLE, { "dynamodb:LeadingKeys": "$billing#x" }), "Allow");
});

test("ForAllValues is true when the key is missing or empty (AWS behaviour), and says so", () => {
  for (const context of [{}, { "dynamodb:LeadingKeys": [] }, { "dynamodb:LeadingKeys": undefined }]) {
    const result = evaluate(BILLING_ITEMS, { action: "dynamodb:Scan", resource: TABLE, context });
    assert.is(result.decision, "Allow");
    assert.ok(result.notes.some((note) => /no values for dynamodb:LeadingKeys.*ForAllValues on an empty set as true/.test(note)), result.notes.join("\n"));
  }
  // ForAnyValue on a missing key is false.
  const anyValue = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:Scan", Resource: "*", Condition: { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": "$billing#*" } } } };
  assert.is(decide(anyValue, "dynamodb:Scan", TABLE, {}), "ImplicitDeny");
  assert.is(decide(anyValue, "dynamodb:Scan", TABLE, { "dynamodb:LeadingKeys": ["$orders#1", "$billing#2"] }), "Allow");
  assert.is(decide(anyValue, "dynamodb:Scan", TABLE, { "dynamodb:LeadingKeys": ["$orders#1"] }), "ImplicitDeny");
});

test("the platform's data grant pairs LeadingKeys with Null: false, so a Scan (no leading keys) is refused even if granted", () => {
  // The statements a service function's role gets (shared/infra helpers/grants.ts), with Scan added by hand, as a
  // service author might: ForAllValues alone would let it read every service's items.
  const table = "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-data";
  const statements = grantStatements(
    { service: "billing", publishes: [], failures: false, data: "read", idempotency: false },
    { logGroupArn: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f", tracing: "PassThrough", eventsKeyArn: "k", topicArns: {}, failureTopicArn: "t", dataTableArn: table, dataIndexNames: ["gsi1"], idempotencyTableArn: "i" },
  ).map((statement) => (statement.Sid === "OwnItems" ? { ...statement, Action: [...(statement.Action as string[]), "dynamodb:Scan"] } : statement));
  const policy = { Version: "2012-10-17", Statement: statements };
  const scope = { region: "eu-west-1", accountId: "123456789012" };
  const schema = () => ({ partitionKey: "pk", sortKey: "sk", indexes: { gsi1: { partitionKey: "gsi1pk", sortKey: "gsi1sk" } } });
  const decideRequest = (operation: string, body: unknown) => {
    const [auth] = dynamoDbAuthorizations(operation, body, scope, schema);
    return evaluate(policy, { action: auth!.action, resource: auth!.resource, context: auth!.conditionKeys, unresolvedKeys: auth!.unresolvedConditionKeys });
  };
  const scan = decideRequest("Scan", { TableName: "dev-data" });
  assert.is(scan.decision, "ImplicitDeny");
  assert.ok(scan.notes.some((note) => /OwnItems.*Null dynamodb:LeadingKeys: the key is absent/.test(note)), scan.notes.join("\n"));
  // The service's own reads still pass: a key, and an index query whose partition key is its own.
  assert.is(decideRequest("GetItem", { TableName: "dev-data", Key: { pk: { S: "$billing#id_1" }, sk: { S: "x" } } }).decision, "Allow");
  const own = { TableName: "dev-data", IndexName: "gsi1", KeyConditionExpression: "#pk = :pk", ExpressionAttributeNames: { "#pk": "gsi1pk" } };
  assert.is(decideRequest("Query", { ...own, ExpressionAttributeValues: { ":pk": { S: "$billing#orderid_1" } } }).decision, "Allow");
  assert.is(decideRequest("Query", { ...own, ExpressionAttributeValues: { ":pk": { S: "$orders#orderid_1" } } }).decision, "ImplicitDeny");
});

// The IAM User Guide's "Deny policy with condition set operator ForAllValues" table.
test("ForAllValues:StringNotLike in a Deny statement, as in the guide's aws:TagKeys example", () => {
  const policy = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "iam:*", Resource: "*" },
      { Sid: "DenyRestrictedTags", Effect: "Deny", Action: ["iam:Tag*", "iam:UnTag*"], Resource: ["*"], Condition: { "ForAllValues:StringNotLike": { "aws:TagKeys": "key1*" } } },
    ],
  };
  assert.is(decide(policy, "iam:TagUser", "*", { "aws:TagKeys": ["key1:legal"] }), "Allow");
  assert.is(decide(policy, "iam:TagUser", "*", { "aws:TagKeys": ["key1:hr", "key1:personnel"] }), "Allow");
  assert.is(decide(policy, "iam:TagUser", "*", { "aws:TagKeys": ["key2:audit"] }), "ExplicitDeny");
  assert.is(decide(policy, "iam:TagUser", "*", {}), "ExplicitDeny");
});

test("a multivalued key under an operator without a set qualifier is indeterminate: it never allows", () => {
  const plain = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:*", Resource: "*", Condition: { StringLike: { "dynamodb:LeadingKeys": "$billing#*" } } } };
  assert.is(decide(plain, "dynamodb:GetItem", TABLE, { "dynamodb:LeadingKeys": ["$billing#1"] }), "Allow");
  const result = evaluate(plain, { action: "dynamodb:BatchGetItem", resource: TABLE, context: { "dynamodb:LeadingKeys": ["$billing#1", "$billing#2"] } });
  assert.is(result.decision, "ImplicitDeny");
  assert.ok(result.notes.some((note) => note.includes("use ForAllValues: or ForAnyValue:")), result.notes.join("\n"));
});

// --- IfExists, Null, Bool, Arn, multiple keys and values ---------------------------------------------------------

test("...IfExists: a missing key passes, a present key is checked (DynamoDB Select example)", () => {
  const policy = {
    Version: "2012-10-17",
    Statement: { Effect: "Allow", Action: ["dynamodb:Query", "dynamodb:UpdateItem"], Resource: TABLE, Condition: { StringEqualsIfExists: { "dynamodb:Select": "SPECIFIC_ATTRIBUTES", "dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"] } } },
  };
  assert.is(decide(policy, "dynamodb:UpdateItem", TABLE, { "dynamodb:ReturnValues": "UPDATED_NEW" }), "Allow");
  assert.is(decide(policy, "dynamodb:UpdateItem", TABLE, { "dynamodb:ReturnValues": "ALL_NEW" }), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:Query", TABLE, { "dynamodb:Select": "SPECIFIC_ATTRIBUTES" }), "Allow");
  assert.is(decide(policy, "dynamodb:Query", TABLE, { "dynamodb:Select": "ALL_ATTRIBUTES" }), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:Query", TABLE, {}), "Allow");
  // Without IfExists a missing key fails the condition.
  const strict = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:Query", Resource: TABLE, Condition: { StringEquals: { "dynamodb:Select": "SPECIFIC_ATTRIBUTES" } } } };
  assert.is(decide(strict, "dynamodb:Query", TABLE, {}), "ImplicitDeny");
});

test("Null: true means the key is absent, false that it is present", () => {
  const noTemporaryCredentials = { Version: "2012-10-17", Statement: { Action: "ec2:*", Effect: "Allow", Resource: "*", Condition: { Null: { "aws:TokenIssueTime": "true" } } } };
  assert.is(decide(noTemporaryCredentials, "ec2:RunInstances", "*", {}), "Allow");
  assert.is(decide(noTemporaryCredentials, "ec2:RunInstances", "*", { "aws:TokenIssueTime": "2026-01-01T00:00:00Z" }), "ImplicitDeny");
  const requireTags = { Version: "2012-10-17", Statement: { Action: "ec2:*", Effect: "Allow", Resource: "*", Condition: { Null: { "aws:TagKeys": false } } } };
  assert.is(decide(requireTags, "ec2:CreateTags", "*", { "aws:TagKeys": ["team"] }), "Allow");
  assert.is(decide(requireTags, "ec2:CreateTags", "*", { "aws:TagKeys": [] }), "ImplicitDeny");
  assert.is(decide(requireTags, "ec2:CreateTags", "*", {}), "ImplicitDeny");
});

test("Bool aws:SecureTransport: the guide's deny-unless-TLS statement", () => {
  const policy = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "s3:*", Resource: "*" },
      { Sid: "BooleanExample", Action: "s3:*", Effect: "Deny", Resource: ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"], Condition: { Bool: { "aws:SecureTransport": "false" } } },
    ],
  };
  const object = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/report.csv";
  assert.is(decide(policy, "s3:GetObject", object, { "aws:SecureTransport": "false" }), "ExplicitDeny");
  assert.is(decide(policy, "s3:GetObject", object, { "aws:SecureTransport": "true" }), "Allow");
  assert.is(decide(policy, "s3:GetObject", object, { "aws:SecureTransport": "FALSE" }), "ExplicitDeny");
  // Bool is not negated: a missing key does not match, so the deny does not apply.
  assert.is(decide(policy, "s3:GetObject", object, {}), "Allow");
  // JSON booleans in the policy mean the same as the strings.
  const jsonBool = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "s3:*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": true } } } };
  assert.is(decide(jsonBool, "s3:GetObject", object, { "aws:SecureTransport": "true" }), "Allow");
  assert.is(decide(jsonBool, "s3:GetObject", object, { "aws:SecureTransport": "false" }), "ImplicitDeny");
});

test("ArnLike / ArnEquals aws:SourceArn: segment-wise matching, missing key, negation", () => {
  const topic = "arn:aws:sns:eu-west-1:123456789012:billing-invoice-issued";
  const queue = "arn:aws:sqs:eu-west-1:123456789012:billing-queue";
  const fromTopic = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "sqs:SendMessage", Resource: queue, Condition: { ArnLike: { "aws:SourceArn": "arn:aws:sns:*:123456789012:billing-*" } } } };
  assert.is(decide(fromTopic, "sqs:SendMessage", queue, { "aws:SourceArn": topic }), "Allow");
  assert.is(decide(fromTopic, "sqs:SendMessage", queue, { "aws:SourceArn": "arn:aws:sns:eu-west-1:999999999999:billing-x" }), "ImplicitDeny");
  assert.is(decide(fromTopic, "sqs:SendMessage", queue, {}), "ImplicitDeny");

  const exact = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "sqs:SendMessage", Resource: queue, Condition: { ArnEquals: { "aws:SourceArn": topic } } } };
  assert.is(decide(exact, "sqs:SendMessage", queue, { "aws:SourceArn": topic }), "Allow");
  assert.is(decide(exact, "sqs:SendMessage", queue, { "aws:SourceArn": `${topic}-2` }), "ImplicitDeny");

  // StringLike lets * cross colons where ArnLike does not (the guide's example).
  const value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
  const pattern = "arn:aws:someservice:*:111122223333:finance/*";
  const withOperator = (op: string) => ({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { [op]: { "aws:SourceArn": pattern } } } });
  assert.is(decide(withOperator("StringLike"), "x:Y", "*", { "aws:SourceArn": value }), "Allow");
  assert.is(decide(withOperator("ArnLike"), "x:Y", "*", { "aws:SourceArn": value }), "ImplicitDeny");
  // A negated operator on a missing key is true.
  assert.is(decide(withOperator("ArnNotLike"), "x:Y", "*", {}), "Allow");
  assert.is(decide(withOperator("ArnNotEquals"), "x:Y", "*", { "aws:SourceArn": "arn:aws:someservice:eu-west-1:111122223333:finance/a" }), "ImplicitDeny");
});

test("several keys are ANDed, several values ORed, negated operators NORed; key names are case-insensitive", () => {
  const policy = {
    Version: "2012-10-17",
    Statement: {
      Effect: "Allow",
      Action: "dynamodb:*",
      Resource: "*",
      Condition: {
        StringEquals: { "aws:RequestedRegion": ["eu-west-1", "eu-central-1"], "aws:PrincipalAccount": "123456789012" },
        StringNotEquals: { "dynamodb:ReturnValues": ["ALL_OLD", "ALL_NEW"] },
      },
    },
  };
  const base = { "aws:RequestedRegion": "eu-central-1", "aws:PrincipalAccount": "123456789012" };
  assert.is(decide(policy, "dynamodb:PutItem", TABLE, { ...base, "dynamodb:ReturnValues": "NONE" }), "Allow");
  assert.is(decide(policy, "dynamodb:PutItem", TABLE, { ...base, "dynamodb:ReturnValues": "ALL_NEW" }), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:PutItem", TABLE, { ...base, "dynamodb:ReturnValues": "ALL_OLD" }), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:PutItem", TABLE, { ...base, "aws:RequestedRegion": "us-east-1" }), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:PutItem", TABLE, { ...base, "aws:PrincipalAccount": "999999999999" }), "ImplicitDeny");
  assert.is(decide(policy, "dynamodb:PutItem", TABLE, { "AWS:REQUESTEDREGION": "eu-west-1", "aws:principalaccount": "123456789012" }), "Allow");
  const ignoreCase = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { StringEqualsIgnoreCase: { "aws:PrincipalTag/team": "Billing" } } } };
  assert.is(decide(ignoreCase, "x:Y", "*", { "aws:PrincipalTag/team": "BILLING" }), "Allow");
  const notLikeIgnoreCase = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { StringNotEqualsIgnoreCase: { "aws:PrincipalTag/team": "Billing" } } } };
  assert.is(decide(notLikeIgnoreCase, "x:Y", "*", { "aws:PrincipalTag/team": "BILLING" }), "ImplicitDeny");
});

test("Numeric, Date and IpAddress operators", () => {
  const maxKeys = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::example_bucket", Condition: { NumericLessThanEquals: { "s3:max-keys": "10" } } } };
  assert.is(decide(maxKeys, "s3:ListBucket", "arn:aws:s3:::example_bucket", { "s3:max-keys": "10" }), "Allow");
  assert.is(decide(maxKeys, "s3:ListBucket", "arn:aws:s3:::example_bucket", { "s3:max-keys": "11" }), "ImplicitDeny");
  assert.is(decide(maxKeys, "s3:ListBucket", "arn:aws:s3:::example_bucket", { "s3:max-keys": "ten" }), "ImplicitDeny");

  const until = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { DateLessThan: { "aws:CurrentTime": "2026-06-30T00:00:00Z" } } } };
  assert.is(decide(until, "x:Y", "*", { "aws:CurrentTime": "2026-01-01T12:00:00Z" }), "Allow");
  assert.is(decide(until, "x:Y", "*", { "aws:CurrentTime": "2026-07-01T00:00:00Z" }), "ImplicitDeny");
  assert.is(decide(until, "x:Y", "*", { "aws:CurrentTime": "1767268800" }), "Allow"); // epoch seconds, 2026-01-01T12:00Z

  const office = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { IpAddress: { "aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"] } } } };
  assert.is(decide(office, "x:Y", "*", { "aws:SourceIp": "203.0.113.7" }), "Allow");
  assert.is(decide(office, "x:Y", "*", { "aws:SourceIp": "203.0.114.7" }), "ImplicitDeny");
  assert.is(decide(office, "x:Y", "*", { "aws:SourceIp": "2001:db8:1234:5678::1" }), "Allow");
  const notOffice = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { NotIpAddress: { "aws:SourceIp": "127.0.0.1" } } } };
  assert.is(decide(notOffice, "x:Y", "*", { "aws:SourceIp": "127.0.0.1" }), "ImplicitDeny");
  assert.is(decide(notOffice, "x:Y", "*", { "aws:SourceIp": "127.0.0.2" }), "Allow");
});

// --- Fail closed -------------------------------------------------------------------------------------------------

test("policy variables are not substituted: an Allow never applies, a Deny always does (2012-10-17 only)", () => {
  const userTable = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:*", Resource: "arn:aws:dynamodb:us-east-2:123456789012:table/${aws:username}" } };
  assert.is(decide(userTable, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-2:123456789012:table/${aws:username}"), "ImplicitDeny");
  const userKeys = { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:GetItem", Resource: TABLE, Condition: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": ["${www.amazon.com:user_id}"] } } } };
  const result = evaluate(userKeys, { action: "dynamodb:GetItem", resource: TABLE, context: { "dynamodb:LeadingKeys": ["${www.amazon.com:user_id}"] } });
  assert.is(result.decision, "ImplicitDeny");
  assert.ok(result.notes.some((note) => note.includes("policy variables")), result.notes.join("\n"));
  const denyOthers = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "*", Resource: "*" },
      { Effect: "Deny", Action: "*", Resource: "*", Condition: { StringNotEquals: { "aws:PrincipalTag/owner": "${aws:username}" } } },
    ],
  };
  assert.is(decide(denyOthers, "x:Y", "*", { "aws:PrincipalTag/owner": "bob" }), "ExplicitDeny");
  // Version 2008-10-17 has no variables: the text is literal.
  const literal = { Version: "2008-10-17", Statement: { Effect: "Allow", Action: "*", Resource: "*", Condition: { StringEquals: { "aws:PrincipalTag/owner": "${aws:username}" } } } };
  assert.is(decide(literal, "x:Y", "*", { "aws:PrincipalTag/owner": "${aws:username}" }), "Allow");
});

test("unresolved context keys fail closed", () => {
  assert.is(decide(BILLING_ITEMS, "dynamodb:GetItem", TABLE, {}, ["dynamodb:LeadingKeys"]), "ImplicitDeny");
  const denyOrders = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "dynamodb:*", Resource: "*" },
      { Effect: "Deny", Action: "dynamodb:*", Resource: "*", Condition: { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": "$orders#*" } } },
    ],
  };
  assert.is(decide(denyOrders, "dynamodb:GetItem", TABLE, { "dynamodb:LeadingKeys": ["$billing#1"] }), "Allow");
  assert.is(decide(denyOrders, "dynamodb:GetItem", TABLE, {}, ["DynamoDB:LeadingKeys"]), "ExplicitDeny");
  // A statement without a condition on the unresolved key is unaffected.
  assert.is(decide({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "dynamodb:*", Resource: "*" } }, "dynamodb:GetItem", TABLE, {}, ["dynamodb:LeadingKeys"]), "Allow");
});

// --- Validation --------------------------------------------------------------------------------------------------

test("documents IAM would refuse are rejected with PolicyValidationError", () => {
  const statement = { Effect: "Allow", Action: "s3:GetObject", Resource: "*" };
  const invalid: Array<[string, unknown]> = [
    ["not JSON", "{"],
    ["no Statement", { Version: "2012-10-17" }],
    ["bad Version", { Version: "2020-01-01", Statement: statement }],
    ["bad Effect", { Version: "2012-10-17", Statement: { ...statement, Effect: "allow" } }],
    ["Action and NotAction", { Version: "2012-10-17", Statement: { ...statement, NotAction: "s3:PutObject" } }],
    ["no Resource", { Version: "2012-10-17", Statement: { Effect: "Allow", Action: "s3:GetObject" } }],
    ["Principal", { Version: "2012-10-17", Statement: { ...statement, Principal: { AWS: "*" } } }],
    ["unknown element", { Version: "2012-10-17", Statement: { ...statement, Conditions: {} } }],
    ["action without service", { Version: "2012-10-17", Statement: { ...statement, Action: "GetObject" } }],
    ["unknown operator", { Version: "2012-10-17", Statement: { ...statement, Condition: { StringEqual: { "aws:Foo": "x" } } } }],
    ["non-numeric numeric value", { Version: "2012-10-17", Statement: { ...statement, Condition: { NumericEquals: { "s3:max-keys": "ten" } } } }],
    ["bad CIDR", { Version: "2012-10-17", Statement: { ...statement, Condition: { IpAddress: { "aws:SourceIp": "300.1.1.1/8" } } } }],
    ["Null with IfExists", { Version: "2012-10-17", Statement: { ...statement, Condition: { NullIfExists: { "aws:Foo": "true" } } } }],
    ["object value", { Version: "2012-10-17", Statement: { ...statement, Condition: { StringEquals: { "aws:Foo": { a: 1 } } } } }],
  ];
  for (const [label, document] of invalid) {
    assert.throws(() => IamPolicy.parse(document), (error: unknown) => error instanceof PolicyValidationError, label);
  }
  assert.throws(
    () => evaluate([{ Version: "2012-10-17" }], { action: "s3:GetObject", resource: "*" }),
    (error: unknown) => error instanceof PolicyValidationError,
  );
});

test.run();
