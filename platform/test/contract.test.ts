import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import * as z from "zod/mini";
import {
  catalog,
  EVENT_TYPE_PATTERN,
  eventTypes,
  partitionKeyOf,
  platformOutputKeys,
  SERVICE_NAME_PATTERN,
  streamEventTypes,
  topicEventTypes,
} from "../../shared/contract";
import { checkPlatformOutput, contractProblems } from "../../shared/infra/platform-reference";
import { runProgram } from "../../shared/capture/run-program";

const root = join(__dirname, "..", "..");
let outputs: Record<string, any> = {};

test.before(async () => {
  outputs = (await runProgram({ projectDir: root, stage: "dev" })).outputs;
});

test("the program's exports and PlatformOutputs agree key by key", () => {
  assert.equal(Object.keys(outputs).sort(), [...platformOutputKeys].sort());
  assert.equal(contractProblems(outputs), []);
});

test("removing, renaming or reshaping an export is caught", () => {
  const { alarmTopic, ...withoutAlarm } = outputs;
  assert.equal(contractProblems(withoutAlarm), ['missing export "alarmTopic"']);
  assert.equal(contractProblems({ ...withoutAlarm, alarmTopics: alarmTopic }), [
    'missing export "alarmTopic"',
    'export "alarmTopics" is not in PlatformOutputs',
  ]);
  const problems = contractProblems({ ...outputs, dataTable: { ...outputs.dataTable, arn: "dev-data" } });
  assert.is(problems.length, 1);
  assert.match(problems[0]!, /export "dataTable": arn: must be an ARN/);
  const { deletionProtection, ...withoutProtection } = outputs;
  assert.is(deletionProtection, false, "dev's platform:deletionProtection");
  assert.equal(contractProblems(withoutProtection), ['missing export "deletionProtection"']);
  assert.match(contractProblems({ ...outputs, deletionProtection: "true" }).join("\n"), /export "deletionProtection"/);
  const { [eventTypes[0]!]: _dropped, ...fewerTopics } = outputs.eventTopics;
  assert.is(contractProblems({ ...outputs, eventTopics: fewerTopics }).length, 1, "a topic missing for a catalog entry");
});

test("streams: exactly one per stream event, none for the other events, each a name and an ARN", () => {
  assert.ok(streamEventTypes.length > 0, "the catalog has a stream event (the example of the serial path)");
  assert.equal(Object.keys(outputs.eventStreams).sort(), [...streamEventTypes].sort());
  assert.equal(Object.keys(outputs.eventTopics).sort(), [...topicEventTypes].sort());
  const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/dev-orders-order-placed";
  // a stream for an event that travels on a topic is not in the contract
  const extra = contractProblems({ ...outputs, eventStreams: { ...outputs.eventStreams, [topicEventTypes[0]!]: { arn, name: "dev-x" } } });
  assert.is(extra.length, 1);
  assert.match(extra[0]!, /export "eventStreams"/);
  const { eventStreams, ...withoutStreams } = outputs;
  assert.equal(contractProblems(withoutStreams), ['missing export "eventStreams"']);
  for (const type of streamEventTypes) {
    const { [type]: dropped, ...fewer } = eventStreams;
    assert.is(contractProblems({ ...outputs, eventStreams: fewer }).length, 1, `the stream of ${type} missing`);
    const bad = contractProblems({ ...outputs, eventStreams: { ...eventStreams, [type]: { ...dropped, arn: dropped.name } } });
    assert.match(bad.join("\n"), /export "eventStreams": .*must be an ARN/);
    // a stream event must not also have a topic
    assert.is(contractProblems({ ...outputs, eventTopics: { ...outputs.eventTopics, [type]: { arn, name: "x", fifo: false } } }).length, 1);
  }
});

test("a service reading an old or missing platform output gets an error naming the stack and key", () => {
  assert.throws(
    () => checkPlatformOutput("organization/platform/dev", "idempotencyTable", undefined),
    /platform stack "organization\/platform\/dev" has no output "idempotencyTable": deploy the platform/,
  );
  assert.throws(
    () => checkPlatformOutput("organization/platform/dev", "logs", { retentionDays: "14", level: "INFO" }),
    /output "logs" does not match the platform contract: retentionDays/,
  );
  assert.equal(checkPlatformOutput("s", "logs", outputs.logs), { retentionDays: 14, level: "DEBUG" });
});

test("every catalog entry is well formed", () => {
  for (const type of eventTypes) {
    const entry = catalog[type];
    assert.ok(EVENT_TYPE_PATTERN.test(type), `${type} is <domain>.<event>`);
    assert.ok(SERVICE_NAME_PATTERN.test(entry.owner), `${type} owner`);
    assert.ok(Number.isInteger(entry.version) && entry.version >= 1, `${type} version`);
    assert.ok(entry.description.length > 0);
    const example = z.safeParse(entry.schema, entry.example);
    assert.ok(example.success, `${type}: its example matches its schema`);
    if (entry.ordering === "fifo") {
      const field = entry.messageGroupField;
      assert.ok(field, `${type} is FIFO and names its message group field`);
      const shape = (entry.schema as unknown as z.ZodMiniObject).def.shape;
      assert.ok(field! in shape, `${type}: ${field} is a field of the schema`);
    } else {
      assert.is(entry.messageGroupField, undefined, `${type} is not FIFO and has no message group`);
    }
    const keyField = (entry as { partitionKeyField?: string }).partitionKeyField;
    if ((entry.ordering as string) === "stream") {
      assert.ok(keyField, `${type} is a stream event and names its partition key field`);
      const shape = (entry.schema as unknown as z.ZodMiniObject).def.shape;
      assert.ok(keyField! in shape, `${type}: ${keyField} is a field of the schema`);
      assert.type(partitionKeyOf(type, entry, entry.example), "string", `${type}: its example has a partition key`);
    } else {
      assert.is(keyField, undefined, `${type} is not a stream event and has no partition key field`);
    }
  }
});

test.run();
