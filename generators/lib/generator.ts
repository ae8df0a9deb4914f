import type { FileChange } from "./plan";
import type { Answers, PromptSpec } from "./prompts";
import type { Repo } from "./repo";

/** What a generator's plan may use: the repository and the template renderer (plop's Handlebars). */
export interface PlanContext {
  repo: Repo;
  render(templatePath: string, data: object): string;
  /** A message for the person running the generator (something left to do by hand), printed once the files are written. */
  notice(text: string): void;
}

/** A generator: its questions, and the files its answers produce (checked, then written all together). */
export interface GeneratorDefinition {
  name: string;
  description: string;
  prompts(repo: Repo): PromptSpec[];
  plan(answers: Answers, ctx: PlanContext): FileChange[];
}
