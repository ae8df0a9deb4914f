/**
 * Messaging faults on one consumer queue of the in-process engines, installed by wrapping two of their public methods
 * on the instances (and removed again by `uninstall`), so the engines themselves stay free of fault code:
 * - SNS delivery: the SNS engine delivers through `SqsEngine.sendMessage` (origin `sns`): a delivery can be refused
 *   (SNS then moves the message to the subscription's dead-letter queue, as it does when a queue is unreachable) or
 *   made twice (the same SNS message delivered twice: two SQS messages with the same body);
 * - SQS receive: every receive of the queue goes through `Queue.receiveNow` (the poller's long polls included): a
 *   received message's visibility timeout can be changed at once, to 0 (it is received again while the first
 *   receiver still holds it) or to a few seconds (it reappears while a slow invocation still runs).
 */
import type { SqsEngine, InternalSendOptions } from "../sqs/engine";
import { ServiceError } from "../sqs/errors";
import type { Queue, ReceivedMessage, SendMessageInput, SendMessageResult } from "../sqs/queue";

/** What to do with an SNS delivery to the queue. */
export type DeliveryDirective = "deliver" | "deliver-twice" | "refuse";

/** What to do right after a message was received. */
export interface ReceiveDirective {
  visibilityTimeoutSeconds: number;
}

export interface MessagingFaultHooks {
  onDelivery(body: string): DeliveryDirective;
  onReceive(body: string): ReceiveDirective | undefined;
}

/** The error an SQS queue answers SNS when it cannot take a delivery (a KMS key SNS may not use, say). */
export function undeliverableError(): ServiceError {
  return new ServiceError(
    "KMS.AccessDeniedException",
    "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
  );
}

/**
 * Installs the hooks on `queueArn` of `sqs`.
 * @returns a function that removes them
 * @example
 * const uninstall = installMessagingFaults(stage.sqs, queueArn, { onDelivery: () => "deliver-twice", onReceive: () => undefined });
 */
export function installMessagingFaults(sqs: SqsEngine, queueArn: string, hooks: MessagingFaultHooks): () => void {
  const queue: Queue = sqs.queue(queueArn);
  const send = sqs.sendMessage;
  const receiveNow = queue.receiveNow;

  sqs.sendMessage = function sendWithFaults(this: SqsEngine, ref: string, input: SendMessageInput, options: InternalSendOptions = {}): SendMessageResult {
    if (options.origin !== "sns" || sqs.findQueue(ref) !== queue) return send.call(this, ref, input, options);
    const directive = hooks.onDelivery(input.MessageBody);
    if (directive === "refuse") throw undeliverableError();
    const sent = send.call(this, ref, input, options);
    if (directive === "deliver-twice") send.call(this, ref, input, options);
    return sent;
  };

  queue.receiveNow = function receiveWithFaults(this: Queue, options?: Parameters<Queue["receiveNow"]>[0]): ReceivedMessage[] {
    const received = receiveNow.call(this, options);
    for (const message of received) {
      const directive = hooks.onReceive(message.Body);
      if (directive) queue.changeVisibility(message.ReceiptHandle, directive.visibilityTimeoutSeconds);
    }
    return received;
  };

  return () => {
    // The wrappers are own properties of the instances: deleting them restores the classes' methods.
    delete (sqs as Partial<Pick<SqsEngine, "sendMessage">>).sendMessage;
    delete (queue as Partial<Pick<Queue, "receiveNow">>).receiveNow;
  };
}
