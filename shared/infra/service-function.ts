import { existsSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { startExecutionStatements, stateMachineArn } from "./workflow-component";
import { ENV, isEventType, isStreamEvent, type EventType, type LogLevel, type StreamRef, type TopicRef } from "../contract";
import type { BundleSettings } from "../runtime/bundle-options";
import { BundleError, bundleFileName, functionBuilds, handlerSetting, REPO_ROOT, type FunctionBundle } from "./helpers/bundle";
import { functionGrants, type DataAccess, type StreamConsumption } from "./helpers/grants";
import { checkLogicalName, checkName, checkServiceName, serviceResourceBase } from "./helpers/names";
import { lambdaAssumeRolePolicy } from "./helpers/policy-document";
import { DEFAULT_RUNTIME, esbuildTarget, isCurrentRuntime, type NodejsRuntime } from "./helpers/runtimes";
import { applyTransform, type Transform } from "./helpers/transform";
import { relationalEnvironment, relationalStatements, type RelationalAccess } from "./relational-access";
import type { PlatformReference } from "./platform-reference";

/** A service's outbox table as the functions that record events need it (shared/infra/outbox-relay.ts creates it). */
export interface OutboxTableRef {
  name: string;
  arn: string;
}

/** Pulumi type token of the component; the local stage finds functions by it. */
export const SERVICE_FUNCTION_TYPE = "platform:infra:ServiceFunction";

/** The settings of a function that a service author chooses (shared by consumers, routes and `defineService`). */
export interface FunctionOptions {
  /**
   * The handler's entry file: absolute, or relative to the Pulumi project folder (`./handlers/bill-order.ts`).
   * It is bundled with esbuild into `.build/functions/<content hash>/` (once per content, shared/infra/helpers/bundle.ts);
   * it must not import `@pulumi/*` or `shared/infra`.
   */
  handler: string;
  /**
   * The handler's export name.
   * @default "handler"
   */
  export?: string;
  /**
   * Node.js runtime.
   * @default "nodejs24.x"
   */
  runtime?: NodejsRuntime;
  /**
   * Seconds one invocation may run. Consumers' queues keep a message invisible for at least 6 times this.
   * @default 10
   */
  timeout?: number;
  /**
   * Memory in MB (CPU grows with it).
   * @default 512
   */
  memory?: number;
  /**
   * Reserved concurrency: caps this function's concurrent executions (and keeps them available to it).
   * @default none (consumers are bounded by their event source mapping's maximum concurrency instead)
   */
  reservedConcurrency?: number;
  /**
   * Log level inside the function.
   * @default the platform's log level for the stage
   */
  logLevel?: LogLevel;
  /**
   * Event types this function publishes; its service must own each of them.
   * @default none
   */
  publishes?: readonly EventType[];
  /**
   * Event types this function records through the outbox (written with its state change; its service's relay
   * publishes them): no publish grant, only `PLATFORM_RECORD_EVENTS`, which the runtime's outbox checks, and the
   * service's outbox table (`outbox`).
   * @default none
   */
  records?: readonly EventType[];
  /**
   * The service's outbox table, for a function that records events: sets `PLATFORM_OUTBOX_TABLE` to its name and
   * grants `dynamodb:PutItem` on its ARN (what the outbox item of a TransactWriteItems needs). Set by `Service` on the
   * functions that record (the table is the service's own, created only when one does); not for service authors.
   * @default none
   */
  outbox?: pulumi.Input<OutboxTableRef>;
  /**
   * Access to the service's own items in the shared data table (`dynamodb:LeadingKeys` = `$<service>#*`).
   * @default "read-write"
   */
  data?: DataAccess;
  /**
   * Access to the service's own records in the idempotency table.
   * @default true for consumers and for HTTP routes of commands (POST, PUT, PATCH, DELETE, ANY: their
   *   Idempotency-Key records), false for GET, HEAD and OPTIONS routes
   */
  idempotency?: boolean;
  /**
   * Extra environment variables (the platform's `PLATFORM_*` variables are always set and cannot be overridden).
   * @default {}
   */
  environment?: Record<string, pulumi.Input<string>>;
  /**
   * Runs the function in the platform's private network (its private subnets, the functions' security group: HTTPS
   * out only), to reach something private such as a database. DynamoDB and SNS (and X-Ray) stay reachable through
   * the network's endpoints; nothing else on the internet is (no NAT). The platform stage needs `vpcEnabled`.
   * @default false
   */
  network?: boolean;
  /**
   * Workflows of its service this function starts (`startWorkflow(name, input)`), by name: sets
   * `PLATFORM_WORKFLOWS` (name -> state machine ARN) and grants states:StartExecution on exactly those state machines
   * (a second inline policy, `start-workflows`). Functions that start none get neither.
   * @default none
   */
  starts?: readonly string[];
  /**
   * The service's relational store, reached through the RDS Data API: sets the `PLATFORM_RELATIONAL_*` variables and
   * grants the Data API actions on the cluster and GetSecretValue on the service's own secret (a third inline
   * policy, `relational-data`). Set by `Service` on every function of a service that declares `relational`
   * (whatever a route or consumer puts here is replaced); not for service authors.
   * @default none
   */
  relational?: pulumi.Input<RelationalAccess>;
}

export interface ServiceFunctionArgs extends FunctionOptions {
  /** The platform contract of the stage. */
  platform: PlatformReference;
  /** The service the function belongs to (kebab-case). */
  service: string;
  /**
   * Logical name of the function inside its service (`bill-order`): the `PLATFORM_HANDLER` value, the bundle folder
   * and the last part of the AWS name `<stage>-<service>-<name>`.
   * @default the component's name
   */
  name?: string;
  /**
   * The queue this function consumes (grants the four SQS actions Lambda's poller needs, on this queue only).
   * @default none
   */
  queueArn?: pulumi.Input<string>;
  /**
   * The Kinesis stream this function consumes through an event source mapping (grants Lambda's read actions on that
   * stream, kms:Decrypt for its records, and sending to its on-failure queue).
   * @default none
   */
  stream?: pulumi.Input<StreamConsumption>;
  /**
   * The migration function of a relational store only (shared/infra/relational-store.ts): the service role's secret,
   * set as `PLATFORM_RELATIONAL_ROLE_SECRET_ARN` and readable besides `relational.secretArn` (the master's).
   * @default none
   */
  relationalRoleSecretArn?: pulumi.Input<string>;
  /**
   * Publishes failure events to the platform's failure topic.
   * @default false
   */
  failures?: boolean;
  /** Adjust the child resources. */
  transform?: {
    logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
    role?: Transform<aws.iam.RoleArgs>;
    policy?: Transform<aws.iam.RolePolicyArgs>;
    function?: Transform<aws.lambda.FunctionArgs>;
  };
}

/**
 * What the component registers as its inputs: the build request of its bundle. The local stage sees registrations
 * under mocks (where archives arrive empty, and where no bundle is built) and asks `functionBuilds` for the bundle of
 * `{ entry, settings }`: the same bytes, in the same folder, as the deploy's archive. Paths are relative to the
 * repository root.
 */
export interface ServiceFunctionRegistration {
  service: string;
  name: string;
  /** The handler's entry file, relative to the repository root, with `/` separators. */
  entry: string;
  export: string;
  /** The bundle's file name (`index.mjs`): Lambda's handler is `<file without extension>.<export>`. */
  file: string;
  runtime: NodejsRuntime;
  /** The bundle settings (`bundleOptions(entry, outfile, settings)`). */
  settings: BundleSettings;
}

let buildsUnderMocks = false;

/**
 * Under Pulumi's mocks a function's bundle is not built (the program's capture needs no code: the local stage builds
 * from the registration, the guardrails read none). A test that wants the deployed archive and its hash under mocks
 * turns building on.
 */
export function buildBundlesUnderMocks(enabled: boolean): void {
  buildsUnderMocks = enabled;
}

function capturedUnderMocks(): boolean {
  return !buildsUnderMocks && pulumi.runtime.getMonitor() instanceof MockMonitor;
}

export const FUNCTION_DEFAULTS = { export: "handler", timeout: 10, memory: 512, data: "read-write" } as const;

/**
 * One Lambda function of a service: an esbuild bundle of one handler (ARM64, current Node.js, explicit timeout and
 * memory, active tracing per the platform), JSON logs into its own log group with the platform's retention, the
 * platform environment, and its own role holding only what this function needs.
 *
 * @example
 * const fn = new ServiceFunction("place-order", {
 *   platform,
 *   service: "orders",
 *   handler: "./handlers/place-order.ts",
 *   publishes: ["orders.order-placed"],
 * });
 * export const functionName = fn.name;
 */
export class ServiceFunction extends pulumi.ComponentResource {
  readonly registration: ServiceFunctionRegistration;
  readonly timeout: number;
  /**
   * The function's bundle (built lazily by `functionBuilds`, outside this constructor); `undefined` under mocks,
   * where none is built.
   */
  readonly bundle: pulumi.Output<FunctionBundle> | undefined;
  private readonly fn: aws.lambda.Function;
  private readonly role: aws.iam.Role;
  private readonly policy: aws.iam.RolePolicy;
  private readonly logGroup: aws.cloudwatch.LogGroup;
  /** The grant to start its workflows, when it starts any. */
  readonly startPolicy: aws.iam.RolePolicy | undefined;
  /** The grant to use its service's relational store, when the service has one. */
  readonly relationalPolicy: aws.iam.RolePolicy | undefined;

  constructor(name: string, args: ServiceFunctionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const normalized = normalizeFunctionArgs(name, args);
    const registration = registrationOf(normalized);
    super(SERVICE_FUNCTION_TYPE, name, registration, opts);
    this.registration = registration;
    this.timeout = normalized.timeout;
    // The bundle: asked of the build service, which runs esbuild once per content; not at all under mocks.
    this.bundle = capturedUnderMocks()
      ? undefined
      : pulumi.output(
          functionBuilds.build({
            entry: normalized.entry,
            settings: registration.settings,
            exportName: normalized.export,
            label: `${normalized.service}/${normalized.name}`,
          }),
        );

    const { platform } = args;
    const awsName = normalized.awsName;
    const parent = { parent: this };

    this.logGroup = new aws.cloudwatch.LogGroup(
      ...applyTransform(
        args.transform?.logGroup,
        `${name}-logs`,
        {
          name: `/aws/lambda/${awsName}`,
          retentionInDays: platform.logs.retentionDays,
        },
        { ...parent },
      ),
    );

    this.role = new aws.iam.Role(
      ...applyTransform(
        args.transform?.role,
        `${name}-role`,
        {
          name: awsName,
          description: `Runs ${normalized.service}/${normalized.name}: only what this function needs`,
          assumeRolePolicy: JSON.stringify(lambdaAssumeRolePolicy()),
        },
        { ...parent },
      ),
    );

    // The platform network, read (and checked) once for the role's grants and the function's vpcConfig.
    const network = normalized.network ? platform.network(`function ${normalized.service}/${normalized.name}`) : undefined;
    const access = {
      service: normalized.service,
      publishes: normalized.publishes,
      failures: normalized.failures,
      data: normalized.data,
      idempotency: normalized.idempotency,
      network: normalized.network,
    };
    const outbox = args.outbox === undefined ? undefined : pulumi.output(args.outbox);
    this.policy = new aws.iam.RolePolicy(
      ...applyTransform(
        args.transform?.policy,
        `${name}-policy`,
        {
          role: this.role.name,
          name: "least-privilege",
          policy: functionGrants(platform, access, {
            logGroupArn: this.logGroup.arn,
            queueArn: args.queueArn,
            network,
            stream: args.stream,
            outboxTableArn: outbox?.apply((table) => table.arn),
          }).apply(
            (document) => JSON.stringify(document),
          ),
        },
        { ...parent },
      ),
    );

    const relational = args.relational === undefined ? undefined : pulumi.output(args.relational);
    if (!relational && args.relationalRoleSecretArn !== undefined) throw new FunctionConfigError(`function ${normalized.service}/${normalized.name}: relationalRoleSecretArn needs relational`);
    if (relational) {
      this.relationalPolicy = new aws.iam.RolePolicy(
        `${name}-relational`,
        {
          role: this.role.name,
          name: "relational-data",
          policy: pulumi
            .all([relational, args.relationalRoleSecretArn])
            .apply(([access, roleSecret]) => JSON.stringify({ Version: "2012-10-17", Statement: relationalStatements(access, roleSecret) })),
        },
        { ...parent },
      );
    }

    this.fn = new aws.lambda.Function(
      ...applyTransform(
        args.transform?.function,
        `${name}-function`,
        {
          name: awsName,
          description: `${normalized.service}/${normalized.name} (${registration.entry})`,
          role: this.role.arn,
          runtime: normalized.runtime,
          architectures: ["arm64"],
          handler: handlerSetting(registration.file, registration.export),
          // Exactly the bundle's folder; its content hash tells Pulumi when the code changed.
          code: this.bundle ? this.bundle.apply((bundle) => new pulumi.asset.FileArchive(bundle.dir)) : new pulumi.asset.AssetArchive({}),
          ...(this.bundle ? { sourceCodeHash: this.bundle.apply((bundle) => bundle.hash) } : {}),
          timeout: normalized.timeout,
          memorySize: normalized.memory,
          reservedConcurrentExecutions: normalized.reservedConcurrency,
          tracingConfig: { mode: platform.tracing.mode },
          loggingConfig: {
            logFormat: "JSON",
            logGroup: this.logGroup.name,
            applicationLogLevel: normalized.logLevel ?? platform.logs.level,
            // INFO keeps Lambda's START and REPORT lines (duration, memory, init time); WARN would drop them.
            systemLogLevel: "INFO",
          },
          environment: { variables: environmentOf(platform, normalized, relational, args.relationalRoleSecretArn, outbox) },
          ...(network ? { vpcConfig: { subnetIds: network.privateSubnetIds, securityGroupIds: [network.securityGroupId] } } : {}),
        },
        // The role must hold its permissions before Lambda validates an event source mapping against it.
        { ...parent, dependsOn: [this.policy, ...(this.relationalPolicy ? [this.relationalPolicy] : [])] },
      ),
    );

    if (normalized.starts.length) {
      this.startPolicy = new aws.iam.RolePolicy(
        `${name}-start-workflows`,
        {
          role: this.role.name,
          name: "start-workflows",
          policy: pulumi
            .all([workflowArns(platform, normalized), platform.eventsKeyArn])
            .apply(([arns, keyArn]) => JSON.stringify({ Version: "2012-10-17", Statement: startExecutionStatements(Object.values(arns), keyArn) })),
        },
        { ...parent },
      );
    }

    this.registerOutputs({ arn: this.fn.arn, name: this.fn.name, roleArn: this.role.arn });
  }

  /** The function's ARN. */
  get arn(): pulumi.Output<string> {
    return this.fn.arn;
  }
  /** The function's AWS name, `<stage>-<service>-<name>`. */
  get name(): pulumi.Output<string> {
    return this.fn.name;
  }
  /** The ARN API Gateway invokes. */
  get invokeArn(): pulumi.Output<string> {
    return this.fn.invokeArn;
  }
  /** The raw child resources. */
  get nodes(): {
    function: aws.lambda.Function;
    role: aws.iam.Role;
    policy: aws.iam.RolePolicy;
    logGroup: aws.cloudwatch.LogGroup;
  } {
    return { function: this.fn, role: this.role, policy: this.policy, logGroup: this.logGroup };
  }
}

interface NormalizedFunctionArgs {
  service: string;
  name: string;
  /** `<stage>-<service>-<name>`: the function's and its role's AWS name. */
  awsName: string;
  entry: string;
  export: string;
  runtime: NodejsRuntime;
  timeout: number;
  memory: number;
  reservedConcurrency: number | undefined;
  logLevel: LogLevel | undefined;
  publishes: EventType[];
  records: EventType[];
  failures: boolean;
  data: DataAccess;
  idempotency: boolean;
  environment: Record<string, pulumi.Input<string>>;
  network: boolean;
  starts: string[];
  /** Reaches its service's relational store (its bundle carries the store's client). */
  relational: boolean;
}

/** Lambda's limits on the settings the component takes. */
const LAMBDA_LIMITS = { timeout: { min: 1, max: 900 }, memory: { min: 128, max: 10_240 } } as const;

export class FunctionConfigError extends Error {
  override name = "FunctionConfigError";
}

function checkRange(what: string, value: number, limits: { min: number; max: number }, fn: string): number {
  if (!Number.isInteger(value) || value < limits.min || value > limits.max) {
    throw new FunctionConfigError(`${fn}: ${what} is ${value}; Lambda accepts a whole number from ${limits.min} to ${limits.max}`);
  }
  return value;
}

function normalizeFunctionArgs(componentName: string, args: ServiceFunctionArgs): NormalizedFunctionArgs {
  const service = checkServiceName(args.service);
  const name = checkLogicalName("function name", args.name ?? componentName);
  const label = `function ${service}/${name}`;
  const runtime = args.runtime ?? DEFAULT_RUNTIME;
  if (!isCurrentRuntime(runtime)) {
    throw new FunctionConfigError(`${label}: runtime ${String(runtime)} is not a current Node.js runtime (nodejs22.x, nodejs24.x)`);
  }
  const reserved = args.reservedConcurrency;
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
    throw new FunctionConfigError(`${label}: reservedConcurrency must be a whole number of at least 1 (0 would stop the function)`);
  }
  for (const type of args.publishes ?? []) {
    if (!isEventType(type)) throw new FunctionConfigError(`${label}: publishes "${type}", which is not in the event catalog`);
  }
  if (args.records?.length && args.outbox === undefined) {
    throw new FunctionConfigError(`${label}: records ${args.records.join(", ")} but has no outbox table (outbox): its service's outbox table holds what it records`);
  }
  if (!args.records?.length && args.outbox !== undefined) {
    throw new FunctionConfigError(`${label}: has an outbox table but records no event: only a function that records events writes to it`);
  }
  const reservedNames = new Set<string>(Object.values(ENV));
  for (const key of Object.keys(args.environment ?? {})) {
    if (reservedNames.has(key)) throw new FunctionConfigError(`${label}: environment variable ${key} is set by the platform`);
  }
  const awsName = checkName("function", serviceResourceBase(service, name));
  checkName("role", awsName);
  const entry = isAbsolute(args.handler) ? args.handler : resolve(process.cwd(), args.handler);
  if (!existsSync(entry)) {
    throw new BundleError(`handler ${toPosix(relative(REPO_ROOT, entry))} of ${service}/${name} does not exist (handlers are resolved from the project folder)`);
  }
  return {
    service,
    name,
    awsName,
    entry,
    export: args.export ?? FUNCTION_DEFAULTS.export,
    runtime,
    timeout: checkRange("timeout", args.timeout ?? FUNCTION_DEFAULTS.timeout, LAMBDA_LIMITS.timeout, label),
    memory: checkRange("memory", args.memory ?? FUNCTION_DEFAULTS.memory, LAMBDA_LIMITS.memory, label),
    reservedConcurrency: reserved,
    logLevel: args.logLevel,
    publishes: [...new Set(args.publishes ?? [])],
    records: [...new Set(args.records ?? [])],
    failures: args.failures ?? false,
    data: args.data ?? FUNCTION_DEFAULTS.data,
    idempotency: args.idempotency ?? false,
    environment: args.environment ?? {},
    network: args.network ?? false,
    starts: [...new Set(args.starts ?? [])].map((workflow) => checkLogicalName(`workflow started by ${label}`, workflow)),
    relational: args.relational !== undefined,
  };
}

/**
 * Workflow name -> state machine ARN of the workflows a function starts, computed from their names (the workflow
 * component names its state machine `<stage>-<service>-<workflow>`), so a starter does not wait for them to exist.
 */
function workflowArns(platform: PlatformReference, args: NormalizedFunctionArgs): pulumi.Output<Record<string, string>> {
  return pulumi
    .all([platform.get("region"), platform.get("accountId")])
    .apply(([region, account]) => Object.fromEntries(args.starts.map((w) => [w, stateMachineArn(region, account, serviceResourceBase(args.service, w))])));
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

function registrationOf(args: NormalizedFunctionArgs): ServiceFunctionRegistration {
  // The shared options (shared/runtime/bundle-options.ts), targeting the function's runtime; the Kinesis client
  // only in the bundles of functions that publish a stream event.
  // The relational store's client (Kysely and the Data API client) only in the bundles of a relational service.
  const settings: BundleSettings = {
    target: esbuildTarget(args.runtime),
    ...(args.publishes.some(isStreamEvent) ? { kinesis: true } : {}),
    ...(args.relational ? { relational: true } : {}),
  };
  return {
    service: args.service,
    name: args.name,
    entry: toPosix(relative(REPO_ROOT, args.entry)),
    export: args.export,
    file: bundleFileName(settings),
    runtime: args.runtime,
    settings,
  };
}

/** The environment contract (`ENV` in shared/contract): only what this function may use is set. */
function environmentOf(
  platform: PlatformReference,
  args: NormalizedFunctionArgs,
  relational: pulumi.Output<RelationalAccess> | undefined,
  roleSecretArn: pulumi.Input<string> | undefined,
  outbox: pulumi.Output<OutboxTableRef> | undefined,
): Record<string, pulumi.Input<string>> {
  const variables: Record<string, pulumi.Input<string>> = {
    ...args.environment,
    [ENV.stage]: platform.stage,
    [ENV.service]: args.service,
    [ENV.handler]: args.name,
    [ENV.logLevel]: args.logLevel ?? platform.logs.level,
    [ENV.publishTopics]: platform.get("eventTopics").apply((topics) =>
      JSON.stringify(Object.fromEntries(args.publishes.filter((type) => !isStreamEvent(type)).map((type) => [type, (topics as Partial<Record<EventType, TopicRef>>)[type]?.arn]))),
    ),
  };
  if (args.records.length) variables[ENV.recordEvents] = JSON.stringify(args.records);
  if (outbox) variables[ENV.outboxTable] = outbox.apply((table) => table.name);
  // Stream events travel on Kinesis: the runtime's publisher takes their stream names from here (read only by a
  // function that publishes one, so a platform deployed before streams existed still serves every other function).
  const streamEvents: EventType[] = args.publishes.filter(isStreamEvent);
  if (streamEvents.length) {
    variables[ENV.publishStreams] = platform.get("eventStreams").apply((streams) =>
      JSON.stringify(
        Object.fromEntries(
          streamEvents.map((type) => {
            const stream = (streams as Partial<Record<EventType, StreamRef>>)[type];
            if (!stream) throw new FunctionConfigError(`the platform has no stream for ${type}: deploy the platform with the current catalog`);
            return [type, stream.name];
          }),
        ),
      ),
    );
  }
  if (args.failures) variables[ENV.failureTopicArn] = platform.failureTopic.arn;
  if (args.starts.length) variables[ENV.workflows] = workflowArns(platform, args).apply((arns) => JSON.stringify(arns));
  if (args.data !== "none") variables[ENV.dataTable] = platform.dataTable.name;
  if (args.idempotency) variables[ENV.idempotencyTable] = platform.idempotencyTable.name;
  if (relational) {
    // The Data API's resourceArn, secretArn and database, and the schema: names and ARNs only, never a password.
    for (const key of [ENV.relationalClusterArn, ENV.relationalSecretArn, ENV.relationalDatabase, ENV.relationalSchema]) {
      variables[key] = relational.apply((access) => relationalEnvironment(access)[key]!);
    }
    if (roleSecretArn !== undefined) variables[ENV.relationalRoleSecretArn] = roleSecretArn;
  }
  return variables;
}
