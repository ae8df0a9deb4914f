/**
 * The local stage's IAM: which identity-based policies each caller has, and the decision for each request. Callers are
 * told apart by the access key id they sign with (the local stage gives each function its own), so a principal here
 * is an access key id registered with the policies of the function's role, as its Pulumi program declares them.
 */
import { LOCAL_ACCOUNT_ID } from "../aws";
import { applicableStatements, copyRef, evaluateApplicable, IamPolicy, type ApplicableStatements, type ConditionContext, type EvaluationResult } from "./evaluate";

/**
 * One request to authorize. Structurally compatible with the `AuthorizationRequest` of `shared/local/endpoints`
 * (whose single-valued `conditionKeys` fit here), and with the proxy's `DynamoDbAuthorizationRequest`.
 */
export interface IamAuthorizationRequest {
  /** The caller's access key id. */
  principal: string;
  /** `service:Action`. */
  action: string;
  /** The resource ARN, or `*`. */
  resource: string;
  context?: {
    /** The region the request was signed for: becomes `aws:RequestedRegion`. */
    region?: string;
    /** Condition keys of the request (service keys such as `dynamodb:LeadingKeys`, and global `aws:` keys). */
    conditionKeys?: ConditionContext;
    /** Keys whose value AWS would know but the endpoint could not derive: conditions on them fail closed. */
    unresolvedConditionKeys?: readonly string[];
  };
}

/**
 * The answer. Compatible with the endpoints' `AuthorizationDecision`; `explicitDeny` tells which of AWS's two
 * messages applies (see {@link accessDeniedMessage}), `evaluation` says why.
 */
export type IamDecision =
  | { allowed: true; evaluation: EvaluationResult }
  | {
      allowed: false;
      explicitDeny: boolean;
      /** The caller as AWS prints it: `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
      principalArn: string;
      /** AWS's reason for an implicit deny (`no identity-based policy allows the <action> action`). */
      reason: string;
      /** Absent when the principal is not registered at all. */
      evaluation?: EvaluationResult;
    };

/** Who a principal is, for messages and `aws:Principal*` condition keys. */
export interface PrincipalIdentity {
  /**
   * The role's name.
   * @default the principal (the access key id)
   */
  roleName?: string;
  /**
   * The role session's name (Lambda uses the function's name).
   * @default the role name
   */
  sessionName?: string;
  /**
   * The account of the role.
   * @default the authorizer's account
   */
  accountId?: string;
}

/** Options of an {@link Authorizer}. */
export interface AuthorizerOptions {
  /**
   * The account of principals registered without one.
   * @default LOCAL_ACCOUNT_ID
   */
  accountId?: string;
  /**
   * What happens to requests signed with an access key id that has no registration: `deny` (as if it had no policy)
   * or `allow` (for local tooling that is not a function: seeding scripts, tests).
   * @default "deny"
   */
  unknownPrincipals?: "deny" | "allow";
  /** The clock for `aws:CurrentTime` and `aws:EpochTime`. */
  now?: () => Date;
  /** Called with every decision (for the local stage's trace). */
  onDecision?: (request: IamAuthorizationRequest, decision: IamDecision) => void;
}

interface Registration {
  policies: IamPolicy[];
  roleName: string;
  sessionName: string;
  accountId: string;
  /**
   * By action and resource: the statements that apply, and the whole result when none of them has conditions (it
   * then reads nothing of the request's context). Kept as long as these policies are the principal's: a new
   * registration starts with an empty one.
   */
  decided: Map<string, { applicable: ApplicableStatements; result?: EvaluationResult }>;
}

/** Action/resource pairs remembered per principal; beyond this the principal's memory starts over. */
const MAX_DECIDED = 4096;

/** A copy the caller may change without changing what is remembered. */
function copyResult(result: EvaluationResult): EvaluationResult {
  const copy: EvaluationResult = { decision: result.decision, reason: result.reason, notes: result.notes.slice() };
  if (result.matchedStatement) copy.matchedStatement = copyRef(result.matchedStatement);
  return copy;
}

/**
 * Maps principals (access key ids) to their identity-based policies and evaluates requests with {@link evaluate}.
 *
 * @example
 * const authorizer = new Authorizer({ accountId: LOCAL_ACCOUNT_ID });
 * authorizer.register("AKIAFNBILLINGISSUE", [rolePolicyJson], { roleName: "billing-issue-role", sessionName: "billing-issue" });
 * const proxy = await startDynamoDbProxy({ target, accountId, authorize: authorizer.authorize });
 */
export class Authorizer {
  private readonly registrations = new Map<string, Registration>();
  private readonly accountId: string;
  private readonly unknownPrincipals: "deny" | "allow";
  private readonly now: () => Date;
  private readonly onDecision: AuthorizerOptions["onDecision"];

  constructor(options: AuthorizerOptions = {}) {
    this.accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
    this.unknownPrincipals = options.unknownPrincipals ?? "deny";
    this.now = options.now ?? (() => new Date());
    this.onDecision = options.onDecision;
  }

  /**
   * Registers (or replaces) a principal's policies: documents as JSON strings or objects, or parsed
   * {@link IamPolicy} instances. Each document is validated now, so a malformed policy fails at registration with a
   * `PolicyValidationError` rather than at the first request.
   */
  register(principal: string, policies: unknown, identity: PrincipalIdentity = {}): void {
    const list = Array.isArray(policies) ? policies : [policies];
    const roleName = identity.roleName ?? principal;
    const parsed = list.map((policy, index) =>
      policy instanceof IamPolicy ? policy : IamPolicy.parse(policy, list.length === 1 ? roleName : `${roleName}#${index}`),
    );
    this.registrations.set(principal, {
      policies: parsed,
      roleName,
      sessionName: identity.sessionName ?? roleName,
      accountId: identity.accountId ?? this.accountId,
      decided: new Map(),
    });
  }

  /** Removes a principal; true when it was registered. */
  unregister(principal: string): boolean {
    return this.registrations.delete(principal);
  }

  /** Whether a principal is registered. */
  has(principal: string): boolean {
    return this.registrations.has(principal);
  }

  /** The caller's ARN as AWS prints it in denials. */
  principalArn(principal: string): string {
    const registration = this.registrations.get(principal);
    const account = registration?.accountId ?? this.accountId;
    const role = registration?.roleName ?? principal;
    const session = registration?.sessionName ?? role;
    return `arn:aws:sts::${account}:assumed-role/${role}/${session}`;
  }

  /**
   * Evaluates a request against the principal's policies, with the global keys the authorizer knows added to the
   * request's own (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:RequestedRegion`,
   * `aws:CurrentTime`, `aws:EpochTime`; keys the request carries win). `undefined` for an unregistered principal.
   */
  evaluate(request: IamAuthorizationRequest): EvaluationResult | undefined {
    const registration = this.registrations.get(request.principal);
    if (!registration) return undefined;
    // Which statements apply depends only on the action and the resource (and the policies): found once per pair.
    const cacheKey = `${request.action}\n${request.resource}`;
    let decided = registration.decided.get(cacheKey);
    if (!decided) {
      if (registration.decided.size >= MAX_DECIDED) registration.decided.clear();
      const applicable = applicableStatements(registration.policies, request.action, request.resource);
      decided = applicable.conditional ? { applicable } : { applicable, result: evaluateApplicable(applicable, {}) };
      registration.decided.set(cacheKey, decided);
    }
    if (decided.result) return copyResult(decided.result);
    const context: Record<string, string | readonly string[] | undefined> = {
      "aws:PrincipalArn": `arn:aws:iam::${registration.accountId}:role/${registration.roleName}`,
      "aws:PrincipalAccount": registration.accountId,
      "aws:PrincipalType": "AssumedRole",
    };
    // The clock is read only for conditions on it.
    const { keys } = decided.applicable;
    if (keys.has("aws:currenttime") || keys.has("aws:epochtime")) {
      const now = this.now();
      context["aws:CurrentTime"] = now.toISOString();
      context["aws:EpochTime"] = String(Math.floor(now.getTime() / 1000));
    }
    if (request.context?.region) context["aws:RequestedRegion"] = request.context.region;
    Object.assign(context, request.context?.conditionKeys ?? {});
    return evaluateApplicable(decided.applicable, { context, unresolvedKeys: request.context?.unresolvedConditionKeys ?? [] });
  }

  /**
   * The hook endpoints call (bound: pass `authorizer.authorize` as it is). Denies unregistered principals unless the
   * authorizer was built with `unknownPrincipals: "allow"`.
   */
  readonly authorize = (request: IamAuthorizationRequest): IamDecision => {
    const evaluation = this.evaluate(request);
    let decision: IamDecision;
    if (!evaluation) {
      decision =
        this.unknownPrincipals === "allow"
          ? {
              allowed: true,
              evaluation: { decision: "Allow", reason: `${request.principal} is not registered; unknown principals are allowed`, notes: [] },
            }
          : {
              allowed: false,
              explicitDeny: false,
              principalArn: this.principalArn(request.principal),
              reason: `no identity-based policy allows the ${request.action} action`,
            };
    } else if (evaluation.decision === "Allow") {
      decision = { allowed: true, evaluation };
    } else {
      decision = {
        allowed: false,
        explicitDeny: evaluation.decision === "ExplicitDeny",
        principalArn: this.principalArn(request.principal),
        reason: `no identity-based policy allows the ${request.action} action`,
        evaluation,
      };
    }
    this.onDecision?.(request, decision);
    return decision;
  };
}

/** What {@link accessDeniedMessage} needs. */
export interface DenialFacts {
  principalArn: string;
  action: string;
  resource: string;
  explicitDeny?: boolean;
  /** Replaces AWS's implicit-deny reason (the text after "because"). */
  reason?: string;
}

/**
 * AWS's access-denied message (IAM User Guide, "Access denied error messages"):
 * `User: <arn> is not authorized to perform: <action> on resource: <resource> because no identity-based policy allows
 * the <action> action`, or for an explicit deny `... on resource: <resource> with an explicit deny in an
 * identity-based policy`.
 */
export function accessDeniedMessage(facts: DenialFacts): string {
  const head = `User: ${facts.principalArn} is not authorized to perform: ${facts.action} on resource: ${facts.resource}`;
  if (facts.explicitDeny) return `${head} with an explicit deny in an identity-based policy`;
  return `${head} because ${facts.reason ?? `no identity-based policy allows the ${facts.action} action`}`;
}
