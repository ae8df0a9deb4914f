import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ENV } from "../contract/environment";
import { ConfigurationError } from "./errors";
import { requireEnv } from "./function-environment";
import { logger } from "./logger";
import { rdsDataClient } from "./relational-client";
import { applyMigrations, type MigrationFile, type MigrationReport } from "./relational-migrations";

/** What the deploy's migration step invokes the function with (shared/infra/relational-store.ts). */
export interface MigrationInput {
  migrations: MigrationFile[];
}

let secrets: SecretsManagerClient | undefined;

/**
 * The migration function of a service's relational store (`<stage>-<service>-migrate`): reads the role's secret
 * (its username and password), then applies the migrations it is given with the cluster's master secret
 * (`applyMigrations`: role and schema first, each migration in a transaction, recorded in `schema_migrations`).
 * A failed migration throws, naming the file: the invocation fails, and `pulumi up` with it.
 */
export async function handler(input: MigrationInput): Promise<MigrationReport> {
  const need = "the migration function";
  if (!input || !Array.isArray(input.migrations)) throw new ConfigurationError('the migration function takes { "migrations": [{ "name", "sql" }] }');
  for (const m of input.migrations) {
    if (typeof m?.name !== "string" || typeof m.sql !== "string") throw new ConfigurationError("each migration needs a name and its sql text");
  }
  const roleSecretArn = requireEnv(ENV.relationalRoleSecretArn, need);
  secrets ??= new SecretsManagerClient({});
  const secret = await secrets.send(new GetSecretValueCommand({ SecretId: roleSecretArn }));
  let role: { username?: unknown; password?: unknown };
  try {
    role = JSON.parse(secret.SecretString ?? "") as typeof role;
  } catch {
    throw new ConfigurationError(`the role secret ${roleSecretArn} is not JSON { "username", "password" }`);
  }
  if (typeof role.username !== "string" || typeof role.password !== "string") throw new ConfigurationError(`the role secret ${roleSecretArn} lacks username or password`);
  const report = await applyMigrations({
    client: rdsDataClient(),
    clusterArn: requireEnv(ENV.relationalClusterArn, need),
    masterSecretArn: requireEnv(ENV.relationalSecretArn, need),
    database: requireEnv(ENV.relationalDatabase, need),
    schema: requireEnv(ENV.relationalSchema, need),
    role: { username: role.username, password: role.password },
    migrations: input.migrations,
  });
  logger.info("migrations applied", { schema: report.schema, applied: report.applied, alreadyApplied: report.alreadyApplied.length });
  if (report.waiting) {
    logger.warn("a migration without a statement waits: it is applied by the deploy after its statements are written", { schema: report.schema, waiting: report.waiting.name });
  }
  return report;
}
