/**
 * Which work a batch of changed files calls for: the functions whose bundles they feed (esbuild's metafile inputs),
 * the service programs to run again, or every program (the platform, the catalog, the Pulumi components).
 */
import { basename, join, relative, resolve } from "node:path";
import { isInside } from "./watcher";

/** What the stage runs, for mapping files to work. */
export interface WatchTargets {
  /** The repository root (`shared/`, the platform's `Pulumi.yaml`). */
  repoRoot: string;
  /** The platform project folder (the repository root in this template; its program is `platform/`). */
  platformDir: string;
  /** Service project folders. */
  serviceDirs: readonly string[];
  /** Every function's bundle inputs (absolute paths), by function name. */
  functionInputs: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * Whether a program loaded this file (the module cache of the process that ran the programs).
   * @default `require.cache`
   */
  loadedByProgram?: (file: string) => boolean;
}

/** The work one batch of changes calls for. */
export interface ReloadPlan {
  /** Functions to rebuild and swap, by name. */
  functions: string[];
  /** `all`: the platform and every service; otherwise the service folders whose programs run again. */
  programs: "all" | string[];
  /** Files of the local stage itself: they take effect on the next `npm start`. */
  restart: string[];
}

const PROJECT_FILES = /^Pulumi(\.[\w-]+)?\.ya?ml$/;

/** A test file or anything in a `test` folder, below `root` (a fixture service may itself live in a test folder). */
function isTestFile(path: string, root: string): boolean {
  return /\.test\.[cm]?[jt]sx?$/.test(path) || relative(root, path).split(/[\\/]/).includes("test");
}

/** The plan for a batch of changed files (absolute paths). An empty plan means nothing to do. */
export function planReload(files: readonly string[], targets: WatchTargets): ReloadPlan {
  const loaded = targets.loadedByProgram ?? ((file: string) => require.cache[file] !== undefined);
  const functions = new Set<string>();
  const services = new Set<string>();
  const restart = new Set<string>();
  let all = false;
  const platformProgram = join(targets.platformDir, "platform");
  const machinery = machineryOf(targets.repoRoot);

  for (const raw of files) {
    const file = resolve(raw);
    for (const [name, inputs] of targets.functionInputs) if (inputs.has(file)) functions.add(name);
    const service = targets.serviceDirs.find((dir) => isInside(file, dir));
    if (isTestFile(file, service ?? targets.repoRoot)) continue;
    if (service) {
      // The program itself, its project files, or a module it loaded (handlers are bundled, never loaded here).
      const own = resolve(file, "..") === resolve(service) && (PROJECT_FILES.test(basename(file)) || /^index\.[cm]?[jt]s$/.test(basename(file)));
      if (own || loaded(file)) services.add(resolve(service));
      continue;
    }
    if (machinery.some((dir) => isInside(file, dir))) {
      // The stage and the capture that runs the programs: their changes take effect on the next start.
      if (loaded(file)) restart.add(file);
    } else if (resolve(file, "..") === resolve(targets.platformDir) && PROJECT_FILES.test(basename(file))) {
      all = true;
    } else if (isInside(file, platformProgram) || (isInside(file, targets.repoRoot) && loaded(file))) {
      // The platform's program, or shared code the programs loaded (the catalog, the Pulumi components): every
      // program runs again, the platform first (a service reads its outputs).
      all = true;
    }
  }
  return { functions: [...functions].sort(), programs: all ? "all" : [...services].sort(), restart: [...restart].sort() };
}

/** The stage's own code and the capture that runs the programs: machinery, not program inputs. */
export function machineryOf(repoRoot: string): string[] {
  return [join(repoRoot, "shared", "local"), join(repoRoot, "shared", "capture")];
}

/** Folders and files to watch for these targets: `shared/`, the platform's program and project files, each service. */
export function watchRoots(targets: Pick<WatchTargets, "repoRoot" | "platformDir" | "serviceDirs">): { path: string; folder: boolean }[] {
  const roots = [
    { path: join(targets.repoRoot, "shared"), folder: true },
    { path: join(targets.platformDir, "platform"), folder: true },
    { path: join(targets.platformDir, "Pulumi.yaml"), folder: false },
    { path: join(targets.platformDir, "Pulumi.local.yaml"), folder: false },
  ];
  for (const dir of targets.serviceDirs) roots.push({ path: dir, folder: true });
  return roots;
}
