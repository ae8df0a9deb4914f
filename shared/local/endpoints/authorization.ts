import type { RequestContext } from "../context";

/** What an endpoint asks before it runs an operation: may this caller perform this action on this resource? */
export interface AuthorizationRequest {
  /**
   * The caller's access key id, from the request's SigV4 credential scope. The function host gives each function its
   * own (see `functionAccessKeyId` in `shared/local/lambda`), so this names the calling function.
   */
  principal: string;
  /** The IAM action, `sns:Publish`, `sqs:SendMessage`, ... */
  action: string;
  /** The ARN acted on (`*` for actions without a resource, such as `sqs:ListQueues`). */
  resource: string;
  context: AuthorizationContext;
}

/** Facts about the request an authorizer may use for conditions and messages. */
export interface AuthorizationContext {
  /** The API operation (`PublishBatch`, `SendMessageBatch`): several share one IAM action. */
  operation: string;
  /** The service's signing name (`sns`, `sqs`). */
  service: string;
  /** The region the request was signed for. */
  region: string;
  /** The request id the endpoint answers with. */
  requestId: string;
  /** IAM global condition keys known for this request (`aws:RequestedRegion`, `aws:SourceIp`, `aws:CurrentTime`). */
  conditionKeys: Record<string, string>;
  /** The request's context: who calls, and its span (a child of the `X-Amzn-Trace-Id` it carried). */
  requestContext?: RequestContext;
}

/** An authorizer's answer. `true`/`false` is shorthand for `{ allowed }`. */
export type AuthorizationDecision =
  | boolean
  | { allowed: true }
  | {
      allowed: false;
      /**
       * The caller's ARN as AWS would print it.
       * @default `arn:aws:sts::<account>:assumed-role/<principal>/<principal>` (a function's role is named like it)
       */
      principalArn?: string;
      /**
       * Why, in AWS's words.
       * @default `no identity-based policy allows the <action> action`
       */
      reason?: string;
    };

/** The hook an endpoint calls before each operation. */
export type Authorizer = (request: AuthorizationRequest) => AuthorizationDecision | Promise<AuthorizationDecision>;

/** An authorizer that allows everything (the default: authorization is opt-in). */
export const allowAll: Authorizer = () => true;

/**
 * Asks the authorizer; returns `undefined` when allowed, else AWS's denial message:
 * `User: arn:aws:sts::<account>:assumed-role/<role>/<fn> is not authorized to perform: sns:Publish on resource:
 * <arn> because no identity-based policy allows the sns:Publish action`.
 */
export async function denialMessage(authorize: Authorizer, request: AuthorizationRequest, accountId: string): Promise<string | undefined> {
  const decision = await authorize(request);
  if (decision === true || (typeof decision === "object" && decision.allowed)) return undefined;
  const denial: { principalArn?: string; reason?: string } = typeof decision === "object" && !decision.allowed ? decision : {};
  const who = denial.principalArn ?? `arn:aws:sts::${accountId}:assumed-role/${request.principal}/${request.principal}`;
  const why = denial.reason ?? `no identity-based policy allows the ${request.action} action`;
  return `User: ${who} is not authorized to perform: ${request.action} on resource: ${request.resource} because ${why}`;
}
