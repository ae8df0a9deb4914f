import { ACCOUNT, fn, resource, type RuleCases } from "./fixtures";

// The relational store and the functions that use it (shared/infra/guardrails/rules/relational.ts).

const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1111`;
const clusterArn = `arn:aws:rds:eu-west-1:${ACCOUNT}:cluster:dev-platform-relational`;
const secretArn = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:dev-reporting-relational-a1b2c3`;

/** A cluster as platform/relational.ts makes it in a stage without deletion protection. */
const cluster = (inputs: Record<string, any> = {}, stack = "dev") =>
  resource(
    "aws:rds/cluster:Cluster",
    "relational",
    {
      clusterIdentifier: `${stack}-platform-relational`,
      engine: "aurora-postgresql",
      engineMode: "provisioned",
      engineVersion: "16.6",
      manageMasterUserPassword: true,
      masterUserSecretKmsKeyId: keyArn,
      storageEncrypted: true,
      kmsKeyId: keyArn,
      enableHttpEndpoint: true,
      serverlessv2ScalingConfiguration: { minCapacity: 0, maxCapacity: 2, secondsUntilAutoPause: 300 },
      backupRetentionPeriod: 1,
      deletionProtection: false,
      skipFinalSnapshot: true,
      ...inputs,
    },
    { arn: clusterArn },
    stack,
  );
/** The same in prod: protected, a week of backups or more, capacity kept warm. */
const prodCluster = (inputs: Record<string, any> = {}) =>
  cluster(
    {
      backupRetentionPeriod: 14,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "prod-platform-relational-final",
      serverlessv2ScalingConfiguration: { minCapacity: 0.5, maxCapacity: 16 },
      ...inputs,
    },
    "prod",
  );
const instance = (inputs: Record<string, any> = {}) =>
  resource("aws:rds/clusterInstance:ClusterInstance", "relational-instance", { instanceClass: "db.serverless", publiclyAccessible: false, ...inputs });
/** A function of a relational service: names and ARNs, no password. */
const relationalFn = (variables: Record<string, string> = {}) =>
  fn("dev-reporting-get-report", {
    environment: {
      variables: {
        PLATFORM_RELATIONAL_CLUSTER_ARN: clusterArn,
        PLATFORM_RELATIONAL_SECRET_ARN: secretArn,
        PLATFORM_RELATIONAL_DATABASE: "platform",
        PLATFORM_RELATIONAL_SCHEMA: "reporting",
        ...variables,
      },
    },
  });

export const cases: RuleCases = {
  "rds-cluster-encrypted-customer-key": {
    good: [[cluster()], [cluster({ kmsKeyId: "alias/dev-events", masterUserSecretKmsKeyId: "alias/dev-events" })], [prodCluster()]],
    bad: [
      [[cluster({ storageEncrypted: false })], /cluster relational does not encrypt its storage/],
      [[cluster({ storageEncrypted: undefined, kmsKeyId: undefined })], /does not encrypt its storage/],
      [[cluster({ kmsKeyId: undefined })], /encrypts its storage with the AWS managed key \(no kmsKeyId\), not a customer managed key/],
      [[cluster({ kmsKeyId: "alias/aws/rds" })], /encrypts its storage with alias\/aws\/rds, not a customer managed key/],
      [[cluster({ masterUserSecretKmsKeyId: undefined })], /keeps its master password's secret under the AWS managed key/],
    ],
  },
  "rds-cluster-protected-in-production": {
    good: [[cluster()], [prodCluster()], [cluster({ backupRetentionPeriod: 35 })]],
    bad: [
      [[cluster({ backupRetentionPeriod: undefined })], /cluster relational sets no backupRetentionPeriod/],
      [[prodCluster({ deletionProtection: false })], /cluster relational has no deletion protection/],
      [[prodCluster({ backupRetentionPeriod: 1 })], /keeps backups 1 days \(at least 7 in production\)/],
      [[prodCluster({ skipFinalSnapshot: true })], /takes no final snapshot when deleted/],
      [[prodCluster({ finalSnapshotIdentifier: undefined })], /takes no final snapshot when deleted/],
      [[cluster({}, "prod")], /has no deletion protection; takes no final snapshot when deleted/],
    ],
  },
  "rds-cluster-data-api-iam": {
    good: [[cluster()], [prodCluster()]],
    bad: [
      [[cluster({ enableHttpEndpoint: false })], /cluster relational does not enable the RDS Data API/],
      [[cluster({ enableHttpEndpoint: undefined })], /does not enable the RDS Data API/],
      [[cluster({ manageMasterUserPassword: undefined, masterUserSecretKmsKeyId: undefined, masterPassword: "hunter2hunter2" })], /sets its master password in the program.*does not let RDS manage its master password/],
    ],
  },
  "rds-instance-not-public": {
    good: [[instance()], [instance({ publiclyAccessible: undefined })]],
    bad: [
      [[instance({ publiclyAccessible: true })], /database instance relational-instance is publicly accessible/],
      [[resource("aws:rds/instance:Instance", "legacy-db", { publiclyAccessible: true })], /database instance legacy-db is publicly accessible/],
    ],
  },
  "rds-serverless-scales-to-zero": {
    good: [[cluster()], [prodCluster()], [cluster({ serverlessv2ScalingConfiguration: undefined })]],
    bad: [
      [[cluster({ serverlessv2ScalingConfiguration: { minCapacity: 0.5, maxCapacity: 2 } })], /cluster relational keeps 0\.5 ACUs minimum in stage dev: it never pauses/],
      [[cluster({ serverlessv2ScalingConfiguration: { minCapacity: 1, maxCapacity: 4 } }, "ci-42")], /keeps 1 ACUs minimum in stage ci-42/],
    ],
  },
  "ec2-no-open-ingress": {
    good: [
      [resource("aws:ec2/securityGroup:SecurityGroup", "relational-sg", { vpcId: "vpc-1", description: "no inbound rules" })],
      [resource("aws:ec2/securityGroup:SecurityGroup", "endpoints-sg", { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, securityGroups: ["sg-functions"] }] })],
      [resource("aws:ec2/securityGroup:SecurityGroup", "vpc-only", { ingress: [{ protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["10.20.0.0/16"] }] })],
      [resource("aws:ec2/securityGroupRule:SecurityGroupRule", "egress-anywhere", { type: "egress", cidrBlocks: ["0.0.0.0/0"], securityGroupId: "sg-1" })],
    ],
    bad: [
      [[resource("aws:ec2/securityGroup:SecurityGroup", "relational-sg", { ingress: [{ protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["0.0.0.0/0"] }] })], /relational-sg lets traffic in from anywhere \(0\.0\.0\.0\/0\)/],
      [[resource("aws:ec2/securityGroup:SecurityGroup", "v6", { ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] }] })], /v6 lets traffic in from anywhere \(::\/0\)/],
      [[resource("aws:ec2/securityGroupRule:SecurityGroupRule", "db-open", { type: "ingress", cidrBlocks: ["0.0.0.0/0"], securityGroupId: "sg-1", fromPort: 5432, toPort: 5432, protocol: "tcp" })], /db-open lets traffic in from anywhere/],
      [[resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "db-open-v4", { cidrIpv4: "0.0.0.0/0", securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 5432, toPort: 5432 })], /db-open-v4 lets traffic in from anywhere/],
    ],
  },
  "lambda-no-database-password": {
    good: [[relationalFn()], [fn("plain")], [relationalFn({ DOCS_URL: "https://example.org/reports" })]],
    bad: [
      [[relationalFn({ DB_PASSWORD: "hunter2" })], /function dev-reporting-get-report has a password in its environment: DB_PASSWORD/],
      [[relationalFn({ PGPASSWORD: "hunter2" })], /password in its environment: PGPASSWORD/],
      [[relationalFn({ DATABASE_URL: "postgres://app:hunter2@db.internal:5432/platform" })], /password in its environment: DATABASE_URL/],
    ],
  },
};
