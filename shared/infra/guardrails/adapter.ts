import type {
  PolicyProviderResource,
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidationArgs,
  StackValidationArgs,
} from "@pulumi/policy";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { SECRET_MARKERS_VISIBLE } from "./read";
import type { GuardrailPolicy } from "./rule";
import { guardrailPolicies } from "./policies";

/** A violation as `pulumi preview --policy-pack` would print it. */
export interface Violation {
  policy: string;
  message: string;
  urn?: string;
  type?: string;
  name?: string;
}

class NotApplicable extends Error {
  override name = "NotApplicable";
}

/** Anything with a Pulumi type token (`aws.sqs.Queue` and the like). */
type ResourceClass = { new (...rest: any[]): unknown };

function isTypeOf(type: string, resourceClass: ResourceClass): boolean {
  return (resourceClass as unknown as { __pulumiType?: string }).__pulumiType === type;
}

function optionsOf(resource: CapturedResource): PolicyResourceOptions {
  return {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    parent: resource.parent || undefined,
  };
}

/**
 * The explicit providers among captured resources, by the reference a resource names them with (`<urn>::<id>`),
 * as the policy engine hands a resource's provider to a rule: its type, name, URN and inputs.
 */
export function providersOf(resources: readonly CapturedResource[]): Map<string, PolicyProviderResource> {
  const providers = new Map<string, PolicyProviderResource>();
  for (const r of resources) {
    if (!r.type.startsWith("pulumi:providers:")) continue;
    providers.set(`${r.urn}::${r.id}`, { type: r.type, name: r.name, urn: r.urn, props: r.inputs });
  }
  return providers;
}

const noConfig = <T extends object>(): T => ({}) as T;
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason ?? "not applicable");
};

/**
 * A captured resource as the argument a `ResourceValidationPolicy` receives: `props` are the resource's inputs,
 * the way the policy engine hands them over before a create or update.
 */
export function toResourceValidationArgs(
  resource: CapturedResource,
  providers: Map<string, PolicyProviderResource> = new Map(),
): ResourceValidationArgs {
  // The captured inputs keep Pulumi's secret markers; say so to the rules (a policy-pack run unwraps them).
  const props = Object.defineProperty({ ...resource.inputs }, SECRET_MARKERS_VISIBLE, { value: true, enumerable: false });
  return {
    type: resource.type,
    props,
    urn: resource.urn,
    name: resource.name,
    opts: optionsOf(resource),
    provider: resource.provider ? providers.get(resource.provider) : undefined,
    stackTags: new Map(),
    isType: (resourceClass) => isTypeOf(resource.type, resourceClass),
    asType: ((resourceClass: ResourceClass) => (isTypeOf(resource.type, resourceClass) ? props : undefined)) as ResourceValidationArgs["asType"],
    getConfig: noConfig,
    notApplicable,
  };
}

/**
 * Captured resources as the stack a `StackValidationPolicy` receives: `props` are the resources' outputs (the
 * mocks' state: inputs plus ARNs, URLs and names), with parents linked.
 */
export function toStackValidationArgs(resources: CapturedResource[]): StackValidationArgs {
  const byUrn = new Map<string, PolicyResource>();
  const providers = providersOf(resources);
  const policyResources = resources.map((resource) => {
    const converted: PolicyResource = {
      type: resource.type,
      props: { ...resource.state, ...(resource.id !== undefined ? { id: resource.id } : {}) },
      urn: resource.urn,
      name: resource.name,
      opts: optionsOf(resource),
      provider: resource.provider ? providers.get(resource.provider) : undefined,
      dependencies: [],
      propertyDependencies: {},
      isType: (resourceClass) => isTypeOf(resource.type, resourceClass),
      asType: ((resourceClass: ResourceClass) =>
        isTypeOf(resource.type, resourceClass) ? resource.state : undefined) as PolicyResource["asType"],
    };
    byUrn.set(resource.urn, converted);
    return converted;
  });
  resources.forEach((resource, i) => {
    const parent = byUrn.get(resource.parent);
    if (parent) (policyResources[i] as PolicyResource).parent = parent;
  });
  return { resources: policyResources, stackTags: new Map(), getConfig: noConfig, notApplicable };
}

/**
 * Runs guardrail policies over captured resources the way the policy engine does: every resource policy on every
 * resource, every stack policy once on the whole stack. Returns the violations (empty when all pass).
 */
export async function evaluateGuardrails(
  resources: CapturedResource[],
  policies: readonly GuardrailPolicy[] = guardrailPolicies,
): Promise<Violation[]> {
  const violations: Violation[] = [];
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const providers = providersOf(resources);
  for (const policy of policies) {
    if ("validateResource" in policy && policy.validateResource) {
      const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
      for (const resource of resources) {
        const report: ReportViolation = (message) =>
          violations.push({ policy: policy.name, message, urn: resource.urn, type: resource.type, name: resource.name });
        for (const validate of validations) {
          try {
            await validate(toResourceValidationArgs(resource, providers), report);
          } catch (err) {
            if (!(err instanceof NotApplicable)) throw err;
          }
        }
      }
    }
    if ("validateStack" in policy) {
      const report: ReportViolation = (message, urn) => {
        const resource = urn ? byUrn.get(urn) : undefined;
        violations.push({ policy: policy.name, message, urn, type: resource?.type, name: resource?.name });
      };
      try {
        await policy.validateStack(toStackValidationArgs(resources), report);
      } catch (err) {
        if (!(err instanceof NotApplicable)) throw err;
      }
    }
  }
  return violations;
}
