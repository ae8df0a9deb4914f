import { RDSData } from "@aws-sdk/client-rds-data";
import { logger } from "./logger";

// The RDS Data API client, apart from the other clients (aws-clients.ts): only functions of a service that declares
// `relational` bundle it (`relational` in their bundle settings; see `relationalStore` in relational.ts). Data API
// calls are HTTPS requests signed with the function's role: no connection, no pool, no VPC. The endpoint comes from
// the environment like the other clients' (AWS_ENDPOINT_URL_RDS_DATA locally). kysely-data-api takes the aggregated
// `RDSData` client (its five commands are all the Data API has).

let client: RDSData | undefined;

/** How long a call waits for a paused Aurora Serverless v2 instance to resume (it takes about 15 s), by default. */
export const RESUME_WAIT_MS = 45_000;

/** Options of {@link retryWhileResuming}. */
export interface ResumeRetryOptions {
  /** Give up (the call throws DatabaseResumingException) once this long has passed since the first answer. @default RESUME_WAIT_MS */
  maxWaitMs?: number;
  /** The first wait; each next one doubles, up to `maxDelayMs`. @default 500 */
  firstDelayMs?: number;
  /** @default 4000 */
  maxDelayMs?: number;
}

const RESUMING = "DatabaseResumingException";

/**
 * Makes every call of `client` retry while the Data API answers DatabaseResumingException: an Aurora Serverless v2
 * instance at 0 ACUs (paused) is resumed by the call, which AWS cancels with that error ("Wait a few seconds and try
 * again"). The SDK's own retries leave it alone (a client error, HTTP 400), so the first statement after a pause (a
 * deploy's migration step, a writer's first batch, a GET) would fail without this. Waits grow from `firstDelayMs`,
 * doubling, for at most `maxWaitMs` in all; then the error is thrown as it came. Any other error is thrown at once.
 * The call is safe to repeat: AWS ran nothing of it.
 */
export function retryWhileResuming<C extends Pick<RDSData, "middlewareStack">>(target: C, options: ResumeRetryOptions = {}): C {
  const maxWaitMs = options.maxWaitMs ?? RESUME_WAIT_MS;
  const firstDelayMs = options.firstDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 4000;
  target.middlewareStack.add(
    (next, context) => async (args) => {
      const started = Date.now();
      let delay = firstDelayMs;
      for (let attempt = 1; ; attempt++) {
        try {
          return await next(args);
        } catch (error) {
          const waited = Date.now() - started;
          if ((error as { name?: string }).name !== RESUMING || waited + delay > maxWaitMs) throw error;
          logger.warn("the database is resuming from a pause: the Data API call is retried", { operation: context.commandName, attempt, waitedMs: waited, nextInMs: delay });
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, maxDelayMs);
        }
      }
    },
    // Around the whole call (serialize, sign, the SDK's retries of network and throttling errors): each attempt is a
    // new, freshly signed request.
    { step: "initialize", name: "platformRetryWhileResuming", override: true },
  );
  return target;
}

/** The process's Data API client (created at init or on first use, then reused across invocations); it retries while the database resumes. */
export function rdsDataClient(): RDSData {
  client ??= retryWhileResuming(new RDSData({}));
  return client;
}

/** Whether the client exists (for tests of what init prepares). */
export function rdsDataClientCreated(): boolean {
  return client !== undefined;
}

/** Forgets the client, so the next use builds a new one from the current environment. */
export function resetRdsDataClient(): void {
  client?.destroy();
  client = undefined;
}
