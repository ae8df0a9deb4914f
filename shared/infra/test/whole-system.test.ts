import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";
import { stacksOf, type SystemRun } from "../../capture/system";
import { REPO_ROOT, runWholeSystem, serviceProjectDirs, wiringProblems } from "../../testing/whole-system";
import { evaluateGuardrails, SUPPRESSIONS, withSuppressions, type Violation } from "../guardrails";

// Every services/* project, plus the sample service (so the system has a service before any is generated).
const SAMPLE = join(__dirname, "fixtures", "sample-service");
const SERVICE_DIRS = [...serviceProjectDirs(), SAMPLE];
const STAGES = ["dev", "prod"] as const;
const systems = new Map<string, SystemRun>();
/** Violations with no suppression in force, per stack: what the suppression list must account for. */
const unsuppressed: (Violation & { project: string })[] = [];

test.before(async () => {
  for (const stage of STAGES) {
    const system = await runWholeSystem(stage, { serviceDirs: SERVICE_DIRS });
    systems.set(stage, system);
    for (const stack of stacksOf(system)) {
      const project = stack.resources[0]?.urn.split("::")[1] ?? "";
      const violations = await withSuppressions([], () => evaluateGuardrails(stack.resources));
      unsuppressed.push(...violations.map((v) => ({ ...v, project })));
    }
  }
});

const system = (stage: string): SystemRun => {
  const found = systems.get(stage);
  if (!found) throw new Error(`no run for ${stage}`);
  return found;
};

test("service projects are found under services/ (folders with a Pulumi.yaml)", () => {
  const root = mkdtempSync(join(tmpdir(), "services-"));
  try {
    mkdirSync(join(root, "services", "billing"), { recursive: true });
    mkdirSync(join(root, "services", "notes"), { recursive: true });
    writeFileSync(join(root, "services", "billing", "Pulumi.yaml"), "name: billing\n");
    assert.equal(serviceProjectDirs(root), [join(root, "services", "billing")]);
    assert.equal(serviceProjectDirs(join(root, "nowhere")), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("every service project is loaded by tsx, like the platform project", () => {
  const runtimeOf = (dir: string) => (parse(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as { runtime: unknown }).runtime;
  for (const dir of SERVICE_DIRS) assert.equal(runtimeOf(dir), runtimeOf(REPO_ROOT), dir);
});

for (const stage of STAGES) {
  test(`${stage}: the platform and every service run, each service against the platform's real outputs`, () => {
    const run = system(stage);
    assert.equal(run.platform.outputs.stage, stage);
    assert.equal(run.services.length, SERVICE_DIRS.length);
    for (const service of run.services) {
      assert.is(service.platformStack, `organization/platform/${stage}`);
      const reference = service.run.mocks.byType("pulumi:pulumi:StackReference");
      assert.equal(reference.length, 1);
      assert.equal(reference[0]?.state.outputs, run.platform.outputs, "the reference answered with the platform run's outputs");
      assert.ok(service.run.mocks.byType("aws:lambda/function:Function").length > 0);
    }
  });

  test(`${stage}: every subscription, grant, mapping and alarm points at something the platform or the service created`, () => {
    assert.equal(wiringProblems(system(stage)), []);
  });

  test(`${stage}: every stack passes every guardrail`, async () => {
    for (const stack of stacksOf(system(stage))) {
      const violations = await evaluateGuardrails(stack.resources);
      assert.equal(
        violations.map((v) => `${v.policy}: ${v.message}`),
        [],
        `${stack.label} breaks guardrails`,
      );
    }
  });
}

test("every listed suppression is still needed by some stack", () => {
  for (const s of SUPPRESSIONS) {
    const used = unsuppressed.some(
      (v) => v.policy === s.rule && v.type === s.type && v.name === s.name && (s.project === undefined || s.project === v.project),
    );
    assert.ok(used, `suppression of ${s.rule} on ${s.type} ${s.name} matches nothing any more: remove it`);
  }
});

test("the wiring check notices a subscription to a foreign topic and a grant on a foreign ARN", () => {
  const run = system("dev");
  const service = run.services.find((s) => s.projectDir === SAMPLE);
  if (!service) throw new Error("the sample service did not run");
  const subscription = service.run.mocks.byType("aws:sns/topicSubscription:TopicSubscription")[0];
  const policy = service.run.mocks.byType("aws:iam/rolePolicy:RolePolicy")[0];
  if (!subscription || !policy) throw new Error("the sample service has no subscription or role policy");
  const foreignTopic = "arn:aws:sns:eu-west-1:999999999999:someone-elses-topic";
  const foreignGrant = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Sid: "Foreign", Effect: "Allow", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:eu-west-1:999999999999:other" }],
  });
  const [topic, document] = [subscription.inputs.topic, policy.inputs.policy];
  try {
    subscription.inputs.topic = foreignTopic;
    policy.inputs.policy = foreignGrant;
    const problems = wiringProblems(run);
    assert.ok(problems.some((p) => p.includes(`points at ${foreignTopic}, not a platform topic`)), problems.join("\n"));
    assert.ok(problems.some((p) => p.includes("statement Foreign names arn:aws:sqs:eu-west-1:999999999999:other")), problems.join("\n"));
  } finally {
    subscription.inputs.topic = topic;
    policy.inputs.policy = document;
  }
});

test.run();
