// The Authorizer remembers, per principal, which statements apply to an action on a resource (and the whole result
// when none of them has conditions). Its answers must stay exactly evaluate()'s for the principal's current policies:
// conditions still read each request's context, a new registration forgets what the old policies decided, and a
// caller changing a result it was given does not change the next one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Authorizer } from "../iam/authorizer";
import { evaluate, IamPolicy, type ConditionContext } from "../iam/evaluate";

const ACCOUNT = "123456789012";
const DATA = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/local-data`;
const OUTBOX = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/local-outbox`;
const POLICY = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "OwnItems",
      Effect: "Allow",
      Action: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"],
      Resource: DATA,
      Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$billing#*"] }, Null: { "dynamodb:LeadingKeys": "false" } },
    },
    { Sid: "Outbox", Effect: "Allow", Action: ["dynamodb:PutItem", "dynamodb:Query"], Resource: [OUTBOX, `${OUTBOX}/index/*`] },
    { Sid: "NoDeletes", Effect: "Deny", Action: "dynamodb:DeleteItem", Resource: "*" },
    { Sid: "DaytimeScan", Effect: "Allow", Action: "dynamodb:Scan", Resource: DATA, Condition: { DateLessThan: { "aws:CurrentTime": "2026-06-01T00:00:00Z" } } },
    { Sid: "LaterDescribe", Effect: "Allow", Action: "dynamodb:DescribeTable", Resource: DATA, Condition: { DateGreaterThan: { "AWS:currentTIME": "2026-06-01T00:00:00Z" } } },
  ],
};

const requests: { action: string; resource: string; conditionKeys?: ConditionContext; unresolved?: string[] }[] = [
  { action: "dynamodb:PutItem", resource: DATA, conditionKeys: { "dynamodb:LeadingKeys": ["$billing#invoice_1"] } },
  { action: "dynamodb:PutItem", resource: DATA, conditionKeys: { "dynamodb:LeadingKeys": ["$orders#order_1"] } },
  { action: "dynamodb:PutItem", resource: DATA, conditionKeys: {} },
  { action: "dynamodb:PutItem", resource: DATA, unresolved: ["dynamodb:LeadingKeys"] },
  { action: "dynamodb:UpdateItem", resource: DATA, conditionKeys: { "dynamodb:LeadingKeys": ["$billing#lock_2"] } },
  { action: "dynamodb:PutItem", resource: OUTBOX, conditionKeys: { "dynamodb:LeadingKeys": ["anything"] } },
  { action: "dynamodb:Query", resource: `${OUTBOX}/index/byTopic` },
  { action: "dynamodb:DeleteItem", resource: OUTBOX },
  { action: "dynamodb:DeleteItem", resource: DATA, conditionKeys: { "dynamodb:LeadingKeys": ["$billing#x"] } },
  { action: "dynamodb:BatchGetItem", resource: DATA },
];

test("every answer is evaluate()'s, the first time and from memory, with each request's own condition keys", () => {
  let now = new Date("2026-05-01T12:00:00Z");
  const authorizer = new Authorizer({ accountId: ACCOUNT, now: () => now });
  authorizer.register("AKIABILLING", [JSON.stringify(POLICY)], { roleName: "billing-role" });
  const policy = IamPolicy.parse(POLICY, "billing-role");
  const expected = (r: (typeof requests)[number]) => {
    const context: ConditionContext = {
      "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/billing-role`,
      "aws:PrincipalAccount": ACCOUNT,
      "aws:PrincipalType": "AssumedRole",
      "aws:CurrentTime": now.toISOString(),
      "aws:EpochTime": String(Math.floor(now.getTime() / 1000)),
      "aws:RequestedRegion": "us-east-1",
      ...r.conditionKeys,
    };
    return evaluate([policy], { action: r.action, resource: r.resource, context, unresolvedKeys: r.unresolved ?? [] });
  };
  const ask = (r: (typeof requests)[number]) =>
    authorizer.evaluate({
      principal: "AKIABILLING",
      action: r.action,
      resource: r.resource,
      context: { region: "us-east-1", ...(r.conditionKeys ? { conditionKeys: r.conditionKeys } : {}), ...(r.unresolved ? { unresolvedConditionKeys: r.unresolved } : {}) },
    });
  for (let round = 0; round < 3; round++) {
    for (const r of requests) assert.equal(ask(r), expected(r), `${r.action} on ${r.resource} (round ${round})`);
  }
  // Decisions that read the clock follow it: a Scan allowed before June is not allowed after.
  // (condition keys are matched whatever their case).
  const scan = { action: "dynamodb:Scan", resource: DATA };
  const describe = { action: "dynamodb:DescribeTable", resource: DATA };
  assert.is(ask(scan)?.decision, "Allow");
  assert.is(ask(describe)?.decision, "ImplicitDeny");
  now = new Date("2026-07-01T00:00:00Z");
  assert.is(ask(scan)?.decision, "ImplicitDeny");
  assert.is(ask(describe)?.decision, "Allow");
  assert.equal(ask(scan), expected(scan));
  assert.equal(ask(describe), expected(describe));
});

test("a principal registered again is decided by its new policies; a result changed by its caller is not remembered so", () => {
  const authorizer = new Authorizer({ accountId: ACCOUNT });
  const allowOutbox = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "dynamodb:PutItem", Resource: OUTBOX }] };
  const onlyGet = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "dynamodb:GetItem", Resource: OUTBOX }] };
  const put = { principal: "AKIARELAY", action: "dynamodb:PutItem", resource: OUTBOX };
  authorizer.register("AKIARELAY", [allowOutbox]);
  assert.is(authorizer.authorize(put).allowed, true);
  const given = authorizer.evaluate(put)!;
  given.decision = "ExplicitDeny";
  given.notes.push("changed by the caller");
  given.matchedStatement!.statementIndex = 7;
  assert.equal(authorizer.evaluate(put), evaluate([IamPolicy.parse(allowOutbox, "AKIARELAY")], { action: put.action, resource: put.resource }), "what was remembered is unchanged");
  authorizer.register("AKIARELAY", [onlyGet]);
  assert.is(authorizer.authorize(put).allowed, false, "the new policies decide");
  authorizer.register("AKIARELAY", [allowOutbox]);
  assert.is(authorizer.authorize(put).allowed, true);
  authorizer.unregister("AKIARELAY");
  assert.is(authorizer.authorize(put).allowed, false, "unregistered: denied (unknown principals are denied by default)");
});

test.run();
