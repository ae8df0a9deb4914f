/** Every guardrail rule by name: suppressions name one of these (a typo is a type error). */
export const RULE_NAMES = [
  "suppressions-have-reasons",
  "sns-topic-encrypted",
  "sqs-queue-encrypted",
  "dynamodb-table-encrypted",
  "sns-topic-tls-only",
  "sqs-queue-tls-only",
  "iam-no-wildcard-permissions",
  "iam-no-managed-policies",
  "resource-policy-no-wildcards",
  "sqs-sns-source-arn",
  "lambda-permission-source-arn",
  "sqs-source-queue-has-dlq",
  "sns-subscription-has-dlq",
  "sqs-dlq-retention-longer",
  "sqs-dlq-alarm",
  "sqs-visibility-timeout",
  "sqs-partial-batch-responses",
  "lambda-bounded-concurrency",
  "lambda-tracing-active",
  "sns-topic-tracing-active",
  "lambda-explicit-timeout-memory",
  "lambda-current-runtime",
  "log-group-retention",
  "dynamodb-pitr",
  "dynamodb-deletion-protection-prod",
  "kms-key-rotation",
  "api-access-logging",
  "api-default-throttling",
  "api-access-logs-vended",
  "lambda-system-log-level",
  "dynamodb-leading-keys-not-null",
  "sns-failure-topic-durable-sink",
  "sns-alarm-topic-has-recipient",
  "xray-sns-tracing-policy-scoped",
  "dynamodb-sse-no-managed-key",
  "kms-service-principal-actions",
  "vpc-gateway-endpoint-own-route-tables",
  "aws-provider-stage-tags",
  "api-command-route-idempotency",
] as const;

export type RuleName = (typeof RULE_NAMES)[number];

export function isRuleName(value: string): value is RuleName {
  return (RULE_NAMES as readonly string[]).includes(value);
}
