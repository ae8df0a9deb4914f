/**
 * Watch mode: the local stage follows the code while it serves. A change to a handler (or anything its bundle holds)
 * rebuilds that function's bundle and swaps its workers; a change to a service's program re-runs that program and
 * applies the difference to the running stage; a change to the catalog, the Pulumi components or the platform
 * re-runs every program. A broken edit (a syntax error, a program that throws) prints one line and the stage keeps
 * serving the last good version. A new or changed migration (`*.sql`) of a relational store is applied to the stage's
 * PostgreSQL by the migration runner (migrations.ts).
 */
import { relative } from "node:path";
import { functionBuilds } from "../../infra/helpers/bundle";
import type { FunctionHost } from "../lambda/function-host";
import type { ProgramResult } from "../stage/programs";
import type { StageWiring } from "../stage/wiring";
import { planReload, watchRoots, type ReloadPlan } from "./plan";
import { applyWatchedMigrations, migrationChanges, type WatchableRelational } from "./migrations";
import { rerunPrograms } from "./programs";
import { watchFiles, type FileWatch } from "./watcher";
import { describeChanges, diffWiring, isEmptyDiff } from "./wiring-diff";

/** What watch mode needs of a running stage. */
export interface WatchableStage {
  readonly wiring: StageWiring;
  /** The programs that ran, platform first. */
  readonly programs: readonly ProgramResult[];
  /** The function hosts by function name. */
  readonly hosts: ReadonlyMap<string, FunctionHost>;
  /** Applies the programs' new runs to the running stage (their wiring's difference); throws when it cannot. */
  reconcile(programs: readonly ProgramResult[]): Promise<void>;
  /** The relational part (its stores' migrations folders are watched), when the stage has one. */
  readonly relational?: WatchableRelational;
}

/** One thing watch mode did (or could not do). */
export interface WatchEvent {
  /**
   * `function`: a function runs new code; `programs`: programs re-ran and their difference was applied; `failed`: a
   * broken edit, the stage keeps the last good version; `restart`: the stage's own code changed; `migrations`: a
   * relational store's migrations were applied (or a deleted or still empty file was noted; a refused or failing
   * migration is `failed`).
   */
  kind: "function" | "programs" | "failed" | "restart" | "migrations";
  /** One line for the terminal. */
  line: string;
  /** The files that caused it. */
  files: string[];
  /** From the first change seen to done, in ms. */
  durationMs: number;
}

/** Options of {@link watchStage}. */
export interface WatchStageOptions {
  /** The repository root. */
  repoRoot: string;
  /**
   * The platform project folder.
   * @default repoRoot
   */
  platformDir?: string;
  /** Receives each event (the CLI prints its line). */
  onEvent?: (event: WatchEvent) => void;
  /**
   * Milliseconds of quiet before a burst of edits is handled.
   * @default DEFAULT_DEBOUNCE_MS (20)
   */
  debounceMs?: number;
}

/** A running watch. */
export interface StageWatch {
  /** Resolves once every change seen so far has been handled. */
  settled(): Promise<void>;
  /** Stops watching (a reload under way finishes). */
  close(): Promise<void>;
}

/** The first line of an error's message, without the tool's prefix noise. */
function firstLines(error: unknown, max = 2): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, max)
    .join(" ");
}

/**
 * Watches the stage's code and keeps the running stage in step with it.
 *
 * @example
 * const stage = await startLocalStage();
 * const watch = watchStage(stage, { repoRoot: REPO_ROOT, onEvent: (event) => console.log(event.line) });
 * await watch.close();
 */
export async function watchStage(stage: WatchableStage, options: WatchStageOptions): Promise<StageWatch> {
  const repoRoot = options.repoRoot;
  const platformDir = options.platformDir ?? repoRoot;
  const emit = (event: WatchEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // a failing listener must not stop the watch
    }
  };
  const show = (file: string) => relative(process.cwd(), file) || file;
  const labelOf = (name: string) => {
    const fn = stage.wiring.functions.find((f) => f.name === name);
    return fn ? `${fn.service}/${fn.logicalName}` : name;
  };

  // Which files feed which function: the bundles' esbuild inputs, read again after every change.
  const functionInputs = new Map<string, Set<string>>();
  const refreshInputs = async () => {
    functionInputs.clear();
    await Promise.all(
      [...stage.hosts].map(async ([name, host]) => {
        const bundle = await host.bundle?.catch(() => undefined);
        if (bundle) functionInputs.set(name, new Set(bundle.inputs));
      }),
    );
  };
  await refreshInputs();
  // A function edited once is likely edited again: its next builds reuse esbuild's parse of what did not change.
  functionBuilds.incremental = true;
  const serviceDirs = () => stage.programs.slice(1).map((run) => run.dir);
  // One Data API client for the migrations, made on the first migration edit (the part closes it when it stops).
  let relationalClient: ReturnType<WatchableRelational["client"]> | undefined;

  const handle = async (files: string[], since: number): Promise<void> => {
    const plan: ReloadPlan = planReload(files, { repoRoot, platformDir, serviceDirs: serviceDirs(), functionInputs });
    for (const file of plan.restart) {
      emit({ kind: "restart", line: `watch: ${show(file)} is the local stage's own code: restart npm start to run it`, files, durationMs: performance.now() - since });
    }
    if (plan.programs === "all" || plan.programs.length) {
      const which = plan.programs;
      const names = which === "all" ? "the platform and every service" : which.map((dir) => stage.programs.find((run) => run.dir === dir)?.project ?? show(dir)).join(", ");
      const before = stage.wiring;
      try {
        const runs = await rerunPrograms(stage.programs, which, { platformDir, repoRoot, region: stage.wiring.region });
        await stage.reconcile(runs);
        const changes = describeChanges(diffWiring(before, stage.wiring));
        const what = isEmptyDiff(diffWiring(before, stage.wiring)) ? "no change to the wiring" : changes.join(", ");
        emit({ kind: "programs", line: `watch: re-ran ${names} in ${Math.round(performance.now() - since)} ms: ${what}`, files, durationMs: performance.now() - since });
      } catch (error) {
        emit({
          kind: "failed",
          line: `watch: ${names} not applied, the stage keeps the last good version: ${firstLines(error)}`,
          files,
          durationMs: performance.now() - since,
        });
      }
    }
    // New or changed migrations, after the programs (their functions' new code may read what they create).
    const relational = stage.relational;
    if (relational?.cluster && migrationChanges(files, relational.stores).size) {
      const lines = await applyWatchedMigrations(relational, files, () =>
        (relationalClient ??= relational.client().catch((error: unknown) => {
          relationalClient = undefined;
          throw error;
        })));
      for (const { kind, line } of lines) emit({ kind, line, files, durationMs: performance.now() - since });
    }
    // Functions whose bundle inputs changed (a host the reconcile replaced is already on the new code: reloading it
    // again finds its build cached).
    await Promise.all(
      plan.functions.map(async (name) => {
        const host = stage.hosts.get(name);
        if (!host) return;
        try {
          const before = await host.bundle?.catch(() => undefined);
          const bundle = await host.reload({ changed: files });
          if (before?.file === bundle.file) return;
          emit({
            kind: "function",
            line: `watch: ${labelOf(name)} runs the new code (${Math.round(performance.now() - since)} ms)`,
            files,
            durationMs: performance.now() - since,
          });
        } catch (error) {
          const line =
            (error as Error).name === "FunctionInitError"
              ? `watch: ${labelOf(name)} fails to load, it keeps the last good version: ${firstLines(error).replace(/^.*? fails its init phase: /, "")}`
              : `watch: ${labelOf(name)} does not build, it keeps the last good version: ${firstLines(error, 3).replace(/^.*? does not build: /, "")}`;
          emit({ kind: "failed", line, files, durationMs: performance.now() - since });
        }
      }),
    );
    await refreshInputs();
  };

  // One batch at a time; changes that arrive meanwhile make the next batch.
  let pending: string[] = [];
  let pendingSince = 0;
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const drain = async () => {
    busy = true;
    try {
      while (pending.length) {
        const files = [...new Set(pending)].sort();
        const since = pendingSince;
        pending = [];
        try {
          await handle(files, since);
        } catch (error) {
          // Whatever went wrong, the watch goes on with the next change.
          emit({ kind: "failed", line: `watch: ${firstLines(error)}`, files, durationMs: performance.now() - since });
        }
      }
    } finally {
      busy = false;
    }
  };
  const watch: FileWatch = watchFiles(
    watchRoots({ repoRoot, platformDir, serviceDirs: serviceDirs() }),
    (files, firstSeenAt) => {
      if (pending.length === 0) pendingSince = firstSeenAt;
      pending.push(...files);
      if (!busy) running = drain();
    },
    {
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      onError: (error, root) => emit({ kind: "failed", line: `watch: cannot watch ${show(root)}: ${error.message}`, files: [], durationMs: 0 }),
    },
  );
  return {
    settled: () => running,
    async close() {
      watch.close();
      await running;
      await functionBuilds.dispose();
    },
  };
}
