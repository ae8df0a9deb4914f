import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CapturedResource } from "../../capture/pulumi-mocks";
import {
  checkSuppressions,
  evaluateGuardrails,
  guardrailPolicies,
  RULE_NAMES,
  SUPPRESSIONS,
  withSuppressions,
  type RuleName,
  type Suppression,
} from "../guardrails";
import type { PolicyStatement } from "../helpers/policy-document";

import {
  ACCOUNT,
  resource,
  doc,
  queueArn,
  queueUrl,
  queue,
  topicArn,
  fnArn,
  fn,
  denyWithoutTls,
  redrive,
  dlqAlarm,
  executionArn,
  api,
  stage,
  permission,
  mapping,
  type RuleCase,
  type RuleCases,
} from "./guardrail-cases/fixtures";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const baseCases: RuleCases = {
  "suppressions-have-reasons": {
    good: [[queue("q", { tags: { "guardrail:suppress:sqs-queue-encrypted": "Holds only public reference data that is published anyway" } })]],
    bad: [
      [[queue("q", { tags: { "guardrail:suppress:sqs-queue-encrypted": "todo" } })], /suppresses sqs-queue-encrypted without an explanation/],
      [[queue("q", { tags: { "guardrail:suppress:no-such-rule": "A long enough reason that names no real rule" } })], /"no-such-rule", which is not a guardrail rule/],
    ],
  },
  "sns-topic-encrypted": {
    good: [[resource("aws:sns/topic:Topic", "t", { kmsMasterKeyId: "arn:aws:kms:eu-west-1:123456789012:key/k" })]],
    bad: [[[resource("aws:sns/topic:Topic", "t", {})], /topic t is not encrypted/]],
  },
  "sqs-queue-encrypted": {
    good: [[queue("q")], [queue("q", { sqsManagedSseEnabled: undefined, kmsMasterKeyId: "alias/k" })]],
    bad: [[[queue("q", { sqsManagedSseEnabled: false })], /queue q is not explicitly encrypted/]],
  },
  "dynamodb-table-encrypted": {
    good: [
      [resource("aws:dynamodb/table:Table", "t", {})],
      [resource("aws:dynamodb/table:Table", "t", { serverSideEncryption: { enabled: true, kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k" } })],
    ],
    bad: [
      [
        [resource("aws:dynamodb/table:Table", "t", { serverSideEncryption: { enabled: false, kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k" } })],
        /table t names kmsKeyArn without serverSideEncryption.enabled/,
      ],
    ],
  },
  "sns-topic-tls-only": {
    good: [
      [
        resource("aws:sns/topic:Topic", "t", {}, { arn: topicArn }),
        resource("aws:sns/topicPolicy:TopicPolicy", "tp", { arn: topicArn, policy: doc(denyWithoutTls("sns:Publish", topicArn)) }),
      ],
    ],
    bad: [
      [[resource("aws:sns/topic:Topic", "t", {}, { arn: topicArn })], /topic t accepts publishing without TLS/],
      [
        [
          resource("aws:sns/topic:Topic", "t", {}, { arn: topicArn }),
          resource("aws:sns/topicPolicy:TopicPolicy", "tp", {
            arn: topicArn,
            policy: doc({ ...denyWithoutTls("sns:Publish", topicArn), Condition: { Bool: { "aws:SecureTransport": "true" } } }),
          }),
        ],
        /topic t accepts publishing without TLS/,
      ],
    ],
  },
  "sqs-queue-tls-only": {
    good: [[queue("q"), resource("aws:sqs/queuePolicy:QueuePolicy", "qp", { queueUrl: queueUrl("q"), policy: doc(denyWithoutTls("sqs:*", queueArn("q"))) })]],
    bad: [
      [[queue("q")], /queue q accepts requests without TLS/],
      [
        [queue("q"), resource("aws:sqs/queuePolicy:QueuePolicy", "qp", { queueUrl: queueUrl("q"), policy: doc(denyWithoutTls("sqs:SendMessage", queueArn("q"))) })],
        /queue q accepts requests without TLS/,
      ],
    ],
  },
  "iam-no-wildcard-permissions": {
    good: [
      [
        resource("aws:iam/rolePolicy:RolePolicy", "p", {
          policy: doc(
            { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:*" },
            { Sid: "Traces", Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" },
            { Sid: "Queue", Effect: "Allow", Action: "sqs:ReceiveMessage", Resource: queueArn("q") },
            { Sid: "DenyAll", Effect: "Deny", Action: "*", Resource: "*" },
          ),
        }),
      ],
      [
        // A function in the platform network: Lambda creates its interfaces, whose ids nobody knows in advance.
        resource("aws:iam/rolePolicy:RolePolicy", "p", {
          policy: doc(
            { Sid: "Create", Effect: "Allow", Action: "ec2:CreateNetworkInterface", Resource: ["arn:aws:ec2:eu-west-1:123456789012:network-interface/*", "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1"] },
            // Lambda's developer guide: these three on every resource id of the account and region.
            { Sid: "Manage", Effect: "Allow", Action: ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], Resource: "arn:aws:ec2:eu-west-1:123456789012:*/*" },
            { Sid: "Describe", Effect: "Allow", Action: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], Resource: "*" },
          ),
        }),
      ],
    ],
    bad: [
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: "sqs:*", Resource: queueArn("q") }) })], /statement S allows the wildcard action "sqs:\*"/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: "dynamodb:GetItem", Resource: "*" }) })], /dynamodb:GetItem on the wildcard resource "\*"/],
      [[resource("aws:iam/policy:Policy", "p", { policy: doc({ Effect: "Allow", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:eu-west-1:123456789012:*" }) })], /wildcard resource "arn:aws:sqs:eu-west-1:123456789012:\*"/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", NotAction: "iam:*", Resource: queueArn("q") }) })], /allows NotAction/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: ["xray:PutTraceSegments", "s3:GetObject"], Resource: "*" }) })], /on the wildcard resource "\*"/],
      [[resource("aws:iam/role:Role", "r", { inlinePolicies: [{ name: "inline", policy: doc({ Effect: "Allow", Action: "*", Resource: queueArn("q") }) }] })], /r inline policy inline statement #1 allows the wildcard action "\*"/],
      // The exemptions hold for exactly those actions: anything else on the interfaces or on "*" is refused.
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: ["ec2:DeleteNetworkInterface", "ec2:TerminateInstances"], Resource: "arn:aws:ec2:eu-west-1:123456789012:network-interface/*" }) })], /ec2:TerminateInstances on the wildcard resource "arn:aws:ec2:eu-west-1:123456789012:network-interface\/\*"/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: ["ec2:DescribeSubnets", "ec2:CreateNetworkInterface"], Resource: "*" }) })], /ec2:DescribeSubnets, ec2:CreateNetworkInterface on the wildcard resource "\*"/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: "ec2:DeleteNetworkInterface", Resource: "arn:aws:ec2:eu-west-1:123456789012:*" }) })], /on the wildcard resource "arn:aws:ec2:eu-west-1:123456789012:\*"/],
      // Account-wide EC2 ids: exactly the three actions Lambda's guide names, for the policy's own account and region.
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: ["ec2:DeleteNetworkInterface", "ec2:CreateNetworkInterface"], Resource: "arn:aws:ec2:eu-west-1:123456789012:*/*" }) })], /ec2:DeleteNetworkInterface, ec2:CreateNetworkInterface on the wildcard resource "arn:aws:ec2:eu-west-1:123456789012:\*\/\*"/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: "ec2:DeleteVpc", Resource: "arn:aws:ec2:eu-west-1:123456789012:*/*" }) })], /ec2:DeleteVpc on the wildcard resource/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: "ec2:DeleteNetworkInterface", Resource: "arn:aws:ec2:*:123456789012:*/*" }) })], /on the wildcard resource "arn:aws:ec2:\*:123456789012:\*\/\*"/],
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: "ec2:DeleteNetworkInterface", Resource: "arn:aws:ec2:eu-west-1:*:*/*" }) })], /on the wildcard resource "arn:aws:ec2:eu-west-1:\*:\*\/\*"/],
      [
        [
          resource("aws:iam/rolePolicy:RolePolicy", "p", {
            policy: doc(
              { Sid: "Logs", Effect: "Allow", Action: "logs:PutLogEvents", Resource: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:*" },
              { Sid: "Other", Effect: "Allow", Action: "ec2:DeleteNetworkInterface", Resource: "arn:aws:ec2:us-east-1:999999999999:*/*" },
            ),
          }),
        ],
        /statement Other allows ec2:DeleteNetworkInterface on the wildcard resource "arn:aws:ec2:us-east-1:999999999999:\*\/\*"/,
      ],
      // The three on network-interface/* only: narrower than Lambda's guide asks, and CreateFunction fails with it.
      [[resource("aws:iam/rolePolicy:RolePolicy", "p", { policy: doc({ Sid: "S", Effect: "Allow", Action: ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses"], Resource: "arn:aws:ec2:eu-west-1:123456789012:network-interface/*" }) })], /on the wildcard resource "arn:aws:ec2:eu-west-1:123456789012:network-interface\/\*"/],
    ],
  },
  "iam-no-managed-policies": {
    good: [[resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", { role: "r", policyArn: "arn:aws:iam::123456789012:policy/own" })]],
    bad: [
      [[resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", { role: "r", policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" })], /uses the AWS managed policy arn:aws:iam::aws:policy\/service-role\/AWSLambdaBasicExecutionRole/],
      [[resource("aws:iam/role:Role", "r", { managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] })], /r uses the AWS managed policy/],
    ],
  },
  "resource-policy-no-wildcards": {
    good: [[resource("aws:sns/topicPolicy:TopicPolicy", "tp", { arn: topicArn, policy: doc({ Effect: "Allow", Principal: { Service: "cloudwatch.amazonaws.com" }, Action: "sns:Publish", Resource: topicArn, Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } } }) })]],
    bad: [
      [[resource("aws:kms/key:Key", "key", { policy: doc({ Sid: "Admin", Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:*", Resource: "*" }) })], /key statement Admin allows the wildcard action "kms:\*"/],
      [[resource("aws:sqs/queuePolicy:QueuePolicy", "qp", { queueUrl: queueUrl("q"), policy: doc({ Effect: "Allow", Principal: "*", Action: "sqs:SendMessage", Resource: queueArn("q") }) })], /allows any principal without a condition/],
    ],
  },
  "sqs-sns-source-arn": {
    good: [[resource("aws:sqs/queuePolicy:QueuePolicy", "qp", { queueUrl: queueUrl("q"), policy: doc({ Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: queueArn("q"), Condition: { ArnEquals: { "aws:SourceArn": topicArn } } }) })]],
    bad: [
      [[resource("aws:sqs/queuePolicy:QueuePolicy", "qp", { queueUrl: queueUrl("q"), policy: doc({ Sid: "Sns", Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: queueArn("q") }) })], /qp statement Sns lets SNS send without an exact aws:SourceArn condition/],
      [[resource("aws:sqs/queuePolicy:QueuePolicy", "qp", { queueUrl: queueUrl("q"), policy: doc({ Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:*", Resource: queueArn("q"), Condition: { ArnLike: { "aws:SourceArn": "arn:aws:sns:*:123456789012:*" } } }) })], /without an exact aws:SourceArn/],
    ],
  },
  "lambda-permission-source-arn": {
    good: [[permission("f")]],
    bad: [
      [[permission("f", { sourceArn: undefined })], /lets apigateway.amazonaws.com invoke the function from any source/],
      [[permission("f", { principal: "*" })], /lets anyone invoke the function/],
    ],
  },
  "sqs-source-queue-has-dlq": {
    good: [[queue("q", { redrivePolicy: redrive("dlq") }), queue("dlq")]],
    bad: [
      [[queue("q")], /queue q has no dead-letter queue/],
      [[queue("q", { redrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn("dlq") }) }), queue("dlq")], /queue q has no dead-letter queue/],
    ],
  },
  "sns-subscription-has-dlq": {
    good: [[resource("aws:sns/topicSubscription:TopicSubscription", "s", { protocol: "sqs", redrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn("sub-dlq") }) })]],
    bad: [[[resource("aws:sns/topicSubscription:TopicSubscription", "s", { protocol: "sqs" })], /subscription s \(sqs\) has no dead-letter queue/]],
  },
  "sqs-dlq-retention-longer": {
    good: [[queue("q", { redrivePolicy: redrive("dlq") }), queue("dlq", { messageRetentionSeconds: 1_209_600 })]],
    bad: [[[queue("q", { redrivePolicy: redrive("dlq"), messageRetentionSeconds: 345_600 }), queue("dlq")], /dead-letter queue dlq keeps messages 345600s, not longer than its source q/]],
  },
  "sqs-dlq-alarm": {
    good: [[queue("q", { redrivePolicy: redrive("dlq") }), queue("dlq"), dlqAlarm("dlq")]],
    bad: [
      [[queue("q", { redrivePolicy: redrive("dlq") }), queue("dlq")], /dead-letter queue dlq has no alarm/],
      [[queue("q", { redrivePolicy: redrive("dlq") }), queue("dlq"), dlqAlarm("dlq", { alarmActions: [] })], /dead-letter queue dlq has no alarm/],
      [[queue("q", { redrivePolicy: redrive("dlq") }), queue("dlq"), dlqAlarm("dlq", { threshold: 10 })], /dead-letter queue dlq has no alarm/],
    ],
  },
  "sqs-visibility-timeout": {
    good: [[queue("q", { visibilityTimeoutSeconds: 60 }), fn("f"), mapping("f", "q")]],
    bad: [
      [[queue("q", { visibilityTimeoutSeconds: 30 }), fn("f"), mapping("f", "q")], /queue q hides a message 30s, less than 6 x the timeout of f \(10s\)/],
      [[queue("q"), fn("f", { timeout: 6 }), mapping("f", "q")], /hides a message 30s/],
    ],
  },
  "sqs-partial-batch-responses": {
    good: [[mapping("f", "q")], [mapping("f", "q", { eventSourceArn: "arn:aws:kinesis:eu-west-1:123456789012:stream/s", functionResponseTypes: [] })]],
    bad: [[[mapping("f", "q", { functionResponseTypes: undefined })], /f-mapping does not report partial batch failures/]],
  },
  "lambda-bounded-concurrency": {
    good: [
      [fn("f"), queue("q"), mapping("f", "q")],
      [fn("f", { reservedConcurrentExecutions: 10 })],
      [fn("f"), api, stage(true), permission("f")],
    ],
    bad: [
      [[fn("f")], /function f has neither reserved concurrency nor a bounded trigger/],
      [[fn("f"), queue("q"), mapping("f", "q", { scalingConfig: undefined })], /mapping f-mapping has no maximum concurrency/],
      [[fn("f"), api, stage(false), permission("f")], /permission f-permission lets an unthrottled caller invoke it/],
    ],
  },
  "lambda-tracing-active": {
    good: [[fn("f")]],
    bad: [[[fn("f", { tracingConfig: { mode: "PassThrough" } })], /function f does not use active tracing/]],
  },
  "sns-topic-tracing-active": {
    good: [[resource("aws:sns/topic:Topic", "t", { tracingConfig: "Active" })]],
    bad: [[[resource("aws:sns/topic:Topic", "t", {})], /topic t does not use active tracing/]],
  },
  "lambda-explicit-timeout-memory": {
    good: [[fn("f")]],
    bad: [
      [[fn("f", { timeout: undefined })], /function f does not set timeout/],
      [[fn("f", { timeout: undefined, memorySize: undefined })], /does not set timeout and memorySize/],
    ],
  },
  "lambda-current-runtime": {
    good: [[fn("f", { runtime: "nodejs22.x" })], [fn("f", { runtime: undefined, packageType: "Image" })]],
    bad: [
      [[fn("f", { runtime: "nodejs20.x" })], /function f runs nodejs20.x, not a current Node.js runtime/],
      [[fn("f", { runtime: "nodejs16.x" })], /runs nodejs16.x/],
    ],
  },
  "log-group-retention": {
    good: [[resource("aws:cloudwatch/logGroup:LogGroup", "l", { retentionInDays: 14 })]],
    bad: [[[resource("aws:cloudwatch/logGroup:LogGroup", "l", {})], /log group l keeps its logs forever/]],
  },
  "dynamodb-pitr": {
    good: [[resource("aws:dynamodb/table:Table", "t", { pointInTimeRecovery: { enabled: true } })]],
    bad: [[[resource("aws:dynamodb/table:Table", "t", { pointInTimeRecovery: { enabled: false } })], /table t has no point-in-time recovery/]],
  },
  "dynamodb-deletion-protection-prod": {
    good: [
      [resource("aws:dynamodb/table:Table", "t", { deletionProtectionEnabled: true }, {}, "prod")],
      [resource("aws:dynamodb/table:Table", "t", { deletionProtectionEnabled: false }, {}, "dev")],
    ],
    bad: [[[resource("aws:dynamodb/table:Table", "t", { deletionProtectionEnabled: false }, {}, "prod")], /table t of stage prod has no deletion protection/]],
  },
  "kms-key-rotation": {
    good: [[resource("aws:kms/key:Key", "k", { enableKeyRotation: true })], [resource("aws:kms/key:Key", "k", { customerMasterKeySpec: "RSA_2048" })]],
    bad: [[[resource("aws:kms/key:Key", "k", {})], /KMS key k does not rotate/]],
  },
  "api-access-logging": {
    good: [[stage(true)]],
    bad: [[[resource("aws:apigatewayv2/stage:Stage", "s", { name: "$default" })], /API stage s writes no access logs/]],
  },
  "api-default-throttling": {
    good: [[stage(true)]],
    bad: [[[stage(false)], /API stage stage does not set default route throttling/]],
  },
};

// Rules added later keep their cases in a file of their own under guardrail-cases/ (each exports `cases`).
const caseDir = join(__dirname, "guardrail-cases");
const cases = { ...baseCases } as Record<RuleName, RuleCase>;
for (const file of readdirSync(caseDir).filter((f) => f.endsWith(".ts") && f !== "fixtures.ts").sort()) {
  const more = (require(join(caseDir, file)) as { cases: RuleCases }).cases;
  for (const [name, c] of Object.entries(more)) {
    if (name in cases) throw new Error(`guardrail-cases/${file}: ${name} already has cases`);
    cases[name as RuleName] = c as RuleCase;
  }
}

const policyNamed = (name: RuleName) => {
  const policy = guardrailPolicies.find((p) => p.name === name);
  if (!policy) throw new Error(`no policy ${name}`);
  return policy;
};

test("every rule has a firing case and a compliant case here", () => {
  assert.equal(Object.keys(cases).sort(), [...RULE_NAMES].sort());
  for (const [name, c] of Object.entries(cases)) {
    assert.ok(c.good.length > 0 && c.bad.length > 0, name);
  }
});

test("every rule names its source and says how to comply", () => {
  for (const policy of guardrailPolicies) {
    assert.match(policy.description, /cdk-nag|Checkov|Well-Architected|Security Hub|AWS [A-Za-z]+ developer guide/, policy.name);
    assert.ok(policy.remediationSteps && policy.remediationSteps.length > 10, policy.name);
    assert.is(policy.enforcementLevel, "mandatory", policy.name);
  }
});

for (const name of RULE_NAMES) {
  test(`${name}: reports the resource that breaks it, not the compliant one`, async () => {
    const policy = policyNamed(name);
    for (const stack of cases[name].good) {
      assert.equal(await evaluateGuardrails(stack, [policy]), [], `compliant: ${stack.map((r) => r.name).join(", ")}`);
    }
    for (const [stack, message] of cases[name].bad) {
      const violations = await evaluateGuardrails(stack, [policy]);
      assert.ok(violations.length > 0, `${name} fires on ${stack.map((r) => r.name).join(", ")}`);
      assert.ok(
        violations.some((v) => v.policy === name && message.test(v.message)),
        `${name}: expected ${message}, got ${violations.map((v) => v.message).join(" | ")}`,
      );
      assert.ok(violations.every((v) => v.urn && stack.some((r) => r.urn === v.urn)), "each violation names the resource at fault");
    }
  });
}

test("the platform's suppressions each name a rule and explain themselves", () => {
  assert.equal(checkSuppressions(SUPPRESSIONS), []);
});

test("an unexplained or misdirected suppression is caught", () => {
  const base: Suppression = { rule: "kms-key-rotation", type: "aws:kms/key:Key", name: "k", reason: "" };
  const problems = checkSuppressions([
    base,
    { ...base, reason: "TODO: explain why later on" },
    { ...base, rule: "no-such-rule" as RuleName, reason: "A sentence that is long enough to pass" },
    { ...base, reason: "A sentence that is long enough to pass", statements: [] },
  ]);
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.match(problems[0] ?? "", /reason must be a sentence/);
  assert.match(problems[1] ?? "", /is a placeholder/);
  assert.match(problems[2] ?? "", /no rule is named "no-such-rule"/);
  assert.match(problems[3] ?? "", /empty statements list/);
});

test("a tag suppression with a reason silences its rule on that resource only; without one it silences nothing", async () => {
  const rule = [policyNamed("sqs-queue-encrypted"), policyNamed("suppressions-have-reasons")];
  const reason = "Carries only public reference data that is published anyway";
  const explained = queue("q", { sqsManagedSseEnabled: false, tags: { "guardrail:suppress:sqs-queue-encrypted": reason } });
  const other = queue("other", { sqsManagedSseEnabled: false });
  assert.equal((await evaluateGuardrails([explained, other], rule)).map((v) => v.name), ["other"]);
  const unexplained = queue("q", { sqsManagedSseEnabled: false, tags: { "guardrail:suppress:sqs-queue-encrypted": "n/a" } });
  assert.equal((await evaluateGuardrails([unexplained], rule)).map((v) => v.policy), ["sqs-queue-encrypted", "suppressions-have-reasons"]);
});

test("a listed suppression covers only the statements it names, and only with a reason", async () => {
  const key = resource("aws:kms/key:Key", "key", {
    enableKeyRotation: true,
    policy: doc(
      { Sid: "Admin", Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:*", Resource: "*" },
      { Sid: "Extra", Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:role/x" }, Action: "kms:*", Resource: "*" },
    ),
  });
  const policy = [policyNamed("resource-policy-no-wildcards")];
  const suppression: Suppression = {
    rule: "resource-policy-no-wildcards",
    type: "aws:kms/key:Key",
    name: "key",
    statements: ["Admin"],
    reason: "The account root administers the key, as AWS's default key policy requires",
  };
  const withReason = await withSuppressions([suppression], () => evaluateGuardrails([key], policy));
  assert.equal(withReason.length, 1);
  assert.match(withReason[0]?.message ?? "", /statement Extra/);
  const withoutReason = await withSuppressions([{ ...suppression, reason: "because" }], () => evaluateGuardrails([key], policy));
  assert.equal(withoutReason.length, 2, "a suppression without a reason suppresses nothing");
});

test.run();
