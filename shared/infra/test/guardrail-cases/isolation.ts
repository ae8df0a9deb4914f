// Cases for the rules in guardrails/rules/isolation.ts: vended access log groups, Lambda's system log level, and
// the Null condition that must come with every dynamodb:LeadingKeys condition.
import { doc, fn, resource, type RuleCases } from "./fixtures";

const logGroupArn = (name: string) => `arn:aws:logs:eu-west-1:123456789012:log-group:${name}`;
const apiStage = (destinationArn: string | undefined) =>
  resource("aws:apigatewayv2/stage:Stage", "stage", {
    apiId: "api123",
    name: "$default",
    ...(destinationArn === undefined ? {} : { accessLogSettings: { destinationArn, format: "{}" } }),
  });
const TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/dev-data";
const prefix = { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["$billing#*"] } };
const rolePolicy = (...statements: Parameters<typeof doc>) => resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc(...statements) });

export const cases: RuleCases = {
  "api-access-logs-vended": {
    good: [
      [apiStage(logGroupArn("/aws/vendedlogs/apigateway/dev-orders-http"))],
      [apiStage(`${logGroupArn("/aws/vendedlogs/apigateway/dev-orders-http")}:*`)],
      // No access logs at all is api-access-logging's business, not this rule's.
      [apiStage(undefined)],
    ],
    bad: [
      [[apiStage(logGroupArn("/aws/http-api/dev-orders-http"))], /stage writes access logs to log group \/aws\/http-api\/dev-orders-http, outside \/aws\/vendedlogs\//],
      [[apiStage(`${logGroupArn("/aws/apigateway/dev-orders-http")}:*`)], /log group \/aws\/apigateway\/dev-orders-http, outside/],
      // A look-alike: the prefix must open the name.
      [[apiStage(logGroupArn("/custom/aws/vendedlogs/x"))], /log group \/custom\/aws\/vendedlogs\/x/],
    ],
  },
  "lambda-system-log-level": {
    good: [
      [fn("f", { loggingConfig: { logFormat: "JSON", systemLogLevel: "INFO", applicationLogLevel: "WARN" } })],
      [fn("f", { loggingConfig: { logFormat: "JSON", systemLogLevel: "DEBUG" } })],
      [fn("f", { loggingConfig: { logFormat: "JSON" } })],
      [fn("f")],
    ],
    bad: [
      [[fn("f", { loggingConfig: { logFormat: "JSON", systemLogLevel: "WARN" } })], /function f sets systemLogLevel WARN, which drops Lambda's START and REPORT lines/],
      [[fn("f", { loggingConfig: { logFormat: "JSON", systemLogLevel: "ERROR" } })], /systemLogLevel ERROR/],
    ],
  },
  "dynamodb-leading-keys-not-null": {
    good: [
      [rolePolicy({ Sid: "OwnItems", Effect: "Allow", Action: "dynamodb:GetItem", Resource: TABLE, Condition: { ...prefix, Null: { "dynamodb:LeadingKeys": "false" } } })],
      // JSON's false works as well as "false"; statements without LeadingKeys are not this rule's business.
      [
        rolePolicy(
          { Sid: "OwnItems", Effect: "Allow", Action: "dynamodb:Query", Resource: TABLE, Condition: { ...prefix, Null: { "dynamodb:LeadingKeys": false as unknown as string } } },
          { Sid: "Queue", Effect: "Allow", Action: "sqs:ReceiveMessage", Resource: "arn:aws:sqs:eu-west-1:123456789012:q" },
        ),
      ],
      // A Deny with ForAllValues applies to a request without leading keys too: nothing slips through it.
      [rolePolicy({ Sid: "NotTheirs", Effect: "Deny", Action: "dynamodb:*", Resource: TABLE, Condition: { "ForAllValues:StringNotLike": { "dynamodb:LeadingKeys": ["$billing#*"] } } })],
    ],
    bad: [
      [[rolePolicy({ Sid: "OwnItems", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:Scan"], Resource: TABLE, Condition: prefix })], /p policy statement OwnItems limits dynamodb:LeadingKeys without Null/],
      // Null: true is the opposite (only requests without leading keys), and the key's case does not hide it.
      [[rolePolicy({ Sid: "Odd", Effect: "Allow", Action: "dynamodb:Query", Resource: TABLE, Condition: { "ForAllValues:StringLike": { "DynamoDB:leadingkeys": ["$billing#*"] }, Null: { "dynamodb:LeadingKeys": "true" } } })], /statement Odd limits dynamodb:LeadingKeys without Null/],
      [
        [resource("aws:iam/role:Role", "r", { inlinePolicies: [{ name: "inline", policy: doc({ Effect: "Allow", Action: "dynamodb:Query", Resource: TABLE, Condition: prefix }) }] })],
        /r inline policy inline statement #1 limits dynamodb:LeadingKeys without Null/,
      ],
    ],
  },
};
