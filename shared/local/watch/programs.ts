/**
 * Runs programs again in this process after their code changed: the changed modules are dropped from Node's module
 * cache (`require.cache`, which also holds what tsx compiled), so the next run loads them as they are now.
 */
import { resolve } from "node:path";
import { runStagePrograms, type ProgramResult } from "../stage/programs";
import { machineryOf } from "./plan";
import { isInside } from "./watcher";

/** Options of {@link rerunPrograms}. */
export interface RerunOptions {
  /** The platform project folder (its program is `<platformDir>/platform`). */
  platformDir: string;
  /** The repository root (`shared/contract`, `shared/infra`). */
  repoRoot: string;
  /** `aws:region` the programs ran with. */
  region: string;
  /**
   * The module cache to drop changed modules from.
   * @default require.cache
   */
  moduleCache?: NodeJS.Dict<NodeModule>;
}

/** Drops every cached module under these folders, except packages and the `kept` folders; returns how many. */
export function forgetModules(folders: readonly string[], cache: NodeJS.Dict<NodeModule> = require.cache, kept: readonly string[] = []): number {
  let dropped = 0;
  for (const file of Object.keys(cache)) {
    if (file.split(/[\\/]/).includes("node_modules")) continue;
    if (kept.some((folder) => isInside(file, folder))) continue;
    if (folders.some((folder) => isInside(file, folder))) {
      delete cache[file];
      dropped++;
    }
  }
  return dropped;
}

/**
 * Runs the platform and the given service programs again (`all`: every service of `previous`), with their changed
 * code, and returns the whole set: the new runs in place of the old, the others as they were. The platform always
 * runs again (cheaply, from the module cache, when its code did not change): a service's stack reference is answered
 * with its outputs.
 * @throws ProgramError naming the program that failed (the caller keeps `previous`)
 */
export async function rerunPrograms(previous: readonly ProgramResult[], which: "all" | readonly string[], options: RerunOptions): Promise<ProgramResult[]> {
  const [platform, ...services] = previous;
  if (!platform) throw new Error("no programs ran before");
  const dirs = which === "all" ? services.map((s) => s.dir) : which.map((dir) => resolve(dir));
  // Every program: all their code but the machinery (the stage and the capture keep running as they are).
  const stale = which === "all" ? [options.repoRoot, options.platformDir, ...dirs] : dirs;
  forgetModules(stale, options.moduleCache, machineryOf(options.repoRoot));
  const ran = await runStagePrograms({ platformDir: options.platformDir, serviceDirs: dirs, region: options.region });
  const byDir = new Map(ran.services.map((run) => [resolve(run.dir), run]));
  return [ran.platform, ...services.map((run) => byDir.get(resolve(run.dir)) ?? run)];
}
