import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { GeneratorError } from "./errors";

/** One file a generator writes: a new file, or a new version of a file it read (`expected` = what it read). */
export type FileChange =
  | { kind: "create"; path: string; content: string }
  | { kind: "update"; path: string; content: string; expected: string };

/** A root-relative path that cannot escape the root. */
function resolveInside(root: string, path: string): string {
  if (isAbsolute(path)) throw new GeneratorError(`internal: ${path} must be relative to the repository`);
  const full = join(root, path);
  const rel = relative(root, full);
  if (rel.startsWith("..") || rel.split(sep).includes("..")) throw new GeneratorError(`${path} is outside the repository`);
  return full;
}

/**
 * Writes every change or none. First checks all of them (a file to create must not exist, a file to update must
 * still hold what the generator read), then writes each to a temporary file beside its target, then renames them
 * into place. If anything fails, files created so far are removed, updated files get their old content back, and
 * folders the plan created are removed.
 */
export function applyPlan(root: string, changes: FileChange[]): string[] {
  const seen = new Set<string>();
  for (const change of changes) {
    const full = resolveInside(root, change.path);
    if (seen.has(full)) throw new GeneratorError(`internal: ${change.path} is written twice`);
    seen.add(full);
    if (change.kind === "create" && existsSync(full)) {
      throw new GeneratorError(`${change.path} already exists; nothing was written`);
    }
    if (change.kind === "update") {
      if (!existsSync(full)) throw new GeneratorError(`${change.path} disappeared; nothing was written`);
      if (readFileSync(full, "utf8") !== change.expected) {
        throw new GeneratorError(`${change.path} changed while the generator ran; nothing was written`);
      }
    }
  }

  const createdDirs: string[] = [];
  const temps: string[] = [];
  const done: FileChange[] = [];
  try {
    for (const change of changes) {
      const full = resolveInside(root, change.path);
      let dir = dirname(full);
      const missing: string[] = [];
      while (!existsSync(dir)) {
        missing.unshift(dir);
        dir = dirname(dir);
      }
      for (const d of missing) {
        mkdirSync(d);
        createdDirs.push(d);
      }
      const temp = `${full}.${process.pid}.tmp`;
      writeFileSync(temp, change.content);
      temps.push(temp);
    }
    changes.forEach((change, i) => {
      renameSync(temps[i]!, resolveInside(root, change.path));
      done.push(change);
    });
    return changes.map((c) => c.path);
  } catch (err) {
    for (const change of done) {
      const full = resolveInside(root, change.path);
      if (change.kind === "create") rmSync(full, { force: true });
      else writeFileSync(full, change.expected);
    }
    for (const temp of temps) rmSync(temp, { force: true });
    for (const d of createdDirs.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // not empty: something else lives there now; leave it
      }
    }
    throw new GeneratorError(`writing failed, nothing was changed: ${(err as Error).message}`, { cause: err });
  }
}
