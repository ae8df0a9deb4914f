import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { ofType, resourceRule, stackRule, type Finding } from "../rule";
import {
  actionCovers,
  actionsOf,
  bool,
  conditionValues,
  isSecretValue,
  json,
  num,
  policyOf,
  principalsOf,
  resourcesOf,
  secretMarkersVisible,
  stackOfUrn,
  str,
} from "../read";
import { T } from "../resource-types";
import { PRODUCTION_STAGES } from "./data";
import { functionNamed } from "./messaging";
import { RDS_TYPES } from "./relational";
import { LOG_DELIVERY_ACTIONS, WORKFLOW_KEY_ACTIONS, WORKFLOW_XRAY_ACTIONS } from "../../helpers/workflow-grants";
import { roleOf, roleStatements, STATE_MACHINE } from "./workflows";

// What AWS would refuse, or accept and let us misuse, in the resources the relational path added: Secrets Manager
// secrets and their versions, the DB subnet group, the Aurora Serverless v2 cluster's engine version and capacity,
// the migration Invocation; and two settings of Step Functions and Kinesis that fail only at `pulumi up`. Each rule
// was read against AWS's documentation of the resource as a deployer meets it.

/** Pulumi type tokens of the resources these rules read. */
export const SECRETS_AND_SUBNETS_TYPES = {
  secret: "aws:secretsmanager/secret:Secret",
  secretPolicy: "aws:secretsmanager/secretPolicy:SecretPolicy",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  subnetGroup: "aws:rds/subnetGroup:SubnetGroup",
  subnet: "aws:ec2/subnet:Subnet",
  invocation: "aws:lambda/invocation:Invocation",
  functionUrl: "aws:lambda/functionUrl:FunctionUrl",
  kinesisStream: "aws:kinesis/stream:Stream",
} as const;
const S = SECRETS_AND_SUBNETS_TYPES;

const isProduction = (urn: string): boolean => {
  const stage = stackOfUrn(urn);
  return stage !== undefined && (PRODUCTION_STAGES as readonly string[]).includes(stage);
};

// ---------------------------------------------------------------------------------------------------------------
// Secrets Manager

/** Secrets Manager's recovery window when a secret is deleted: 7 to 30 days, or 0 (`ForceDeleteWithoutRecovery`). */
export const SECRET_RECOVERY_WINDOW_DAYS = { min: 7, max: 30 } as const;
const awsManagedSecretsKey = (key: string | undefined) => !key || /alias\/aws\/secretsmanager$/.test(key);

export const secretsmanagerSecretCustomerKey = resourceRule(
  {
    name: "secretsmanager-secret-customer-key",
    description:
      "A Secrets Manager secret (and each of its replicas) is encrypted with a customer managed KMS key, not the default aws/secretsmanager key: a role of another account cannot use the AWS managed key, its policy cannot be changed or audited, and who may read the secret is then decided by the key's grants too (Checkov CKV_AWS_149; AWS Secrets Manager user guide, secret encryption and decryption; Well-Architected Security pillar SEC08).",
    remediation: "Set kmsKeyId (and replicas[].kmsKeyId) to the platform's key (the RelationalStore gives its secret platform.eventsKeyArn).",
  },
  (args) => {
    if (args.type !== S.secret) return [];
    const problems: string[] = [];
    const key = str(args.props.kmsKeyId);
    if (awsManagedSecretsKey(key)) problems.push(`is encrypted with ${key ?? "the AWS managed key aws/secretsmanager (no kmsKeyId)"}`);
    for (const replica of (Array.isArray(args.props.replicas) ? args.props.replicas : []) as Record<string, unknown>[]) {
      if (awsManagedSecretsKey(str(replica.kmsKeyId))) problems.push(`replicates to ${str(replica.region) ?? "?"} under aws/secretsmanager (no kmsKeyId)`);
    }
    return problems.length ? [{ message: `secret ${args.name} ${problems.join(" and ")}: use a customer managed key` }] : [];
  },
);

export const secretsmanagerSecretRecoveryWindow = resourceRule(
  {
    name: "secretsmanager-secret-recovery-window",
    description: `A Secrets Manager secret's recovery window is one Secrets Manager accepts: 0 (deleted at once) or ${SECRET_RECOVERY_WINDOW_DAYS.min} to ${SECRET_RECOVERY_WINDOW_DAYS.max} days (DeleteSecret refuses anything else, so a destroy fails half-way); in a production stage (${PRODUCTION_STAGES.join(", ")}) never 0, so a secret deleted by mistake can be restored for at least a week (AWS Secrets Manager user guide, DeleteSecret; Well-Architected Reliability pillar REL09).`,
    remediation: "Set recoveryWindowInDays to 0 outside production (a destroyed stage frees the name at once) and 7 to 30 in production (the RelationalStore does: 0 and 30).",
  },
  (args) => {
    if (args.type !== S.secret) return [];
    const raw = args.props.recoveryWindowInDays;
    if (raw === undefined || raw === null) return []; // Secrets Manager's default: 30 days
    const days = num(raw);
    if (days === undefined || !Number.isInteger(days) || (days !== 0 && (days < SECRET_RECOVERY_WINDOW_DAYS.min || days > SECRET_RECOVERY_WINDOW_DAYS.max))) {
      return [{ message: `secret ${args.name} sets recoveryWindowInDays ${String(raw)}: Secrets Manager accepts 0 or ${SECRET_RECOVERY_WINDOW_DAYS.min} to ${SECRET_RECOVERY_WINDOW_DAYS.max}` }];
    }
    if (days === 0 && isProduction(args.urn)) {
      return [{ message: `secret ${args.name} is deleted without recovery (recoveryWindowInDays 0) in production stage ${stackOfUrn(args.urn)}: keep ${SECRET_RECOVERY_WINDOW_DAYS.min} to ${SECRET_RECOVERY_WINDOW_DAYS.max} days` }];
    }
    return [];
  },
);

/** Conditions that tie a statement with a wildcard principal to known callers. */
const RESTRICTING_KEYS = ["aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:SourceAccount", "aws:SourceArn", "aws:PrincipalArn", "aws:SourceOwner"];
const restricted = (statement: Parameters<typeof conditionValues>[0]) =>
  RESTRICTING_KEYS.some((key) => conditionValues(statement, ["StringEquals", "StringLike", "ArnEquals", "ArnLike", "ForAnyValue:StringEquals", "ForAnyValue:StringLike"], key).length > 0);

export const secretsmanagerSecretPolicyNotPublic = resourceRule(
  {
    name: "secretsmanager-secret-policy-not-public",
    description:
      "A Secrets Manager secret's resource policy (a SecretPolicy, or the secret's own policy) grants nothing to everyone (Principal \"*\" without a condition naming the account, organization or source), and a SecretPolicy sets blockPublicPolicy so Secrets Manager itself refuses a public one (AWS Secrets Manager user guide, block public access to secrets; Well-Architected Security pillar SEC03, manage permissions).",
    remediation: "Name the principals (role ARNs of this account) instead of \"*\", or add aws:PrincipalAccount / aws:PrincipalOrgID; set blockPublicPolicy: true on the SecretPolicy.",
  },
  (args) => {
    if (args.type !== S.secretPolicy && args.type !== S.secret) return [];
    const problems: string[] = [];
    const document = policyOf(args.props.policy);
    for (const [i, statement] of (document?.Statement ?? []).entries()) {
      if (statement.Effect !== "Allow") continue;
      if (principalsOf(statement.Principal).includes("*") && !restricted(statement)) problems.push(`statement ${statement.Sid ?? i} allows everyone (Principal "*")`);
    }
    if (args.type === S.secretPolicy && bool(args.props.blockPublicPolicy) !== true) problems.push("does not set blockPublicPolicy");
    return problems.length ? [{ message: `secret policy of ${args.name}: ${problems.join("; ")}` }] : [];
  },
);

export const secretsmanagerSecretVersionNotPlain = resourceRule(
  {
    name: "secretsmanager-secret-version-not-plain",
    description:
      "A secret version's value (secretString, secretBinary) is a Pulumi secret in the program (generated, e.g. from a random password, and marked secret), never a literal or a plain config value, which would sit in clear in the source or in Pulumi.<stage>.yaml (Well-Architected Security pillar SEC02, store and use secrets securely; AWS Secrets Manager user guide, secrets in infrastructure as code). The program's own marker is read where the rules run on the captured programs (npm test, the local stage); in a policy-pack run @pulumi/policy hands rules secrets already unwrapped, so there this rule cannot tell and stays silent.",
    remediation: "Generate the value (aws.secretsmanager.getRandomPasswordOutput, or a random password resource) and wrap it in pulumi.secret(...); for a value a person must choose, use `pulumi config set --secret`.",
  },
  (args) => {
    if (args.type !== S.secretVersion || !secretMarkersVisible(args.props)) return [];
    const plain = (["secretString", "secretBinary", "secretStringWo"] as const).filter((key) => {
      const value = args.props[key];
      return value !== undefined && value !== null && value !== "" && !isSecretValue(value);
    });
    return plain.length ? [{ message: `secret version ${args.name} sets ${plain.join(", ")} as a plain value: generate it and mark it secret (pulumi.secret)` }] : [];
  },
);

// ---------------------------------------------------------------------------------------------------------------
// The DB subnet group

/** What the stack knows of a subnet: private or not, and its availability zone (or a stand-in for it). */
interface KnownSubnet {
  private: boolean;
  zone: string | undefined;
}

/**
 * The subnets the stack knows: awsx VPCs' subnets (one per zone, in zone order), the platform's private subnets from
 * a stack reference's contract, and plain EC2 subnets.
 */
function knownSubnets(args: StackValidationArgs): Map<string, KnownSubnet> {
  const known = new Map<string, KnownSubnet>();
  for (const vpc of ofType(args, T.awsxVpc)) {
    const zones = (Array.isArray(vpc.props.availabilityZoneNames) ? vpc.props.availabilityZoneNames.length : undefined) ?? num(vpc.props.numberOfAvailabilityZones) ?? 3;
    const add = (ids: unknown, isPrivate: boolean) => {
      (Array.isArray(ids) ? ids : []).forEach((id, i) => {
        if (typeof id === "string") known.set(id, { private: isPrivate, zone: `${vpc.urn}#zone-${i % Math.max(1, zones)}` });
      });
    };
    add(vpc.props.privateSubnetIds, true);
    add(vpc.props.isolatedSubnetIds, true);
    add(vpc.props.publicSubnetIds, false);
  }
  // A service stack reaches the platform's network through its stack reference: the contract's privateSubnetIds are
  // the platform network's private subnets, one per zone (platform/network.ts: awsx, one Private subnet spec).
  for (const reference of ofType(args, "pulumi:pulumi:StackReference")) {
    const ids = (json(reference.props.outputs) as { vpc?: { privateSubnetIds?: unknown } } | undefined)?.vpc?.privateSubnetIds;
    (Array.isArray(ids) ? ids : []).forEach((id, i) => {
      if (typeof id === "string" && !known.has(id)) known.set(id, { private: true, zone: `${reference.urn}#zone-${i}` });
    });
  }
  for (const subnet of ofType(args, S.subnet)) {
    const id = str(subnet.props.id);
    if (!id) continue;
    known.set(id, {
      private: bool(subnet.props.mapPublicIpOnLaunch) !== true,
      zone: str(subnet.props.availabilityZone) ?? str(subnet.props.availabilityZoneId),
    });
  }
  return known;
}

export const rdsSubnetGroupPrivateMultiAz = stackRule(
  {
    name: "rds-subnet-group-private-multi-az",
    description:
      "A DB subnet group holds only private subnets of the platform network (created by the stack, or read from the platform's contract through its stack reference), in at least two availability zones: RDS refuses a subnet group that covers fewer than two zones (DBSubnetGroupDoesNotCoverEnoughAZs), and a public subnet or one from elsewhere puts the database where nobody reviewed the routes (AWS Security Hub RDS.2; Well-Architected Reliability pillar REL10, use fault isolation; Amazon Aurora user guide, working with a DB cluster in a VPC).",
    remediation: "Give subnetIds the platform network's privateSubnetIds (platform/relational.ts does), with platform:vpcEnabled and a network of two or more zones.",
  },
  (args) =>
    ofType(args, S.subnetGroup).flatMap((group): Finding[] => {
      const ids = [...new Set((Array.isArray(group.props.subnetIds) ? group.props.subnetIds : []).filter((id: unknown): id is string => typeof id === "string" && id !== ""))];
      const known = knownSubnets(args);
      const problems: string[] = [];
      if (ids.length < 2) problems.push(`has ${ids.length} subnet${ids.length === 1 ? "" : "s"}; RDS needs subnets in at least two availability zones`);
      const unknown = ids.filter((id) => !known.has(id));
      const publicOnes = ids.filter((id) => known.get(id)?.private === false);
      if (unknown.length) problems.push(`names subnets that are neither this stack's nor the platform's (${unknown.join(", ")}), so they are not known to be private`);
      if (publicOnes.length) problems.push(`names public subnets (${publicOnes.join(", ")})`);
      if (ids.length >= 2 && unknown.length === 0) {
        const zones = new Set(ids.map((id) => known.get(id)?.zone ?? id));
        if (zones.size < 2) problems.push("has all its subnets in one availability zone; RDS needs at least two");
      }
      return problems.length ? [{ urn: group.urn, message: `DB subnet group ${group.name} ${problems.join("; ")}` }] : [];
    }),
);

// ---------------------------------------------------------------------------------------------------------------
// Aurora Serverless v2: engine versions and capacity

/**
 * The first engine version, per major, that has a feature (Amazon Aurora user guide: "Supported Regions and Aurora DB
 * engines for RDS Data API" for the Data API on Serverless v2 and provisioned clusters; "Aurora Serverless v2
 * capacity" for a minimum of 0 ACUs). Aurora MySQL versions are read from `8.0.mysql_aurora.3.08.0`.
 */
export const AURORA_FEATURE_MINIMUM_VERSIONS = {
  "aurora-postgresql": {
    dataApi: { 13: "13.11", 14: "14.8", 15: "15.3", 16: "16.1", 17: "17.4" },
    zeroCapacity: { 13: "13.15", 14: "14.12", 15: "15.7", 16: "16.3", 17: "17.4" },
  },
  "aurora-mysql": {
    dataApi: { 3: "3.07.0" },
    zeroCapacity: { 3: "3.08.0" },
  },
} as const satisfies Record<string, { dataApi: Record<number, string>; zeroCapacity: Record<number, string> }>;

/** `16.6` -> [16, 6]; `8.0.mysql_aurora.3.08.0` -> [3, 8, 0]. */
function versionParts(engine: string, version: string): number[] | undefined {
  const text = engine === "aurora-mysql" ? /mysql_aurora\.(\d+(?:\.\d+)*)/.exec(version)?.[1] : /^(\d+(?:\.\d+)*)/.exec(version)?.[1];
  return text ? text.split(".").map(Number) : undefined;
}
function atLeast(version: number[], minimum: number[]): boolean {
  for (let i = 0; i < Math.max(version.length, minimum.length); i++) {
    const a = version[i] ?? 0;
    const b = minimum[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}
/** Whether `version` of `engine` has the feature; undefined when the engine is not one the table knows. */
export function auroraVersionSupports(engine: string, version: string, feature: "dataApi" | "zeroCapacity"): boolean | undefined {
  const table = (AURORA_FEATURE_MINIMUM_VERSIONS as Record<string, { dataApi: Record<number, string>; zeroCapacity: Record<number, string> }>)[engine];
  if (!table) return undefined;
  const parts = versionParts(engine, version);
  if (!parts) return false;
  const minimum = table[feature][parts[0] as number];
  if (minimum) return atLeast(parts, minimum.split(".").map(Number));
  // A major above every one the table lists is newer than the features; one below is older.
  return (parts[0] as number) > Math.max(...Object.keys(table[feature]).map(Number));
}

const scalingOf = (props: Record<string, any>) => json(props.serverlessv2ScalingConfiguration) as Record<string, unknown> | undefined;

export const rdsAuroraVersionSupportsFeatures = resourceRule(
  {
    name: "rds-aurora-version-supports-features",
    description:
      "An Aurora cluster that enables the RDS Data API or a minimum capacity of 0 ACUs names an engine version that has them: the Data API on Aurora PostgreSQL Serverless v2 needs 13.11, 14.8, 15.3, 16.1 or 17.4 and later, 0 ACUs needs 13.15, 14.12, 15.7, 16.3 or 17.4 and later (Aurora MySQL 3.07 and 3.08); an older or unset version makes RDS refuse the cluster or the setting at `pulumi up` (Amazon Aurora user guide, supported Regions and engines for RDS Data API and Aurora Serverless v2 capacity; Well-Architected Reliability pillar).",
    remediation: "Set engineVersion explicitly to a version at or above those minimums (platform/relational.ts: RELATIONAL_ENGINE, 16.6).",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster) return [];
    const engine = str(args.props.engine) ?? "aurora-mysql";
    const version = str(args.props.engineVersion);
    const wants: { feature: "dataApi" | "zeroCapacity"; what: string }[] = [];
    if (bool(args.props.enableHttpEndpoint) === true) wants.push({ feature: "dataApi", what: "the RDS Data API" });
    if (num(scalingOf(args.props)?.minCapacity) === 0) wants.push({ feature: "zeroCapacity", what: "a minimum capacity of 0 ACUs" });
    if (!wants.length || !(engine in AURORA_FEATURE_MINIMUM_VERSIONS)) return [];
    if (!version) return [{ message: `cluster ${args.name} uses ${wants.map((w) => w.what).join(" and ")} without an engineVersion: RDS's default version may not have them` }];
    const missing = wants.filter((w) => auroraVersionSupports(engine, version, w.feature) !== true);
    return missing.length ? [{ message: `cluster ${args.name} runs ${engine} ${version}, which does not support ${missing.map((w) => w.what).join(" or ")}` }] : [];
  },
);

/** Aurora Serverless v2 capacity bounds (RDS API reference, ServerlessV2ScalingConfiguration). */
export const SERVERLESS_V2_CAPACITY = { min: 0, max: 256, minOfMax: 1, step: 0.5, autoPauseSeconds: { min: 300, max: 86_400 } } as const;

export const rdsServerlessCapacityAccepted = resourceRule(
  {
    name: "rds-serverless-capacity-accepted",
    description: `An Aurora Serverless v2 scaling configuration is one RDS accepts: capacities in steps of ${SERVERLESS_V2_CAPACITY.step} ACU, minimum ${SERVERLESS_V2_CAPACITY.min} to ${SERVERLESS_V2_CAPACITY.max}, maximum ${SERVERLESS_V2_CAPACITY.minOfMax} to ${SERVERLESS_V2_CAPACITY.max} and not below the minimum, secondsUntilAutoPause ${SERVERLESS_V2_CAPACITY.autoPauseSeconds.min} to ${SERVERLESS_V2_CAPACITY.autoPauseSeconds.max} (RDS API reference, ServerlessV2ScalingConfiguration; Amazon Aurora user guide, Aurora Serverless v2 capacity; Well-Architected Reliability pillar REL01).`,
    remediation: "Set platform:relationalMinCapacity, relationalMaxCapacity and relationalSecondsUntilAutoPause within those bounds.",
  },
  (args) => {
    if (args.type !== RDS_TYPES.cluster) return [];
    const scaling = scalingOf(args.props);
    if (!scaling) return [];
    const C = SERVERLESS_V2_CAPACITY;
    const problems: string[] = [];
    const step = (n: number) => Number.isInteger(n / C.step);
    const min = num(scaling.minCapacity);
    const max = num(scaling.maxCapacity);
    if (min === undefined) problems.push("sets no minCapacity");
    else if (min < C.min || min > C.max || !step(min)) problems.push(`minCapacity ${min} is not ${C.min} to ${C.max} in steps of ${C.step}`);
    if (max === undefined) problems.push("sets no maxCapacity");
    else if (max < C.minOfMax || max > C.max || !step(max)) problems.push(`maxCapacity ${max} is not ${C.minOfMax} to ${C.max} in steps of ${C.step}`);
    if (min !== undefined && max !== undefined && min > max) problems.push(`minCapacity ${min} is above maxCapacity ${max}`);
    const pause = scaling.secondsUntilAutoPause;
    if (pause !== undefined && pause !== null) {
      const seconds = num(pause);
      if (seconds === undefined || !Number.isInteger(seconds) || seconds < C.autoPauseSeconds.min || seconds > C.autoPauseSeconds.max) {
        problems.push(`secondsUntilAutoPause ${String(pause)} is not ${C.autoPauseSeconds.min} to ${C.autoPauseSeconds.max}`);
      }
    }
    return problems.length ? [{ message: `cluster ${args.name}: ${problems.join("; ")}` }] : [];
  },
);

// ---------------------------------------------------------------------------------------------------------------
// The migration Invocation

/** Lambda's payload quota for a synchronous invocation (request and response): 6 MB. */
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** Keys whose values are credentials, and SQL or URLs that carry one. */
const SECRET_KEY = /pass(word|wd)?$|^pwd$|secret(?!_?(arn|id|name)$)|token$|credential|private_?key|api_?key/i;
const SQL_PASSWORD = /\bPASSWORD\s+(E?'(?:[^']|'')+'|\$[A-Za-z_]*\$)/i;
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;

function secretsIn(value: unknown, path: string, out: string[]): void {
  if (typeof value === "string") {
    if (SQL_PASSWORD.test(value)) out.push(`${path} (SQL that sets a PASSWORD)`);
    else if (URL_WITH_PASSWORD.test(value)) out.push(`${path} (a URL with a password)`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => secretsIn(v, `${path}[${i}]`, out));
    return;
  }
  if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      if (SECRET_KEY.test(key) && v !== null && v !== undefined && v !== "") out.push(at);
      else secretsIn(v, at, out);
    }
  }
}

export const lambdaInvocationInputNoSecrets = resourceRule(
  {
    name: "lambda-invocation-input-no-secrets",
    description:
      "A Lambda Invocation's input holds no password, token or key, no SQL that sets a PASSWORD and no URL with a password: the input (and the function's answer) are kept in the stack's state in clear and shown in every preview's diff; give the function the ARN of a secret it may read instead (AWS Lambda developer guide, securing environment variables and secrets; Well-Architected Security pillar SEC02).",
    remediation: "Pass secret ARNs (the migration function reads the role's password from its secret) and keep passwords out of migrations: the RelationalStore gives the role its password from the secret, not from SQL.",
  },
  (args) => {
    if (args.type !== S.invocation) return [];
    const raw = args.props.input;
    if (isSecretValue(raw)) return [{ message: `invocation ${args.name} passes a secret as its input: the input is stored in state; pass the ARN of a secret instead` }];
    const input = typeof raw === "string" ? json(raw) ?? raw : raw;
    const found: string[] = [];
    secretsIn(input, "", found);
    return found.length ? [{ message: `invocation ${args.name} has credentials in its input: ${found.join(", ")}` }] : [];
  },
);

export const lambdaInvocationPayloadLimit = resourceRule(
  {
    name: "lambda-invocation-payload-limit",
    description: `A Lambda Invocation's input fits Lambda's synchronous payload quota (${LAMBDA_SYNC_PAYLOAD_BYTES / 1024 / 1024} MB): \`pulumi up\` invokes the function synchronously, and a bigger request is refused (RequestEntityTooLargeException), so the migration step fails once the migrations folder outgrows it (AWS Lambda developer guide, Lambda quotas: invocation payload).`,
    remediation: "Keep the input small: pass references (object keys, hashes) and let the function fetch the rest; squash old migrations into a baseline.",
  },
  (args) => {
    if (args.type !== S.invocation) return [];
    const raw = isSecretValue(args.props.input) ? (args.props.input as { value?: unknown }).value : args.props.input;
    if (typeof raw !== "string") return [];
    const bytes = Buffer.byteLength(raw, "utf8");
    return bytes > LAMBDA_SYNC_PAYLOAD_BYTES
      ? [{ message: `invocation ${args.name} sends ${bytes} bytes; Lambda accepts at most ${LAMBDA_SYNC_PAYLOAD_BYTES} in a synchronous invocation` }]
      : [];
  },
);

/** Whether a permission or function URL lets anyone (no signature, or any principal) invoke the function. */
function publicAccess(args: StackValidationArgs, fn: PolicyResource): string[] {
  const refs = new Set([fn.props.name, fn.props.arn, fn.name].filter((v): v is string => typeof v === "string"));
  const named = (ref: unknown) => {
    const value = str(ref);
    return value !== undefined && (refs.has(value) || [...refs].some((r) => value.startsWith(`${r}:`)));
  };
  const found: string[] = [];
  for (const permission of ofType(args, T.permission)) {
    if (!named(permission.props.function)) continue;
    if (str(permission.props.principal) === "*") found.push(`permission ${permission.name} lets anyone invoke it`);
    if (str(permission.props.functionUrlAuthType) === "NONE") found.push(`permission ${permission.name} opens its function URL without authentication`);
  }
  for (const url of ofType(args, S.functionUrl)) {
    if (named(url.props.functionName) && str(url.props.authorizationType) === "NONE") found.push(`function URL ${url.name} takes unauthenticated requests`);
  }
  return found;
}

export const lambdaInvocationFunctionPrivate = stackRule(
  {
    name: "lambda-invocation-function-private",
    description:
      "A function that `pulumi up` invokes (aws.lambda.Invocation: the migration step) is one the stack creates, and nobody else may invoke it: no permission for Principal \"*\" and no function URL without authentication; it runs with the cluster's master secret, so a public one would let anyone run its code against the database (AWS Security Hub Lambda.1; AWS Lambda developer guide, resource-based policies and function URLs).",
    remediation: "Invoke a function of the same stack (the RelationalStore's migration function) and grant lambda:InvokeFunction to nobody else; remove any public permission or NONE-authorized function URL.",
  },
  (args) =>
    ofType(args, S.invocation).flatMap((invocation): Finding[] => {
      const fn = functionNamed(args, invocation.props.functionName);
      if (!fn) {
        return [{ urn: invocation.urn, message: `invocation ${invocation.name} invokes ${str(invocation.props.functionName) ?? "an unnamed function"}, which this stack does not create: its code and who may invoke it are not reviewed here` }];
      }
      const found = publicAccess(args, fn);
      return found.length ? [{ urn: invocation.urn, message: `invocation ${invocation.name} runs function ${str(fn.props.name) ?? fn.name}, which is public: ${found.join("; ")}` }] : [];
    }),
);

// ---------------------------------------------------------------------------------------------------------------
// Step Functions logging and Kinesis capacity: refused at `pulumi up`

/** Step Functions reuses a data key 60 to 900 seconds. */
export const SFN_DATA_KEY_REUSE_SECONDS = { min: 60, max: 900 } as const;
const LOG_GROUP_DESTINATION = /^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[A-Za-z0-9._\-/#]{1,512}:\*$/;

export const sfnLogDestinationAccepted = resourceRule(
  {
    name: "sfn-log-destination-accepted",
    description: `A state machine's log destination is a CloudWatch Logs log group ARN ending in ":*", as Step Functions requires (a bare log group ARN is refused at \`pulumi up\`), and an encrypted state machine reuses its data key ${SFN_DATA_KEY_REUSE_SECONDS.min} to ${SFN_DATA_KEY_REUSE_SECONDS.max} seconds (AWS Step Functions developer guide, logging using CloudWatch Logs and data at rest encryption; AWS Step Functions API reference, CloudWatchLogsLogGroup; Checkov CKV_AWS_285, state machine logging).`,
    remediation: "Set loggingConfiguration.logDestination to pulumi.interpolate`${logGroup.arn}:*` (the Workflow component does) and kmsDataKeyReusePeriodSeconds within bounds.",
  },
  (args) => {
    if (args.type !== STATE_MACHINE) return [];
    const problems: string[] = [];
    const logging = json(args.props.loggingConfiguration) as { level?: string; logDestination?: string } | undefined;
    const destination = str(logging?.logDestination);
    if (destination && !LOG_GROUP_DESTINATION.test(destination)) problems.push(`logs to ${destination}, not a log group ARN ending in ":*"`);
    const encryption = json(args.props.encryptionConfiguration) as { kmsDataKeyReusePeriodSeconds?: unknown } | undefined;
    const reuse = encryption?.kmsDataKeyReusePeriodSeconds;
    if (reuse !== undefined && reuse !== null) {
      const seconds = num(reuse);
      if (seconds === undefined || seconds < SFN_DATA_KEY_REUSE_SECONDS.min || seconds > SFN_DATA_KEY_REUSE_SECONDS.max) {
        problems.push(`reuses its data key ${String(reuse)} seconds (${SFN_DATA_KEY_REUSE_SECONDS.min} to ${SFN_DATA_KEY_REUSE_SECONDS.max})`);
      }
    }
    return problems.length ? [{ message: `state machine ${args.name} ${problems.join(" and ")}` }] : [];
  },
);

/** Whether an IAM resource pattern (`*`, `?`) covers a resource. */
const coversResource = (pattern: string, resource: string) =>
  new RegExp(`^${pattern.split(/([*?])/).map((part) => (part === "*" ? ".*" : part === "?" ? "." : part.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`).test(resource);

export const sfnRoleAllowsLogsTracingKey = stackRule(
  {
    name: "sfn-role-allows-logs-tracing-key",
    description:
      "The role of a state machine holds what the state machine's own settings use: the CloudWatch Logs delivery actions when it logs (Step Functions refuses the logging configuration otherwise: InvalidLoggingConfiguration), X-Ray's actions when it traces (else its traces are silently missing), and kms:GenerateDataKey and kms:Decrypt on its customer managed key when it is encrypted with one (else it cannot start or read its executions) (AWS Step Functions developer guide, IAM policies for logging, X-Ray and data at rest encryption; Well-Architected Serverless Lens, operational excellence).",
    remediation: "Give the role those statements (the Workflow component derives them from the state machine's settings), or turn the setting off.",
  },
  (args) =>
    ofType(args, STATE_MACHINE).flatMap((machine): Finding[] => {
      const role = roleOf(args, machine.props.roleArn);
      if (!role) return [{ urn: machine.urn, message: `state machine ${machine.name} runs as ${str(machine.props.roleArn) ?? "no role"}, which this stack does not create: its grants cannot be checked` }];
      const allows = roleStatements(args, role)
        .map((s) => s.statement)
        .filter((s) => s.Effect === "Allow");
      const allowed = (action: string, resource: string) =>
        allows.some((s) => actionsOf(s).some((a) => actionCovers(a, action)) && resourcesOf(s).some((r) => coversResource(r, resource)));
      const missing: string[] = [];
      const logging = json(machine.props.loggingConfiguration) as { level?: string } | undefined;
      if (logging?.level && logging.level !== "OFF") {
        const lacking = LOG_DELIVERY_ACTIONS.filter((a) => !allowed(a, "*"));
        if (lacking.length) missing.push(`it logs (level ${logging.level}) but may not ${lacking.join(", ")} on "*"`);
      }
      if ((json(machine.props.tracingConfiguration) as { enabled?: unknown } | undefined)?.enabled === true) {
        const lacking = WORKFLOW_XRAY_ACTIONS.filter((a) => !allowed(a, "*"));
        if (lacking.length) missing.push(`it traces but may not ${lacking.join(", ")}`);
      }
      const encryption = json(machine.props.encryptionConfiguration) as { type?: string; kmsKeyId?: string } | undefined;
      const key = str(encryption?.kmsKeyId);
      if (encryption?.type === "CUSTOMER_MANAGED_KMS_KEY" && key) {
        const lacking = WORKFLOW_KEY_ACTIONS.filter((a) => !allowed(a, key));
        if (lacking.length) missing.push(`it is encrypted with ${key} but may not ${lacking.join(", ")} on it`);
      }
      return missing.length ? [{ urn: machine.urn, message: `state machine ${machine.name}'s role ${role.name}: ${missing.join("; ")}` }] : [];
    }),
);

export const kinesisStreamCapacityAccepted = resourceRule(
  {
    name: "kinesis-stream-capacity-accepted",
    description:
      "A Kinesis data stream's capacity is one Kinesis accepts: in PROVISIONED mode (the default) a shard count of at least 1, in ON_DEMAND mode none (Kinesis sizes it), and the mode one of the two (AWS Kinesis developer guide, choosing the data stream capacity mode; Well-Architected Serverless Lens, reliability).",
    remediation: "Set streamModeDetails.streamMode and, in PROVISIONED mode only, shardCount (platform:streamCapacityMode and platform:streamShardCount; the platform's createStreams does).",
  },
  (args) => {
    if (args.type !== S.kinesisStream) return [];
    const mode = str((json(args.props.streamModeDetails) as { streamMode?: unknown } | undefined)?.streamMode) ?? "PROVISIONED";
    const shards = args.props.shardCount;
    if (mode === "ON_DEMAND") {
      return shards !== undefined && shards !== null ? [{ message: `stream ${args.name} is ON_DEMAND and sets shardCount ${String(shards)}: on demand, Kinesis sizes the stream` }] : [];
    }
    if (mode !== "PROVISIONED") return [{ message: `stream ${args.name} has capacity mode ${mode}; Kinesis has PROVISIONED and ON_DEMAND` }];
    const count = num(shards);
    return count === undefined || !Number.isInteger(count) || count < 1
      ? [{ message: `stream ${args.name} is PROVISIONED with shardCount ${shards === undefined ? "unset" : String(shards)}: set 1 or more` }]
      : [];
  },
);
