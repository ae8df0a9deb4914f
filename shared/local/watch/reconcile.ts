/**
 * Applying a wiring's difference to running engines (watch mode), piece by piece, so that what stays keeps its
 * state: a queue keeps its messages, a subscription its ARN, a table its data. The stage's parts call these from
 * their `reconcile` (see shared/local/stage/README.md, "Reloading a part").
 */
import { functionAccessKeyId } from "../lambda/function-host";
import type { SnsEngine } from "../sns/engine";
import type { SqsEngine } from "../sqs/engine";
import type { FunctionSpec, MappingSpec, QueueSpec, StageWiring, SubscriptionSpec, TopicSpec } from "../stage/wiring";
import type { WiringChanges } from "./wiring-diff";

/** What a reconcile could not apply while the stage runs (it takes a restart), one line each. */
export type NotApplied = string[];

function subscriptionArn(sns: SnsEngine, spec: Pick<SubscriptionSpec, "topicArn" | "queueArn">): string | undefined {
  return sns.listSubscriptionsByTopic(spec.topicArn).find((s) => s.Endpoint === spec.queueArn)?.SubscriptionArn;
}

/** Subscribes a queue to its topic as the program declared it (raw delivery, filter policy and scope, its DLQ). */
export function subscribe(sns: SnsEngine, subscription: SubscriptionSpec): void {
  sns.subscribe({
    TopicArn: subscription.topicArn,
    Protocol: "sqs",
    Endpoint: subscription.queueArn,
    Attributes: {
      RawMessageDelivery: subscription.raw,
      ...(subscription.filterPolicy ? { FilterPolicy: subscription.filterPolicy } : {}),
      ...(subscription.filterPolicyScope ? { FilterPolicyScope: subscription.filterPolicyScope } : {}),
      ...(subscription.deadLetterTargetArn ? { RedrivePolicy: { deadLetterTargetArn: subscription.deadLetterTargetArn } } : {}),
    },
  });
}

/** Creates a declared topic; its local ARN must be the one the program computed. */
export function createTopic(sns: SnsEngine, topic: TopicSpec): void {
  const created = sns.createTopic(topic.name, { FifoTopic: topic.fifo, ...(topic.fifo && topic.contentBasedDeduplication ? { ContentBasedDeduplication: true } : {}) });
  if (created.arn !== topic.arn) throw new Error(`topic ${topic.name} would be ${created.arn} locally but the program says ${topic.arn}`);
}

/**
 * Applies the topics', queues' and subscriptions' differences to the engines: new ones are created, removed ones
 * deleted, changed subscriptions get their new attributes (filter policy, its scope, raw delivery, dead-letter
 * queue) in place. A queue that stays keeps its messages; a changed queue policy is the caller's (SNS reads the
 * policies through the caller's delivery authorizer). Queue attributes cannot change in place: they are returned.
 * @returns what was not applied (queue attribute changes, which take a restart)
 */
export function reconcileMessaging(
  engines: { sns: SnsEngine; sqs: SqsEngine; createQueues: (queues: readonly QueueSpec[]) => void },
  changes: Pick<WiringChanges, "topics" | "queues" | "subscriptions">,
): NotApplied {
  const { sns, sqs } = engines;
  const notApplied: NotApplied = [];
  // Create before anything points at it: topics, queues (the helper orders dead-letter targets first), subscriptions.
  for (const topic of changes.topics.added) createTopic(sns, topic);
  engines.createQueues(changes.queues.added);
  for (const { after, fields } of changes.queues.changed) {
    const inPlace = fields.filter((field) => field !== "policy");
    if (inPlace.length) notApplied.push(`queue ${after.name} (${inPlace.join(", ")})`);
  }
  for (const subscription of changes.subscriptions.removed) {
    const arn = subscriptionArn(sns, subscription);
    if (arn) sns.unsubscribe(arn);
  }
  for (const subscription of changes.subscriptions.added) subscribe(sns, subscription);
  for (const { after, fields } of changes.subscriptions.changed) {
    const arn = subscriptionArn(sns, after);
    if (!arn) {
      subscribe(sns, after);
      continue;
    }
    if (fields.includes("raw")) sns.setSubscriptionAttributes(arn, "RawMessageDelivery", after.raw);
    // The scope first: a policy is checked against its scope when it is set.
    if (fields.includes("filterPolicyScope") && after.filterPolicyScope) sns.setSubscriptionAttributes(arn, "FilterPolicyScope", after.filterPolicyScope);
    if (fields.includes("filterPolicy") || fields.includes("filterPolicyScope")) sns.setSubscriptionAttributes(arn, "FilterPolicy", after.filterPolicy ?? "");
    if (fields.includes("deadLetterTargetArn")) {
      sns.setSubscriptionAttributes(arn, "RedrivePolicy", after.deadLetterTargetArn ? { deadLetterTargetArn: after.deadLetterTargetArn } : "");
    }
  }
  // Remove last: what was removed may still have been named by what changed.
  for (const topic of changes.topics.removed) if (sns.listTopics().some((t) => t.arn === topic.arn)) sns.deleteTopic(topic.arn);
  for (const queue of changes.queues.removed) if (sqs.findQueue(queue.arn)) sqs.deleteQueue(queue.arn);
  return notApplied;
}

/** Fields of a function that its host does not hold (its role's policies are IAM's, registered by the stage). */
const NOT_IN_HOST = new Set(["policies", "roleArn"]);

/**
 * The functions whose host must be replaced (a new host built beside the old, which drains), and those whose change
 * is IAM's only. Functions added are in `added`, removed in `removed`.
 */
export function hostChanges(changes: Pick<WiringChanges, "functions">): { added: FunctionSpec[]; replaced: FunctionSpec[]; removed: FunctionSpec[]; iamOnly: FunctionSpec[] } {
  const replaced: FunctionSpec[] = [];
  const iamOnly: FunctionSpec[] = [];
  for (const { after, fields } of changes.functions.changed) {
    if (fields.some((field) => !NOT_IN_HOST.has(field))) replaced.push(after);
    else iamOnly.push(after);
  }
  return { added: changes.functions.added, replaced, removed: changes.functions.removed, iamOnly };
}

/** Each function's access key id, its role's policies and identity: what IAM enforces on its calls. */
export function functionRegistrations(wiring: Pick<StageWiring, "functions" | "accountId">): { principal: string; policies: string[]; identity: { roleName: string; sessionName: string; accountId: string } }[] {
  return wiring.functions.map((fn) => ({
    principal: functionAccessKeyId(fn.name),
    policies: fn.policies,
    identity: { roleName: fn.roleArn.split("/").pop() || fn.roleArn, sessionName: fn.name, accountId: wiring.accountId },
  }));
}

/**
 * The pollers to stop and to start for a new wiring: mappings removed, added or changed, and those of a function
 * whose definition changed (its timeout bounds the poller's wait).
 */
export function pollerChanges(changes: Pick<WiringChanges, "mappings" | "functions">, next: Pick<StageWiring, "mappings">): { stop: MappingSpec[]; start: MappingSpec[] } {
  const changedFunctions = new Set(changes.functions.changed.map((c) => c.after.arn));
  const stop = [...changes.mappings.removed, ...changes.mappings.changed.map((c) => c.before)];
  const start = [...changes.mappings.added, ...changes.mappings.changed.map((c) => c.after)];
  for (const mapping of next.mappings) {
    if (changedFunctions.has(mapping.functionArn) && !start.includes(mapping)) {
      stop.push(mapping);
      start.push(mapping);
    }
  }
  return { stop, start };
}
