/**
 * Names the local stage's modules share, in a module without imports of the stage's own, so the light ones
 * (relational-preload.ts, which `npm start` loads before the stage) and the heavy ones read one definition.
 */
import { join } from "node:path";

/** The stage name the local stage runs the programs as. */
export const LOCAL_STAGE = "local";

/** The repository root (this file is `shared/local/stage/names.ts`). */
export const REPO_ROOT = join(__dirname, "..", "..", "..");
