/**
 * Whether a stream event source mapping may send its on-failure record to its destination. Lambda sends it with the
 * function's execution role ("Retain discarded batch records" in the Lambda developer guide: the role needs
 * sqs:SendMessage on a queue, sns:Publish on a topic, and for a destination encrypted with a customer managed KMS key
 * kms:GenerateDataKey and kms:Decrypt on that key, which the key policy must allow too). A refused send is a
 * `DestinationDeliveryFailures` and the record is lost ("Types of metrics for Lambda functions").
 *
 * The role's identity policies are evaluated by the stage's authorizer (the one its endpoints use). As IAM evaluates a
 * request within one account, the destination's resource policy (queue or topic policy) may allow the role on its own,
 * and an explicit deny in either wins. A KMS key is decided by its key policy: a statement naming the role (or `*`)
 * allows on its own, one naming the account lets the role's IAM policies decide (AWS KMS developer guide, "Key
 * policies"). The key's encryption context is the queue's ARN (`kms:EncryptionContext:aws:sqs:arn`) or the topic's
 * (`kms:EncryptionContext:aws:sns:topicArn`), as SQS and SNS pass it.
 */
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { accessDeniedMessage, type Authorizer, type IamAuthorizationRequest } from "../iam/authorizer";
import { PolicyValidationError, type EvaluationResult } from "../iam/evaluate";
import { evaluateResourcePolicy } from "../iam/resource-policy";

/** The KMS actions Lambda's role needs on the key of an encrypted on-failure queue or topic. */
export const ON_FAILURE_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;

/** What the stage knows of an on-failure destination, from the programs. */
export interface OnFailureDestination {
  arn: string;
  kind: "sqs" | "sns";
  /** The queue's or topic's resource policy (JSON). */
  resourcePolicy?: string;
  /** The customer managed key it is encrypted with (absent: none, SSE-SQS, or the AWS managed key of SQS or SNS). */
  key?: { arn: string; /** Its key policy (JSON), when a program created the key. */ policy?: string };
}

/** Why a send was refused: the first action the role may not take, on which ARN, and AWS's reason. */
export interface OnFailureRefusal {
  action: string;
  resource: string;
  message: string;
}

const QUEUE = "aws:sqs/queue:Queue";
const QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy";
const TOPIC = "aws:sns/topic:Topic";
const TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy";
const KEY = "aws:kms/key:Key";
const ALIAS = "aws:kms/alias:Alias";
/** The AWS managed keys of SQS and SNS: their key policies let every principal of the account use them through the service. */
const AWS_MANAGED_KEY = /^(arn:[^:]+:kms:[^:]*:[^:]*:)?alias\/aws\/(sqs|sns)$/;

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : value && typeof value === "object" ? JSON.stringify(value) : undefined;

/**
 * The destination as the programs declared it: its resource policy (a queue's `policy` or a `QueuePolicy` naming its
 * URL, a topic's `policy` or a `TopicPolicy` naming its ARN) and its KMS key (a key ARN, key id or alias, resolved to
 * the key's ARN and policy when a program created it). A destination no program created gets neither.
 */
export function onFailureDestination(
  programs: readonly { resources: readonly CapturedResource[] }[],
  arn: string,
  where: { region: string; accountId: string },
): OnFailureDestination {
  const kind = arn.startsWith("arn:aws:sns:") ? "sns" : "sqs";
  const resources = programs.flatMap((p) => p.resources);
  const own = resources.find((r) => r.type === (kind === "sqs" ? QUEUE : TOPIC) && r.state.arn === arn);
  const destination: OnFailureDestination = { arn, kind };
  if (!own) return destination;
  const policies = [
    text(own.inputs.policy),
    ...resources
      .filter((r) => (kind === "sqs" ? r.type === QUEUE_POLICY && r.inputs.queueUrl === own.state.url : r.type === TOPIC_POLICY && r.inputs.arn === arn))
      .map((r) => text(r.inputs.policy)),
  ].filter((p): p is string => p !== undefined);
  // A QueuePolicy (TopicPolicy) overwrites the attribute: the last one declared is what AWS keeps.
  if (policies.length) destination.resourcePolicy = policies.at(-1)!;
  const keyId = typeof own.inputs.kmsMasterKeyId === "string" ? own.inputs.kmsMasterKeyId : undefined;
  if (keyId && !AWS_MANAGED_KEY.test(keyId)) destination.key = resolveKey(resources, keyId, where);
  return destination;
}

/** A key ARN, key id, alias name or alias ARN, as the key's ARN and policy. */
function resolveKey(resources: readonly CapturedResource[], id: string, where: { region: string; accountId: string }): { arn: string; policy?: string } {
  const aliasName = /^alias\//.test(id) ? id : /^arn:[^:]+:kms:[^:]*:[^:]*:(alias\/.+)$/.exec(id)?.[1];
  let target = id;
  if (aliasName) {
    const alias = resources.find((r) => r.type === ALIAS && r.inputs.name === aliasName);
    const aliased = alias ? (alias.inputs.targetKeyId as unknown) : undefined;
    if (typeof aliased !== "string") return { arn: `arn:aws:kms:${where.region}:${where.accountId}:${aliasName}` };
    target = aliased;
  }
  const key = resources.find((r) => r.type === KEY && (r.state.arn === target || r.state.keyId === target || r.id === target));
  const arn = (key?.state.arn as string | undefined) ?? (target.startsWith("arn:") ? target : `arn:aws:kms:${where.region}:${where.accountId}:key/${target}`);
  const policy = key ? text(key.inputs.policy) : undefined;
  return policy ? { arn, policy } : { arn };
}

/** What Lambda asks of the function's role to send one on-failure record. */
export interface OnFailureSend {
  authorizer: Authorizer;
  /** The function's principal in the authorizer (its access key id). */
  principal: string;
  /** The execution role's ARN (resource and key policies name it). */
  roleArn: string;
  region: string;
  accountId: string;
  destination: OnFailureDestination;
}

/**
 * `undefined` when the role may send the record to the destination (and use its key), else the first refusal: the
 * send action first, then each KMS action, as SQS and SNS would refuse them.
 */
export function authorizeOnFailureSend(send: OnFailureSend): OnFailureRefusal | undefined {
  const { destination } = send;
  const action = destination.kind === "sqs" ? "sqs:SendMessage" : "sns:Publish";
  const refused = decide(send, action, destination.arn, destination.resourcePolicy, {}, "resource");
  if (refused || !destination.key) return refused;
  const context: Record<string, string> = { [destination.kind === "sqs" ? "kms:EncryptionContext:aws:sqs:arn" : "kms:EncryptionContext:aws:sns:topicArn"]: destination.arn };
  for (const keyAction of ON_FAILURE_KEY_ACTIONS) {
    const keyRefused = decide(
      send,
      keyAction,
      destination.key.arn,
      destination.key.policy,
      { ...context, "kms:ViaService": `${destination.kind}.${send.region}.amazonaws.com`, "kms:CallerAccount": send.accountId },
      "key",
    );
    if (keyRefused) return keyRefused;
  }
  return undefined;
}

/**
 * One request of the role: its identity policies (the authorizer) and the resource's policy. For a destination
 * (`resource`), either may allow; for a key (`key`), a key policy that is known must allow, naming the role itself or
 * letting the account's IAM policies decide. An explicit deny anywhere refuses.
 */
function decide(
  send: OnFailureSend,
  action: string,
  resource: string,
  resourcePolicy: string | undefined,
  conditionKeys: Record<string, string>,
  kind: "resource" | "key",
): OnFailureRefusal | undefined {
  const request: IamAuthorizationRequest = { principal: send.principal, action, resource, context: { region: send.region, conditionKeys } };
  // evaluate() does not report to the stage's trace: only the final decision is reported, once.
  const identity: EvaluationResult["decision"] = send.authorizer.evaluate(request)?.decision ?? (send.authorizer.authorize(request).allowed ? "Allow" : "ImplicitDeny");
  const identityRefusal = (): OnFailureRefusal => ({
    action,
    resource,
    message: accessDeniedMessage({ principalArn: send.authorizer.principalArn(send.principal), action, resource, explicitDeny: identity === "ExplicitDeny" }),
  });
  if (identity === "ExplicitDeny") return identityRefusal();
  const context = { ...conditionKeys, "aws:PrincipalArn": send.roleArn, "aws:PrincipalAccount": send.accountId, "aws:SecureTransport": "true", "aws:RequestedRegion": send.region };
  const onResource = (policy: string | undefined): EvaluationResult | undefined => {
    if (policy === undefined) return undefined;
    try {
      return evaluateResourcePolicy(policy, { aws: send.roleArn }, { action, resource, context });
    } catch (error) {
      if (error instanceof PolicyValidationError) return undefined; // AWS refuses such a policy at deploy
      throw error;
    }
  };
  const policy = onResource(resourcePolicy);
  const what = kind === "key" ? `the key policy of ${resource}` : `the resource policy of ${resource}`;
  if (policy?.decision === "ExplicitDeny") return { action, resource, message: `${what} explicitly denies ${action} to ${send.roleArn}` };
  if (kind === "resource") return identity === "Allow" || policy?.decision === "Allow" ? undefined : identityRefusal();
  if (policy === undefined) return identity === "Allow" ? undefined : identityRefusal();
  if (policy.decision !== "Allow") return { action, resource, message: `${what} does not let ${send.roleArn} ${action}: ${policy.reason}` };
  // Allowed by the key policy: on its own when a statement names the role (or everyone), else through IAM.
  if (onResource(namingRole(resourcePolicy!, send.roleArn))?.decision === "Allow") return undefined;
  return identity === "Allow" ? undefined : identityRefusal();
}

/** The statements of a policy whose Principal names the role itself or everyone (not merely its account). */
function namingRole(policy: string, roleArn: string): string | undefined {
  try {
    const document = JSON.parse(policy) as { Version?: unknown; Statement?: unknown };
    const statements = (Array.isArray(document.Statement) ? document.Statement : [document.Statement]).filter((s): s is Record<string, unknown> => {
      if (!s || typeof s !== "object") return false;
      const principal = (s as { Principal?: unknown }).Principal;
      if (principal === "*") return true;
      const aws = principal && typeof principal === "object" ? (principal as { AWS?: unknown }).AWS : undefined;
      return (Array.isArray(aws) ? aws : [aws]).some((p) => p === "*" || p === roleArn);
    });
    return statements.length ? JSON.stringify({ ...(document.Version === undefined ? {} : { Version: document.Version }), Statement: statements }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The one line the stage prints for a refused on-failure record: the function, the destination, the action and ARN
 * refused, AWS's reason, and what became of the record.
 */
export function onFailureRefusalLine(functionName: string, destinationArn: string, refusal: OnFailureRefusal): string {
  return (
    `local stage: ${functionName} gave up on a batch, and its on-failure record was not delivered to ${destinationArn}: ` +
    `the function's role may not ${refusal.action} on ${refusal.resource} (${refusal.message}). ` +
    `Lambda drops such a record (DestinationDeliveryFailures) and goes on with the shard: the batch is recorded nowhere`
  );
}

/**
 * Keeps the last 256 invocations' values by request id (an on-failure record names the request id of the batch's last
 * invocation: its trace context shows where the refusal belongs).
 */
export function rememberInvocation<T>(byRequestId: Map<string, T>, requestId: string, value: T): void {
  byRequestId.delete(requestId);
  byRequestId.set(requestId, value);
  if (byRequestId.size > 256) byRequestId.delete(byRequestId.keys().next().value!);
}
