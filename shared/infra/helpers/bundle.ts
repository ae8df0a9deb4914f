import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { buildSync } from "esbuild";
import { bundleOptions, type BundleSettings } from "../../runtime/bundle-options";
import { esbuildTarget, type NodejsRuntime } from "./runtimes";

/** The repository root (this file is `shared/infra/helpers/bundle.ts`). */
export const REPO_ROOT = resolve(__dirname, "../../..");
/** Where bundles go: `<repo>/.build/<service>/<function>/`. */
export const BUILD_ROOT = join(REPO_ROOT, ".build");

export interface BundleRequest {
  service: string;
  /** Logical function name inside the service. */
  name: string;
  /** Absolute path of the handler's entry file. */
  entry: string;
  /** The handler's export. */
  exportName: string;
  runtime: NodejsRuntime;
}

export interface Bundle {
  /** Absolute folder holding the bundle: what the function's `FileArchive` deploys. */
  dir: string;
  /** `dir` relative to the repository root, `/`-separated. */
  relativeDir: string;
  /** The bundle's file name (`index.mjs`). */
  file: string;
  /** Lambda's `handler` setting (`index.handler`). */
  handler: string;
  format: "esm" | "cjs";
  /** The entry relative to the repository root, `/`-separated. */
  entry: string;
  /** The settings given to `bundleOptions` (shared/runtime/bundle-options.ts): the local stage builds with the same. */
  settings: BundleSettings;
}

export class BundleError extends Error {
  override name = "BundleError";
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

/** The folder of one function's bundle. */
export function bundleDir(service: string, name: string): string {
  return join(BUILD_ROOT, service, name);
}

/**
 * Bundles one handler with esbuild into `.build/<service>/<function>/`: one tree-shaken file per function.
 * Fails when the handler pulls in Pulumi code (a handler must never import `shared/infra` or `@pulumi/*`) or does
 * not export its handler. Files are written atomically (temporary file, then rename), so programs that run at the
 * same time (parallel test files) never see half a bundle.
 */
export function bundleHandler(request: BundleRequest): Bundle {
  const entry = toPosix(relative(REPO_ROOT, request.entry));
  const label = `handler ${entry} of ${request.service}/${request.name}`;
  if (!existsSync(request.entry)) {
    throw new BundleError(`${label} does not exist (handlers are resolved from the project folder)`);
  }
  const dir = bundleDir(request.service, request.name);
  const outfile = join(dir, "index.mjs");
  // The shared options (shared/runtime/bundle-options.ts): the local stage and the benchmarks build the same way.
  const settings: BundleSettings = { target: esbuildTarget(request.runtime) };
  const options = bundleOptions(request.entry, outfile, settings);
  const format = options.format === "cjs" ? "cjs" : "esm";
  let result;
  try {
    result = buildSync({ ...options, absWorkingDir: REPO_ROOT, metafile: true, write: false, logLevel: "silent" });
  } catch (err) {
    throw new BundleError(`${label} does not build: ${(err as Error).message}`, { cause: err });
  }
  const pulumiInputs = Object.keys(result.metafile.inputs).filter((input) => input.includes("node_modules/@pulumi/"));
  if (pulumiInputs.length) {
    throw new BundleError(
      `${label} pulls Pulumi into its bundle (${pulumiInputs.slice(0, 3).join(", ")}): handlers must not import @pulumi/* (nor shared/infra, which does)`,
    );
  }
  const output = result.metafile.outputs[toPosix(relative(REPO_ROOT, outfile))];
  if (format === "esm" && output && !output.exports.includes(request.exportName)) {
    throw new BundleError(`${label} does not export "${request.exportName}" (it exports ${output.exports.join(", ") || "nothing"})`);
  }

  mkdirSync(dir, { recursive: true });
  const written = new Set<string>();
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.${Date.now()}.tmp`;
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
    written.add(basename(file.path));
  }
  // Remove what an earlier build left behind (another format, a chunk), but not another process's temporary files.
  for (const stale of readdirSync(dir)) {
    if (!written.has(stale) && !stale.endsWith(".tmp")) rmSync(join(dir, stale), { recursive: true, force: true });
  }
  const file = basename(outfile);
  return {
    dir,
    relativeDir: toPosix(relative(REPO_ROOT, dir)),
    file,
    handler: `${file.slice(0, file.lastIndexOf("."))}.${request.exportName}`,
    format,
    entry,
    settings,
  };
}
