import { asList, parsePolicy, type PolicyDocument, type PolicyPrincipal, type PolicyStatement } from "../helpers/policy-document";

/** Small readers for resource properties: values may be absent, JSON text or objects. */

export type Props = Record<string, any>;

export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

export function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/** A JSON-text or object property parsed as an object. */
export function json(value: unknown): Record<string, any> | undefined {
  if (typeof value === "string") {
    try {
      const parsed: unknown = JSON.parse(value);
      return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, any>) : undefined;
    } catch {
      return undefined;
    }
  }
  return value !== null && typeof value === "object" ? (value as Record<string, any>) : undefined;
}

export function policyOf(value: unknown): PolicyDocument | undefined {
  return parsePolicy(value);
}

export function actionsOf(statement: PolicyStatement): string[] {
  return asList(statement.Action);
}

export function resourcesOf(statement: PolicyStatement): string[] {
  return asList(statement.Resource);
}

/** Principals of a statement as `service:<name>`, `aws:<arn>` or `*`. */
export function principalsOf(principal: PolicyPrincipal | undefined): string[] {
  if (principal === undefined) return [];
  if (principal === "*") return ["*"];
  return [
    ...asList(principal.AWS).map((p) => (p === "*" ? "*" : `aws:${p}`)),
    ...asList(principal.Service).map((p) => `service:${p}`),
    ...asList(principal.Federated).map((p) => `federated:${p}`),
  ];
}

/** Whether an action pattern (`sqs:*`, `*`, `sqs:Send*`) covers `action`. */
export function actionCovers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
  return re.test(action);
}

/** The condition values of `key` under any of `operators` (case-insensitive keys, as IAM reads them). */
export function conditionValues(statement: PolicyStatement, operators: string[], key: string): string[] {
  const values: string[] = [];
  for (const [operator, entries] of Object.entries(statement.Condition ?? {})) {
    if (!operators.some((o) => o.toLowerCase() === operator.toLowerCase())) continue;
    for (const [conditionKey, value] of Object.entries(entries)) {
      if (conditionKey.toLowerCase() !== key.toLowerCase()) continue;
      values.push(...asList(value as string | string[] | boolean).map(String));
    }
  }
  return values;
}

/** A statement that denies `action` to everyone when the request does not use TLS. */
export function deniesWithoutTls(statement: PolicyStatement, action: string): boolean {
  return (
    statement.Effect === "Deny" &&
    principalsOf(statement.Principal).includes("*") &&
    actionsOf(statement).some((pattern) => actionCovers(pattern, action)) &&
    conditionValues(statement, ["Bool"], "aws:SecureTransport").includes("false")
  );
}

/** `urn:pulumi:<stack>::<project>::<type>::<name>` -> stack */
export function stackOfUrn(urn: string): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

export function projectOfUrn(urn: string): string | undefined {
  return /^urn:pulumi:[^:]+::([^:]+)::/.exec(urn)?.[1];
}
