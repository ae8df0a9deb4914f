import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformOutputs, TopicRef } from "../shared/contract";
import { alarmToTopic } from "../shared/infra/helpers/alarms";
import { CLUSTER_GENERATION_INPUTS, finalSnapshotIdentifier } from "../shared/infra/helpers/final-snapshot";
import type { PlatformConfig } from "./config";

/**
 * Aurora PostgreSQL engine version of the relational store. The RDS Data API serves Aurora PostgreSQL Serverless v2
 * from 16.1 (13.11, 14.8, 15.3, 17.4) and a minimum capacity of 0 ACUs (auto-pause) needs 16.3 or later (13.15, 14.12,
 * 15.7) (Amazon Aurora user guide: "Supported Regions and Aurora DB engines for RDS Data API", "Aurora Serverless v2
 * capacity"). Minor upgrades are applied in the maintenance window (autoMinorVersionUpgrade), so Pulumi is told to
 * leave the version it finds alone.
 */
export const RELATIONAL_ENGINE = { engine: "aurora-postgresql", version: "16.6" } as const;
/** The database every service's schema lives in. */
export const RELATIONAL_DATABASE = "platform";
/** The cluster's master user: only the migration functions use it (through its RDS-managed secret). */
export const RELATIONAL_MASTER_USER = "platform_admin";
/** Average ACU utilization (% of the maximum capacity) that, held for five minutes, reaches a person. */
export const RELATIONAL_CAPACITY_ALARM_PERCENT = 90;

/**
 * The name of the final snapshot RDS takes when this generation of the cluster is deleted: `<prefix>-final-<12 hex>`,
 * the hex a digest of the cluster's generation inputs (CLUSTER_GENERATION_INPUTS: what replaces the cluster when it
 * changes, the platform key's ARN among them, so a re-created stage, which gets a new key, gets a new name). It is an
 * input, so it sits in the state before any delete, and it stays the same from one `pulumi up` to the next while the
 * cluster does. Valid for any prefix (shared/infra/helpers/final-snapshot.ts; the guardrails
 * rds-final-snapshot-per-generation and rds-final-snapshot-identifier-valid check it).
 */
export function generationSnapshotIdentifier(prefix: string, args: aws.rds.ClusterArgs): pulumi.Output<string> {
  const inputs = CLUSTER_GENERATION_INPUTS.map((key) => pulumi.output(args[key] as pulumi.Input<unknown>));
  return pulumi
    .all(inputs)
    .apply((values) => finalSnapshotIdentifier(prefix, Object.fromEntries(CLUSTER_GENERATION_INPUTS.map((key, i) => [key, values[i]]))));
}

/**
 * The relational store: one Aurora PostgreSQL Serverless v2 cluster per stage, reached through the RDS Data API
 * (HTTPS, IAM-authorized: functions need no VPC, no connection and no pool).
 *
 * - In the platform's private network: a DB subnet group of its private subnets, a security group that lets nothing
 *   in (the Data API needs no ingress; add a rule for a bastion if a person must connect directly), not publicly
 *   accessible.
 * - The master password is created, kept and rotated by RDS in Secrets Manager (manageMasterUserPassword), encrypted
 *   with the platform's key, which also encrypts the storage.
 * - One db.serverless instance, capacity from config; with a minimum of 0 ACUs it pauses after
 *   `secondsUntilAutoPause` idle seconds: no ACU-hours are billed while paused (storage and backups are), and the
 *   first request after a pause waits for the resume (up to about 15 s; longer after a day paused).
 * - Backups kept `backupRetentionDays`; a stage that protects its data (platform:deletionProtection) gets deletion
 *   protection and a final snapshot when the cluster is deleted. The snapshot's name ends with the cluster's
 *   generation (`generationSnapshotIdentifier`): snapshots outlive their cluster, so a stage destroyed, created again
 *   and destroyed again must not ask for the first destroy's name (RDS: DBClusterSnapshotAlreadyExistsFault).
 * - An alarm on the platform's alarm topic when the cluster runs near its maximum capacity for five minutes
 *   (`ACUUtilization`): the writers behind the streams are then bounded by the database, not by the shards.
 */
export function createRelational(
  config: PlatformConfig,
  key: aws.kms.Key,
  network: pulumi.Output<PlatformOutputs["vpc"]>,
  alarmTopic: pulumi.Output<TopicRef>,
): pulumi.Output<PlatformOutputs["relational"]> {
  const settings = config.relational;
  if (!settings.enabled) return pulumi.output({ enabled: false });
  const name = `${config.stage}-platform`;
  const protect = config.deletionProtection;

  const subnets = new aws.rds.SubnetGroup("relational-subnets", {
    name: `${name}-relational`,
    description: `Private subnets of the ${config.stage} relational store`,
    subnetIds: network.apply((vpc) => vpc.privateSubnetIds ?? []),
  });
  const securityGroup = new aws.ec2.SecurityGroup("relational-sg", {
    vpcId: network.apply((vpc) => vpc.vpcId ?? ""),
    description: "Relational store: no inbound rules (functions use the RDS Data API, which needs none)",
  });

  const clusterArgs = {
    clusterIdentifier: `${name}-relational`,
    engine: RELATIONAL_ENGINE.engine,
    engineMode: "provisioned",
    engineVersion: RELATIONAL_ENGINE.version,
    databaseName: RELATIONAL_DATABASE,
    masterUsername: RELATIONAL_MASTER_USER,
    manageMasterUserPassword: true,
    masterUserSecretKmsKeyId: key.arn,
    storageEncrypted: true,
    kmsKeyId: key.arn,
    enableHttpEndpoint: true,
    serverlessv2ScalingConfiguration: {
      minCapacity: settings.minCapacity,
      maxCapacity: settings.maxCapacity,
      ...(settings.minCapacity === 0 ? { secondsUntilAutoPause: settings.secondsUntilAutoPause } : {}),
    },
    dbSubnetGroupName: subnets.name,
    vpcSecurityGroupIds: [securityGroup.id],
    backupRetentionPeriod: settings.backupRetentionDays,
    copyTagsToSnapshot: true,
    deletionProtection: protect,
    skipFinalSnapshot: !protect,
  } satisfies aws.rds.ClusterArgs;
  const cluster = new aws.rds.Cluster(
    "relational",
    protect ? { ...clusterArgs, finalSnapshotIdentifier: generationSnapshotIdentifier(`${name}-relational`, clusterArgs) } : clusterArgs,
    { protect, ignoreChanges: ["engineVersion"] },
  );

  new aws.rds.ClusterInstance(
    "relational-instance",
    {
      identifier: `${name}-relational-1`,
      clusterIdentifier: cluster.id,
      instanceClass: "db.serverless",
      engine: RELATIONAL_ENGINE.engine,
      engineVersion: cluster.engineVersion,
      publiclyAccessible: false,
      autoMinorVersionUpgrade: true,
    },
    { protect, ignoreChanges: ["engineVersion"] },
  );

  alarmToTopic(
    "relational-capacity-alarm",
    {
      name: `${name}-relational-capacity`,
      alarmDescription: `The ${config.stage} relational store has used over ${RELATIONAL_CAPACITY_ALARM_PERCENT}% of its maximum capacity (${settings.maxCapacity} ACUs) for five minutes: raise platform:relationalMaxCapacity or slow its writers (fewer shards or a lower parallelization factor)`,
      namespace: "AWS/RDS",
      metricName: "ACUUtilization",
      dimensions: { DBClusterIdentifier: cluster.clusterIdentifier },
      statistic: "Average",
      period: 60,
      evaluationPeriods: 5,
      threshold: RELATIONAL_CAPACITY_ALARM_PERCENT,
      comparisonOperator: "GreaterThanThreshold",
      // A paused instance reports nothing: that is not a problem.
      treatMissingData: "notBreaching",
    },
    { alarmTopicArn: alarmTopic.arn },
  );

  return pulumi.output({
    enabled: true,
    clusterArn: cluster.arn,
    database: RELATIONAL_DATABASE,
    masterSecretArn: cluster.masterUserSecrets.apply((secrets) => {
      const arn = secrets?.[0]?.secretArn;
      if (!arn) throw new Error("the relational cluster reports no master user secret (manageMasterUserPassword)");
      return arn;
    }),
  });
}
