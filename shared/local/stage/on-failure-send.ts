/**
 * The check both stream parts (DynamoDB Streams, Kinesis) make before a mapping sends an on-failure record: Lambda
 * sends it with the function's execution role, so what that role may not do, the record does not get
 * (streams/on-failure-authorization.ts decides). A refusal shows as DENIED in the trace under the batch's last
 * invocation, one line through `log`, and an {@link OnFailureDeliveryRefused} for the poller (which counts it and goes
 * on with the shard).
 */
import type { CapturedResource } from "../../capture/pulumi-mocks";
import { childContext, type RequestContext } from "../context";
import type { Authorizer } from "../iam/authorizer";
import { functionAccessKeyId } from "../lambda/function-host";
import { authorizeOnFailureSend, onFailureDestination, onFailureRefusalLine } from "../streams/on-failure-authorization";
import { OnFailureDeliveryRefused, type OnFailureRecord } from "../streams/shard-poller";
import type { TraceRecorder } from "./trace";
import type { StageWiring } from "./wiring";

export interface OnFailureSendCheck {
  authorizer: Authorizer;
  wiring: Pick<StageWiring, "region" | "accountId">;
  /** The programs as they are now (a watch re-run may have changed a queue policy or a key). */
  programs: readonly { resources: readonly CapturedResource[] }[];
  fn: { name: string; roleArn: string };
  destinationArn: string;
  record: OnFailureRecord;
  recorder: Pick<TraceRecorder, "denied">;
  /** Request id -> the invocation's context (the refusal is traced under the batch's last invocation). */
  invocationContexts: ReadonlyMap<string, RequestContext>;
  log: (line: string) => void;
}

/** Throws {@link OnFailureDeliveryRefused} when the function's role may not send `record` to its destination. */
export function checkOnFailureSend(check: OnFailureSendCheck): void {
  const { fn, wiring, destinationArn, record } = check;
  const refusal = authorizeOnFailureSend({
    authorizer: check.authorizer,
    principal: functionAccessKeyId(fn.name),
    roleArn: fn.roleArn,
    region: wiring.region,
    accountId: wiring.accountId,
    destination: onFailureDestination(check.programs, destinationArn, wiring),
  });
  if (!refusal) return;
  const last = check.invocationContexts.get(record.requestContext.requestId);
  check.recorder.denied({ action: refusal.action, resource: refusal.resource, ...(last ? { context: childContext(last, "lambda.amazonaws.com") } : {}) }, refusal.message);
  const line = onFailureRefusalLine(fn.name, destinationArn, refusal);
  check.log(line);
  throw new OnFailureDeliveryRefused(line);
}
