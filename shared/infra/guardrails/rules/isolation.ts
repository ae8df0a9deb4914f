import { VENDED_LOGS_PREFIX } from "../../helpers/names";
import { resourceRule, type Finding } from "../rule";
import { conditionValues, str } from "../read";
import { T } from "../resource-types";
import { identityPolicies } from "./permissions";

/** The log group a CloudWatch Logs ARN names (`arn:...:logs:<region>:<account>:log-group:<name>[:*]`), if it is one. */
function logGroupName(arn: string): string | undefined {
  const match = /^arn:aws[a-z-]*:logs:[^:]*:[^:]*:log-group:([^:]+)(?::\*)?$/.exec(arn);
  return match?.[1];
}

export const apiAccessLogsVended = resourceRule(
  {
    name: "api-access-logs-vended",
    description:
      "An API stage's access logs go to a log group whose name starts with /aws/vendedlogs/: API Gateway adds any other log group to the account's CloudWatch Logs resource policy, which is capped at 5,120 characters, so after a few dozen stages every deploy that turns on access logging fails (Amazon CloudWatch Logs user guide, enabling logging from AWS services; Well-Architected Serverless Lens, operational excellence: access logs that keep working in every stage).",
    remediation: "Name the access log group /aws/vendedlogs/apigateway/<stage>-<service>-<api> (the HttpApi does).",
  },
  (args) => {
    if (args.type !== T.apiStage) return [];
    const destination = str(args.props.accessLogSettings?.destinationArn);
    const name = destination === undefined ? undefined : logGroupName(destination);
    if (name === undefined || name.startsWith(VENDED_LOGS_PREFIX)) return [];
    return [
      {
        message: `API stage ${args.name} writes access logs to log group ${name}, outside ${VENDED_LOGS_PREFIX}: it goes into the account's size-capped CloudWatch Logs resource policy`,
      },
    ];
  },
);

/** System log levels that keep Lambda's START and REPORT lines (they are INFO lines). */
const SYSTEM_LOG_LEVELS_WITH_REPORT = ["DEBUG", "INFO"];

export const lambdaSystemLogLevel = resourceRule(
  {
    name: "lambda-system-log-level",
    description:
      "A function's loggingConfig.systemLogLevel, if set, is DEBUG or INFO: WARN and above drop Lambda's START and REPORT lines, so duration, billed duration, memory used and init time vanish from the logs (AWS Lambda developer guide, log-level filtering).",
    remediation: 'Set loggingConfig.systemLogLevel to "INFO" (the ServiceFunction does), or leave it out.',
  },
  (args) => {
    if (args.type !== T.function) return [];
    const level = str(args.props.loggingConfig?.systemLogLevel);
    if (level === undefined || SYSTEM_LOG_LEVELS_WITH_REPORT.includes(level.toUpperCase())) return [];
    return [{ message: `function ${args.name} sets systemLogLevel ${level}, which drops Lambda's START and REPORT lines: use INFO` }];
  },
);

const LEADING_KEYS = "dynamodb:LeadingKeys";

export const dynamodbLeadingKeysNotNull = resourceRule(
  {
    name: "dynamodb-leading-keys-not-null",
    description:
      'Every Allow statement with a dynamodb:LeadingKeys condition also has Null { "dynamodb:LeadingKeys": "false" }: ForAllValues is true for a request that carries no leading keys at all (a Scan), so without it the prefix restricts nothing there (Amazon DynamoDB developer guide, fine-grained access control; AWS IAM developer guide, condition set operators).',
    remediation: 'Add Null: { "dynamodb:LeadingKeys": "false" } beside the LeadingKeys condition (leadingKeys() in shared/infra helpers/grants.ts does).',
  },
  (args) => {
    const findings: Finding[] = [];
    for (const { where, document } of identityPolicies(args)) {
      (document?.Statement ?? []).forEach((statement, i) => {
        if (statement.Effect !== "Allow") return;
        const conditioned = Object.values(statement.Condition ?? {}).some((entries) =>
          Object.keys(entries).some((key) => key.toLowerCase() === LEADING_KEYS.toLowerCase()),
        );
        if (!conditioned) return;
        const nulls = conditionValues(statement, ["Null"], LEADING_KEYS);
        if (nulls.length === 1 && nulls[0]?.toLowerCase() === "false") return;
        const label = statement.Sid ? `statement ${statement.Sid}` : `statement #${i + 1}`;
        findings.push({
          statement: statement.Sid,
          message: `${args.name} ${where} ${label} limits dynamodb:LeadingKeys without Null { "dynamodb:LeadingKeys": "false" }: a request without leading keys (a Scan) passes it`,
        });
      });
    }
    return findings;
  },
);
