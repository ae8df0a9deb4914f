import { GeneratorError } from "./errors";

export type Answers = Record<string, string | string[] | boolean>;

/** One question of a generator; every one can be answered by its flag. */
export interface PromptSpec {
  /** Key in the answers. */
  name: string;
  /** Command-line flag without dashes (`name` for `--name`). */
  flag: string;
  kind: "text" | "list" | "confirm";
  message: string;
  /**
   * Used when the flag is absent and nobody is asked (no terminal, or `--yes`); may derive from the answers given.
   * Absent = the answer is required.
   */
  default?: string | string[] | boolean | ((given: Answers) => string | string[] | boolean);
  /** Choices offered interactively for `list` questions (the answer may still name new values where allowed). */
  choices?: () => string[];
}

export type Flags = Record<string, string | string[] | boolean>;

/**
 * Parses `--key value`, `--key=value`, repeated keys (collected), `--flag` (true) and `--no-flag` (false).
 * Positional arguments are refused: every answer has a name.
 */
export function parseFlags(argv: string[]): Flags {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") continue;
    if (!arg.startsWith("--")) throw new GeneratorError(`unexpected argument "${arg}": answers are given as --flag value`);
    const eq = arg.indexOf("=");
    let key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | boolean;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) value = argv[++i]!;
    else if (key.startsWith("no-")) {
      key = key.slice(3);
      value = false;
    } else value = true;
    const previous = flags[key];
    if (previous === undefined) flags[key] = value;
    else if (typeof value === "string" && typeof previous !== "boolean") {
      flags[key] = [...(Array.isArray(previous) ? previous : [previous]), value];
    } else throw new GeneratorError(`--${key} is given twice`);
  }
  return flags;
}

function splitList(value: string | string[]): string[] {
  return (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Turns a flag's raw value into the answer's type, or says which flag is wrong. */
export function coerce(spec: PromptSpec, raw: string | string[] | boolean): string | string[] | boolean {
  switch (spec.kind) {
    case "confirm":
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string" && /^(y|yes|true)$/i.test(raw)) return true;
      if (typeof raw === "string" && /^(n|no|false)$/i.test(raw)) return false;
      throw new GeneratorError(`--${spec.flag} takes yes or no (or --${spec.flag} / --no-${spec.flag})`);
    case "list":
      if (typeof raw === "boolean") {
        if (raw === false) return [];
        throw new GeneratorError(`--${spec.flag} needs a value (comma-separated for several)`);
      }
      return splitList(raw);
    case "text":
      if (typeof raw !== "string") throw new GeneratorError(`--${spec.flag} needs a value`);
      return raw.trim();
  }
}

/**
 * Answers from flags; what is missing comes from `ask` (a terminal), else from the default, else it is an error
 * that names every missing flag.
 */
export async function resolveAnswers(
  specs: PromptSpec[],
  flags: Flags,
  options: { ask?: (missing: PromptSpec[], given: Answers) => Promise<Answers>; generator: string },
): Promise<Answers> {
  const known = new Set(specs.map((s) => s.flag).concat(["yes", "root"]));
  for (const key of Object.keys(flags)) {
    if (!known.has(key)) {
      throw new GeneratorError(`unknown flag --${key} for ${options.generator}; it takes ${specs.map((s) => `--${s.flag}`).join(", ")}, --yes`);
    }
  }
  const answers: Answers = {};
  const missing: PromptSpec[] = [];
  for (const spec of specs) {
    const raw = flags[spec.flag];
    if (raw !== undefined) answers[spec.name] = coerce(spec, raw);
    else missing.push(spec);
  }
  if (missing.length && options.ask && flags.yes !== true) {
    Object.assign(answers, await options.ask(missing, answers));
    return answers;
  }
  const required = missing.filter((s) => s.default === undefined);
  if (required.length) {
    const list = required.map((s) => `--${s.flag} (${s.message.replace(/[?:]\s*$/, "")})`).join(", ");
    throw new GeneratorError(`missing ${list}; without a terminal every answer without a default must come from a flag`);
  }
  for (const spec of missing) answers[spec.name] = defaultOf(spec, answers)!;
  return answers;
}

/** A question's default, derived from the answers given so far when it is a function. */
export function defaultOf(spec: PromptSpec, given: Answers): string | string[] | boolean | undefined {
  return typeof spec.default === "function" ? spec.default(given) : spec.default;
}
