import type { ResourceValidationArgs } from "@pulumi/policy";
import { NETWORK_DESCRIBE_ACTIONS, NETWORK_INTERFACE_ACTIONS, XRAY_ACTIONS } from "../../helpers/grants";
import { LOG_DELIVERY_ACTIONS, WORKFLOW_XRAY_ACTIONS } from "../../helpers/workflow-grants";
import { asList, type PolicyDocument, type PolicyStatement } from "../../helpers/policy-document";
import { resourceRule, type Finding } from "../rule";
import { actionCovers, actionsOf, conditionValues, policyOf, principalsOf, resourcesOf, str } from "../read";
import { T } from "../resource-types";

/** IAM identity policies a resource carries: its inline documents, by where they sit. */
export function identityPolicies(args: ResourceValidationArgs): { where: string; document: PolicyDocument | undefined }[] {
  switch (args.type) {
    case T.rolePolicy:
    case T.policy:
    case T.userPolicy:
    case T.groupPolicy:
      return [{ where: "policy", document: policyOf(args.props.policy) }];
    case T.role:
      return asList(args.props.inlinePolicies as { name?: string; policy?: unknown }[] | undefined).map((inline) => ({
        where: `inline policy ${inline.name ?? ""}`.trim(),
        document: policyOf(inline.policy),
      }));
    default:
      return [];
  }
}

/** Resource policies (who may use this resource) a resource carries. */
function resourcePolicies(args: ResourceValidationArgs): PolicyDocument[] {
  switch (args.type) {
    case T.queuePolicy:
    case T.topicPolicy:
    case T.queue:
    case T.topic:
    case T.key:
      return [policyOf(args.props.policy)].filter((d): d is PolicyDocument => d !== undefined);
    default:
      return [];
  }
}

const XRAY = new Set<string>(XRAY_ACTIONS);
/** A traced state machine's X-Ray actions (its sampling reads too) and the vended-log delivery actions: no resource-level permissions. */
const NO_RESOURCE_LEVEL = new Set<string>([...WORKFLOW_XRAY_ACTIONS, ...LOG_DELIVERY_ACTIONS]);
const NETWORK_DESCRIBE = new Set<string>(NETWORK_DESCRIBE_ACTIONS);
const NETWORK_INTERFACE = new Set<string>(NETWORK_INTERFACE_ACTIONS);
/** The streams of one exact log group: Lambda names its log streams at run time. */
const LOG_STREAMS_OF_ONE_GROUP = /^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[^*:]+:\*$/;
/** The network interfaces of one account and region: their ids are assigned when Lambda creates them. */
const NETWORK_INTERFACES = /^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:network-interface\/\*$/;
/** Every EC2 resource id of one account and region (`arn:<partition>:ec2:<region>:<account>:*\/*`), as Lambda's guide asks. */
const EC2_RESOURCES_OF_ACCOUNT = /^(arn:aws[a-z-]*):ec2:([a-z0-9-]+):(\d{12}):\*\/\*$/;

/** `partition:region:account` of an ARN that names all three exactly, else `undefined`. */
function accountScope(arn: string): string | undefined {
  const match = /^arn:(aws[a-z-]*):[a-z0-9-]+:([a-z0-9-]+):(\d{12}):/.exec(arn);
  return match ? `${match[1]}:${match[2]}:${match[3]}` : undefined;
}

/**
 * The reason a wildcard resource is acceptable for these actions, or `undefined`. The exemptions: X-Ray's write
 * actions and EC2's DescribeNetworkInterfaces/DescribeSubnets support no resource-level permissions (Resource must
 * be "*"), the log streams of one named log group cannot be named in advance, neither can the network interfaces
 * Lambda creates for a function in a VPC (CreateNetworkInterface on `network-interface/*`), and Lambda's developer
 * guide asks for DeleteNetworkInterface, AssignPrivateIpAddresses and UnassignPrivateIpAddresses on every resource
 * id of the account and region (`arn:<partition>:ec2:<region>:<account>:*\/*`): exactly those three actions, on
 * exactly that pattern, for the account and region the rest of the policy names (`scopes`, when it names any).
 */
export function wildcardResourceExemption(resource: string, actions: string[], scopes: ReadonlySet<string> = new Set()): string | undefined {
  if (resource === "*" && actions.length > 0 && actions.every((a) => XRAY.has(a))) {
    return "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions";
  }
  if (resource === "*" && actions.length > 0 && actions.every((a) => NO_RESOURCE_LEVEL.has(a))) {
    return "X-Ray's and CloudWatch Logs' vended-log delivery actions of a state machine support no resource-level permissions (AWS Step Functions developer guide)";
  }
  if (resource === "*" && actions.length > 0 && actions.every((a) => NETWORK_DESCRIBE.has(a))) {
    return "EC2 DescribeNetworkInterfaces/DescribeSubnets support no resource-level permissions";
  }
  if (NETWORK_INTERFACES.test(resource) && actions.length > 0 && actions.every((a) => a === "ec2:CreateNetworkInterface")) {
    return "Lambda creates a function's network interfaces in its VPC; their ids are not known in advance";
  }
  const ec2 = EC2_RESOURCES_OF_ACCOUNT.exec(resource);
  if (ec2 && actions.length > 0 && actions.every((a) => NETWORK_INTERFACE.has(a))) {
    const scope = `${ec2[1]!.slice("arn:".length)}:${ec2[2]}:${ec2[3]}`;
    if (scopes.size === 0 || scopes.has(scope)) {
      return "Lambda's developer guide asks for these network interface actions on all resource ids of the account and region";
    }
  }
  if (LOG_STREAMS_OF_ONE_GROUP.test(resource) && actions.every((a) => a.startsWith("logs:") && !a.includes("*"))) {
    return "the log streams of one named log group are created by Lambda at run time";
  }
  return undefined;
}

function statementLabel(statement: PolicyStatement, index: number): string {
  return statement.Sid ? `statement ${statement.Sid}` : `statement #${index + 1}`;
}

export const iamNoWildcardPermissions = resourceRule(
  {
    name: "iam-no-wildcard-permissions",
    description:
      "IAM identity policies allow exact actions on exact resources: no wildcard actions, no NotAction/NotResource, no wildcard resources except X-Ray's write actions, a state machine's X-Ray sampling reads and vended-log delivery actions, and EC2's Describe actions for VPC functions (no resource-level permissions), the log streams of one named log group, CreateNetworkInterface on the network interfaces Lambda creates for a VPC function, and exactly DeleteNetworkInterface, AssignPrivateIpAddresses and UnassignPrivateIpAddresses on arn:<partition>:ec2:<region>:<account>:*/* of the policy's own account and region, as the AWS Lambda developer guide asks (cdk-nag AwsSolutions-IAM5 and Serverless-IAMNoWildcardPermissions; Checkov CKV_AWS_63, CKV_AWS_355).",
    remediation: "Name each action and each resource ARN; derive them from what the function does (shared/infra helpers/grants.ts).",
  },
  (args) => {
    const findings: Finding[] = [];
    for (const { where, document } of identityPolicies(args)) {
      // The accounts and regions the policy's exact ARNs name: an account-wide EC2 grant must stay within them.
      const scopes = new Set(
        (document?.Statement ?? [])
          .flatMap((statement) => resourcesOf(statement))
          .filter((resource) => !EC2_RESOURCES_OF_ACCOUNT.test(resource))
          .map(accountScope)
          .filter((scope): scope is string => scope !== undefined),
      );
      (document?.Statement ?? []).forEach((statement, i) => {
        if (statement.Effect !== "Allow") return;
        const label = `${args.name} ${where} ${statementLabel(statement, i)}`;
        const sid = statement.Sid;
        if (statement.NotAction !== undefined) findings.push({ statement: sid, message: `${label} allows NotAction (everything but a list)` });
        if (statement.NotResource !== undefined) findings.push({ statement: sid, message: `${label} allows NotResource (everything but a list)` });
        const actions = actionsOf(statement);
        for (const action of actions.filter((a) => a.includes("*"))) {
          findings.push({ statement: sid, message: `${label} allows the wildcard action "${action}"` });
        }
        for (const resource of resourcesOf(statement).filter((r) => r.includes("*"))) {
          if (!wildcardResourceExemption(resource, actions, scopes)) {
            findings.push({ statement: sid, message: `${label} allows ${actions.join(", ")} on the wildcard resource "${resource}"` });
          }
        }
      });
    }
    return findings;
  },
);

const AWS_MANAGED_POLICY = /^arn:aws[a-z-]*:iam::aws:policy\//;

export const iamNoManagedPolicies = resourceRule(
  {
    name: "iam-no-managed-policies",
    description:
      "No role, user or group uses AWS managed policies: they are broad and change without notice; roles hold inline, least-privilege policies (cdk-nag AwsSolutions-IAM4).",
    remediation: "Replace the attachment with an aws.iam.RolePolicy naming exact actions and resources.",
  },
  (args) => {
    const attachments = [T.rolePolicyAttachment, T.userPolicyAttachment, T.groupPolicyAttachment, T.policyAttachment] as string[];
    const arns = attachments.includes(args.type)
      ? [str(args.props.policyArn)]
      : args.type === T.role
        ? asList(args.props.managedPolicyArns as string[] | undefined)
        : [];
    return arns
      .filter((arn): arn is string => arn !== undefined && AWS_MANAGED_POLICY.test(arn))
      .map((arn) => ({ message: `${args.name} uses the AWS managed policy ${arn}` }));
  },
);

export const resourcePolicyNoWildcards = resourceRule(
  {
    name: "resource-policy-no-wildcards",
    description:
      "Resource policies (queues, topics, KMS keys) allow no wildcard actions and no unconditioned wildcard principal (cdk-nag AwsSolutions-IAM5 applied to resource policies; Checkov CKV_AWS_33 for KMS key policies).",
    remediation: "Allow named actions to named principals; add a condition (aws:SourceArn, aws:SourceAccount) for service principals.",
  },
  (args) => {
    const findings: Finding[] = [];
    for (const document of resourcePolicies(args)) {
      document.Statement.forEach((statement, i) => {
        if (statement.Effect !== "Allow") return;
        const label = `${args.name} ${statementLabel(statement, i)}`;
        for (const action of actionsOf(statement).filter((a) => a.includes("*"))) {
          findings.push({ statement: statement.Sid, message: `${label} allows the wildcard action "${action}"` });
        }
        if (statement.NotAction !== undefined) findings.push({ statement: statement.Sid, message: `${label} allows NotAction` });
        if (principalsOf(statement.Principal).includes("*") && statement.Condition === undefined) {
          findings.push({ statement: statement.Sid, message: `${label} allows any principal without a condition` });
        }
      });
    }
    return findings;
  },
);

export const sqsSnsSourceArn = resourceRule(
  {
    name: "sqs-sns-source-arn",
    description:
      "A queue policy lets SNS send only with an exact aws:SourceArn condition (the one topic), so no other topic can deliver into the queue (confused-deputy prevention, AWS SNS developer guide; Well-Architected Serverless Lens, least-privileged resource policies).",
    remediation: "Condition the Allow statement with ArnEquals aws:SourceArn = the topic's ARN.",
  },
  (args) => {
    if (args.type !== T.queuePolicy && args.type !== T.queue) return [];
    const findings: Finding[] = [];
    const document = policyOf(args.props.policy);
    (document?.Statement ?? []).forEach((statement, i) => {
      if (statement.Effect !== "Allow") return;
      const principals = principalsOf(statement.Principal);
      const fromSns = principals.includes("*") || principals.includes("service:sns.amazonaws.com");
      const sends = actionsOf(statement).some((a) => actionCovers(a, "sqs:SendMessage"));
      if (!fromSns || !sends) return;
      const sources = conditionValues(statement, ["ArnEquals", "ArnLike", "StringEquals", "StringLike"], "aws:SourceArn");
      if (sources.length === 0 || sources.some((s) => s.includes("*"))) {
        findings.push({
          statement: statement.Sid,
          message: `${args.name} ${statementLabel(statement, i)} lets SNS send without an exact aws:SourceArn condition`,
        });
      }
    });
    return findings;
  },
);

export const lambdaPermissionSourceArn = resourceRule(
  {
    name: "lambda-permission-source-arn",
    description:
      "A Lambda permission for an AWS service names the source (aws:SourceArn); no permission is granted to everyone (cdk-nag LambdaFunctionPublicAccessProhibited; Well-Architected Serverless Lens, least-privileged resource policies).",
    remediation: "Set sourceArn to the calling resource (for API Gateway: <api execution ARN>/<stage>/<METHOD>/<path>).",
  },
  (args) => {
    if (args.type !== T.permission) return [];
    const principal = str(args.props.principal);
    if (principal === "*") return [{ message: `permission ${args.name} lets anyone invoke the function` }];
    if (principal?.endsWith(".amazonaws.com") && !str(args.props.sourceArn)) {
      return [{ message: `permission ${args.name} lets ${principal} invoke the function from any source: set sourceArn` }];
    }
    return [];
  },
);
