/**
 * File watching for the local stage's watch mode: `node:fs.watch` on a few folders (recursive: Node.js 20 watches
 * subfolders on Linux too, including ones created later) and single files, with the events of one edit gathered
 * into one batch. Editors save in bursts (write a temporary file, rename it over the old one, touch it again), whose
 * steps follow one another within a millisecond or two: the batch is handed over once the folder has been quiet for
 * `debounceMs` ({@link DEFAULT_DEBOUNCE_MS}), which every millisecond of a handler edit's swap waits for.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";

/** Milliseconds of quiet that end a burst of events (an editor's save). */
export const DEFAULT_DEBOUNCE_MS = 20;

/** What to watch: a folder (with everything under it) or one file. */
export interface WatchRoot {
  path: string;
  /** A folder, watched with its subfolders; otherwise a single file (its folder is watched for that name only). */
  folder: boolean;
}

/** Options of {@link watchFiles}. */
export interface WatchFilesOptions {
  /**
   * Milliseconds without a new event before a batch is handed over.
   * @default DEFAULT_DEBOUNCE_MS (20)
   */
  debounceMs?: number;
  /**
   * Paths left out (besides {@link isIgnoredPath}'s).
   * @default none
   */
  ignore?: (path: string) => boolean;
  /** A root that cannot be watched (it vanished, the system's watch limit). The rest keep working. */
  onError?: (error: Error, root: string) => void;
}

/** A running watch. */
export interface FileWatch {
  /** Stops watching; a batch not yet handed over is dropped. */
  close(): void;
}

const IGNORED_SEGMENTS = new Set(["node_modules", ".git", ".build", ".local", "coverage"]);

/**
 * Files no program or bundle reads: anything under `node_modules`, `.git`, `.build`, `.local`, editors' backup
 * and swap files (`~`, `.swp`, `.swx`, `4913`), and temporary files.
 */
export function isIgnoredPath(path: string): boolean {
  if (path.split(/[\\/]/).some((segment) => IGNORED_SEGMENTS.has(segment))) return true;
  const name = basename(path);
  return name.endsWith("~") || /\.(swp|swx|swo|tmp)$/.test(name) || name === "4913" || name.startsWith(".#");
}

/**
 * Watches the roots and calls `onChange` with the absolute paths that changed (created, written, renamed or
 * removed), one call per burst of edits, and when the burst's first event came (`performance.now()`).
 *
 * @example
 * const watch = watchFiles([{ path: "services", folder: true }], (files) => console.log(files));
 * watch.close();
 */
export function watchFiles(roots: readonly WatchRoot[], onChange: (files: string[], firstSeenAt: number) => void, options: WatchFilesOptions = {}): FileWatch {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const pending = new Set<string>();
  let firstSeenAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const flush = () => {
    timer = undefined;
    if (closed || pending.size === 0) return;
    const files = [...pending].sort();
    pending.clear();
    onChange(files, firstSeenAt);
  };
  const seen = (path: string) => {
    if (closed || isIgnoredPath(path) || options.ignore?.(path)) return;
    if (pending.size === 0) firstSeenAt = performance.now();
    pending.add(path);
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  };

  const watchers: FSWatcher[] = [];
  // Single files are watched through their folder (an editor that renames a new file over the old one would
  // leave a watch on the file itself pointing at nothing).
  const files = new Map<string, Set<string>>();
  for (const root of roots) {
    const path = resolve(root.path);
    if (root.folder) {
      try {
        const watcher = watch(path, { recursive: true }, (_event, name) => {
          if (name) seen(join(path, name.toString()));
        });
        watcher.on("error", (error) => options.onError?.(error, path));
        watchers.push(watcher);
      } catch (error) {
        options.onError?.(error as Error, path);
      }
    } else {
      const folder = dirname(path);
      const names = files.get(folder) ?? new Set<string>();
      names.add(basename(path));
      files.set(folder, names);
    }
  }
  for (const [folder, names] of files) {
    try {
      const watcher = watch(folder, (_event, name) => {
        if (name && names.has(name.toString())) seen(join(folder, name.toString()));
      });
      watcher.on("error", (error) => options.onError?.(error, folder));
      watchers.push(watcher);
    } catch (error) {
      options.onError?.(error as Error, folder);
    }
  }
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}

/** True when `path` is `folder` or inside it. */
export function isInside(path: string, folder: string): boolean {
  const a = resolve(path);
  const b = resolve(folder);
  return a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
}
