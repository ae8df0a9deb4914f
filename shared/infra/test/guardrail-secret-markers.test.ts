import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { evaluateGuardrails, guardrailPolicies } from "../guardrails";
import { SECRET_MARKERS_VISIBLE } from "../guardrails/read";
import { resource } from "./guardrail-cases/fixtures";

// secretsmanager-secret-version-not-plain reads Pulumi's secret marker. The captured programs keep it (the adapter
// says so on the props it hands over); a policy-pack run gets secrets unwrapped by @pulumi/policy, where every value
// looks plain, so there the rule must stay silent rather than refuse every secret version.

const rule = guardrailPolicies.find((p) => p.name === "secretsmanager-secret-version-not-plain") as ResourceValidationPolicy;
const plain = resource("aws:secretsmanager/secretVersion:SecretVersion", "v", { secretId: "s", secretString: '{"password":"hunter2"}' });

/** The rule run as the policy pack runs it: props as @pulumi/policy deserializes them (no marker flag). */
function runAsPolicyPack(props: Record<string, unknown>): string[] {
  const messages: string[] = [];
  const args = { type: plain.type, name: plain.name, urn: plain.urn, props } as unknown as ResourceValidationArgs;
  const validate = rule.validateResource;
  for (const v of Array.isArray(validate) ? validate : validate ? [validate] : []) void v(args, (message) => messages.push(message));
  return messages;
}

test("on the captured programs a plain secret string is refused", async () => {
  const violations = await evaluateGuardrails([plain], [rule as never]);
  assert.equal(violations.length, 1);
  assert.match(violations[0]?.message ?? "", /sets secretString as a plain value/);
});

test("in a policy-pack run (secrets unwrapped, no marker) the rule cannot tell and reports nothing", () => {
  assert.equal(runAsPolicyPack({ ...plain.inputs }), []);
});

test("the marker flag is what makes the difference, and it does not show among the props' keys", () => {
  const flagged = Object.defineProperty({ ...plain.inputs }, SECRET_MARKERS_VISIBLE, { value: true, enumerable: false });
  assert.equal(runAsPolicyPack(flagged).length, 1);
  assert.equal(Object.keys(flagged).sort(), ["secretId", "secretString"]);
});

test.run();
