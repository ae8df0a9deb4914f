import { ACCOUNT, doc, fn, fnArn, resource, type RuleCases } from "./fixtures";

const machineArn = (name: string) => `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:${name}`;
const publishedTopic = `arn:aws:sns:eu-west-1:${ACCOUNT}:dev-billing-invoice-issued`;
const otherTopic = `arn:aws:sns:eu-west-1:${ACCOUNT}:dev-orders-order-placed`;
const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234`;
const logs = `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/vendedlogs/states/dev-billing-issue:*`;

const definition = JSON.stringify({
  StartAt: "Steps",
  States: {
    Steps: {
      Type: "Parallel",
      Branches: [{ StartAt: "Reserve", States: { Reserve: { Type: "Task", Resource: fnArn("dev-billing-reserve"), End: true } } }],
      Next: "Issued",
    },
    Issued: { Type: "Task", Resource: "arn:aws:states:::sns:publish", Parameters: { TopicArn: publishedTopic, Message: {} }, End: true },
  },
});

const machine = (inputs: Record<string, any> = {}, name = "dev-billing-issue") =>
  resource(
    "aws:sfn/stateMachine:StateMachine",
    name,
    {
      name,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${name}-workflow`,
      definition,
      loggingConfiguration: { level: "ERROR", includeExecutionData: false, logDestination: logs },
      tracingConfiguration: { enabled: true },
      encryptionConfiguration: { type: "CUSTOMER_MANAGED_KMS_KEY", kmsKeyId: keyArn, kmsDataKeyReusePeriodSeconds: 300 },
      ...inputs,
    },
    { arn: machineArn(name) },
  );
const role = (name: string) => resource("aws:iam/role:Role", name, { name }, { arn: `arn:aws:iam::${ACCOUNT}:role/${name}` });
const rolePolicy = (roleName: string, policyName: string, ...statements: Parameters<typeof doc>) =>
  resource("aws:iam/rolePolicy:RolePolicy", `${roleName}-${policyName}`, { role: roleName, name: policyName, policy: doc(...statements) });

const machineRole = role("dev-billing-issue-workflow");
const invoke = { Sid: "InvokeOwnFunctions", Effect: "Allow" as const, Action: "lambda:InvokeFunction", Resource: fnArn("dev-billing-reserve") };
const publishOwn = { Sid: "PublishOwnedEvents", Effect: "Allow" as const, Action: "sns:Publish", Resource: publishedTopic };
const support = [
  { Sid: "UseStateMachineKey", Effect: "Allow" as const, Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: keyArn },
  { Sid: "DeliverLogs", Effect: "Allow" as const, Action: ["logs:CreateLogDelivery", "logs:GetLogDelivery"], Resource: "*" },
  { Sid: "SendTraces", Effect: "Allow" as const, Action: ["xray:PutTraceSegments", "xray:GetSamplingRules"], Resource: "*" },
];

const alarm = (metric: string, inputs: Record<string, any> = {}) =>
  resource("aws:cloudwatch/metricAlarm:MetricAlarm", `issue-${metric}`, {
    namespace: "AWS/States",
    metricName: metric,
    dimensions: { StateMachineArn: machineArn("dev-billing-issue") },
    alarmActions: [`arn:aws:sns:eu-west-1:${ACCOUNT}:dev-platform-alarms`],
    ...inputs,
  });

const starterRole = role("dev-billing-on-order");
const starter = (workflows: Record<string, string> | undefined) =>
  fn("dev-billing-on-order", {
    role: starterRole.state.arn,
    environment: { variables: workflows ? { PLATFORM_WORKFLOWS: JSON.stringify(workflows) } : {} },
  });
const startGrant = (resourceArn: string) =>
  rolePolicy("dev-billing-on-order", "start-workflows", { Sid: "StartOwnWorkflows", Effect: "Allow", Action: "states:StartExecution", Resource: resourceArn });

export const cases: RuleCases = {
  "sfn-logging-enabled": {
    good: [[machine()]],
    bad: [
      [[machine({ loggingConfiguration: { level: "OFF", logDestination: logs } })], /state machine dev-billing-issue does not log its executions \(loggingConfiguration level OFF\)/],
      [[machine({ loggingConfiguration: undefined })], /does not log its executions \(loggingConfiguration level unset\)/],
      [
        [machine({ loggingConfiguration: { level: "ALL", logDestination: `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/states/issue:*` } })],
        /logs to \/states\/issue, outside \/aws\/vendedlogs\//,
      ],
    ],
  },
  "sfn-tracing-enabled": {
    good: [[machine()]],
    bad: [
      [[machine({ tracingConfiguration: { enabled: false } })], /state machine dev-billing-issue does not trace with X-Ray/],
      [[machine({ tracingConfiguration: undefined })], /does not trace with X-Ray/],
    ],
  },
  "sfn-encrypted-customer-key": {
    good: [[machine()]],
    bad: [
      [[machine({ encryptionConfiguration: { type: "AWS_OWNED_KEY" } })], /dev-billing-issue is not encrypted with a customer managed key \(encryptionConfiguration type AWS_OWNED_KEY\)/],
      [[machine({ encryptionConfiguration: undefined })], /encryptionConfiguration type unset/],
    ],
  },
  "sfn-role-least-privilege": {
    good: [[machine(), machineRole, rolePolicy(machineRole.name, "least-privilege", invoke, publishOwn, ...support)]],
    bad: [
      [
        [machine(), machineRole, rolePolicy(machineRole.name, "least-privilege", { ...invoke, Resource: [fnArn("dev-billing-reserve"), fnArn("dev-orders-create")] }, publishOwn)],
        /may invoke arn:aws:lambda:eu-west-1:123456789012:function:dev-orders-create, which no Task state of dev-billing-issue runs/,
      ],
      [
        [machine(), machineRole, rolePolicy(machineRole.name, "least-privilege", { ...invoke, Resource: "*" }, publishOwn)],
        /may invoke \*, which no Task state/,
      ],
      [
        [machine(), machineRole, rolePolicy(machineRole.name, "least-privilege", invoke, { ...publishOwn, Resource: [publishedTopic, otherTopic] })],
        /may publish to arn:aws:sns:eu-west-1:123456789012:dev-orders-order-placed, which no Task state of dev-billing-issue publishes to/,
      ],
      [
        [machine(), machineRole, rolePolicy(machineRole.name, "least-privilege", invoke, publishOwn, { Effect: "Allow", Action: "dynamodb:PutItem", Resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/t" })],
        /allows dynamodb:PutItem, which no state of dev-billing-issue uses/,
      ],
      [[machine(), machineRole, rolePolicy(machineRole.name, "least-privilege", publishOwn)], /runs arn:aws:lambda:eu-west-1:123456789012:function:dev-billing-reserve, which its role dev-billing-issue-workflow may not invoke/],
    ],
  },
  "sfn-start-grant-scoped": {
    good: [
      [starterRole, starter({ issue: machineArn("dev-billing-issue") }), startGrant(machineArn("dev-billing-issue"))],
      // Functions that start nothing hold nothing.
      [starterRole, starter(undefined)],
    ],
    bad: [
      [[starterRole, starter({ issue: machineArn("dev-billing-issue") }), startGrant(`arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:*`)], /may start executions of arn:aws:states:eu-west-1:123456789012:stateMachine:\*: name exact state machine ARNs/],
      [[starterRole, starter(undefined), startGrant(machineArn("dev-billing-issue"))], /may start arn:aws:states:eu-west-1:123456789012:stateMachine:dev-billing-issue, but function dev-billing-on-order does not name it in PLATFORM_WORKFLOWS/],
      [[starterRole, starter({ issue: machineArn("dev-billing-issue") })], /function dev-billing-on-order names arn:aws:states:eu-west-1:123456789012:stateMachine:dev-billing-issue in PLATFORM_WORKFLOWS but its role dev-billing-on-order may not start it/],
    ],
  },
  "sfn-execution-alarms": {
    good: [[machine(), alarm("ExecutionsFailed"), alarm("ExecutionsTimedOut")]],
    bad: [
      [[machine(), alarm("ExecutionsFailed")], /state machine dev-billing-issue has no alarm on ExecutionsTimedOut/],
      [[machine()], /has no alarm on ExecutionsFailed/],
      [[machine(), alarm("ExecutionsFailed", { alarmActions: [] }), alarm("ExecutionsTimedOut")], /alarm issue-ExecutionsFailed on ExecutionsFailed of dev-billing-issue notifies nobody/],
    ],
  },
};
