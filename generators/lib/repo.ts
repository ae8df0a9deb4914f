import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GeneratorError } from "./errors";

export interface CatalogEntryInfo {
  type: string;
  owner: string;
  ordering: "standard" | "fifo" | "stream";
  messageGroupField?: string;
  partitionKeyField?: string;
  version: number;
}

export const CATALOG_PATH = "shared/contract/catalog.ts";
export const CATALOG_MARKER = "  // new events are added above this line";

/** The repository a generator writes into (the real one, or a copy under test). */
export class Repo {
  constructor(readonly root: string) {
    if (!existsSync(join(root, CATALOG_PATH))) {
      throw new GeneratorError(`${root} is not the platform repository (no ${CATALOG_PATH})`);
    }
  }

  read(path: string): string {
    return readFileSync(join(this.root, path), "utf8");
  }

  exists(path: string): boolean {
    return existsSync(join(this.root, path));
  }

  /**
   * The catalog module as the file is now: read afresh each time, since an earlier generator in the same process
   * may have added entries.
   */
  catalogModule(): { catalog: Record<string, Omit<CatalogEntryInfo, "type"> & { schema: { def?: { shape?: Record<string, { def?: { type?: string } }> } } }> } {
    const path = require.resolve(join(this.root, CATALOG_PATH));
    delete require.cache[path];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path);
  }

  /** The event catalog as it is in this repository now. */
  catalog(): Map<string, CatalogEntryInfo> {
    return new Map(Object.entries(this.catalogModule().catalog).map(([type, e]) => [type, { ...e, type }]));
  }

  services(): string[] {
    const dir = join(this.root, "services");
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "Pulumi.yaml")))
      .map((d) => d.name)
      .sort();
  }

  requireService(name: string, flag = "--service"): string {
    if (!this.services().includes(name)) {
      const known = this.services().join(", ") || "none yet";
      throw new GeneratorError(`no service "${name}" (${flag}); services: ${known}`);
    }
    return `services/${name}`;
  }
}

/** Inserts `text` before the line holding `marker`; the error tells the person what to restore. */
export function insertBeforeMarker(source: string, marker: string, text: string, file: string): string {
  const index = source.indexOf(marker);
  if (index < 0) {
    throw new GeneratorError(`${file} no longer has the line "${marker.trim()}"; put it back where new entries belong`);
  }
  return source.slice(0, index) + text + source.slice(index);
}

const PUBLISHES_LINE = /^(    publishes: \[)(.*)(\],)$/m;

/** Adds an event to the `publishes` list of a service's `index.ts` (no change when it is already there). */
export function declarePublished(index: string, type: string, file: string): string {
  const match = PUBLISHES_LINE.exec(index);
  if (!match) throw new GeneratorError(`${file} has no "publishes: [...]" line; add ${type} to the service's publishes by hand`);
  const listed = match[2]!.split(",").map((s) => s.trim()).filter(Boolean);
  if (listed.includes(`"${type}"`)) return index;
  return index.replace(PUBLISHES_LINE, `$1${[...listed, `"${type}"`].join(", ")}$3`);
}
