import { ACCOUNT, doc, fn, fnArn, resource, type RuleCases } from "./fixtures";

// Secrets Manager, the DB subnet group, Aurora's engine version and capacity, the migration Invocation, a state
// machine's log destination and a stream's capacity (shared/infra/guardrails/rules/secrets-and-subnets.ts).

const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1111`;
const secretArn = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:dev-reporting-relational-a1b2c3`;
/** Pulumi's wire form of a value the program marked secret, as the mocks capture it. */
const secretValue = (value: string) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

const secret = (inputs: Record<string, unknown> = {}, stack = "dev") =>
  resource("aws:secretsmanager/secret:Secret", "reporting-relational-secret", { name: `${stack}-reporting-relational`, kmsKeyId: keyArn, recoveryWindowInDays: stack === "prod" ? 30 : 0, ...inputs }, { arn: secretArn }, stack);
const secretPolicy = (statement: Record<string, unknown>, inputs: Record<string, unknown> = {}) =>
  resource("aws:secretsmanager/secretPolicy:SecretPolicy", "reporting-secret-policy", {
    secretArn,
    blockPublicPolicy: true,
    policy: doc({ Sid: "Read", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*", ...statement } as never),
    ...inputs,
  });
const version = (secretString: unknown) =>
  resource("aws:secretsmanager/secretVersion:SecretVersion", "reporting-relational-secret-version", { secretId: secretArn, secretString });

// The network: an awsx VPC as the mocks capture it (one private subnet per zone), and plain EC2 subnets.
const vpc = (zones = 2, inputs: Record<string, unknown> = {}) =>
  resource("awsx:ec2:Vpc", "network", {
    numberOfAvailabilityZones: zones,
    privateSubnetIds: ["subnet-a", "subnet-b", "subnet-c"].slice(0, zones),
    publicSubnetIds: [],
    isolatedSubnetIds: [],
    ...inputs,
  });
const subnet = (id: string, availabilityZone: string, inputs: Record<string, unknown> = {}) =>
  resource("aws:ec2/subnet:Subnet", id, { availabilityZone, cidrBlock: "10.0.0.0/24", ...inputs }, { id });
const platformReference = (privateSubnetIds: string[]) =>
  resource("pulumi:pulumi:StackReference", "platform", { name: "organization/platform/dev" }, { outputs: { vpc: { enabled: true, vpcId: "vpc-1", privateSubnetIds } } });
const subnetGroup = (subnetIds: string[]) =>
  resource("aws:rds/subnetGroup:SubnetGroup", "relational-subnets", { name: "dev-platform-relational", subnetIds });

const cluster = (inputs: Record<string, unknown> = {}, scaling: Record<string, unknown> = {}) =>
  resource("aws:rds/cluster:Cluster", "relational", {
    engine: "aurora-postgresql",
    engineMode: "provisioned",
    engineVersion: "16.6",
    enableHttpEndpoint: true,
    serverlessv2ScalingConfiguration: { minCapacity: 0, maxCapacity: 2, secondsUntilAutoPause: 300, ...scaling },
    ...inputs,
  });

const migrations = { migrations: [{ name: "0001_create_revenue.sql", sql: "CREATE TABLE revenue (customer_id text PRIMARY KEY);" }] };
const invocation = (input: unknown, functionName = "dev-reporting-migrate") =>
  resource("aws:lambda/invocation:Invocation", "reporting-relational-migrations", { functionName, input: typeof input === "string" ? input : JSON.stringify(input) });
const migrate = fn("dev-reporting-migrate", { reservedConcurrentExecutions: 1 });
const permission = (inputs: Record<string, unknown>) =>
  resource("aws:lambda/permission:Permission", "migrate-permission", { action: "lambda:InvokeFunction", function: "dev-reporting-migrate", ...inputs });

const logGroupArn = `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/vendedlogs/states/dev-fulfilment-fulfil-order`;
const stateMachine = (logDestination: string, reuse: unknown = 300) =>
  resource("aws:sfn/stateMachine:StateMachine", "fulfil-order", {
    definition: JSON.stringify({ StartAt: "Done", States: { Done: { Type: "Succeed" } } }),
    loggingConfiguration: { level: "ERROR", logDestination, includeExecutionData: false },
    encryptionConfiguration: { type: "CUSTOMER_MANAGED_KMS_KEY", kmsKeyId: keyArn, kmsDataKeyReusePeriodSeconds: reuse },
  });
const stream = (inputs: Record<string, unknown>) =>
  resource("aws:kinesis/stream:Stream", "stream-ledger.entry-posted", { name: "dev-ledger-entry-posted", encryptionType: "KMS", kmsKeyId: keyArn, retentionPeriod: 24, ...inputs });

// A state machine with its role, as the Workflow component makes them (logging, tracing, the platform key).
const LOG_DELIVERY = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"];
const XRAY = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"];
const machineRoleArn = `arn:aws:iam::${ACCOUNT}:role/dev-fulfilment-fulfil-order`;
const machineRole = resource("aws:iam/role:Role", "fulfil-order-role", { name: "dev-fulfilment-fulfil-order" }, { arn: machineRoleArn });
const machinePolicy = (...statements: Record<string, unknown>[]) =>
  resource("aws:iam/rolePolicy:RolePolicy", "fulfil-order-policy", { role: "dev-fulfilment-fulfil-order", policy: doc(...(statements as never[])) });
const fullGrants = [
  { Sid: "LogDelivery", Effect: "Allow", Action: LOG_DELIVERY, Resource: "*" },
  { Sid: "XRay", Effect: "Allow", Action: XRAY, Resource: "*" },
  { Sid: "Key", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: keyArn },
];
const tracedMachine = (inputs: Record<string, unknown> = {}) =>
  resource("aws:sfn/stateMachine:StateMachine", "fulfil-order", {
    roleArn: machineRoleArn,
    definition: JSON.stringify({ StartAt: "Done", States: { Done: { Type: "Succeed" } } }),
    loggingConfiguration: { level: "ERROR", logDestination: `${logGroupArn}:*`, includeExecutionData: false },
    tracingConfiguration: { enabled: true },
    encryptionConfiguration: { type: "CUSTOMER_MANAGED_KMS_KEY", kmsKeyId: keyArn, kmsDataKeyReusePeriodSeconds: 300 },
    ...inputs,
  });

export const cases: RuleCases = {
  "sfn-role-allows-logs-tracing-key": {
    good: [
      [tracedMachine(), machineRole, machinePolicy(...fullGrants)],
      // nothing to grant when nothing is on
      [tracedMachine({ loggingConfiguration: { level: "OFF" }, tracingConfiguration: { enabled: false }, encryptionConfiguration: { type: "AWS_OWNED_KEY" } }), machineRole, machinePolicy({ Effect: "Allow", Action: "states:ListExecutions", Resource: "*" })],
    ],
    bad: [
      [[tracedMachine(), machineRole, machinePolicy(fullGrants[1]!, fullGrants[2]!)], /state machine fulfil-order's role fulfil-order-role: it logs \(level ERROR\) but may not logs:CreateLogDelivery, .*logs:DescribeLogGroups on "\*"/],
      [[tracedMachine(), machineRole, machinePolicy(fullGrants[0]!, fullGrants[2]!)], /it traces but may not xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSamplingRules, xray:GetSamplingTargets/],
      [[tracedMachine(), machineRole, machinePolicy(fullGrants[0]!, fullGrants[1]!, { ...fullGrants[2]!, Action: "kms:Decrypt" })], /it is encrypted with arn:aws:kms:eu-west-1:123456789012:key\/1111 but may not kms:GenerateDataKey on it/],
      [[tracedMachine(), machineRole, machinePolicy(fullGrants[0]!, fullGrants[1]!, { ...fullGrants[2]!, Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/2222` })], /may not kms:Decrypt, kms:GenerateDataKey on it/],
      [[tracedMachine()], /runs as arn:aws:iam::123456789012:role\/dev-fulfilment-fulfil-order, which this stack does not create/],
    ],
  },
  "secretsmanager-secret-customer-key": {
    good: [[secret()], [secret({ kmsKeyId: "alias/dev-platform", replicas: [{ region: "eu-central-1", kmsKeyId: "alias/dev-platform" }] })]],
    bad: [
      [[secret({ kmsKeyId: undefined })], /secret reporting-relational-secret is encrypted with the AWS managed key aws\/secretsmanager \(no kmsKeyId\)/],
      [[secret({ kmsKeyId: "alias/aws/secretsmanager" })], /is encrypted with alias\/aws\/secretsmanager: use a customer managed key/],
      [[secret({ replicas: [{ region: "eu-central-1" }] })], /replicates to eu-central-1 under aws\/secretsmanager/],
    ],
  },
  "secretsmanager-secret-recovery-window": {
    good: [[secret()], [secret({}, "prod")], [secret({ recoveryWindowInDays: 7 }, "prod")], [secret({ recoveryWindowInDays: undefined }, "prod")]],
    bad: [
      [[secret({ recoveryWindowInDays: 3 })], /secret reporting-relational-secret sets recoveryWindowInDays 3: Secrets Manager accepts 0 or 7 to 30/],
      [[secret({ recoveryWindowInDays: 45 }, "prod")], /sets recoveryWindowInDays 45/],
      [[secret({ recoveryWindowInDays: 0 }, "prod")], /is deleted without recovery \(recoveryWindowInDays 0\) in production stage prod/],
    ],
  },
  "secretsmanager-secret-policy-not-public": {
    good: [
      [secret()],
      [secretPolicy({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/dev-reporting-on-entry-posted` } })],
      [secretPolicy({ Principal: "*", Condition: { StringEquals: { "aws:PrincipalAccount": ACCOUNT } } })],
    ],
    bad: [
      [[secretPolicy({ Principal: "*" })], /secret policy of reporting-secret-policy: statement Read allows everyone \(Principal "\*"\)/],
      [[secretPolicy({ Principal: { AWS: "*" } })], /allows everyone/],
      [[secretPolicy({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } }, { blockPublicPolicy: false })], /does not set blockPublicPolicy/],
      // the secret's own policy property is read the same way
      [[secret({ policy: doc({ Sid: "Open", Effect: "Allow", Principal: "*", Action: "secretsmanager:GetSecretValue", Resource: "*" }) })], /statement Open allows everyone/],
    ],
  },
  "secretsmanager-secret-version-not-plain": {
    good: [[version(secretValue(JSON.stringify({ username: "reporting", password: "x".repeat(40) })))], [secret()]],
    bad: [
      [[version(JSON.stringify({ username: "reporting", password: "hunter2" }))], /secret version reporting-relational-secret-version sets secretString as a plain value/],
      [[version("from-plain-config")], /sets secretString as a plain value: generate it and mark it secret/],
    ],
  },
  "rds-subnet-group-private-multi-az": {
    good: [
      [vpc(), subnetGroup(["subnet-a", "subnet-b"])],
      // a service stack: the platform's private subnets, read through its stack reference
      [platformReference(["subnet-a", "subnet-b"]), subnetGroup(["subnet-a", "subnet-b"])],
      [subnet("subnet-1", "eu-west-1a"), subnet("subnet-2", "eu-west-1b"), subnetGroup(["subnet-1", "subnet-2"])],
    ],
    bad: [
      [[vpc(), subnetGroup(["subnet-a"])], /DB subnet group relational-subnets has 1 subnet; RDS needs subnets in at least two availability zones/],
      [[vpc(), subnetGroup([])], /has 0 subnets/],
      [[vpc(), subnetGroup(["subnet-a", "subnet-elsewhere"])], /names subnets that are neither this stack's nor the platform's \(subnet-elsewhere\)/],
      [[platformReference(["subnet-a", "subnet-b"]), subnetGroup(["subnet-a"])], /has 1 subnet/],
      [[vpc(2, { publicSubnetIds: ["subnet-p1", "subnet-p2"] }), subnetGroup(["subnet-p1", "subnet-p2"])], /names public subnets \(subnet-p1, subnet-p2\)/],
      [[subnet("subnet-1", "eu-west-1a"), subnet("subnet-2", "eu-west-1a"), subnetGroup(["subnet-1", "subnet-2"])], /has all its subnets in one availability zone/],
      [[subnet("subnet-1", "eu-west-1a"), subnet("subnet-2", "eu-west-1b", { mapPublicIpOnLaunch: true }), subnetGroup(["subnet-1", "subnet-2"])], /names public subnets \(subnet-2\)/],
    ],
  },
  "rds-aurora-version-supports-features": {
    good: [
      [cluster()],
      [cluster({ engineVersion: "13.15" })],
      [cluster({ engineVersion: "17.4" })],
      [cluster({ engineVersion: "15.5" }, { minCapacity: 0.5, secondsUntilAutoPause: undefined })],
      [cluster({ engine: "aurora-mysql", engineVersion: "8.0.mysql_aurora.3.08.0" })],
      [cluster({ engineVersion: "14.3", enableHttpEndpoint: false }, { minCapacity: 1 })],
    ],
    bad: [
      // the Data API from 16.1, 0 ACUs from 16.3
      [[cluster({ engineVersion: "16.2" })], /cluster relational runs aurora-postgresql 16\.2, which does not support a minimum capacity of 0 ACUs$/],
      [[cluster({ engineVersion: "15.2" })], /runs aurora-postgresql 15\.2, which does not support the RDS Data API or a minimum capacity of 0 ACUs/],
      [[cluster({ engineVersion: "14.7" }, { minCapacity: 0.5 })], /14\.7, which does not support the RDS Data API$/],
      [[cluster({ engineVersion: "12.9" })], /12\.9, which does not support the RDS Data API or a minimum capacity of 0 ACUs/],
      [[cluster({ engine: "aurora-mysql", engineVersion: "8.0.mysql_aurora.3.07.1" })], /3\.07\.1, which does not support a minimum capacity of 0 ACUs/],
      [[cluster({ engineVersion: undefined })], /uses the RDS Data API and a minimum capacity of 0 ACUs without an engineVersion/],
    ],
  },
  "rds-serverless-capacity-accepted": {
    good: [[cluster()], [cluster({}, { minCapacity: 0.5, maxCapacity: 256, secondsUntilAutoPause: undefined })], [cluster({ serverlessv2ScalingConfiguration: undefined })]],
    bad: [
      [[cluster({}, { maxCapacity: 0.5 })], /cluster relational: maxCapacity 0\.5 is not 1 to 256 in steps of 0\.5/],
      [[cluster({}, { minCapacity: 1.25 })], /minCapacity 1\.25 is not 0 to 256 in steps of 0\.5/],
      [[cluster({}, { minCapacity: 8, maxCapacity: 4 })], /minCapacity 8 is above maxCapacity 4/],
      [[cluster({}, { secondsUntilAutoPause: 60 })], /secondsUntilAutoPause 60 is not 300 to 86400/],
      [[cluster({}, { maxCapacity: undefined })], /sets no maxCapacity/],
    ],
  },
  "lambda-invocation-input-no-secrets": {
    good: [[invocation(migrations)], [invocation({ secretArn, roleSecretId: secretArn })]],
    bad: [
      [[invocation({ ...migrations, password: "hunter2" })], /invocation reporting-relational-migrations has credentials in its input: password/],
      [[invocation({ migrations: [{ name: "0002_role.sql", sql: "ALTER ROLE reporting PASSWORD 'hunter2';" }] })], /migrations\[0\]\.sql \(SQL that sets a PASSWORD\)/],
      [[invocation({ database: { url: "postgres://admin:hunter2@db.internal:5432/platform" } })], /database\.url \(a URL with a password\)/],
      [[invocation({ auth: { apiKey: "abc" } })], /auth\.apiKey/],
    ],
  },
  "lambda-invocation-payload-limit": {
    good: [[invocation(migrations)], [invocation({ sql: "x".repeat(6 * 1024 * 1024 - 20) })]],
    bad: [[[invocation({ sql: "x".repeat(6 * 1024 * 1024) })], /invocation reporting-relational-migrations sends 629\d{4} bytes; Lambda accepts at most 6291456/]],
  },
  "lambda-invocation-function-private": {
    good: [
      [migrate, invocation(migrations)],
      [migrate, invocation(migrations, fnArn("dev-reporting-migrate"))],
      // a permission for a service with its source is not public
      [migrate, invocation(migrations), permission({ principal: "events.amazonaws.com", sourceArn: `arn:aws:events:eu-west-1:${ACCOUNT}:rule/r` })],
    ],
    bad: [
      [[invocation(migrations)], /invocation reporting-relational-migrations invokes dev-reporting-migrate, which this stack does not create/],
      [[migrate, invocation(migrations), permission({ principal: "*" })], /runs function dev-reporting-migrate, which is public: permission migrate-permission lets anyone invoke it/],
      [
        [migrate, invocation(migrations), resource("aws:lambda/functionUrl:FunctionUrl", "migrate-url", { functionName: "dev-reporting-migrate", authorizationType: "NONE" })],
        /function URL migrate-url takes unauthenticated requests/,
      ],
    ],
  },
  "sfn-log-destination-accepted": {
    good: [[stateMachine(`${logGroupArn}:*`)], [stateMachine(`${logGroupArn}:*`, 900)]],
    bad: [
      [[stateMachine(logGroupArn)], /state machine fulfil-order logs to arn:aws:logs:.*fulfil-order, not a log group ARN ending in ":\*"/],
      [[stateMachine(`${logGroupArn}:*`, 30)], /reuses its data key 30 seconds \(60 to 900\)/],
    ],
  },
  "kinesis-stream-capacity-accepted": {
    good: [[stream({ shardCount: 1, streamModeDetails: { streamMode: "PROVISIONED" } })], [stream({ streamModeDetails: { streamMode: "ON_DEMAND" } })], [stream({ shardCount: 2 })]],
    bad: [
      [[stream({ streamModeDetails: { streamMode: "PROVISIONED" } })], /stream stream-ledger\.entry-posted is PROVISIONED with shardCount unset: set 1 or more/],
      [[stream({ shardCount: 0 })], /PROVISIONED with shardCount 0/],
      [[stream({ shardCount: 2, streamModeDetails: { streamMode: "ON_DEMAND" } })], /is ON_DEMAND and sets shardCount 2/],
    ],
  },
};
