/**
 * Debian's Chromium driven by playwright-core (npm's browser download does not work offline), for the console's
 * browser tests and the README's screenshot. The flags keep it from reaching for hosts a closed network refuses;
 * playwright gives every launch a fresh profile.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** The browser: `CHROMIUM_PATH`, else Debian's `chromium` package. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

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
