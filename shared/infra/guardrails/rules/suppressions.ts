import { resourceRule, type Finding } from "../rule";
import { isRuleName } from "../rule-names";
import { reasonProblem, SUPPRESSION_TAG_PREFIX, tagSuppressions } from "../suppressions";

export const suppressionsHaveReasons = resourceRule(
  {
    name: "suppressions-have-reasons",
    description: `A suppression tag (${SUPPRESSION_TAG_PREFIX}<rule> = <reason>) names a known rule and explains itself; an unexplained one suppresses nothing and is reported (the cdk-nag suppression discipline: every suppression carries a reason).`,
    remediation: "Write the reason as the tag's value (at least a sentence), or remove the tag and fix the resource.",
    suppressible: false,
  },
  (args) => {
    const findings: Finding[] = [];
    for (const [rule, reason] of tagSuppressions(args.props)) {
      if (!isRuleName(rule)) findings.push({ message: `${args.name} suppresses "${rule}", which is not a guardrail rule` });
      const problem = reasonProblem(reason);
      if (problem) findings.push({ message: `${args.name} suppresses ${rule} without an explanation: ${problem}` });
    }
    return findings;
  },
);
