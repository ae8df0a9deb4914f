import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "./config";

/** Name of the account's X-Ray resource policy for SNS active tracing (one per account and region). */
export const SNS_TRACING_POLICY_NAME = "sns-active-tracing";

/** What SNS needs from X-Ray to send the segments of actively traced topics (X-Ray developer guide, Amazon SNS). */
export const SNS_TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:GetSamplingRules", "xray:GetSamplingTargets"] as const;

/**
 * The X-Ray resource policy that lets SNS send the segments of actively traced topics. Without it a topic with
 * `tracingConfig: Active` still delivers, but SNS sends no segments, and every trace has a hole at each topic.
 *
 * X-Ray allows only 5 resource policies per account, so this is not created per stage: exactly one stage per
 * account and region sets `platform:ownsAccountTracingPolicy`, and its policy covers every stage's topics there
 * (`aws:SourceArn` = `arn:aws:sns:<region>:<account>:*`, with `aws:SourceAccount` = the account, so no other
 * account's topics can use it). Returns undefined in the other stages.
 */
export function createAccountTracingPolicy(
  config: PlatformConfig,
  accountId: pulumi.Input<string>,
): aws.xray.ResourcePolicy | undefined {
  if (!config.ownsAccountTracingPolicy) return undefined;
  return new aws.xray.ResourcePolicy("sns-tracing-policy", {
    policyName: SNS_TRACING_POLICY_NAME,
    policyDocument: pulumi.jsonStringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "SnsActiveTracing",
          Effect: "Allow",
          Principal: { Service: "sns.amazonaws.com" },
          Action: [...SNS_TRACING_ACTIONS],
          Resource: "*",
          Condition: {
            StringEquals: { "aws:SourceAccount": accountId },
            ArnLike: { "aws:SourceArn": pulumi.interpolate`arn:aws:sns:${config.region}:${accountId}:*` },
          },
        },
      ],
    }),
  });
}
