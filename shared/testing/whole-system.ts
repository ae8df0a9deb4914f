import { join } from "node:path";
import { PRODUCTION_STAGES } from "../infra/guardrails/rules/data";
import { loadStackConfig, serviceProjectDirs as projectDirsUnder } from "../capture/stack-config";
import { arnsIn, resourceArns, runSystem, type SystemRun } from "../capture/system";

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

/**
 * Runs the whole system of this repository for one stage under mocks, the way it deploys (see `runSystem`), with
 * the platform overrides a test run of that stage needs.
 */
export async function runWholeSystem(stage: string, options: { serviceDirs?: string[] } = {}): Promise<SystemRun> {
  return runSystem({ root: REPO_ROOT, stage, serviceDirs: options.serviceDirs, platformOverrides: platformTestOverrides(stage) });
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
    // The streams of the service's own tables (its outbox table's, which its relay reads).
    for (const table of service.run.mocks.byType("aws:dynamodb/table:Table")) {
      if (typeof table.state.streamArn === "string") own.add(table.state.streamArn);
    }
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
      // A service's own queue or table stream (its outbox table's, for its relay), or a stream the platform created (a
      // stream event's Kinesis stream). The guardrail dynamodb-stream-reader-own-table keeps DynamoDB streams its own.
      const source = String(mapping.inputs.eventSourceArn);
      if (!own.has(source) && !platformArns.has(source)) {
        problems.push(`${where}: mapping ${mapping.name} reads ${source}, neither the service's queue nor a platform stream`);
      }
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
