import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { CURRENT_NODEJS_RUNTIMES, isCurrentRuntime } from "../../helpers/runtimes";
import { resourceRule, ofType, stackRule, type Finding } from "../rule";
import { num, str } from "../read";
import { T } from "../resource-types";
import { functionNamed } from "./messaging";
import { isDynamoDbStreamArn, isKinesisArn } from "./stream-mappings";

/** The API whose execution ARN a permission's source ARN falls under. */
function apiOfSourceArn(args: StackValidationArgs, sourceArn: string): PolicyResource | undefined {
  return args.resources.find(
    (r) => r.type === "aws:apigatewayv2/api:Api" && typeof r.props.executionArn === "string" && sourceArn.startsWith(`${r.props.executionArn}/`),
  );
}

/** Whether every stage of an API throttles its routes by default (rate and burst). */
function apiThrottled(args: StackValidationArgs, api: PolicyResource): boolean {
  const apiId = String(api.props.executionArn).split(":").pop();
  const stages = ofType(args, T.apiStage).filter((s) => s.props.apiId === apiId);
  return (
    stages.length > 0 &&
    stages.every((s) => (num(s.props.defaultRouteSettings?.throttlingRateLimit) ?? 0) > 0 && (num(s.props.defaultRouteSettings?.throttlingBurstLimit) ?? 0) > 0)
  );
}

export const lambdaBoundedConcurrency = stackRule(
  {
    name: "lambda-bounded-concurrency",
    description:
      "Every function's concurrency is bounded: reserved concurrency, or every trigger bounded (SQS mappings with maximum concurrency, stream mappings by their shards, API Gateway routes behind stage throttling), so a burst cannot exhaust the account or a dependency (Checkov CKV_AWS_115, relaxed to accept trigger limits; Well-Architected Serverless Lens, reliability).",
    remediation: "Set scalingConfig.maximumConcurrency on SQS mappings (EventConsumer: maxConcurrency), throttling on API stages, or reservedConcurrentExecutions.",
  },
  (args) =>
    ofType(args, T.function).flatMap((fn): Finding[] => {
      if ((num(fn.props.reservedConcurrentExecutions) ?? -1) >= 1) return [];
      const mappings = ofType(args, T.eventSourceMapping).filter((m) => functionNamed(args, m.props.functionName) === fn);
      const permissions = ofType(args, T.permission).filter((p) => functionNamed(args, p.props.function) === fn);
      if (mappings.length + permissions.length === 0) {
        return [{ urn: fn.urn, message: `function ${fn.name} has neither reserved concurrency nor a bounded trigger` }];
      }
      const unbounded = [
        ...mappings
          // A stream mapping (DynamoDB Streams, Kinesis) runs one batch per shard and parallelization factor (1 to 10).
          .filter((m) => !isStreamSource(m.props.eventSourceArn) && !((num(m.props.scalingConfig?.maximumConcurrency) ?? 0) >= 2))
          .map((m) => `mapping ${m.name} has no maximum concurrency`),
        ...permissions
          .filter((p) => {
            const sourceArn = str(p.props.sourceArn);
            const api = sourceArn && p.props.principal === "apigateway.amazonaws.com" ? apiOfSourceArn(args, sourceArn) : undefined;
            return !api || !apiThrottled(args, api);
          })
          .map((p) => `permission ${p.name} lets an unthrottled caller invoke it`),
      ];
      return unbounded.length ? [{ urn: fn.urn, message: `function ${fn.name} has unbounded concurrency: ${unbounded.join("; ")}` }] : [];
    }),
);

/** Whether an event source mapping reads a DynamoDB or Kinesis stream (whose shards bound its concurrency). */
function isStreamSource(arn: unknown): boolean {
  return isKinesisArn(arn) || isDynamoDbStreamArn(arn);
}

export const lambdaExplicitTimeoutMemory = resourceRule(
  {
    name: "lambda-explicit-timeout-memory",
    description:
      "Functions set their timeout and memory explicitly instead of Lambda's 3 s / 128 MB defaults (cdk-nag Serverless-LambdaDefaultTimeout and Serverless-LambdaDefaultMemorySize).",
    remediation: "Set timeout and memorySize (the ServiceFunction sets 10 s and 512 MB unless told otherwise).",
  },
  (args) => {
    if (args.type !== T.function) return [];
    const missing = [num(args.props.timeout) === undefined ? "timeout" : "", num(args.props.memorySize) === undefined ? "memorySize" : ""].filter(Boolean);
    return missing.length ? [{ message: `function ${args.name} does not set ${missing.join(" and ")}` }] : [];
  },
);

export const lambdaCurrentRuntime = resourceRule(
  {
    name: "lambda-current-runtime",
    description: `Zip functions run a current Node.js runtime (${CURRENT_NODEJS_RUNTIMES.join(", ")}) (cdk-nag AwsSolutions-L1 and Serverless-LambdaLatestVersion).`,
    remediation: "Set runtime to nodejs24.x (the ServiceFunction's default) or nodejs22.x.",
  },
  (args) => {
    if (args.type !== T.function || args.props.packageType === "Image") return [];
    return isCurrentRuntime(args.props.runtime)
      ? []
      : [{ message: `function ${args.name} runs ${String(args.props.runtime ?? "no runtime")}, not a current Node.js runtime` }];
  },
);
