// The guardrails as a Pulumi policy pack, for `pulumi preview --policy-pack shared/infra/guardrails/policy-pack`
// (and `pulumi up`). The same rule functions run in `npm test` on every stack under mocks (shared/infra/test).
// Never import this file from a test: constructing a PolicyPack starts the policy analyzer's gRPC server.
import { PolicyPack } from "@pulumi/policy";
import { guardrailPolicies } from "../policies";
import { checkSuppressions, SUPPRESSIONS } from "../suppressions";

const problems = checkSuppressions(SUPPRESSIONS);
if (problems.length) throw new Error(`unexplained guardrail suppressions:\n${problems.join("\n")}`);

new PolicyPack("event-platform-guardrails", {
  description: "Guardrails of the event platform: encryption, TLS, least privilege, dead letters, tracing, retention",
  enforcementLevel: "mandatory",
  policies: [...guardrailPolicies],
});
