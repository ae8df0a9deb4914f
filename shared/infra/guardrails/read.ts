import { asList, parsePolicy, type PolicyDocument, type PolicyPrincipal, type PolicyStatement } from "../helpers/policy-document";

/** Readers for resource properties: the value readers of the capture, plus policy-document readers. */

export { bool, json, num, str, type Props } from "../../capture/read";

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

/** Pulumi's wire form of a secret value (`{ [SECRET_SIG_KEY]: SECRET_SIG, value }`), as the captured programs keep it. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a property value is marked secret by the program (Pulumi's secret signature). */
export function isSecretValue(value: unknown): boolean {
  return value !== null && typeof value === "object" && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/**
 * Set on the props the tests' and the local stage's evaluation hands to resource rules: there secret values keep
 * Pulumi's marker. A policy-pack run (@pulumi/policy) unwraps secrets before any rule sees them, so a rule that
 * asks whether a value is secret can only answer where this is set.
 */
export const SECRET_MARKERS_VISIBLE: unique symbol = Symbol.for("platform.guardrails.secretMarkersVisible");

export function secretMarkersVisible(props: unknown): boolean {
  return props !== null && typeof props === "object" && (props as Record<symbol, unknown>)[SECRET_MARKERS_VISIBLE] === true;
}
