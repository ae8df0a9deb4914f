// The outbox relay a service gets when its functions record events: the service's own outbox table, the relay's
// mapping on that table's stream (its only reader), its grants, its failure queue and alarms, as the programs declare
// them under Pulumi's mocks.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFilterCriteria } from "../../local/dynamodb-streams";
import { evaluateGuardrails, guardrailPolicies } from "../guardrails";
import { OUTBOX_RELAY_HANDLER, STREAM_READ_ACTIONS } from "../outbox-relay";
import { defineService, type ServiceDefinition } from "../service";
import { ServiceFunction } from "../service-function";
import { defineWorkflow, invoke } from "../workflow";
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

/** The service in `stage`, referencing a platform stack whose `deletionProtection` output is `deletionProtection`. */
function underStage(stage: string, deletionProtection: boolean) {
  return underMocks(
    () =>
      defineService({
        name: "billing",
        publishes: ["billing.invoice-issued"],
        consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts"), records: ["billing.invoice-issued"] } },
      }),
    { platform: { ...platform, deletionProtection }, stage },
  );
}

test("a service that records events owns an outbox table: on demand, stream NEW_IMAGE, TTL, PITR, the AWS owned key, deletion protection as the platform's", async () => {
  const { mocks } = await define({});
  const tables = mocks.byType("aws:dynamodb/table:Table");
  assert.equal(tables.map((t) => t.name), ["billing-outbox-table"], "one table, the service's own");
  const table = tables[0]!.inputs;
  assert.is(table.name, "dev-billing-outbox");
  assert.is(table.billingMode, "PAY_PER_REQUEST");
  assert.equal([table.hashKey, table.rangeKey], ["pk", "sk"]);
  assert.equal(table.attributes, [
    { name: "pk", type: "S" },
    { name: "sk", type: "S" },
  ]);
  assert.equal([table.streamEnabled, table.streamViewType], [true, "NEW_IMAGE"]);
  assert.equal(table.ttl, { attributeName: "expiresAt", enabled: true });
  assert.equal(table.pointInTimeRecovery, { enabled: true });
  assert.is(table.serverSideEncryption, undefined, "the AWS owned key, as the platform's tables");
  assert.is(platform.deletionProtection, false, "dev's platform:deletionProtection");
  assert.is(table.deletionProtectionEnabled, false);
  // The platform's setting decides, not the stage's name: a dev platform that protects its tables protects this one.
  const prod = (await underStage("prod", true)).mocks.one("aws:dynamodb/table:Table", "billing-outbox-table");
  assert.equal([prod.inputs.name, prod.inputs.deletionProtectionEnabled], ["prod-billing-outbox", true]);
  const protectedDev = (await underStage("dev", true)).mocks.one("aws:dynamodb/table:Table", "billing-outbox-table");
  assert.equal([protectedDev.inputs.name, protectedDev.inputs.deletionProtectionEnabled], ["dev-billing-outbox", true]);
  // No records, no table.
  const none = await define({ consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } } });
  assert.is(none.mocks.byType("aws:dynamodb/table:Table").length, 0);
});

test("the functions that record write the outbox table: its name in PLATFORM_OUTBOX_TABLE, PutItem on its ARN only", async () => {
  const { mocks } = await define({
    http: { routes: { "GET /invoices/{invoiceId}": { handler: join(HANDLERS, "echo.ts"), data: "read" } } },
  });
  const table = mocks.one("aws:dynamodb/table:Table", "billing-outbox-table");
  const env = mocks.one("aws:lambda/function:Function", "billing-on-order-function-function").inputs.environment.variables;
  assert.is(env.PLATFORM_OUTBOX_TABLE, "dev-billing-outbox");
  const consumer = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-on-order-function-policy")).Statement;
  assert.equal(
    consumer.filter((s) => JSON.stringify(s.Resource).includes(":table/dev-billing-outbox")),
    [{ Sid: "RecordOwnEvents", Effect: "Allow", Action: "dynamodb:PutItem", Resource: table.state.arn }],
  );
  // A function that records nothing neither knows nor may write the table.
  const route = mocks.one("aws:lambda/function:Function", "billing-get-invoices-invoice-id-function").inputs.environment.variables;
  assert.is(route.PLATFORM_OUTBOX_TABLE, undefined);
  const routePolicy = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-get-invoices-invoice-id-policy")).Statement;
  assert.not.ok(routePolicy.some((s) => s.Sid === "RecordOwnEvents"));
  const relayEnv = mocks.one("aws:lambda/function:Function", "billing-outbox-relay-function-function").inputs.environment.variables;
  assert.is(relayEnv.PLATFORM_OUTBOX_TABLE, undefined, "the relay reads the stream, never the table");
});

test("a workflow's function that records events gets the outbox table too, and so the service gets its relay", async () => {
  const { mocks } = await define({
    consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts"), starts: ["issue"] } },
    workflows: {
      issue: defineWorkflow({
        functions: { "issue-invoice": { handler: join(HANDLERS, "echo.ts"), records: ["billing.invoice-issued"] } },
        startAt: "Issue",
        states: { Issue: invoke("issue-invoice", { end: true }) },
      }),
    },
  });
  const table = mocks.one("aws:dynamodb/table:Table", "billing-outbox-table");
  const env = mocks.one("aws:lambda/function:Function", "billing-issue-invoice-function").inputs.environment.variables;
  assert.is(env.PLATFORM_OUTBOX_TABLE, "dev-billing-outbox");
  const policy = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-issue-invoice-policy")).Statement;
  assert.ok(policy.some((s) => s.Sid === "RecordOwnEvents" && s.Resource === table.state.arn));
  assert.not.ok(policy.some((s) => s.Sid === "PublishOwnedEvents"), "it records its event: the relay publishes it");
  assert.is(mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping", "billing-outbox-relay-mapping").inputs.eventSourceArn, table.state.streamArn);
  try {
    await define({
      publishes: [],
      consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } },
      workflows: {
        issue: defineWorkflow({
          functions: { "issue-invoice": { handler: join(HANDLERS, "echo.ts"), records: ["billing.invoice-issued"] } },
          startAt: "Issue",
          states: { Issue: invoke("issue-invoice", { end: true }) },
        }),
      },
    });
    assert.unreachable("a step recording an event the service does not publish");
  } catch (error) {
    assert.match((error as Error).message, /function "issue-invoice" of workflow "issue" of service "billing" records "billing.invoice-issued", which the service does not declare/);
  }
});

test("a function that records without an outbox table, or holds one and records nothing, is refused with what is missing", async () => {
  const build = (extra: Record<string, unknown>) =>
    underMocks(
      (reference) =>
        new ServiceFunction("fn", { platform: reference, service: "billing", name: "fn", handler: join(HANDLERS, "echo.ts"), ...extra }),
      { platform },
    ).then(
      () => "built",
      (error: Error) => error.message,
    );
  assert.match(await build({ records: ["billing.invoice-issued"] }), /function billing\/fn: records billing.invoice-issued but has no outbox table \(outbox\)/);
  assert.match(await build({ outbox: { name: "dev-billing-outbox", arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-billing-outbox" } }), /has an outbox table but records no event/);
});

test("a function that records events gets the relay: a filtered, bounded mapping on its outbox table's stream", async () => {
  const { mocks } = await define({});
  const mapping = mocks.one("aws:lambda/eventSourceMapping:EventSourceMapping", "billing-outbox-relay-mapping").inputs;
  const table = mocks.one("aws:dynamodb/table:Table", "billing-outbox-table");
  assert.is(mapping.eventSourceArn, table.state.streamArn);
  assert.match(String(mapping.eventSourceArn), /:table\/dev-billing-outbox\/stream\//);
  assert.is.not(mapping.eventSourceArn, platform.dataTable.streamArn, "not the data table's stream, which every service's relay read");
  assert.match(String(mapping.functionName), /:function:dev-billing-outbox-relay$/);
  assert.is(mapping.startingPosition, "TRIM_HORIZON");
  assert.is(mapping.bisectBatchOnFunctionError, true);
  assert.is(mapping.maximumRetryAttempts, 10);
  assert.is(mapping.maximumRecordAgeInSeconds, 3600);
  assert.is(mapping.parallelizationFactor, 1);
  assert.equal(mapping.functionResponseTypes, ["ReportBatchItemFailures"]);
  const failed = mocks.one("aws:sqs/queue:Queue", "billing-outbox-relay-failed");
  assert.is(mapping.destinationConfig.onFailure.destinationArn, failed.state.arn);
  // As a stream consumer's on-failure queue: the platform's events key (not SSE-SQS), only the relay's role sends.
  assert.is(failed.inputs.kmsMasterKeyId, platform.eventsKeyArn);
  assert.is(failed.inputs.sqsManagedSseEnabled, undefined);
  assert.is(failed.inputs.messageRetentionSeconds, 1_209_600);
  const roleArn = mocks.one("aws:iam/role:Role", "billing-outbox-relay-function-role").state.arn;
  const queuePolicy = policyDocument(mocks.one("aws:sqs/queuePolicy:QueuePolicy", "billing-outbox-relay-failed-policy"));
  assert.equal(
    queuePolicy.Statement.map((s) => [s.Sid, s.Effect, s.Principal, s.Action, s.Condition]),
    [
      ["FunctionRoleSends", "Allow", { AWS: roleArn }, "sqs:SendMessage", undefined],
      ["DenyOtherSenders", "Deny", "*", "sqs:SendMessage", { ArnNotEquals: { "aws:PrincipalArn": roleArn } }],
      ["DenyWithoutTls", "Deny", "*", "sqs:*", { Bool: { "aws:SecureTransport": "false" } }],
    ],
  );

  // The filter, run by Lambda's filter rules: INSERTs of billing's outbox items under billing's keys, nothing else.
  const filter = compileFilterCriteria({ Filters: mapping.filterCriteria.filters.map((f: { pattern: string }) => ({ Pattern: f.pattern })) });
  const outbox = { outboxService: { S: "billing" }, outboxEvents: { L: [] } };
  assert.ok(filter.matches(streamRecord("INSERT", "$billing#invoiceid_1", outbox) as never));
  assert.not.ok(filter.matches(streamRecord("MODIFY", "$billing#invoiceid_1", outbox) as never), "a retried write's MODIFY");
  assert.not.ok(filter.matches(streamRecord("INSERT", "$billing#invoiceid_1", {}) as never), "an entity's own write");
  assert.not.ok(filter.matches(streamRecord("INSERT", "$orders#orderid_1", outbox) as never), "another service's keys naming billing");
  assert.not.ok(filter.matches(streamRecord("INSERT", "$billing#x", { outboxService: { S: "orders" } }) as never));
});

test("the relay's grants: the stream actions on the stream ARN only, its failure queue (and the events key for it), and publish on exactly the recorded topics", async () => {
  const { mocks } = await define({});
  const stream = policyDocument(mocks.one("aws:iam/rolePolicy:RolePolicy", "billing-outbox-relay-stream-policy")).Statement;
  const failedArn = mocks.one("aws:sqs/queue:Queue", "billing-outbox-relay-failed").state.arn;
  const tableStream = mocks.one("aws:dynamodb/table:Table", "billing-outbox-table").state.streamArn;
  assert.equal(stream, [
    { Sid: "ReadOutboxStream", Effect: "Allow", Action: [...STREAM_READ_ACTIONS], Resource: tableStream },
    { Sid: "SendToFailureDestination", Effect: "Allow", Action: "sqs:SendMessage", Resource: failedArn },
    {
      Sid: "EncryptFailureRecords",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: platform.eventsKeyArn,
      Condition: { StringEquals: { "kms:EncryptionContext:aws:sqs:arn": failedArn } },
    },
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
