/**
 * PostgreSQL for the local stage, started before the programs run (PGlite's thread: its WASM compile and base-image
 * load take about a second of the other core). Whether a stage will need it is known before the programs run: the
 * platform project declares `relational` and some service has a `migrations` folder (`relationalOn`, which the
 * program runner also uses to turn the platform's store on). The relational part takes the engine, or closes it.
 *
 * Light on purpose (no Pulumi, no stage): `npm start` calls {@link startRelationalEarly} before it loads the stage's
 * modules, so the thread starts about a second sooner; `startLocalStage` takes that engine when its options match.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadStackConfig, serviceProjectDirs } from "../../capture/stack-config";
import type { StatementReport } from "../relational/engine";
import { RelationalEngineThread } from "../relational/engine-thread";
import { defaultBaseImage, LOCAL_MASTER_ROLE, relationalDataDir } from "../relational/engine";
import { LOCAL_STAGE, REPO_ROOT } from "./names";

/**
 * `<project>:relational = true` when the platform project declares that key and some service has a `migrations`
 * folder (a service that declares a relational store keeps its migrations there): the platform's relational store is
 * then there for it, as a stage file turns it on for a deployed stage. Nothing otherwise, so a stage without a
 * relational service never starts PostgreSQL.
 */
export function relationalOn(platformDir: string, serviceDirs: readonly string[]): Record<string, unknown> {
  if (!serviceDirs.some((dir) => existsSync(join(dir, "migrations")))) return {};
  try {
    const { project, values } = loadStackConfig(platformDir, LOCAL_STAGE, { optionalStageFile: true });
    return `${project}:relational` in values ? { [`${project}:relational`]: true } : {};
  } catch {
    return {};
  }
}

/**
 * Whether the programs will turn the platform's relational store on: known before they run, so the stage can start
 * PostgreSQL meanwhile; the programs' registrations still decide whether the relational part uses it.
 */
export function relationalExpected(options: { platformDir?: string; serviceDirs?: readonly string[] } = {}): boolean {
  return Object.keys(relationalOn(options.platformDir ?? REPO_ROOT, options.serviceDirs ?? serviceProjectDirs(REPO_ROOT))).length > 0;
}

/** What the engine is started with (the relational part's own options). */
export interface RelationalPreloadOptions {
  /** Keep the database under `<persistDir>/relational`. */
  persistDir?: string;
  /** A Data API transaction without calls for this long is rolled back. @default 30000 */
  transactionIdleMs?: number;
}

/** An engine starting before the stage knows whether a service needs it. */
export interface PreloadedRelationalEngine {
  /** Hands over the engine (once); statements are reported to `onStatement` from then on. Rejects as its start did. */
  take(onStatement: (report: StatementReport) => void): Promise<RelationalEngineThread>;
  /** Closes the engine if nobody took it (no store declared, or the stage failed before its parts started). */
  discard(): Promise<void>;
  /** Started by `npm start` before the stage's modules loaded ({@link startRelationalEarly}). */
  readonly early: boolean;
}

/** Starts PostgreSQL in its thread now; the relational part takes it or discards it. */
export function preloadRelationalEngine(options: RelationalPreloadOptions, early = false): PreloadedRelationalEngine {
  let report: ((statement: StatementReport) => void) | undefined;
  const starting = RelationalEngineThread.start({
    ...(options.persistDir ? { dataDir: relationalDataDir(options.persistDir) } : {}),
    baseImage: defaultBaseImage(),
    transactionIdleMs: options.transactionIdleMs ?? 30_000,
    onStatement: (statement) => report?.(statement),
  });
  // Nobody may wait on it (a stage that fails first): its failure is reported by take, not as an unhandled rejection.
  const warmed = starting.then(async (engine) => {
    // A warm-up that fails leaves the engine as it was: the first statements pay for it then.
    await warm(engine).catch(() => undefined);
    return engine;
  });
  warmed.catch(() => undefined);
  let taken = false;
  return {
    early,
    take(onStatement) {
      if (taken) return Promise.reject(new Error("the preloaded relational engine was already taken"));
      taken = true;
      // The warm-up's statements are not the stage's: reported from here on.
      return warmed.then((engine) => {
        report = onStatement;
        return engine;
      });
    },
    async discard() {
      if (taken) return;
      taken = true;
      const engine = await warmed.catch(() => undefined);
      await engine?.close();
    },
  };
}

/**
 * What the relational part's first statements would otherwise pay on the start's critical path, done while the
 * programs run: PL/pgSQL's first use (the migrations' role setup is a DO block), and SCRAM's 4096 rounds of hashing a
 * role's password (a quarter of a second in WASM): this session (PGlite has one) hashes with one round. Locally nobody
 * logs in with those passwords (the Data API maps a secret to its role) and each is 24 random bytes; Aurora keeps its
 * own setting.
 */
async function warm(engine: RelationalEngineThread): Promise<void> {
  await engine.execute({ sql: "SET scram_iterations = 1", role: LOCAL_MASTER_ROLE });
  await engine.execute({ sql: "DO $$ BEGIN END $$", role: LOCAL_MASTER_ROLE });
}

let early: { key: string; engine: PreloadedRelationalEngine } | undefined;

const keyOf = (options: RelationalPreloadOptions) => JSON.stringify([options.persistDir ?? null, options.transactionIdleMs ?? null]);

/**
 * `npm start`'s head start: when the repository's stage will need PostgreSQL, starts it now, before the stage's
 * modules load; the next {@link startLocalStage} with the same options takes it. Does nothing when none is expected.
 */
export function startRelationalEarly(options: RelationalPreloadOptions & { platformDir?: string; serviceDirs?: readonly string[] }): void {
  if (early || !relationalExpected(options)) return;
  early = { key: keyOf(options), engine: preloadRelationalEngine(options, true) };
}

/**
 * The engine to use for a stage about to run its programs: the one started early when its options match (a
 * mismatched one is closed), else a new one when the stage will need it, else none.
 */
export function relationalForStage(options: RelationalPreloadOptions & { platformDir?: string; serviceDirs?: readonly string[] }): PreloadedRelationalEngine | undefined {
  const started = early;
  early = undefined;
  const expected = relationalExpected(options);
  if (started && started.key === keyOf(options) && expected) return started.engine;
  if (started) void started.engine.discard();
  return expected ? preloadRelationalEngine(options) : undefined;
}
