import { XRAY_ACTIONS } from "./grants";

/**
 * What CloudWatch Logs asks of the role of a service that delivers vended logs to a log group (the Step Functions
 * developer guide, "IAM policies for logging to CloudWatch Logs"): these actions take no resource-level permissions,
 * so their Resource is "*".
 */
export const LOG_DELIVERY_ACTIONS = [
  "logs:CreateLogDelivery",
  "logs:GetLogDelivery",
  "logs:UpdateLogDelivery",
  "logs:DeleteLogDelivery",
  "logs:ListLogDeliveries",
  "logs:PutResourcePolicy",
  "logs:DescribeResourcePolicies",
  "logs:DescribeLogGroups",
] as const;

/** X-Ray actions of a state machine with tracing (Step Functions developer guide, "IAM policies for X-Ray"): no resource-level permissions. */
export const WORKFLOW_XRAY_ACTIONS = [...XRAY_ACTIONS, "xray:GetSamplingRules", "xray:GetSamplingTargets"] as const;

/** What a state machine role does with a customer managed key that encrypts the state machine (Step Functions developer guide, "Data at rest encryption"). */
export const WORKFLOW_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"] as const;
