import { ENV } from "../../../contract/environment";
import { methodOfRouteKey, SAFE_HTTP_METHODS } from "../../../contract/route-key";
import { ofType, stackRule, type Finding } from "../rule";
import { str } from "../read";
import { T } from "../resource-types";

/**
 * A command route (POST, PUT, PATCH, DELETE, ANY) runs a function that can keep Idempotency-Key records: without
 * them a client that retries after a lost answer or a 500 creates the same thing twice (the runtime's httpHandler
 * honours the header only when the function has the idempotency table).
 */
export const apiCommandRouteIdempotency = stackRule(
  {
    name: "api-command-route-idempotency",
    description:
      "Command routes of an HTTP API accept an Idempotency-Key, so a client's retry answers the first result instead of acting twice (Well-Architected Serverless Lens, reliability: make mutating operations idempotent; IETF httpapi Idempotency-Key draft).",
    remediation:
      "Leave `idempotency` at its default on command routes (defineService gives their functions the idempotency table), or suppress this rule on the function with the reason the command is safe to repeat.",
  },
  (args) => {
    const findings: Finding[] = [];
    // A route targets `integrations/<integration id>`; the integration's URI is its function's ARN.
    const integrations = new Map(ofType(args, T.apiIntegration).map((i) => [`integrations/${str(i.props.id) ?? ""}`, i]));
    const functions = ofType(args, T.function);
    for (const route of ofType(args, T.apiRoute)) {
      const routeKey = str(route.props.routeKey) ?? "";
      // Commands only: `$default` (and what is no route key) names no method, queries change nothing.
      const method = methodOfRouteKey(routeKey);
      if (method === undefined || SAFE_HTTP_METHODS.has(method)) continue;
      const integration = integrations.get(str(route.props.target) ?? "");
      const uri = str(integration?.props.integrationUri);
      const fn = functions.find((f) => uri !== undefined && (str(f.props.arn) === uri || str(f.props.invokeArn) === uri));
      if (!fn) continue;
      const variables = (fn.props.environment as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
      if (variables[ENV.idempotencyTable] === undefined) {
        findings.push({
          urn: fn.urn,
          message: `route "${routeKey}" runs function ${fn.name}, which keeps no Idempotency-Key records (no ${ENV.idempotencyTable}): a retried request acts twice`,
        });
      }
    }
    return findings;
  },
);
