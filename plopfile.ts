// plop's entry: `npx plop` lists the generators and asks their questions; `npm run new-service` and friends run
// the same generators through generators/cli.ts, which also accepts every answer as a flag.
import type { NodePlopAPI } from "node-plop";
import { definitions } from "./generators/definitions";
import { GeneratorError } from "./generators/lib/errors";
import { coerce, defaultOf, type Answers } from "./generators/lib/prompts";
import { Repo } from "./generators/lib/repo";
import { generate } from "./generators/run";

export default function plopfile(plop: NodePlopAPI): void {
  const repo = new Repo(plop.getDestBasePath());
  plop.setActionType("apply-plan", (answers, config) => {
    const generator = definitions.find((d) => d.name === config.generator);
    if (!generator) throw new GeneratorError(`no generator ${String(config.generator)}`);
    // inquirer answers lists as arrays or comma-separated text: normalize them the way flags are.
    const normalized: Answers = {};
    for (const spec of generator.prompts(repo)) {
      const raw = (answers as Answers)[spec.name];
      normalized[spec.name] = raw === undefined ? (defaultOf(spec, normalized) ?? "") : coerce(spec, raw);
    }
    const written = generate(generator, normalized, repo, plop);
    return `${written.length} files written`;
  });
  for (const generator of definitions) {
    plop.setGenerator(generator.name, {
      description: generator.description,
      prompts: generator.prompts(repo).map((spec) => {
        const choices = spec.choices?.();
        // inquirer calls a function default with the answers so far, as our flags do.
        const fallback = (given: Answers) => {
          const value = defaultOf(spec, given);
          return Array.isArray(value) && spec.kind !== "list" ? value.join(",") : value;
        };
        if (spec.kind === "confirm") return { type: "confirm", name: spec.name, message: spec.message, default: fallback };
        if (spec.kind === "list" && choices?.length) {
          return { type: "checkbox", name: spec.name, message: spec.message, choices, default: fallback };
        }
        return {
          type: "input",
          name: spec.name,
          message: spec.kind === "list" ? `${spec.message} (comma-separated)` : spec.message,
          default: (given: Answers) => {
            const value = defaultOf(spec, given);
            return Array.isArray(value) ? value.join(",") : value;
          },
        };
      }),
      actions: [{ type: "apply-plan", generator: generator.name } as never],
    });
  }
}
