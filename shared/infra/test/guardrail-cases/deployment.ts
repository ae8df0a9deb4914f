import type { CapturedResource } from "../../../capture/pulumi-mocks";
import type { PolicyStatement } from "../../helpers/policy-document";
import { ACCOUNT, doc, resource, type RuleCases } from "./fixtures";

const tracingStatement = (over: Partial<PolicyStatement> = {}): PolicyStatement => ({
  Sid: "SnsActiveTracing",
  Effect: "Allow",
  Principal: { Service: "sns.amazonaws.com" },
  Action: ["xray:PutTraceSegments", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
  Resource: "*",
  Condition: {
    StringEquals: { "aws:SourceAccount": ACCOUNT },
    ArnLike: { "aws:SourceArn": `arn:aws:sns:eu-west-1:${ACCOUNT}:*` },
  },
  ...over,
});
const xrayPolicy = (...statements: PolicyStatement[]) =>
  resource("aws:xray/resourcePolicy:ResourcePolicy", "sns-tracing-policy", { policyName: "sns-active-tracing", policyDocument: doc(...statements) });

const table = (inputs: Record<string, any>) => resource("aws:dynamodb/table:Table", "t", inputs);
const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/k`;

const admin: PolicyStatement = { Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" };
const cloudwatch = (over: Partial<PolicyStatement> = {}): PolicyStatement => ({
  Sid: "CloudWatchAlarmsPublish",
  Effect: "Allow",
  Principal: { Service: "cloudwatch.amazonaws.com" },
  Action: ["kms:GenerateDataKey*", "kms:Decrypt"],
  Resource: "*",
  Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT }, ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:*` } },
  ...over,
});
const key = (...statements: PolicyStatement[]) => resource("aws:kms/key:Key", "events-key", { enableKeyRotation: true, policy: doc(...statements) });

const VPC = "vpc-1";
const awsxVpc = (tables: string[]) =>
  resource("awsx:ec2:Vpc", "network", {}, { vpcId: VPC, routeTables: tables.map((id) => ({ id, vpcId: VPC })) });
const gateway = (routeTableIds: string[] | undefined, inputs: Record<string, any> = {}) =>
  resource("aws:ec2/vpcEndpoint:VpcEndpoint", "dynamodb-endpoint", {
    vpcId: VPC,
    serviceName: "com.amazonaws.eu-west-1.dynamodb",
    vpcEndpointType: "Gateway",
    routeTableIds,
    ...inputs,
  });

/** A provider as the mocks capture it (its `defaultTags` input is JSON text), and a resource that names it. */
const provider = (tags: Record<string, string> | undefined, stack = "dev", project = "svc"): CapturedResource => ({
  ...resource("pulumi:providers:aws", "aws", { region: "eu-west-1", ...(tags ? { defaultTags: JSON.stringify({ tags }) } : {}) }, {}, stack),
  urn: `urn:pulumi:${stack}::${project}::pulumi:providers:aws::aws`,
  id: "aws-1",
});
const queueWith = (p: CapturedResource | undefined): CapturedResource => ({
  ...resource("aws:sqs/queue:Queue", "q", { sqsManagedSseEnabled: true }),
  ...(p ? { provider: `${p.urn}::${p.id}` } : {}),
});
const tagged = provider({ stage: "dev", service: "svc", project: "svc" });

export const cases: RuleCases = {
  "xray-sns-tracing-policy-scoped": {
    good: [[xrayPolicy(tracingStatement())]],
    bad: [
      [[xrayPolicy(tracingStatement({ Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } } }))], /has no aws:SourceArn condition limited to the account's SNS topics/],
      [[xrayPolicy(tracingStatement({ Condition: { ArnLike: { "aws:SourceArn": `arn:aws:sns:eu-west-1:${ACCOUNT}:*` } } }))], /has no aws:SourceAccount condition/],
      [[xrayPolicy(tracingStatement({ Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT }, ArnLike: { "aws:SourceArn": "*" } } }))], /aws:SourceArn condition limited/],
      [[xrayPolicy(tracingStatement({ Principal: { Service: ["sns.amazonaws.com", "lambda.amazonaws.com"] } }))], /allows service:lambda.amazonaws.com; only sns.amazonaws.com/],
      [[xrayPolicy(tracingStatement({ Principal: "*" }))], /allows \*; only sns.amazonaws.com/],
    ],
  },
  "dynamodb-sse-no-managed-key": {
    good: [[table({})], [table({ serverSideEncryption: { enabled: true, kmsKeyArn: keyArn } })], [table({ serverSideEncryption: { enabled: false } })]],
    bad: [[[table({ serverSideEncryption: { enabled: true } })], /table t enables server-side encryption without kmsKeyArn, which uses the billed AWS managed key aws\/dynamodb/]],
  },
  "kms-service-principal-actions": {
    good: [
      [key(admin, cloudwatch())],
      [key(admin, cloudwatch({ Condition: { StringEquals: { "kms:EncryptionContext:aws:sns:topicArn": `arn:aws:sns:eu-west-1:${ACCOUNT}:alarms` } } }))],
      [key(admin)],
    ],
    bad: [
      [[key(admin, cloudwatch({ Action: ["kms:GenerateDataKey", "kms:Decrypt"] }))], /CloudWatchAlarmsPublish \(cloudwatch.amazonaws.com\) grants kms:GenerateDataKey and lacks kms:GenerateDataKey\*/],
      [[key(cloudwatch({ Action: "kms:*" }))], /grants kms:\* and lacks kms:GenerateDataKey\*, kms:Decrypt/],
      [[key(cloudwatch({ Action: ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt"] }))], /grants kms:Encrypt; the SNS developer guide lists exactly/],
      [[key(cloudwatch({ Condition: undefined }))], /is not scoped by aws:SourceAccount, aws:SourceArn or the topic's encryption context/],
    ],
  },
  "vpc-gateway-endpoint-own-route-tables": {
    good: [
      [awsxVpc(["rtb-a", "rtb-b"]), gateway(["rtb-a", "rtb-b"])],
      [{ ...resource("aws:ec2/routeTable:RouteTable", "rt", { vpcId: VPC }), id: "rtb-c" }, gateway(["rtb-c"])],
      // A VPC the stack did not create: nothing to compare with.
      [gateway(["rtb-elsewhere"], { vpcId: "vpc-imported" })],
      [awsxVpc(["rtb-a"]), gateway(undefined, { vpcEndpointType: "Interface" })],
    ],
    bad: [
      [[awsxVpc(["rtb-a", "rtb-b"]), gateway(["rtb-main"])], /gateway endpoint dynamodb-endpoint names rtb-main, which the stack's VPC does not have and leaves out rtb-a, rtb-b/],
      [[awsxVpc(["rtb-a", "rtb-b"]), gateway(["rtb-a"])], /leaves out rtb-b/],
      [[awsxVpc(["rtb-a"]), gateway([])], /names no route table/],
    ],
  },
  "aws-provider-stage-tags": {
    good: [[tagged, queueWith(tagged)], [provider(undefined)]],
    bad: [
      [[queueWith(undefined)], /Queue q gets from the default provider default tags with no stage, no service, no project/],
      [[provider(undefined), queueWith(provider(undefined))], /Queue q gets from provider aws default tags with no stage/],
      [[provider({ stage: "dev", project: "svc" }), queueWith(provider({ stage: "dev", project: "svc" }))], /with no service$/],
      [[provider({ stage: "prod", service: "svc", project: "svc" }), queueWith(provider({ stage: "prod", service: "svc", project: "svc" }))], /stage "prod", not the stack's "dev"/],
    ],
  },
};
