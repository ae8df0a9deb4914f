import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { runProgram } from "../../capture/run-program";
import { evaluateGuardrails, guardrailPolicies } from "../guardrails";
import { defineService } from "../service";
import { useStageProvider } from "../stage-provider";
import { platformOutputs, underMocks } from "./harness";

const SAMPLE = join(__dirname, "fixtures", "sample-service");
const HANDLERS = join(__dirname, "fixtures", "handlers");
const tagRule = guardrailPolicies.filter((p) => p.name === "aws-provider-stage-tags");
let platform: Record<string, any>;

test.before(async () => {
  platform = await platformOutputs("dev");
});

const providerRef = (r: CapturedResource) => `${r.urn}::${r.id}`;
const awsResources = (resources: CapturedResource[]) => resources.filter((r) => r.type.startsWith("aws:"));

test("a service program tags every AWS resource stage, service and project through its provider's default tags", async () => {
  for (const stage of ["dev", "prod"]) {
    const run = await runProgram({
      projectDir: SAMPLE,
      stage,
      stackOutputs: (name) => (name === `organization/platform/${stage}` ? platform : undefined),
    });
    const [provider, ...others] = run.mocks.byType("pulumi:providers:aws");
    assert.ok(provider, "the program has an explicit AWS provider");
    assert.equal(others, []);
    assert.equal(JSON.parse(provider.inputs.defaultTags), { tags: { stage, service: "billing", project: "billing" } });
    assert.is(provider.inputs.region, "eu-west-1");
    const resources = awsResources(run.mocks.resources);
    assert.ok(resources.length > 10, "queues, functions, roles, alarms, the API...");
    for (const r of resources) assert.is(r.provider, providerRef(provider), `${r.type} ${r.name}`);
    assert.equal(await evaluateGuardrails(run.mocks.resources, tagRule), []);
  }
});

test("resources a program adds beside defineService get the tags too; one made before it is caught by the guardrail", async () => {
  const { mocks } = await underMocks(
    () => {
      new aws.sqs.Queue("before", { sqsManagedSseEnabled: true });
      defineService({ name: "svc-tags", consumers: { "on-order": { event: "orders.order-placed", handler: join(HANDLERS, "echo.ts") } } });
      new aws.sqs.Queue("after", { sqsManagedSseEnabled: true });
    },
    { platform, project: "svc-tags", stageProvider: false },
  );
  const provider = mocks.one("pulumi:providers:aws", "aws");
  assert.equal(JSON.parse(provider.inputs.defaultTags), { tags: { stage: "dev", service: "svc-tags", project: "svc-tags" } });
  assert.is(mocks.one("aws:sqs/queue:Queue", "after").provider, providerRef(provider));
  assert.is(mocks.one("aws:sqs/queue:Queue", "before").provider, undefined, "made before the provider existed");
  const violations = await evaluateGuardrails(mocks.resources, tagRule);
  assert.equal(violations.map((v) => v.name), ["before"]);
  assert.match(violations[0]!.message, /Queue before gets from the default provider default tags with no stage, no service, no project/);
});

test("a component that chose its own AWS provider keeps it", async () => {
  const { mocks } = await underMocks(
    () => {
      const elsewhere = new aws.Provider("us-east-1", { region: "us-east-1" });
      const component = new pulumi.ComponentResource("test:index:Elsewhere", "elsewhere", {}, { providers: { aws: elsewhere } });
      new aws.sqs.Queue("far", { sqsManagedSseEnabled: true }, { parent: component });
    },
    { platform, project: "svc-tags" },
  );
  const elsewhere = mocks.one("pulumi:providers:aws", "us-east-1");
  assert.is(mocks.one("aws:sqs/queue:Queue", "far").provider, providerRef(elsewhere));
});

test("a program has one tagged provider: a later call returns it, with the first owner's tags", async () => {
  let providers: unknown[] = [];
  const { mocks } = await underMocks(
    () => {
      providers = [useStageProvider("svc-a"), useStageProvider("svc-a"), useStageProvider("svc-b")];
    },
    { platform, project: "svc-a", stageProvider: false },
  );
  assert.ok(providers.every((p) => p === providers[0]));
  const [provider, ...others] = mocks.byType("pulumi:providers:aws");
  assert.equal(others, []);
  assert.equal(JSON.parse(provider!.inputs.defaultTags).tags.service, "svc-a");
});

test("the tagged provider keeps every aws:* setting of the stack (assume-role, allowed accounts, the user's own default tags)", async () => {
  const run = await runProgram({
    projectDir: SAMPLE,
    stage: "dev",
    overrides: {
      "aws:allowedAccountIds": ["123456789012"],
      "aws:assumeRoles": [{ roleArn: "arn:aws:iam::123456789012:role/deployer", sessionName: "pulumi" }],
      "aws:defaultTags": { tags: { costCentre: "cc-42", stage: "not-this" } },
      "aws:skipMetadataApiCheck": false,
    },
    stackOutputs: (name) => (name === "organization/platform/dev" ? platform : undefined),
  });
  const provider = run.mocks.one("pulumi:providers:aws", "aws");
  const inputs = Object.fromEntries(Object.entries(provider.inputs).map(([k, v]) => [k, typeof v === "string" && /^[[{]/.test(v) ? JSON.parse(v) : v]));
  assert.equal(inputs.allowedAccountIds, ["123456789012"]);
  assert.equal(inputs.assumeRoles, [{ roleArn: "arn:aws:iam::123456789012:role/deployer", sessionName: "pulumi" }]);
  assert.equal(inputs.defaultTags, { tags: { costCentre: "cc-42", stage: "dev", service: "billing", project: "billing" } });
  assert.is(String(inputs.skipMetadataApiCheck), "false");
  assert.is(inputs.region, "eu-west-1");
});

test.run();
