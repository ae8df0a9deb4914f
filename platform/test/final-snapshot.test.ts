import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PlatformMocks, type CapturedResource } from "../../shared/capture/pulumi-mocks";
import { runProgram } from "../../shared/capture/run-program";
import { evaluateGuardrails, guardrailPolicies } from "../../shared/infra/guardrails";
import {
  CLUSTER_GENERATION_INPUTS,
  clusterGeneration,
  finalSnapshotIdentifier,
  finalSnapshotIdentifierProblem,
} from "../../shared/infra/helpers/final-snapshot";
import { TEST_ALARM_RECIPIENT } from "../../shared/testing/whole-system";
import type { PlatformConfig } from "../config";
import { createEventsKey } from "../encryption";
import { createRelational } from "../relational";

// The final snapshot RDS takes when the relational store's cluster is deleted. A generation of the cluster is the
// cluster from its creation to its deletion: a stage destroyed and created again starts a new one (a new platform
// key among its inputs), and so does a change that replaces the cluster. Each generation names its own snapshot,
// and one generation's name stays put from one `pulumi up` to the next.

const root = join(__dirname, "..", "..");
const CLUSTER = "aws:rds/cluster:Cluster";
const rules = guardrailPolicies.filter((p) => p.name === "rds-final-snapshot-per-generation" || p.name === "rds-final-snapshot-identifier-valid");

/** Mocks that answer a KMS key's creation as AWS does: a key id of its own each time, not one derived from its name. */
class FreshKeyMocks extends PlatformMocks {
  override newResource(args: pulumi.runtime.MockResourceArgs) {
    const answer = super.newResource(args);
    if (args.type !== "aws:kms/key:Key") return answer;
    const keyId = randomUUID();
    const arn = `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
    Object.assign(answer.state, { keyId, arn });
    const record = this.resources[this.resources.length - 1]!;
    record.id = keyId;
    return { id: keyId, state: answer.state };
  }
}

function platformConfig(stage: string): PlatformConfig {
  return {
    stage,
    region: "eu-west-1",
    logRetentionDays: 365,
    logLevel: "INFO",
    tracingMode: "Active",
    deletionProtection: true,
    alarmEmail: TEST_ALARM_RECIPIENT,
    vpc: { enabled: true, cidr: "10.20.0.0/16" },
    ownsAccountTracingPolicy: false,
    streams: { capacityMode: "ON_DEMAND", retentionHours: 168 },
    relational: { enabled: true, minCapacity: 0.5, maxCapacity: 16, backupRetentionDays: 14, secondsUntilAutoPause: 300 },
  };
}

/**
 * One `pulumi up` of the platform's key and relational store for `stage` under `mocks` (a stack of its own, as a
 * deployment has), and the cluster it registered.
 */
async function deploy(stage: string, mocks: PlatformMocks): Promise<CapturedResource> {
  pulumi.runtime.setAllConfig({ "aws:region": "eu-west-1" });
  await mocks.install("platform", stage);
  let failure: { error: unknown } | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    try {
      const config = platformConfig(stage);
      const key = createEventsKey(config, mocks.accountId);
      const network = pulumi.output({ enabled: true, vpcId: "vpc-0a1b2c3d", privateSubnetIds: ["subnet-0a", "subnet-0b"] });
      const alarmTopic = pulumi.output({ arn: `arn:aws:sns:eu-west-1:${mocks.accountId}:${stage}-alarms`, name: `${stage}-alarms`, fifo: false });
      createRelational(config, key, network, alarmTopic);
    } catch (error) {
      failure = { error };
    }
    return {};
  });
  await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();
  if (failure) throw failure.error;
  return mocks.one(CLUSTER, "relational");
}

const freshMocks = () => new FreshKeyMocks({ region: "eu-west-1" });

test("a re-created stage's cluster names another final snapshot than the destroyed one's", async () => {
  const first = await deploy("prod", freshMocks());
  const second = await deploy("prod", freshMocks()); // destroyed, then created again: a new key, a new cluster
  const a = first.inputs.finalSnapshotIdentifier as string;
  const b = second.inputs.finalSnapshotIdentifier as string;
  assert.match(a, /^prod-platform-relational-final-[0-9a-f]{12}$/);
  assert.match(b, /^prod-platform-relational-final-[0-9a-f]{12}$/);
  assert.is.not(a, b, "the second destroy would ask for the first destroy's snapshot name");
  assert.is.not(first.inputs.kmsKeyId, second.inputs.kmsKeyId);
  // Both pass the guardrails, and each is the platform's name for its own inputs.
  for (const cluster of [first, second]) {
    assert.is(cluster.inputs.finalSnapshotIdentifier, finalSnapshotIdentifier("prod-platform-relational", cluster.inputs));
    assert.equal(await evaluateGuardrails([cluster], rules), []);
  }
});

test("one generation keeps its name from one pulumi up to the next", async () => {
  // Plain mocks answer the same key for the same stack, as AWS does for a key that lives on between updates.
  const first = await deploy("prod", new PlatformMocks({ region: "eu-west-1" }));
  const again = await deploy("prod", new PlatformMocks({ region: "eu-west-1" }));
  assert.is(first.inputs.kmsKeyId, again.inputs.kmsKeyId);
  assert.is(first.inputs.finalSnapshotIdentifier, again.inputs.finalSnapshotIdentifier);
});

test("a change that replaces the cluster starts a new generation; one that updates it in place does not", () => {
  const base: Record<string, unknown> = {
    clusterIdentifier: "prod-platform-relational",
    engine: "aurora-postgresql",
    engineMode: "provisioned",
    databaseName: "platform",
    masterUsername: "platform_admin",
    kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/1111",
    storageEncrypted: true,
    dbSubnetGroupName: "prod-platform-relational",
    engineVersion: "16.6",
    backupRetentionPeriod: 14,
    serverlessv2ScalingConfiguration: { minCapacity: 0.5, maxCapacity: 16 },
  };
  const changed: Record<(typeof CLUSTER_GENERATION_INPUTS)[number], unknown> = {
    clusterIdentifier: "prod-platform-relational-2",
    engine: "aurora-mysql",
    engineMode: "serverless",
    databaseName: "platform2",
    masterUsername: "admin2",
    kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/2222",
    storageEncrypted: false,
    dbSubnetGroupName: "prod-platform-relational-b",
  };
  const names = new Set([finalSnapshotIdentifier("prod-platform-relational", base)]);
  for (const key of CLUSTER_GENERATION_INPUTS) {
    names.add(finalSnapshotIdentifier("prod-platform-relational", { ...base, [key]: changed[key] }));
  }
  assert.is(names.size, CLUSTER_GENERATION_INPUTS.length + 1, "each replacing input gives a name of its own");
  // Capacity, backups and the minor version change in place: the same cluster, the same name.
  const inPlace = { ...base, backupRetentionPeriod: 35, engineVersion: "16.8", serverlessv2ScalingConfiguration: { minCapacity: 1, maxCapacity: 64 } };
  assert.is(finalSnapshotIdentifier("prod-platform-relational", inPlace), finalSnapshotIdentifier("prod-platform-relational", base));
});

test("the name is one RDS accepts for any stage name, long ones cut before the generation part", () => {
  const inputs = { clusterIdentifier: "x", kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/1111" };
  const tail = `-final-${clusterGeneration(inputs)}`;
  const stages = ["prod", "ci-12345678901234567", "a--b", "dev-", "9lives", "-x-", "UPPER_case.stage", "étape", "x".repeat(300), `${"ab-".repeat(90)}`, "1234", ""];
  for (const stage of stages) {
    const name = finalSnapshotIdentifier(`${stage}-platform-relational`, inputs);
    assert.is(finalSnapshotIdentifierProblem(name), undefined, `${JSON.stringify(stage)} gave ${name}`);
    assert.ok(name.length <= 255, `${name.length} characters`);
    assert.ok(name.endsWith(tail), `${name} keeps its generation part`);
  }
  assert.is(finalSnapshotIdentifier("prod-platform-relational", inputs), `prod-platform-relational${tail}`);
  assert.is(finalSnapshotIdentifier("a--b-platform-relational", inputs), `a-b-platform-relational${tail}`);
  assert.is(finalSnapshotIdentifier("9lives-platform-relational", inputs), `lives-platform-relational${tail}`);
  assert.is(finalSnapshotIdentifier("1234", inputs), `cluster${tail}`);
  const long = finalSnapshotIdentifier(`${"x".repeat(300)}-platform-relational`, inputs);
  assert.is(long.length, 255);
  assert.is(long, `${"x".repeat(255 - tail.length)}${tail}`);
  // Cut where a hyphen falls last: no "-" is left before the tail's own.
  const cutAtHyphen = finalSnapshotIdentifier(`${"x".repeat(255 - tail.length - 1)}-yyyy`, inputs);
  assert.is(cutAtHyphen, `${"x".repeat(255 - tail.length - 1)}${tail}`);
});

test("under mocks: the longest stage name the platform takes, and one far longer, give valid names", async () => {
  // The platform program itself, in a stage of 20 characters (its limit) that protects its data.
  const stage = "ci-12345678901234567";
  const run = await runProgram({
    projectDir: root,
    stage,
    optionalStageFile: true,
    overrides: {
      "aws:region": "eu-west-1",
      "platform:deletionProtection": true,
      "platform:alarmEmail": TEST_ALARM_RECIPIENT,
      "platform:vpcEnabled": true,
      "platform:relational": true,
    },
  });
  const cluster = run.mocks.one(CLUSTER, "relational");
  assert.match(cluster.inputs.finalSnapshotIdentifier, new RegExp(`^${stage}-platform-relational-final-[0-9a-f]{12}$`));
  assert.equal(await evaluateGuardrails([cluster], rules), []);
  // The component, for a stage name far past any limit: the name is cut, and still valid and per generation.
  const long = await deploy(`s${"-x".repeat(150)}-`, freshMocks());
  const name = long.inputs.finalSnapshotIdentifier as string;
  assert.is(finalSnapshotIdentifierProblem(name), undefined, name);
  assert.ok(name.length <= 255 && name.startsWith("s-x-x-x"), name);
  assert.equal(await evaluateGuardrails([long], rules), []);
});

test.run();
