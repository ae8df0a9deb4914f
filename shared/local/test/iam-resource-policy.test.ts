// Resource-based policies for a service principal (SNS delivering to a queue), with the queue policy the consumer
// component writes (shared/infra queuePolicy): the topic may send, nothing without TLS.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { queuePolicy } from "../../infra/event-consumer";
import { PolicyValidationError } from "../iam/evaluate";
import { evaluateResourcePolicy, principalMatches } from "../iam/resource-policy";
import { snsDeliveryAuthorizer } from "../stage/queue-policies";

const QUEUE = "arn:aws:sqs:eu-west-1:123456789012:local-billing-on-order-placed";
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:local-orders-order-placed";
const OTHER = "arn:aws:sns:eu-west-1:123456789012:local-billing-invoice-issued";
const sns = { service: "sns.amazonaws.com" };
const send = (sourceArn: string, secure = "true") => ({
  action: "sqs:SendMessage",
  resource: QUEUE,
  context: { "aws:SourceArn": sourceArn, "aws:SecureTransport": secure },
});

test("the consumer's queue policy lets its topic send, over TLS only", () => {
  const policy = JSON.stringify(queuePolicy(QUEUE, TOPIC));
  const allowed = evaluateResourcePolicy(policy, sns, send(TOPIC));
  assert.is(allowed.decision, "Allow");
  assert.is(allowed.matchedStatement?.sid, "TopicSends");
  assert.is(evaluateResourcePolicy(policy, sns, send(OTHER)).decision, "ImplicitDeny");
  const plain = evaluateResourcePolicy(policy, sns, send(TOPIC, "false"));
  assert.is(plain.decision, "ExplicitDeny", "DenyWithoutTls names every principal");
  assert.is(plain.matchedStatement?.sid, "DenyWithoutTls");
  assert.is(evaluateResourcePolicy(policy, { service: "events.amazonaws.com" }, send(TOPIC)).decision, "ImplicitDeny");
});

test("a resource without a policy allows nothing; a statement without Principal is not a resource policy", () => {
  const none = evaluateResourcePolicy(undefined, sns, send(TOPIC));
  assert.is(none.decision, "ImplicitDeny");
  assert.match(none.reason, /has no resource policy/);
  assert.throws(
    () => evaluateResourcePolicy({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sqs:*", Resource: "*" }] }, sns, send(TOPIC)),
    (error: Error) => error instanceof PolicyValidationError && /Principal or NotPrincipal is required/.test(error.message),
  );
});

test("Principal forms: *, AWS *, Service lists, accounts; NotPrincipal applies to everyone else", () => {
  assert.ok(principalMatches("*", sns));
  assert.ok(principalMatches({ AWS: "*" }, sns));
  assert.ok(principalMatches({ Service: ["events.amazonaws.com", "sns.amazonaws.com"] }, sns));
  assert.not.ok(principalMatches({ AWS: "arn:aws:iam::123456789012:root" }, sns));
  assert.ok(principalMatches({ AWS: "123456789012" }, { aws: "arn:aws:sts::123456789012:assumed-role/r/s" }));
  assert.ok(principalMatches({ AWS: "arn:aws:iam::123456789012:root" }, { aws: "arn:aws:iam::123456789012:user/bob" }));
  assert.not.ok(principalMatches({ AWS: "arn:aws:iam::111111111111:root" }, { aws: "arn:aws:iam::123456789012:user/bob" }));
  const notSns = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", NotPrincipal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", Resource: QUEUE }],
  };
  assert.is(evaluateResourcePolicy(notSns, sns, send(TOPIC)).decision, "ImplicitDeny");
  assert.is(evaluateResourcePolicy(notSns, { service: "events.amazonaws.com" }, send(TOPIC)).decision, "Allow");
});

test("the stage's delivery authorizer says why a delivery is refused, and leaves unknown queues alone", () => {
  const authorize = snsDeliveryAuthorizer([
    { arn: QUEUE, name: "local-billing-on-order-placed", policy: JSON.stringify(queuePolicy(QUEUE, TOPIC)) },
    { arn: `${QUEUE}-broken`, name: "broken", policy: "{not json" },
  ]);
  assert.is(authorize({ topicArn: TOPIC, subscriptionArn: `${TOPIC}:1`, queueArn: QUEUE }), undefined);
  assert.match(
    authorize({ topicArn: OTHER, subscriptionArn: `${OTHER}:1`, queueArn: QUEUE }) ?? "",
    /^the queue policy of local-billing-on-order-placed does not let sns\.amazonaws\.com send from arn:aws:sns:eu-west-1:123456789012:local-billing-invoice-issued: no statement of the resource policy/,
  );
  assert.match(authorize({ topicArn: TOPIC, subscriptionArn: `${TOPIC}:1`, queueArn: `${QUEUE}-broken` }) ?? "", /is not a valid policy/);
  assert.is(authorize({ topicArn: TOPIC, subscriptionArn: `${TOPIC}:1`, queueArn: `${QUEUE}-a-test-queue` }), undefined);
});

test("the delivery authorizer decides once per topic, queue and caller, and again when the queue's policy changes", () => {
  const queue: { arn: string; name: string; policy?: string } = { arn: QUEUE, name: "local-billing-on-order-placed", policy: JSON.stringify(queuePolicy(QUEUE, TOPIC)) };
  const authorize = snsDeliveryAuthorizer([queue]);
  const delivery = (topicArn: string, principal?: string) => ({
    topicArn,
    subscriptionArn: `${topicArn}:1`,
    queueArn: QUEUE,
    ...(principal ? { context: { principal } as never } : {}),
  });
  assert.is(authorize(delivery(TOPIC)), undefined);
  assert.is(authorize(delivery(TOPIC)), undefined, "the same delivery again");
  assert.match(authorize(delivery(OTHER)) ?? "", /does not let sns\.amazonaws\.com send from .*local-billing-invoice-issued/);
  assert.match(authorize(delivery(TOPIC, "events.amazonaws.com")) ?? "", /does not let events\.amazonaws\.com send/, "another caller is decided on its own");
  // The queue's policy is replaced (SetQueueAttributes): the next delivery is decided on the new text.
  queue.policy = JSON.stringify(queuePolicy(QUEUE, OTHER));
  assert.match(authorize(delivery(TOPIC)) ?? "", /does not let sns\.amazonaws\.com send from .*local-orders-order-placed/);
  assert.is(authorize(delivery(OTHER)), undefined);
  delete queue.policy;
  assert.match(authorize(delivery(OTHER)) ?? "", /has no resource policy/);
});

test.run();
