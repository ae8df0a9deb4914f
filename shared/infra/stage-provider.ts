import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { STAGE_TAG_KEYS } from "./guardrails/rules/deployment";

/**
 * Tags every AWS resource of a program carries through its provider's default tags, so costs can be split by stage
 * and owner and an ephemeral stage's leftovers found (`aws resourcegroupstaggingapi get-resources --tag-filters
 * Key=stage,Values=ci-1234`). The guardrail `aws-provider-stage-tags` checks every AWS resource's provider for them.
 */
export type StageTags = Record<(typeof STAGE_TAG_KEYS)[number], string>;

/** Logical name of the program's tagged AWS provider. */
export const STAGE_PROVIDER_NAME = "aws";

/**
 * The stage tags of the running program: `stage` (the stack name), `service` (the service's name, or `platform`
 * for the platform program) and `project` (the Pulumi project).
 */
export function stageTags(owner: string): StageTags {
  return { stage: pulumi.getStack(), service: owner, project: pulumi.getProject() };
}

let current: { stack: object; provider: aws.Provider } | undefined;

/**
 * Makes an explicit AWS provider whose default tags are {@link stageTags} the provider of every AWS resource the
 * program creates from now on: a stack transformation hands it to each resource that names no provider of its
 * own, and to components (awsx's VPC among them) as their `aws` provider, so their children get it too. The
 * provider takes every `aws:*` setting of the stack (region, profile, assumeRoles, allowedAccountIds, ...), as the
 * default provider would, and adds the stage tags to any `aws:defaultTags` the stack sets.
 *
 * Call it first in a program: `defineService` and the platform program do. A program has one such provider: a
 * later call in the same program returns it, tagged with the owner of the first call.
 */
export function useStageProvider(owner: string): aws.Provider {
  const stack = pulumi.runtime.getStackResource();
  if (!stack) throw new Error("useStageProvider must run inside a Pulumi program (the stack resource does not exist yet)");
  if (current?.stack === stack) return current.provider;
  const settings = awsProviderSettings();
  if (!settings["region"]) new pulumi.Config("aws").require("region"); // stops naming the key, as the default provider would
  const userTags = (settings["defaultTags"] as { tags?: Record<string, string> } | undefined)?.tags ?? {};
  const provider = new aws.Provider(STAGE_PROVIDER_NAME, {
    ...settings,
    defaultTags: { tags: { ...userTags, ...stageTags(owner) } },
  } as aws.ProviderArgs);
  pulumi.runtime.registerStackTransformation((args) => {
    if (args.type.startsWith("pulumi:providers:")) return undefined;
    if (args.resource instanceof pulumi.ComponentResource) {
      const providers = (args.opts as pulumi.ComponentResourceOptions).providers;
      if (providers === undefined) return { props: args.props, opts: { ...args.opts, providers: { aws: provider } } };
      if (Array.isArray(providers)) {
        return providers.some((p) => (p as unknown as { pkg?: string }).pkg === "aws")
          ? undefined
          : { props: args.props, opts: { ...args.opts, providers: [...providers, provider] } };
      }
      return "aws" in providers ? undefined : { props: args.props, opts: { ...args.opts, providers: { ...providers, aws: provider } } };
    }
    if (!args.type.startsWith("aws:") || args.opts.provider) return undefined;
    // A child of a component inherits the component's `aws` provider (this one, or one its author chose).
    const parentProviders = (args.opts.parent as unknown as { __providers?: Record<string, unknown> } | undefined)?.__providers;
    if (parentProviders?.["aws"]) return undefined;
    return { props: args.props, opts: { ...args.opts, provider } };
  });
  current = { stack, provider };
  return provider;
}

/**
 * The stack's `aws:*` configuration as provider arguments: `aws:assumeRoles` becomes `assumeRoles`; structured values
 * (objects, lists, booleans, numbers) arrive as JSON text and are parsed, plain strings stay strings.
 */
export function awsProviderSettings(): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (!key.startsWith("aws:")) continue;
    settings[key.slice("aws:".length)] = parseSetting(value);
  }
  return settings;
}

function parseSetting(value: string): unknown {
  if (!/^\s*[[{]|^(true|false)$|^-?\d+(\.\d+)?$/.test(value)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
