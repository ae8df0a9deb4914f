import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** A config type Pulumi accepts in a project's `config:` block. */
type DeclaredType = "string" | "integer" | "boolean" | "array";

interface Declaration {
  type: DeclaredType;
  default?: unknown;
  description?: string;
  secret?: boolean;
}

export interface StackConfig {
  /** The project's name from `Pulumi.yaml`. */
  project: string;
  stage: string;
  /** Path of the program's entry (`main` in Pulumi.yaml, resolved against the project directory). */
  main: string;
  /** Every value as Pulumi hands it to a program (`PULUMI_CONFIG`): `"<namespace>:<key>"` -> string. */
  values: Record<string, string>;
}

export class StackConfigError extends Error {
  override name = "StackConfigError";
}

function readYaml(path: string): Record<string, unknown> {
  try {
    const parsed: unknown = parse(readFileSync(path, "utf8"));
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the document is not a mapping");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new StackConfigError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function serialize(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function checkType(key: string, type: DeclaredType, value: unknown, file: string): void {
  const ok =
    type === "string"
      ? typeof value === "string"
      : type === "integer"
        ? typeof value === "number" && Number.isInteger(value)
        : type === "boolean"
          ? typeof value === "boolean"
          : Array.isArray(value);
  if (!ok) {
    throw new StackConfigError(`${key} in ${file} must be ${type === "integer" ? "an" : "a"} ${type}, got ${JSON.stringify(value)}`);
  }
}

/**
 * Merges a project's declared config (types and defaults in `Pulumi.yaml`) with a stage's values
 * (`Pulumi.<stage>.yaml`) the way the Pulumi CLI does before it starts a program, and checks each value against its
 * declared type. Tests and the local stage use it so a program sees exactly what `pulumi up` would give it.
 *
 * Stricter than the CLI in one way: a key in the project's own namespace that `Pulumi.yaml` does not declare is an
 * error (a typo would otherwise be silently ignored).
 *
 * @param projectDir folder holding `Pulumi.yaml`
 * @param stage stack name; its file may be absent only when `optionalStageFile` is set (the local stage)
 */
export function loadStackConfig(
  projectDir: string,
  stage: string,
  options: { optionalStageFile?: boolean; overrides?: Record<string, unknown> } = {},
): StackConfig {
  const projectFile = join(projectDir, "Pulumi.yaml");
  if (!existsSync(projectFile)) throw new StackConfigError(`no Pulumi.yaml in ${projectDir}`);
  const project = readYaml(projectFile);
  const name = project.name;
  if (typeof name !== "string" || !name) throw new StackConfigError(`${projectFile} has no project name`);
  const main = typeof project.main === "string" ? project.main : "index.ts";

  const declared = (project.config ?? {}) as Record<string, unknown>;
  const declarations = new Map<string, Declaration>();
  const values: Record<string, string> = {};
  for (const [rawKey, decl] of Object.entries(declared)) {
    const key = rawKey.includes(":") ? rawKey : `${name}:${rawKey}`;
    if (decl !== null && typeof decl === "object" && !Array.isArray(decl) && ("type" in decl || "default" in decl)) {
      const d = decl as Declaration;
      const type = d.type ?? (typeof d.default === "number" ? "integer" : typeof d.default === "boolean" ? "boolean" : "string");
      declarations.set(key, { ...d, type });
      if (d.default !== undefined) {
        checkType(key, type, d.default, projectFile);
        values[key] = serialize(d.default);
      }
    } else if (decl !== null && typeof decl === "object" && "value" in decl) {
      values[key] = serialize((decl as { value: unknown }).value);
    } else {
      values[key] = serialize(decl);
    }
  }

  const stageFile = join(projectDir, `Pulumi.${stage}.yaml`);
  if (existsSync(stageFile)) {
    const stageConfig = (readYaml(stageFile).config ?? {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(stageConfig)) {
      if (!key.includes(":")) {
        throw new StackConfigError(`${key} in ${stageFile} needs a namespace, e.g. ${name}:${key}`);
      }
      if (value !== null && typeof value === "object" && "secure" in value) {
        throw new StackConfigError(`${key} in ${stageFile} is a secret; secrets cannot be decrypted offline`);
      }
      const decl = declarations.get(key);
      if (key.startsWith(`${name}:`) && !decl) {
        const known = [...declarations.keys()].join(", ");
        throw new StackConfigError(`${key} in ${stageFile} is not declared in ${projectFile} (known keys: ${known})`);
      }
      if (decl) checkType(key, decl.type, value, stageFile);
      values[key] = serialize(value);
    }
  } else if (!options.optionalStageFile) {
    throw new StackConfigError(`no stage file ${stageFile}: create it, or pick one of the project's stages`);
  }

  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    const decl = declarations.get(key);
    if (decl) checkType(key, decl.type, value, "overrides");
    if (value === undefined) delete values[key];
    else values[key] = serialize(value);
  }

  return { project: name, stage, main: join(projectDir, main), values };
}

/** Every service project under `root`: `services/<name>/` folders holding a `Pulumi.yaml`, sorted by name. */
export function serviceProjectDirs(root: string): string[] {
  const services = join(root, "services");
  if (!existsSync(services)) return [];
  return readdirSync(services, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(services, entry.name, "Pulumi.yaml")))
    .map((entry) => join(services, entry.name))
    .sort();
}
