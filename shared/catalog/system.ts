import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { parse } from "yaml";
import { runSystem } from "../capture/system";
import { catalog } from "../contract/catalog";
import { PLATFORM_ROLE_TAG, platformRoles } from "../contract/failure-event";
import { EVENT_CONSUMER_TYPE } from "../infra/event-consumer";
import type { JsonSchema } from "./compatibility";
import { buildDocument, DOCUMENT_PATH, renderDocument, type ConsumerWiring, type SystemWiring } from "./document";

/** The repository root (this file is `shared/catalog/system.ts`). */
export const REPO_ROOT = join(__dirname, "..", "..");

/**
 * Every consumer of the system, as the service programs wire it: each program runs under Pulumi's mocks (the
 * platform first, then every service; the `dev` stage, whose wiring every stage shares); each EventConsumer component
 * says which event and versions, its SNS subscription which filter policy, its queues how messages wait and retry.
 */
export async function systemWiring(root = REPO_ROOT, stage = "dev", serviceDirs?: string[]): Promise<SystemWiring> {
  const system = await runSystem({ root, stage, ...(serviceDirs ? { serviceDirs } : {}) });
  // Resource names start with the stage: the document names them for any stage.
  const anyStage = (value: unknown) => String(value).replace(new RegExp(`^${stage}-`), "{stage}-");
  const consumers: ConsumerWiring[] = [];
  for (const service of system.services) {
    const { mocks } = service.run;
    for (const component of mocks.byType(EVENT_CONSUMER_TYPE)) {
      const { service: name, name: consumer, event, versions } = component.inputs as ConsumerWiring;
      const label = `consumer ${name}/${consumer}`;
      const children = mocks.childrenOf(component.urn);
      if ((component.inputs as { stream?: unknown }).stream) {
        consumers.push({ service: name, name: consumer, event, versions, ...streamConsumerWiring(label, children, anyStage) });
        continue;
      }
      const subscription = children.find((c) => c.type === "aws:sns/topicSubscription:TopicSubscription");
      if (!subscription) throw new Error(`${label} has no SNS subscription among its resources`);
      const queues = new Map(children.filter((c) => c.type === "aws:sqs/queue:Queue").map((q) => [String(q.state.arn), q]));
      const queue = queues.get(String(subscription.inputs.endpoint));
      if (!queue) throw new Error(`${label}: its subscription delivers to ${subscription.inputs.endpoint}, none of its queues`);
      const redrive = JSON.parse(String(queue.inputs.redrivePolicy)) as { deadLetterTargetArn: string; maxReceiveCount: number };
      const deadLetter = queues.get(redrive.deadLetterTargetArn);
      if (!deadLetter) throw new Error(`${label}: its queue redrives to ${redrive.deadLetterTargetArn}, none of its queues`);
      const policy = subscription.inputs.filterPolicy;
      consumers.push({
        service: name,
        name: consumer,
        event,
        versions,
        ...(policy ? { filter: { policy: JSON.parse(String(policy)), scope: subscription.inputs.filterPolicyScope ?? "MessageAttributes" } } : {}),
        queue: {
          name: anyStage(queue.inputs.name),
          fifo: queue.inputs.fifoQueue === true,
          visibilityTimeout: Number(queue.inputs.visibilityTimeoutSeconds),
          retention: Number(queue.inputs.messageRetentionSeconds),
          maxReceiveCount: redrive.maxReceiveCount,
          deadLetterQueue: { name: anyStage(deadLetter.inputs.name), retention: Number(deadLetter.inputs.messageRetentionSeconds) },
        },
      });
    }
  }
  // The platform's failure topic (tagged with its role) and the queue that keeps its events.
  const platform = system.platform.mocks;
  const failureTopic = platform
    .byType("aws:sns/topic:Topic")
    .find((topic) => (topic.inputs.tags as Record<string, string> | undefined)?.[PLATFORM_ROLE_TAG] === platformRoles.failureEvents);
  if (!failureTopic) throw new Error(`the platform program creates no topic tagged ${PLATFORM_ROLE_TAG}=${platformRoles.failureEvents}`);
  const sink = platform.byType("aws:sns/topicSubscription:TopicSubscription").find((sub) => sub.inputs.topic === failureTopic.state.arn);
  const sinkQueue = platform.byType("aws:sqs/queue:Queue").find((queue) => queue.state.arn === sink?.inputs.endpoint);
  if (!sinkQueue) throw new Error("the platform program subscribes no queue of its own to the failure topic");
  return {
    consumers,
    failures: {
      topic: anyStage(failureTopic.inputs.name),
      queue: { name: anyStage(sinkQueue.inputs.name), retention: Number(sinkQueue.inputs.messageRetentionSeconds) },
    },
  };
}

/** A stream consumer's wiring: its event source mapping on the stream (filter included) and its on-failure queue. */
function streamConsumerWiring(
  label: string,
  children: { type: string; inputs: Record<string, any>; state: Record<string, any> }[],
  anyStage: (value: unknown) => string,
): Pick<ConsumerWiring, "stream" | "filter"> {
  const mapping = children.find((c) => c.type === "aws:lambda/eventSourceMapping:EventSourceMapping");
  if (!mapping) throw new Error(`${label} reads a stream but has no event source mapping among its resources`);
  const m = mapping.inputs;
  const destination = m.destinationConfig?.onFailure?.destinationArn;
  const onFailure = children.find((c) => c.type === "aws:sqs/queue:Queue" && c.state.arn === destination);
  if (!onFailure) throw new Error(`${label}: its mapping sends failed batches to ${destination}, none of its queues`);
  const filters = (m.filterCriteria?.filters ?? []) as { pattern: string }[];
  return {
    stream: {
      startingPosition: String(m.startingPosition),
      batchSize: Number(m.batchSize),
      maxBatchingWindow: Number(m.maximumBatchingWindowInSeconds ?? 0),
      parallelizationFactor: Number(m.parallelizationFactor ?? 1),
      bisectBatchOnFunctionError: m.bisectBatchOnFunctionError === true,
      maxRetryAttempts: Number(m.maximumRetryAttempts),
      maxRecordAgeSeconds: Number(m.maximumRecordAgeInSeconds),
      enhancedFanOut: children.some((c) => c.type === "aws:kinesis/streamConsumer:StreamConsumer"),
      ...(filters.length ? { filterPatterns: filters.map((f) => JSON.parse(f.pattern)) } : {}),
      onFailureQueue: { name: anyStage(onFailure.inputs.name), retention: Number(onFailure.inputs.messageRetentionSeconds) },
    },
  };
}

/** The consumers of the system, as the service programs wire them (see `systemWiring`). */
export async function systemConsumers(root = REPO_ROOT, stage = "dev", serviceDirs?: string[]): Promise<ConsumerWiring[]> {
  return (await systemWiring(root, stage, serviceDirs)).consumers;
}

/** The committed document, parsed (undefined when there is none yet). */
export function readCommittedDocument(root = REPO_ROOT): { text: string; document: JsonSchema } | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, DOCUMENT_PATH), "utf8");
  } catch {
    return undefined;
  }
  return { text, document: parse(text) as JsonSchema };
}

/** The document of the system as it is now, checked against the committed one, as YAML text. */
export async function generateDocument(root = REPO_ROOT): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const wiring = await systemWiring(root);
  const document = buildDocument({ catalog, ...wiring, version, previous: readCommittedDocument(root)?.document });
  return renderDocument(document);
}

/** What `@asyncapi/parser` reports as errors or warnings for a document (empty when it is valid). */
export async function documentProblems(text: string): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(text);
  // severity 0 is an error, 1 a warning; 2 and 3 are information and hints (such as "3.1.0 exists").
  return diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.path.join(".") || "(document)"}: ${d.message} [${d.code}]`);
}
