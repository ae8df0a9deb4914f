import { resourceRule } from "../rule";
import { bool, stackOfUrn } from "../read";
import { T } from "../resource-types";

/** Stacks holding production data. */
export const PRODUCTION_STAGES = ["prod"] as const;

export const dynamodbPitr = resourceRule(
  {
    name: "dynamodb-pitr",
    description: "DynamoDB tables have point-in-time recovery (cdk-nag AwsSolutions-DDB3; Checkov CKV_AWS_28).",
    remediation: "Set pointInTimeRecovery: { enabled: true }.",
  },
  (args) =>
    args.type === T.table && bool(args.props.pointInTimeRecovery?.enabled) !== true
      ? [{ message: `table ${args.name} has no point-in-time recovery` }]
      : [],
);

export const dynamodbDeletionProtectionProd = resourceRule(
  {
    name: "dynamodb-deletion-protection-prod",
    description: `DynamoDB tables of production stages (${PRODUCTION_STAGES.join(", ")}) have deletion protection (AWS Security Hub DynamoDB.6).`,
    remediation: "Set deletionProtectionEnabled: true (the platform does when platform:deletionProtection is true).",
  },
  (args) => {
    if (args.type !== T.table) return [];
    const stage = stackOfUrn(args.urn);
    if (!stage || !(PRODUCTION_STAGES as readonly string[]).includes(stage)) return [];
    return bool(args.props.deletionProtectionEnabled) === true ? [] : [{ message: `table ${args.name} of stage ${stage} has no deletion protection` }];
  },
);
