/**
 * asl-validator's verdicts, kept: the validator builds a new Ajv and compiles its fifteen JSON schemas on every call
 * (100-300 ms on this machine), and a workflow's definition is checked twice per start of the local stage (by the
 * program, `validateAsl` in workflow.ts, and by the local interpreter when the stage loads it). A definition it
 * accepted is recorded (in this process, and as an empty file under `.build/asl-validation/` for the next start),
 * keyed by the SHA-256 of the validator's version, the options and the definition's JSON; a recorded definition is
 * not checked again. Refusals are not recorded: they are checked again, so their message is always the validator's.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The options asl-validator takes (the ones the program and the local interpreter pass). */
export interface AslValidationOptions {
  checkPaths?: boolean;
  checkArn?: boolean;
}

/** Where accepted definitions are recorded. */
export const ASL_VALIDATION_ROOT = join(__dirname, "..", "..", "..", ".build", "asl-validation");

const accepted = new Set<string>();
let validatorVersion: string | undefined;

function keyOf(definition: unknown, options: AslValidationOptions): string {
  validatorVersion ??= (JSON.parse(readFileSync(require.resolve("asl-validator/package.json"), "utf8")) as { version: string }).version;
  const sortedOptions = Object.fromEntries(Object.entries(options).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256").update(JSON.stringify([validatorVersion, sortedOptions, definition])).digest("hex").slice(0, 32);
}

/** Whether asl-validator accepted this definition with these options before (in this process or an earlier one). */
export function aslAccepted(definition: unknown, options: AslValidationOptions, root = ASL_VALIDATION_ROOT): boolean {
  const key = keyOf(definition, options);
  if (accepted.has(`${root}:${key}`)) return true;
  if (!existsSync(join(root, key))) return false;
  accepted.add(`${root}:${key}`);
  return true;
}

/** Records that asl-validator accepted this definition with these options (call it with the definition as it was checked). */
export function recordAslAccepted(definition: unknown, options: AslValidationOptions, root = ASL_VALIDATION_ROOT): void {
  const key = keyOf(definition, options);
  accepted.add(`${root}:${key}`);
  try {
    mkdirSync(root, { recursive: true });
    const temporary = join(root, `${key}.${process.pid}.tmp`);
    writeFileSync(temporary, "");
    renameSync(temporary, join(root, key));
  } catch {
    // the record is an optimisation: without it the next start checks again
  }
}
