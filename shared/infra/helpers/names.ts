import * as pulumi from "@pulumi/pulumi";
import { SERVICE_NAME_MAX_LENGTH, SERVICE_NAME_PATTERN } from "../../contract";

/** AWS limits on the physical names the components create. */
export const NAME_LIMITS = {
  /** SQS queue names, `.fifo` included. */
  queue: { max: 80, pattern: /^[A-Za-z0-9_-]+(\.fifo)?$/ },
  function: { max: 64, pattern: /^[A-Za-z0-9_-]+$/ },
  role: { max: 64, pattern: /^[A-Za-z0-9+=,.@_-]+$/ },
  alarm: { max: 255, pattern: /^[^\x00-\x1f]+$/ },
  logGroup: { max: 512, pattern: /^[A-Za-z0-9_\-/.#]+$/ },
  api: { max: 128, pattern: /^[A-Za-z0-9_ .-]+$/ },
  stateMachine: { max: 80, pattern: /^[A-Za-z0-9_-]+$/ },
} as const;

export type NameKind = keyof typeof NAME_LIMITS;

/** A physical name breaks an AWS limit; the message names the resource, its length and the limit. */
export class ResourceNameError extends Error {
  override name = "ResourceNameError";
}

/** Checks a physical name against the AWS limit for its kind and returns it unchanged. */
export function checkName(kind: NameKind, name: string, hint = "shorten the service, consumer or function name"): string {
  const limit = NAME_LIMITS[kind];
  if (name.length > limit.max) {
    throw new ResourceNameError(
      `${kind} name "${name}" is ${name.length} characters; AWS allows at most ${limit.max}: ${hint}`,
    );
  }
  if (!limit.pattern.test(name)) {
    throw new ResourceNameError(`${kind} name "${name}" has characters AWS does not accept in a ${kind} name`);
  }
  return name;
}

/** Logical names inside a service (consumers, functions) follow the service-name rules: kebab-case. */
export function checkLogicalName(what: string, name: string): string {
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw new ResourceNameError(`${what} "${name}" must be kebab-case (lowercase letters, digits and single dashes)`);
  }
  return name;
}

/** A service name: kebab-case, at most 24 characters (it becomes part of AWS names and of ElectroDB keys). */
export function checkServiceName(name: string): string {
  checkLogicalName("service name", name);
  if (name.length > SERVICE_NAME_MAX_LENGTH) {
    throw new ResourceNameError(`service name "${name}" is longer than ${SERVICE_NAME_MAX_LENGTH} characters`);
  }
  return name;
}

/**
 * The stage a service stack deploys: its stack name (`dev`, `prod`, `ci-1234`, `local`). Physical names start with
 * it, so two stages of one service never collide in one account.
 */
export function currentStage(): string {
  return pulumi.getStack();
}

/**
 * Log groups whose names start with this are not added to the account's CloudWatch Logs resource policy when an AWS
 * service (API Gateway, Step Functions) is given them for its logs: that policy is capped at 5,120 characters.
 */
export const VENDED_LOGS_PREFIX = "/aws/vendedlogs/";

/** `<stage>-<service>-<name>` */
export function serviceResourceBase(service: string, name: string): string {
  return `${currentStage()}-${service}-${name}`;
}
