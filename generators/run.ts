import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { definitions } from "./definitions";
import { GeneratorError } from "./lib/errors";
import type { GeneratorDefinition, PlanContext } from "./lib/generator";
import { applyPlan } from "./lib/plan";
import { parseFlags, resolveAnswers, type Answers, type PromptSpec } from "./lib/prompts";
import { Repo } from "./lib/repo";

const TEMPLATES = join(__dirname, "templates");
const REPO_ROOT = resolve(__dirname, "..");

export interface PlopLike {
  renderString(template: string, data: object): string;
}

export function findGenerator(name: string): GeneratorDefinition {
  const found = definitions.find((d) => d.name === name);
  if (!found) {
    throw new GeneratorError(`no generator "${name}"; generators: ${definitions.map((d) => d.name).join(", ")}`);
  }
  return found;
}

export function planContext(repo: Repo, plop: PlopLike, notices: string[] = []): PlanContext {
  const cache = new Map<string, string>();
  return {
    repo,
    notice(text) {
      notices.push(text);
    },
    render(templatePath, data) {
      let text = cache.get(templatePath);
      if (text === undefined) {
        text = readFileSync(join(TEMPLATES, templatePath), "utf8");
        cache.set(templatePath, text);
      }
      return plop.renderString(text, data);
    },
  };
}

/** Runs a generator's plan and writes its files, all or none. Returns the paths written. */
export function generate(generator: GeneratorDefinition, answers: Answers, repo: Repo, plop: PlopLike = handlebarsRenderer()): string[] {
  const notices: string[] = [];
  const written = applyPlan(repo.root, generator.plan(answers, planContext(repo, plop, notices)));
  for (const text of notices) console.log(`note: ${text}`);
  return written;
}

/**
 * Renders templates with Handlebars, the engine plop renders with. Runs without a terminal use it directly: loading
 * node-plop (and its prompt library) costs about 0.4 s that a non-interactive run does not need.
 */
export function handlebarsRenderer(): PlopLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const handlebars = require("handlebars") as typeof import("handlebars");
  return { renderString: (template, data) => handlebars.compile(template)(data) };
}

let plopPromise: Promise<PlopLike & { getGenerator(name: string): { runPrompts(bypass?: string[]): Promise<Answers> } }> | undefined;

/** node-plop with this repository's plopfile (helpers, partials, generators). Loaded once per process. */
export function loadPlop(): NonNullable<typeof plopPromise> {
  plopPromise ??= import("node-plop").then((m) =>
    (m.default as unknown as (path: string, cfg: object) => Promise<any>)(join(REPO_ROOT, "plopfile.ts"), {
      destBasePath: REPO_ROOT,
      force: false,
    }),
  );
  return plopPromise;
}

export interface RunOptions {
  /** Repository to write into. @default this repository */
  root?: string;
  /** Ask for missing answers on the terminal. @default standard input is a terminal */
  interactive?: boolean;
}

/**
 * Runs a generator from command-line arguments (`--name billing --consumes orders.order-placed --yes`).
 * Without a terminal every answer without a default must come from a flag, and the error names the flags.
 */
export async function runFromArgs(name: string, argv: string[], options: RunOptions = {}): Promise<string[]> {
  const generator = findGenerator(name);
  const flags = parseFlags(argv);
  const root = resolve(typeof flags.root === "string" ? flags.root : (options.root ?? REPO_ROOT));
  const repo = new Repo(root);
  const interactive = options.interactive ?? Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const specs = generator.prompts(repo);
  const answers = await resolveAnswers(specs, flags, {
    generator: name,
    ask: interactive
      ? async (missing: PromptSpec[]) => {
          // plop asks the whole generator's questions; the ones already answered by flags are bypassed ("_" asks).
          const bypass = specs.map((s) => (missing.includes(s) ? "_" : bypassValue(flags[s.flag])));
          const plop = await loadPlop();
          const asked = await plop.getGenerator(name).runPrompts(bypass);
          return Object.fromEntries(missing.map((s) => [s.name, normalize(s, asked[s.name])]));
        }
      : undefined,
  });
  return generate(generator, answers, repo);
}

function bypassValue(raw: unknown): string {
  if (Array.isArray(raw)) return raw.join(",");
  if (typeof raw === "boolean") return raw ? "yes" : "no";
  return String(raw);
}

function normalize(spec: PromptSpec, value: unknown): string | string[] | boolean {
  if (spec.kind === "list") {
    if (Array.isArray(value)) return value.map(String);
    return String(value ?? "").split(",").map((v) => v.trim()).filter(Boolean);
  }
  if (spec.kind === "confirm") return Boolean(value);
  return String(value ?? "").trim();
}
