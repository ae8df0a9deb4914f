import type { PolicyProviderResource } from "@pulumi/policy";
import { ofType, resourceRule, stackRule, type Finding } from "../rule";
import { actionsOf, bool, conditionValues, json, policyOf, principalsOf, projectOfUrn, stackOfUrn, str } from "../read";
import { T } from "../resource-types";
import type { PolicyStatement } from "../../helpers/policy-document";

// What a real deployment would get wrong: rules for defects that only show in a real account.

const label = (statement: PolicyStatement, index: number) => (statement.Sid ? `statement ${statement.Sid}` : `statement #${index + 1}`);

/** Condition operators that compare a string or ARN key with a value. */
const MATCHING = ["StringEquals", "StringLike", "ArnEquals", "ArnLike"];

export const xraySnsTracingPolicyScoped = resourceRule(
  {
    name: "xray-sns-tracing-policy-scoped",
    description:
      "An X-Ray resource policy lets only the SNS service principal send segments, and only for this account's topics: each statement carries aws:SourceAccount and an aws:SourceArn that names SNS topics (confused-deputy prevention, AWS SNS developer guide, active tracing; X-Ray allows 5 such policies per account, so one stage per account owns it).",
    remediation:
      "Allow Principal { Service: sns.amazonaws.com } only, with StringEquals aws:SourceAccount = the account and ArnLike aws:SourceArn = arn:aws:sns:<region>:<account>:* (the platform does this in the stage that sets platform:ownsAccountTracingPolicy).",
  },
  (args) => {
    if (args.type !== T.xrayResourcePolicy) return [];
    const document = policyOf(args.props.policyDocument);
    if (!document) return [{ message: `X-Ray resource policy ${args.name} has no readable policy document` }];
    const findings: Finding[] = [];
    document.Statement.forEach((statement, i) => {
      if (statement.Effect !== "Allow") return;
      const where = `X-Ray resource policy ${args.name} ${label(statement, i)}`;
      const principals = principalsOf(statement.Principal);
      const others = principals.filter((p) => p !== "service:sns.amazonaws.com");
      if (principals.length === 0 || others.length > 0) {
        findings.push({ statement: statement.Sid, message: `${where} allows ${others.join(", ") || "no principal"}; only sns.amazonaws.com may send segments` });
      }
      const accounts = conditionValues(statement, ["StringEquals"], "aws:SourceAccount");
      if (accounts.length === 0 || accounts.some((a) => !/^\d{12}$/.test(a))) {
        findings.push({ statement: statement.Sid, message: `${where} has no aws:SourceAccount condition naming the account` });
      }
      const sources = conditionValues(statement, MATCHING, "aws:SourceArn");
      if (sources.length === 0 || sources.some((s) => !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:/.test(s))) {
        findings.push({ statement: statement.Sid, message: `${where} has no aws:SourceArn condition limited to the account's SNS topics` });
      }
    });
    return findings;
  },
);

export const dynamodbSseNoManagedKey = resourceRule(
  {
    name: "dynamodb-sse-no-managed-key",
    description:
      "A DynamoDB table does not set serverSideEncryption.enabled without a kmsKeyArn: that selects the AWS managed key aws/dynamodb, for which KMS charges apply; leave it out for the free AWS owned key or name a customer managed key on purpose (AWS DynamoDB developer guide, encryption at rest).",
    remediation:
      "Remove serverSideEncryption (AWS owned key, no charge), or set serverSideEncryption: { enabled: true, kmsKeyArn: <your customer managed key> }.",
  },
  (args) =>
    args.type === T.table && bool(args.props.serverSideEncryption?.enabled) === true && !str(args.props.serverSideEncryption?.kmsKeyArn)
      ? [{ message: `table ${args.name} enables server-side encryption without kmsKeyArn, which uses the billed AWS managed key aws/dynamodb` }]
      : [],
);

/** What the SNS developer guide lists for an AWS service that publishes to an encrypted topic. */
export const SERVICE_PRINCIPAL_KEY_ACTIONS = ["kms:GenerateDataKey*", "kms:Decrypt"] as const;
/**
 * What CloudWatch Logs' delivery service needs of the key that encrypts a state machine whose logs it delivers
 * (AWS Step Functions developer guide, data at rest encryption: logging with a customer managed key): Decrypt only.
 */
export const LOG_DELIVERY_PRINCIPAL = "delivery.logs.amazonaws.com";
export const LOG_DELIVERY_KEY_ACTIONS = ["kms:Decrypt"] as const;

export const kmsServicePrincipalActions = resourceRule(
  {
    name: "kms-service-principal-actions",
    description:
      "A KMS key policy statement for an AWS service principal grants exactly kms:GenerateDataKey* and kms:Decrypt, as the AWS SNS developer guide lists them for services that publish to encrypted topics (for delivery.logs.amazonaws.com, which delivers the logs of state machines encrypted with the key, exactly kms:Decrypt, as the Step Functions developer guide lists it), and is scoped by aws:SourceAccount, aws:SourceArn or the topic's encryption context (confused-deputy prevention).",
    remediation:
      "Allow the service Action [kms:GenerateDataKey*, kms:Decrypt] with a condition on aws:SourceAccount / aws:SourceArn (or kms:EncryptionContext:aws:sns:topicArn).",
  },
  (args) => {
    if (args.type !== T.key) return [];
    const findings: Finding[] = [];
    (policyOf(args.props.policy)?.Statement ?? []).forEach((statement, i) => {
      if (statement.Effect !== "Allow") return;
      const services = principalsOf(statement.Principal).filter((p) => p.startsWith("service:"));
      if (services.length === 0) return;
      const where = `key ${args.name} ${label(statement, i)} (${services.map((s) => s.slice("service:".length)).join(", ")})`;
      const actions = actionsOf(statement);
      const expected: string[] = services.every((s) => s === `service:${LOG_DELIVERY_PRINCIPAL}`) ? [...LOG_DELIVERY_KEY_ACTIONS] : [...SERVICE_PRINCIPAL_KEY_ACTIONS];
      const extra = actions.filter((a) => !expected.includes(a as (typeof expected)[number]));
      const missing = expected.filter((a) => !actions.includes(a));
      if (statement.NotAction !== undefined || extra.length > 0 || missing.length > 0) {
        const problems = [
          ...(extra.length ? [`grants ${extra.join(", ")}`] : []),
          ...(missing.length ? [`lacks ${missing.join(", ")}`] : []),
          ...(statement.NotAction !== undefined ? ["uses NotAction"] : []),
        ];
        const source = expected.length === LOG_DELIVERY_KEY_ACTIONS.length ? "the Step Functions developer guide lists exactly kms:Decrypt for log delivery" : "the SNS developer guide lists exactly kms:GenerateDataKey* and kms:Decrypt";
        findings.push({ statement: statement.Sid, message: `${where} ${problems.join(" and ")}; ${source}` });
      }
      const scoped =
        conditionValues(statement, MATCHING, "aws:SourceAccount").length > 0 ||
        conditionValues(statement, MATCHING, "aws:SourceArn").length > 0 ||
        conditionValues(statement, MATCHING, "kms:EncryptionContext:aws:sns:topicArn").length > 0;
      if (!scoped) findings.push({ statement: statement.Sid, message: `${where} is not scoped by aws:SourceAccount, aws:SourceArn or the topic's encryption context` });
    });
    return findings;
  },
);

export const vpcGatewayEndpointOwnRouteTables = stackRule(
  {
    name: "vpc-gateway-endpoint-own-route-tables",
    description:
      "A gateway VPC endpoint in a VPC whose route tables the stack creates names exactly those route tables, taken from the resources themselves, not from a lookup that can run before they exist and find only the main route table (AWS PrivateLink guide, gateway endpoints; Well-Architected Reliability Pillar, deploy changes in a known order).",
    remediation:
      "Pass the VPC's own route tables (awsx: vpc.routeTables mapped to their ids; or your aws.ec2.RouteTable resources) as routeTableIds, not aws.ec2.getRouteTables.",
  },
  (args) => {
    const findings: Finding[] = [];
    // Route tables the stack created, by VPC id: plain route tables and those an awsx VPC reports.
    const tablesByVpc = new Map<string, Set<string>>();
    const add = (vpcId: unknown, id: unknown) => {
      if (typeof vpcId !== "string" || typeof id !== "string") return;
      const set = tablesByVpc.get(vpcId) ?? new Set<string>();
      set.add(id);
      tablesByVpc.set(vpcId, set);
    };
    for (const table of ofType(args, T.routeTable)) add(table.props.vpcId, table.props.id);
    for (const vpc of ofType(args, T.awsxVpc)) {
      for (const table of (vpc.props.routeTables ?? []) as unknown[]) {
        const t = json(table);
        add(t?.vpcId ?? vpc.props.vpcId, t?.id);
      }
    }
    for (const endpoint of ofType(args, T.vpcEndpoint)) {
      if (endpoint.props.vpcEndpointType !== "Gateway") continue;
      const own = tablesByVpc.get(String(endpoint.props.vpcId));
      if (!own) continue; // a VPC the stack did not create: nothing to compare with
      const named = ((endpoint.props.routeTableIds ?? []) as unknown[]).filter((id): id is string => typeof id === "string");
      const foreign = named.filter((id) => !own.has(id));
      const left = [...own].filter((id) => !named.includes(id));
      if (named.length === 0 || foreign.length > 0 || left.length > 0) {
        const problems = [
          ...(named.length === 0 ? ["names no route table"] : []),
          ...(foreign.length ? [`names ${foreign.join(", ")}, which the stack's VPC does not have`] : []),
          ...(left.length && named.length ? [`leaves out ${left.join(", ")}`] : []),
        ];
        findings.push({ urn: endpoint.urn, message: `gateway endpoint ${endpoint.name} ${problems.join(" and ")}` });
      }
    }
    return findings;
  },
);

/** Tag keys every AWS resource carries through its provider's default tags. */
export const STAGE_TAG_KEYS = ["stage", "service", "project"] as const;

/** The default tags a provider applies (`defaultTags` is JSON text in a provider's inputs). */
export function defaultTagsOf(provider: PolicyProviderResource | undefined): Record<string, string> {
  const defaults = json(provider?.props.defaultTags);
  const tags = json(defaults?.tags);
  return Object.fromEntries(Object.entries(tags ?? {}).filter(([, v]) => typeof v === "string")) as Record<string, string>;
}

export const awsProviderStageTags = resourceRule(
  {
    name: "aws-provider-stage-tags",
    description:
      "Every AWS resource's provider carries default tags stage (the stack), service (the service, or platform) and project (the Pulumi project), so costs can be split and an ephemeral stage's leftovers found (Well-Architected Cost Optimization Pillar, COST03 cost attribution; AWS Tagging Best Practices).",
    remediation:
      "Declare services with defineService (and the platform with useStageProvider): the program's AWS provider then has these default tags. Create other AWS resources after that call, or pass that provider.",
  },
  (args) => {
    if (!args.type.startsWith("aws:")) return [];
    const tags = defaultTagsOf(args.provider);
    const stage = stackOfUrn(args.urn);
    const project = projectOfUrn(args.urn);
    const problems: string[] = [];
    for (const key of STAGE_TAG_KEYS) if (!tags[key]) problems.push(`no ${key}`);
    if (tags.stage && stage && tags.stage !== stage) problems.push(`stage "${tags.stage}", not the stack's "${stage}"`);
    if (tags.project && project && tags.project !== project) problems.push(`project "${tags.project}", not "${project}"`);
    if (problems.length === 0) return [];
    const provider = args.provider ? `provider ${args.provider.name}` : "the default provider";
    return [{ message: `${args.type.split(":").pop()} ${args.name} gets from ${provider} default tags with ${problems.join(", ")}` }];
  },
);
