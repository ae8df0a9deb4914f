/**
 * Debian's Chromium driven by playwright-core (npm's browser download does not work offline), for the console's
 * browser tests and the README's screenshot. The flags keep it from reaching for hosts a closed network refuses;
 * playwright gives every launch a fresh profile.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/**
 * Where a Chromium is looked for: Debian's `chromium` package first (what .ci/run installs), then the names Ubuntu and
 * GitHub's runner images give Chromium and Chrome.
 */
const KNOWN_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The browser: `CHROMIUM_PATH`, else the first of the known paths that exists (Debian's `chromium` when none does). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || KNOWN_PATHS.find((path) => existsSync(path)) || KNOWN_PATHS[0]!;

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why the browser cannot run here, or undefined when it can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}
