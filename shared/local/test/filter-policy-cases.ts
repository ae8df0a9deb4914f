/**
 * The conformance table for SNS filter policies: policies and messages with the result AWS gives, written from the
 * examples of the Amazon SNS developer guide (sections named in `doc`) and from AWS-recorded behaviour (LocalStack's
 * snapshot tests recorded against AWS, marked `aws-recorded`). Shared by filter-policy.test.ts (our matcher) and
 * filter-policy-moto.test.ts (moto as a second oracle).
 */
import type { FilterableAttribute, FilterableMessage, FilterPolicyScope } from "../sns/filter-policy";

export interface FilterCase {
  id: string;
  /** Where the example comes from. */
  doc: string;
  policy: Record<string, unknown>;
  scope?: FilterPolicyScope;
  /** name -> [DataType, value]; Binary values are base64. */
  attributes?: Record<string, [string, string]>;
  /** A JSON value sent as the message body (MessageBody scope). */
  body?: unknown;
  /** A body sent verbatim (not JSON-encoded). */
  rawBody?: string;
  expect: boolean;
  /** Why moto cannot judge this case (it lacks the feature). */
  motoSkip?: string;
}

/** The SNS message of a case (attribute-scope cases get a body naming the case). */
export function caseMessage(c: FilterCase): FilterableMessage {
  const attributes: Record<string, FilterableAttribute> = {};
  for (const [name, [type, value]] of Object.entries(c.attributes ?? {})) {
    attributes[name] = type.startsWith("Binary")
      ? { DataType: type, BinaryValue: Buffer.from(value, "base64") }
      : { DataType: type, StringValue: value };
  }
  const message = c.rawBody ?? (c.body !== undefined ? JSON.stringify(c.body) : `message for ${c.id}`);
  return { Message: message, MessageAttributes: attributes };
}

const B: FilterPolicyScope = "MessageBody";
const arr = (...values: unknown[]) => JSON.stringify(values);

const exampleAttributes: Record<string, [string, string]> = {
  customer_interests: ["String.Array", arr("soccer", "rugby", "hockey")],
  store: ["String", "example_corp"],
  event: ["String", "order_placed"],
  price_usd: ["Number", "210.75"],
};
const exampleBody = {
  customer_interests: ["soccer", "rugby", "hockey"],
  store: "example_corp",
  event: "order_placed",
  price_usd: 210.75,
};
const acceptingPolicy = {
  store: ["example_corp"],
  event: [{ "anything-but": "order_cancelled" }],
  customer_interests: ["rugby", "football", "baseball"],
  price_usd: [{ numeric: [">=", 100] }],
};
const rejectingPolicy = {
  store: ["example_corp"],
  event: ["order_cancelled"],
  encrypted: [false],
  customer_interests: ["basketball", "baseball"],
};

const exact = { customer_interests: ["rugby", "tennis"] };
const anythingBut = { customer_interests: [{ "anything-but": ["rugby", "tennis"] }] };
const anythingButPrefix = { event: [{ "anything-but": { prefix: "order-" } }] };
const anythingButSuffix = { event: [{ "anything-but": { suffix: "-cancelled" } }] };
const ignoreCase = { customer_interests: [{ "equals-ignore-case": "tennis" }] };
const cidr4 = { source_ip: [{ cidr: "10.0.0.0/24" }] };
const cidr6 = { source_ip: [{ cidr: "2001:db8::/32" }] };
const prefix = { customer_interests: [{ prefix: "bas" }] };
const suffix = { customer_interests: [{ suffix: "ball" }] };
const numericEquals = { price_usd: [{ numeric: ["=", 301.5] }] };
const numericAnythingBut = { price: [{ "anything-but": [100, 500] }] };
const negative = { price_usd: [{ numeric: ["<", 0] }] };
const range = { price_usd: [{ numeric: [">", 0, "<=", 150] }] };
const existsTrue = { store: [{ exists: true }] };
const existsFalse = { store: [{ exists: false }] };
const andPolicy = { customer_interests: ["rugby"], price_usd: [{ numeric: [">", 100] }] };
const orOperator = { source: ["aws.cloudwatch"], $or: [{ metricName: ["CPUUtilization"] }, { namespace: ["AWS/EC2"] }] };
const nestedOr = {
  source: ["aws.cloudwatch"],
  $or: [
    { metricName: ["CPUUtilization", "ReadLatency"] },
    { metricType: ["MetricType"], $or: [{ metricId: [1234, 4321] }, { spaceId: [1000, 2000, 3000] }] },
  ],
};
const bodyOr = {
  $or: [{ metricName: ["CPUUtilization", "ReadLatency"] }, { namespace: ["AWS/EC2", "AWS/ES"] }],
  detail: { scope: ["Service"], $or: [{ source: ["aws.cloudwatch"] }, { type: ["CloudWatch Alarm State Change"] }] },
};
const s3Policy = { Records: { s3: { object: { key: [{ prefix: "auto-" }] } }, eventName: [{ prefix: "ObjectCreated:" }] } };
const s3Event = (eventName: string, key: string) => ({
  Records: [{ eventSource: "aws:s3", eventName, s3: { bucket: { name: "insurance" }, object: { key, size: 17 } } }],
});
const payloadPolicy = {
  object: { key: [{ prefix: "auto-" }, "hardcodedvalue"], nested_key: [{ exists: false }] },
  test: [{ exists: false }],
};
const routeTo = { headers: { "route-to": ["queue1"] } };

const ab = "moto applies anything-but to the characters of a String.Array's JSON text, not to its elements";
const allElements = "moto requires every array element to pass anything-but; the guide says one element suffices";
const noWildcard = "moto lacks the wildcard operator";
const noEscape = "moto compares attribute values unescaped";
const motoOr = "moto miscounts the combinations of nested $or and rejects the policy as too complex";

export const filterCases: FilterCase[] = [
  // Example filter policies (attributes and body)
  { id: "example-accept-attrs", doc: "example filter policies", policy: acceptingPolicy, attributes: exampleAttributes, expect: true },
  { id: "example-reject-attrs", doc: "example filter policies", policy: rejectingPolicy, attributes: exampleAttributes, expect: false },
  { id: "example-accept-body", doc: "example filter policies", policy: acceptingPolicy, scope: B, body: exampleBody, expect: true },
  { id: "example-reject-body", doc: "example filter policies", policy: rejectingPolicy, scope: B, body: exampleBody, expect: false },

  // String value matching: exact
  { id: "exact-string", doc: "string matching: exact", policy: exact, attributes: { customer_interests: ["String", "rugby"] }, expect: true },
  { id: "exact-string-2", doc: "string matching: exact", policy: exact, attributes: { customer_interests: ["String", "tennis"] }, expect: true },
  { id: "exact-array", doc: "string matching: exact", policy: exact, attributes: { customer_interests: ["String.Array", arr("rugby", "tennis")] }, expect: true },
  { id: "exact-body", doc: "string matching: exact", policy: exact, scope: B, body: { customer_interests: "rugby" }, expect: true },
  { id: "exact-body-2", doc: "string matching: exact", policy: exact, scope: B, body: { customer_interests: "tennis" }, expect: true },
  { id: "exact-miss", doc: "string matching: exact", policy: exact, attributes: { customer_interests: ["String", "baseball"] }, expect: false },
  { id: "exact-array-miss", doc: "string matching: exact", policy: exact, attributes: { customer_interests: ["String.Array", arr("baseball")] }, expect: false },
  { id: "exact-body-miss", doc: "string matching: exact", policy: exact, scope: B, body: { customer_interests: "baseball" }, expect: false },
  { id: "exact-case-sensitive", doc: "constraints: string matching is case-sensitive", policy: exact, attributes: { customer_interests: ["String", "Rugby"] }, expect: false },

  // anything-but (strings)
  { id: "anything-but", doc: "string matching: anything-but", policy: anythingBut, attributes: { customer_interests: ["String", "baseball"] }, expect: true },
  { id: "anything-but-2", doc: "string matching: anything-but", policy: anythingBut, attributes: { customer_interests: ["String", "volleyball"] }, expect: true },
  { id: "anything-but-array", doc: "string matching: anything-but", policy: anythingBut, attributes: { customer_interests: ["String.Array", arr("rugby", "baseball")] }, expect: true, motoSkip: ab },
  { id: "anything-but-body", doc: "string matching: anything-but", policy: anythingBut, scope: B, body: { customer_interests: "baseball" }, expect: true },
  { id: "anything-but-body-array", doc: "string matching: anything-but", policy: anythingBut, scope: B, body: { customer_interests: ["rugby", "baseball"] }, expect: true, motoSkip: allElements },
  { id: "anything-but-miss", doc: "string matching: anything-but", policy: anythingBut, attributes: { customer_interests: ["String", "rugby"] }, expect: false },
  { id: "anything-but-array-miss", doc: "string matching: anything-but", policy: anythingBut, attributes: { customer_interests: ["String.Array", arr("rugby", "tennis")] }, expect: false, motoSkip: ab },
  { id: "anything-but-body-miss", doc: "string matching: anything-but", policy: anythingBut, scope: B, body: { customer_interests: "rugby" }, expect: false },
  { id: "anything-but-absent", doc: "aws-recorded: anything-but does not match a missing attribute", policy: { attr1: [null, { "anything-but": "whatever" }] }, attributes: {}, expect: false },
  { id: "anything-but-prefix", doc: "string matching: anything-but prefix", policy: anythingButPrefix, attributes: { event: ["String", "data-entry"] }, expect: true },
  { id: "anything-but-prefix-2", doc: "string matching: anything-but prefix", policy: anythingButPrefix, attributes: { event: ["String", "order_number"] }, expect: true },
  { id: "anything-but-prefix-miss", doc: "string matching: anything-but prefix", policy: anythingButPrefix, attributes: { event: ["String", "order-cancelled"] }, expect: false },
  { id: "anything-but-prefix-body", doc: "string matching: anything-but prefix", policy: anythingButPrefix, scope: B, body: { event: "data-entry" }, expect: true },
  { id: "anything-but-prefix-body-miss", doc: "string matching: anything-but prefix", policy: anythingButPrefix, scope: B, body: { event: "order-cancelled" }, expect: false },
  { id: "anything-but-suffix", doc: "string matching: anything-but suffix", policy: anythingButSuffix, attributes: { event: ["String", "order-placed"] }, expect: true, motoSkip: "moto accepts anything-but suffix but never matches it" },
  { id: "anything-but-suffix-miss", doc: "string matching: anything-but suffix", policy: anythingButSuffix, attributes: { event: ["String", "order-cancelled"] }, expect: false, motoSkip: "moto accepts anything-but suffix but never matches it" },

  // equals-ignore-case
  { id: "ignore-case", doc: "string matching: equals-ignore-case", policy: ignoreCase, attributes: { customer_interests: ["String", "TENNIS"] }, expect: true },
  { id: "ignore-case-2", doc: "string matching: equals-ignore-case", policy: ignoreCase, attributes: { customer_interests: ["String", "Tennis"] }, expect: true },
  { id: "ignore-case-body", doc: "string matching: equals-ignore-case", policy: ignoreCase, scope: B, body: { customer_interests: "tEnNiS" }, expect: true },
  { id: "ignore-case-array", doc: "string matching: equals-ignore-case", policy: ignoreCase, attributes: { customer_interests: ["String.Array", arr("RUGBY", "TENNIS")] }, expect: true },
  { id: "ignore-case-upper-rule", doc: "string matching: equals-ignore-case", policy: { customer_interests: [{ "equals-ignore-case": "TENNIS" }] }, attributes: { customer_interests: ["String", "tennis"] }, expect: true, motoSkip: "moto lowercases the value but not the rule" },
  { id: "ignore-case-miss", doc: "string matching: equals-ignore-case", policy: ignoreCase, attributes: { customer_interests: ["String", "rugby"] }, expect: false },

  // IP address matching
  { id: "cidr", doc: "string matching: IP address", policy: cidr4, attributes: { source_ip: ["String", "10.0.0.0"] }, expect: true, motoSkip: "moto lacks IP matching" },
  { id: "cidr-top", doc: "string matching: IP address", policy: cidr4, attributes: { source_ip: ["String", "10.0.0.255"] }, expect: true, motoSkip: "moto lacks IP matching" },
  { id: "cidr-miss", doc: "string matching: IP address", policy: cidr4, attributes: { source_ip: ["String", "10.1.1.0"] }, expect: false, motoSkip: "moto lacks IP matching" },
  { id: "cidr-body", doc: "string matching: IP address", policy: cidr4, scope: B, body: { source_ip: "10.0.0.7" }, expect: true, motoSkip: "moto lacks IP matching" },
  { id: "cidr-not-an-ip", doc: "string matching: IP address", policy: cidr4, attributes: { source_ip: ["String", "not-an-ip"] }, expect: false, motoSkip: "moto lacks IP matching" },
  { id: "cidr-v6", doc: "string matching: IP address (IPv6)", policy: cidr6, attributes: { source_ip: ["String", "2001:db8:85a3::8a2e:370:7334"] }, expect: true, motoSkip: "moto lacks IP matching" },
  { id: "cidr-v6-miss", doc: "string matching: IP address (IPv6)", policy: cidr6, attributes: { source_ip: ["String", "2001:db9::1"] }, expect: false, motoSkip: "moto lacks IP matching" },
  { id: "cidr-v6-v4-value", doc: "string matching: IP address (IPv6)", policy: cidr6, attributes: { source_ip: ["String", "10.0.0.1"] }, expect: false, motoSkip: "moto lacks IP matching" },
  { id: "cidr-32", doc: "string matching: IP address", policy: { source_ip: [{ cidr: "192.168.1.10/32" }] }, attributes: { source_ip: ["String", "192.168.1.10"] }, expect: true, motoSkip: "moto lacks IP matching" },
  { id: "ip-exact-normalised", doc: "event-ruler: a string rule that is an IP matches the address in any notation", policy: { source_ip: ["2001:db8::1"] }, attributes: { source_ip: ["String", "2001:0DB8:0000:0000:0000:0000:0000:0001"] }, expect: true, motoSkip: "moto lacks IP matching" },

  // prefix / suffix
  { id: "prefix", doc: "string matching: prefix", policy: prefix, attributes: { customer_interests: ["String", "baseball"] }, expect: true },
  { id: "prefix-2", doc: "string matching: prefix", policy: prefix, attributes: { customer_interests: ["String", "basketball"] }, expect: true },
  { id: "prefix-miss", doc: "string matching: prefix", policy: prefix, attributes: { customer_interests: ["String", "rugby"] }, expect: false },
  { id: "prefix-body-array", doc: "string matching: prefix", policy: prefix, scope: B, body: { customer_interests: ["rugby", "basketball"] }, expect: true, motoSkip: "moto fails with HTTP 500 on prefix against an array in the body" },
  { id: "prefix-string-array", doc: "string matching: prefix (String.Array element-wise)", policy: prefix, attributes: { customer_interests: ["String.Array", arr("rugby", "basketball")] }, expect: true, motoSkip: "moto applies prefix to String attributes only" },
  { id: "suffix", doc: "string matching: suffix", policy: suffix, attributes: { customer_interests: ["String", "baseball"] }, expect: true },
  { id: "suffix-2", doc: "string matching: suffix", policy: suffix, attributes: { customer_interests: ["String", "basketball"] }, expect: true },
  { id: "suffix-miss", doc: "string matching: suffix", policy: suffix, attributes: { customer_interests: ["String", "rugby"] }, expect: false },
  { id: "suffix-body", doc: "string matching: suffix", policy: suffix, scope: B, body: { customer_interests: "football" }, expect: true },

  // Numeric value matching
  { id: "numeric-equals", doc: "numeric matching: exact", policy: numericEquals, attributes: { price_usd: ["Number", "301.5"] }, expect: true },
  { id: "numeric-equals-exp", doc: "numeric matching: exact", policy: numericEquals, attributes: { price_usd: ["Number", "3.015e2"] }, expect: true },
  { id: "numeric-equals-body", doc: "numeric matching: exact", policy: numericEquals, scope: B, body: { price_usd: 301.5 }, expect: true },
  { id: "numeric-equals-body-exp", doc: "numeric matching: exact", policy: numericEquals, scope: B, rawBody: '{"price_usd": 3.015e2}', expect: true },
  { id: "numeric-equals-miss", doc: "numeric matching: exact (five digits after the point)", policy: numericEquals, attributes: { price_usd: ["Number", "301.50001"] }, expect: false },
  { id: "numeric-anything-but", doc: "numeric matching: anything-but", policy: numericAnythingBut, attributes: { price: ["Number", "101"] }, expect: true },
  { id: "numeric-anything-but-2", doc: "numeric matching: anything-but", policy: numericAnythingBut, attributes: { price: ["Number", "100.1"] }, expect: true },
  { id: "numeric-anything-but-array", doc: "numeric matching: anything-but", policy: numericAnythingBut, attributes: { price: ["String.Array", "[100, 50]"] }, expect: true, motoSkip: ab },
  { id: "numeric-anything-but-body", doc: "numeric matching: anything-but", policy: numericAnythingBut, scope: B, body: { price: 101 }, expect: true },
  { id: "numeric-anything-but-body-array", doc: "numeric matching: anything-but", policy: numericAnythingBut, scope: B, body: { price: [100, 50] }, expect: true, motoSkip: allElements },
  { id: "numeric-anything-but-miss", doc: "numeric matching: anything-but", policy: numericAnythingBut, attributes: { price: ["Number", "100"] }, expect: false },
  { id: "numeric-anything-but-body-miss", doc: "numeric matching: anything-but", policy: numericAnythingBut, scope: B, body: { price: 100 }, expect: false },
  { id: "numeric-negative", doc: "numeric matching: range", policy: negative, attributes: { price_usd: ["Number", "-1"] }, expect: true },
  { id: "numeric-negative-miss", doc: "numeric matching: range", policy: negative, attributes: { price_usd: ["Number", "0"] }, expect: false },
  { id: "range-top", doc: "numeric matching: range", policy: range, attributes: { price_usd: ["Number", "150"] }, expect: true },
  { id: "range-bottom-open", doc: "numeric matching: range", policy: range, attributes: { price_usd: ["Number", "0"] }, expect: false },
  { id: "range-inside", doc: "numeric matching: range", policy: range, attributes: { price_usd: ["Number", "0.5"] }, expect: true },
  { id: "range-above", doc: "numeric matching: range", policy: range, attributes: { price_usd: ["Number", "150.01"] }, expect: false },
  { id: "range-body", doc: "numeric matching: range", policy: range, scope: B, body: { price_usd: 75 }, expect: true },
  { id: "aws-numeric-range", doc: "aws-recorded: numeric range on a Number attribute", policy: { attr1: [{ numeric: [">", 0, "<=", 100] }] }, attributes: { attr1: ["Number", "99"] }, expect: true },
  { id: "aws-numeric-range-miss", doc: "aws-recorded: numeric range on a Number attribute", policy: { attr1: [{ numeric: [">", 0, "<=", 100] }] }, attributes: { attr1: ["Number", "111"] }, expect: false },
  { id: "numeric-on-string-attribute", doc: "typed values: a String attribute is never numeric", policy: { price_usd: [{ numeric: [">", 10] }] }, attributes: { price_usd: ["String", "100"] }, expect: false },
  { id: "number-rule-number-attribute", doc: "numeric matching: exact numbers compare numerically", policy: { price_usd: [100] }, attributes: { price_usd: ["Number", "100.0"] }, expect: true },
  { id: "number-rule-string-attribute", doc: "typed values: the number 100 does not match the string \"100\"", policy: { price_usd: [100] }, attributes: { price_usd: ["String", "100"] }, expect: false },
  { id: "string-rule-number-attribute", doc: "typed values: the string \"100\" does not match the number 100", policy: { price_usd: ["100"] }, attributes: { price_usd: ["Number", "100"] }, expect: false, motoSkip: "moto compares attribute values as text" },

  // Key matching
  { id: "exists", doc: "key matching: exists true", policy: existsTrue, attributes: { store: ["String", "fans"], customer_interests: ["String.Array", arr("baseball", "basketball")] }, expect: true },
  { id: "exists-body", doc: "key matching: exists true", policy: existsTrue, scope: B, body: { store: "fans", customer_interests: ["baseball", "basketball"] }, expect: true },
  { id: "exists-miss", doc: "key matching: exists true", policy: existsTrue, attributes: { customer_interests: ["String.Array", arr("baseball", "basketball")] }, expect: false },
  { id: "exists-body-miss", doc: "key matching: exists true", policy: existsTrue, scope: B, body: { customer_interests: ["baseball", "basketball"] }, expect: false },
  { id: "exists-number", doc: "aws-recorded: exists true on a Number attribute", policy: existsTrue, attributes: { store: ["Number", "99"], def: ["Number", "99"] }, expect: true },
  { id: "exists-binary", doc: "Binary attributes are not matchable", policy: existsTrue, attributes: { store: ["Binary", "AQID"] }, expect: false, motoSkip: "moto sees Binary attributes" },
  { id: "not-exists", doc: "key matching: exists false", policy: existsFalse, attributes: { store: ["String", "fans"] }, expect: false },
  { id: "not-exists-body", doc: "key matching: exists false", policy: existsFalse, scope: B, body: { store: "fans", customer_interests: ["baseball"] }, expect: false },
  { id: "not-exists-match", doc: "key matching: exists false", policy: existsFalse, attributes: { customer_interests: ["String.Array", arr("baseball", "basketball")] }, expect: true },
  { id: "not-exists-body-match", doc: "key matching: exists false", policy: existsFalse, scope: B, body: { customer_interests: ["baseball", "basketball"] }, expect: true },
  { id: "aws-not-exists", doc: "aws-recorded: exists false", policy: existsFalse, attributes: { def: ["Number", "99"] }, expect: true },

  // AND / OR logic
  { id: "and", doc: "AND logic", policy: andPolicy, attributes: { customer_interests: ["String", "rugby"], price_usd: ["Number", "150"] }, expect: true },
  { id: "and-miss-number", doc: "AND logic", policy: andPolicy, attributes: { customer_interests: ["String", "rugby"], price_usd: ["Number", "50"] }, expect: false },
  { id: "and-miss-string", doc: "AND logic", policy: andPolicy, attributes: { customer_interests: ["String", "football"], price_usd: ["Number", "150"] }, expect: false },
  { id: "or-values", doc: "OR logic", policy: { customer_interests: ["rugby", "football", "baseball"] }, attributes: { customer_interests: ["String", "football"] }, expect: true },
  { id: "or-operator", doc: "OR operator", policy: orOperator, attributes: { source: ["String", "aws.cloudwatch"], metricName: ["String", "CPUUtilization"] }, expect: true },
  { id: "or-operator-2", doc: "OR operator", policy: orOperator, attributes: { source: ["String", "aws.cloudwatch"], namespace: ["String", "AWS/EC2"] }, expect: true },
  { id: "or-operator-miss", doc: "OR operator", policy: orOperator, attributes: { source: ["String", "aws.cloudwatch"], metricName: ["String", "ReadLatency"] }, expect: false },
  { id: "or-operator-and-miss", doc: "OR operator", policy: orOperator, attributes: { metricName: ["String", "CPUUtilization"] }, expect: false },
  { id: "or-nested", doc: "OR operator: nested", policy: nestedOr, attributes: { source: ["String", "aws.cloudwatch"], metricType: ["String", "MetricType"], metricId: ["Number", "1234"] }, expect: true, motoSkip: motoOr },
  { id: "or-nested-2", doc: "OR operator: nested", policy: nestedOr, attributes: { source: ["String", "aws.cloudwatch"], metricType: ["String", "MetricType"], spaceId: ["Number", "2000"] }, expect: true, motoSkip: motoOr },
  { id: "or-nested-miss", doc: "OR operator: nested", policy: nestedOr, attributes: { source: ["String", "aws.cloudwatch"], metricType: ["String", "MetricType"] }, expect: false, motoSkip: motoOr },
  { id: "or-nested-miss-2", doc: "OR operator: nested", policy: nestedOr, attributes: { source: ["String", "aws.cloudwatch"], metricId: ["Number", "1234"] }, expect: false, motoSkip: motoOr },
  { id: "or-nested-first", doc: "OR operator: nested", policy: nestedOr, attributes: { source: ["String", "aws.cloudwatch"], metricName: ["String", "ReadLatency"] }, expect: true, motoSkip: motoOr },
  { id: "or-body-wrong-scope", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { metricName: "CPUUtilization", detail: { scope: "aws.cloudwatch", type: "CloudWatch Alarm State Change" } }, expect: false, motoSkip: motoOr },
  { id: "or-body-wrong-type", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { metricName: "CPUUtilization", detail: { scope: "Service", type: "CPUUtilization" } }, expect: false, motoSkip: motoOr },
  { id: "or-body-no-scope", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { metricName: "CPUUtilization", detail: { type: "CloudWatch Alarm State Change" } }, expect: false, motoSkip: motoOr },
  { id: "or-body-flat", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { metricName: "CPUUtilization", scope: "Service" }, expect: false, motoSkip: motoOr },
  { id: "or-body-source", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { metricName: "CPUUtilization", detail: { scope: "Service", source: "aws.cloudwatch" } }, expect: true, motoSkip: motoOr },
  { id: "or-body-namespace", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { namespace: "AWS/ES", detail: { scope: "Service", source: "aws.cloudwatch" } }, expect: true, motoSkip: motoOr },
  { id: "or-body-type", doc: "aws-recorded: $or in the body", policy: bodyOr, scope: B, body: { metricName: "ReadLatency", detail: { scope: "Service", type: "CloudWatch Alarm State Change" } }, expect: true, motoSkip: motoOr },
  { id: "or-body-value-under-wrong-key", doc: "$or in the body", policy: bodyOr, scope: B, body: { metricName: "AWS/EC2", detail: { scope: "Service", type: "CloudWatch Alarm State Change" } }, expect: false, motoSkip: motoOr },

  // Payload-based filtering: nesting and arrays
  { id: "s3-auto-created", doc: "payload filtering blog (aws-recorded)", policy: s3Policy, scope: B, body: s3Event("ObjectCreated:Put", "auto-insurance-2314.xml"), expect: true },
  { id: "s3-auto-removed", doc: "payload filtering blog (aws-recorded)", policy: s3Policy, scope: B, body: s3Event("ObjectRemoved:Delete", "auto-insurance-2314.xml"), expect: false },
  { id: "s3-home-created", doc: "payload filtering blog (aws-recorded)", policy: s3Policy, scope: B, body: s3Event("ObjectCreated:Put", "home-insurance-2314.xml"), expect: false },
  {
    id: "s3-multiple-records",
    doc: "payload filtering blog (aws-recorded): arrays of arrays",
    policy: s3Policy,
    scope: B,
    body: {
      Records: [
        { eventSource: "aws:s3", eventName: "ObjectCreated:Put", s3: { object: [[{ key: "auto-insurance-2314.xml", size: 17 }]] } },
        { eventSource: "aws:s3", eventName: "ObjectRemoved:Delete", s3: { object: { key: "home-insurance-2314.xml", size: 17 } } },
      ],
    },
    expect: true,
    motoSkip: "moto does not descend into arrays of arrays",
  },
  {
    id: "s3-values-in-different-records",
    doc: "arrays: properties matched inside an array must come from the same element",
    policy: s3Policy,
    scope: B,
    body: {
      Records: [
        { eventName: "ObjectCreated:Put", s3: { object: { key: "home-1.xml" } } },
        { eventName: "ObjectRemoved:Delete", s3: { object: { key: "auto-2.xml" } } },
      ],
    },
    expect: false,
  },
  { id: "dot-key-nested", doc: "aws-recorded: dotted policy key", policy: { "object.nested": ["string.value"] }, scope: B, body: { object: { nested: "string.value" } }, expect: true, motoSkip: "moto does not split dotted keys" },
  { id: "dot-key-flat", doc: "aws-recorded: dotted policy key", policy: { "object.nested": ["string.value"] }, scope: B, body: { "object.nested": "string.value" }, expect: true },
  { id: "dot-key-miss", doc: "aws-recorded: dotted policy key", policy: { "object.nested": ["string.value"] }, scope: B, body: { object: { nested: "test-auto" } }, expect: false },
  { id: "dot-key-deep-1", doc: "aws-recorded: dotted policy key", policy: { "object.nested.test": ["string.value"] }, scope: B, body: { object: { nested: { test: "string.value" } } }, expect: true, motoSkip: "moto does not split dotted keys" },
  { id: "dot-key-deep-2", doc: "aws-recorded: dotted policy key", policy: { "object.nested.test": ["string.value"] }, scope: B, body: { "object.nested": { test: "string.value" } }, expect: true, motoSkip: "moto does not split dotted keys" },
  { id: "dot-key-deep-3", doc: "aws-recorded: dotted policy key", policy: { "object.nested.test": ["string.value"] }, scope: B, body: { object: { "nested.test": "string.value" } }, expect: true, motoSkip: "moto does not split dotted keys" },
  { id: "payload-prefix", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { object: { key: "auto-test" } }, expect: true },
  { id: "payload-exact", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { object: { key: "hardcodedvalue" } }, expect: true },
  { id: "payload-miss", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { object: { key: "test-auto" } }, expect: false },
  { id: "payload-exists-top", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { object: { key: "auto-test" }, test: "just-exists" }, expect: false },
  { id: "payload-exists-nested", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { object: { key: "auto-test", nested_key: "just-exists" } }, expect: false },
  { id: "payload-wrong-key", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { object: { test: "auto-test" } }, expect: false },
  { id: "payload-top-only", doc: "aws-recorded: payload policy", policy: payloadPolicy, scope: B, body: { test: "auto-test" }, expect: false },
  { id: "payload-not-json", doc: "aws-recorded: a body that is not JSON matches nothing", policy: payloadPolicy, scope: B, rawBody: "Regular string message", expect: false },
  { id: "payload-json-string", doc: "aws-recorded: a JSON body that is not an object matches nothing", policy: payloadPolicy, scope: B, rawBody: JSON.stringify("Regular string message"), expect: false },
  { id: "route-other", doc: "aws-recorded: array property in the body", policy: routeTo, scope: B, body: { headers: { "route-to": ["queue3"] } }, expect: false },
  { id: "route-one", doc: "aws-recorded: array property in the body", policy: routeTo, scope: B, body: { headers: { "route-to": ["queue1"] } }, expect: true },
  { id: "route-both", doc: "aws-recorded: array property in the body", policy: routeTo, scope: B, body: { headers: { "route-to": ["queue1", "queue2"] } }, expect: true },
  { id: "route-wrong", doc: "aws-recorded: array property in the body", policy: routeTo, scope: B, body: { headers: { "route-to": ["queue2"] } }, expect: false },
  { id: "aws-string-array", doc: "aws-recorded: String and String.Array", policy: { store: ["value1"] }, attributes: { store: ["String", "value1"] }, expect: true },
  { id: "aws-string-array-2", doc: "aws-recorded: String and String.Array", policy: { store: ["value1"] }, attributes: { store: ["String.Array", arr("value1", "value2")] }, expect: true },
  { id: "aws-string-array-miss", doc: "aws-recorded: String and String.Array", policy: { store: ["value1"] }, attributes: { store: ["String.Array", arr("value2", "value3")] }, expect: false },

  // Literals
  { id: "literal-false", doc: "policy JSON may hold true, false and null", policy: { encrypted: [false] }, scope: B, body: { encrypted: false }, expect: true },
  { id: "literal-false-string", doc: "typed values: false does not match \"false\"", policy: { encrypted: [false] }, scope: B, body: { encrypted: "false" }, expect: false },
  { id: "literal-null", doc: "policy JSON may hold true, false and null", policy: { deleted: [null] }, scope: B, body: { deleted: null }, expect: true, motoSkip: "moto lacks null matching" },
  { id: "literal-null-absent", doc: "null does not match a missing property", policy: { deleted: [null] }, scope: B, body: {}, expect: false },
  { id: "empty-policy", doc: "an empty policy filters nothing", policy: {}, attributes: {}, expect: true },

  // Wildcard and anything-but wildcard (SNS since July 2025; results recorded against AWS's matcher through
  // EventBridge, which shares it, are marked aws-recorded)
  { id: "wildcard", doc: "string matching: wildcard", policy: { event: [{ wildcard: "*-error" }] }, attributes: { event: ["String", "db-error"] }, expect: true, motoSkip: noWildcard },
  { id: "wildcard-miss", doc: "string matching: wildcard", policy: { event: [{ wildcard: "*-error" }] }, attributes: { event: ["String", "db-warning"] }, expect: false, motoSkip: noWildcard },
  { id: "wildcard-path", doc: "aws-recorded: wildcard, repeated segments", policy: { file: [{ wildcard: "/Users/*/doc.txt" }] }, scope: B, body: { file: "/Users/ls_user/dir/dir/dir/doc.txt" }, expect: true, motoSkip: noWildcard },
  { id: "wildcard-path-miss", doc: "aws-recorded: wildcard, repeated segments", policy: { file: [{ wildcard: "/Users/*/doc.txt" }] }, scope: B, body: { file: "/Users/ls_user/dir/notmatchingdoc.txt" }, expect: false, motoSkip: noWildcard },
  { id: "wildcard-two", doc: "aws-recorded: wildcard, two stars", policy: { arn: [{ wildcard: "arn:aws:events:us-east-1:*:event-bus/*" }] }, scope: B, body: { arn: "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus" }, expect: true, motoSkip: noWildcard },
  { id: "wildcard-empty-pattern", doc: "aws-recorded: an empty wildcard matches only the empty string", policy: { arn: [{ wildcard: "" }] }, scope: B, body: { arn: "arn:aws:events:us-east-1:1:event-bus/b" }, expect: false, motoSkip: noWildcard },
  { id: "wildcard-star-matches-nothing", doc: "string matching: wildcard (a star may stand for no characters)", policy: { v: [{ wildcard: "a*b" }] }, attributes: { v: ["String", "ab"] }, expect: true, motoSkip: noWildcard },
  { id: "wildcard-escaped-star", doc: "string matching: wildcard, \\* is a literal star", policy: { v: [{ wildcard: "a\\*b" }] }, attributes: { v: ["String", "a*b"] }, expect: true, motoSkip: noWildcard },
  { id: "wildcard-escaped-star-miss", doc: "string matching: wildcard, \\* is a literal star", policy: { v: [{ wildcard: "a\\*b" }] }, attributes: { v: ["String", "axb"] }, expect: false, motoSkip: noWildcard },
  { id: "wildcard-number", doc: "typed values: wildcard matches strings only", policy: { v: [{ wildcard: "1*" }] }, scope: B, body: { v: 123 }, expect: false, motoSkip: noWildcard },
  { id: "wildcard-string-array", doc: "string matching: wildcard (String.Array element-wise)", policy: { v: [{ wildcard: "*ball" }] }, attributes: { v: ["String.Array", arr("rugby", "football")] }, expect: true, motoSkip: noWildcard },
  { id: "anything-but-wildcard", doc: "aws-recorded: anything-but wildcard", policy: { file: [{ "anything-but": { wildcard: "*/dir/*" } }] }, scope: B, body: { file: "dir/init/file" }, expect: true, motoSkip: noWildcard },
  { id: "anything-but-wildcard-miss", doc: "aws-recorded: anything-but wildcard", policy: { file: [{ "anything-but": { wildcard: "*/init/*" } }] }, scope: B, body: { file: "dir/init/file" }, expect: false, motoSkip: noWildcard },
  { id: "anything-but-wildcard-list", doc: "aws-recorded: anything-but wildcard list", policy: { state: [{ "anything-but": { wildcard: ["*/init/*", "*/dir/*"] } }] }, scope: B, body: { state: "dir/post/dir" }, expect: true, motoSkip: noWildcard },
  { id: "anything-but-wildcard-list-miss", doc: "aws-recorded: anything-but wildcard list", policy: { state: [{ "anything-but": { wildcard: ["*/init/*", "*/dir/*"] } }] }, scope: B, body: { state: "dir/init/dir" }, expect: false, motoSkip: noWildcard },
  { id: "anything-but-wildcard-absent", doc: "aws-recorded: anything-but wildcard needs the property", policy: { state: [{ "anything-but": { wildcard: "*/init/*" } }] }, scope: B, body: {}, expect: false, motoSkip: noWildcard },
  { id: "anything-but-wildcard-null", doc: "aws-recorded: anything-but wildcard on null", policy: { state: [{ "anything-but": { wildcard: "*/dir/*" } }] }, scope: B, body: { state: null }, expect: true, motoSkip: noWildcard },
  { id: "anything-but-wildcard-number", doc: "aws-recorded: anything-but wildcard on a number", policy: { state: [{ "anything-but": { wildcard: "*/dir/*" } }] }, scope: B, body: { state: 123 }, expect: true, motoSkip: noWildcard },
  { id: "anything-but-wildcard-empty", doc: "aws-recorded: anything-but an empty wildcard", policy: { state: [{ "anything-but": { wildcard: "" } }] }, scope: B, body: { state: "dir/init/file" }, expect: true, motoSkip: noWildcard },
  { id: "anything-but-wildcard-attribute", doc: "string matching: anything-but wildcard", policy: { env: [{ "anything-but": { wildcard: "test-*" } }] }, attributes: { env: ["String", "test-7"] }, expect: false, motoSkip: noWildcard },

  // exists on null and empty values, and on a message without attributes (key matching page)
  { id: "exists-null", doc: "key matching: exists true needs a non-null value", policy: existsTrue, scope: B, body: { store: null }, expect: false, motoSkip: "moto counts a null value as present" },
  { id: "exists-empty-string", doc: "key matching: exists true needs a non-empty value", policy: existsTrue, scope: B, body: { store: "" }, expect: false, motoSkip: "moto counts an empty value as present" },
  { id: "exists-empty-array", doc: "key matching: exists true needs a non-empty value", policy: existsTrue, scope: B, body: { store: [] }, expect: false, motoSkip: "moto counts an empty value as present" },
  { id: "exists-in-array", doc: "key matching: exists true, one non-empty element", policy: existsTrue, scope: B, body: { store: ["", "fans"] }, expect: true },
  { id: "not-exists-no-attributes", doc: "key matching: exists false never matches a message without attributes", policy: existsFalse, attributes: {}, expect: false, motoSkip: "moto matches exists false on a message without attributes" },
  { id: "not-exists-binary-only", doc: "key matching: exists false with one (binary) attribute present", policy: existsFalse, attributes: { image: ["Binary", "AQID"] }, expect: true },

  // Attribute filtering sees `"` and `\` escaped: a policy double-escapes them (constraints page)
  { id: "escape-quote", doc: "constraints: double-escape quotes in attribute filtering", policy: { v: ['say \\"hi\\"'] }, attributes: { v: ["String", 'say "hi"'] }, expect: true, motoSkip: noEscape },
  { id: "escape-quote-single", doc: "constraints: a quote that is not double-escaped does not match", policy: { v: ['say "hi"'] }, attributes: { v: ["String", 'say "hi"'] }, expect: false, motoSkip: noEscape },
  { id: "escape-backslash", doc: "constraints: double-escape backslashes in attribute filtering", policy: { v: ["C:\\\\temp"] }, attributes: { v: ["String", "C:\\temp"] }, expect: true, motoSkip: noEscape },
  { id: "escape-prefix", doc: "constraints: escaping applies to every operator", policy: { v: [{ prefix: '\\"quoted' }] }, attributes: { v: ["String", '"quoted" text'] }, expect: true, motoSkip: noEscape },
  { id: "escape-body-plain", doc: "constraints: payload filtering needs no double escape", policy: { v: ['say "hi"'] }, scope: B, body: { v: 'say "hi"' }, expect: true },
];

/** Policies AWS rejects, with the message it returns (after `Invalid parameter: `). */
export interface InvalidPolicyCase {
  id: string;
  policy: unknown;
  scope?: FilterPolicyScope;
  error: string;
}

const wildcardTooComplex =
  "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

const many = (n: number) => Array.from({ length: n }, (_, i) => `value${i}`);

export const invalidPolicyCases: InvalidPolicyCase[] = [
  { id: "nested-list", policy: { key: [["value"]] }, error: "FilterPolicy: Match value must be String, number, true, false, or null" },
  { id: "unknown-operator", policy: { key: [{ "wrong-operator": true }] }, error: "FilterPolicy: Unrecognized match type wrong-operator" },
  { id: "wildcard-number", policy: { key: [{ wildcard: 123 }] }, error: "FilterPolicy: wildcard match pattern must be a string" },
  { id: "wildcard-list", policy: { key: [{ wildcard: ["a*"] }] }, error: "FilterPolicy: wildcard match pattern must be a string" },
  { id: "anything-but-wildcard-number", policy: { key: [{ "anything-but": { wildcard: 123 } }] }, error: "FilterPolicy: wildcard match pattern must be a string" },
  { id: "anything-but-wildcard-list-number", policy: { key: [{ "anything-but": { wildcard: [123, "*/dir/*"] } }] }, error: "FilterPolicy: wildcard match pattern must be a string" },
  { id: "wildcard-consecutive", policy: { key: [{ wildcard: "arn:aws:events:us-east-1:**:event-bus/*" }] }, error: "FilterPolicy: Consecutive wildcard characters at pos 26" },
  { id: "wildcard-bad-escape", policy: { key: [{ wildcard: "a\\b*" }] }, error: "FilterPolicy: Invalid escape character at pos 2" },
  { id: "wildcard-four-stars", policy: { key: [{ wildcard: "*a*b*c*" }] }, error: `FilterPolicy: ${wildcardTooComplex}` },
  { id: "wildcard-complexity-108", policy: { key: [{ wildcard: "*a*b*" }, { wildcard: "*c*d*" }, { wildcard: "*e*f*" }, { wildcard: "*g*h*" }] }, error: `FilterPolicy: ${wildcardTooComplex}` },
  { id: "wildcard-complexity-across-keys", policy: { a: [{ wildcard: "*1*2*" }, { wildcard: "*3*4*" }, { wildcard: "*5*6*" }], b: [{ wildcard: "*x*" }, { wildcard: "*y*" }] }, error: `FilterPolicy: ${wildcardTooComplex}` },
  { id: "two-operators", policy: { key: [{ suffix: "value", prefix: "value2" }] }, error: "FilterPolicy: Only one key allowed in match expression" },
  { id: "suffix-number", policy: { key: [{ suffix: 100 }] }, error: "FilterPolicy: suffix match pattern must be a string" },
  { id: "suffix-null", policy: { key: [{ suffix: null }] }, error: "FilterPolicy: suffix match pattern must be a string" },
  { id: "suffix-empty-list", policy: { key: [{ suffix: [] }] }, error: "FilterPolicy: suffix match pattern must be a string" },
  { id: "suffix-list", policy: { key: [{ suffix: ["test", "test2"] }] }, error: "FilterPolicy: suffix match pattern must be a string" },
  { id: "prefix-number", policy: { key: [{ prefix: 1 }] }, error: "FilterPolicy: prefix match pattern must be a string" },
  { id: "ignore-case-number", policy: { key: [{ "equals-ignore-case": 1 }] }, error: "FilterPolicy: equals-ignore-case match pattern must be a string" },
  { id: "operator-not-in-list", policy: { key: { suffix: "value" } }, error: 'FilterPolicy: "suffix" must be an object or an array' },
  { id: "operators-not-in-list", policy: { key: { suffix: "value", prefix: "value" } }, error: 'FilterPolicy: "suffix" must be an object or an array' },
  { id: "no-operator-not-in-list", policy: { key: { "not-an-operator": "value" } }, error: 'FilterPolicy: "not-an-operator" must be an object or an array' },
  { id: "rule-not-a-list", policy: { key_a: "value_one" }, scope: "MessageBody", error: 'FilterPolicy: "key_a" must be an object or an array' },
  { id: "empty-list", policy: { key: [] }, error: "FilterPolicy: Empty arrays are not allowed" },
  { id: "numeric-empty", policy: { key: [{ numeric: [] }] }, error: "FilterPolicy: Invalid member in numeric match: ]" },
  { id: "numeric-bad-operator", policy: { key: [{ numeric: ["operator"] }] }, error: "FilterPolicy: Unrecognized numeric range operator: operator" },
  { id: "numeric-operand-first", policy: { key: [{ numeric: [1, "<="] }] }, error: "FilterPolicy: Invalid member in numeric match: 1" },
  { id: "numeric-string-value", policy: { key: [{ numeric: ["=", "000"] }] }, error: "FilterPolicy: Value of equals must be numeric" },
  { id: "numeric-missing-value", policy: { key: [{ numeric: [">="] }] }, error: "FilterPolicy: Value of >= must be numeric" },
  { id: "numeric-range-order", policy: { key: [{ numeric: ["<", 100, ">", 10] }] }, error: "FilterPolicy: Too many elements in numeric expression" },
  { id: "numeric-range-operators", policy: { key: [{ numeric: [">=", 1, ">", 2] }] }, error: "FilterPolicy: Bad numeric range operator: >" },
  { id: "numeric-range-values", policy: { key: [{ numeric: [">", 3, "<", 1] }] }, error: "FilterPolicy: Bottom must be less than top" },
  { id: "numeric-range-missing-top", policy: { key: [{ numeric: [">", 20, "<="] }] }, error: "FilterPolicy: Value of <= must be numeric" },
  { id: "numeric-range-missing-operator", policy: { key: [{ numeric: [">", 20, 30] }] }, error: "FilterPolicy: Bad value in numeric range: 30" },
  { id: "numeric-range-bad-operator", policy: { key: [{ numeric: [">", 20, "test"] }] }, error: "FilterPolicy: Bad numeric range operator: test" },
  { id: "numeric-range-string-bottom", policy: { key: [{ numeric: [">", "20", "<", "30"] }] }, error: "FilterPolicy: Value of > must be numeric" },
  { id: "numeric-range-string-top", policy: { key: [{ numeric: [">", 20, "<", "30"] }] }, error: "FilterPolicy: Value of < must be numeric" },
  { id: "numeric-too-many", policy: { key: [{ numeric: [">", 20, "<", 30, "<", 50] }] }, error: "FilterPolicy: Too many terms in numeric range expression" },
  { id: "numeric-not-a-list", policy: { key: [{ numeric: 5 }] }, error: "FilterPolicy: Value of numeric must be an array." },
  { id: "exists-null", policy: { key: [{ exists: null }] }, error: "FilterPolicy: exists match pattern must be either true or false." },
  { id: "exists-string", policy: { key: [{ exists: "no" }] }, error: "FilterPolicy: exists match pattern must be either true or false." },
  { id: "anything-but-unknown", policy: { key: [{ "anything-but": { "wrong-operator": null } }] }, error: "FilterPolicy: Unsupported anything-but pattern: wrong-operator" },
  { id: "anything-but-exists", policy: { key: [{ "anything-but": { exists: false } }] }, error: "FilterPolicy: Unsupported anything-but pattern: exists" },
  { id: "anything-but-prefix-type", policy: { key: [{ "anything-but": { prefix: false } }] }, error: "FilterPolicy: prefix match pattern must be a string" },
  { id: "anything-but-mixed", policy: { key: [{ "anything-but": ["a", 1] }] }, error: "FilterPolicy: Inside anything but list, either all values are number or string, mixed type is not supported" },
  { id: "anything-but-boolean", policy: { key: [{ "anything-but": [true] }] }, error: "FilterPolicy: Inside anything but list, start|null|boolean is not supported." },
  { id: "anything-but-null", policy: { key: [{ "anything-but": null }] }, error: "FilterPolicy: Value of anything-but must be an array or single string/number value." },
  { id: "cidr-no-slash", policy: { key: [{ cidr: "10.0.0.0" }] }, error: "FilterPolicy: Malformed CIDR, one '/' required" },
  { id: "cidr-bad-mask", policy: { key: [{ cidr: "10.0.0.0/x" }] }, error: "FilterPolicy: Malformed CIDR, mask bits must be an integer" },
  { id: "cidr-bad-ip", policy: { key: [{ cidr: "10.0.0.300/24" }] }, error: "FilterPolicy: Nonstandard IP address: 10.0.0.300" },
  { id: "cidr-mask-too-long", policy: { key: [{ cidr: "10.0.0.0/33" }] }, error: "FilterPolicy: IPv4 mask bits must be at most 32" },
  { id: "cidr-not-string", policy: { key: [{ cidr: 10 }] }, error: "FilterPolicy: cidr match pattern must be a string" },
  { id: "or-single", policy: { $or: [{ a: ["x"] }] }, error: "FilterPolicy: There must have at least 2 Objects in $or relationship." },
  { id: "or-not-list", policy: { $or: { a: ["x"] } }, error: "FilterPolicy: It must be an Array followed with $or." },
  { id: "or-not-objects", policy: { $or: ["a", "b"] }, error: "FilterPolicy: Only JSON object is allowed in array of $or relationship." },
  { id: "not-an-object", policy: ["a"], error: "FilterPolicy: Filter is not an object" },
  { id: "complex-one-key", policy: { key: many(151) }, error: "FilterPolicy: Filter policy is too complex" },
  { id: "complex-two-keys", policy: { key1: many(100), key2: many(51) }, error: "FilterPolicy: Filter policy is too complex" },
  { id: "six-keys", policy: { key1: ["v"], key2: ["v"], key3: ["v"], key4: ["v"], key5: ["v"], key6: ["v"] }, error: "FilterPolicy: Filter policy can not have more than 5 keys" },
  {
    id: "complex-or-152",
    policy: {
      source: ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
      $or: [
        { metricName: ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"] },
        { metricType: ["MetricType", "TestType", "TestType2", "TestType3"], $or: [{ metricId: [1234, 4321, 5678, 9012] }, { spaceId: [1, 2, 3, 4] }] },
      ],
    },
    error: "FilterPolicy: Filter policy is too complex",
  },
  {
    id: "complex-or-nested-160",
    scope: "MessageBody",
    policy: {
      $or: [{ metricName: ["CPUUtilization", "ReadLatency", "TestValue"] }, { namespace: ["AWS/EC2", "AWS/ES"] }],
      detail: { scope: ["Service", "Test"], $or: [{ source: ["aws.cloudwatch"] }, { type: ["CloudWatch Alarm State Change", "TestValue", "TestValue2"] }] },
    },
    error: "FilterPolicy: Filter policy is too complex",
  },
  {
    id: "complex-nested-216",
    scope: "MessageBody",
    policy: {
      key_a: { key_b: { key_c: ["value_one", "value_two", "value_three", "value_four"] } },
      key_d: { key_e: ["value_one", "value_two", "value_three"] },
      key_f: ["value_one", "value_two", "value_three"],
    },
    error: "FilterPolicy: Filter policy is too complex",
  },
  { id: "nested-in-attributes", policy: { object: { key: [{ prefix: "auto-" }] } }, error: "Filter policy scope MessageAttributes does not support nested filter policy" },
  { id: "empty-nested-object", scope: "MessageBody", policy: { object: {} }, error: "FilterPolicy: Empty objects are not allowed" },
];

/** Policies AWS accepts at the limits. */
export const validAtLimitPolicies: Array<{ id: string; policy: Record<string, unknown>; scope?: FilterPolicyScope; combinations: number }> = [
  {
    id: "or-150",
    policy: {
      source: ["aws.cloudwatch", "aws.events", "aws.test"],
      $or: [
        { metricName: ["CPUUtilization", "ReadLatency", "TestVal", "TestVal2", "TestVal3", "TestVal4"] },
        { metricType: ["MetricType", "TestType", "TestType2", "TestType3"], $or: [{ metricId: [1234, 4321, 5678, 9012] }, { spaceId: [1, 2, 3, 4, 5, 6, 7] }] },
      ],
    },
    combinations: 150,
  },
  {
    id: "nested-72",
    scope: "MessageBody",
    policy: { key_a: { key_b: { key_c: ["value_one", "value_two", "value_three", "value_four"] } }, key_d: { key_e: ["value_one", "value_two", "value_three"] } },
    combinations: 72,
  },
  { id: "five-keys", policy: { a: ["1"], b: ["2"], c: ["3"], d: ["4"], e: ["5"] }, combinations: 1 },
  { id: "one-key-150", policy: { key: many(150) }, combinations: 150 },
  { id: "wildcard-complexity-81", policy: { key: [{ wildcard: "*a*b*" }, { wildcard: "*c*d*" }, { wildcard: "*e*f*" }] }, combinations: 3 },
  { id: "anything-but-wildcard-three-stars", policy: { key: [{ "anything-but": { wildcard: ["*a*b*", "x*"] } }] }, combinations: 1 },
];
