import * as pulumi from "@pulumi/pulumi";
import { catalog, eventTypes, isEventType, type EventType, type OwnedBy } from "../contract";
import { EventConsumer, type EventConsumerArgs, type EventFilter } from "./event-consumer";
import { checkLogicalName, checkServiceName } from "./helpers/names";
import { HttpApi, parseRouteKey, type HttpApiArgs, type RouteAuth, type RouteKey } from "./http-api";
import { OUTBOX_RELAY_NAME, OutboxRelay, outboxTable } from "./outbox-relay";
import type * as aws from "@pulumi/aws";
import { PlatformReference, type PlatformReferenceArgs } from "./platform-reference";
import { MIGRATION_FUNCTION_NAME, RelationalStore, type RelationalDefinition } from "./relational-store";
import { ServiceFunction, type FunctionOptions } from "./service-function";
import { useStageProvider } from "./stage-provider";
import type { WorkflowDefinition } from "./workflow";
import { Workflow } from "./workflow-component";
import { SAFE_HTTP_METHODS } from "../contract/route-key";

/** Pulumi type token of the component. */
export const SERVICE_TYPE = "platform:infra:Service";

/** Reserved concurrency of a workflow's functions unless they set their own. */
export const WORKFLOW_FUNCTION_CONCURRENCY = 5;


/** One consumer of a service: the event it reacts to and the function that handles it. */
export interface ConsumerDefinition<N extends string = string> extends Omit<FunctionOptions, "publishes" | "records"> {
  /** The event type consumed. */
  event: EventType;
  /**
   * The versions of the event this consumer reads (generators write the current one); while the catalog publishes
   * others, its subscription receives only these. @default the event's current version
   */
  versions?: readonly number[];
  /** Only deliver matching events. @default every event of the type */
  filter?: EventFilter;
  /** @default 10 */
  batchSize?: number;
  /** @default 0 */
  maxBatchingWindow?: number;
  /** @default 5 */
  maxConcurrency?: number;
  /** @default 5 */
  maxReceiveCount?: number;
  /**
   * How a consumer of a stream event (`ordering: "stream"`) reads its Kinesis stream: starting position, parallelization
   * factor, retries, record age, enhanced fan-out. Only for stream events; the catalog decides the wiring.
   * @default TRIM_HORIZON, factor 1, 10 retries, records up to an hour old, no enhanced fan-out
   */
  stream?: EventConsumerArgs["stream"];
  /** Adjust the consumer's child resources. */
  transform?: EventConsumerArgs["transform"];
  /**
   * Events this consumer publishes directly (a subset of the service's).
   * @default the service's `publishes`; none when `records` is given
   */
  publishes?: readonly OwnedBy<N>[];
  /**
   * Events this consumer records through the outbox (a subset of the service's): written with its state change in
   * one transaction (`createOutbox` in shared/runtime) and published by the service's relay. A service whose
   * functions record events gets the relay (`OutboxRelay`).
   * @default none
   */
  records?: readonly OwnedBy<N>[];
}

/** One HTTP route of a service and the function that handles it. */
export interface RouteDefinition<N extends string = string> extends Omit<FunctionOptions, "publishes" | "records"> {
  /** @default `{ jwt: {} }` when `http.jwt` is set, otherwise `"iam"` */
  auth?: RouteAuth;
  /**
   * Logical name of the route's function.
   * @default from the route key: `"POST /orders/{orderId}"` -> `post-orders-order-id`
   */
  name?: string;
  /**
   * Events this route's function publishes directly (a subset of the service's).
   * @default the service's `publishes`; none when `records` is given
   */
  publishes?: readonly OwnedBy<N>[];
  /** Events this route's function records through the outbox (see `ConsumerDefinition.records`). @default none */
  records?: readonly OwnedBy<N>[];
}

/**
 * A service's declaration. `N` is the service's name as a literal type, so `publishes` only accepts the events the
 * catalog says it owns (checked again when the service is constructed).
 */
export interface ServiceDefinition<N extends string = string> {
  /** The service's name (kebab-case, at most 24 characters): its ElectroDB service name and catalog owner name. */
  name: N;
  /**
   * The platform stack whose contract the service uses.
   * @default the `platformStack` value of the service's stage config
   */
  platform?: PlatformReference | PlatformReferenceArgs;
  /**
   * Event types the service publishes: each must be owned by this service in the catalog. Every function may
   * publish all of them unless it lists its own `publishes`.
   * @default []
   */
  publishes?: readonly OwnedBy<N>[];
  /** Settings every function of the service starts from. */
  defaults?: Pick<FunctionOptions, "runtime" | "timeout" | "memory" | "logLevel" | "data" | "environment">;
  /** Consumers by logical name (`"bill-order"`). */
  consumers?: Record<string, ConsumerDefinition<N>>;
  /**
   * Workflows by name (`"fulfil-order"`, kebab-case): Step Functions state machines written with `defineWorkflow`
   * (shared/infra/workflow.ts). Their `functions` become functions of the service; consumers and routes that start
   * one list it in `starts`.
   */
  workflows?: Record<string, WorkflowDefinition>;
  /** The service's HTTP API. */
  http?: Omit<HttpApiArgs, "platform" | "service" | "routes"> & { routes: Record<RouteKey, RouteDefinition<N>> };
  /**
   * The service's relational data (the platform's Aurora PostgreSQL store, `platform:relational`): its own schema and
   * role, its migrations (`migrations/NNNN_name.sql`) applied by `pulumi up`, and every function of the service gets
   * the RDS Data API with the role's secret (`RelationalStore`, shared/infra/relational-store.ts).
   * @default none
   */
  relational?: RelationalDefinition;
}

/** What a service program returns as its stack outputs. */
export interface ServiceOutputs {
  service: string;
  stage: pulumi.Output<string>;
  /** Per consumer: its queue (none for a stream consumer), where what it gives up on waits, its function. */
  consumers: Record<string, { queueUrl?: pulumi.Output<string>; deadLetterQueueUrl: pulumi.Output<string>; functionName: pulumi.Output<string> }>;
  functions: Record<string, pulumi.Output<string>>;
  apiUrl?: pulumi.Output<string>;
  /** State machine ARN per workflow. */
  workflows?: Record<string, pulumi.Output<string>>;
  /** The service's relational schema, its role's secret and its migration function. */
  relational?: { schema: string; secretArn: pulumi.Output<string>; migrationFunction: pulumi.Output<string> };
}

export class ServiceDefinitionError extends Error {
  override name = "ServiceDefinitionError";
}

/**
 * A whole service from one declaration: its consumers (SNS -> SQS -> Lambda), its HTTP routes and their functions,
 * each with least-privilege grants derived from what it does. Checked when constructed: a service publishes only
 * events it owns, consumers name known event types, names fit AWS limits.
 *
 * @example
 * // services/billing/index.ts
 * import { defineService } from "../../shared/infra";
 *
 * export = function program() {
 *   return defineService({
 *     name: "billing",
 *     publishes: ["billing.invoice-issued"],
 *     consumers: {
 *       "bill-order": { event: "orders.order-placed", handler: "./handlers/bill-order.ts" },
 *     },
 *     http: { routes: { "GET /invoices/{invoiceId}": { handler: "./handlers/get-invoice.ts", data: "read" } } },
 *   }).outputs;
 * };
 */
export class Service extends pulumi.ComponentResource {
  readonly serviceName: string;
  readonly platform: PlatformReference;
  private readonly consumerNodes: Record<string, EventConsumer> = {};
  private readonly routeFunctions: Record<string, ServiceFunction> = {};
  private readonly workflowNodes: Record<string, Workflow> = {};
  private readonly stepFunctions: Record<string, ServiceFunction> = {};
  private readonly api: HttpApi | undefined;
  private readonly relay: OutboxRelay | undefined;
  private readonly outbox: aws.dynamodb.Table | undefined;
  private readonly store: RelationalStore | undefined;

  constructor(definition: ServiceDefinition, opts: pulumi.ComponentResourceOptions = {}) {
    const checked = checkDefinition(definition);
    super(SERVICE_TYPE, checked.name, { name: checked.name, publishes: checked.publishes }, opts);
    this.serviceName = checked.name;
    const name = checked.name;
    const parent = { parent: this };
    this.platform =
      definition.platform instanceof PlatformReference
        ? definition.platform
        : new PlatformReference(`${name}-platform`, definition.platform ?? {}, { ...parent });
    const defaults = definition.defaults ?? {};

    // The relational store first: every function's access waits for its migrations.
    if (definition.relational) {
      const { runtime, memory, logLevel } = defaults;
      this.store = new RelationalStore(
        `${name}-relational`,
        { ...definition.relational, platform: this.platform, service: name, migrationFunction: { runtime, memory, logLevel } },
        { ...parent },
      );
    }
    const relational = this.store?.access;

    // The service's outbox table, when a function records events: those functions write their outbox items to it (in
    // the transaction of their state change) and the relay below reads its stream, the only reader.
    if (checked.records.length) this.outbox = outboxTable(`${name}-outbox-table`, { service: name, platform: this.platform }, { ...parent });
    const outboxRef = this.outbox ? { name: this.outbox.name, arn: this.outbox.arn } : undefined;
    const outboxOf = (records: readonly EventType[] | undefined) => (records?.length && outboxRef ? { records, outbox: pulumi.output(outboxRef) } : {});

    // Workflows: their functions, then their state machines. Starters compute the ARNs from the names, so consumers
    // and routes below need nothing from these resources.
    checkWorkflows(definition, checked.publishes);
    for (const [workflowName, workflow] of Object.entries(definition.workflows ?? {})) {
      const steps: Record<string, ServiceFunction> = {};
      for (const [fnName, fn] of Object.entries(workflow.functions)) {
        steps[fnName] = new ServiceFunction(
          `${name}-${fnName}`,
          {
            // As a consumer's or a route's: a function that records publishes nothing itself unless it says so.
            ...withDefaults(defaults, fn, fn.records ? [] : checked.publishes),
            ...outboxOf(fn.records),
            relational,
            // Bounded like a consumer (its mapping's maximum concurrency, 5 by default): a Map state or a burst of
            // executions cannot take the account's concurrency; Lambda's throttling is retried by the invoke state.
            reservedConcurrency: fn.reservedConcurrency ?? WORKFLOW_FUNCTION_CONCURRENCY,
            platform: this.platform,
            service: name,
            name: fnName,
          },
          { ...parent },
        );
        this.stepFunctions[fnName] = steps[fnName];
      }
      this.workflowNodes[workflowName] = new Workflow(
        `${name}-${workflowName}`,
        { platform: this.platform, service: name, name: workflowName, definition: workflow, functions: steps },
        { ...parent },
      );
    }

    for (const [consumerName, consumer] of Object.entries(definition.consumers ?? {})) {
      const { event, versions, filter, batchSize, maxBatchingWindow, maxConcurrency, maxReceiveCount, stream, transform, records, ...fn } = consumer;
      this.consumerNodes[consumerName] = new EventConsumer(
        `${name}-${consumerName}`,
        {
          platform: this.platform,
          service: name,
          name: consumerName,
          event,
          versions,
          filter,
          batchSize,
          maxBatchingWindow,
          maxConcurrency,
          maxReceiveCount,
          stream,
          transform,
          function: { ...withDefaults(defaults, fn, records ? [] : checked.publishes), relational, ...outboxOf(records) },
        },
        { ...parent },
      );
    }

    if (definition.http) {
      const { routes, ...apiArgs } = definition.http;
      const apiRoutes: HttpApiArgs["routes"] = {};
      for (const [key, route] of Object.entries(routes) as [RouteKey, RouteDefinition][]) {
        const { auth, name: fnName, records, ...fn } = route;
        const functionName = fnName ?? routeFunctionName(key);
        // Commands (every method but GET, HEAD and OPTIONS) take Idempotency-Key records by default: the runtime's
        // httpHandler honours the header on them, and needs the idempotency table (its own `<service>#*` keys).
        const idempotency = fn.idempotency ?? !SAFE_HTTP_METHODS.has(parseRouteKey(key).method);
        const routeFunction = new ServiceFunction(
          `${name}-${functionName}`,
          {
            ...withDefaults(defaults, { ...fn, idempotency }, records ? [] : checked.publishes),
            ...outboxOf(records),
            relational,
            platform: this.platform,
            service: name,
            name: functionName,
          },
          { ...parent },
        );
        this.routeFunctions[functionName] = routeFunction;
        apiRoutes[key] = { function: routeFunction, auth };
      }
      this.api = new HttpApi(`${name}-http`, { ...apiArgs, platform: this.platform, service: name, routes: apiRoutes }, { ...parent });
    }

    // The outbox relay, when a function records events: it publishes exactly the recorded types.
    if (this.outbox) {
      const { runtime, timeout, memory, logLevel } = defaults;
      this.relay = new OutboxRelay(
        `${name}-${OUTBOX_RELAY_NAME}`,
        {
          platform: this.platform,
          service: name,
          table: { name: this.outbox.name, streamArn: this.outbox.streamArn },
          publishes: checked.records,
          function: { runtime, timeout, memory, logLevel },
        },
        { ...parent },
      );
    }

    this.registerOutputs(this.outputs);
  }

  /** The service's workflows and the functions their states invoke. */
  get workflows(): { workflows: Record<string, Workflow>; functions: Record<string, ServiceFunction> } {
    return { workflows: this.workflowNodes, functions: this.stepFunctions };
  }

  /** The stack outputs of a service program. */
  get outputs(): ServiceOutputs {
    const consumers: ServiceOutputs["consumers"] = {};
    const functions: ServiceOutputs["functions"] = {};
    for (const [name, consumer] of Object.entries(this.consumerNodes)) {
      consumers[name] = {
        ...(consumer.readsStream ? {} : { queueUrl: consumer.queueUrl }),
        deadLetterQueueUrl: consumer.deadLetterQueueUrl,
        functionName: consumer.function.name,
      };
      functions[name] = consumer.function.name;
    }
    for (const [name, fn] of Object.entries(this.routeFunctions)) functions[name] = fn.name;
    for (const [name, fn] of Object.entries(this.stepFunctions)) functions[name] = fn.name;
    const workflows = Object.fromEntries(Object.entries(this.workflowNodes).map(([name, workflow]) => [name, workflow.arn]));
    if (this.relay) functions[OUTBOX_RELAY_NAME] = this.relay.function.name;
    if (this.store) functions[MIGRATION_FUNCTION_NAME] = this.store.migrationFunction.name;
    return {
      service: this.serviceName,
      stage: this.platform.stage,
      consumers,
      functions,
      ...(this.api ? { apiUrl: this.api.url } : {}),
      ...(Object.keys(workflows).length ? { workflows } : {}),
      ...(this.store
        ? { relational: { schema: this.store.schema, secretArn: this.store.secret.arn, migrationFunction: this.store.migrationFunction.name } }
        : {}),
    };
  }

  /** The raw child components. */
  get nodes(): {
    consumers: Record<string, EventConsumer>;
    functions: Record<string, ServiceFunction>;
    api: HttpApi | undefined;
    relay: OutboxRelay | undefined;
    /** The service's outbox table, when its functions record events. */
    outbox: aws.dynamodb.Table | undefined;
    relational: RelationalStore | undefined;
  } {
    return { consumers: this.consumerNodes, functions: this.routeFunctions, api: this.api, relay: this.relay, outbox: this.outbox, relational: this.store };
  }
}

/**
 * Declares a service: see `Service`. A service program is `export = function program() { return defineService({...}).outputs }`.
 * It also makes the program's AWS provider one whose default tags name the stage, the service and the project
 * (`useStageProvider`), so every AWS resource the program creates after this call carries them.
 */
export function defineService<const N extends string>(definition: ServiceDefinition<N>, opts: pulumi.ComponentResourceOptions = {}): Service {
  // Every AWS resource of the program (the service's and any the program adds) is tagged with the stage, the
  // service and the project through its provider's default tags.
  useStageProvider(definition.name);
  // OwnedBy<N> is a subset of EventType, which TypeScript cannot see through the conditional type.
  return new Service(definition as unknown as ServiceDefinition, opts);
}

/** `"POST /orders/{orderId}"` -> `post-orders-order-id` */
export function routeFunctionName(key: string): string {
  const { method, path } = parseRouteKey(key);
  const words = path
    .replace(/[{}+]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return [method.toLowerCase(), ...words].join("-");
}

function withDefaults(
  defaults: NonNullable<ServiceDefinition["defaults"]>,
  fn: FunctionOptions,
  servicePublishes: readonly EventType[],
): FunctionOptions {
  return {
    ...defaults,
    ...fn,
    environment: { ...defaults.environment, ...fn.environment },
    publishes: fn.publishes ?? servicePublishes,
  };
}

function checkDefinition(definition: ServiceDefinition): { name: string; publishes: EventType[]; records: EventType[] } {
  const name = checkServiceName(definition.name);
  const publishes = [...new Set(definition.publishes ?? [])];
  const ownedBy = (type: EventType) => catalog[type].owner;
  for (const type of publishes) {
    if (!isEventType(type)) {
      throw new ServiceDefinitionError(`service "${name}" publishes "${type}", which is not in the event catalog (shared/contract/catalog.ts)`);
    }
    if (ownedBy(type) !== name) {
      throw new ServiceDefinitionError(
        `service "${name}" may not publish "${type}": its owner is "${ownedBy(type)}", the only service allowed to publish it (shared/contract/catalog.ts)`,
      );
    }
  }
  const consumers = Object.entries(definition.consumers ?? {});
  const routes = Object.entries(definition.http?.routes ?? {}) as [string, RouteDefinition][];
  if (consumers.length === 0 && routes.length === 0) {
    throw new ServiceDefinitionError(`service "${name}" has neither consumers nor HTTP routes`);
  }
  const functionNames = new Map<string, string>();
  const claim = (fnName: string, what: string) => {
    checkLogicalName(`function name of ${what}`, fnName);
    const other = functionNames.get(fnName);
    if (other) throw new ServiceDefinitionError(`service "${name}": ${other} and ${what} would both be named "${fnName}"; rename one`);
    functionNames.set(fnName, what);
  };
  for (const [consumerName, consumer] of consumers) {
    claim(consumerName, `consumer "${consumerName}"`);
    if (!isEventType(consumer.event)) {
      throw new ServiceDefinitionError(
        `consumer "${consumerName}" of service "${name}" consumes "${String(consumer.event)}", which is not in the event catalog; known types: ${eventTypes.join(", ")}`,
      );
    }
    checkFunctionPublishes(name, `consumer "${consumerName}"`, consumer.publishes, publishes);
    checkFunctionPublishes(name, `consumer "${consumerName}"`, consumer.records, publishes, "records");
  }
  for (const [key, route] of routes) {
    claim(route.name ?? routeFunctionName(key), `route "${key}"`);
    checkFunctionPublishes(name, `route "${key}"`, route.publishes, publishes);
    checkFunctionPublishes(name, `route "${key}"`, route.records, publishes, "records");
  }
  const steps = Object.entries(definition.workflows ?? {}).flatMap(([workflow, d]) =>
    Object.entries(d?.functions ?? {}).map(([fnName, fn]) => [`function "${fnName}" of workflow "${workflow}"`, fn] as const),
  );
  for (const [what, fn] of steps) checkFunctionPublishes(name, what, fn.records, publishes, "records");
  const records = [
    ...new Set([
      ...consumers.flatMap(([, c]) => c.records ?? []),
      ...routes.flatMap(([, r]) => r.records ?? []),
      ...steps.flatMap(([, fn]) => fn.records ?? []),
    ]),
  ];
  if (records.length) claim(OUTBOX_RELAY_NAME, "the outbox relay (the service's functions record events)");
  if (definition.relational) claim(MIGRATION_FUNCTION_NAME, "the migration function of its relational store");
  return { name, publishes, records };
}

/**
 * Workflows: kebab-case names; their functions' names unique in the service; they publish only events the service
 * declares; every `starts` names one of them.
 */
function checkWorkflows(definition: ServiceDefinition, servicePublishes: readonly EventType[]): void {
  const service = definition.name;
  const workflows = definition.workflows ?? {};
  const taken = new Map<string, string>();
  for (const consumer of Object.keys(definition.consumers ?? {})) taken.set(consumer, `consumer "${consumer}"`);
  for (const [key, route] of Object.entries(definition.http?.routes ?? {}) as [string, RouteDefinition][]) {
    taken.set(route.name ?? routeFunctionName(key), `route "${key}"`);
  }
  for (const [workflowName, workflow] of Object.entries(workflows)) {
    checkLogicalName("workflow name", workflowName);
    if (!workflow || workflow.kind !== "workflow") {
      throw new ServiceDefinitionError(`workflow "${workflowName}" of service "${service}" is not a defineWorkflow(...) definition`);
    }
    for (const fnName of Object.keys(workflow.functions)) {
      checkLogicalName(`function name of workflow "${workflowName}"`, fnName);
      const other = taken.get(fnName);
      if (other) throw new ServiceDefinitionError(`service "${service}": ${other} and a function of workflow "${workflowName}" would both be named "${fnName}"; rename one`);
      taken.set(fnName, `workflow "${workflowName}"`);
      checkFunctionPublishes(service, `function "${fnName}" of workflow "${workflowName}"`, workflow.functions[fnName]!.publishes, servicePublishes);
    }
    for (const type of workflow.publishes) {
      if (!servicePublishes.includes(type)) {
        throw new ServiceDefinitionError(
          `workflow "${workflowName}" of service "${service}" publishes "${type}", which the service does not declare in its publishes (${servicePublishes.join(", ") || "none"})`,
        );
      }
    }
  }
  const starters: [string, readonly string[] | undefined][] = [
    ...Object.entries(definition.consumers ?? {}).map(([n, c]): [string, readonly string[] | undefined] => [`consumer "${n}"`, c.starts]),
    ...(Object.entries(definition.http?.routes ?? {}) as [string, RouteDefinition][]).map(([k, r]): [string, readonly string[] | undefined] => [`route "${k}"`, r.starts]),
    ...Object.entries(workflows).flatMap(([w, d]) =>
      Object.entries(d.functions).map(([n, f]): [string, readonly string[] | undefined] => [`function "${n}" of workflow "${w}"`, f.starts]),
    ),
  ];
  for (const [what, starts] of starters) {
    for (const workflow of starts ?? []) {
      if (!Object.hasOwn(workflows, workflow)) {
        throw new ServiceDefinitionError(
          `${what} of service "${service}" starts workflow "${workflow}", which the service does not define (workflows: ${Object.keys(workflows).join(", ") || "none"})`,
        );
      }
    }
  }
}

function checkFunctionPublishes(
  service: string,
  what: string,
  fnPublishes: readonly EventType[] | undefined,
  servicePublishes: readonly EventType[],
  verb: "publishes" | "records" = "publishes",
): void {
  for (const type of fnPublishes ?? []) {
    if (!servicePublishes.includes(type)) {
      throw new ServiceDefinitionError(
        `${what} of service "${service}" ${verb} "${type}", which the service does not declare in its publishes (${servicePublishes.join(", ") || "none"})`,
      );
    }
  }
}
