import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { Repo } from "../lib/repo";

export const REPO = join(__dirname, "..", "..");

/** A copy of the repository's working tree (tracked and untracked files git does not ignore), node_modules linked. */
export function copyRepo(prefix = "generators-"): string {
  const dest = mkdtempSync(join(tmpdir(), prefix));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: REPO, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const file of files) {
    const from = join(REPO, file);
    if (!statSync(from, { throwIfNoEntry: false })?.isFile()) continue; // deleted but still tracked
    cpSync(from, join(dest, file), { recursive: false });
  }
  symlinkSync(join(REPO, "node_modules"), join(dest, "node_modules"));
  return dest;
}

/**
 * `base`, else `base2`, `base3`, ...: the first name that no folder under `root`/services and no event domain of its
 * catalog uses. The tests run in users' repositories too, where `shipping` (the README's example) may well exist.
 */
export function unusedServiceName(root: string, base: string): string {
  const repo = new Repo(root);
  const services = new Set(existsSyncDir(join(root, "services")) ? readdirSync(join(root, "services")) : []);
  const domains = new Set([...repo.catalog().keys()].map((type) => type.split(".")[0]));
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}${n}`;
    if (!services.has(name) && !domains.has(name)) return name;
  }
}

/** An event type in `domain` that the catalog of `root` does not have. */
export function unknownEventType(root: string, domain: string, base: string): string {
  const catalog = new Repo(root).catalog();
  for (let n = 1; ; n++) {
    const type = `${domain}.${n === 1 ? base : `${base}-${n}`}`;
    if (!catalog.has(type)) return type;
  }
}

const existsSyncDir = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;

/** Path -> content hash of every file under `root` (node_modules excluded): equal maps mean an unchanged tree. */
export function treeHashes(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === ".build") continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.set(relative(root, full), createHash("sha1").update(readFileSync(full)).digest("hex"));
    }
  };
  walk(root);
  return out;
}

/** Runs `npm run <script> -- args` in `cwd` without a terminal; returns exit code and output. */
export function npmRun(cwd: string, script: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync("npm", ["run", "--silent", script, "--", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Splits a shell command line the way sh would for plain words and double-quoted strings. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? m[3]!));
  return words;
}

/** The `npm run new-*` commands of the README's "Example services" block, as [script, args]. */
export function readmeGeneratorCommands(): [string, string[]][] {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const block = /<!-- example-services -->\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error("README.md has no <!-- example-services --> block");
  return block[1]!
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("npm run new-"))
    .map((l) => {
      const [, , script, , ...args] = shellWords(l);
      return [script!, args];
    });
}

export { dirname };
