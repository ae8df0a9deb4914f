// What a real deployment would get wrong, proved under Pulumi's mocks: the X-Ray resource policy SNS active tracing
// needs (one stage per account owns it), tables on the free AWS owned key, the events key's statement for CloudWatch
// as the SNS guide writes it, the DynamoDB gateway endpoint on the VPC's own route tables, and stage tags on every
// AWS resource through the provider's default tags.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { evaluateGuardrails, guardrailPolicies, type RuleName } from "../../shared/infra/guardrails";
import { runProgram, type ProgramRun } from "../../shared/capture/run-program";

const root = join(__dirname, "..", "..");
const runs: Record<string, ProgramRun> = {};

test.before(async () => {
  runs.dev = await runProgram({ projectDir: root, stage: "dev" });
  // prod protects its data, so it must name a real alarm recipient.
  runs.prod = await runProgram({ projectDir: root, stage: "prod", overrides: { "platform:alarmEmail": "oncall@corp-ops.io" } });
  runs.owner = await runProgram({ projectDir: root, stage: "dev", overrides: { "platform:ownsAccountTracingPolicy": true } });
  runs.network = await runProgram({ projectDir: root, stage: "dev", overrides: { "platform:vpcEnabled": true } });
});

const rule = (name: RuleName) => {
  const found = guardrailPolicies.find((p) => p.name === name);
  if (!found) throw new Error(`no rule ${name}`);
  return [found];
};

/** IAM's ArnLike: `*` matches any run of characters, `?` one. */
const arnLike = (pattern: string, arn: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(arn);

test("SNS active tracing: no stage creates the X-Ray resource policy unless it owns it (platform:ownsAccountTracingPolicy)", () => {
  for (const run of [runs.dev!, runs.prod!]) {
    assert.is(run.config.values["platform:ownsAccountTracingPolicy"], "false", "declared with its default in Pulumi.yaml");
    assert.equal(run.mocks.byType("aws:xray/resourcePolicy:ResourcePolicy"), []);
  }
});

test("the owning stage's X-Ray policy lets only SNS send, for this account's topics in this region", async () => {
  const run = runs.owner!;
  const [policy, ...others] = run.mocks.byType("aws:xray/resourcePolicy:ResourcePolicy");
  assert.ok(policy, "the owning stage creates the policy");
  assert.equal(others, []);
  assert.is(policy.inputs.policyName, "sns-active-tracing", "one fixed name per account, not per stage");
  const document = JSON.parse(policy.inputs.policyDocument);
  assert.equal(document.Statement, [
    {
      Sid: "SnsActiveTracing",
      Effect: "Allow",
      Principal: { Service: "sns.amazonaws.com" },
      Action: ["xray:PutTraceSegments", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
      Resource: "*",
      Condition: {
        StringEquals: { "aws:SourceAccount": run.outputs.accountId },
        ArnLike: { "aws:SourceArn": `arn:aws:sns:eu-west-1:${run.outputs.accountId}:*` },
      },
    },
  ]);
  // It covers every stage's topics: this stage's, and another stage's of the same account and region.
  const pattern = document.Statement[0].Condition.ArnLike["aws:SourceArn"];
  for (const topic of run.mocks.byType("aws:sns/topic:Topic")) assert.ok(arnLike(pattern, topic.state.arn), topic.state.arn);
  for (const topic of runs.prod!.mocks.byType("aws:sns/topic:Topic")) assert.ok(arnLike(pattern, topic.state.arn), topic.state.arn);
  assert.not.ok(arnLike(pattern, "arn:aws:sns:eu-west-1:999999999999:dev-orders-order-placed"), "not another account's");
  assert.not.ok(arnLike(pattern, `arn:aws:sns:us-east-1:${run.outputs.accountId}:dev-orders-order-placed`), "not another region's");
  assert.equal(await evaluateGuardrails(run.mocks.resources, rule("xray-sns-tracing-policy-scoped")), []);
});

test("tables use the free AWS owned key: no serverSideEncryption, so not the billed aws/dynamodb key", async () => {
  for (const run of [runs.dev!, runs.prod!]) {
    const tables = run.mocks.byType("aws:dynamodb/table:Table");
    assert.equal(tables.map((t) => t.name).sort(), ["data-table", "idempotency-table"]);
    for (const table of tables) assert.is(table.inputs.serverSideEncryption, undefined, table.name);
    assert.equal(await evaluateGuardrails(run.mocks.resources, [...rule("dynamodb-sse-no-managed-key"), ...rule("dynamodb-table-encrypted")]), []);
  }
});

test("the events key grants AWS services exactly kms:GenerateDataKey* and kms:Decrypt, scoped to the account's alarms (log delivery: Decrypt, the account's)", async () => {
  const run = runs.dev!;
  const key = run.mocks.one("aws:kms/key:Key", "events-key");
  const statements = JSON.parse(key.inputs.policy).Statement as any[];
  const services = statements.filter((s) => s.Principal?.Service !== undefined);
  assert.equal(
    services.map((s) => [s.Principal.Service, s.Action]),
    [
      ["cloudwatch.amazonaws.com", ["kms:GenerateDataKey*", "kms:Decrypt"]],
      ["delivery.logs.amazonaws.com", ["kms:Decrypt"]],
    ],
  );
  assert.equal(services[1].Condition, { StringEquals: { "aws:SourceAccount": run.outputs.accountId } });
  assert.equal(services[0].Condition.StringEquals, { "aws:SourceAccount": run.outputs.accountId });
  assert.equal(services[0].Condition.ArnLike, { "aws:SourceArn": `arn:aws:cloudwatch:eu-west-1:${run.outputs.accountId}:alarm:*` });
  assert.equal(await evaluateGuardrails(run.mocks.resources, rule("kms-service-principal-actions")), []);
});

test("the DynamoDB gateway endpoint uses the VPC's own route tables, with no route-table lookup", async () => {
  const run = runs.network!;
  const vpc = run.mocks.one("awsx:ec2:Vpc", "network");
  const endpoint = run.mocks.one("aws:ec2/vpcEndpoint:VpcEndpoint", "dynamodb-endpoint");
  const own = (vpc.state.routeTables as { id: string }[]).map((t) => t.id);
  assert.ok(own.length === 2, "one route table per private subnet");
  assert.equal(endpoint.inputs.routeTableIds, own);
  assert.equal(
    run.mocks.calls.filter((c) => c.token.startsWith("aws:ec2/getRouteTable")),
    [],
    "no getRouteTables invoke: it could run before the subnets' route tables exist",
  );
  assert.equal(await evaluateGuardrails(run.mocks.resources, rule("vpc-gateway-endpoint-own-route-tables")), []);
  // The rule notices the lookup's answer: the main route table, which no subnet of the VPC uses.
  const routeTableIds = endpoint.state.routeTableIds;
  try {
    endpoint.state.routeTableIds = ["rtb-main"];
    const violations = await evaluateGuardrails(run.mocks.resources, rule("vpc-gateway-endpoint-own-route-tables"));
    assert.equal(violations.length, 1);
    assert.match(violations[0]!.message, /names rtb-main, which the stack's VPC does not have/);
  } finally {
    endpoint.state.routeTableIds = routeTableIds;
  }
});

test("every AWS resource of the platform is tagged stage, service=platform and project through its provider", async () => {
  for (const [stage, run] of [["dev", runs.dev!], ["prod", runs.prod!], ["dev", runs.network!]] as const) {
    const [provider, ...others] = run.mocks.byType("pulumi:providers:aws");
    assert.ok(provider, "an explicit AWS provider");
    assert.equal(others, []);
    assert.equal(JSON.parse(provider.inputs.defaultTags), { tags: { stage, service: "platform", project: "platform" } });
    assert.is(provider.inputs.region, "eu-west-1", "the stack's aws:region");
    const reference = `${provider.urn}::${provider.id}`;
    const aws = run.mocks.resources.filter((r) => r.type.startsWith("aws:"));
    assert.ok(aws.length > 10);
    for (const r of aws) assert.is(r.provider, reference, `${r.type} ${r.name} uses the tagged provider`);
    assert.equal(await evaluateGuardrails(run.mocks.resources, rule("aws-provider-stage-tags")), []);
  }
});

test.run();
