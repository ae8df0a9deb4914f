import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { ENV } from "../../../contract/environment";
import type { PolicyStatement } from "../../helpers/policy-document";
import { VENDED_LOGS_PREFIX } from "../../helpers/names";
import { LOG_DELIVERY_ACTIONS, WORKFLOW_KEY_ACTIONS, WORKFLOW_XRAY_ACTIONS } from "../../helpers/workflow-grants";
import { ofType, resourceRule, stackRule, type Finding } from "../rule";
import { actionCovers, actionsOf, json, policyOf, resourcesOf, str } from "../read";
import { T } from "../resource-types";

/** Pulumi type of a Step Functions state machine. */
export const STATE_MACHINE = "aws:sfn/stateMachine:StateMachine";

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]+$/;
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+(\.fifo)?$/;
const SNS_PUBLISH = /^arn:aws[a-z-]*:states:::sns:publish$/;

function definitionOf(machine: PolicyResource): Record<string, unknown> | undefined {
  return json(machine.props.definition) as Record<string, unknown> | undefined;
}

/** The ARNs the definition's Task states name: functions they run, topics they publish to. Nested graphs included. */
export function definitionTargets(definition: unknown): { functions: Set<string>; topics: Set<string>; other: string[] } {
  const functions = new Set<string>();
  const topics = new Set<string>();
  const other: string[] = [];
  const visitStates = (states: unknown) => {
    for (const state of Object.values((states ?? {}) as Record<string, Record<string, unknown>>)) {
      if (state.Type === "Task") {
        const resource = String(state.Resource);
        const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
        if (FUNCTION_ARN.test(resource)) functions.add(resource);
        else if (SNS_PUBLISH.test(resource) && typeof parameters.TopicArn === "string") topics.add(parameters.TopicArn);
        else other.push(resource);
      }
      for (const branch of (state.Branches ?? []) as { States?: unknown }[]) visitStates(branch.States);
      const processor = (state.ItemProcessor ?? state.Iterator) as { States?: unknown } | undefined;
      if (processor) visitStates(processor.States);
    }
  };
  visitStates((definition as { States?: unknown } | undefined)?.States);
  return { functions, topics, other };
}

/** The identity-policy statements attached to a role (inline role policies and the role's own inline policies). */
export function roleStatements(args: StackValidationArgs, role: PolicyResource): { policy: PolicyResource; statement: PolicyStatement }[] {
  const names = new Set([role.props.name, role.props.id, role.props.arn, role.name].filter((v): v is string => typeof v === "string"));
  const out: { policy: PolicyResource; statement: PolicyStatement }[] = [];
  for (const policy of ofType(args, T.rolePolicy)) {
    if (!names.has(String(policy.props.role))) continue;
    for (const statement of policyOf(policy.props.policy)?.Statement ?? []) out.push({ policy, statement });
  }
  for (const inline of (role.props.inlinePolicies ?? []) as { policy?: unknown }[]) {
    for (const statement of policyOf(inline.policy)?.Statement ?? []) out.push({ policy: role, statement });
  }
  return out;
}

export function roleOf(args: StackValidationArgs, roleArn: unknown): PolicyResource | undefined {
  return ofType(args, T.role).find((r) => r.props.arn === roleArn);
}

export const sfnLoggingEnabled = resourceRule(
  {
    name: "sfn-logging-enabled",
    description:
      "State machines log to CloudWatch Logs (level ALL, ERROR or FATAL, not OFF) into a log group under /aws/vendedlogs/, whose names the account's 5,120-character CloudWatch Logs resource policy need not list one by one (cdk-nag AwsSolutions-SF1; Checkov CKV_AWS_285; AWS Step Functions developer guide, logging using CloudWatch Logs).",
    remediation: "Use the Workflow component (defineService workflows), or set loggingConfiguration { level, logDestination: '<log group ARN>:*' } with a log group named /aws/vendedlogs/states/<name>.",
  },
  (args) => {
    if (args.type !== STATE_MACHINE) return [];
    const logging = json(args.props.loggingConfiguration) as { level?: string; logDestination?: string } | undefined;
    if (!logging?.level || logging.level === "OFF" || !logging.logDestination) {
      return [{ message: `state machine ${args.name} does not log its executions (loggingConfiguration level ${logging?.level ?? "unset"})` }];
    }
    const group = /:log-group:([^:]+)/.exec(logging.logDestination)?.[1];
    if (group && !group.startsWith(VENDED_LOGS_PREFIX)) {
      return [{ message: `state machine ${args.name} logs to ${group}, outside ${VENDED_LOGS_PREFIX}: each such group grows the account's CloudWatch Logs resource policy` }];
    }
    return [];
  },
);

export const sfnTracingEnabled = resourceRule(
  {
    name: "sfn-tracing-enabled",
    description: "State machines send X-Ray traces, so a workflow's states appear in the trace of the event that started it (cdk-nag AwsSolutions-SF2; Checkov CKV_AWS_284).",
    remediation: "Set tracingConfiguration: { enabled: true } (the Workflow component follows the platform's tracing mode).",
  },
  (args) => {
    if (args.type !== STATE_MACHINE) return [];
    const tracing = json(args.props.tracingConfiguration) as { enabled?: boolean } | undefined;
    return tracing?.enabled === true ? [] : [{ message: `state machine ${args.name} does not trace with X-Ray` }];
  },
);

export const sfnEncryptedCustomerKey = resourceRule(
  {
    name: "sfn-encrypted-customer-key",
    description:
      "State machines encrypt their definition and execution history with a customer managed KMS key (the platform's), so who may read execution data is decided by the key policy and IAM (Well-Architected Security Pillar, data protection at rest; AWS Step Functions developer guide, data at rest encryption).",
    remediation: 'Set encryptionConfiguration: { type: "CUSTOMER_MANAGED_KMS_KEY", kmsKeyId: <the platform\'s eventsKeyArn> }.',
  },
  (args) => {
    if (args.type !== STATE_MACHINE) return [];
    const encryption = json(args.props.encryptionConfiguration) as { type?: string; kmsKeyId?: string } | undefined;
    if (encryption?.type !== "CUSTOMER_MANAGED_KMS_KEY" || !encryption.kmsKeyId) {
      return [{ message: `state machine ${args.name} is not encrypted with a customer managed key (encryptionConfiguration type ${encryption?.type ?? "unset"})` }];
    }
    return [];
  },
);

/** What a state machine's role may hold besides invoking and publishing: its key, log delivery, X-Ray. */
const SUPPORT_ACTIONS = new Set<string>([...WORKFLOW_KEY_ACTIONS, ...LOG_DELIVERY_ACTIONS, ...WORKFLOW_XRAY_ACTIONS]);

export const sfnRoleLeastPrivilege = stackRule(
  {
    name: "sfn-role-least-privilege",
    description:
      "A state machine's role invokes exactly the functions its Task states name and publishes to exactly the topics they name (no wildcard, no other function or topic), and holds nothing else but its key, log delivery and X-Ray (cdk-nag AwsSolutions-IAM5; Well-Architected Security Pillar, least privilege).",
    remediation: "Derive the role from the definition (the Workflow component does): lambda:InvokeFunction on the Task functions' ARNs, sns:Publish on the published topics' ARNs.",
  },
  (args) => {
    const findings: Finding[] = [];
    for (const machine of ofType(args, STATE_MACHINE)) {
      const role = roleOf(args, machine.props.roleArn);
      if (!role) continue;
      const wanted = definitionTargets(definitionOf(machine));
      const granted = { functions: new Set<string>(), topics: new Set<string>() };
      for (const { policy, statement } of roleStatements(args, role)) {
        if (statement.Effect !== "Allow") continue;
        const where = `role ${role.name} of state machine ${machine.name} (${policy.name}${statement.Sid ? ` ${statement.Sid}` : ""})`;
        for (const action of actionsOf(statement)) {
          const resources = resourcesOf(statement);
          if (actionCovers(action, "lambda:InvokeFunction") && action !== "sns:Publish") {
            for (const resource of resources) {
              if (!wanted.functions.has(resource)) findings.push({ urn: policy.urn, statement: statement.Sid, message: `${where} may invoke ${resource}, which no Task state of ${machine.name} runs` });
              granted.functions.add(resource);
            }
          } else if (actionCovers(action, "sns:Publish")) {
            for (const resource of resources) {
              if (!wanted.topics.has(resource) || !TOPIC_ARN.test(resource)) {
                findings.push({ urn: policy.urn, statement: statement.Sid, message: `${where} may publish to ${resource}, which no Task state of ${machine.name} publishes to` });
              }
              granted.topics.add(resource);
            }
          } else if (!SUPPORT_ACTIONS.has(action)) {
            findings.push({ urn: policy.urn, statement: statement.Sid, message: `${where} allows ${action}, which no state of ${machine.name} uses` });
          }
        }
      }
      for (const fn of wanted.functions) {
        if (!granted.functions.has(fn)) findings.push({ urn: machine.urn, message: `state machine ${machine.name} runs ${fn}, which its role ${role.name} may not invoke` });
      }
      for (const topic of wanted.topics) {
        if (!granted.topics.has(topic)) findings.push({ urn: machine.urn, message: `state machine ${machine.name} publishes to ${topic}, which its role ${role.name} may not publish to` });
      }
    }
    return findings;
  },
);

/** Workflow name -> state machine ARN a function's environment names (`PLATFORM_WORKFLOWS`). */
function startableOf(fn: PolicyResource): string[] {
  const variables = (json(fn.props.environment) as { variables?: Record<string, unknown> } | undefined)?.variables;
  const raw = str(variables?.[ENV.workflows]);
  if (!raw) return [];
  try {
    return Object.values(JSON.parse(raw) as Record<string, string>);
  } catch {
    return [];
  }
}

export const sfnStartGrantScoped = stackRule(
  {
    name: "sfn-start-grant-scoped",
    description:
      "states:StartExecution is granted on exact state machine ARNs, and only to a function whose environment names that state machine (PLATFORM_WORKFLOWS: it starts it); a function that names one holds the grant (cdk-nag AwsSolutions-IAM5; Well-Architected Security Pillar, least privilege).",
    remediation: "List the workflow in the starts of the consumer or route that starts it; grant nothing else StartExecution.",
  },
  (args) => {
    const findings: Finding[] = [];
    const functions = ofType(args, T.function);
    for (const role of ofType(args, T.role)) {
      const fn = functions.find((f) => f.props.role === role.props.arn);
      const startable = new Set(fn ? startableOf(fn) : []);
      const granted = new Set<string>();
      for (const { policy, statement } of roleStatements(args, role)) {
        if (statement.Effect !== "Allow" || !actionsOf(statement).some((a) => actionCovers(a, "states:StartExecution"))) continue;
        const where = `role ${role.name} (${policy.name}${statement.Sid ? ` ${statement.Sid}` : ""})`;
        for (const resource of resourcesOf(statement)) {
          if (!STATE_MACHINE_ARN.test(resource)) {
            findings.push({ urn: policy.urn, statement: statement.Sid, message: `${where} may start executions of ${resource}: name exact state machine ARNs` });
          } else if (!startable.has(resource)) {
            findings.push({
              urn: policy.urn,
              statement: statement.Sid,
              message: `${where} may start ${resource}, but ${fn ? `function ${fn.name} does not name it in ${ENV.workflows}` : "no function of the stack uses the role"}`,
            });
          }
          granted.add(resource);
        }
      }
      for (const arn of startable) {
        if (!granted.has(arn)) findings.push({ urn: fn!.urn, message: `function ${fn!.name} names ${arn} in ${ENV.workflows} but its role ${role.name} may not start it` });
      }
    }
    return findings;
  },
);

export const sfnExecutionAlarms = stackRule(
  {
    name: "sfn-execution-alarms",
    description:
      "Every state machine has CloudWatch alarms on ExecutionsFailed and ExecutionsTimedOut (AWS/States, by StateMachineArn) that notify someone: a failed execution is an action that did not happen (Well-Architected Serverless Lens, operational excellence: alerts on failures).",
    remediation: "Use the Workflow component, or add the two MetricAlarms with alarmActions naming the platform's alarm topic.",
  },
  (args) => {
    const findings: Finding[] = [];
    const alarms = ofType(args, T.metricAlarm).filter((a) => a.props.namespace === "AWS/States");
    for (const machine of ofType(args, STATE_MACHINE)) {
      for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut"]) {
        const alarm = alarms.find((a) => a.props.metricName === metric && (a.props.dimensions as Record<string, unknown> | undefined)?.StateMachineArn === machine.props.arn);
        if (!alarm) findings.push({ urn: machine.urn, message: `state machine ${machine.name} has no alarm on ${metric}` });
        else if (!((alarm.props.alarmActions as unknown[] | undefined) ?? []).length) {
          findings.push({ urn: alarm.urn, message: `alarm ${alarm.name} on ${metric} of ${machine.name} notifies nobody (no alarmActions)` });
        }
      }
    }
    return findings;
  },
);
