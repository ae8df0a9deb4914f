import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { EventType } from "../contract";
import { LOG_DELIVERY_ACTIONS, WORKFLOW_KEY_ACTIONS, WORKFLOW_XRAY_ACTIONS } from "./helpers/workflow-grants";
import { alarmToTopic } from "./helpers/alarms";
import { checkLogicalName, checkName, serviceResourceBase, VENDED_LOGS_PREFIX } from "./helpers/names";
import type { PolicyDocument, PolicyStatement } from "./helpers/policy-document";
import { applyTransform, type Transform } from "./helpers/transform";
import type { PlatformReference } from "./platform-reference";
import type { ServiceFunction } from "./service-function";
import { validateAsl, WorkflowDefinitionError, type AslDefinition, type WorkflowDefinition, type WorkflowType } from "./workflow";

/** Pulumi type token of the component; the local stage finds workflows by it. */
export const WORKFLOW_TYPE = "platform:infra:Workflow";
export { LOG_DELIVERY_ACTIONS, WORKFLOW_KEY_ACTIONS, WORKFLOW_XRAY_ACTIONS };

/** How much of each execution Step Functions logs (its `LogLevel`; OFF is not offered: guardrail `sfn-logging-enabled`). */
export const WORKFLOW_LOG_LEVELS = ["ALL", "ERROR", "FATAL"] as const;
export type WorkflowLogLevel = (typeof WORKFLOW_LOG_LEVELS)[number];

/** The service stage config keys the workflow component reads (`<service>:<key>` in `Pulumi.<stage>.yaml`). */
export const WORKFLOW_CONFIG = {
  /** `ALL`, `ERROR` or `FATAL`. @default "ERROR" */
  logLevel: "workflowLogLevel",
  /** Whether log events carry the execution data (inputs, outputs). @default false */
  includeExecutionData: "workflowLogExecutionData",
} as const;

/** Data keys are reused for this long before Step Functions asks KMS for a new one (60 to 900). */
export const KMS_DATA_KEY_REUSE_SECONDS = 300;

export interface WorkflowArgs {
  platform: PlatformReference;
  service: string;
  /** The workflow's logical name in its service (kebab-case). */
  name: string;
  definition: WorkflowDefinition;
  /** The functions its `invoke` states run, by logical name. */
  functions: Record<string, ServiceFunction>;
  /** @default the `workflowLogLevel` stage config value, else "ERROR" */
  logLevel?: WorkflowLogLevel;
  /** @default the `workflowLogExecutionData` stage config value, else false */
  includeExecutionData?: boolean;
  transform?: {
    logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
    role?: Transform<aws.iam.RoleArgs>;
    policy?: Transform<aws.iam.RolePolicyArgs>;
    stateMachine?: Transform<aws.sfn.StateMachineArgs>;
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
  };
}

/** What the component registers as its inputs (the local stage reads them beside the state machine). */
export interface WorkflowRegistration {
  service: string;
  name: string;
  type: WorkflowType;
  /** The state machine's AWS name, `<stage>-<service>-<name>`. */
  stateMachineName: string;
  /** Logical names of the functions its states invoke. */
  invokes: string[];
  /** Events its states publish. */
  publishes: EventType[];
  publishesFailures: boolean;
}

/** `arn:<partition>:states:<region>:<account>:stateMachine:<name>`: known before the state machine exists. */
export function stateMachineArn(region: string, account: string, name: string, partition = "aws"): string {
  return `arn:${partition}:states:${region}:${account}:stateMachine:${name}`;
}

/** The trust policy of a state machine role: Step Functions, for state machines of this account only. */
export function statesAssumeRolePolicy(account: string, machineArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "states.amazonaws.com" },
        Action: "sts:AssumeRole",
        // Confused-deputy prevention (IAM user guide): only this state machine of this account assumes it.
        Condition: { StringEquals: { "aws:SourceAccount": account }, ArnLike: { "aws:SourceArn": machineArn } },
      },
    ],
  };
}

/** Every ARN the role of a state machine names. */
export interface WorkflowGrantTargets {
  stateMachineArn: string;
  functionArns: string[];
  topicArns: string[];
  failureTopicArn: string | undefined;
  eventsKeyArn: string;
  region: string;
  account: string;
  tracing: boolean;
}

/** The role's statements: exactly what the states do, on exactly the ARNs they name. Pure (tests compare it whole). */
export function workflowGrantStatements(t: WorkflowGrantTargets): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  if (t.functionArns.length) {
    statements.push({ Sid: "InvokeOwnFunctions", Effect: "Allow", Action: "lambda:InvokeFunction", Resource: single(t.functionArns) });
  }
  if (t.topicArns.length) statements.push({ Sid: "PublishOwnedEvents", Effect: "Allow", Action: "sns:Publish", Resource: single(t.topicArns) });
  if (t.failureTopicArn) statements.push({ Sid: "PublishFailureEvents", Effect: "Allow", Action: "sns:Publish", Resource: t.failureTopicArn });
  if (t.topicArns.length || t.failureTopicArn) {
    // The platform's topics are encrypted with its key: SNS needs a data key from it for the publisher.
    statements.push({ Sid: "EncryptForEventTopics", Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: t.eventsKeyArn });
  }
  statements.push({
    Sid: "UseStateMachineKey",
    Effect: "Allow",
    Action: [...WORKFLOW_KEY_ACTIONS],
    Resource: t.eventsKeyArn,
    Condition: { StringEquals: { "kms:EncryptionContext:aws:states:stateMachineArn": t.stateMachineArn } },
  });
  statements.push({
    Sid: "EncryptLogDeliveries",
    Effect: "Allow",
    Action: "kms:GenerateDataKey",
    Resource: t.eventsKeyArn,
    Condition: { StringLike: { "kms:EncryptionContext:SourceArn": `arn:aws:logs:${t.region}:${t.account}:*` } },
  });
  statements.push({ Sid: "DeliverLogs", Effect: "Allow", Action: [...LOG_DELIVERY_ACTIONS], Resource: "*" });
  if (t.tracing) statements.push({ Sid: "SendTraces", Effect: "Allow", Action: [...WORKFLOW_XRAY_ACTIONS], Resource: "*" });
  return statements;
}

function single(list: string[]): string | string[] {
  return list.length === 1 ? list[0]! : list;
}

function readStageSettings(args: WorkflowArgs): { level: WorkflowLogLevel; includeExecutionData: boolean } {
  const config = new pulumi.Config();
  const level = args.logLevel ?? (config.get(WORKFLOW_CONFIG.logLevel) as WorkflowLogLevel | undefined) ?? "ERROR";
  if (!WORKFLOW_LOG_LEVELS.includes(level)) {
    throw new WorkflowDefinitionError(
      `${config.name}:${WORKFLOW_CONFIG.logLevel} is "${level}"; use one of ${WORKFLOW_LOG_LEVELS.join(", ")} (workflows always log)`,
    );
  }
  const includeExecutionData = args.includeExecutionData ?? config.getBoolean(WORKFLOW_CONFIG.includeExecutionData) ?? false;
  return { level, includeExecutionData };
}

/**
 * One workflow of a service: a Step Functions state machine (Standard by default) whose definition is the workflow's
 * ASL with its functions' and topics' ARNs resolved, logging to its own log group under `/aws/vendedlogs/states/`
 * at the stage's level, X-Ray tracing as the platform traces, encrypted with the platform's key; its own role with
 * exactly what its states do; alarms on failed and timed-out executions to the platform's alarm topic.
 * Functions that start it get `states:StartExecution` on it from the service (`starts`), not from here.
 */
export class Workflow extends pulumi.ComponentResource {
  readonly registration: WorkflowRegistration;
  /** The state machine's ARN, computed from its name (known before it exists, so a starter never waits on it). */
  readonly arn: pulumi.Output<string>;
  private readonly machine: aws.sfn.StateMachine;
  private readonly role: aws.iam.Role;
  private readonly policy: aws.iam.RolePolicy;
  private readonly logGroup: aws.cloudwatch.LogGroup;
  private readonly alarms: aws.cloudwatch.MetricAlarm[];

  constructor(componentName: string, args: WorkflowArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const name = checkLogicalName("workflow name", args.name);
    const machineName = checkName("stateMachine", serviceResourceBase(args.service, name), "shorten the service or workflow name");
    const roleName = checkName("role", `${machineName}-workflow`, "shorten the service or workflow name");
    const { definition, platform } = args;
    for (const fn of definition.invokes) {
      if (!args.functions[fn]) throw new WorkflowDefinitionError(`workflow ${args.service}/${name} invokes "${fn}", which the service does not define`);
    }
    const registration: WorkflowRegistration = {
      service: args.service,
      name,
      type: definition.type,
      stateMachineName: machineName,
      invokes: [...definition.invokes],
      publishes: [...definition.publishes],
      publishesFailures: definition.publishesFailures,
    };
    super(WORKFLOW_TYPE, componentName, registration, opts);
    this.registration = registration;
    const parent = { parent: this };
    const settings = readStageSettings(args);

    const region = platform.get("region");
    const account = platform.get("accountId");
    this.arn = pulumi.all([region, account]).apply(([r, a]) => stateMachineArn(r, a, machineName));

    this.logGroup = new aws.cloudwatch.LogGroup(
      ...applyTransform(
        args.transform?.logGroup,
        `${componentName}-logs`,
        // Under /aws/vendedlogs/: the account's CloudWatch Logs resource policy (5,120 characters) does not grow per log group.
        { name: `${VENDED_LOGS_PREFIX}states/${machineName}`, retentionInDays: platform.logs.retentionDays },
        { ...parent },
      ),
    );

    this.role = new aws.iam.Role(
      ...applyTransform(
        args.transform?.role,
        `${componentName}-role`,
        {
          name: roleName,
          description: `Runs workflow ${args.service}/${name}: only what its states do`,
          assumeRolePolicy: pulumi.all([account, this.arn]).apply(([a, arn]) => JSON.stringify(statesAssumeRolePolicy(a, arn))),
        },
        { ...parent },
      ),
    );

    const functionArns = pulumi.all(definition.invokes.map((fn) => args.functions[fn]!.arn));
    const topics = platform.get("eventTopics");
    this.policy = new aws.iam.RolePolicy(
      ...applyTransform(
        args.transform?.policy,
        `${componentName}-policy`,
        {
          role: this.role.name,
          name: "least-privilege",
          policy: pulumi
            .all([this.arn, functionArns, topics, platform.failureTopic, platform.eventsKeyArn, region, account, platform.tracing])
            .apply(([arn, fnArns, eventTopics, failureTopic, keyArn, r, a, tracing]) =>
              JSON.stringify({
                Version: "2012-10-17",
                Statement: workflowGrantStatements({
                  stateMachineArn: arn,
                  functionArns: fnArns,
                  topicArns: definition.publishes.map((type) => topicArnOf(eventTopics, type)),
                  failureTopicArn: definition.publishesFailures ? failureTopic.arn : undefined,
                  eventsKeyArn: keyArn,
                  region: r,
                  account: a,
                  tracing: tracing.mode === "Active",
                }),
              } satisfies PolicyDocument),
            ),
        },
        { ...parent },
      ),
    );

    const asl: pulumi.Output<AslDefinition> = pulumi
      .all([functionArns, topics, platform.failureTopic])
      .apply(([fnArns, eventTopics, failureTopic]) => {
        const byName = new Map(definition.invokes.map((fn, i) => [fn, fnArns[i]!]));
        const document = definition.toAsl({
          service: args.service,
          workflow: name,
          functionArn: (fn) => byName.get(fn)!,
          topicArn: (type) => topicArnOf(eventTopics, type),
          failureTopicArn: failureTopic.arn,
        });
        validateAsl(document, `workflow ${args.service}/${name}`);
        return document;
      });

    this.machine = new aws.sfn.StateMachine(
      ...applyTransform(
        args.transform?.stateMachine,
        `${componentName}-state-machine`,
        {
          name: machineName,
          type: definition.type === "express" ? "EXPRESS" : "STANDARD",
          roleArn: this.role.arn,
          definition: asl.apply((document) => JSON.stringify(document)),
          loggingConfiguration: {
            logDestination: pulumi.interpolate`${this.logGroup.arn}:*`,
            level: settings.level,
            includeExecutionData: settings.includeExecutionData,
          },
          tracingConfiguration: { enabled: platform.tracing.apply((t) => t.mode === "Active") },
          encryptionConfiguration: {
            type: "CUSTOMER_MANAGED_KMS_KEY",
            kmsKeyId: platform.eventsKeyArn,
            kmsDataKeyReusePeriodSeconds: KMS_DATA_KEY_REUSE_SECONDS,
          },
        },
        // The role must hold its permissions before Step Functions checks them at creation.
        { ...parent, dependsOn: [this.policy] },
      ),
    );

    const alarmTarget = { alarmTopicArn: platform.alarmTopic.arn, transform: args.transform?.alarm, opts: parent };
    const alarmOn = (metric: "ExecutionsFailed" | "ExecutionsTimedOut", suffix: string, what: string) =>
      alarmToTopic(
        `${componentName}-${suffix}-alarm`,
        {
          name: `${machineName}-${suffix}`,
          alarmDescription: `Workflow ${args.service}/${name}: ${what}. Open the execution in the Step Functions console (its history names the state and the error).`,
          namespace: "AWS/States",
          metricName: metric,
          dimensions: { StateMachineArn: this.machine.arn },
          statistic: "Sum",
          period: 60,
          evaluationPeriods: 1,
          threshold: 0,
          comparisonOperator: "GreaterThanThreshold",
          treatMissingData: "notBreaching",
        },
        alarmTarget,
      );
    this.alarms = [alarmOn("ExecutionsFailed", "failed", "executions failed"), alarmOn("ExecutionsTimedOut", "timed-out", "executions timed out")];

    this.registerOutputs({ arn: this.machine.arn, name: this.machine.name, roleArn: this.role.arn });
  }

  /** The state machine's AWS name. */
  get name(): pulumi.Output<string> {
    return this.machine.name;
  }

  /** The raw child resources. */
  get nodes(): {
    stateMachine: aws.sfn.StateMachine;
    role: aws.iam.Role;
    policy: aws.iam.RolePolicy;
    logGroup: aws.cloudwatch.LogGroup;
    alarms: aws.cloudwatch.MetricAlarm[];
  } {
    return { stateMachine: this.machine, role: this.role, policy: this.policy, logGroup: this.logGroup, alarms: this.alarms };
  }
}

function topicArnOf(topics: Partial<Record<EventType, { arn: string }>>, type: EventType): string {
  const topic = topics[type];
  if (!topic) throw new WorkflowDefinitionError(`the platform has no topic for ${type}: deploy the platform with the current catalog`);
  return topic.arn;
}

/** The statement that lets a function start the workflows it names: exactly StartExecution on exactly those state machines. */
export function startExecutionStatements(machineArns: string[], eventsKeyArn: string): PolicyStatement[] {
  if (machineArns.length === 0) return [];
  return [
    { Sid: "StartOwnWorkflows", Effect: "Allow", Action: "states:StartExecution", Resource: single(machineArns) },
    {
      // The state machines are encrypted with the platform's key: StartExecution encrypts the input with a data key
      // Step Functions asks for on the caller's behalf, for these state machines only.
      Sid: "EncryptWorkflowInput",
      Effect: "Allow",
      Action: "kms:GenerateDataKey",
      Resource: eventsKeyArn,
      Condition: { StringEquals: { "kms:EncryptionContext:aws:states:stateMachineArn": single(machineArns) } },
    },
  ];
}
