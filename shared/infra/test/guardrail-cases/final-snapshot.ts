import { finalSnapshotIdentifier } from "../../helpers/final-snapshot";
import { ACCOUNT, resource, type RuleCases } from "./fixtures";

// Final snapshots of the relational store (shared/infra/guardrails/rules/final-snapshot.ts).

const keyArn = (id: string) => `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${id}`;

/** A cluster's inputs as platform/relational.ts gives them in a stage that protects its data. */
const inputs = (stack: string, overrides: Record<string, any> = {}): Record<string, any> => ({
  clusterIdentifier: `${stack}-platform-relational`,
  engine: "aurora-postgresql",
  engineMode: "provisioned",
  engineVersion: "16.6",
  databaseName: "platform",
  masterUsername: "platform_admin",
  manageMasterUserPassword: true,
  storageEncrypted: true,
  kmsKeyId: keyArn("1111"),
  masterUserSecretKmsKeyId: keyArn("1111"),
  enableHttpEndpoint: true,
  dbSubnetGroupName: `${stack}-platform-relational`,
  backupRetentionPeriod: 14,
  deletionProtection: true,
  skipFinalSnapshot: false,
  ...overrides,
});
const cluster = (props: Record<string, any>, stack = "prod") =>
  resource("aws:rds/cluster:Cluster", "relational", props, { arn: `arn:aws:rds:eu-west-1:${ACCOUNT}:cluster:${stack}-platform-relational` }, stack);
/** A protected cluster named as the platform names it: per generation. */
const named = (stack = "prod", overrides: Record<string, any> = {}) => {
  const props = inputs(stack, overrides);
  return cluster({ ...props, finalSnapshotIdentifier: finalSnapshotIdentifier(`${stack}-platform-relational`, props) }, stack);
};
const withIdentifier = (finalSnapshotIdentifier: unknown) => cluster(inputs("prod", { finalSnapshotIdentifier }));
const instance = (inputs: Record<string, any>) => resource("aws:rds/instance:Instance", "db", { instanceClass: "db.t4g.micro", engine: "postgres", ...inputs });

export const cases: RuleCases = {
  "rds-final-snapshot-per-generation": {
    good: [
      [named()],
      [named("ci-12345678901234567")],
      // A stage that keeps no data takes no final snapshot: nothing to name.
      [cluster(inputs("dev", { deletionProtection: false, skipFinalSnapshot: true }), "dev")],
      // A database instance is not a cluster (and this repository has none).
      [instance({ skipFinalSnapshot: false, finalSnapshotIdentifier: "db-final" })],
    ],
    bad: [
      // The fixed name the platform gave before: the second destroy of a re-created prod fails.
      [[withIdentifier("prod-platform-relational-final")], /cluster relational names its final snapshot "prod-platform-relational-final", which does not change with the cluster's generation .*DBClusterSnapshotAlreadyExistsFault/],
      // A name computed for another generation (the stage's previous key): the same name twice.
      [
        [cluster({ ...inputs("prod", { kmsKeyId: keyArn("2222") }), finalSnapshotIdentifier: named("prod").inputs.finalSnapshotIdentifier })],
        /does not change with the cluster's generation \(expected it to end with -[0-9a-f]{12}, from clusterIdentifier, engine/,
      ],
      // Unset skipFinalSnapshot is false: RDS takes a snapshot, and a delete without a name fails.
      [[cluster(inputs("prod", { skipFinalSnapshot: undefined }))], /cluster relational takes a final snapshot when deleted \(skipFinalSnapshot is not true\) but names none/],
    ],
  },
  "rds-final-snapshot-identifier-valid": {
    good: [
      [named()],
      [named("ci-12345678901234567")],
      [cluster(inputs("dev", { skipFinalSnapshot: true }), "dev")],
      [withIdentifier(`a${"b".repeat(254)}`)],
      [instance({ finalSnapshotIdentifier: "Db-Final-2" })],
    ],
    bad: [
      [[withIdentifier("1prod-platform-relational-final")], /relational's final snapshot identifier "1prod-platform-relational-final" does not start with a letter/],
      [[withIdentifier("prod--platform-final")], /has two hyphens in a row/],
      [[withIdentifier("prod-platform-final-")], /ends with a hyphen/],
      [[withIdentifier("prod_platform.final")], /holds characters other than letters, digits and hyphens/],
      [[withIdentifier(`a${"b".repeat(255)}`)], /is 256 characters long \(1 to 255\)/],
      [[withIdentifier("")], /is 0 characters long/],
      [[instance({ finalSnapshotIdentifier: "db--final" })], /db's final snapshot identifier "db--final" has two hyphens in a row/],
    ],
  },
};
