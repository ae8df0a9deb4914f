/**
 * Function builds: every handler is bundled once per content, outside the Pulumi component that deploys it, and the
 * deploy and the local stage use the very same bytes.
 *
 * - A build request is the handler's entry file plus the bundle settings (`bundleOptions` in
 *   shared/runtime/bundle-options.ts: ESM, the AWS SDK bundled, the runtime's target). Its key hashes those with
 *   esbuild's version.
 * - `FunctionBuilds.build(request)` runs esbuild once and writes the output into `.build/functions/<hash>/`, where
 *   `<hash>` is the SHA-256 of the output files (names and bytes): the deployed archive (`FileArchive` of that
 *   folder, with the hash as the function's `sourceCodeHash`) and what the local stage's function host loads.
 *   A manifest per request (`.build/functions/requests/<key>.json`) records every input file esbuild read (its
 *   metafile inputs: the handler, what it imports, the packages) with the SHA-256 of its content and, once its times
 *   are a few seconds old, its stamp (size, modification and status-change times, inode). The next build of the
 *   same request checks those files (an input whose stamp is unchanged is not read again, in this process or the
 *   next: a write always moves the status-change time) and, when none changed, answers from the manifest without
 *   running esbuild (`cached: true`), in this process or the next. A change to the handler or to any file it imports gives
 *   new bytes, a new hash and a new folder; folders of earlier builds stay a while (running workers keep theirs).
 * - A process that was answered a bundle holds a lease on its folder (`.build/functions/leases/<folder>~<host>~<pid>`,
 *   removed at its exit): the clean-up (a prune, at most every ten minutes per process) removes only folders no
 *   manifest lists, older than ten minutes, that no live process holds, so a long test run or a stage started long
 *   ago never loses a bundle it may still load (a worker started after a crash, a rebuild answered from cache) to
 *   another process's clean-up. A lease of a process that is gone (its pid no longer runs, or runs a process started
 *   later: the lease records its writer's start) is removed by the prune.
 * - Concurrent builds of one request share one esbuild run; files are written atomically, so processes that build
 *   at the same time (parallel tests) never see half a bundle.
 * - `ServiceFunction` (shared/infra/service-function.ts) asks for its bundle lazily (an Output), so its constructor
 *   runs no esbuild, and under Pulumi's mocks it asks for none at all (the local stage, the guardrails and the tests
 *   capture programs without building); it registers the request (entry, export, settings) as its inputs, from which
 *   the local stage asks the same service for the same bundle.
 *
 * For watch mode (shared/local): `functionBuilds.build(request)` again after a file changed rebuilds that function's
 * bundle and answers the new `file`, `dir` and `hash` (the same ones when nothing it reads changed), and
 * `functionBuilds.fedBy(path)` answers the requests whose last bundle read that file (esbuild's metafile inputs,
 * absolute paths in `FunctionBundle.inputs`): the functions to rebuild when it changes. `stats` counts esbuild runs
 * and cache hits.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { build as esbuild, context as esbuildContext, version as esbuildVersion, type BuildContext, type BuildOptions, type BuildResult, type Metafile } from "esbuild";
import { bundleOptions, type BundleSettings } from "../../runtime/bundle-options";

/** The repository root (this file is `shared/infra/helpers/bundle.ts`). */
export const REPO_ROOT = resolve(__dirname, "../../..");
/** Where builds go: `<repo>/.build/`. */
export const BUILD_ROOT = join(REPO_ROOT, ".build");
/** Where function bundles go: `<repo>/.build/functions/<hash>/`. */
export const FUNCTION_BUILD_ROOT = join(BUILD_ROOT, "functions");

/** What to bundle: one handler with one set of bundle settings. */
export interface FunctionBuildRequest {
  /** The handler's entry file: absolute, or relative to the repository root. */
  entry: string;
  /**
   * The settings given to `bundleOptions` (the function component derives them from the runtime).
   * @default {}
   */
  settings?: BundleSettings;
  /**
   * The export the function calls; checked against the bundle's exports. Not part of the key (an ES module keeps
   * every export of the entry).
   * @default not checked
   */
  exportName?: string;
  /** Names the function in error messages (`billing/on-order-placed`). */
  label?: string;
}

/** One built bundle. */
export interface FunctionBundle {
  /** SHA-256 (hex) of the bundle's files, names and bytes: the function's `sourceCodeHash`. */
  hash: string;
  /** Absolute folder holding exactly the bundle's files: what the function's `FileArchive` deploys. */
  dir: string;
  /** Absolute path of the bundle file (`<dir>/index.mjs`). */
  file: string;
  /** ESM or CommonJS, as `bundleOptions` chose (Lambda's `handler` setting: {@link handlerSetting}). */
  format: "esm" | "cjs";
  /** The entry relative to the repository root, `/`-separated. */
  entry: string;
  /** The settings it was built with. */
  settings: BundleSettings;
  /** The entry's exports. */
  exports: string[];
  /** Absolute paths of every file esbuild read for it (its metafile inputs): a change to any gives a new build. */
  inputs: string[];
  /** True when no esbuild ran: every input still had the content recorded by the build that made it. */
  cached: boolean;
  /** The request's key (esbuild version, entry, settings). */
  key: string;
}

export class BundleError extends Error {
  override name = "BundleError";
}

/** The file name of a bundle of this format (`index.mjs`), as `bundleOptions` makes it. */
export function bundleFileName(settings: BundleSettings = {}): string {
  return bundleOptions("index.ts", "index.js", settings).format === "cjs" ? "index.cjs" : "index.mjs";
}

/** Lambda's `handler` setting for a bundle file and export: `index.handler`. */
export function handlerSetting(file: string, exportName: string): string {
  const name = basename(file);
  return `${name.slice(0, name.lastIndexOf("."))}.${exportName}`;
}

interface Manifest {
  key: string;
  entry: string;
  settings: BundleSettings;
  /** Input path (relative to the repository root) -> SHA-256 of its content. */
  inputs: Record<string, string>;
  /**
   * Input path -> its size, modification and status-change times when it was hashed (only inputs whose times were
   * already settled then): the next process checks an input whose stat still says exactly that without reading it.
   */
  stamps?: Record<string, Stamp>;
  hash: string;
  /** The bundle file, relative to the build root. */
  file: string;
  format: "esm" | "cjs";
  exports: string[];
  /** Hashes this request built before (newest first): their folders are kept while listed. */
  previous: string[];
}

/** A file's `[size, mtimeMs, ctimeMs, ino]`: any write changes the ctime, which no tool can set back. */
type Stamp = [number, number, number, number];

function stampOf(info: { size: number; mtimeMs: number; ctimeMs: number; ino: number }): Stamp {
  return [info.size, info.mtimeMs, info.ctimeMs, info.ino];
}

function sameStamp(a: Stamp | undefined, b: Stamp): boolean {
  return !!a && a.length === 4 && a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/**
 * A stamp is trusted only once the file's times are older than this: a file written again within the file system's
 * timestamp granularity may keep its size and times, so recent files are always read again.
 */
const SETTLED_MS = 2_000;

/** Builds of one request kept on disk besides the current one (workers of a running stage may still load them). */
const KEPT_BUILDS = 4;

/**
 * Bundle folders no manifest lists and no live process holds are removed once they are this old; a process prunes at
 * most once per this interval (a prune reads every manifest of the build folder: hundreds, tens of MB, after a few
 * test runs).
 */
const PRUNE_AFTER_MS = 10 * 60_000;

/**
 * A lease names its host: a process of another host sharing the build folder cannot be checked, so its leases hold
 * until they are this old.
 */
const FOREIGN_LEASE_MS = 24 * 3_600_000;

/** This machine, as lease file names spell it (no `~`, no path separator). */
const LEASE_HOST = hostname().replace(/[^A-Za-z0-9._-]/g, "_") || "host";

/** Lease files this process wrote (any build folder): removed when it exits. */
const heldLeases = new Set<string>();
let releaseAtExit = false;

/** True while a process with this id runs (signal 0 checks without sending anything). */
function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A process's start as its lease records it (Linux: its start time in clock ticks since boot, from /proc), so that a
 * lease left by a killed process is not held by a later process that got the same pid; undefined where it cannot be
 * read (the pid alone decides then).
 */
function processStart(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (in parentheses, which may hold spaces): the start time is the 22nd of the line.
    const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return started ? `started ${started}` : undefined;
  } catch {
    return undefined;
  }
}

/** True while the process that wrote a lease (its pid, and its start when the lease recorded one) runs. */
async function leaseHolderRuns(path: string, pid: number): Promise<boolean> {
  if (!processRuns(pid)) return false;
  const recorded = await readFile(path, "utf8").catch(() => "");
  if (!recorded) return true;
  const now = processStart(pid);
  return now === undefined || now === recorded;
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

async function writeAtomic(path: string, contents: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

function esbuildMessages(error: unknown): string {
  const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors;
  return errors?.length
    ? errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text)).join("\n")
    : String((error as Error).message ?? error);
}

/** Options of a {@link FunctionBuilds}. */
export interface FunctionBuildsOptions {
  /**
   * Build folder.
   * @default `<repo>/.build/functions`
   */
  root?: string;
  /**
   * How old a file's times must be before its stamp is trusted instead of reading it (see {@link SETTLED_MS}).
   * @default 2000
   */
  settledMs?: number;
  /**
   * Incremental contexts kept at most (each holds its inputs' parse in esbuild's process, 60-80 MB for a handler
   * with the AWS SDK): past it, the least recently built one goes. An edit to shared code rebuilds every function,
   * and a context per function of a large stage would hold gigabytes.
   * @default 8
   */
  maxContexts?: number;
}

/**
 * The build service: bundles handlers once per content (see this file's header). One instance per process
 * ({@link functionBuilds}) serves the function component and the local stage.
 */
export class FunctionBuilds {
  readonly root: string;
  /** esbuild runs, answers from a manifest and files read to hash them, since this instance was made. */
  readonly stats = { esbuildRuns: 0, cacheHits: 0, filesRead: 0, manifestChecks: 0, prunes: 0 };
  private readonly settledMs: number;
  private readonly maxContexts: number;
  private readonly inFlight = new Map<string, Promise<FunctionBundle>>();
  private readonly last = new Map<string, { request: FunctionBuildRequest; bundle: FunctionBundle }>();
  /** Content hashes of files by path, valid while their stamp (size, times, inode) stays. */
  private readonly fileHashes = new Map<string, { stamp: Stamp; hash: string }>();
  /** Hashes under way by path: concurrent checks of one file (bundles share most inputs) share one stat and read. */
  private readonly hashing = new Map<string, Promise<{ hash: string; stamp?: Stamp } | undefined>>();
  /**
   * Keep an esbuild context per request once it has been built, so that its next build (a file it reads changed) is
   * incremental: esbuild parses again only the files that changed, and writes the same bytes a fresh build would.
   * Off by default (a context holds its inputs' parse in memory until {@link dispose}); watch mode turns it on.
   */
  incremental = false;
  /** Incremental contexts by key, least recently built first. */
  private readonly contexts = new Map<string, Promise<BuildContext>>();
  /** Keys whose context is building now (not to be disposed under it). */
  private readonly rebuilding = new Set<string>();
  /** The manifest this process last wrote or validated, by key. */
  private readonly manifests = new Map<string, Manifest>();
  /** The prune under way (it runs after the build that caused it has answered). */
  private pruning: Promise<void> | undefined;
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(options: FunctionBuildsOptions = {}) {
    this.root = options.root ?? FUNCTION_BUILD_ROOT;
    this.settledMs = options.settledMs ?? SETTLED_MS;
    this.maxContexts = options.maxContexts ?? 8;
  }

  /** The key of a request: esbuild's version, the entry (relative to the repository root) and the settings. */
  key(request: FunctionBuildRequest): string {
    const settings = request.settings ?? {};
    const sorted = Object.fromEntries(Object.entries(settings).sort(([a], [b]) => a.localeCompare(b)));
    // The options themselves too: a change to bundle-options.ts (an alias, a flag) must not be answered from a manifest.
    const options = bundleOptions(this.entryOf(request), "out.mjs", sorted);
    return sha256(JSON.stringify({ esbuildVersion, entry: this.entryOf(request), settings: sorted, options })).slice(0, 24);
  }

  /**
   * The bundle of a request: from its manifest when no input changed, else built now (one esbuild run, shared by
   * concurrent callers). Call it again after a file changed to get the new bundle.
   * @param options.changed files known to have changed (a watcher's batch): when one of them is an input of the
   *   request's last bundle in this process, the manifest is not checked (its ~1,000 inputs stat'ed) and esbuild
   *   runs at once
   * @throws BundleError when the handler is missing, does not build, pulls in Pulumi, or lacks `exportName`
   */
  build(request: FunctionBuildRequest, options: { changed?: readonly string[] } = {}): Promise<FunctionBundle> {
    const key = this.key(request);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.buildNow(request, key, options.changed ?? []).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending.then(async (bundle) => {
      const answered = await this.leased(request, key, bundle);
      if (existsSync(answered.file)) return answered;
      // Another process's prune read the manifests and leases before this build wrote its own (the same bytes as a
      // build superseded long ago: an unlisted, old folder) and removed the folder before the lease: built again
      // (its files written anew), now under the lease.
      return this.leased(request, key, await this.buildNow(request, key, []));
    });
  }

  private async leased(request: FunctionBuildRequest, key: string, bundle: FunctionBundle): Promise<FunctionBundle> {
    this.last.set(key, { request, bundle });
    checkExport(request, bundle);
    // Before the caller can read it: from now on no process's prune removes its folder while this one runs.
    await this.lease(bundle);
    return bundle;
  }

  /** Holds the bundle's folder for this process's life (see this file's header). */
  private async lease(bundle: FunctionBundle): Promise<void> {
    const path = join(this.root, "leases", `${basename(bundle.dir)}~${LEASE_HOST}~${process.pid}`);
    if (heldLeases.has(path)) return;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, processStart("self") ?? "");
    } catch {
      // A build folder this process cannot write to (read-only, another user's): the bundle is still answered, as
      // before leases (a cache hit writes nothing); the next build tries the lease again.
      return;
    }
    heldLeases.add(path);
    if (!releaseAtExit) {
      releaseAtExit = true;
      process.once("exit", () => {
        for (const held of heldLeases) rmSync(held, { force: true });
      });
    }
  }

  /** The folders (by name) some live process holds; leases of processes that are gone are removed on the way. */
  private async heldFolders(): Promise<Set<string>> {
    const dir = join(this.root, "leases");
    const held = new Set<string>();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const [folder, host, pid] = name.split("~");
      if (!folder || !host || !pid) continue;
      const path = join(dir, name);
      const live =
        host === LEASE_HOST
          ? await leaseHolderRuns(path, Number(pid))
          : await stat(path).then(
              (info) => Date.now() - info.mtimeMs < FOREIGN_LEASE_MS,
              () => false,
            );
      if (live) held.add(folder);
      else await rm(path, { force: true });
    }
    return held;
  }

  /** Lets go of the incremental contexts (and turns incremental builds off); waits for a prune under way. */
  async dispose(): Promise<void> {
    this.incremental = false;
    const contexts = [...this.contexts.values()];
    this.contexts.clear();
    await Promise.all([...contexts.map((context) => context.then((c) => c.dispose()).catch(() => undefined)), this.pruning]);
  }

  /** Resolves once the prune under way, if any, is done (builds answer before their prune). */
  async settled(): Promise<void> {
    await this.pruning;
  }

  /** One esbuild run of a request: a fresh build, or the incremental rebuild of its context. */
  private async run(key: string, options: BuildOptions & { metafile: true; write: false }): Promise<BuildResult<typeof options>> {
    if (!this.incremental) return esbuild(options);
    let context = this.contexts.get(key);
    if (context) {
      this.contexts.delete(key);
    } else {
      // Room for one more: the least recently built context that is not building goes.
      for (const [oldest, kept] of this.contexts) {
        if (this.contexts.size < this.maxContexts) break;
        if (this.rebuilding.has(oldest)) continue;
        this.contexts.delete(oldest);
        void kept.then((c) => c.dispose()).catch(() => undefined);
      }
      // Every kept context is building (an edit to shared code rebuilds them all): this one builds without one.
      if (this.contexts.size >= this.maxContexts) return esbuild(options);
      const created = esbuildContext(options);
      created.catch(() => {
        if (this.contexts.get(key) === created) this.contexts.delete(key);
      });
      context = created;
    }
    this.contexts.set(key, context);
    this.rebuilding.add(key);
    try {
      return await (await context).rebuild();
    } finally {
      this.rebuilding.delete(key);
    }
  }

  /** Incremental contexts kept now (at most `maxContexts`). */
  get keptContexts(): number {
    return this.contexts.size;
  }

  /** The requests whose last bundle (in this process) read `path`: what to rebuild when it changes. */
  fedBy(path: string): FunctionBuildRequest[] {
    const absolute = resolve(REPO_ROOT, path);
    return [...this.last.values()].filter(({ bundle }) => bundle.inputs.includes(absolute)).map(({ request }) => request);
  }

  private entryOf(request: FunctionBuildRequest): string {
    return toPosix(relative(REPO_ROOT, isAbsolute(request.entry) ? request.entry : resolve(REPO_ROOT, request.entry)));
  }

  private labelOf(request: FunctionBuildRequest, entry: string): string {
    return request.label ? `handler ${entry} of ${request.label}` : `handler ${entry}`;
  }

  private async hashFile(path: string): Promise<string | undefined> {
    return (await this.hashWithStamp(path))?.hash;
  }

  /**
   * The content hash of a file, and its stamp when its times are settled (see {@link SETTLED_MS}). `recorded` is what
   * a manifest (of this process or an earlier one) recorded for it: when the stamp is still the same, the file is not
   * read.
   */
  private hashWithStamp(path: string, recorded?: { hash: string; stamp?: Stamp }): Promise<{ hash: string; stamp?: Stamp } | undefined> {
    let pending = this.hashing.get(path);
    if (!pending) {
      pending = this.hashNow(path, recorded).finally(() => this.hashing.delete(path));
      this.hashing.set(path, pending);
    }
    return pending;
  }

  private async hashNow(path: string, recorded?: { hash: string; stamp?: Stamp }): Promise<{ hash: string; stamp?: Stamp } | undefined> {
    try {
      const info = await stat(path);
      const stamp = stampOf(info);
      const settled = Date.now() - Math.max(info.mtimeMs, info.ctimeMs) > this.settledMs;
      if (settled) {
        const known = this.fileHashes.get(path);
        if (known && sameStamp(known.stamp, stamp)) return known;
        if (recorded && sameStamp(recorded.stamp, stamp)) {
          const trusted = { stamp, hash: recorded.hash };
          this.fileHashes.set(path, trusted);
          return trusted;
        }
      }
      this.stats.filesRead++;
      const hash = sha256(await readFile(path));
      if (!settled) return { hash };
      const fresh = { stamp, hash };
      this.fileHashes.set(path, fresh);
      return fresh;
    } catch {
      return undefined;
    }
  }

  private manifestPath(key: string): string {
    return join(this.root, "requests", `${key}.json`);
  }

  private async readManifest(key: string): Promise<Manifest | undefined> {
    try {
      return JSON.parse(await readFile(this.manifestPath(key), "utf8")) as Manifest;
    } catch {
      return undefined;
    }
  }

  /** True when the bundle is still there and every recorded input still has its recorded content. */
  private async stillValid(manifest: Manifest): Promise<boolean> {
    this.stats.manifestChecks++;
    if (!existsSync(join(this.root, manifest.file))) return false;
    const stamps: Record<string, Stamp> = {};
    let restamped = false;
    const checks = await Promise.all(
      Object.entries(manifest.inputs).map(async ([input, hash]) => {
        const recorded = manifest.stamps?.[input];
        const hashed = await this.hashWithStamp(resolve(REPO_ROOT, input), { hash, stamp: recorded });
        if (hashed?.stamp) {
          stamps[input] = hashed.stamp;
          if (!sameStamp(recorded, hashed.stamp)) restamped = true;
        }
        return hashed?.hash === hash;
      }),
    );
    const valid = checks.every(Boolean);
    // Same contents, new stamps (a manifest from before stamps, files touched by a checkout): record them, so the next
    // process need not read those files again.
    if (valid && restamped) await writeAtomic(this.manifestPath(manifest.key), JSON.stringify({ ...manifest, stamps }, null, 2)).catch(() => undefined);
    return valid;
  }

  private bundleOf(manifest: Manifest, cached: boolean): FunctionBundle {
    const file = join(this.root, manifest.file);
    return {
      hash: manifest.hash,
      dir: dirname(file),
      file,
      format: manifest.format,
      entry: manifest.entry,
      settings: manifest.settings,
      exports: manifest.exports,
      inputs: Object.keys(manifest.inputs).map((input) => resolve(REPO_ROOT, input)),
      cached,
      key: manifest.key,
    };
  }

  private async buildNow(request: FunctionBuildRequest, key: string, changed: readonly string[]): Promise<FunctionBundle> {
    const entry = this.entryOf(request);
    const label = this.labelOf(request, entry);
    const absoluteEntry = resolve(REPO_ROOT, entry);
    if (!existsSync(absoluteEntry)) throw new BundleError(`${label} does not exist (handlers are resolved from the project folder)`);

    // A file this request's last bundle read has changed (the caller saw it): checking the manifest would only
    // confirm it, at the cost of a stat per input.
    const known = this.manifests.get(key);
    const stale = known !== undefined && changed.some((file) => toPosix(relative(REPO_ROOT, resolve(REPO_ROOT, file))) in known.inputs);
    const previous = stale ? known : await this.readManifest(key);
    if (!stale && previous && (await this.stillValid(previous))) {
      this.stats.cacheHits++;
      this.manifests.set(key, previous);
      return this.bundleOf(previous, true);
    }

    const settings = request.settings ?? {};
    const fileName = bundleFileName(settings);
    // The outfile only names the output: the folder is chosen once the content (its hash) is known.
    const placeholder = join(this.root, "out", fileName);
    const options = bundleOptions(absoluteEntry, placeholder, settings);
    const format = options.format === "cjs" ? "cjs" : "esm";
    let result;
    this.stats.esbuildRuns++;
    try {
      result = await this.run(key, { ...options, absWorkingDir: REPO_ROOT, metafile: true, write: false, logLevel: "silent" });
    } catch (error) {
      throw new BundleError(`${label} does not build:\n${esbuildMessages(error)}`, { cause: error });
    }
    const metafile = result.metafile as Metafile;
    const pulumiInputs = Object.keys(metafile.inputs).filter((input) => input.includes("node_modules/@pulumi/"));
    if (pulumiInputs.length) {
      throw new BundleError(
        `${label} pulls Pulumi into its bundle (${pulumiInputs.slice(0, 3).join(", ")}): handlers must not import @pulumi/* (nor shared/infra, which does)`,
      );
    }
    const outDir = dirname(placeholder);
    const files = result.outputFiles
      .map((file) => ({ name: toPosix(relative(outDir, file.path)), contents: file.contents }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const digest = createHash("sha256");
    for (const file of files) digest.update(`${file.name}\0${file.contents.length}\0`).update(file.contents);
    const hash = digest.digest("hex");
    const dir = join(this.root, hash.slice(0, 16));
    const inputs: Record<string, string> = {};
    const stamps: Record<string, Stamp> = {};
    // The bundle's files are written while its inputs are hashed for the manifest.
    await Promise.all([
      ...files.map(async (file) => {
        const target = join(dir, file.name);
        if ((await this.hashFile(target)) !== sha256(file.contents)) await writeAtomic(target, file.contents);
      }),
      ...Object.keys(metafile.inputs).map(async (input) => {
        const hashed = await this.hashWithStamp(resolve(REPO_ROOT, input));
        if (hashed) inputs[input] = hashed.hash;
        if (hashed?.stamp) stamps[input] = hashed.stamp;
      }),
    ]);
    const output = metafile.outputs[toPosix(relative(REPO_ROOT, placeholder))];
    const manifest: Manifest = {
      key,
      entry,
      settings,
      inputs,
      stamps,
      hash,
      file: toPosix(relative(this.root, join(dir, fileName))),
      format,
      exports: output?.exports ?? [],
      previous: [previous?.hash, ...(previous?.previous ?? [])].filter((h): h is string => !!h && h !== hash).slice(0, KEPT_BUILDS),
    };
    await writeAtomic(this.manifestPath(key), JSON.stringify(manifest, null, 2));
    this.manifests.set(key, manifest);
    if (previous && previous.hash !== hash) this.pruneSoon();
    return this.bundleOf(manifest, false);
  }

  /**
   * Starts a prune after the build that asked for it has answered, at most once per {@link PRUNE_AFTER_MS} in this
   * process (what it removes is older than that anyway): watch mode rebuilds on every edit, and the new code need not
   * wait for the old folders to go.
   */
  private pruneSoon(): void {
    if (this.pruning || Date.now() - this.lastPrune < PRUNE_AFTER_MS) return;
    this.lastPrune = Date.now();
    this.stats.prunes++;
    this.pruning = this.prune()
      .catch(() => undefined)
      .finally(() => (this.pruning = undefined));
  }

  /**
   * Removes bundle folders no manifest lists (current or kept) and no live process holds, once they are
   * {@link PRUNE_AFTER_MS} old.
   */
  private async prune(): Promise<void> {
    const manifests = await readdir(join(this.root, "requests")).catch(() => [] as string[]);
    const listed = new Set<string>();
    for (const name of manifests.filter((n) => n.endsWith(".json"))) {
      const manifest = await this.readManifest(name.slice(0, -".json".length));
      for (const hash of [manifest?.hash, ...(manifest?.previous ?? [])]) if (hash) listed.add(hash.slice(0, 16));
    }
    const entries = await readdir(this.root, { withFileTypes: true });
    // Read last: a process that took a folder since the manifests were read holds it by now.
    const held = await this.heldFolders();
    // Each folder to go is moved aside first, then the leases are read again: a process whose lease landed after the
    // first read gets its folder back; one that takes it from now on finds it gone and builds it again (see build).
    const aside: { name: string; moved: string }[] = [];
    await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && /^[0-9a-f]{16}$/.test(entry.name) && !listed.has(entry.name) && !held.has(entry.name))
        .map(async (entry) => {
          const path = join(this.root, entry.name);
          // Gone already (another process's prune took it): nothing to do, and no reason to stop before the re-read.
          const info = await stat(path).catch(() => undefined);
          if (!info || Date.now() - info.mtimeMs <= PRUNE_AFTER_MS) return;
          const moved = join(this.root, `${entry.name}.pruned~${LEASE_HOST}~${process.pid}`);
          if (await rename(path, moved).then(() => true, () => false)) aside.push({ name: entry.name, moved });
        }),
    );
    // Folders a prune of this host moved aside and did not finish with (it was killed) go too.
    const leftovers = entries.filter((entry) => {
      const [, host, pid] = /^[0-9a-f]{16}\.pruned~(.+)~(\d+)$/.exec(entry.name) ?? [];
      return entry.isDirectory() && host === LEASE_HOST && !processRuns(Number(pid));
    });
    if (!aside.length && !leftovers.length) return;
    const taken = aside.length ? await this.heldFolders() : new Set<string>();
    await Promise.all([
      ...aside.map(({ name, moved }) =>
        taken.has(name) ? rename(moved, join(this.root, name)).catch(() => rm(moved, { recursive: true, force: true })) : rm(moved, { recursive: true, force: true }),
      ),
      ...leftovers.map((entry) => rm(join(this.root, entry.name), { recursive: true, force: true })),
    ]);
  }
}

function checkExport(request: FunctionBuildRequest, bundle: FunctionBundle): void {
  if (request.exportName === undefined || bundle.format !== "esm" || bundle.exports.includes(request.exportName)) return;
  const label = request.label ? `handler ${bundle.entry} of ${request.label}` : `handler ${bundle.entry}`;
  throw new BundleError(`${label} does not export "${request.exportName}" (it exports ${bundle.exports.join(", ") || "nothing"})`);
}

/** The process's build service: the function component and the local stage share it. */
export const functionBuilds = new FunctionBuilds();
