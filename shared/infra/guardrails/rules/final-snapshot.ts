import { resourceRule } from "../rule";
import { bool, str, type Props } from "../read";
import { RDS_TYPES } from "./relational";
import { CLUSTER_GENERATION_INPUTS, clusterGeneration, finalSnapshotIdentifierProblem } from "../../helpers/final-snapshot";

// The final snapshot RDS takes when a cluster is deleted, named per generation of the cluster
// (shared/infra/helpers/final-snapshot.ts, which platform/relational.ts names it with).

const takesFinalSnapshot = (props: Props) => bool(props.skipFinalSnapshot) !== true; // unset is false, for RDS and the provider

export const rdsFinalSnapshotPerGeneration = resourceRule(
  {
    name: "rds-final-snapshot-per-generation",
    description:
      "An Aurora cluster that takes a final snapshot when deleted (skipFinalSnapshot false, the default) names it with a part that changes with each generation of the cluster (a digest of the inputs that replace it, the platform key's ARN among them), so a stage destroyed, re-created and destroyed again does not ask for a snapshot name that already exists: snapshots outlive their cluster, and RDS refuses the second delete with DBClusterSnapshotAlreadyExistsFault, leaving the destroy half-done (Amazon RDS API Reference, DeleteDBCluster; AWS RDS developer guide, deleting Aurora DB clusters).",
    remediation:
      "Name it with finalSnapshotIdentifier(prefix, clusterInputs) from shared/infra/helpers/final-snapshot.ts (platform/relational.ts does), or set skipFinalSnapshot: true in a stage that keeps no data.",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster || !takesFinalSnapshot(args.props)) return [];
    const identifier = str(args.props.finalSnapshotIdentifier);
    if (!identifier) {
      return [{ message: `cluster ${args.name} takes a final snapshot when deleted (skipFinalSnapshot is not true) but names none: the delete fails` }];
    }
    const generation = clusterGeneration(args.props);
    if (identifier.endsWith(`-${generation}`)) return [];
    return [
      {
        message: `cluster ${args.name} names its final snapshot "${identifier}", which does not change with the cluster's generation (expected it to end with -${generation}, from ${CLUSTER_GENERATION_INPUTS.join(", ")}): once a destroyed stage is created again, its next destroy fails with DBClusterSnapshotAlreadyExistsFault`,
      },
    ];
  },
);

export const rdsFinalSnapshotIdentifierValid = resourceRule(
  {
    name: "rds-final-snapshot-identifier-valid",
    description:
      "A database's final snapshot identifier is one RDS accepts: 1 to 255 letters, digits or hyphens, the first a letter, no two hyphens in a row, not ending in a hyphen. The provider checks only part of this when planning, so an invalid name would first fail at the destroy that needs it (Amazon RDS API Reference, DeleteDBCluster and DeleteDBInstance, FinalDBSnapshotIdentifier; AWS RDS developer guide).",
    remediation:
      "Build the name with finalSnapshotIdentifier(prefix, clusterInputs) from shared/infra/helpers/final-snapshot.ts, which brings any prefix into that alphabet and length.",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster && args.type !== RDS_TYPES.instance) return [];
    const identifier = args.props.finalSnapshotIdentifier;
    if (identifier === undefined || identifier === null) return [];
    const problem = typeof identifier === "string" ? finalSnapshotIdentifierProblem(identifier) : `is not a string (${typeof identifier})`;
    return problem ? [{ message: `${args.name}'s final snapshot identifier "${String(identifier)}" ${problem}` }] : [];
  },
);
