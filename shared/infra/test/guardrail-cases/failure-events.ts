import { ACCOUNT, queue, queueArn, resource, type RuleCases } from "./fixtures";

const failureTopicArn = `arn:aws:sns:eu-west-1:${ACCOUNT}:dev-platform-event-failed`;
const alarmTopicArn = `arn:aws:sns:eu-west-1:${ACCOUNT}:prod-platform-alarms`;

const failureTopic = (tags: Record<string, string> | undefined = { "platform:role": "failure-events" }) =>
  resource("aws:sns/topic:Topic", "failure-topic", { tags }, { arn: failureTopicArn });
const sink = (retention: number | undefined) =>
  queue("failure-queue", retention === undefined ? {} : { messageRetentionSeconds: retention });
const subscription = (name: string, topic: string, protocol: string, endpoint: string, stack = "dev") =>
  resource("aws:sns/topicSubscription:TopicSubscription", name, { topic, protocol, endpoint, rawMessageDelivery: protocol === "sqs" }, {}, stack);

const alarmTopic = (stack: string) =>
  resource("aws:sns/topic:Topic", "alarm-topic", { tags: { "platform:role": "alarms" } }, { arn: alarmTopicArn }, stack);
const email = (address: string, stack = "prod") => subscription("alarm-email", alarmTopicArn, "email", address, stack);

export const cases: RuleCases = {
  "sns-failure-topic-durable-sink": {
    good: [
      [failureTopic(), sink(1_209_600), subscription("failure-subscription", failureTopicArn, "sqs", queueArn("failure-queue"))],
      // Topics the platform does not mark as its failure topic are not this rule's business.
      [failureTopic({})],
      // The provider's default tags count too.
      [
        resource("aws:sns/topic:Topic", "failure-topic", { tagsAll: { "platform:role": "failure-events", stage: "dev" } }, { arn: failureTopicArn }),
        sink(1_209_600),
        subscription("failure-subscription", failureTopicArn, "sqs", queueArn("failure-queue")),
      ],
    ],
    bad: [
      [[failureTopic()], /failure topic failure-topic has no SQS subscription: every failure event published to it is lost/],
      [
        [failureTopic(), subscription("failure-email", failureTopicArn, "email", "ops@corp-ops.io")],
        /failure topic failure-topic has no SQS subscription/,
      ],
      [
        [failureTopic(), sink(345_600), subscription("failure-subscription", failureTopicArn, "sqs", queueArn("failure-queue"))],
        /delivers only to queues that keep messages less than 14 days \(failure-queue 345600s\)/,
      ],
      [
        [failureTopic(), sink(undefined), subscription("failure-subscription", failureTopicArn, "sqs", queueArn("failure-queue"))],
        /less than 14 days \(failure-queue 345600s\)/,
      ],
    ],
  },
  "sns-alarm-topic-has-recipient": {
    good: [
      [alarmTopic("prod"), email("oncall@corp-ops.io")],
      // Dev and ephemeral stages may go without.
      [alarmTopic("dev")],
      [alarmTopic("ci-1234"), resource("aws:dynamodb/table:Table", "data-table", { deletionProtectionEnabled: false }, {}, "ci-1234")],
    ],
    bad: [
      [[alarmTopic("prod")], /alarm topic alarm-topic has no subscription although stage prod is a production stage: its alarms reach nobody/],
      [
        [alarmTopic("staging"), resource("aws:dynamodb/table:Table", "data-table", { deletionProtectionEnabled: true }, {}, "staging")],
        /alarm topic alarm-topic has no subscription although table data-table has deletion protection/,
      ],
      [[alarmTopic("prod"), email("oncall@example.com")], /alarm subscription alarm-email sends to oncall@example.com: example\.com is reserved for documentation \(RFC 2606\)/],
      [[alarmTopic("dev"), email("alarms@team.test", "dev")], /sends to alarms@team\.test: \.test is a reserved top-level domain/],
    ],
  },
};
