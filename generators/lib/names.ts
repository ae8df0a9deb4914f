import { GeneratorError } from "./errors";

const KEBAB = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Names that would collide with folders, tooling or AWS conventions. */
const RESERVED = new Set([
  "platform", "shared", "services", "generators", "scripts", "node-modules", "test", "tests", "lib", "src",
  "aws", "amazon", "pulumi", "local", "index", "default", "new", "null", "undefined", "constructor", "prototype",
]);

export interface NameRule {
  /** What the name is, for messages ("service name"). */
  what: string;
  /** The flag that sets it, for messages (`--name`). */
  flag: string;
  maxLength: number;
  /** Reserved words are refused unless the rule says otherwise. */
  allowReserved?: boolean;
}

/** Checks a kebab-case name; the error says what is wrong and which flag to change. */
export function checkName(value: string, rule: NameRule): string {
  const v = value.trim();
  const where = `${rule.what} "${value}" (${rule.flag})`;
  if (!v) throw new GeneratorError(`${rule.what} is empty (${rule.flag})`);
  if (v.includes("/") || v.includes("\\")) throw new GeneratorError(`${where} contains a path separator`);
  if (v.includes("..")) throw new GeneratorError(`${where} contains ".."`);
  if (v.length > rule.maxLength) {
    throw new GeneratorError(`${where} is ${v.length} characters long; at most ${rule.maxLength}`);
  }
  if (!KEBAB.test(v)) {
    throw new GeneratorError(`${where} is not kebab-case: lowercase letters, digits and single dashes, starting with a letter (e.g. "billing")`);
  }
  if (!rule.allowReserved && RESERVED.has(v)) throw new GeneratorError(`${where} is reserved; choose another`);
  return v;
}

export const camel = (kebab: string): string => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
export const pascal = (kebab: string): string => {
  const c = camel(kebab);
  return c.charAt(0).toUpperCase() + c.slice(1);
};
