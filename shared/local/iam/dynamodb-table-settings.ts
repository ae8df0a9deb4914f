/**
 * Table settings DynamoDB describes but a local engine does not keep: dynalite answers `UnknownOperationException`
 * to `DescribeTimeToLive` and `DescribeContinuousBackups`. The IAM proxy answers them from what the programs declared
 * (a table's `ttl` and `pointInTimeRecovery`), in the shapes of the Amazon DynamoDB API Reference
 * (DescribeTimeToLive, DescribeContinuousBackups): a table the engine holds but no program declared has TTL and
 * point-in-time recovery disabled, as a table created without them has in AWS.
 */

/** What a program declared for one table. */
export interface DeclaredTableSettings {
  /** The TTL attribute, when TTL is enabled. */
  ttlAttribute?: string;
  /** Point-in-time recovery, when enabled. */
  pointInTimeRecovery?: { recoveryPeriodInDays: number };
}

/** The operations answered from declared settings. */
export const TABLE_SETTINGS_OPERATIONS: ReadonlySet<string> = new Set(["DescribeTimeToLive", "DescribeContinuousBackups"]);

/** An answer of the proxy: HTTP status and the JSON body (an error carries `__type` and `message`). */
export interface SettingsAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** `LatestRestorableDateTime` is typically 5 minutes before the current time (API Reference). */
const LATEST_RESTORABLE_LAG_SECONDS = 5 * 60;

/**
 * The answer to `DescribeTimeToLive` or `DescribeContinuousBackups` for `table`.
 * @param createdAt the table's `CreationDateTime` (epoch seconds) as the engine reports it, `undefined` when the engine
 *   has no such table
 * @param now epoch milliseconds
 */
export function answerTableSettings(
  operation: string,
  table: string | undefined,
  settings: DeclaredTableSettings | undefined,
  createdAt: number | undefined,
  now: number,
): SettingsAnswer {
  if (table === undefined) {
    return error(
      "ValidationException",
      "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    );
  }
  if (operation === "DescribeTimeToLive") {
    if (createdAt === undefined) return error("ResourceNotFoundException", `Requested resource not found: Table: ${table} not found`);
    return {
      status: 200,
      body: {
        TimeToLiveDescription: settings?.ttlAttribute
          ? { TimeToLiveStatus: "ENABLED", AttributeName: settings.ttlAttribute }
          : { TimeToLiveStatus: "DISABLED" },
      },
    };
  }
  if (operation === "DescribeContinuousBackups") {
    // DescribeContinuousBackups names a missing table with an error of its own (TableNotFoundException).
    if (createdAt === undefined) return error("TableNotFoundException", `Table not found: ${table}`);
    const pitr = settings?.pointInTimeRecovery;
    if (!pitr) {
      return { status: 200, body: { ContinuousBackupsDescription: { ContinuousBackupsStatus: "ENABLED", PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: "DISABLED" } } } };
    }
    const nowSeconds = now / 1000;
    const earliest = Math.max(createdAt, nowSeconds - pitr.recoveryPeriodInDays * 86_400);
    const latest = Math.max(earliest, nowSeconds - LATEST_RESTORABLE_LAG_SECONDS);
    return {
      status: 200,
      body: {
        ContinuousBackupsDescription: {
          ContinuousBackupsStatus: "ENABLED",
          PointInTimeRecoveryDescription: {
            PointInTimeRecoveryStatus: "ENABLED",
            RecoveryPeriodInDays: pitr.recoveryPeriodInDays,
            EarliestRestorableDateTime: earliest,
            LatestRestorableDateTime: latest,
          },
        },
      },
    };
  }
  return error("UnknownOperationException", undefined);
}

function error(code: string, message: string | undefined): SettingsAnswer {
  return { status: 400, body: { __type: `com.amazonaws.dynamodb.v20120810#${code}`, ...(message === undefined ? {} : { message }) } };
}
