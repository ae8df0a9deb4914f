import type { Answers } from "./prompts";

/** Bumped when templates change in a way an upgrade would care about. */
export const GENERATOR_VERSION = "1.0.0";

/** `services/<name>/generator.json`: which generators, at which version and with which answers, made the service. */
export interface ServiceManifest {
  service: string;
  runs: { generator: string; version: string; answers: Answers }[];
}

export const MANIFEST_FILE = "generator.json";

export function renderManifest(manifest: ServiceManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
