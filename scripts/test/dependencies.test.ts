// package.json stays honest: knip (configured in knip.jsonc) finds no dependency that nothing uses, no package the
// code imports without listing it, no import that does not resolve and no file that nothing reaches. The other
// cases run the same check on a scratch copy of the repository that breaks one of those, and expect it to fail
// naming the culprit.
//
//   node --import tsx scripts/test/dependencies.test.ts
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = join(__dirname, "..", "..");
const KNIP = join(ROOT, "node_modules", "knip", "bin", "knip.js");
// Folders a copy leaves out: installed packages (linked instead), git's store, build and local-stage output.
const NOT_COPIED = new Set(["node_modules", ".git", ".build", ".local", "coverage"]);

interface Issue {
  name: string;
}
interface FileIssues {
  file: string;
  dependencies: Issue[];
  devDependencies: Issue[];
  unlisted: Issue[];
  unresolved: Issue[];
  binaries: Issue[];
  files?: Issue[];
}
interface KnipResult {
  status: number | null;
  text: string;
  report: { issues: FileIssues[] } | undefined;
}

function knip(dir: string, reporter: "symbols" | "json" = "json"): KnipResult {
  const run = spawnSync(process.execPath, [KNIP, "--no-progress", "--no-config-hints", "--reporter", reporter], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  if (run.error) throw run.error;
  const text = `${run.stdout}${run.stderr}`;
  let report: KnipResult["report"];
  if (reporter === "json") {
    try {
      report = JSON.parse(run.stdout);
    } catch {
      report = undefined;
    }
  }
  return { status: run.status, text, report };
}

/** A copy of the working tree (sources, configs, workflows) that shares the installed node_modules. */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "deps-check-"));
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (source) => {
      const rel = relative(ROOT, source);
      return !rel.split(/[\\/]/).some((part) => NOT_COPIED.has(part));
    },
  });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

function editPackageJson(dir: string, edit: (pkg: Record<string, Record<string, string>>) => void): void {
  const file = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(file, "utf8"));
  edit(pkg);
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}

function names(report: KnipResult["report"], kind: "dependencies" | "devDependencies" | "unlisted" | "unresolved" | "binaries"): string[] {
  return (report?.issues ?? []).flatMap((entry) => (entry[kind] ?? []).map((issue) => issue.name));
}

test("package.json lists exactly what the code uses, and every file is reached", () => {
  const result = knip(ROOT, "symbols");
  assert.is(result.status, 0, `knip found problems (fix package.json or knip.jsonc; see its header):\n${result.text}`);
});

// One scratch copy broken three ways, checked once (each run costs seconds); each case asks for its culprit. (The
// first case proves the unbroken repository is clean, so whatever else the copy reports is not the point here.)
let broken: KnipResult | undefined;
function brokenCopy(): KnipResult {
  if (broken) return broken;
  const dir = scratchCopy();
  try {
    editPackageJson(dir, (pkg) => {
      // both installed (the AWS SDK brings them) and imported nowhere, so only "unused" can be the complaint
      // (not @smithy/node-http-handler: the runtime's Kinesis client imports it, so it is a listed dependency)
      pkg.dependencies!["@smithy/fetch-http-handler"] = "5.0.0";
      pkg.devDependencies!["@smithy/types"] = "4.0.0";
      // yaml stays installed (other packages depend on it): only its listing is gone
      delete pkg.dependencies!.yaml;
    });
    writeFileSync(join(dir, "shared", "runtime", "forgotten.ts"), "export const forgotten = 1;\n");
    broken = knip(dir);
    return broken;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the check fails on a broken copy of the repository", () => {
  const result = brokenCopy();
  assert.is(result.status, 1, result.text);
  assert.ok(result.report, `no JSON report:\n${result.text}`);
});

test("a dependency nothing imports is reported by name", () => {
  const { report } = brokenCopy();
  assert.ok(names(report, "dependencies").includes("@smithy/fetch-http-handler"), JSON.stringify(report));
  assert.ok(names(report, "devDependencies").includes("@smithy/types"), JSON.stringify(report));
});

test("a package the code imports but package.json does not list is reported by name", () => {
  const { report } = brokenCopy();
  assert.ok(names(report, "unlisted").includes("yaml"), JSON.stringify(report));
});

test("a source file nothing reaches is reported by path", () => {
  const { report } = brokenCopy();
  const unreached = (report?.issues ?? []).filter((entry) => entry.files?.length).map((entry) => entry.file);
  assert.ok(unreached.includes("shared/runtime/forgotten.ts"), JSON.stringify(unreached));
});

test.run();
