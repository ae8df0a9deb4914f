import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { runProgram } from "../../shared/capture/run-program";
import { TEST_ALARM_RECIPIENT } from "../../shared/testing/whole-system";
import { RELATIONAL_DATABASE, RELATIONAL_ENGINE } from "../relational";
import { finalSnapshotIdentifier } from "../../shared/infra/helpers/final-snapshot";

const root = join(__dirname, "..", "..");
const CLUSTER = "aws:rds/cluster:Cluster";

async function programError(overrides: Record<string, unknown>, stage = "dev"): Promise<string> {
  try {
    await runProgram({ projectDir: root, stage, overrides });
  } catch (error) {
    return String((error as Error).message ?? error);
  }
  throw new Error("the program accepted the config");
}

test("relational is off by default: no cluster, and the contract says so", async () => {
  const run = await runProgram({ projectDir: root, stage: "dev", overrides: { "platform:relational": false } });
  assert.equal(run.mocks.byType(CLUSTER), []);
  assert.equal(run.mocks.byType("aws:rds/clusterInstance:ClusterInstance"), []);
  assert.equal(run.outputs.relational, { enabled: false });
  assert.not.ok(run.mocks.byType("aws:cloudwatch/metricAlarm:MetricAlarm").some((a) => a.name === "relational-capacity-alarm"));
});

test("dev: a Serverless v2 cluster with the Data API, in the private subnets, encrypted with the platform key, pausing at 0 ACUs", async () => {
  const run = await runProgram({ projectDir: root, stage: "dev" });
  const key = run.mocks.one("aws:kms/key:Key", "events-key");
  const cluster = run.mocks.one(CLUSTER, "relational");
  const c = cluster.inputs;
  assert.is(c.engine, "aurora-postgresql");
  assert.is(c.engineMode, "provisioned");
  assert.is(c.engineVersion, RELATIONAL_ENGINE.version);
  assert.ok(Number(RELATIONAL_ENGINE.version.split(".")[0]) === 16 && Number(RELATIONAL_ENGINE.version.split(".")[1]) >= 3, "16.3 or later: the Data API and 0 ACUs");
  assert.is(c.enableHttpEndpoint, true);
  assert.is(c.manageMasterUserPassword, true);
  assert.is(c.masterPassword, undefined, "no password in the program or its state");
  assert.is(c.masterUserSecretKmsKeyId, key.state.arn);
  assert.is(c.storageEncrypted, true);
  assert.is(c.kmsKeyId, key.state.arn);
  assert.equal(c.serverlessv2ScalingConfiguration, { minCapacity: 0, maxCapacity: 2, secondsUntilAutoPause: 300 });
  assert.is(c.databaseName, RELATIONAL_DATABASE);
  assert.is(c.backupRetentionPeriod, 1);
  assert.is(c.deletionProtection, false);
  assert.is(c.skipFinalSnapshot, true);
  // The network: the subnet group holds the VPC's private subnets, the security group lets nothing in.
  const vpc = run.mocks.one("awsx:ec2:Vpc", "network");
  const subnets = run.mocks.one("aws:rds/subnetGroup:SubnetGroup", "relational-subnets");
  assert.equal(subnets.inputs.subnetIds, vpc.state.privateSubnetIds);
  assert.is(c.dbSubnetGroupName, subnets.state.name);
  const sg = run.mocks.one("aws:ec2/securityGroup:SecurityGroup", "relational-sg");
  assert.is(sg.inputs.vpcId, vpc.state.vpcId);
  assert.is(sg.inputs.ingress, undefined, "no inbound rules");
  assert.equal(c.vpcSecurityGroupIds, [sg.id]);
  const instance = run.mocks.one("aws:rds/clusterInstance:ClusterInstance", "relational-instance").inputs;
  assert.is(instance.instanceClass, "db.serverless");
  assert.is(instance.publiclyAccessible, false);
  assert.is(instance.clusterIdentifier, cluster.id);
  // Near its maximum capacity for five minutes, the cluster reaches a person through the alarm topic.
  const alarm = run.mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "relational-capacity-alarm").inputs;
  assert.equal(
    [alarm.namespace, alarm.metricName, alarm.dimensions, alarm.threshold, alarm.evaluationPeriods, alarm.treatMissingData, alarm.alarmActions],
    ["AWS/RDS", "ACUUtilization", { DBClusterIdentifier: "dev-platform-relational" }, 90, 5, "notBreaching", [run.outputs.alarmTopic.arn]],
  );
  assert.equal(run.outputs.relational, {
    enabled: true,
    clusterArn: cluster.state.arn,
    database: RELATIONAL_DATABASE,
    masterSecretArn: cluster.state.masterUserSecrets[0].secretArn,
  });
});

test("prod: deletion protection, a final snapshot, two weeks of backups, never paused", async () => {
  const run = await runProgram({ projectDir: root, stage: "prod", overrides: { "platform:alarmEmail": TEST_ALARM_RECIPIENT } });
  const cluster = run.mocks.one(CLUSTER, "relational");
  const c = cluster.inputs;
  assert.is(c.deletionProtection, true);
  assert.is(c.skipFinalSnapshot, false);
  // Named per generation of the cluster (platform/test/final-snapshot.test.ts): the prefix, then a digest of what replaces it.
  assert.is(c.finalSnapshotIdentifier, finalSnapshotIdentifier("prod-platform-relational", c));
  assert.match(c.finalSnapshotIdentifier, /^prod-platform-relational-final-[0-9a-f]{12}$/);
  assert.is(c.backupRetentionPeriod, 14);
  assert.equal(c.serverlessv2ScalingConfiguration, { minCapacity: 0.5, maxCapacity: 16 });
});

test("relational without the network, and capacities out of range, stop the program naming the keys", async () => {
  const noNetwork = await programError({ "platform:relational": true, "platform:vpcEnabled": false });
  assert.match(noNetwork, /platform:relational is true but platform:vpcEnabled is false/);
  assert.match(noNetwork, /Set platform:vpcEnabled to true/);
  assert.match(await programError({ "platform:relationalMinCapacity": "0.3" }), /platform:relationalMinCapacity is "0.3"; Aurora Serverless v2 takes 0 to 256 ACUs in steps of 0.5/);
  assert.match(await programError({ "platform:relationalMaxCapacity": "0.5" }), /platform:relationalMaxCapacity is "0.5"; Aurora Serverless v2 takes 1 to 256/);
  assert.match(await programError({ "platform:relationalMaxCapacity": "300" }), /platform:relationalMaxCapacity is "300"/);
  assert.match(await programError({ "platform:relationalMinCapacity": "many" }), /platform:relationalMinCapacity is "many"/);
  assert.match(await programError({ "platform:relationalMinCapacity": "8", "platform:relationalMaxCapacity": "4" }), /platform:relationalMinCapacity \(8\) is above platform:relationalMaxCapacity \(4\)/);
  assert.match(await programError({ "platform:relationalBackupRetentionDays": 0 }), /platform:relationalBackupRetentionDays is 0; Aurora keeps automated backups 1 to 35 days/);
  assert.match(await programError({ "platform:relationalSecondsUntilAutoPause": 60 }), /platform:relationalSecondsUntilAutoPause is 60; Aurora pauses after 300 to 86400/);
  // Off, its settings are not read: a stage without the store is not held to them.
  const off = await runProgram({ projectDir: root, stage: "dev", overrides: { "platform:relational": false, "platform:relationalMinCapacity": "0.3" } });
  assert.equal(off.outputs.relational, { enabled: false });
});

test.run();
