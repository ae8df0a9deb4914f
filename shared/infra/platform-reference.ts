import * as pulumi from "@pulumi/pulumi";
import * as z from "zod/mini";
import {
  platformOutputKeys,
  platformOutputsSchema,
  type EventType,
  type PlatformOutputKey,
  type PlatformOutputs,
  type TopicRef,
} from "../contract";

export class PlatformContractError extends Error {
  override name = "PlatformContractError";
}

function describeIssues(error: z.core.$ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Checks one output of a platform stack against the contract; the error names the stack, the key and the fault. */
export function checkPlatformOutput<K extends PlatformOutputKey>(stack: string, key: K, value: unknown): PlatformOutputs[K] {
  if (value === undefined) {
    throw new PlatformContractError(
      `platform stack "${stack}" has no output "${key}": deploy the platform (pulumi up in the repository root) before this service`,
    );
  }
  const result = z.safeParse(platformOutputsSchema.shape[key], value);
  if (!result.success) {
    throw new PlatformContractError(
      `platform stack "${stack}" output "${key}" does not match the platform contract: ${describeIssues(result.error)}`,
    );
  }
  return result.data as PlatformOutputs[K];
}

/**
 * Compares a platform stack's outputs with the contract key by key: missing keys, keys the contract does not know,
 * and values of the wrong shape. Returns the problems (empty when the outputs honour the contract).
 */
export function contractProblems(outputs: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of platformOutputKeys) {
    if (!(key in outputs)) {
      problems.push(`missing export "${key}"`);
      continue;
    }
    const result = z.safeParse(platformOutputsSchema.shape[key], outputs[key]);
    if (!result.success) problems.push(`export "${key}": ${describeIssues(result.error)}`);
  }
  for (const key of Object.keys(outputs)) {
    if (!(platformOutputKeys as string[]).includes(key)) problems.push(`export "${key}" is not in PlatformOutputs`);
  }
  return problems;
}

export interface PlatformReferenceArgs {
  /**
   * Fully qualified platform stack name (`<organization>/platform/<stage>`).
   * @default the service's `platformStack` config value (set per stage in `Pulumi.<stage>.yaml`)
   */
  stack?: string;
}

/**
 * The platform contract of one stage, read through a `pulumi.StackReference` and checked against
 * `PlatformOutputs`: the only way services and components learn platform names and ARNs.
 *
 * @example
 * const platform = new PlatformReference();
 * const topicArn = platform.topic("orders.order-placed").arn;
 */
export class PlatformReference {
  readonly stackName: string;
  private readonly ref: pulumi.StackReference;
  private readonly cache = new Map<PlatformOutputKey, pulumi.Output<unknown>>();

  constructor(name = "platform", args: PlatformReferenceArgs = {}, opts: pulumi.CustomResourceOptions = {}) {
    this.stackName = args.stack ?? new pulumi.Config().require("platformStack");
    this.ref = new pulumi.StackReference(name, { name: this.stackName }, opts);
  }

  /** One output of the contract, typed and validated. */
  get<K extends PlatformOutputKey>(key: K): pulumi.Output<PlatformOutputs[K]> {
    let out = this.cache.get(key);
    if (!out) {
      out = this.ref.getOutput(key).apply((value) => checkPlatformOutput(this.stackName, key, value));
      this.cache.set(key, out);
    }
    return out as pulumi.Output<PlatformOutputs[K]>;
  }

  /** The whole contract, typed and validated. */
  all(): pulumi.Output<PlatformOutputs> {
    return pulumi
      .all(platformOutputKeys.map((key) => this.get(key)))
      .apply((values) => Object.fromEntries(platformOutputKeys.map((key, i) => [key, values[i]])) as PlatformOutputs);
  }

  /** The topic of one event type. */
  topic(type: EventType): pulumi.Output<TopicRef> {
    return this.get("eventTopics").apply((topics) => {
      // Stream events (ordering "stream") have a Kinesis stream instead (`eventStreams`), so no topic.
      const topic = (topics as Partial<Record<EventType, TopicRef>>)[type];
      if (!topic) throw new PlatformContractError(`platform stack "${this.stackName}" has no topic for ${type}`);
      return topic;
    });
  }

  get stage(): pulumi.Output<string> {
    return this.get("stage");
  }
  get dataTable(): pulumi.Output<PlatformOutputs["dataTable"]> {
    return this.get("dataTable");
  }
  get idempotencyTable(): pulumi.Output<PlatformOutputs["idempotencyTable"]> {
    return this.get("idempotencyTable");
  }
  /** `platform:deletionProtection` of the platform's stage: a service's own tables follow it. */
  get deletionProtection(): pulumi.Output<boolean> {
    return this.get("deletionProtection");
  }
  get failureTopic(): pulumi.Output<TopicRef> {
    return this.get("failureTopic");
  }
  /** Where failure events are kept (operators read and replay them from it). */
  get failureQueue(): pulumi.Output<PlatformOutputs["failureQueue"]> {
    return this.get("failureQueue");
  }
  get alarmTopic(): pulumi.Output<TopicRef> {
    return this.get("alarmTopic");
  }
  get eventsKeyArn(): pulumi.Output<string> {
    return this.get("eventsKeyArn");
  }
  get tracing(): pulumi.Output<PlatformOutputs["tracing"]> {
    return this.get("tracing");
  }
  get logs(): pulumi.Output<PlatformOutputs["logs"]> {
    return this.get("logs");
  }
  /**
   * The platform's private network, for `whatNeedsIt` (named in the error): fails, naming the stack and the config
   * key, when the platform stage has no network.
   */
  network(whatNeedsIt: string): pulumi.Output<PlatformNetwork> {
    return this.get("vpc").apply((vpc) => platformNetwork(this.stackName, vpc, whatNeedsIt));
  }
}

/**
 * The network in a platform's `vpc` output, for `whatNeedsIt`; throws when the platform stage has none (the
 * message names the stack and the setting to change).
 */
export function platformNetwork(stackName: string, vpc: PlatformOutputs["vpc"], whatNeedsIt: string): PlatformNetwork {
  if (!vpc.enabled || !vpc.vpcId || !vpc.privateSubnetIds?.length || !vpc.securityGroupId) {
    throw new PlatformContractError(
      `${whatNeedsIt} runs in the platform's network, but platform stack "${stackName}" has none: ` +
        `set platform:vpcEnabled to true in the platform's stage file and deploy the platform first`,
    );
  }
  return { vpcId: vpc.vpcId, privateSubnetIds: vpc.privateSubnetIds, securityGroupId: vpc.securityGroupId };
}

/** The platform network a function joins: its private subnets and the functions' security group. */
export interface PlatformNetwork {
  vpcId: string;
  privateSubnetIds: string[];
  securityGroupId: string;
}
