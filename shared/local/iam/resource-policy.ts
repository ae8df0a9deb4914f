/**
 * Resource-based policies (an SQS queue policy, an SNS topic policy) for the local stage: the statements that name
 * the caller in `Principal` (or leave it out of `NotPrincipal`) are evaluated as {@link evaluate} evaluates identity
 * policies. A service principal such as `sns.amazonaws.com` has no identity policy of its own: what the resource's
 * policy allows is all it may do (IAM User Guide, "Policy evaluation logic": a resource-based policy can grant access
 * on its own; an explicit deny in it wins).
 */
import { evaluate, PolicyValidationError, type EvaluationRequest, type EvaluationResult } from "./evaluate";

/** Who calls: an AWS service (`sns.amazonaws.com`) or an AWS principal (an ARN or an account id). */
export type ResourcePolicyPrincipal = { service: string } | { aws: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/** True when a `Principal` (or `NotPrincipal`) element names `principal`. */
export function principalMatches(element: unknown, principal: ResourcePolicyPrincipal): boolean {
  if (element === "*") return true;
  if (!isRecord(element)) return false;
  // `"AWS": "*"` is everyone, as `"*"` is.
  if (list(element.AWS).includes("*")) return true;
  if ("service" in principal) return list(element.Service).includes(principal.service);
  return list(element.AWS).some((name) => {
    if (typeof name !== "string") return false;
    if (name === principal.aws) return true;
    // An account (`<account id>` or `arn:aws:iam::<account id>:root`) names every principal of that account.
    const account = /^\d{12}$/.test(name) ? name : /^arn:aws[\w-]*:iam::(\d{12}):root$/.exec(name)?.[1];
    return account !== undefined && new RegExp(`^arn:aws[\\w-]*:[\\w-]+::?${account}:`).test(principal.aws);
  });
}

function describePrincipal(principal: ResourcePolicyPrincipal): string {
  return "service" in principal ? principal.service : principal.aws;
}

/**
 * Evaluates `request` for `principal` against a resource's policy (a JSON string or object; `undefined` when the
 * resource has none, which allows nothing). Throws {@link PolicyValidationError} for a document that is not a policy.
 */
export function evaluateResourcePolicy(
  policy: unknown,
  principal: ResourcePolicyPrincipal,
  request: EvaluationRequest,
): EvaluationResult {
  const who = describePrincipal(principal);
  if (policy === undefined || policy === null || policy === "") {
    return { decision: "ImplicitDeny", reason: `${request.resource} has no resource policy, so nothing lets ${who} ${request.action}`, notes: [] };
  }
  let document = policy;
  if (typeof document === "string") {
    try {
      document = JSON.parse(document);
    } catch (error) {
      throw new PolicyValidationError(`resource policy: not valid JSON (${(error as Error).message})`);
    }
  }
  if (!isRecord(document)) throw new PolicyValidationError("resource policy: a policy document must be a JSON object");
  const statements = list(document.Statement).filter(isRecord);
  const applicable = statements.flatMap((statement) => {
    const { Principal, NotPrincipal, ...rest } = statement;
    if (Principal === undefined && NotPrincipal === undefined) {
      throw new PolicyValidationError(`resource policy statement ${String(statement.Sid ?? "")}: Principal or NotPrincipal is required`.replace(" :", ":"));
    }
    const applies = Principal !== undefined ? principalMatches(Principal, principal) : !principalMatches(NotPrincipal, principal);
    return applies ? [rest] : [];
  });
  if (applicable.length === 0) {
    return { decision: "ImplicitDeny", reason: `no statement of the resource policy of ${request.resource} names ${who}`, notes: [] };
  }
  const result = evaluate({ ...(document.Version === undefined ? {} : { Version: document.Version }), Statement: applicable }, request);
  if (result.decision !== "ImplicitDeny") return result;
  return { ...result, reason: `no statement of the resource policy of ${request.resource} allows ${who} ${request.action} (${result.reason})` };
}
