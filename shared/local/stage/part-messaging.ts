/**
 * The messaging part: the SNS and SQS engines behind the endpoints the functions' SDK clients use, with the
 * programs' queues (dead-letter targets first), topics and subscriptions. SNS delivers to SQS as
 * `sns.amazonaws.com`: each queue's policy decides what reaches it (queue-policies.ts).
 */
import { createSnsEndpoint } from "../endpoints/sns";
import { createSqsEndpoint } from "../endpoints/sqs";
import { startEndpointServer, type EndpointServer, type ServiceEndpoint } from "../endpoints/server";
import type { Authorizer } from "../iam/authorizer";
import { SnsEngine, type PublishInput, type PublishResult } from "../sns/engine";
import { SqsEngine } from "../sqs/engine";
import type { QueueAttributesInput } from "../sqs/queue";
import type { RequestContext } from "../context";
import { snsBackend, sqsBackend } from "./backends";
import { createTopic, reconcileMessaging, subscribe } from "../watch/reconcile";
import { diffWiring } from "../watch/wiring-diff";
import type { PartHealth, StagePart } from "./parts";
import { snsDeliveryAuthorizer } from "./queue-policies";
import type { TraceRecorder } from "./trace";
import type { QueueSpec, StageWiring } from "./wiring";

/** The stage could not build its queues or topics as the programs declared them. */
export class MessagingSetupError extends Error {
  override name = "LocalStageError";
}

/** What the messaging part needs. */
export interface MessagingPartOptions {
  wiring: StageWiring;
  authorizer: Authorizer;
  recorder: TraceRecorder;
}

/** The messaging part; its products are there once it started. */
export interface MessagingPart extends StagePart<StageWiring> {
  readonly sns: SnsEngine;
  readonly sqs: SqsEngine;
  /** The SNS and SQS endpoints' URL (one server answers both). */
  readonly url: string;
  /** Publishes on the engine, traced: `context` is the publish's own (who publishes, its span, its parent). */
  publish(input: PublishInput, context: RequestContext): PublishResult;
}

export function queueAttributes(spec: QueueSpec): QueueAttributesInput {
  return {
    ...(spec.fifo ? { FifoQueue: true } : {}),
    ...(spec.fifo && spec.contentBasedDeduplication ? { ContentBasedDeduplication: true } : {}),
    ...(spec.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: spec.visibilityTimeoutSeconds } : {}),
    ...(spec.messageRetentionSeconds !== undefined ? { MessageRetentionPeriod: spec.messageRetentionSeconds } : {}),
    ...(spec.delaySeconds !== undefined ? { DelaySeconds: spec.delaySeconds } : {}),
    ...(spec.receiveWaitTimeSeconds !== undefined ? { ReceiveMessageWaitTimeSeconds: spec.receiveWaitTimeSeconds } : {}),
    ...(spec.redrive ? { RedrivePolicy: spec.redrive } : {}),
  };
}

/** Creates the queues, dead-letter targets first (a redrive policy must name an existing queue). */
export function createQueues(sqs: SqsEngine, queues: readonly QueueSpec[]): void {
  const pending = [...queues];
  while (pending.length) {
    const ready = pending.filter((q) => !q.redrive || sqs.findQueue(q.redrive.deadLetterTargetArn));
    if (ready.length === 0) throw new MessagingSetupError(`queues ${pending.map((q) => q.name).join(", ")} redrive into each other in a cycle`);
    for (const queue of ready) {
      const created = sqs.createQueue(queue.name, queueAttributes(queue));
      if (created.arn !== queue.arn) throw new MessagingSetupError(`queue ${queue.name} would be ${created.arn} locally but the program says ${queue.arn}`);
      pending.splice(pending.indexOf(queue), 1);
    }
  }
}

/** A ServiceEndpoint whose implementation is made once the server's URL is known (queue URLs are built on it). */
function lateEndpoint(service: string, get: () => ServiceEndpoint | undefined): ServiceEndpoint {
  return {
    service,
    matches: (request) => get()?.matches(request) ?? false,
    handle: (request) => {
      const endpoint = get();
      if (!endpoint) return Promise.resolve({ status: 503, headers: { "content-type": "application/json" }, body: '{"message":"starting"}' });
      return endpoint.handle(request);
    },
  };
}

export function messagingPart(options: MessagingPartOptions): MessagingPart {
  const { authorizer, recorder } = options;
  let wiring = options.wiring;
  // SNS delivers as sns.amazonaws.com: each queue's policy decides what reaches it, as in AWS (the policies of the
  // wiring as it is now: watch mode may change them).
  let deliveries = snsDeliveryAuthorizer(wiring.queues);
  let server: EndpointServer | undefined;
  let engines: { sns: SnsEngine; sqs: SqsEngine } | undefined;
  let state: PartHealth = { status: "starting" };
  const started = () => {
    if (!engines || !server) throw new Error("the messaging part has not started");
    return { ...engines, server };
  };
  const publish = (input: PublishInput, context: RequestContext): PublishResult =>
    recorder.publishing(
      { topicArn: input.TopicArn, message: input.Message, ...(input.MessageAttributes ? { attributes: input.MessageAttributes } : {}) },
      context,
      () => started().sns.publish(input, context),
    );
  return {
    name: "messaging",
    // Starts alongside the other engines (see parts.ts).
    needs: [],
    get sns() {
      return started().sns;
    },
    get sqs() {
      return started().sqs;
    },
    get url() {
      return started().server.url;
    },
    publish,
    async start() {
      let snsEndpoint: ServiceEndpoint | undefined;
      let sqsEndpoint: ServiceEndpoint | undefined;
      server = await startEndpointServer({ services: [lateEndpoint("sns", () => snsEndpoint), lateEndpoint("sqs", () => sqsEndpoint)] });
      const { region, accountId } = wiring;
      const sqs = new SqsEngine({ region, accountId, queueUrlBase: server.url });
      const sns = new SnsEngine({ sqs, authorizeDelivery: (request) => deliveries(request) });
      engines = { sns, sqs };
      sqs.addTraceListener((event) => recorder.messaging(event));
      sns.addTraceListener((event) => recorder.messaging(event));
      snsEndpoint = createSnsEndpoint({ backend: snsBackend(sns, publish), authorize: authorizer.authorize, accountId, region });
      sqsEndpoint = createSqsEndpoint({ backend: sqsBackend(sqs), authorize: authorizer.authorize, accountId, region });

      createQueues(sqs, wiring.queues);
      for (const topic of wiring.topics) createTopic(sns, topic);
      for (const subscription of wiring.subscriptions) subscribe(sns, subscription);
      state = { status: "ok", detail: `${wiring.topics.length} topics, ${wiring.queues.length} queues, ${wiring.subscriptions.length} subscriptions; SNS and SQS at ${server.url}` };
    },
    async stop() {
      state = { status: "stopped" };
      await server?.close();
    },
    health: () => state,
    /**
     * Applies the topics', queues' and subscriptions' difference in place (watch/reconcile.ts): queues that stay keep
     * their messages, subscriptions their ARNs; queue policies take effect at once. A queue attribute that cannot
     * change in place (visibility timeout, retention) leaves the part `degraded` until the next start, saying which.
     */
    reconcile(next) {
      const { sns, sqs } = started();
      const notApplied = reconcileMessaging({ sns, sqs, createQueues: (queues) => createQueues(sqs, queues) }, diffWiring(wiring, next));
      deliveries = snsDeliveryAuthorizer(next.queues);
      wiring = next;
      const detail = `${wiring.topics.length} topics, ${wiring.queues.length} queues, ${wiring.subscriptions.length} subscriptions; SNS and SQS at ${started().server.url}`;
      state = notApplied.length ? { status: "degraded", detail: `${detail}; takes a restart: ${notApplied.join(", ")}` } : { status: "ok", detail };
    },
  };
}
