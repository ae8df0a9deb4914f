import type { CapturedResource } from "../../../capture/pulumi-mocks";
import type { RuleName } from "../../guardrails";
import type { PolicyStatement } from "../../helpers/policy-document";

// Small resources shaped like the ones the mocks capture: `inputs` for resource rules, `state` (inputs plus what
// AWS computes) for stack rules.
export const ACCOUNT = "123456789012";
export function resource(type: string, name: string, inputs: Record<string, any>, computed: Record<string, any> = {}, stack = "dev"): CapturedResource {
  return {
    type,
    name,
    urn: `urn:pulumi:${stack}::svc::${type}::${name}`,
    parent: "",
    custom: true,
    inputs,
    state: { ...inputs, ...computed },
    id: name,
  };
}
export const doc = (...Statement: PolicyStatement[]) => JSON.stringify({ Version: "2012-10-17", Statement });
export const queueArn = (name: string) => `arn:aws:sqs:eu-west-1:${ACCOUNT}:${name}`;
export const queueUrl = (name: string) => `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/${name}`;
export const queue = (name: string, inputs: Record<string, any> = {}) =>
  resource("aws:sqs/queue:Queue", name, { name, sqsManagedSseEnabled: true, ...inputs }, { arn: queueArn(name), url: queueUrl(name) });
export const topicArn = `arn:aws:sns:eu-west-1:${ACCOUNT}:topic`;
export const fnArn = (name: string) => `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:${name}`;
export const fn = (name: string, inputs: Record<string, any> = {}) =>
  resource(
    "aws:lambda/function:Function",
    name,
    { name, runtime: "nodejs24.x", timeout: 10, memorySize: 512, tracingConfig: { mode: "Active" }, ...inputs },
    { arn: fnArn(name) },
  );
export const denyWithoutTls = (action: string, resourceArn: string): PolicyStatement => ({
  Effect: "Deny",
  Principal: "*",
  Action: action,
  Resource: resourceArn,
  Condition: { Bool: { "aws:SecureTransport": "false" } },
});
export const redrive = (dlq: string, maxReceiveCount = 5) => JSON.stringify({ deadLetterTargetArn: queueArn(dlq), maxReceiveCount });
export const dlqAlarm = (dlq: string, inputs: Record<string, any> = {}) =>
  resource("aws:cloudwatch/metricAlarm:MetricAlarm", `${dlq}-alarm`, {
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    dimensions: { QueueName: dlq },
    comparisonOperator: "GreaterThanThreshold",
    threshold: 0,
    alarmActions: [topicArn],
    ...inputs,
  });
export const executionArn = `arn:aws:execute-api:eu-west-1:${ACCOUNT}:api123`;
export const api = resource("aws:apigatewayv2/api:Api", "api", { protocolType: "HTTP" }, { executionArn });
export const stage = (throttled: boolean) =>
  resource("aws:apigatewayv2/stage:Stage", "stage", {
    apiId: "api123",
    name: "$default",
    accessLogSettings: { destinationArn: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/http-api/x", format: "{}" },
    defaultRouteSettings: throttled ? { throttlingRateLimit: 50, throttlingBurstLimit: 100 } : {},
  });
export const permission = (target: string, inputs: Record<string, any> = {}) =>
  resource("aws:lambda/permission:Permission", `${target}-permission`, {
    action: "lambda:InvokeFunction",
    function: target,
    principal: "apigateway.amazonaws.com",
    sourceArn: `${executionArn}/*/GET/orders`,
    ...inputs,
  });
export const mapping = (target: string, source: string, inputs: Record<string, any> = {}) =>
  resource("aws:lambda/eventSourceMapping:EventSourceMapping", `${target}-mapping`, {
    eventSourceArn: queueArn(source),
    functionName: fnArn(target),
    functionResponseTypes: ["ReportBatchItemFailures"],
    scalingConfig: { maximumConcurrency: 5 },
    ...inputs,
  });

export interface RuleCase {
  /** Compliant stacks: the rule reports nothing. */
  good: CapturedResource[][];
  /** Stacks that break the rule, each with what the report must say. */
  bad: [CapturedResource[], RegExp][];
}


/** Cases for rules kept in their own file: each file in this folder (but this one) exports `cases`. */
export type RuleCases = Partial<Record<RuleName, RuleCase>>;
