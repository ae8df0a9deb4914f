/**
 * The local wiring of a stage, read from what the Pulumi programs registered under mocks: one plain description per
 * table, topic, queue, subscription, function, event source mapping and HTTP route, each pointing back at the
 * captured resource it came from. Nothing here starts anything: `startLocalStage` turns this description into
 * engines, and tests compare it with the captured resources one to one.
 */
import { posix } from "node:path";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { bool as readBool, num, str } from "../../capture/read";
import type { BundleSettings } from "../../runtime/bundle-options";

/** Pulumi type tokens the local stage turns into local equivalents. */
export const RESOURCE_TYPES = {
  table: "aws:dynamodb/table:Table",
  topic: "aws:sns/topic:Topic",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  queue: "aws:sqs/queue:Queue",
  /** A queue's resource policy: it decides whether SNS may deliver to the queue. */
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  function: "aws:lambda/function:Function",
  mapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  rolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  managedPolicy: "aws:iam/policy:Policy",
  api: "aws:apigatewayv2/api:Api",
  route: "aws:apigatewayv2/route:Route",
  integration: "aws:apigatewayv2/integration:Integration",
  /** A JWT authorizer: the local stage checks its routes' tokens (not their signatures). */
  authorizer: "aws:apigatewayv2/authorizer:Authorizer",
  /** The function component of shared/infra (`SERVICE_FUNCTION_TYPE`): it carries the handler's entry. */
  serviceFunction: "platform:infra:ServiceFunction",
  /** A Step Functions state machine: run by the workflows part on an ASL interpreter. */
  stateMachine: "aws:sfn/stateMachine:StateMachine",
  /** A Kinesis data stream: the Kinesis part creates it (part-kinesis.ts reads its shard count and retention). */
  kinesisStream: "aws:kinesis/stream:Stream",
  /** An enhanced fan-out consumer of a stream: locally its mapping reads the stream itself (kinesalite has none). */
  kinesisStreamConsumer: "aws:kinesis/streamConsumer:StreamConsumer",
} as const;

/**
 * Types that exist in AWS only for deployment, monitoring or permissions between services, with nothing to run
 * locally (their effect is either built in, like topic policies, or not emulated, like alarms and log groups).
 */
const WITHOUT_LOCAL_EQUIVALENT = new Set([
  "pulumi:pulumi:Stack",
  "pulumi:pulumi:StackReference",
  "aws:sns/topicPolicy:TopicPolicy",
  "aws:kms/key:Key",
  "aws:kms/alias:Alias",
  "aws:cloudwatch/logGroup:LogGroup",
  "aws:cloudwatch/metricAlarm:MetricAlarm",
  "aws:lambda/permission:Permission",
  "aws:apigatewayv2/stage:Stage",
  // The platform network: locally, functions reach the stage's endpoints directly, as through the network's.
  "aws:ec2/securityGroup:SecurityGroup",
  "aws:ec2/vpcEndpoint:VpcEndpoint",
  // The programs' AWS provider (its default tags): locally every resource is the stage's own engine.
  "pulumi:providers:aws",
  // The account's X-Ray policy for SNS active tracing: locally the stage records every hop's span itself.
  "aws:xray/resourcePolicy:ResourcePolicy",
  // The relational store: the relational part (part-relational.ts) runs PostgreSQL for the cluster the platform's
  // contract names, maps the secrets the functions name to roles, and applies the migrations that the deploy's
  // Invocation of the migration function applies.
  "aws:rds/cluster:Cluster",
  "aws:rds/clusterInstance:ClusterInstance",
  "aws:rds/subnetGroup:SubnetGroup",
  "aws:secretsmanager/secret:Secret",
  "aws:secretsmanager/secretVersion:SecretVersion",
  "aws:lambda/invocation:Invocation",
]);

/** Where a piece of the wiring came from. */
export interface ResourceOrigin {
  /** The Pulumi project that registered it (`platform`, `billing`). */
  project: string;
  /** The resource's logical name. */
  name: string;
  type: string;
}

/** A DynamoDB table as `CreateTable` takes it. */
export interface TableSpec {
  origin: ResourceOrigin;
  name: string;
  arn: string;
  attributes: { name: string; type: "S" | "N" | "B" }[];
  hashKey: string;
  rangeKey?: string;
  globalIndexes: IndexSpec[];
  localIndexes: IndexSpec[];
  /** TTL attribute (not enforced locally: dynalite has no TTL; DescribeTimeToLive answers it). */
  ttlAttribute?: string;
  /** Point-in-time recovery, when the program enables it (DescribeContinuousBackups answers it; nothing is restorable). */
  pointInTimeRecovery?: { recoveryPeriodInDays: number };
  /** Its stream, when `streamEnabled`: the stream ARN (`<table ARN>/stream/<label>`) and `streamViewType`. */
  stream?: { arn: string; viewType: "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES" };
}

/** A secondary index. */
export interface IndexSpec {
  name: string;
  hashKey: string;
  rangeKey?: string;
  projectionType: "ALL" | "KEYS_ONLY" | "INCLUDE";
  nonKeyAttributes?: string[];
}

/** An SNS topic. */
export interface TopicSpec {
  origin: ResourceOrigin;
  name: string;
  arn: string;
  fifo: boolean;
  contentBasedDeduplication: boolean;
}

/** An SQS queue. */
export interface QueueSpec {
  origin: ResourceOrigin;
  name: string;
  arn: string;
  /** The URL a deployment would have (the local one is on the endpoint server). */
  deployedUrl: string;
  fifo: boolean;
  contentBasedDeduplication: boolean;
  visibilityTimeoutSeconds?: number;
  messageRetentionSeconds?: number;
  delaySeconds?: number;
  receiveWaitTimeSeconds?: number;
  redrive?: { deadLetterTargetArn: string; maxReceiveCount: number };
  /**
   * The queue's resource policy (JSON), from the queue's `policy` or a `QueuePolicy` naming its URL (the latter wins,
   * as it overwrites the attribute in AWS). SNS delivers only what it allows `sns.amazonaws.com`; no policy allows
   * nothing.
   */
  policy?: string;
}

/** An SNS subscription of a queue. */
export interface SubscriptionSpec {
  origin: ResourceOrigin;
  /** The ARN the mocks gave it (the local engine gives its own). */
  deployedArn: string;
  topicArn: string;
  queueArn: string;
  raw: boolean;
  filterPolicy?: string;
  filterPolicyScope?: "MessageAttributes" | "MessageBody";
  /** The subscription's own dead-letter queue. */
  deadLetterTargetArn?: string;
}

/** A Lambda function and what runs it locally. */
export interface FunctionSpec {
  origin: ResourceOrigin;
  /** The AWS name (`local-billing-bill-order`). */
  name: string;
  arn: string;
  /** The service and logical name from the ServiceFunction component (or the project and AWS name without one). */
  service: string;
  logicalName: string;
  /** Handler entry, relative to the repository root (`services/billing/handlers/bill-order.ts`). */
  entry: string;
  exportName: string;
  /** The bundle settings its ServiceFunction registered: with `entry`, the deploy's build request. */
  bundleSettings?: BundleSettings;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  reservedConcurrency?: number;
  environment: Record<string, string>;
  logFormat: "JSON" | "Text";
  applicationLogLevel?: string;
  /** The execution role's ARN. */
  roleArn: string;
  /** Every identity-based policy document of the role (inline policies and attached managed ones), as JSON. */
  policies: string[];
}

/** An event source mapping (SQS -> function). */
export interface MappingSpec {
  origin: ResourceOrigin;
  queueArn: string;
  functionArn: string;
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  maximumConcurrency?: number;
  reportBatchItemFailures: boolean;
  enabled: boolean;
}

/** An event source mapping on a stream (a DynamoDB table's stream, a Kinesis data stream) -> function. */
export interface StreamMappingSpec {
  origin: ResourceOrigin;
  /** Which kind of stream `eventSourceArn` names. */
  kind: "dynamodb" | "kinesis";
  eventSourceArn: string;
  functionArn: string;
  startingPosition: "TRIM_HORIZON" | "LATEST";
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  parallelizationFactor: number;
  bisectBatchOnFunctionError: boolean;
  /** -1: until the records expire. */
  maximumRetryAttempts: number;
  /** -1: until the records expire. */
  maximumRecordAgeInSeconds: number;
  /** `destinationConfig.onFailure.destinationArn` (an SQS queue or SNS topic). */
  onFailureDestinationArn?: string;
  reportBatchItemFailures: boolean;
  /** `filterCriteria`, in the Lambda API's shape. */
  filterCriteria?: { Filters: { Pattern: string }[] };
  enabled: boolean;
}

/** An HTTP API route and the function behind it. */
export interface RouteSpec {
  origin: ResourceOrigin;
  /** The project that declared it (the service). */
  project: string;
  /** The API's AWS name. */
  api: string;
  apiId: string;
  routeKey: string;
  functionArn: string;
  /** `NONE`, `AWS_IAM` or `JWT`. */
  authorizationType: string;
  /** JWT routes: their authorizer's issuer (when known), audiences and identity source, and the route's scopes. */
  jwt?: { issuer?: string; audiences: string[]; identitySource: string; scopes: string[] };
}

/** A Step Functions state machine. */
export interface StateMachineSpec {
  origin: ResourceOrigin;
  name: string;
  arn: string;
  /** The ASL definition (JSON). */
  definition: string;
  type: "STANDARD" | "EXPRESS";
  /** Its role's ARN. */
  roleArn: string;
  /** Every identity-based policy document of the role, as JSON (what its tasks may call). */
  policies: string[];
}

/** A resource the local stage does not run, and why. */
export interface IgnoredResource {
  origin: ResourceOrigin;
  reason: string;
}

/** The whole local wiring of a stage. */
export interface StageWiring {
  region: string;
  accountId: string;
  tables: TableSpec[];
  topics: TopicSpec[];
  queues: QueueSpec[];
  subscriptions: SubscriptionSpec[];
  functions: FunctionSpec[];
  mappings: MappingSpec[];
  /** Event source mappings on streams (absent in wirings built by hand before streams existed). */
  streamMappings?: StreamMappingSpec[];
  routes: RouteSpec[];
  /** Step Functions state machines (absent in wirings built by hand before workflows existed). */
  stateMachines?: StateMachineSpec[];
  /** Registrations with no local equivalent that a program might expect to work (not the deployment-only ones). */
  ignored: IgnoredResource[];
}

/** One program's captured resources. */
export interface ProgramResources {
  project: string;
  resources: readonly CapturedResource[];
}

/** The captured resources cannot be turned into local wiring (a reference to nothing, a missing handler entry). */
export class WiringError extends Error {
  override name = "WiringError";
}

const origin = (project: string, resource: CapturedResource): ResourceOrigin => ({ project, name: resource.name, type: resource.type });

/** A flag that is on only when set (`true` or `"true"`). */
function bool(value: unknown): boolean {
  return readBool(value) === true;
}

function parseJson(value: unknown, what: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "object") return value as Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(String(value));
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    throw new WiringError(`${what} is not valid JSON: ${String(value).slice(0, 120)}`);
  }
}

function policyText(value: unknown): string | undefined {
  if (typeof value === "string" && value.trim() !== "") return value;
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return undefined;
}

function indexSpec(raw: Record<string, unknown>): IndexSpec {
  const keySchemas = Array.isArray(raw.keySchemas) ? (raw.keySchemas as Record<string, unknown>[]) : [];
  const hashKey = str(raw.hashKey) ?? str(keySchemas.find((k) => k.keyType === "HASH")?.attributeName);
  const rangeKey = str(raw.rangeKey) ?? str(keySchemas.find((k) => k.keyType === "RANGE")?.attributeName);
  if (!hashKey) throw new WiringError(`index ${String(raw.name)} has no partition key`);
  const projectionType = (str(raw.projectionType) ?? "ALL") as IndexSpec["projectionType"];
  const nonKeyAttributes = Array.isArray(raw.nonKeyAttributes) ? (raw.nonKeyAttributes as string[]) : undefined;
  return {
    name: String(raw.name),
    hashKey,
    ...(rangeKey ? { rangeKey } : {}),
    projectionType,
    ...(nonKeyAttributes?.length ? { nonKeyAttributes } : {}),
  };
}

function tableSpec(project: string, r: CapturedResource): TableSpec {
  const name = str(r.state.name) ?? str(r.id);
  const arn = str(r.state.arn);
  const hashKey = str(r.inputs.hashKey);
  if (!name || !arn || !hashKey) throw new WiringError(`table ${r.name} of ${project} has no name, ARN or hash key`);
  const attributes = ((r.inputs.attributes ?? []) as Record<string, unknown>[]).map((a) => ({
    name: String(a.name),
    type: (str(a.type) ?? "S") as "S" | "N" | "B",
  }));
  const ttl = r.inputs.ttl as { attributeName?: string; enabled?: boolean } | undefined;
  const pitr = r.inputs.pointInTimeRecovery as { enabled?: unknown; recoveryPeriodInDays?: unknown } | undefined;
  const rangeKey = str(r.inputs.rangeKey);
  const streamArn = bool(r.inputs.streamEnabled) ? str(r.state.streamArn) : undefined;
  return {
    origin: origin(project, r),
    name,
    arn,
    attributes,
    hashKey,
    ...(rangeKey ? { rangeKey } : {}),
    globalIndexes: ((r.inputs.globalSecondaryIndexes ?? []) as Record<string, unknown>[]).map(indexSpec),
    localIndexes: ((r.inputs.localSecondaryIndexes ?? []) as Record<string, unknown>[]).map(indexSpec),
    ...(ttl?.enabled && ttl.attributeName ? { ttlAttribute: ttl.attributeName } : {}),
    // DynamoDB's recovery period defaults to 35 days.
    ...(bool(pitr?.enabled) ? { pointInTimeRecovery: { recoveryPeriodInDays: num(pitr?.recoveryPeriodInDays) ?? 35 } } : {}),
    ...(streamArn ? { stream: { arn: streamArn, viewType: (str(r.inputs.streamViewType) ?? "NEW_AND_OLD_IMAGES") as NonNullable<TableSpec["stream"]>["viewType"] } } : {}),
  };
}

function topicSpec(project: string, r: CapturedResource): TopicSpec {
  const name = str(r.state.name);
  const arn = str(r.state.arn);
  if (!name || !arn) throw new WiringError(`topic ${r.name} of ${project} has no name or ARN`);
  return { origin: origin(project, r), name, arn, fifo: bool(r.inputs.fifoTopic), contentBasedDeduplication: bool(r.inputs.contentBasedDeduplication) };
}

function queueSpec(project: string, r: CapturedResource): QueueSpec {
  const name = str(r.state.name);
  const arn = str(r.state.arn);
  if (!name || !arn) throw new WiringError(`queue ${r.name} of ${project} has no name or ARN`);
  const redrive = parseJson(r.inputs.redrivePolicy, `redrivePolicy of queue ${r.name}`);
  const target = str(redrive?.deadLetterTargetArn);
  const spec: QueueSpec = {
    origin: origin(project, r),
    name,
    arn,
    deployedUrl: str(r.state.url) ?? "",
    fifo: bool(r.inputs.fifoQueue),
    contentBasedDeduplication: bool(r.inputs.contentBasedDeduplication),
  };
  const optional: [keyof QueueSpec, unknown][] = [
    ["visibilityTimeoutSeconds", r.inputs.visibilityTimeoutSeconds],
    ["messageRetentionSeconds", r.inputs.messageRetentionSeconds],
    ["delaySeconds", r.inputs.delaySeconds],
    ["receiveWaitTimeSeconds", r.inputs.receiveWaitTimeSeconds],
  ];
  for (const [key, value] of optional) {
    const n = num(value);
    if (n !== undefined) (spec as unknown as Record<string, number>)[key] = n;
  }
  if (target) spec.redrive = { deadLetterTargetArn: target, maxReceiveCount: num(redrive?.maxReceiveCount) ?? 10 };
  const policy = policyText(r.inputs.policy);
  if (policy) spec.policy = policy;
  return spec;
}

/** Gives each `QueuePolicy` to the queue whose URL it names; one that names no queue of the stage is reported. */
function applyQueuePolicies(wiring: StageWiring, policies: ReadonlyArray<{ project: string; r: CapturedResource }>): void {
  for (const { project, r } of policies) {
    const url = str(r.inputs.queueUrl);
    const queue = wiring.queues.find((q) => q.deployedUrl !== "" && q.deployedUrl === url);
    const policy = policyText(r.inputs.policy);
    if (!queue) {
      wiring.ignored.push({ origin: origin(project, r), reason: `its queue ${url ?? "(no URL)"} is not one the programs created` });
    } else if (policy) {
      queue.policy = policy;
    }
  }
}

function subscriptionSpec(project: string, r: CapturedResource): SubscriptionSpec | IgnoredResource {
  if (r.inputs.protocol !== "sqs") {
    return { origin: origin(project, r), reason: `protocol ${String(r.inputs.protocol)} is not emulated (the local stage delivers to SQS queues only)` };
  }
  const topicArn = str(r.inputs.topic);
  const queueArn = str(r.inputs.endpoint);
  if (!topicArn || !queueArn) throw new WiringError(`subscription ${r.name} of ${project} has no topic or endpoint`);
  const redrive = parseJson(r.inputs.redrivePolicy, `redrivePolicy of subscription ${r.name}`);
  const filterPolicy = policyText(r.inputs.filterPolicy);
  const scope = str(r.inputs.filterPolicyScope) as SubscriptionSpec["filterPolicyScope"] | undefined;
  const deadLetterTargetArn = str(redrive?.deadLetterTargetArn);
  return {
    origin: origin(project, r),
    deployedArn: str(r.state.arn) ?? "",
    topicArn,
    queueArn,
    raw: bool(r.inputs.rawMessageDelivery),
    ...(filterPolicy ? { filterPolicy } : {}),
    ...(filterPolicy && scope ? { filterPolicyScope: scope } : {}),
    ...(deadLetterTargetArn ? { deadLetterTargetArn } : {}),
  };
}

/** A mapping on a DynamoDB table's stream or a Kinesis stream, with Lambda's defaults; `undefined` for other sources. */
function streamMappingSpec(project: string, r: CapturedResource): StreamMappingSpec | undefined {
  const eventSourceArn = str(r.inputs.eventSourceArn);
  const kind = /^arn:aws:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(eventSourceArn ?? "") ? "dynamodb" : eventSourceArn?.startsWith("arn:aws:kinesis:") ? "kinesis" : undefined;
  if (!kind || !eventSourceArn) return undefined;
  const functionArn = str(r.inputs.functionName);
  if (!functionArn) throw new WiringError(`event source mapping ${r.name} of ${project} names no function`);
  const responseTypes = Array.isArray(r.inputs.functionResponseTypes) ? (r.inputs.functionResponseTypes as string[]) : [];
  const destination = str((r.inputs.destinationConfig as { onFailure?: { destinationArn?: unknown } } | undefined)?.onFailure?.destinationArn);
  const filters = ((r.inputs.filterCriteria as { filters?: { pattern?: unknown }[] } | undefined)?.filters ?? []).map((f) => ({ Pattern: String(f.pattern ?? "") }));
  const startingPosition = str(r.inputs.startingPosition);
  if (startingPosition !== "TRIM_HORIZON" && startingPosition !== "LATEST") {
    throw new WiringError(`event source mapping ${r.name} of ${project} reads a stream with startingPosition ${startingPosition ?? "(none)"}: TRIM_HORIZON or LATEST`);
  }
  return {
    origin: origin(project, r),
    kind,
    eventSourceArn,
    functionArn,
    startingPosition,
    batchSize: num(r.inputs.batchSize) ?? 100,
    maximumBatchingWindowInSeconds: num(r.inputs.maximumBatchingWindowInSeconds) ?? 0,
    parallelizationFactor: num(r.inputs.parallelizationFactor) ?? 1,
    bisectBatchOnFunctionError: bool(r.inputs.bisectBatchOnFunctionError),
    maximumRetryAttempts: num(r.inputs.maximumRetryAttempts) ?? -1,
    maximumRecordAgeInSeconds: num(r.inputs.maximumRecordAgeInSeconds) ?? -1,
    ...(destination ? { onFailureDestinationArn: destination } : {}),
    reportBatchItemFailures: responseTypes.includes("ReportBatchItemFailures"),
    ...(filters.length ? { filterCriteria: { Filters: filters } } : {}),
    enabled: r.inputs.enabled === undefined ? true : bool(r.inputs.enabled),
  };
}

function mappingSpec(project: string, r: CapturedResource): MappingSpec | IgnoredResource {
  const queueArn = str(r.inputs.eventSourceArn);
  const functionArn = str(r.inputs.functionName);
  if (!queueArn?.startsWith("arn:aws:sqs:")) {
    return { origin: origin(project, r), reason: `event source ${queueArn ?? "(none)"} is not an SQS queue (only SQS mappings are emulated)` };
  }
  if (!functionArn) throw new WiringError(`event source mapping ${r.name} of ${project} names no function`);
  const responseTypes = Array.isArray(r.inputs.functionResponseTypes) ? (r.inputs.functionResponseTypes as string[]) : [];
  const scaling = r.inputs.scalingConfig as { maximumConcurrency?: unknown } | undefined;
  const maximumConcurrency = num(scaling?.maximumConcurrency);
  return {
    origin: origin(project, r),
    queueArn,
    functionArn,
    batchSize: num(r.inputs.batchSize) ?? 10,
    maximumBatchingWindowInSeconds: num(r.inputs.maximumBatchingWindowInSeconds) ?? 0,
    ...(maximumConcurrency !== undefined ? { maximumConcurrency } : {}),
    reportBatchItemFailures: responseTypes.includes("ReportBatchItemFailures"),
    enabled: r.inputs.enabled === undefined ? true : bool(r.inputs.enabled),
  };
}

/** The ServiceFunction registration (see `ServiceFunctionRegistration` in shared/infra/service-function.ts). */
interface Registration {
  service?: unknown;
  name?: unknown;
  entry?: unknown;
  export?: unknown;
  runtime?: unknown;
  settings?: unknown;
}

/** Every identity-based policy document (JSON) of the role with this ARN: its inline policies and attached managed ones. */
function rolePolicies(resources: readonly CapturedResource[], roleArn: string): string[] {
  const role = resources.find((r) => r.type === RESOURCE_TYPES.role && r.state.arn === roleArn);
  const roleKeys = new Set([roleArn, str(role?.state.name), str(role?.id)].filter((v): v is string => v !== undefined));
  const policies: string[] = [];
  for (const policy of resources) {
    if (policy.type !== RESOURCE_TYPES.rolePolicy || !roleKeys.has(String(policy.inputs.role))) continue;
    const text = policyText(policy.inputs.policy);
    if (text) policies.push(text);
  }
  for (const attachment of resources) {
    if (attachment.type !== RESOURCE_TYPES.rolePolicyAttachment || !roleKeys.has(String(attachment.inputs.role))) continue;
    const target = resources.find((p) => p.type === RESOURCE_TYPES.managedPolicy && p.state.arn === attachment.inputs.policyArn);
    const text = policyText(target?.inputs.policy);
    if (text) policies.push(text);
  }
  return policies;
}

function stateMachineSpecs(project: string, resources: readonly CapturedResource[]): StateMachineSpec[] {
  return resources
    .filter((r) => r.type === RESOURCE_TYPES.stateMachine)
    .map((r) => {
      const name = str(r.state.name) ?? str(r.inputs.name);
      const arn = str(r.state.arn);
      const definition = policyText(r.inputs.definition);
      if (!name || !arn || !definition) throw new WiringError(`state machine ${r.name} of ${project} has no name, ARN or definition`);
      const roleArn = str(r.inputs.roleArn) ?? "";
      const type = str(r.inputs.type)?.toUpperCase() === "EXPRESS" ? "EXPRESS" : "STANDARD";
      return { origin: origin(project, r), name, arn, definition, type, roleArn, policies: rolePolicies(resources, roleArn) };
    });
}

function functionSpecs(project: string, resources: readonly CapturedResource[]): FunctionSpec[] {
  const byUrn = new Map(resources.filter((r) => r.urn).map((r) => [r.urn, r]));

  return resources
    .filter((r) => r.type === RESOURCE_TYPES.function)
    .map((fn) => {
      const name = str(fn.state.name);
      const arn = str(fn.state.arn);
      if (!name || !arn) throw new WiringError(`function ${fn.name} of ${project} has no name or ARN`);
      // The handler's entry: the ServiceFunction component that owns the function registered it.
      let component: CapturedResource | undefined = byUrn.get(fn.parent);
      while (component && component.type !== RESOURCE_TYPES.serviceFunction) component = byUrn.get(component.parent);
      const registration = (component?.inputs ?? {}) as Registration;
      const entry = str(registration.entry);
      if (!entry) {
        throw new WiringError(
          `function ${name} of ${project} is not a ServiceFunction (shared/infra), so its handler's source is unknown: under mocks the code archive arrives empty`,
        );
      }
      const roleArn = str(fn.inputs.role) ?? "";
      const policies = rolePolicies(resources, roleArn);
      const variables = ((fn.inputs.environment as { variables?: Record<string, unknown> } | undefined)?.variables ?? {}) as Record<string, unknown>;
      const environment: Record<string, string> = {};
      for (const [key, value] of Object.entries(variables)) if (value !== undefined && value !== null) environment[key] = String(value);
      const logging = fn.inputs.loggingConfig as { logFormat?: string; applicationLogLevel?: string } | undefined;
      const reserved = num(fn.inputs.reservedConcurrentExecutions);
      const handlerExport = str(registration.export) ?? str(fn.inputs.handler)?.split(".").pop() ?? "handler";
      return {
        origin: origin(project, fn),
        name,
        arn,
        service: str(registration.service) ?? project,
        logicalName: str(registration.name) ?? name,
        entry: posix.normalize(entry.split("\\").join("/")),
        exportName: handlerExport,
        ...(registration.settings && typeof registration.settings === "object" ? { bundleSettings: registration.settings as BundleSettings } : {}),
        runtime: str(registration.runtime) ?? str(fn.inputs.runtime) ?? "nodejs24.x",
        timeoutSeconds: num(fn.inputs.timeout) ?? 3,
        memoryMb: num(fn.inputs.memorySize) ?? 128,
        ...(reserved !== undefined && reserved >= 0 ? { reservedConcurrency: reserved } : {}),
        environment,
        logFormat: logging?.logFormat === "JSON" ? "JSON" : "Text",
        ...(logging?.applicationLogLevel ? { applicationLogLevel: logging.applicationLogLevel } : {}),
        roleArn,
        policies,
      } satisfies FunctionSpec;
    });
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function jwtOf(project: string, routeKey: string, route: CapturedResource, authorizers: readonly CapturedResource[]): RouteSpec["jwt"] {
  const authorizer = authorizers.find((a) => a.id === route.inputs.authorizerId);
  if (!authorizer) throw new WiringError(`route ${routeKey} of ${project} uses JWT authorization but no program created its authorizer`);
  const config = (authorizer.inputs.jwtConfiguration ?? {}) as { issuer?: unknown; audiences?: unknown };
  const issuer = str(config.issuer);
  return {
    ...(issuer ? { issuer } : {}),
    audiences: strings(config.audiences),
    identitySource: strings(authorizer.inputs.identitySources)[0] ?? "$request.header.Authorization",
    scopes: strings(route.inputs.authorizationScopes),
  };
}

function routeSpecs(project: string, resources: readonly CapturedResource[]): RouteSpec[] {
  const apis = resources.filter((r) => r.type === RESOURCE_TYPES.api);
  const integrations = resources.filter((r) => r.type === RESOURCE_TYPES.integration);
  const authorizers = resources.filter((r) => r.type === RESOURCE_TYPES.authorizer);
  return resources
    .filter((r) => r.type === RESOURCE_TYPES.route)
    .map((route) => {
      const routeKey = str(route.inputs.routeKey);
      const target = str(route.inputs.target);
      if (!routeKey || !target?.startsWith("integrations/")) {
        throw new WiringError(`route ${route.name} of ${project} has no route key or integration target`);
      }
      const integrationId = target.slice("integrations/".length);
      const integration = integrations.find((i) => i.id === integrationId);
      const functionArn = str(integration?.inputs.integrationUri);
      if (!integration || !functionArn) throw new WiringError(`route ${routeKey} of ${project} targets integration ${integrationId}, which is not a Lambda proxy integration`);
      if (integration.inputs.payloadFormatVersion !== undefined && integration.inputs.payloadFormatVersion !== "2.0") {
        throw new WiringError(`route ${routeKey} of ${project} uses payload format ${String(integration.inputs.payloadFormatVersion)}; the local stage speaks 2.0`);
      }
      const api = apis.find((a) => a.id === route.inputs.apiId);
      const authorizationType = str(route.inputs.authorizationType) ?? "NONE";
      return {
        origin: origin(project, route),
        project,
        api: str(api?.inputs.name) ?? String(route.inputs.apiId),
        apiId: String(route.inputs.apiId),
        routeKey,
        functionArn,
        authorizationType,
        ...(authorizationType === "JWT" ? { jwt: jwtOf(project, routeKey, route, authorizers) } : {}),
      };
    });
}

/**
 * Reads the local wiring out of the programs' captured resources (platform first, then each service). Throws a
 * `WiringError` when a reference points at nothing the programs created: the local stage starts only when the whole
 * system connects.
 */
export function wiringFrom(programs: readonly ProgramResources[], options: { region: string; accountId: string }): StageWiring {
  const wiring: StageWiring = {
    region: options.region,
    accountId: options.accountId,
    tables: [],
    topics: [],
    queues: [],
    subscriptions: [],
    functions: [],
    mappings: [],
    streamMappings: [],
    routes: [],
    stateMachines: [],
    ignored: [],
  };
  const handled = new Set<string>([...Object.values(RESOURCE_TYPES), ...WITHOUT_LOCAL_EQUIVALENT]);
  const queuePolicies: Array<{ project: string; r: CapturedResource }> = [];
  for (const { project, resources } of programs) {
    for (const r of resources) {
      switch (r.type) {
        case RESOURCE_TYPES.table:
          wiring.tables.push(tableSpec(project, r));
          break;
        case RESOURCE_TYPES.topic:
          wiring.topics.push(topicSpec(project, r));
          break;
        case RESOURCE_TYPES.queue:
          wiring.queues.push(queueSpec(project, r));
          break;
        case RESOURCE_TYPES.queuePolicy:
          queuePolicies.push({ project, r });
          break;
        case RESOURCE_TYPES.subscription: {
          const spec = subscriptionSpec(project, r);
          if ("reason" in spec) wiring.ignored.push(spec);
          else wiring.subscriptions.push(spec);
          break;
        }
        case RESOURCE_TYPES.mapping: {
          const stream = streamMappingSpec(project, r);
          if (stream) {
            (wiring.streamMappings ??= []).push(stream);
            break;
          }
          const spec = mappingSpec(project, r);
          if ("reason" in spec) wiring.ignored.push(spec);
          else wiring.mappings.push(spec);
          break;
        }
        default:
          if (!handled.has(r.type) && r.custom) {
            wiring.ignored.push({ origin: origin(project, r), reason: `${r.type} is not emulated by the local stage` });
          }
      }
    }
    wiring.functions.push(...functionSpecs(project, resources));
    wiring.routes.push(...routeSpecs(project, resources));
    wiring.stateMachines!.push(...stateMachineSpecs(project, resources));
  }
  applyQueuePolicies(wiring, queuePolicies);
  checkReferences(wiring);
  return wiring;
}

/** AWS's limit on the processes reading one DynamoDB stream shard at a time (DynamoDB Streams throttles more). */
export const DYNAMODB_STREAM_MAX_READERS = 2;

function checkReferences(wiring: StageWiring): void {
  const topics = new Set(wiring.topics.map((t) => t.arn));
  const queues = new Map(wiring.queues.map((q) => [q.arn, q]));
  const functions = new Set(wiring.functions.map((f) => f.arn));
  const names = (what: string, list: string[]) => {
    const seen = new Set<string>();
    for (const name of list) {
      if (seen.has(name)) throw new WiringError(`two ${what} are named ${name}: names must be unique across the platform and every service`);
      seen.add(name);
    }
  };
  names("tables", wiring.tables.map((t) => t.name));
  names("topics", wiring.topics.map((t) => t.name));
  names("queues", wiring.queues.map((q) => q.name));
  names("functions", wiring.functions.map((f) => f.name));
  names("state machines", (wiring.stateMachines ?? []).map((m) => m.name));
  for (const q of wiring.queues) {
    if (q.redrive && !queues.has(q.redrive.deadLetterTargetArn)) {
      throw new WiringError(`queue ${q.name} redrives to ${q.redrive.deadLetterTargetArn}, which no program created`);
    }
  }
  for (const s of wiring.subscriptions) {
    const where = `subscription ${s.origin.name} of ${s.origin.project}`;
    if (!topics.has(s.topicArn)) throw new WiringError(`${where} subscribes to ${s.topicArn}, which no program created (is the platform up to date?)`);
    if (!queues.has(s.queueArn)) throw new WiringError(`${where} delivers to ${s.queueArn}, which no program created`);
    if (s.deadLetterTargetArn && !queues.has(s.deadLetterTargetArn)) throw new WiringError(`${where} redrives to ${s.deadLetterTargetArn}, which no program created`);
  }
  for (const m of wiring.mappings) {
    const where = `event source mapping ${m.origin.name} of ${m.origin.project}`;
    if (!queues.has(m.queueArn)) throw new WiringError(`${where} reads ${m.queueArn}, which no program created`);
    if (!functions.has(m.functionArn)) throw new WiringError(`${where} invokes ${m.functionArn}, which no program created`);
  }
  const streams = new Set(wiring.tables.map((t) => t.stream?.arn).filter((a): a is string => a !== undefined));
  const topicsAndQueues = new Set([...topics, ...queues.keys()]);
  for (const m of wiring.streamMappings ?? []) {
    const where = `event source mapping ${m.origin.name} of ${m.origin.project}`;
    if (m.kind === "dynamodb" && !streams.has(m.eventSourceArn)) throw new WiringError(`${where} reads ${m.eventSourceArn}, which is no table's stream (is its table's streamEnabled set?)`);
    if (!functions.has(m.functionArn)) throw new WiringError(`${where} invokes ${m.functionArn}, which no program created`);
    if (m.onFailureDestinationArn && !topicsAndQueues.has(m.onFailureDestinationArn)) throw new WiringError(`${where} sends failures to ${m.onFailureDestinationArn}, which no program created`);
  }
  // DynamoDB Streams serves at most two processes reading one shard at a time and throttles more
  // (LimitExceededException); each event source mapping is one. Across every program: readers of one table's stream
  // in several services add up where no single program sees them.
  const readers = new Map<string, StreamMappingSpec[]>();
  for (const m of wiring.streamMappings ?? []) {
    if (m.kind === "dynamodb" && m.enabled) readers.set(m.eventSourceArn, [...(readers.get(m.eventSourceArn) ?? []), m]);
  }
  for (const [arn, list] of readers) {
    if (list.length <= DYNAMODB_STREAM_MAX_READERS) continue;
    const table = wiring.tables.find((t) => t.stream?.arn === arn)?.name ?? arn;
    throw new WiringError(
      `${list.length} event source mappings read the stream of table ${table}: ${list.map((m) => `${m.origin.name} of ${m.origin.project}`).join(", ")}; AWS allows at most ${DYNAMODB_STREAM_MAX_READERS} readers of a DynamoDB stream shard at a time (more are throttled: LimitExceededException), so a deployed stage would throttle them. Give each reader a table of its own (each service's outbox relay reads its own outbox table)`,
    );
  }
  for (const r of wiring.routes) {
    if (!functions.has(r.functionArn)) throw new WiringError(`route ${r.routeKey} of ${r.project} invokes ${r.functionArn}, which no program created`);
  }
}

/** The queues some queue or subscription dead-letters into, each with the queue its messages came from. */
export function deadLetterQueues(wiring: StageWiring): { queue: QueueSpec; sourceArn: string; kind: "queue" | "subscription" }[] {
  const byArn = new Map(wiring.queues.map((q) => [q.arn, q]));
  const out: { queue: QueueSpec; sourceArn: string; kind: "queue" | "subscription" }[] = [];
  for (const q of wiring.queues) {
    const target = q.redrive && byArn.get(q.redrive.deadLetterTargetArn);
    if (target) out.push({ queue: target, sourceArn: q.arn, kind: "queue" });
  }
  for (const s of wiring.subscriptions) {
    const target = s.deadLetterTargetArn ? byArn.get(s.deadLetterTargetArn) : undefined;
    if (target && !out.some((o) => o.queue.arn === target.arn)) out.push({ queue: target, sourceArn: s.queueArn, kind: "subscription" });
  }
  return out;
}
