import { createHash } from "node:crypto";

// The final snapshot RDS takes when a cluster is deleted (platform/relational.ts). Its identifier is an input Pulumi
// keeps in the state and sends with DeleteDBCluster, so it is fixed before the delete. Snapshots outlive their
// cluster: a stage destroyed, created again and destroyed again would ask for the first destroy's snapshot name a
// second time, and RDS answers DBClusterSnapshotAlreadyExistsFault, which leaves the destroy half-done. So each
// generation of the cluster (the cluster between its creation and its deletion) names its own final snapshot.

/**
 * FinalDBSnapshotIdentifier of DeleteDBCluster and DeleteDBInstance (Amazon RDS API Reference): 1 to 255 letters,
 * digits or hyphens, the first a letter, no two hyphens in a row, not ending in a hyphen.
 */
export const FINAL_SNAPSHOT_IDENTIFIER = { maxLength: 255, pattern: /^[A-Za-z][A-Za-z0-9-]*$/ } as const;

/**
 * The inputs of an Aurora cluster that make it a new cluster when they change: the provider replaces the cluster
 * (its schema marks them force-new: RDS cannot change them in place), and a re-created stage gets a new platform KMS
 * key, whose ARN carries a key id AWS picks at creation. One generation of a cluster has one value for each.
 * Naming an input here that is not force-new costs nothing (the pending name changes in place, the cluster stays);
 * leaving a force-new one out is what would let two generations share a name.
 */
export const CLUSTER_GENERATION_INPUTS = [
  "clusterIdentifier",
  "engine",
  "engineMode",
  "databaseName",
  "masterUsername",
  "kmsKeyId",
  "storageEncrypted",
  "dbSubnetGroupName",
] as const;

/** Hexadecimal digits of the generation part (48 bits). */
export const GENERATION_PART_LENGTH = 12;

/** The generation part of a cluster: a digest of its generation inputs, as given to the provider. */
export function clusterGeneration(inputs: Readonly<Record<string, unknown>>): string {
  const values = CLUSTER_GENERATION_INPUTS.map((key) => [key, inputs[key] ?? null]);
  return createHash("sha256").update(JSON.stringify(values)).digest("hex").slice(0, GENERATION_PART_LENGTH);
}

/** What is wrong with a final snapshot identifier by AWS's constraints, or undefined when RDS accepts it. */
export function finalSnapshotIdentifierProblem(identifier: string): string | undefined {
  const { maxLength, pattern } = FINAL_SNAPSHOT_IDENTIFIER;
  if (identifier.length < 1 || identifier.length > maxLength) return `is ${identifier.length} characters long (1 to ${maxLength})`;
  if (!/^[A-Za-z]/.test(identifier)) return "does not start with a letter";
  if (!pattern.test(identifier)) return "holds characters other than letters, digits and hyphens";
  if (identifier.includes("--")) return "has two hyphens in a row";
  if (identifier.endsWith("-")) return "ends with a hyphen";
  return undefined;
}

/**
 * The final snapshot identifier of one generation of a cluster: `<prefix>-final-<generation>`, valid for any prefix.
 * The prefix (a stage's cluster name) is brought into AWS's alphabet (lowercase letters, digits, single hyphens,
 * starting with a letter) and cut so the whole stays within 255 characters; the generation part is never cut.
 */
export function finalSnapshotIdentifier(prefix: string, inputs: Readonly<Record<string, unknown>>): string {
  const tail = `-final-${clusterGeneration(inputs)}`;
  const head = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, FINAL_SNAPSHOT_IDENTIFIER.maxLength - tail.length)
    .replace(/-+$/, "");
  return `${head || "cluster"}${tail}`;
}
