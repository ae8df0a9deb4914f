import { isRuleName, type RuleName } from "./rule-names";
import { projectOfUrn } from "./read";

/**
 * A rule that does not apply to one resource, and why. For resources the project cannot tag (or whose code it
 * does not own), suppressions live in `SUPPRESSIONS`; a resource can also carry the tag
 * `guardrail:suppress:<rule>` = `<reason>` (tag values cannot hold commas).
 */
export interface Suppression {
  rule: RuleName;
  /** Pulumi type token of the resource (`aws:kms/key:Key`). */
  type: string;
  /** Logical name of the resource. */
  name: string;
  /** Pulumi project of the stack. @default any project */
  project?: string;
  /** Only these policy statements (by `Sid`) of the resource; @default the whole resource */
  statements?: string[];
  /** Why the rule does not apply: a sentence a reviewer can check. */
  reason: string;
}

/** Tag key prefix of a suppression carried by the resource itself. */
export const SUPPRESSION_TAG_PREFIX = "guardrail:suppress:";

/** A reason must say something: at least this long, and not a placeholder. */
export const MIN_REASON_LENGTH = 20;
const PLACEHOLDER = /^\s*(todo|tbd|n\/?a|none|temp|temporary|fixme|later|ignore|skip|-+|\.+)\b/i;

/** Problems with a reason, or `undefined` when it explains itself. */
export function reasonProblem(reason: unknown): string | undefined {
  if (typeof reason !== "string" || reason.trim().length < MIN_REASON_LENGTH) {
    return `its reason must be a sentence of at least ${MIN_REASON_LENGTH} characters`;
  }
  if (PLACEHOLDER.test(reason)) return `its reason "${reason}" is a placeholder, not an explanation`;
  return undefined;
}

/**
 * The platform's suppressions. Each one names the rule, the resource and the reason; `checkSuppressions` (run by
 * the tests and when the policy pack loads) fails on one without a reason or with an unknown rule.
 */
export const SUPPRESSIONS: readonly Suppression[] = [
  {
    rule: "resource-policy-no-wildcards",
    type: "aws:kms/key:Key",
    name: "events-key",
    project: "platform",
    statements: ["AccountAdministers"],
    reason:
      "AWS's default key policy statement: the account root holds kms:* on the key (Resource * in a key policy means this key only) so that IAM policies can grant its use and the key can never become unmanageable; service publishers get their two KMS actions through IAM",
  },
  {
    rule: "resource-policy-no-wildcards",
    type: "aws:kms/key:Key",
    name: "events-key",
    project: "platform",
    statements: ["CloudWatchAlarmsPublish"],
    reason:
      "kms:GenerateDataKey* is the action exactly as the SNS developer guide writes it for AWS services that publish to encrypted topics; the rule kms-service-principal-actions holds that statement to it and Decrypt only",
  },
  {
    rule: "sns-subscription-has-dlq",
    type: "aws:sns/topicSubscription:TopicSubscription",
    name: "alarm-email",
    project: "platform",
    reason:
      "The operators' e-mail subscription to the alarm topic: an alarm stays in state ALARM in CloudWatch whether or not the e-mail arrives, and a dead-letter queue for it would need an alarm of its own that notifies this same topic",
  },
];

/** Every problem with a list of suppressions (empty when each names a known rule and explains itself). */
export function checkSuppressions(list: readonly Suppression[]): string[] {
  const problems: string[] = [];
  for (const s of list) {
    const where = `suppression of ${s.rule} on ${s.type} ${s.name}`;
    if (!isRuleName(s.rule)) problems.push(`${where}: no rule is named "${s.rule}"`);
    const problem = reasonProblem(s.reason);
    if (problem) problems.push(`${where}: ${problem}`);
    if (s.statements && s.statements.length === 0) problems.push(`${where}: an empty statements list suppresses nothing`);
  }
  return problems;
}

/** The resource a finding is about, as far as suppressions need it. */
export interface SuppressionTarget {
  type: string;
  name: string;
  urn: string;
  props: Record<string, any>;
}

/** Suppressions a resource carries in its tags: rule -> reason. */
export function tagSuppressions(props: Record<string, any>): Map<string, string> {
  const found = new Map<string, string>();
  const tags = props.tags;
  if (tags === null || typeof tags !== "object") return found;
  for (const [key, value] of Object.entries(tags as Record<string, unknown>)) {
    if (key.startsWith(SUPPRESSION_TAG_PREFIX)) found.set(key.slice(SUPPRESSION_TAG_PREFIX.length), String(value ?? ""));
  }
  return found;
}

/** The suppression that covers a finding, if any (tag suppressions count only with a reason). */
export function findSuppression(
  rule: RuleName,
  target: SuppressionTarget,
  statement: string | undefined,
  list: readonly Suppression[] = SUPPRESSIONS,
): Suppression | undefined {
  const project = projectOfUrn(target.urn);
  const listed = list.find(
    (s) =>
      s.rule === rule &&
      s.type === target.type &&
      s.name === target.name &&
      (s.project === undefined || s.project === project) &&
      (s.statements === undefined || (statement !== undefined && s.statements.includes(statement))) &&
      reasonProblem(s.reason) === undefined,
  );
  if (listed) return listed;
  const tagged = tagSuppressions(target.props).get(rule);
  if (tagged !== undefined && reasonProblem(tagged) === undefined) {
    return { rule, type: target.type, name: target.name, reason: tagged };
  }
  return undefined;
}
