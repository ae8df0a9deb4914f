import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { build } from "esbuild";
import { formatXRayTraceHeader, xrayTraceIdAt } from "../../contract/trace-header";
import type { BundleSettings } from "../../runtime/bundle-options";
import { LOCAL_ACCOUNT_ID } from "../aws";
import { bundleLocalFunction, LOCAL_BUILD_ROOT, type LocalBundle } from "./bundle";
import type { InvokeMessage, LambdaErrorPayload, LambdaLogLevel, SetupMessage, WorkerMessage, WorkerSetup } from "./protocol";
import { lambdaHeapLimits } from "./heap";

export type { LambdaErrorPayload, LambdaLogLevel } from "./protocol";

/** One function as its Pulumi definition declares it. */
export interface LocalFunctionDefinition {
  /** The function's AWS name (`<stage>-<service>-<name>`): `AWS_LAMBDA_FUNCTION_NAME`, its ARN, its access key id. */
  name: string;
  /** The handler's entry file (TypeScript), absolute or relative to the repository root. */
  entry: string;
  /**
   * The handler's export.
   * @default "handler"
   */
  exportName?: string;
  /**
   * Seconds one invocation may run before it is stopped as Lambda stops it.
   * @default 3 (Lambda's default)
   */
  timeout?: number;
  /**
   * Memory in MB: `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `context.memoryLimitInMB`, and the worker's heap limit.
   * @default 128 (Lambda's default)
   */
  memory?: number;
  /**
   * The function's environment variables from its definition. Lambda's own variables (`AWS_REGION`, ...) are set
   * by the host and win over these.
   * @default {}
   */
  environment?: Record<string, string>;
  /**
   * Reserved concurrency: at most this many invocations run at once; more wait for a free worker.
   * @default the host's `maxConcurrency`
   */
  reservedConcurrency?: number;
  /**
   * Node.js runtime (for `AWS_EXECUTION_ENV`; the code runs on this process's Node.js).
   * @default "nodejs24.x"
   */
  runtime?: string;
  /**
   * Log format: with `JSON`, console calls below `applicationLogLevel` are dropped and `AWS_LAMBDA_LOG_FORMAT` /
   * `AWS_LAMBDA_LOG_LEVEL` are set, as Lambda's advanced logging controls do.
   * @default "Text"
   */
  logFormat?: "JSON" | "Text";
  /**
   * Application log level (JSON log format only).
   * @default none (everything is kept)
   */
  applicationLogLevel?: LambdaLogLevel;
  /**
   * The bundle settings the deploy uses for this function.
   * @default {}
   */
  bundle?: BundleSettings;
}

/** Local endpoints the function's unmodified AWS SDK clients are pointed at (`AWS_ENDPOINT_URL_<SERVICE>`). */
export interface LocalEndpointUrls {
  dynamodb?: string;
  sns?: string;
  sqs?: string;
  /** Step Functions (`AWS_ENDPOINT_URL_SFN`). */
  sfn?: string;
  /** Kinesis (`AWS_ENDPOINT_URL_KINESIS`). */
  kinesis?: string;
  /** The RDS Data API (`AWS_ENDPOINT_URL_RDS_DATA`): the relational part's. */
  rdsData?: string;
}

/** One line the function wrote. */
export interface FunctionLogEntry {
  /** The function's AWS name. */
  functionName: string;
  /** The invocation it belongs to; `undefined` for lines written during init. */
  requestId: string | undefined;
  /** ISO time the line was written. */
  timestamp: string;
  /** The console method's level (`console.warn` -> `WARN`); `undefined` for direct writes to stdout/stderr. */
  level: LambdaLogLevel | undefined;
  stream: "stdout" | "stderr";
  /** The text, without its trailing newline. */
  message: string;
}

/** Options of a {@link FunctionHost}. */
export interface FunctionHostOptions {
  /**
   * `AWS_REGION`, and the region of ARNs.
   * @default "us-east-1"
   */
  region?: string;
  /**
   * Account of the function's ARN.
   * @default LOCAL_ACCOUNT_ID
   */
  accountId?: string;
  /** Local endpoints the function's SDK clients use; services left out keep the SDK's default (AWS itself). */
  endpoints?: LocalEndpointUrls;
  /**
   * Concurrency when the function has no reserved concurrency (an event source mapping's maximum concurrency, say).
   * With both, the lower one applies.
   * @default 10
   */
  maxConcurrency?: number;
  /**
   * Receives every line the function writes.
   * @default print it to this process's stdout/stderr as Lambda's log would show it ({@link formatLogEntry})
   */
  onLog?: (entry: FunctionLogEntry) => void;
  /**
   * Seconds the init phase (loading the bundle, top-level code) may take.
   * @default 10 (Lambda's limit)
   */
  initTimeout?: number;
  /**
   * Build folder of the bundles.
   * @default `<repo>/.build/local`
   */
  buildRoot?: string;
}

/** How an invocation ended, as Lambda's `Invoke` reports it. */
export type InvocationResult =
  | (InvocationInfo & { ok: true; /** The handler's result, through JSON as Lambda returns it. */ payload: unknown })
  | (InvocationInfo & { ok: false; /** `{ errorType, errorMessage, trace }`. */ error: LambdaErrorPayload });

export interface InvocationInfo {
  requestId: string;
  /** Wall time of the invocation (init excluded), in ms. */
  durationMs: number;
  /** Set on a cold start: the init phase's duration, in ms. */
  initDurationMs?: number;
  coldStart: boolean;
  /** The `_X_AMZN_TRACE_ID` the invocation ran with. */
  traceHeader: string;
}

/** Per-invocation options. */
export interface InvokeOptions {
  /**
   * `context.awsRequestId`.
   * @default a random UUID
   */
  requestId?: string;
  /**
   * The X-Ray trace header of the invocation (an SQS message's `AWSTraceHeader`, an HTTP request's `X-Amzn-Trace-Id`).
   * @default a new sampled trace
   */
  traceHeader?: string;
  /** `context.clientContext`. */
  clientContext?: unknown;
  /**
   * The event already encoded, `JSON.stringify(event)`, when the caller has it (a stream batch built from records
   * the poller encoded to measure them): the host sends it as it is instead of encoding the event again.
   */
  eventJson?: string;
}

/** Counts of a host's execution environments. */
export interface FunctionHostStats {
  /** Workers alive (busy or idle). */
  workers: number;
  /** Workers running an invocation. */
  busy: number;
  /** Invocations waiting for a free worker. */
  queued: number;
  /** Workers started so far (cold starts). */
  coldStarts: number;
  /** Workers a reload started while the new bundle builds, not yet given their code. */
  prewarmed: number;
}

/** The access key id a function's SDK clients sign with: its AWS name, so endpoints can tell which function calls. */
export function functionAccessKeyId(functionName: string): string {
  return functionName;
}

/** The dummy secret every function signs with (the local endpoints do not verify signatures). */
export const LOCAL_SECRET_ACCESS_KEY = "local-secret-access-key";

const DEFAULTS = { exportName: "handler", timeout: 3, memory: 128, runtime: "nodejs24.x", maxConcurrency: 10, initTimeout: 10 } as const;

/**
 * A log line as Lambda's log shows it: with the JSON format, a console call becomes
 * `{"timestamp","level","requestId","message"}`; with Text, `<time>\t<request id>\t<level>\t<message>`. Direct writes
 * to stdout/stderr (a JSON logger's lines) are shown as written.
 */
export function formatLogEntry(entry: FunctionLogEntry, format: "JSON" | "Text" = "JSON"): string {
  if (!entry.level) return entry.message;
  if (format === "JSON") {
    return JSON.stringify({ timestamp: entry.timestamp, level: entry.level, requestId: entry.requestId, message: entry.message });
  }
  return `${entry.timestamp}\t${entry.requestId ?? "undefined"}\t${entry.level}\t${entry.message}`;
}

/** `Root=1-<8 hex seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`, a new X-Ray trace header. */
function newTraceHeader(): string {
  return formatXRayTraceHeader({ traceId: xrayTraceIdAt(Date.now(), randomBytes(12).toString("hex")), parent: newSpanId(), sampled: true });
}

function newSpanId(): string {
  let id = randomBytes(8).toString("hex");
  while (id === "0000000000000000") id = randomBytes(8).toString("hex");
  return id;
}

/** An error of Lambda's own (a timeout, a crash), which carries no stack trace. */
function lambdaError(errorType: string, errorMessage: string): LambdaErrorPayload {
  return { errorType, errorMessage, trace: [] };
}

function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "/");
  return `${day}/[$LATEST]${randomBytes(16).toString("hex")}`;
}

let runtimeScript: Promise<string> | undefined;

/** The worker runtime (`worker-runtime.ts`), bundled once per process into `<build root>/runtime/`. */
function workerRuntimeFile(buildRoot: string): Promise<string> {
  runtimeScript ??= (async () => {
    const result = await build({
      entryPoints: [join(__dirname, "worker-runtime.ts")],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: `node${process.versions.node.split(".")[0]}`,
      write: false,
      logLevel: "silent",
    });
    const contents = result.outputFiles[0]!.contents;
    const file = join(buildRoot, "runtime", `worker-runtime-${createHash("sha256").update(contents).digest("hex").slice(0, 16)}.cjs`);
    if (!existsSync(file)) {
      await mkdir(join(buildRoot, "runtime"), { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, contents);
      await rename(temporary, file);
    }
    return file;
  })();
  runtimeScript.catch(() => (runtimeScript = undefined));
  return runtimeScript;
}

/** A function's new code failed its init phase (a module that throws when loaded): the host keeps its old code. */
export class FunctionInitError extends Error {
  override name = "FunctionInitError";
}

/** One execution environment: a worker with the function loaded. */
interface Sandbox {
  worker: Worker;
  ready: Promise<{ ok: true; initDurationMs: number } | { ok: false; error: LambdaErrorPayload }>;
  /** The invocation it runs, if any. */
  current?: {
    requestId: string;
    /** The invocation's X-Ray trace header (what its SDK calls send as `X-Amzn-Trace-Id`). */
    traceHeader: string;
    finish: (outcome: { ok: true; payload: unknown } | { ok: false; error: LambdaErrorPayload }) => void;
  };
  /** Set once the worker is terminated or has exited: never reused. */
  dead: boolean;
  /** The code generation it loaded ({@link FunctionHost.reload} starts a new one); older ones are not reused. */
  generation: number;
}

/**
 * A worker a reload starts while the new bundle builds: the thread and the runtime start meanwhile, and it loads the
 * bundle it is sent once the build is done (the runtime waits for its setup when started without one).
 */
interface Prewarmed {
  worker: Worker;
  /** Set once it has exited (or failed to start): a new worker takes its place. */
  exited: boolean;
}

/**
 * Runs one Lambda function locally the way Lambda does: its handler bundled with the deploy's esbuild options, each
 * execution environment a worker thread with its own environment variables (the function's, Lambda's, local endpoint
 * URLs, and credentials naming the function), warm workers reused, concurrency capped (extra invocations wait),
 * timeouts enforced by terminating the worker, errors reported as Lambda's `{ errorType, errorMessage, trace }`.
 *
 * @example
 * const host = new FunctionHost(
 *   { name: "local-billing-issue-invoice", entry: "services/billing/handlers/issue-invoice.ts", timeout: 10,
 *     environment: { PLATFORM_STAGE: "local" } },
 *   { region: "eu-west-1", endpoints: { sns: server.url, sqs: server.url }, onLog: (line) => print(line) },
 * );
 * const result = await host.invoke(sqsEvent);
 * if (!result.ok) console.error(result.error.errorMessage);
 * await host.stop();
 */
export class FunctionHost {
  /** The function's AWS name. */
  readonly name: string;
  /** `arn:aws:lambda:<region>:<account>:function:<name>`. */
  readonly arn: string;
  /** Invocations that may run at once. */
  readonly concurrency: number;
  /** Seconds an invocation may run. */
  readonly timeoutSeconds: number;
  /** Memory in MB. */
  readonly memory: number;

  private readonly definition: LocalFunctionDefinition;
  private readonly options: FunctionHostOptions;
  private readonly region: string;
  private readonly onLog: (entry: FunctionLogEntry) => void;
  private prepared: Promise<{ bundle: LocalBundle; runtime: string; generation: number }> | undefined;
  /** The code generation new workers load; bumped by {@link reload}. */
  private generation = 0;
  private reloading: Promise<LocalBundle> | undefined;
  private readonly idle: Sandbox[] = [];
  private readonly sandboxes = new Set<Sandbox>();
  private readonly waiting: Array<() => void> = [];
  /** Wakes {@link drain} once nothing runs or waits. */
  private readonly drained: Array<() => void> = [];
  private running = 0;
  private coldStarts = 0;
  private stopped = false;
  private readonly prewarmed = new Set<Prewarmed>();

  constructor(definition: LocalFunctionDefinition, options: FunctionHostOptions = {}) {
    this.definition = definition;
    this.options = options;
    this.name = definition.name;
    this.region = options.region ?? "us-east-1";
    this.arn = `arn:aws:lambda:${this.region}:${options.accountId ?? LOCAL_ACCOUNT_ID}:function:${definition.name}`;
    this.timeoutSeconds = definition.timeout ?? DEFAULTS.timeout;
    this.memory = definition.memory ?? DEFAULTS.memory;
    const limits = [definition.reservedConcurrency, options.maxConcurrency].filter((n): n is number => n !== undefined);
    this.concurrency = limits.length ? Math.min(...limits) : DEFAULTS.maxConcurrency;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`function ${definition.name}: concurrency must be a whole number of at least 1 (got ${this.concurrency})`);
    }
    if (!(this.timeoutSeconds > 0)) throw new RangeError(`function ${definition.name}: timeout must be above 0 seconds`);
    const format = definition.logFormat ?? "Text";
    this.onLog =
      options.onLog ??
      ((entry) => (entry.stream === "stderr" ? process.stderr : process.stdout).write(`${formatLogEntry(entry, format)}\n`));
  }

  /**
   * Bundles the handler (or finds its cached bundle). `invoke` does it on first use; call it up front to report build
   * errors before traffic arrives.
   * @throws LocalBundleError when esbuild fails
   */
  prepare(): Promise<LocalBundle> {
    return this.ready().then(({ bundle }) => bundle);
  }

  /** The bundle new invocations run, once built (`undefined` before the first build). */
  get bundle(): Promise<LocalBundle> | undefined {
    return this.prepared?.then(({ bundle }) => bundle);
  }

  /**
   * Rebuilds the handler's bundle and swaps the code without dropping anything: a worker loads the new bundle (its
   * init phase), then takes over; invocations already running finish on the code they started with (their workers
   * exit afterwards) and idle workers exit. When the build or the init phase fails the host keeps serving the code it
   * has; when the build gives the same bundle as before, nothing changes.
   * The worker that takes over starts while the bundle builds, so the swap waits for the build and the new code's
   * init phase only.
   * @param options.changed the files that changed (a watcher's batch): when one fed the current bundle, it is rebuilt
   *   without checking the build manifest first
   * @throws LocalBundleError when esbuild fails, FunctionInitError when the new code fails its init phase (nothing
   *   changes)
   */
  reload(options: { changed?: readonly string[] } = {}): Promise<LocalBundle> {
    if (this.stopped) return Promise.reject(new Error(`function host ${this.name} is stopped`));
    // Edits arrive in bursts: one rebuild at a time, the last one wins.
    const previous = this.reloading ?? Promise.resolve(undefined);
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        const runtime = workerRuntimeFile(this.options.buildRoot ?? LOCAL_BUILD_ROOT);
        const spare = runtime.then((file) => this.prewarm(file));
        try {
          const bundle = await bundleLocalFunction({
            name: this.name,
            entry: this.definition.entry,
            settings: this.definition.bundle ?? {},
            ...(this.options.buildRoot ? { buildRoot: this.options.buildRoot } : {}),
            changed: options.changed ?? [],
          });
          return { bundle, runtime: await runtime, spare: await spare };
        } catch (error) {
          void spare.then((unused) => this.discard(unused), () => undefined);
          throw error;
        }
      })
      .then(async ({ bundle, runtime, spare }) => {
        const current = await this.prepared?.catch(() => undefined);
        // The same bytes (an edit that changed nothing in the output): the workers keep running.
        if (this.stopped || (current && current.bundle.file === bundle.file && current.runtime === runtime)) {
          this.discard(spare);
          if (this.stopped) throw new Error(`function host ${this.name} is stopped`);
          return bundle;
        }
        // The new code is loaded in a worker before it takes over: code that fails its init phase (a module that
        // throws when loaded) is a broken edit too, and the old code keeps serving.
        const generation = this.generation + 1;
        const loaded = this.spawn(bundle, runtime, generation, spare);
        loaded.worker.unref();
        const init = await loaded.ready;
        if (!init.ok || this.stopped) {
          void this.kill(loaded);
          if (this.stopped) throw new Error(`function host ${this.name} is stopped`);
          const error = init.ok ? undefined : init.error;
          throw new FunctionInitError(`the new code of ${this.name} fails its init phase: ${error?.errorType}: ${error?.errorMessage}`);
        }
        this.generation = generation;
        this.prepared = Promise.resolve({ bundle, runtime, generation });
        // Idle workers hold the old code: they go now. Busy ones go when their invocation ends (see invoke).
        for (const sandbox of this.idle.splice(0)) void this.kill(sandbox);
        // The worker that loaded the new code serves the next invocation.
        this.idle.push(loaded);
        return bundle;
      });
    this.reloading = next;
    void next.finally(() => {
      if (this.reloading === next) this.reloading = undefined;
    }).catch(() => undefined);
    return next;
  }

  /**
   * Resolves once no invocation runs or waits, then stops the host: what a replaced function's old host does while
   * the new one takes the traffic.
   */
  async drain(): Promise<void> {
    while (this.running > 0 || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.drained.push(resolve));
    }
    await this.stop();
  }

  private ready(): Promise<{ bundle: LocalBundle; runtime: string; generation: number }> {
    this.prepared ??= Promise.all([
      bundleLocalFunction({
        name: this.name,
        entry: this.definition.entry,
        settings: this.definition.bundle ?? {},
        ...(this.options.buildRoot ? { buildRoot: this.options.buildRoot } : {}),
      }),
      workerRuntimeFile(this.options.buildRoot ?? LOCAL_BUILD_ROOT),
    ]).then(([bundle, runtime]) => ({ bundle, runtime, generation: this.generation }));
    // A failed build is retried by the next call (the file may have been fixed meanwhile).
    this.prepared.catch(() => (this.prepared = undefined));
    return this.prepared;
  }

  /**
   * Invokes the function with an event (synchronously, as `Invoke` with `RequestResponse`). Waits for a free worker
   * when `concurrency` invocations are running. Function failures (a thrown error, a timeout, a crash) resolve with
   * `ok: false`; the promise rejects only when the host cannot run the function at all (a build error, `stop()`).
   */
  async invoke(event: unknown, options: InvokeOptions = {}): Promise<InvocationResult> {
    if (this.stopped) throw new Error(`function host ${this.name} is stopped`);
    const requestId = options.requestId ?? randomUUID();
    const traceHeader = options.traceHeader ?? newTraceHeader();
    const eventJson = options.eventJson ?? JSON.stringify(event) ?? "null";
    await this.ready();
    await this.acquire();
    if (this.stopped) {
      this.release();
      throw new Error(`function host ${this.name} is stopped`);
    }
    let sandbox: Sandbox | undefined;
    try {
      let coldStart = false;
      let initDurationMs: number | undefined;
      sandbox = this.idle.pop();
      if (!sandbox) {
        coldStart = true;
        // The code as it is now: a reload may have swapped it while this invocation waited for a permit.
        const { bundle, runtime, generation } = await this.ready();
        sandbox = this.spawn(bundle, runtime, generation);
        const init = await sandbox.ready;
        if (!init.ok) {
          void this.kill(sandbox);
          return { ok: false, error: init.error, requestId, durationMs: 0, coldStart, traceHeader };
        }
        initDurationMs = init.initDurationMs;
      }
      const info = { requestId, coldStart, traceHeader, ...(initDurationMs === undefined ? {} : { initDurationMs }) };
      const started = performance.now();
      const outcome = await this.run(sandbox, {
        type: "invoke",
        requestId,
        event: eventJson,
        deadline: Date.now() + this.timeoutSeconds * 1000,
        traceHeader,
        clientContext: options.clientContext,
      });
      return { ...outcome, ...info, durationMs: performance.now() - started };
    } finally {
      if (sandbox && !sandbox.dead && !this.stopped) {
        if (sandbox.generation === this.generation) {
          sandbox.worker.unref();
          this.idle.push(sandbox);
        } else {
          // Its code was swapped while it ran: this invocation finished on the old code, the next gets the new.
          void this.kill(sandbox);
        }
      }
      this.release();
    }
  }

  /** Counts of workers and waiting invocations. */
  stats(): FunctionHostStats {
    return { workers: this.sandboxes.size, busy: this.running, queued: this.waiting.length, coldStarts: this.coldStarts, prewarmed: this.prewarmed.size };
  }

  /**
   * Kills the execution environment running a matching invocation, as a crash of the runtime would (fault
   * injection): the invocation ends with `Runtime.ExitError` and the next one gets a fresh worker (a cold start).
   * @returns whether a running invocation matched
   * @example
   * await host.crash({ traceHeader: request.headers["x-amzn-trace-id"] });
   */
  async crash(invocation: { requestId?: string; traceHeader?: string }): Promise<boolean> {
    for (const sandbox of this.sandboxes) {
      const current = sandbox.current;
      if (!current || sandbox.dead) continue;
      const matches =
        (invocation.requestId !== undefined && current.requestId === invocation.requestId) ||
        (invocation.traceHeader !== undefined && current.traceHeader === invocation.traceHeader);
      if (!matches) continue;
      await this.kill(sandbox);
      return true;
    }
    return false;
  }

  /** Terminates every worker; running invocations end with an error, waiting ones are rejected. */
  async stop(): Promise<void> {
    this.stopped = true;
    const waiting = this.waiting.splice(0);
    for (const wake of waiting) wake();
    for (const spare of [...this.prewarmed]) this.discard(spare);
    await Promise.all([...this.sandboxes].map((sandbox) => this.kill(sandbox)));
    this.idle.length = 0;
  }

  private acquire(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiting.push(() => {
        if (this.stopped) reject(new Error(`function host ${this.name} stopped before the invocation started`));
        else resolve();
      });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The permit passes straight to the next waiting invocation.
    if (next) next();
    else this.running--;
    if (this.running === 0 && this.waiting.length === 0) for (const resolve of this.drained.splice(0)) resolve();
  }

  /** The worker's environment; without a bundle (a prewarmed worker), the variables that name it are left out. */
  private environment(bundle: LocalBundle | undefined, streamName: string): Record<string, string> {
    const { definition, options } = this;
    const endpoints = options.endpoints ?? {};
    const env: Record<string, string> = {
      ...definition.environment,
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      LANG: "en_US.UTF-8",
      TZ: ":UTC",
      ...(bundle ? { LAMBDA_TASK_ROOT: bundle.dir, _HANDLER: this.handlerSetting(bundle) } : {}),
      AWS_EXECUTION_ENV: `AWS_Lambda_${definition.runtime ?? DEFAULTS.runtime}`,
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
      AWS_LAMBDA_FUNCTION_NAME: this.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memory),
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${this.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: streamName,
      AWS_ACCESS_KEY_ID: functionAccessKeyId(this.name),
      AWS_SECRET_ACCESS_KEY: LOCAL_SECRET_ACCESS_KEY,
      // The local stage runs on this machine's Node.js, not the Lambda runtime's: the SDK's warning about it is noise.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    if (definition.logFormat === "JSON") {
      env.AWS_LAMBDA_LOG_FORMAT = "JSON";
      if (definition.applicationLogLevel) env.AWS_LAMBDA_LOG_LEVEL = definition.applicationLogLevel;
    }
    if (endpoints.dynamodb) env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
    if (endpoints.sns) env.AWS_ENDPOINT_URL_SNS = endpoints.sns;
    if (endpoints.sqs) env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
    if (endpoints.sfn) env.AWS_ENDPOINT_URL_SFN = endpoints.sfn;
    if (endpoints.kinesis) env.AWS_ENDPOINT_URL_KINESIS = endpoints.kinesis;
    if (endpoints.rdsData) env.AWS_ENDPOINT_URL_RDS_DATA = endpoints.rdsData;
    return env;
  }

  private handlerSetting(bundle: LocalBundle): string {
    const file = bundle.file.slice(bundle.dir.length + 1);
    return `${file.slice(0, file.lastIndexOf("."))}.${this.definition.exportName ?? DEFAULTS.exportName}`;
  }

  /** Starts a worker that waits for the code it is to load (see {@link Prewarmed}). */
  private prewarm(runtime: string): Prewarmed {
    const worker = new Worker(runtime, {
      workerData: null,
      env: this.environment(undefined, ""),
      execArgv: [],
      stdout: false,
      stderr: false,
      resourceLimits: lambdaHeapLimits(this.memory),
    });
    worker.unref();
    const spare: Prewarmed = { worker, exited: false };
    const gone = () => {
      spare.exited = true;
      this.prewarmed.delete(spare);
    };
    worker.on("error", gone);
    worker.once("exit", gone);
    this.prewarmed.add(spare);
    return spare;
  }

  /** Lets go of a prewarmed worker no code was given to. */
  private discard(spare: Prewarmed | undefined): void {
    if (!spare || !this.prewarmed.delete(spare)) return;
    spare.exited = true;
    void spare.worker.terminate();
  }

  private spawn(bundle: LocalBundle, runtime: string, generation: number, prewarmed?: Prewarmed): Sandbox {
    const streamName = logStreamName();
    const setup: WorkerSetup = {
      bundleFile: bundle.file,
      format: bundle.format,
      exportName: this.definition.exportName ?? DEFAULTS.exportName,
      handlerSetting: this.handlerSetting(bundle),
      functionName: this.name,
      functionVersion: "$LATEST",
      invokedFunctionArn: this.arn,
      memoryLimitInMB: this.memory,
      logGroupName: `/aws/lambda/${this.name}`,
      logStreamName: streamName,
      logFormat: this.definition.logFormat ?? "Text",
      applicationLogLevel: this.definition.applicationLogLevel,
    };
    const spare = prewarmed && !prewarmed.exited && this.prewarmed.delete(prewarmed) ? prewarmed : undefined;
    if (prewarmed && !spare) this.discard(prewarmed);
    // The environment is the function's either way: a prewarmed worker takes its setup and the variables naming the
    // bundle before it loads anything.
    if (spare) spare.worker.postMessage({ type: "setup", setup, env: this.environment(bundle, streamName) } satisfies SetupMessage);
    const worker = spare?.worker ?? new Worker(runtime, {
      workerData: setup,
      env: this.environment(bundle, streamName),
      // The bundle is plain JavaScript, as in Lambda: no loader flags of this process (tsx) are inherited.
      execArgv: [],
      stdout: false,
      stderr: false,
      // Lambda's own split of the memory into V8's young and old generations: a young generation of V8's default
      // size collects far more often than the function's does in Lambda, and the scavenges cost CPU.
      resourceLimits: lambdaHeapLimits(this.memory),
    });
    this.coldStarts++;
    let settleReady!: (value: Awaited<Sandbox["ready"]>) => void;
    const sandbox: Sandbox = { worker, dead: false, generation, ready: new Promise((resolve) => (settleReady = resolve)) };
    this.sandboxes.add(sandbox);
    const initTimeout = this.options.initTimeout ?? DEFAULTS.initTimeout;
    const initTimer = setTimeout(() => {
      settleReady({ ok: false, error: lambdaError("Runtime.InitTimeout", `Init timed out after ${initTimeout.toFixed(2)} seconds`) });
    }, initTimeout * 1000);
    let crash: LambdaErrorPayload | undefined;

    const onMessage = (message: WorkerMessage): void => {
      switch (message.type) {
        case "batch":
          for (const one of message.messages) onMessage(one);
          break;
        case "ready":
          clearTimeout(initTimer);
          settleReady({ ok: true, initDurationMs: message.initDurationMs });
          break;
        case "init-error":
          clearTimeout(initTimer);
          settleReady({ ok: false, error: message.error });
          break;
        case "log":
          this.emitLog({
            functionName: this.name,
            requestId: message.requestId,
            timestamp: message.timestamp,
            level: message.level,
            stream: message.stream,
            message: message.message,
          });
          break;
        case "result":
          if (sandbox.current?.requestId === message.requestId) sandbox.current.finish({ ok: true, payload: JSON.parse(message.payload) as unknown });
          break;
        case "error":
          if (message.fatal) {
            // An uncaught exception or unhandled rejection: Lambda fails the invocation and resets the environment.
            if (sandbox.current) sandbox.current.finish({ ok: false, error: message.error });
            else {
              this.emitLog({
                functionName: this.name,
                requestId: undefined,
                timestamp: new Date().toISOString(),
                level: "ERROR",
                stream: "stderr",
                message: `${message.error.errorType}: ${message.error.errorMessage}`,
              });
            }
            void this.kill(sandbox);
          } else if (sandbox.current?.requestId === message.requestId) {
            sandbox.current.finish({ ok: false, error: message.error });
          }
          break;
      }
    };
    worker.on("message", onMessage);
    worker.on("error", (error: Error & { code?: string }) => {
      crash =
        error.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? lambdaError("Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
          : { errorType: error.name || "Error", errorMessage: error.message, trace: error.stack?.split("\n") ?? [] };
    });
    worker.on("exit", (code) => {
      clearTimeout(initTimer);
      sandbox.dead = true;
      this.sandboxes.delete(sandbox);
      const index = this.idle.indexOf(sandbox);
      if (index >= 0) this.idle.splice(index, 1);
      const exitError = crash ?? lambdaError("Runtime.ExitError", `Runtime exited with error: exit status ${code}`);
      settleReady({ ok: false, error: exitError });
      if (sandbox.current) {
        sandbox.current.finish({
          ok: false,
          error: { ...exitError, errorMessage: `RequestId: ${sandbox.current.requestId} Error: ${exitError.errorMessage}` },
        });
      }
    });
    return sandbox;
  }

  private run(sandbox: Sandbox, message: InvokeMessage): Promise<{ ok: true; payload: unknown } | { ok: false; error: LambdaErrorPayload }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // Lambda stops the environment at the deadline; the next invocation gets a fresh one (a cold start).
        const seconds = this.timeoutSeconds.toFixed(2);
        finish({ ok: false, error: lambdaError("Sandbox.Timedout", `RequestId: ${message.requestId} Error: Task timed out after ${seconds} seconds`) });
        void this.kill(sandbox);
      }, this.timeoutSeconds * 1000);
      const finish = (outcome: { ok: true; payload: unknown } | { ok: false; error: LambdaErrorPayload }): void => {
        if (sandbox.current?.requestId !== message.requestId) return;
        clearTimeout(timer);
        sandbox.current = undefined;
        resolve(outcome);
      };
      sandbox.current = { requestId: message.requestId, traceHeader: message.traceHeader, finish };
      sandbox.worker.ref();
      sandbox.worker.postMessage(message);
    });
  }

  private async kill(sandbox: Sandbox): Promise<void> {
    sandbox.dead = true;
    this.sandboxes.delete(sandbox);
    const index = this.idle.indexOf(sandbox);
    if (index >= 0) this.idle.splice(index, 1);
    await sandbox.worker.terminate();
  }

  private emitLog(entry: FunctionLogEntry): void {
    try {
      this.onLog(entry);
    } catch {
      // A failing log listener must not break the function.
    }
  }
}
