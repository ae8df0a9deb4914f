import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  checkFilterPolicyScope,
  compileFilterPolicy,
  FilterPolicyError,
  matchesFilterPolicy,
  parseIpAddress,
} from "../sns/filter-policy";
import { caseMessage, filterCases, invalidPolicyCases, validAtLimitPolicies } from "./filter-policy-cases";

test("the conformance table is large and covers both scopes and every operator", () => {
  assert.ok(filterCases.length >= 80, `${filterCases.length} cases`);
  const ids = new Set(filterCases.map((c) => c.id));
  assert.is(ids.size, filterCases.length, "case ids are unique");
  const text = JSON.stringify(filterCases.map((c) => c.policy));
  for (const operator of ["anything-but", "prefix", "suffix", "equals-ignore-case", "wildcard", "numeric", "exists", "cidr", "$or"]) {
    assert.ok(text.includes(`"${operator}"`), `an operator is untested: ${operator}`);
  }
  assert.ok(filterCases.some((c) => c.scope === "MessageBody" && c.expect));
  assert.ok(filterCases.some((c) => c.scope === "MessageBody" && !c.expect));
  assert.ok(filterCases.some((c) => c.scope === undefined && c.expect));
  assert.ok(filterCases.some((c) => c.scope === undefined && !c.expect));
});

for (const c of filterCases) {
  test(`matches like AWS: ${c.id} (${c.doc})`, () => {
    const policy = compileFilterPolicy(c.policy, c.scope);
    const evaluation = policy.evaluate(caseMessage(c));
    assert.is(evaluation.matched, c.expect, `${c.id}: expected ${c.expect ? "delivery" : "filtered out"}`);
    if (!c.expect) assert.type(evaluation.reason, "string", "a filtered-out message comes with a reason");
  });
}

for (const c of invalidPolicyCases) {
  test(`rejects like AWS: ${c.id}`, () => {
    try {
      compileFilterPolicy(c.policy as Record<string, unknown>, c.scope);
    } catch (error) {
      assert.instance(error, FilterPolicyError);
      assert.is((error as Error).message, c.error);
      return;
    }
    assert.unreachable(`policy ${c.id} was accepted`);
  });
}

test("policies at the limits are accepted, with AWS's combination count", () => {
  for (const c of validAtLimitPolicies) {
    const policy = compileFilterPolicy(c.policy, c.scope);
    assert.is(policy.combinations, c.combinations, c.id);
  }
});

test("a policy is given as JSON text or as an object; broken JSON and oversize policies are rejected", () => {
  const message = { Message: "m", MessageAttributes: { a: { DataType: "String", StringValue: "x" } } };
  assert.ok(matchesFilterPolicy('{"a":["x"]}', message));
  assert.ok(matchesFilterPolicy({ a: ["x"] }, message));
  assert.throws(() => compileFilterPolicy("{not json"), /FilterPolicy: Filter policy is not valid JSON/);
  const huge = JSON.stringify({ a: ["x".repeat(300 * 1024)] });
  assert.throws(() => compileFilterPolicy(huge), /FilterPolicy: Filter policy is too large/);
});

test("the filter policy scope accepts only AWS's two values", () => {
  assert.is(checkFilterPolicyScope("MessageBody"), "MessageBody");
  assert.throws(
    () => checkFilterPolicyScope("RandomValue"),
    (e: Error) => e.message === "FilterPolicyScope: Invalid value [RandomValue]. Please use either MessageBody or MessageAttributes",
  );
  assert.throws(() => compileFilterPolicy({ a: ["x"] }, "Body" as never), /FilterPolicyScope: Invalid value \[Body\]/);
});

test("$or expands into alternatives and nested $or multiplies them out", () => {
  const policy = compileFilterPolicy({
    source: ["aws.cloudwatch"],
    $or: [{ metricName: ["CPUUtilization"] }, { metricType: ["MetricType"], $or: [{ metricId: [1] }, { spaceId: [2] }] }],
  });
  assert.equal(
    policy.alternatives.map((alternative) => alternative.map((condition) => condition.path)),
    [
      ["source", "metricName"],
      ["source", "metricType", "metricId"],
      ["source", "metricType", "spaceId"],
    ],
  );
});

test("a filtered-out message says which property failed", () => {
  const policy = compileFilterPolicy({ store: ["example_corp"], price_usd: [{ numeric: [">=", 100] }] });
  const result = policy.evaluate({
    Message: "m",
    MessageAttributes: { store: { DataType: "String", StringValue: "example_corp" }, price_usd: { DataType: "Number", StringValue: "5" } },
  });
  assert.is(result.matched, false);
  assert.match(result.reason ?? "", /message attribute "price_usd" does not match \[\{"numeric":\[">=",100\]\}\]/);
  const body = compileFilterPolicy({ a: ["x"] }, "MessageBody").evaluate({ Message: "plain text" });
  assert.match(body.reason ?? "", /not JSON/);
});

test("cidr takes the address as written as the bottom of its range (AWS's matcher does not clear host bits)", () => {
  const policy = compileFilterPolicy({ ip: [{ cidr: "10.0.0.5/24" }] });
  const at = (ip: string) => policy.matches({ Message: "m", MessageAttributes: { ip: { DataType: "String", StringValue: ip } } });
  assert.is(at("10.0.0.5"), true);
  assert.is(at("10.0.0.255"), true);
  assert.is(at("10.0.0.4"), false);
});

test("IP literals parse in their usual notations", () => {
  assert.equal([...parseIpAddress("192.168.0.1")!], [192, 168, 0, 1]);
  assert.is(parseIpAddress("256.1.1.1"), undefined);
  assert.equal(parseIpAddress("::1")!.length, 16);
  assert.equal(parseIpAddress("::1")![15], 1);
  assert.equal([...parseIpAddress("::ffff:10.1.2.3")!], [10, 1, 2, 3], "IPv4-mapped IPv6 reads as IPv4");
  assert.equal(parseIpAddress("2001:db8::8a2e:370:7334")![0], 0x20);
  assert.is(parseIpAddress("2001:db8::1::2"), undefined);
  assert.is(parseIpAddress("1:2:3:4:5:6:7"), undefined);
  assert.is(parseIpAddress("hello"), undefined);
});

test("anything-but matches every present value that is not excluded, of any type", () => {
  const policy = compileFilterPolicy({ v: [{ "anything-but": ["a"] }] }, "MessageBody");
  const at = (body: unknown) => policy.matches({ Message: JSON.stringify(body) });
  assert.is(at({ v: 5 }), true);
  assert.is(at({ v: true }), true);
  assert.is(at({ v: null }), true);
  assert.is(at({ v: "a" }), false);
  assert.is(at({ w: "b" }), false);
  assert.is(at({ v: [] }), false, "an empty array holds no value");
});

test.run();
