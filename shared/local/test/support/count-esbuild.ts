// Counts esbuild runs in this process: import it first, before anything that imports esbuild, and every later
// `import ... from "esbuild"` gets the same functions wrapped to record their entry points.
import { createRequire } from "node:module";
import { resolve } from "node:path";

interface Esbuild {
  build: (options: { entryPoints?: unknown }) => Promise<unknown>;
  buildSync: (options: { entryPoints?: unknown }) => unknown;
}

/** Every esbuild run since the process started: its entry points (absolute paths), in call order. */
export const esbuildRuns: string[][] = [];

const requireHere = createRequire(__filename);
const path = requireHere.resolve("esbuild");
const real = requireHere("esbuild") as Esbuild;
const entries = (options: { entryPoints?: unknown; absWorkingDir?: unknown }): string[] => {
  const list = Array.isArray(options.entryPoints) ? options.entryPoints : Object.values((options.entryPoints as object | undefined) ?? {});
  const base = typeof options.absWorkingDir === "string" ? options.absWorkingDir : process.cwd();
  return list.map((entry) => resolve(base, typeof entry === "string" ? entry : String((entry as { in?: unknown }).in)));
};
const counted = {
  ...real,
  build: (options: Parameters<Esbuild["build"]>[0]) => {
    esbuildRuns.push(entries(options));
    return real.build(options);
  },
  buildSync: (options: Parameters<Esbuild["buildSync"]>[0]) => {
    esbuildRuns.push(entries(options));
    return real.buildSync(options);
  },
};
const cached = requireHere.cache[path];
if (!cached) throw new Error("esbuild is not in the module cache after loading it");
cached.exports = counted;
