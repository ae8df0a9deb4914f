import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { RuleName } from "./rule-names";
import { findSuppression, SUPPRESSIONS, type Suppression } from "./suppressions";

/** One problem a rule found. `statement` is the Sid of the policy statement at fault, when there is one. */
export interface Finding {
  message: string;
  /** The resource at fault (stack rules); resource rules always report the resource they check. */
  urn?: string;
  statement?: string;
}

export interface RuleInfo {
  name: RuleName;
  /** What the rule requires, then its sources: `... (cdk-nag AwsSolutions-SQS3; Checkov CKV_AWS_27)`. */
  description: string;
  /** How to comply. */
  remediation: string;
  /**
   * Whether a suppression can silence the rule.
   * @default true
   */
  suppressible?: boolean;
}

export type ResourceCheck = (args: ResourceValidationArgs) => Finding[];
export type StackCheck = (args: StackValidationArgs) => Finding[];

export type GuardrailPolicy = (ResourceValidationPolicy | StackValidationPolicy) & { name: RuleName };

/** Suppressions the rules honour; tests may swap the list (`withSuppressions`). */
let activeSuppressions: readonly Suppression[] = SUPPRESSIONS;

/**
 * Runs `fn` with another suppression list (tests of the suppression mechanism); when `fn` returns a promise, the
 * list stays in force until it settles. Not for concurrent use.
 */
export function withSuppressions<T>(list: readonly Suppression[], fn: () => T): T {
  const previous = activeSuppressions;
  activeSuppressions = list;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    activeSuppressions = previous;
    throw err;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      activeSuppressions = previous;
    }) as T;
  }
  activeSuppressions = previous;
  return result;
}

/** A rule over one resource at a time, as a `ResourceValidationPolicy` that honours suppressions. */
export function resourceRule(info: RuleInfo, check: ResourceCheck): ResourceValidationPolicy & { name: RuleName } {
  return {
    name: info.name,
    description: info.description,
    remediationSteps: info.remediation,
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
      for (const finding of check(args)) {
        const target = { type: args.type, name: args.name, urn: args.urn, props: args.props };
        if (info.suppressible !== false && findSuppression(info.name, target, finding.statement, activeSuppressions)) continue;
        reportViolation(finding.message);
      }
    },
  };
}

/** A rule over the whole stack (it relates resources), as a `StackValidationPolicy` that honours suppressions. */
export function stackRule(info: RuleInfo, check: StackCheck): StackValidationPolicy & { name: RuleName } {
  return {
    name: info.name,
    description: info.description,
    remediationSteps: info.remediation,
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
      const byUrn = new Map<string, PolicyResource>(args.resources.map((r) => [r.urn, r]));
      for (const finding of check(args)) {
        const resource = finding.urn ? byUrn.get(finding.urn) : undefined;
        if (resource && info.suppressible !== false) {
          const target = { type: resource.type, name: resource.name, urn: resource.urn, props: resource.props };
          if (findSuppression(info.name, target, finding.statement, activeSuppressions)) continue;
        }
        reportViolation(finding.message, finding.urn);
      }
    },
  };
}

/** The resources of one type in a stack. */
export function ofType(args: StackValidationArgs, type: string): PolicyResource[] {
  return args.resources.filter((r) => r.type === type);
}
