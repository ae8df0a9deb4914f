import { ENV } from "../contract";
import type { PolicyStatement } from "./helpers/policy-document";

/**
 * What the RDS Data API calls with the caller's credentials: the Amazon Aurora user guide ("Authorizing access to
 * the RDS Data API") lists these per cluster ARN. The Data API then reads the secret named in the call with the
 * caller's credentials too, hence `secretsmanager:GetSecretValue` on that secret (and `kms:Decrypt` for a secret
 * encrypted with a customer managed key).
 */
export const DATA_API_ACTIONS = [
  "rds-data:ExecuteStatement",
  "rds-data:BatchExecuteStatement",
  "rds-data:BeginTransaction",
  "rds-data:CommitTransaction",
  "rds-data:RollbackTransaction",
] as const;
export const SECRET_READ_ACTIONS = ["secretsmanager:GetSecretValue"] as const;
/** Secrets Manager passes the secret's ARN as the encryption context of every KMS call it makes for the secret. */
export const SECRETS_MANAGER_ENCRYPTION_CONTEXT = "kms:EncryptionContext:SecretARN";

/** A function's access to its service's relational store, resolved. */
export interface RelationalAccess {
  /** The Aurora cluster (the Data API's resourceArn). */
  clusterArn: string;
  /** The database in the cluster. */
  database: string;
  /** The service's schema. */
  schema: string;
  /** The secret the Data API connects with: the service role's (the master's for the migration function). */
  secretArn: string;
  /** The KMS key that encrypts the secrets (the platform's key). */
  keyArn: string;
  /** The region: KMS use is allowed only through Secrets Manager of this region. */
  region: string;
}

/** Postgres identifiers the schema may not take: PostgreSQL reserves `pg_` and Aurora `rds` for their own roles. */
const RESERVED_SCHEMA = /^(pg_|rds)|^(public|information_schema)$/;

export class RelationalConfigError extends Error {
  override name = "RelationalConfigError";
}

/**
 * The schema (and role) of a service: its name with `-` as `_` (`order-history` -> `order_history`), so SQL names it
 * without quotes. The role has the same name, so PostgreSQL's default search_path (`"$user", public`) finds its tables.
 */
export function relationalSchemaName(service: string): string {
  const schema = service.replaceAll("-", "_");
  if (RESERVED_SCHEMA.test(schema)) {
    throw new RelationalConfigError(
      `service "${service}" cannot have a relational schema named "${schema}": PostgreSQL and Aurora reserve pg_*, rds* and ${"public/information_schema"} for themselves; rename the service`,
    );
  }
  return schema;
}

/** The relational variables of a function's environment (ENV in shared/contract). */
export function relationalEnvironment(access: RelationalAccess): Record<string, string> {
  return {
    [ENV.relationalClusterArn]: access.clusterArn,
    [ENV.relationalSecretArn]: access.secretArn,
    [ENV.relationalDatabase]: access.database,
    [ENV.relationalSchema]: access.schema,
  };
}

/**
 * The statements of a function's `relational-data` policy: the Data API actions on the one cluster, GetSecretValue on
 * its own secret only (and the role's secret for the migration function), kms:Decrypt on the platform key only
 * through Secrets Manager of the region and only for those secrets.
 */
export function relationalStatements(access: RelationalAccess, roleSecretArn?: string): PolicyStatement[] {
  const secrets = [access.secretArn, ...(roleSecretArn ? [roleSecretArn] : [])];
  return [
    { Sid: "RelationalDataApi", Effect: "Allow", Action: [...DATA_API_ACTIONS], Resource: access.clusterArn },
    { Sid: "RelationalSecret", Effect: "Allow", Action: [...SECRET_READ_ACTIONS], Resource: secrets.length === 1 ? secrets[0]! : secrets },
    {
      Sid: "RelationalSecretKey",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: access.keyArn,
      Condition: {
        StringEquals: {
          "kms:ViaService": `secretsmanager.${access.region}.amazonaws.com`,
          [SECRETS_MANAGER_ENCRYPTION_CONTEXT]: secrets.length === 1 ? secrets[0]! : secrets,
        },
      },
    },
  ];
}
