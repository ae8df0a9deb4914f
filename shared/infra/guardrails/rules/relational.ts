import { resourceRule } from "../rule";
import { bool, num, stackOfUrn, str } from "../read";
import { T } from "../resource-types";
import { PRODUCTION_STAGES } from "./data";

// The relational store (platform/relational.ts): an Aurora cluster reached through the RDS Data API, and the
// functions that use it. The store holds a service's data, so it is held to what the DynamoDB tables are held to
// (customer key, deletion protection in production), and to what makes functions and a database fit: IAM through the
// Data API instead of passwords and connections.

/** Pulumi type tokens of the RDS resources these rules read. */
export const RDS_TYPES = {
  cluster: "aws:rds/cluster:Cluster",
  clusterInstance: "aws:rds/clusterInstance:ClusterInstance",
  instance: "aws:rds/instance:Instance",
} as const;

/** A production stage keeps automated backups at least a week. */
export const RDS_PRODUCTION_MIN_BACKUP_DAYS = 7;

const isProduction = (urn: string): boolean => {
  const stage = stackOfUrn(urn);
  return stage !== undefined && (PRODUCTION_STAGES as readonly string[]).includes(stage);
};

/** A KMS key reference that is AWS's managed RDS key, or none at all. */
const awsManagedRdsKey = (key: string | undefined) => !key || /alias\/aws\/(rds|secretsmanager)$/.test(key);

export const rdsClusterEncryptedCustomerKey = resourceRule(
  {
    name: "rds-cluster-encrypted-customer-key",
    description:
      "An Aurora cluster encrypts its storage (storageEncrypted) with a customer managed KMS key, and so does the Secrets Manager secret of a managed master password, so who may read the data and the credentials is decided by the key's grants too (AWS Security Hub RDS.27; Checkov CKV_AWS_327; cdk-nag AwsSolutions-RDS2).",
    remediation: "Set storageEncrypted: true, kmsKeyId and masterUserSecretKmsKeyId to the platform's key (platform/relational.ts does).",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster) return [];
    const problems: string[] = [];
    if (bool(args.props.storageEncrypted) !== true) problems.push("does not encrypt its storage");
    else if (awsManagedRdsKey(str(args.props.kmsKeyId))) problems.push(`encrypts its storage with ${str(args.props.kmsKeyId) ?? "the AWS managed key (no kmsKeyId)"}, not a customer managed key`);
    if (bool(args.props.manageMasterUserPassword) === true && awsManagedRdsKey(str(args.props.masterUserSecretKmsKeyId))) {
      problems.push("keeps its master password's secret under the AWS managed key (no masterUserSecretKmsKeyId)");
    }
    return problems.length ? [{ message: `cluster ${args.name} ${problems.join(" and ")}` }] : [];
  },
);

export const rdsClusterProtectedInProduction = resourceRule(
  {
    name: "rds-cluster-protected-in-production",
    description:
      `An Aurora cluster sets its backup retention explicitly; in a production stage (${PRODUCTION_STAGES.join(", ")}) it keeps backups at least ${RDS_PRODUCTION_MIN_BACKUP_DAYS} days, has deletion protection and takes a final snapshot when deleted (AWS Security Hub RDS.7; cdk-nag AwsSolutions-RDS10; Well-Architected Reliability pillar REL09, back up data).`,
    remediation:
      "Set backupRetentionPeriod (platform:relationalBackupRetentionDays), and in prod deletionProtection: true, skipFinalSnapshot: false with a finalSnapshotIdentifier (platform:deletionProtection true does all three).",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster) return [];
    const days = num(args.props.backupRetentionPeriod);
    const problems: string[] = [];
    if (days === undefined) problems.push("sets no backupRetentionPeriod (Aurora keeps 1 day by default)");
    if (isProduction(args.urn)) {
      if (days !== undefined && days < RDS_PRODUCTION_MIN_BACKUP_DAYS) problems.push(`keeps backups ${days} days (at least ${RDS_PRODUCTION_MIN_BACKUP_DAYS} in production)`);
      if (bool(args.props.deletionProtection) !== true) problems.push("has no deletion protection");
      if (bool(args.props.skipFinalSnapshot) !== false || !str(args.props.finalSnapshotIdentifier)) problems.push("takes no final snapshot when deleted");
    }
    return problems.length ? [{ message: `cluster ${args.name} ${problems.join("; ")}` }] : [];
  },
);

export const rdsClusterDataApiIam = resourceRule(
  {
    name: "rds-cluster-data-api-iam",
    description:
      "An Aurora cluster is reached through the RDS Data API (enableHttpEndpoint: IAM-authorized HTTPS, no connections, no pool, no VPC for functions), and its master password is managed by RDS in Secrets Manager (manageMasterUserPassword), never written in the program or its state (AWS Aurora user guide, RDS Data API and password management with Secrets Manager; Well-Architected Security pillar SEC02).",
    remediation: "Set enableHttpEndpoint: true and manageMasterUserPassword: true, and remove masterPassword.",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster) return [];
    const problems: string[] = [];
    if (bool(args.props.enableHttpEndpoint) !== true) problems.push("does not enable the RDS Data API (enableHttpEndpoint)");
    if (args.props.masterPassword !== undefined || args.props.masterPasswordWo !== undefined) problems.push("sets its master password in the program (masterPassword)");
    if (bool(args.props.manageMasterUserPassword) !== true) problems.push("does not let RDS manage its master password in Secrets Manager (manageMasterUserPassword)");
    return problems.length ? [{ message: `cluster ${args.name} ${problems.join(" and ")}` }] : [];
  },
);

export const rdsInstanceNotPublic = resourceRule(
  {
    name: "rds-instance-not-public",
    description:
      "A database instance is not publicly accessible: the relational store is reached through the RDS Data API, never from the internet (AWS Security Hub RDS.2; Checkov CKV_AWS_17).",
    remediation: "Set publiclyAccessible: false (or leave it unset on a cluster instance).",
  },
  (args) => {
    if (args.type !== RDS_TYPES.clusterInstance && args.type !== RDS_TYPES.instance) return [];
    return bool(args.props.publiclyAccessible) === true ? [{ message: `database instance ${args.name} is publicly accessible` }] : [];
  },
);

export const rdsServerlessScalesToZero = resourceRule(
  {
    name: "rds-serverless-scales-to-zero",
    description:
      "Outside production an Aurora Serverless v2 cluster has a minimum capacity of 0 ACUs, so it pauses when idle and bills only storage and backups (AWS Aurora user guide, scaling to zero ACUs with automatic pause and resume; Well-Architected Cost Optimization pillar COST09, match supply with demand).",
    remediation: 'Set platform:relationalMinCapacity to "0" in the stage file (a production stage may keep capacity warm).',
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster || isProduction(args.urn)) return [];
    const scaling = args.props.serverlessv2ScalingConfiguration as Record<string, unknown> | undefined;
    if (!scaling) return [];
    const min = num(scaling.minCapacity);
    return min === 0 ? [] : [{ message: `cluster ${args.name} keeps ${min ?? "an unset"} ACUs minimum in stage ${stackOfUrn(args.urn) ?? "?"}: it never pauses, and bills capacity every hour while idle` }];
  },
);

/** Environment variable names that carry a password, and connection strings with one in them. */
const PASSWORD_NAME = /PASSWORD|PASSWD|PGPASS|DB_PASS/i;
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;

export const lambdaNoDatabasePassword = resourceRule(
  {
    name: "lambda-no-database-password",
    description:
      "A function's environment holds no password and no connection string with one: functions reach the relational store through the RDS Data API with their role and the ARN of a secret they may read (AWS Lambda developer guide, securing environment variables; Well-Architected Security pillar SEC02, store and use secrets securely).",
    remediation: "Remove the variable; give the function the secret's ARN (the relational store does: PLATFORM_RELATIONAL_SECRET_ARN) and let the Data API read it.",
  },
  (args) => {
    if (args.type !== T.function) return [];
    const variables = (args.props.environment as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
    const found = Object.entries(variables)
      .filter(([name, value]) => PASSWORD_NAME.test(name) || URL_WITH_PASSWORD.test(String(value ?? "")))
      .map(([name]) => name);
    return found.length ? [{ message: `function ${args.name} has a password in its environment: ${found.join(", ")}` }] : [];
  },
);

/** Pulumi type tokens of the ways a security group gets an inbound rule. */
export const SECURITY_GROUP_TYPES = {
  group: "aws:ec2/securityGroup:SecurityGroup",
  rule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
} as const;
const ANYWHERE = new Set(["0.0.0.0/0", "::/0"]);
const listOf = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)]);

export const ec2NoOpenIngress = resourceRule(
  {
    name: "ec2-no-open-ingress",
    description:
      "No security group lets traffic in from anywhere (0.0.0.0/0 or ::/0): the platform network's groups (functions, interface endpoints, the relational store) take traffic from one another or from nothing, and the database has no inbound rule at all, since the RDS Data API needs none (cdk-nag AwsSolutions-EC23; AWS Security Hub EC2.18 and EC2.19).",
    remediation: "Allow ingress from a security group (securityGroups / referencedSecurityGroupId) or from the VPC's CIDR only; the relational store needs no ingress.",
  },
  (args) => {
    const open: string[] = [];
    if (args.type === SECURITY_GROUP_TYPES.group) {
      for (const rule of (Array.isArray(args.props.ingress) ? args.props.ingress : []) as Record<string, unknown>[]) {
        open.push(...[...listOf(rule.cidrBlocks), ...listOf(rule.ipv6CidrBlocks)].filter((cidr) => ANYWHERE.has(cidr)));
      }
    } else if (args.type === SECURITY_GROUP_TYPES.rule && str(args.props.type) === "ingress") {
      open.push(...[...listOf(args.props.cidrBlocks), ...listOf(args.props.ipv6CidrBlocks)].filter((cidr) => ANYWHERE.has(cidr)));
    } else if (args.type === SECURITY_GROUP_TYPES.ingressRule) {
      open.push(...[str(args.props.cidrIpv4), str(args.props.cidrIpv6)].filter((cidr): cidr is string => cidr !== undefined && ANYWHERE.has(cidr)));
    }
    return open.length ? [{ message: `${args.name} lets traffic in from anywhere (${[...new Set(open)].join(", ")})` }] : [];
  },
);
