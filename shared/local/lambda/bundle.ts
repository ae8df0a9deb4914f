import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { build, version as esbuildVersion } from "esbuild";
import { bundleOptions, type BundleSettings } from "../../runtime/bundle-options";

/** The repository root (this file is `shared/local/lambda/bundle.ts`). */
export const REPO_ROOT = resolve(__dirname, "../../..");
/** Where the local stage keeps its builds: `<repo>/.build/local/`. */
export const LOCAL_BUILD_ROOT = join(REPO_ROOT, ".build", "local");

/** How many builds of one function are kept (older ones are removed when a new one is written). */
const KEPT_BUILDS = 5;

/** What to bundle. */
export interface LocalBundleRequest {
  /** Names the function's folder under the build root (`<stage>-<service>-<name>`). */
  name: string;
  /** The handler's entry file; absolute, or relative to the repository root. */
  entry: string;
  /**
   * The settings the deploy builds this function with.
   * @default {} (the bundle options' defaults)
   */
  settings?: BundleSettings;
  /**
   * Build folder.
   * @default `<repo>/.build/local`
   */
  buildRoot?: string;
}

/** A function's bundle, ready to load. */
export interface LocalBundle {
  /** Absolute path of the bundle file (`.../<name>/<hash>/index.mjs`). */
  file: string;
  /** Its folder (the function's `LAMBDA_TASK_ROOT`). */
  dir: string;
  /** ESM or CommonJS, as the bundle options chose. */
  format: "esm" | "cjs";
  /** Content hash of the bundle (the folder's name). */
  hash: string;
  /** True when no build ran: every input still had the content recorded for this build. */
  cached: boolean;
  /** Absolute paths of every file that went into the bundle (esbuild's metafile inputs): what a watcher rebuilds it for. */
  inputs: string[];
}

/** The handler could not be bundled; the message carries esbuild's errors. */
export class LocalBundleError extends Error {
  override name = "LocalBundleError";
}

interface Manifest {
  /** Input path (relative to the repository root) -> SHA-256 of its content. */
  inputs: Record<string, string>;
  hash: string;
  file: string;
  format: "esm" | "cjs";
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function hashFile(path: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(path));
  } catch {
    return undefined;
  }
}

async function writeAtomic(path: string, contents: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/** True when every input recorded in the manifest still has the same content, and the bundle is still there. */
async function stillValid(manifest: Manifest): Promise<boolean> {
  if (!(await hashFile(manifest.file))) return false;
  const checks = await Promise.all(Object.entries(manifest.inputs).map(async ([input, hash]) => (await hashFile(join(REPO_ROOT, input))) === hash));
  return checks.every(Boolean);
}

/**
 * Bundles a handler exactly as the deploy does (`bundleOptions` from `shared/runtime/bundle-options`), into
 * `<buildRoot>/<name>/<content hash>/`. A build is skipped when every file that went into the last one (the handler,
 * the shared code, the packages) still has the same content; a changed file gives a new hash and a new folder, so
 * workers already running keep their own copy.
 */
export async function bundleLocalFunction(request: LocalBundleRequest): Promise<LocalBundle> {
  const entry = isAbsolute(request.entry) ? request.entry : resolve(REPO_ROOT, request.entry);
  const settings = request.settings ?? {};
  const root = join(request.buildRoot ?? LOCAL_BUILD_ROOT, request.name.replace(/[^A-Za-z0-9._-]/g, "_"));
  const key = sha256(JSON.stringify({ entry, settings, esbuildVersion })).slice(0, 16);
  const manifestPath = join(root, `build-${key}.json`);

  const previous = await readManifest(manifestPath);
  if (previous && (await stillValid(previous))) {
    const inputs = Object.keys(previous.inputs).map((input) => resolve(REPO_ROOT, input));
    return { file: previous.file, dir: dirname(previous.file), format: previous.format, hash: previous.hash, cached: true, inputs };
  }

  // The outfile only names the output; the content-hash folder is chosen once the content is known.
  const options = bundleOptions(entry, join(root, "out", "index.js"), settings);
  const format = options.format === "cjs" ? "cjs" : "esm";
  const extension = format === "esm" ? ".mjs" : ".cjs";
  const placeholder = join(root, "out", `index${extension}`);
  let result;
  try {
    result = await build({ ...options, outfile: placeholder, absWorkingDir: REPO_ROOT, metafile: true, write: false, logLevel: "silent" });
  } catch (error) {
    const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors;
    const detail = errors?.length
      ? errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text)).join("\n")
      : String(error);
    throw new LocalBundleError(`cannot bundle ${relative(REPO_ROOT, entry)} for ${request.name}:\n${detail}`, { cause: error });
  }

  const main = result.outputFiles.find((file) => file.path === placeholder);
  if (!main) throw new LocalBundleError(`esbuild wrote no ${basename(placeholder)} for ${request.name}`);
  const hash = sha256(main.contents).slice(0, 16);
  const dir = join(root, hash);
  for (const file of result.outputFiles) {
    const target = join(dir, relative(dirname(placeholder), file.path));
    if ((await hashFile(target)) !== sha256(file.contents)) await writeAtomic(target, file.contents);
  }
  const inputs: Record<string, string> = {};
  await Promise.all(
    Object.keys(result.metafile.inputs).map(async (input) => {
      const contentHash = await hashFile(resolve(REPO_ROOT, input));
      if (contentHash) inputs[input] = contentHash;
    }),
  );
  const file = join(dir, basename(placeholder));
  await writeAtomic(manifestPath, JSON.stringify({ inputs, hash, file, format } satisfies Manifest, null, 2));
  await pruneBuilds(root, hash);
  return { file, dir, format, hash, cached: false, inputs: Object.keys(inputs).map((input) => resolve(REPO_ROOT, input)) };
}

/** Keeps the newest builds of a function (and always the current one). */
async function pruneBuilds(root: string, current: string): Promise<void> {
  const entries = await readdir(root, { withFileTypes: true });
  const builds = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory() && /^[0-9a-f]{16}$/.test(entry.name) && entry.name !== current)
      .map(async (entry) => ({ path: join(root, entry.name), mtime: (await stat(join(root, entry.name))).mtimeMs })),
  );
  builds.sort((a, b) => b.mtime - a.mtime);
  await Promise.all(builds.slice(KEPT_BUILDS - 1).map((build) => rm(build.path, { recursive: true, force: true })));
}
