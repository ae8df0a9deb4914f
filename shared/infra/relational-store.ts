import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformOutputs } from "../contract";
import { REPO_ROOT } from "./helpers/bundle";
import { PRODUCTION_STAGES } from "./guardrails/rules/data";
import { checkServiceName, currentStage, serviceResourceBase } from "./helpers/names";
import type { PlatformReference } from "./platform-reference";
import { PlatformContractError } from "./platform-reference";
import { relationalSchemaName, RelationalConfigError, type RelationalAccess } from "./relational-access";
import { ServiceFunction, type FunctionOptions } from "./service-function";

/** Pulumi type token of the component; the local stage finds a service's store (schema, migrations) by it. */
export const RELATIONAL_STORE_TYPE = "platform:infra:RelationalStore";
/** Logical name of a store's migration function inside its service (`<stage>-<service>-migrate`). */
export const MIGRATION_FUNCTION_NAME = "migrate";
/** The handler every migration function runs: the runtime's migration runner, bundled per service. */
export const MIGRATION_HANDLER = join(REPO_ROOT, "shared/runtime/relational-migrate.ts");
/** `0001_create_revenue.sql`: a number that orders the migrations, a name, `.sql`. */
export const MIGRATION_FILE_PATTERN = /^(\d{4,})_[a-z0-9_]+\.sql$/;
/** Seconds the migration function may run: a paused cluster takes about 15 s to resume before the first statement. */
export const MIGRATION_TIMEOUT_SECONDS = 300;

/** A service's relational declaration (`relational` in `defineService`). */
export interface RelationalDefinition {
  /**
   * The folder of the service's migrations (`NNNN_name.sql`, applied in order of their number), relative to the
   * Pulumi project folder.
   * @default "migrations"
   */
  migrations?: string;
}

export interface RelationalStoreArgs extends RelationalDefinition {
  platform: PlatformReference;
  service: string;
  /** The migration function's handler. @default the runtime's migration runner (`MIGRATION_HANDLER`) */
  migrationHandler?: Pick<FunctionOptions, "handler" | "export">;
  /** Settings of the migration function (runtime, memory, log level). */
  migrationFunction?: Pick<FunctionOptions, "runtime" | "memory" | "logLevel">;
}

/** One migration as the migration function receives it. */
export interface Migration {
  name: string;
  sql: string;
}

/** What the component registers: the local stage applies the same migrations to its own engine. */
export interface RelationalStoreRegistration {
  service: string;
  schema: string;
  /** The migrations folder, relative to the repository root, with `/` separators. */
  migrationsDir: string;
  migrations: string[];
  /** sha256 of the migrations' names and contents: the migration step runs again when it changes. */
  hash: string;
}

/**
 * The migrations of a folder, in order: `NNNN_name.sql` files (other files are refused, so a misnamed migration is
 * not silently skipped); their numbers must be unique.
 */
export function readMigrations(dir: string, what: string): Migration[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new RelationalConfigError(`${what}: the migrations folder ${toPosix(relative(REPO_ROOT, dir))} does not exist (npm run new-migration -- --service <service> --name <name> writes one)`);
  }
  const numbers = new Map<string, string>();
  const files = readdirSync(dir)
    .filter((file) => !file.startsWith(".") && !/\.(md|txt)$/i.test(file))
    .sort();
  for (const file of files) {
    const match = MIGRATION_FILE_PATTERN.exec(file);
    if (!match) {
      throw new RelationalConfigError(`${what}: ${file} in ${toPosix(relative(REPO_ROOT, dir))} is not a migration name: NNNN_lowercase_words.sql (0002_add_region.sql)`);
    }
    const other = numbers.get(Number(match[1]).toString());
    if (other) throw new RelationalConfigError(`${what}: ${other} and ${file} have the same number; renumber one`);
    numbers.set(Number(match[1]).toString(), file);
  }
  return files
    .sort((a, b) => Number(MIGRATION_FILE_PATTERN.exec(a)![1]) - Number(MIGRATION_FILE_PATTERN.exec(b)![1]))
    .map((name) => ({ name, sql: readFileSync(join(dir, name), "utf8") }));
}

/** The migrations' hash: their names and contents, in order. */
export function migrationsHash(migrations: readonly Migration[]): string {
  const hash = createHash("sha256");
  for (const m of migrations) hash.update(`${m.name}\0${m.sql}\0`);
  return hash.digest("hex");
}

/**
 * The platform's relational store, for `service`; throws when the platform stage has none (the message names the
 * stack and the settings to change).
 */
export function platformStore(
  stackName: string,
  relational: PlatformOutputs["relational"],
  service: string,
): { clusterArn: string; database: string; masterSecretArn: string } {
  if (!relational.enabled || !relational.clusterArn || !relational.database || !relational.masterSecretArn) {
    throw new PlatformContractError(
      `service "${service}" declares relational, but platform stack "${stackName}" has no relational store: ` +
        "set platform:relational (and platform:vpcEnabled) to true in the platform's stage file and deploy the platform first",
    );
  }
  return { clusterArn: relational.clusterArn, database: relational.database, masterSecretArn: relational.masterSecretArn };
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

/**
 * A service's part of the platform's relational store: its own schema and database role (named after the service,
 * `-` as `_`), a Secrets Manager secret holding the role's credentials (a generated password, encrypted with the
 * platform key, created once: later deployments leave it alone), and the migration step, run by `pulumi up`:
 *
 * - the migration function (`<stage>-<service>-migrate`, the runtime's migration runner) connects through the Data
 *   API with the cluster's master secret, creates the schema and the role (the role's secret gives it its
 *   password), and applies the service's migrations in order, each in a transaction, recorded in a table;
 * - the program invokes it (`aws.lambda.Invocation`) when the migrations' hash changes (a new file, or an edit);
 * - a migration that fails makes the function throw, naming the file: the invocation fails, and so does the
 *   deployment, before any function of the service is updated (their environment waits for the invocation).
 *
 * `access` is what the service's functions get (`relational` on each function): the Data API on the cluster with the
 * role's secret, GetSecretValue on that secret only.
 */
export class RelationalStore extends pulumi.ComponentResource {
  readonly schema: string;
  readonly registration: RelationalStoreRegistration;
  readonly secret: aws.secretsmanager.Secret;
  readonly migrationFunction: ServiceFunction;
  readonly migration: aws.lambda.Invocation;
  /** The access of the service's functions, known once the migrations are applied. */
  readonly access: pulumi.Output<RelationalAccess>;

  constructor(name: string, args: RelationalStoreArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const service = checkServiceName(args.service);
    const schema = relationalSchemaName(service);
    const what = `relational store of service "${service}"`;
    const dir = resolve(process.cwd(), args.migrations ?? "migrations");
    const migrations = readMigrations(dir, what);
    const hash = migrationsHash(migrations);
    const registration: RelationalStoreRegistration = {
      service,
      schema,
      migrationsDir: toPosix(relative(REPO_ROOT, dir)),
      migrations: migrations.map((m) => m.name),
      hash,
    };
    super(RELATIONAL_STORE_TYPE, name, registration, opts);
    this.schema = schema;
    this.registration = registration;
    const parent = { parent: this };
    const { platform } = args;

    const store = pulumi
      .all([platform.get("relational"), platform.get("region"), platform.eventsKeyArn])
      .apply(([relational, region, keyArn]) => ({ ...platformStore(platform.stackName, relational, service), region, keyArn }));

    const awsName = serviceResourceBase(service, "relational");
    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: awsName,
        description: `Credentials of database role ${schema} (schema ${schema}) of ${service}: its functions connect with it through the RDS Data API`,
        kmsKeyId: platform.eventsKeyArn,
        // A deleted secret keeps its name for its recovery window: outside production it goes at once, so a stage
        // destroyed and deployed again gets a new one (and the migration gives the role its new password).
        recoveryWindowInDays: (PRODUCTION_STAGES as readonly string[]).includes(currentStage()) ? 30 : 0,
      },
      { ...parent },
    );
    const password = aws.secretsmanager.getRandomPasswordOutput({ passwordLength: 40, excludePunctuation: true }, { parent: this });
    const version = new aws.secretsmanager.SecretVersion(
      `${name}-secret-version`,
      {
        secretId: this.secret.id,
        secretString: pulumi.secret(pulumi.jsonStringify({ username: schema, password: password.randomPassword })),
      },
      // The invoke draws a new password on every run: the first one is kept (the migration gave it to the role).
      { ...parent, ignoreChanges: ["secretString"] },
    );

    this.migrationFunction = new ServiceFunction(
      `${name}-${MIGRATION_FUNCTION_NAME}`,
      {
        platform,
        service,
        name: MIGRATION_FUNCTION_NAME,
        handler: args.migrationHandler?.handler ?? MIGRATION_HANDLER,
        export: args.migrationHandler?.export,
        ...args.migrationFunction,
        timeout: MIGRATION_TIMEOUT_SECONDS,
        // One migration at a time: a second deployment waits instead of racing the first.
        reservedConcurrency: 1,
        data: "none",
        idempotency: false,
        relational: store.apply((s) => ({ clusterArn: s.clusterArn, database: s.database, schema, secretArn: s.masterSecretArn, keyArn: s.keyArn, region: s.region })),
        relationalRoleSecretArn: this.secret.arn,
      },
      { ...parent },
    );

    this.migration = new aws.lambda.Invocation(
      `${name}-migrations`,
      {
        functionName: this.migrationFunction.name,
        input: JSON.stringify({ migrations }),
        // Again when a migration is added or changed, and when the role's secret is new (its password must be given
        // to the role before the functions connect with it).
        triggers: { schema, migrations: hash, secretVersion: version.versionId },
      },
      { ...parent, dependsOn: [version, this.migrationFunction] },
    );

    this.access = pulumi
      .all([store, this.secret.arn, this.migration.result])
      .apply(([s, secretArn]) => ({ clusterArn: s.clusterArn, database: s.database, schema, secretArn, keyArn: s.keyArn, region: s.region }));

    this.registerOutputs({ schema, secretArn: this.secret.arn, migrationFunction: this.migrationFunction.name });
  }
}
