// The outbox relay a service gets when its functions record events: its mapping on the data table's stream, its
// grants, its failure queue and alarms, as the programs declare them under Pulumi's mocks.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilterCriteria } from "../../local/dynamodb-streams";
import { evaluateGuardrails, guardrailPolicies } from "../guardrails";
import { OUTBOX_RELAY_HANDLER, STREAM_READ_ACTIONS } from "../outbox-relay";
import { defineService, type ServiceDefinition } from "../service";
import { platformOutputs, policyDocument, underMocks } from "./harness";

const HANDLERS = join(__dirname, "fixtures", "handlers");
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

function define(definition: Partial<ServiceDefinition>) {
  return underMocks(
    () =>
      defineService({
        name: "billing",
        publishes: ["billing.invoice-issued"],
        consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts"), records: ["billing.invoice-issued"] } },
        ...definition,
      }),
    { platform },
  );
}

const streamRecord = (eventName: string, pk: string, image: Record<string, unknown>) => ({
  eventName,
  dynamodb: { Keys: { pk: { S: pk }, sk: { S: "$outbox#1" } }, NewImage: { pk: { S: pk }, ...image } },
});

test("a function that records events gets the relay: a filtered, bounded mapping on the data table's stream", async () => {
  const { mocks } = await define({});
  const mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping", "billing-outbox-relay-mapping").inputs;
  assert.is(mapping.eventSourceArn, platform.dataTable.streamArn);
  assert.match(String(mapping.functionName), /:function:dev-billing-outbox-relay$/);
  assert.is(mapping.startingPosition, "TRIM_HORIZON");
  assert.is(mapping.bisectBatchOnFunctionError, true);
  assert.is(mapping.maximumRetryAttempts, 10);
  assert.is(mapping.maximumRecordAgeInSeconds, 3600);
  assert.is(mapping.parallelizationFactor, 1);
  assert.equal(mapping.functionResponseTypes, ["ReportBatchItemFailures"]);
  const failed = mocks.one("aws:sqs/queue:Queue", "billing-outbox-relay-failed");
  assert.is(mapping.destinationConfig.onFailure.destinationArn, failed.state.arn);
  assert.is(failed.inputs.sqsManagedSseEnabled, true);
  assert.is(failed.inputs.messageRetentionSeconds, 1_209_600);
  const queuePolicy = policyDocument(mocks.one("aws:sqs/queuePolicy:QueuePolicy", "billing-outbox-relay-failed-policy"));
  assert.equal(queuePolicy.Statement.map((s) => [s.Effect, s.Condition]), [["Deny", { Bool: { "aws:SecureTransport": "false" } }]]);

  // The filter, run by Lambda's filter rules: INSERTs of billing's outbox items under billing's keys, nothing else.
  const filter = compileFilterCriteria({ Filters: mapping.filterCriteria.filters.map((f: { pattern: string }) => ({ Pattern: f.pattern })) });
  const outbox = { outboxService: { S: "billing" }, outboxEvents: { L: [] } };
  assert.ok(filter.matches(streamRecord("INSERT", "$billing#invoiceid_1", outbox) as never));
  assert.not.ok(filter.matches(streamRecord("MODIFY", "$billing#invoiceid_1", outbox) as never), "a retried write's MODIFY");
  assert.not.ok(filter.matches(streamRecord("INSERT", "$billing#invoiceid_1", {}) as never), "an entity's own write");
  assert.not.ok(filter.matches(streamRecord("INSERT", "$orders#orderid_1", outbox) as never), "another service's keys naming billing");
  assert.not.ok(filter.matches(streamRecord("INSERT", "$billing#x", { outboxService: { S: "orders" } }) as never));
});

test("the relay's grants: the stream actions on the stream ARN only, its failure queue, and publish on exactly the recorded topics", async () => {
  const { mocks } = await define({});
  const stream = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-outbox-relay-stream-policy")).Statement;
  const failedArn = mocks.one("aws:sqs/queue:Queue", "billing-outbox-relay-failed").state.arn;
  assert.equal(stream, [
    { Sid: "ReadDataTableStream", Effect: "Allow", Action: [...STREAM_READ_ACTIONS], Resource: platform.dataTable.streamArn },
    { Sid: "SendToFailureDestination", Effect: "Allow", Action: "sqs:SendMessage", Resource: failedArn },
  ]);
  const own = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-outbox-relay-function-policy")).Statement;
  const publish = own.find((s) => s.Sid === "PublishOwnedEvents");
  assert.is(publish?.Resource, platform.eventTopics["billing.invoice-issued"].arn);
  assert.ok(own.some((s) => s.Sid === "EncryptForEventTopics" && s.Resource === platform.eventsKeyArn));
  assert.not.ok(own.some((s) => s.Sid === "OwnItems"), "the relay reads no table item: its records come from the stream");
  // The consumer that records the event no longer publishes it itself, and writes with a transaction's actions.
  const consumer = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-on-order-function-policy")).Statement;
  assert.not.ok(consumer.some((s) => s.Sid === "PublishOwnedEvents"));
  const items = consumer.find((s) => s.Sid === "OwnItems")!;
  for (const action of ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]) assert.ok((items.Action as string[]).includes(action), action);
  const env = mocks.one("aws:lambda/function:Function", "billing-on-order-function-function").inputs.environment.variables;
  assert.is(env.PLATFORM_RECORD_EVENTS, JSON.stringify(["billing.invoice-issued"]), "the function knows what it records");
  assert.is(env.PLATFORM_PUBLISH_TOPICS, "{}");
  const fn = mocks.one("platform:infra:ServiceFunction", "billing-outbox-relay-function").inputs;
  assert.is(fn.entry, "shared/runtime/outbox-relay-handler.ts");
  assert.ok(OUTBOX_RELAY_HANDLER.endsWith(fn.entry));
});

test("its alarms reach the platform's alarm topic, and the service passes every guardrail", async () => {
  const { mocks } = await define({});
  const age = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "billing-outbox-relay-iterator-age-alarm").inputs;
  assert.equal([age.namespace, age.metricName, age.dimensions], ["AWS/Lambda", "IteratorAge", { FunctionName: "dev-billing-outbox-relay" }]);
  assert.equal(age.alarmActions, [platform.alarmTopic.arn]);
  const depth = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "billing-outbox-relay-failed-alarm").inputs;
  assert.equal(depth.alarmActions, [platform.alarmTopic.arn]);
  assert.equal(await evaluateGuardrails(mocks.resources, guardrailPolicies), []);
});

test("no records, no relay; records outside the service's publishes, or a consumer named outbox-relay, are refused", async () => {
  const { mocks } = await define({ consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } } });
  assert.is(mocks.byType("platform:infra:OutboxRelay").length, 0);
  const refused = async (definition: Partial<ServiceDefinition>, message: RegExp) => {
    try {
      await define(definition);
      assert.unreachable(`expected ${message}`);
    } catch (error) {
      assert.match((error as Error).message, message);
    }
  };
  await refused(
    { publishes: [] },
    /consumer "on-order" of service "billing" records "billing.invoice-issued", which the service does not declare in its publishes/,
  );
  await refused(
    {
      consumers: {
        "outbox-relay": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") },
        "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts"), records: ["billing.invoice-issued"] },
      },
    },
    /consumer "outbox-relay" and the outbox relay .* would both be named "outbox-relay"/,
  );
});

test.run();
