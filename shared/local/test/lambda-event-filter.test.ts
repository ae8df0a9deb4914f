// Lambda event filtering on DynamoDB stream records: the examples of the Lambda developer guide ("Lambda event
// filtering", "Using event filtering with a DynamoDB event source"), each operator it lists, its limits, and records
// produced by the local stream recorder.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilterCriteria, EventFilterError, StreamRecorder, type StreamRecord } from "../dynamodb-streams";
import { compileFilterPolicy } from "../sns/filter-policy";

/** The guide's sample record (table with key CustomerName, attributes AccountManager and PaymentTerms). */
const guideRecord = {
  eventID: "1",
  eventVersion: "1.0",
  dynamodb: {
    ApproximateCreationDateTime: "1678831218.0",
    Keys: { CustomerName: { S: "AnyCompany Industries" } },
    NewImage: {
      AccountManager: { S: "Pat Candella" },
      PaymentTerms: { S: "60 days" },
      CustomerName: { S: "AnyCompany Industries" },
    },
    SequenceNumber: "111",
    SizeBytes: 26,
    StreamViewType: "NEW_IMAGE",
  },
};

const one = (pattern: unknown) => compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify(pattern) }] });

test("the guide's examples: table keys, table attributes (OR of values), AND of attributes, multi-level Keys.Id.N", () => {
  assert.ok(one({ dynamodb: { Keys: { CustomerName: { S: ["AnyCompany Industries"] } } } }).matches(guideRecord));
  assert.not.ok(one({ dynamodb: { Keys: { CustomerName: { S: ["Other Company"] } } } }).matches(guideRecord));
  assert.ok(one({ dynamodb: { NewImage: { AccountManager: { S: ["Pat Candella", "Shirley Rodriguez"] } } } }).matches(guideRecord));
  assert.ok(one({ dynamodb: { NewImage: { AccountManager: { S: ["Pat Candella"] }, PaymentTerms: { S: ["60 days"] } } } }).matches(guideRecord));
  assert.not.ok(one({ dynamodb: { NewImage: { AccountManager: { S: ["Pat Candella"] }, PaymentTerms: { S: ["30 days"] } } } }).matches(guideRecord));
  const multiLevel = { dynamodb: { Keys: { Id: { N: "101" } }, NewImage: { Message: { S: "New item!" }, Id: { N: "101" } }, SequenceNumber: "111", SizeBytes: 26, StreamViewType: "NEW_AND_OLD_IMAGES" } };
  assert.ok(one({ dynamodb: { Keys: { Id: { N: ["101"] } } } }).matches(multiLevel));
  // DynamoDB numbers are strings in the record: a numeric rule does not see them as numbers.
  assert.not.ok(one({ dynamodb: { Keys: { Id: { N: [{ numeric: ["=", 101] }] } } } }).matches(multiLevel));
});

test("exists works on leaf values: on the attribute's type key, not on the attribute object", () => {
  assert.ok(one({ dynamodb: { NewImage: { AccountManager: { S: [{ exists: true }] } } } }).matches(guideRecord));
  assert.not.ok(one({ dynamodb: { NewImage: { AccountManager: [{ exists: true }] } } }).matches(guideRecord));
  assert.ok(one({ dynamodb: { NewImage: { Discount: { N: [{ exists: false }] } } } }).matches(guideRecord));
  assert.not.ok(one({ dynamodb: { NewImage: { AccountManager: { S: [{ exists: false }] } } } }).matches(guideRecord));
  // An INSERT has no old image.
  assert.ok(one({ dynamodb: { OldImage: { CustomerName: { S: [{ exists: false }] } } } }).matches(guideRecord));
});

test("every operator the guide lists: null, empty, equals, equals-ignore-case, anything-but, numeric, prefix, suffix, $or", () => {
  const record = { eventName: "MODIFY", dynamodb: { NewImage: { pk: { S: "$billing#42" }, note: { S: "" }, file: { S: "report.PDF" } }, SizeBytes: 120, Gone: null } };
  const cases: [unknown, boolean][] = [
    [{ dynamodb: { Gone: [null] } }, true],
    [{ dynamodb: { NewImage: { note: { S: [""] } } } }, true],
    [{ eventName: ["MODIFY"] }, true],
    [{ eventName: ["INSERT", "REMOVE"] }, false],
    [{ eventName: [{ "equals-ignore-case": "modify" }] }, true],
    [{ eventName: [{ "anything-but": ["REMOVE"] }] }, true],
    [{ eventName: [{ "anything-but": ["MODIFY", "REMOVE"] }] }, false],
    [{ dynamodb: { NewImage: { pk: { S: [{ "anything-but": { prefix: "$orders#" } }] } } } }, true],
    [{ dynamodb: { SizeBytes: [{ numeric: ["=", 120] }] } }, true],
    [{ dynamodb: { SizeBytes: [{ numeric: [">", 10, "<=", 100] }] } }, false],
    [{ dynamodb: { NewImage: { pk: { S: [{ prefix: "$billing#" }] } } } }, true],
    [{ dynamodb: { NewImage: { pk: { S: [{ prefix: "$orders#" }] } } } }, false],
    [{ dynamodb: { NewImage: { file: { S: [{ suffix: ".PDF" }] } } } }, true],
    [{ dynamodb: { NewImage: { file: { S: [{ suffix: ".pdf" }] } } } }, false],
    [{ $or: [{ eventName: ["INSERT"] }, { dynamodb: { NewImage: { pk: { S: [{ prefix: "$billing#" }] } } } }] }, true],
    [{ $or: [{ eventName: ["INSERT"] }, { eventName: ["REMOVE"] }] }, false],
  ];
  for (const [pattern, expected] of cases) assert.is(one(pattern).matches(record), expected, JSON.stringify(pattern));
});

test("filters are ORed; no filters pass everything; a mismatch says which filter failed and why", () => {
  const filter = compileFilterCriteria({
    Filters: [{ Pattern: JSON.stringify({ eventName: ["INSERT"] }) }, { Pattern: JSON.stringify({ dynamodb: { Keys: { CustomerName: { S: ["AnyCompany Industries"] } } } }) }],
  });
  assert.equal(filter.evaluate(guideRecord), { matched: true, filter: 1 });
  assert.ok(compileFilterCriteria(undefined).matches(guideRecord));
  assert.ok(compileFilterCriteria({ Filters: [] }).matches(guideRecord));
  const miss = compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify({ eventName: ["REMOVE"] }) }] }).evaluate(guideRecord);
  assert.is(miss.matched, false);
  assert.match(miss.reason!, /filter 0: .*eventName/);
});

test("Lambda's limits, not SNS's: 5 filters (10 by quota), 4,096 characters, no key or combination limit; unlisted operators refused", () => {
  const filters = (n: number) => ({ Filters: Array.from({ length: n }, () => ({ Pattern: '{"eventName":["INSERT"]}' })) });
  assert.throws(() => compileFilterCriteria(filters(6)), (e: Error) => e instanceof EventFilterError && /6 filters, more than the 5/.test(e.message));
  assert.ok(compileFilterCriteria(filters(10), { maxFilters: 10 }));
  const long = JSON.stringify({ eventName: ["x".repeat(4100)] });
  assert.throws(() => compileFilterCriteria({ Filters: [{ Pattern: long }] }), /Filters\[0\]\.Pattern: \d+ characters, more than 4096/);
  // Six top-level keys and hundreds of combinations: SNS refuses it, Lambda takes it.
  const wide = { a: ["1", "2", "3"], b: ["1", "2", "3"], c: ["1", "2", "3"], d: ["1", "2", "3"], e: ["1", "2", "3"], f: ["1", "2", "3"] };
  assert.throws(() => compileFilterPolicy(wide, "MessageBody"));
  assert.ok(one(wide).matches({ a: "1", b: "2", c: "3", d: "1", e: "2", f: "3" }));
  assert.throws(() => one({ eventName: [{ wildcard: "IN*" }] }), /does not support the "wildcard" operator \(property "eventName"\)/);
  assert.throws(() => one({ dynamodb: { NewImage: { ip: { S: [{ cidr: "10.0.0.0/8" }] } } } }), /"cidr"/);
  assert.throws(() => compileFilterCriteria({ Filters: [{ Pattern: "{not json" }] }), /Filters\[0\]\.Pattern: not valid JSON/);
  assert.throws(() => compileFilterCriteria({ Filters: [{ Pattern: '["a"]' }] }), /must be a JSON object/);
  assert.throws(() => one({ eventName: "INSERT" }), /Filters\[0\]\.Pattern: "eventName" must be an object or an array/);
  assert.throws(() => one({ eventName: [{ numeric: [">", "x"] }] }), (e: Error) => e instanceof EventFilterError);
});

test("records from the local stream recorder: the outbox relay's filter keeps only one service's items that carry events", () => {
  const recorder = new StreamRecorder({ region: "eu-west-1" });
  recorder.enable("data", { streamArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/data/stream/2026-12-07T00:00:00.000", viewType: "NEW_AND_OLD_IMAGES", key: { partitionKey: "pk", sortKey: "sk" } });
  const put = (pk: string, extra: Record<string, unknown> = {}) => recorder.append({ table: "data", newImage: { pk: { S: pk }, sk: { S: "x" }, ...extra } as never }, true)!.record;
  const records: StreamRecord[] = [
    put("$billing#1", { outbox: { L: [{ M: { id: { S: "e1" } } }] } }),
    put("$billing#2"),
    put("$orders#1", { outbox: { L: [{ M: { id: { S: "e2" } } }] } }),
  ];
  const relay = one({ eventName: ["INSERT", "MODIFY"], dynamodb: { NewImage: { pk: { S: [{ prefix: "$billing#" }] }, outbox: { L: { M: { id: { S: [{ exists: true }] } } } } } } });
  assert.equal(records.filter((r) => relay.matches(r)).map((r) => r.dynamodb.Keys.pk!.S), ["$billing#1"]);
});

test("a record is matched as its JSON reads, and only the properties a pattern names are read (an image's other attributes are not walked)", () => {
  let detailsRead = 0;
  const image: Record<string, unknown> = { outboxService: { S: "billing" }, undefinedAttribute: undefined };
  Object.defineProperty(image, "details", {
    enumerable: true,
    get() {
      detailsRead++;
      return { M: { total: { N: "10" } } };
    },
  });
  const record = { eventName: "INSERT", dynamodb: { NewImage: image, Keys: { pk: { S: "$billing#1" } } }, tags: [undefined, "x"] };
  const filter = one({ eventName: ["INSERT"], dynamodb: { NewImage: { outboxService: { S: ["billing"] } } } });
  assert.ok(filter.matches(record));
  assert.not.ok(one({ eventName: ["MODIFY"] }).matches(record));
  assert.is(detailsRead, 0, "an attribute no pattern names is not read");
  // As in the record's JSON: an undefined property is absent, an undefined array element is null.
  assert.ok(one({ dynamodb: { NewImage: { undefinedAttribute: [{ exists: false }] } } }).matches(record));
  assert.ok(one({ tags: [null] }).matches(record));
  assert.ok(one({ dynamodb: { NewImage: { details: { M: { total: { N: ["10"] } } } } } }).matches(record));
});

test.run();

