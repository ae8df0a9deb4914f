import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { PLATFORM_ROLE_TAG, platformRoles } from "../../../contract/failure-event";
import { placeholderAddressReason } from "../../helpers/alarm-recipient";
import { ofType, stackRule, type Finding } from "../rule";
import { bool, num, stackOfUrn, str } from "../read";
import { T } from "../resource-types";
import { PRODUCTION_STAGES } from "./data";

/** 14 days: the longest SQS keeps a message, and how long failure events must wait for an operator. */
export const FAILURE_SINK_MIN_RETENTION_SECONDS = 1_209_600;
/** What SQS keeps when a queue sets no retention. */
const SQS_DEFAULT_RETENTION_SECONDS = 345_600;

/** The `platform:role` tag of a resource (explicit tags, or the provider's default tags in `tagsAll`). */
function roleOf(resource: PolicyResource): string | undefined {
  const tags = (resource.props.tags ?? resource.props.tagsAll) as Record<string, unknown> | undefined;
  return tags && typeof tags === "object" ? str(tags[PLATFORM_ROLE_TAG]) : undefined;
}

function subscriptionsOf(args: StackValidationArgs, topicArn: unknown): PolicyResource[] {
  return ofType(args, T.subscription).filter((s) => topicArn !== undefined && s.props.topic === topicArn);
}

export const snsFailureTopicDurableSink = stackRule(
  {
    name: "sns-failure-topic-durable-sink",
    description:
      `The platform's failure topic (tagged ${PLATFORM_ROLE_TAG}=${platformRoles.failureEvents}) delivers to an SQS queue that keeps messages at least 14 days: SNS keeps nothing for a topic without subscribers, and a consumer acknowledges an event once its failure event is published (AWS SNS developer guide, message durability; Well-Architected Serverless Lens, failure handling).`,
    remediation:
      "Subscribe an encrypted SQS queue with messageRetentionSeconds 1209600 to the failure topic (the platform's createFailureSink does).",
  },
  (args) =>
    ofType(args, T.topic)
      .filter((topic) => roleOf(topic) === platformRoles.failureEvents)
      .flatMap((topic): Finding[] => {
        const queues = ofType(args, T.queue);
        const sinks = subscriptionsOf(args, topic.props.arn)
          .filter((s) => s.props.protocol === "sqs")
          .map((s) => queues.find((q) => q.props.arn === s.props.endpoint))
          .filter((q): q is PolicyResource => q !== undefined);
        if (sinks.length === 0) {
          return [{ urn: topic.urn, message: `failure topic ${topic.name} has no SQS subscription: every failure event published to it is lost` }];
        }
        const durable = sinks.some((q) => (num(q.props.messageRetentionSeconds) ?? SQS_DEFAULT_RETENTION_SECONDS) >= FAILURE_SINK_MIN_RETENTION_SECONDS);
        if (durable) return [];
        const kept = sinks.map((q) => `${q.name} ${num(q.props.messageRetentionSeconds) ?? SQS_DEFAULT_RETENTION_SECONDS}s`).join(", ");
        return [
          {
            urn: topic.urn,
            message: `failure topic ${topic.name} delivers only to queues that keep messages less than 14 days (${kept}): failure events would expire before anyone looks`,
          },
        ];
      }),
);

/** Whether a stack holds data worth protecting: a production stage, or a table with deletion protection. */
function protectsData(args: StackValidationArgs): string | undefined {
  const stage = args.resources.map((r) => stackOfUrn(r.urn)).find((s) => s !== undefined);
  if (stage && (PRODUCTION_STAGES as readonly string[]).includes(stage)) return `stage ${stage} is a production stage`;
  const table = ofType(args, T.table).find((t) => bool(t.props.deletionProtectionEnabled) === true);
  return table ? `table ${table.name} has deletion protection` : undefined;
}

export const snsAlarmTopicHasRecipient = stackRule(
  {
    name: "sns-alarm-topic-has-recipient",
    description:
      `The platform's alarm topic (tagged ${PLATFORM_ROLE_TAG}=${platformRoles.alarms}) has at least one subscription in a stage that protects data (production stage or deletion-protected table), and no subscription names a reserved placeholder address that can never confirm (Well-Architected Serverless Lens, operational excellence: alerts reach a person; AWS SNS developer guide, e-mail subscriptions deliver only once confirmed).`,
    remediation:
      "Set platform:alarmEmail to an address that will confirm the subscription (the platform refuses to deploy such a stage without one).",
  },
  (args) => {
    const findings: Finding[] = [];
    const why = protectsData(args);
    for (const topic of ofType(args, T.topic).filter((t) => roleOf(t) === platformRoles.alarms)) {
      const subscriptions = subscriptionsOf(args, topic.props.arn);
      if (why && subscriptions.length === 0) {
        findings.push({ urn: topic.urn, message: `alarm topic ${topic.name} has no subscription although ${why}: its alarms reach nobody` });
      }
      for (const subscription of subscriptions) {
        const endpoint = str(subscription.props.endpoint);
        if (!endpoint || !["email", "email-json"].includes(String(subscription.props.protocol))) continue;
        const placeholder = placeholderAddressReason(endpoint);
        if (placeholder) {
          findings.push({ urn: subscription.urn, message: `alarm subscription ${subscription.name} sends to ${endpoint}: ${placeholder}` });
        }
      }
    }
    return findings;
  },
);
