/** IAM policy documents as AWS reads them (JSON), typed for the components and the guardrail rules. */

export type PolicyPrincipal = "*" | { AWS?: string | string[]; Service?: string | string[]; Federated?: string | string[] };

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: PolicyPrincipal;
  NotPrincipal?: PolicyPrincipal;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Id?: string;
  Statement: PolicyStatement[];
}

export function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Parses a policy given as JSON text or as an object; `undefined` when it is neither (e.g. not yet known). */
export function parsePolicy(policy: unknown): PolicyDocument | undefined {
  let value = policy;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== "object") return undefined;
  const statements = (value as { Statement?: unknown }).Statement;
  if (statements === undefined) return undefined;
  return { ...(value as PolicyDocument), Statement: asList(statements as PolicyStatement | PolicyStatement[]) };
}

/** The trust policy of a Lambda execution role. */
export function lambdaAssumeRolePolicy(): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ],
  };
}
