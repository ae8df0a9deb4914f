/**
 * SNS to SQS deliveries go through authorization as any caller's request does: SNS sends as the service principal
 * `sns.amazonaws.com`, with `aws:SourceArn` the topic's ARN and `aws:SourceAccount` the topic's account, over TLS,
 * and the queue's policy decides (Amazon SNS developer guide, "Giving Amazon SNS topic permission to send messages to
 * an Amazon SQS queue"). A queue whose policy does not let its topic send gets nothing; the delivery's trace says why.
 */
import { PolicyValidationError } from "../iam/evaluate";
import { evaluateResourcePolicy } from "../iam/resource-policy";
import type { DeliveryAuthorization } from "../sns/engine";

/** The service principal SNS delivers as. */
export const SNS_SERVICE_PRINCIPAL = "sns.amazonaws.com";

/**
 * The `authorizeDelivery` of the SNS engine for queues with these policies: `undefined` when the queue's policy
 * allows `sns.amazonaws.com` to `sqs:SendMessage` from the topic, else the reason. Queues the list does not hold are
 * not the programs' (a test's own queue): they are left alone.
 */
export function snsDeliveryAuthorizer(
  queues: ReadonlyArray<{ arn: string; name: string; policy?: string }>,
): (request: DeliveryAuthorization) => string | undefined {
  const byArn = new Map(queues.map((queue) => [queue.arn, queue]));
  // The answer depends only on the policy, the caller, the topic and the queue (no time or per-message keys): each
  // pair of topic and queue is evaluated once per caller and policy text, not on every delivery.
  const decided = new Map<string, { policy: string | undefined; refused: string | undefined }>();
  return ({ topicArn, queueArn, context }) => {
    const queue = byArn.get(queueArn);
    if (!queue) return undefined;
    // The delivery's request context says who calls (SNS's service principal); deliveries without one are SNS's too.
    const service = context?.principal ?? SNS_SERVICE_PRINCIPAL;
    const key = `${service}\n${topicArn}\n${queueArn}`;
    const known = decided.get(key);
    if (known && known.policy === queue.policy) return known.refused;
    const refused = decide(queue, service, topicArn, queueArn);
    decided.set(key, { policy: queue.policy, refused });
    return refused;
  };
}

function decide(queue: { arn: string; name: string; policy?: string }, service: string, topicArn: string, queueArn: string): string | undefined {
  const sourceAccount = topicArn.split(":")[4] ?? "";
  try {
    const result = evaluateResourcePolicy(
      queue.policy,
      { service },
      {
        action: "sqs:SendMessage",
        resource: queueArn,
        context: {
          "aws:SourceArn": topicArn,
          "aws:SourceAccount": sourceAccount,
          "aws:SecureTransport": "true",
          "aws:PrincipalServiceName": service,
        },
      },
    );
    if (result.decision === "Allow") return undefined;
    return `the queue policy of ${queue.name} does not let ${service} send from ${topicArn}: ${result.reason}`;
  } catch (error) {
    if (!(error instanceof PolicyValidationError)) throw error;
    return `the queue policy of ${queue.name} is not a valid policy: ${error.message}`;
  }
}
