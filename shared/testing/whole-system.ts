import { join } from "node:path";
import { PRODUCTION_STAGES } from "../infra/guardrails/rules/data";
import { loadStackConfig, serviceProjectDirs as projectDirsUnder } from "../infra/stack-config";
import type { CapturedResource } from "./pulumi-mocks";
import { runProgram, type ProgramRun } from "./run-program";

/** The repository root (this file is `shared/testing/whole-system.ts`). */
export const REPO_ROOT = join(__dirname, "..", "..");

/** Every service project in the repository: `services/<name>/` folders holding a `Pulumi.yaml`. */
export function serviceProjectDirs(root = REPO_ROOT): string[] {
  return projectDirsUnder(root);
}

/**
 * The alarm recipient tests give a platform stage that must name one (it protects its data) when its stage file
 * names none: the template ships without an address, since a placeholder would never confirm.
 */
export const TEST_ALARM_RECIPIENT = "platform-oncall@ops.acme-corp.dev";

/** Config overrides a test run of the platform's `stage` needs on top of the repository's stage files. */
export function platformTestOverrides(stage: string, root = REPO_ROOT): Record<string, unknown> {
  const values = loadStackConfig(root, stage, { optionalStageFile: true }).values;
  const protectsData = values["platform:deletionProtection"] === "true" || (PRODUCTION_STAGES as readonly string[]).includes(stage);
  return protectsData && !values["platform:alarmEmail"] ? { "platform:alarmEmail": TEST_ALARM_RECIPIENT } : {};
}

export interface ServiceRun {
  projectDir: string;
  /** The service's Pulumi project name. */
  project: string;
  /** The platform stack its stage config names (`platformStack`). */
  platformStack: string;
  run: ProgramRun;
}

export interface SystemRun {
  stage: string;
  platform: ProgramRun;
  services: ServiceRun[];
}

/**
 * Runs the whole system for one stage under mocks, the way it deploys: the platform program (repository root),
 * then every service program, each service's stack reference answered with the platform run's real outputs.
 * Programs run one after another (Pulumi's runtime state is global).
 */
export async function runWholeSystem(stage: string, options: { serviceDirs?: string[] } = {}): Promise<SystemRun> {
  const platform = await runProgram({ projectDir: REPO_ROOT, stage, overrides: platformTestOverrides(stage) });
  const services: ServiceRun[] = [];
  for (const projectDir of options.serviceDirs ?? serviceProjectDirs()) {
    const config = loadStackConfig(projectDir, stage);
    const platformStack = config.values[`${config.project}:platformStack`];
    if (!platformStack) throw new Error(`${projectDir}: Pulumi.${stage}.yaml does not set ${config.project}:platformStack`);
    const run = await runProgram({
      projectDir,
      stage,
      stackOutputs: (name) => (name === platformStack ? platform.outputs : undefined),
    });
    services.push({ projectDir, project: config.project, platformStack, run });
  }
  return { stage, platform, services };
}

/** Every `arn:` string anywhere in a value. */
export function arnsIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof value === "string") {
    if (value.startsWith("arn:")) into.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) arnsIn(item, into);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) arnsIn(item, into);
  }
  return into;
}

/** The ARNs of the resources a program created (what AWS would answer for them). */
export function resourceArns(resources: CapturedResource[]): Set<string> {
  return new Set(resources.map((r) => r.state.arn).filter((arn): arn is string => typeof arn === "string"));
}

function statementsOf(policy: unknown): { Sid?: string; Effect?: string; Resource?: string | string[] }[] {
  const document = typeof policy === "string" ? (JSON.parse(policy) as { Statement?: unknown }) : undefined;
  const statements = document?.Statement;
  return Array.isArray(statements) ? statements : statements ? [statements as never] : [];
}

/**
 * How a service's wiring disagrees with the platform it runs against: subscriptions to topics the platform did
 * not create, grants naming ARNs that neither the platform nor the service created, alarms notifying anything but
 * the platform's alarm topic. Empty when everything connects.
 */
export function wiringProblems(system: SystemRun): string[] {
  const problems: string[] = [];
  const platformOutputs = system.platform.outputs as {
    eventTopics: Record<string, { arn: string }>;
    failureTopic: { arn: string };
    alarmTopic: { arn: string };
    dataTable: { arn: string; indexes: Record<string, { name: string }> };
  };
  const platformTopics = new Set(system.platform.mocks.byType("aws:sns/topic:Topic").map((t) => String(t.state.arn)));
  const platformArns = new Set([...arnsIn(platformOutputs), ...resourceArns(system.platform.mocks.resources)]);
  const indexArns = new Set(
    Object.values(platformOutputs.dataTable.indexes).map((index) => `${platformOutputs.dataTable.arn}/index/${index.name}`),
  );

  for (const service of system.services) {
    const resources = service.run.mocks.resources;
    const own = resourceArns(resources);
    const known = (arn: string) => platformArns.has(arn) || own.has(arn) || indexArns.has(arn);
    const where = `${service.project} (${system.stage})`;

    for (const subscription of service.run.mocks.byType("aws:sns/topicSubscription:TopicSubscription")) {
      const topic = String(subscription.inputs.topic);
      if (!platformTopics.has(topic)) problems.push(`${where}: subscription ${subscription.name} points at ${topic}, not a platform topic`);
      if (!own.has(String(subscription.inputs.endpoint))) {
        problems.push(`${where}: subscription ${subscription.name} delivers to ${subscription.inputs.endpoint}, not one of the service's queues`);
      }
    }
    for (const policy of service.run.mocks.byType("aws:iam/rolePolicy:RolePolicy")) {
      for (const statement of statementsOf(policy.inputs.policy)) {
        const resourceList = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource ?? ""];
        for (const resource of resourceList) {
          if (resource === "*") continue; // only X-Ray may, and the guardrail iam-no-wildcard-permissions checks that
          const exact = resource.endsWith(":*") ? resource.slice(0, -2) : resource;
          if (!known(exact)) problems.push(`${where}: ${policy.name} statement ${statement.Sid ?? "?"} names ${resource}, which nothing created`);
        }
      }
    }
    for (const mapping of service.run.mocks.byType("aws:lambda/eventSourceMapping:EventSourceMapping")) {
      if (!own.has(String(mapping.inputs.eventSourceArn))) problems.push(`${where}: mapping ${mapping.name} reads ${mapping.inputs.eventSourceArn}, not the service's queue`);
    }
    for (const alarm of service.run.mocks.byType("aws:cloudwatch/metricAlarm:MetricAlarm")) {
      const actions = (alarm.inputs.alarmActions ?? []) as string[];
      if (actions.length === 0 || actions.some((a) => a !== platformOutputs.alarmTopic.arn)) {
        problems.push(`${where}: alarm ${alarm.name} notifies ${actions.join(", ") || "nobody"}, not the platform's alarm topic`);
      }
    }
  }
  return problems;
}

/** Every program run of a system with its label, for checks that apply to each stack alike (guardrails). */
export function stacksOf(system: SystemRun): { label: string; resources: CapturedResource[] }[] {
  return [
    { label: `platform (${system.stage})`, resources: system.platform.mocks.resources },
    ...system.services.map((s) => ({ label: `${s.project} (${system.stage})`, resources: s.run.mocks.resources })),
  ];
}
