import { join, resolve } from "node:path";
import type { BundleSettings } from "../../runtime/bundle-options";
import { BundleError, FunctionBuilds, functionBuilds } from "../../infra/helpers/bundle";

/** The repository root (this file is `shared/local/lambda/bundle.ts`). */
export const REPO_ROOT = resolve(__dirname, "../../..");
/** Where the local stage keeps what only it builds (the worker runtime, the DynamoDB worker): `<repo>/.build/local/`. */
export const LOCAL_BUILD_ROOT = join(REPO_ROOT, ".build", "local");

/** What to bundle. */
export interface LocalBundleRequest {
  /** The function's AWS name (`<stage>-<service>-<name>`), for messages. */
  name: string;
  /** The handler's entry file; absolute, or relative to the repository root. */
  entry: string;
  /**
   * The settings the deploy builds this function with (its registration's `settings`).
   * @default {} (the bundle options' defaults)
   */
  settings?: BundleSettings;
  /**
   * A build folder of its own, apart from the deploy's.
   * @default the deploy's: `<repo>/.build/functions` (shared/infra/helpers/bundle.ts)
   */
  buildRoot?: string;
  /**
   * Files known to have changed since the last build (a watcher's batch): when one of them fed the last bundle, it
   * is rebuilt without checking the manifest first.
   * @default none
   */
  changed?: readonly string[];
}

/** A function's bundle, ready to load. */
export interface LocalBundle {
  /** Absolute path of the bundle file (`.../functions/<hash>/index.mjs`). */
  file: string;
  /** Its folder (the function's `LAMBDA_TASK_ROOT`): the folder the deploy archives. */
  dir: string;
  /** ESM or CommonJS, as the bundle options chose. */
  format: "esm" | "cjs";
  /** SHA-256 of the bundle's files: the deployed function's `sourceCodeHash`. */
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

const ownRoots = new Map<string, FunctionBuilds>();

/** The build service of a build folder: the deploy's shared one by default. */
function buildsFor(buildRoot: string | undefined): FunctionBuilds {
  if (buildRoot === undefined) return functionBuilds;
  const root = join(resolve(buildRoot), "functions");
  let builds = ownRoots.get(root);
  if (!builds) ownRoots.set(root, (builds = new FunctionBuilds({ root })));
  return builds;
}

/**
 * The bundle of a handler, from the deploy's build service (`functionBuilds`, shared/infra/helpers/bundle.ts): the
 * very bytes and folder `ServiceFunction` deploys for the same entry and settings, built once per content and
 * answered from its manifest while no input changed. A changed file gives a new hash and a new folder, so workers
 * already running keep their own copy.
 * @throws LocalBundleError when esbuild fails (with its messages, file and line)
 */
export async function bundleLocalFunction(request: LocalBundleRequest): Promise<LocalBundle> {
  try {
    const bundle = await buildsFor(request.buildRoot).build(
      { entry: request.entry, settings: request.settings ?? {}, label: request.name },
      { changed: request.changed ?? [] },
    );
    return { file: bundle.file, dir: bundle.dir, format: bundle.format, hash: bundle.hash, cached: bundle.cached, inputs: bundle.inputs };
  } catch (error) {
    if (error instanceof BundleError) throw new LocalBundleError(error.message, { cause: error });
    throw error;
  }
}
