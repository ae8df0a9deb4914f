import { resourceRule } from "../rule";
import { num } from "../read";
import { T } from "../resource-types";

export const apiDefaultThrottling = resourceRule(
  {
    name: "api-default-throttling",
    description:
      "API Gateway stages set their own default route throttling (rate and burst) instead of the account defaults (cdk-nag Serverless-APIGWDefaultThrottling).",
    remediation: "Set defaultRouteSettings { throttlingRateLimit, throttlingBurstLimit } (the HttpApi sets 50/100 unless told otherwise).",
  },
  (args) => {
    if (args.type !== T.apiStage) return [];
    const settings = args.props.defaultRouteSettings;
    const rate = num(settings?.throttlingRateLimit);
    const burst = num(settings?.throttlingBurstLimit);
    return rate !== undefined && rate > 0 && burst !== undefined && burst > 0
      ? []
      : [{ message: `API stage ${args.name} does not set default route throttling (rate and burst)` }];
  },
);
