/**
 * The RDS Data API on HTTP (AWS REST-JSON: `POST /Execute`, `/BatchExecute`, `/BeginTransaction`,
 * `/CommitTransaction`, `/RollbackTransaction`), as `@aws-sdk/client-rds-data` speaks it, in front of the local
 * engine (PGlite). Every call is authorized twice, as AWS does: `rds-data:<Operation>` on the cluster ARN, and
 * `secretsmanager:GetSecretValue` on the secret the call names (the Data API reads it with the caller's
 * permissions); the secret decides the database role the statement runs as. Errors carry AWS's codes
 * (`BadRequestException`, `DatabaseErrorException` with PostgreSQL's message, `TransactionNotFoundException`,
 * `AccessDeniedException`, `NotFoundException`, and `DatabaseResumingException` when the `resuming` fault hook says so).
 */
import { randomUUID } from "node:crypto";
import { contextFromHeader, type RequestContext } from "../context";
import { allowAll, denialMessage, type Authorizer } from "../endpoints/authorization";
import type { EndpointRequest, EndpointResponse, ServiceEndpoint } from "../endpoints/server";
import { DataApiError, type RelationalEngine, type SqlParameter, type StatementInput, type StatementReport } from "./engine";

/** What the endpoint needs of an engine: an in-process {@link RelationalEngine} or its thread (engine-thread.ts). */
export type DataApiEngine = Pick<RelationalEngine, "execute" | "batch" | "begin" | "end">;

/** A secret the Data API accepts: which database role it logs in as. */
export interface RelationalSecret {
  arn: string;
  /** The database role (the secret's `username`). */
  username: string;
}

/** Options of {@link createDataApiEndpoint}. */
export interface DataApiEndpointOptions {
  engine: DataApiEngine;
  /** The cluster's ARN (the calls' `resourceArn`). */
  clusterArn: string;
  /** The cluster's database (the calls' `database`, when given). */
  database: string;
  /** The secrets the Data API knows, by ARN (the master secret and each service's role secret). */
  secrets: () => ReadonlyMap<string, RelationalSecret>;
  /** Called before every operation; a denial answers `AccessDeniedException`. @default allow everything */
  authorize?: Authorizer;
  accountId: string;
  region: string;
  /** Called after each statement with the call's context (its parent span is the calling invocation's). */
  onStatement?: (statement: StatementReport & { context: RequestContext }) => void;
  /**
   * A fault hook: asked once per authorized call, `true` answers `DatabaseResumingException` (HTTP 400) and runs
   * nothing, as the Data API does while a paused Aurora Serverless v2 instance (0 ACUs) resumes.
   * @default never
   */
  resuming?: (operation: string) => boolean;
}

const OPERATIONS: Record<string, string> = {
  "/Execute": "ExecuteStatement",
  "/BatchExecute": "BatchExecuteStatement",
  "/BeginTransaction": "BeginTransaction",
  "/CommitTransaction": "CommitTransaction",
  "/RollbackTransaction": "RollbackTransaction",
};

type Body = Record<string, unknown>;

/**
 * The Data API endpoint the functions' unmodified SDK clients use (`AWS_ENDPOINT_URL_RDS_DATA`).
 * @example
 * const server = await startEndpointServer({ services: [createDataApiEndpoint({ engine, clusterArn, database, secrets, accountId, region })] });
 * const client = new RDSDataClient({ endpoint: server.url });
 */
export function createDataApiEndpoint(options: DataApiEndpointOptions): ServiceEndpoint {
  const { engine } = options;
  const authorize = options.authorize ?? allowAll;

  async function handle(request: EndpointRequest): Promise<EndpointResponse> {
    const requestId = randomUUID();
    try {
      const path = request.url.split("?")[0] ?? "";
      const operation = OPERATIONS[path];
      if (request.method !== "POST" || !operation) {
        if (path === "/ExecuteSql") throw new DataApiError("BadRequestException", "ExecuteSql is deprecated and not served locally: use ExecuteStatement");
        throw new DataApiError("BadRequestException", `the local Data API serves POST ${Object.keys(OPERATIONS).join(", ")}`);
      }
      if (!request.credential) throw new ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403);
      let input: Body;
      try {
        const parsed: unknown = request.body.length ? JSON.parse(request.body.toString("utf8")) : {};
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
        input = parsed as Body;
      } catch {
        throw new DataApiError("BadRequestException", "The request body is not a JSON object.");
      }
      const trace = request.headers["x-amzn-trace-id"];
      const context = contextFromHeader(typeof trace === "string" ? trace : undefined, request.credential.accessKeyId);
      const resourceArn = requiredString(input, "resourceArn");
      const secretArn = requiredString(input, "secretArn");
      const conditionKeys = { "aws:RequestedRegion": options.region, "aws:SourceIp": request.remoteAddress, "aws:CurrentTime": new Date().toISOString() };
      const check = async (action: string, resource: string, service: string) => {
        const denied = await denialMessage(
          authorize,
          { principal: context.principal, action, resource, context: { operation, service, region: options.region, requestId, requestContext: context, conditionKeys } },
          options.accountId,
        );
        if (denied) throw new ApiError("AccessDeniedException", denied, 403);
      };
      await check(`rds-data:${operation}`, resourceArn, "rds-data");
      if (resourceArn !== options.clusterArn) throw new DataApiError("BadRequestException", `HttpEndpoint is not enabled for resource ${resourceArn}`);
      await check("secretsmanager:GetSecretValue", secretArn, "secretsmanager");
      const secret = options.secrets().get(secretArn);
      if (!secret) throw new DataApiError("BadRequestException", `Error fetching secret ${secretArn} : Secrets Manager can't find the specified secret.`);
      if (typeof input.database === "string" && input.database && input.database !== options.database) {
        throw new ApiError("DatabaseNotFoundException", `Database ${input.database} does not exist (the cluster's database is ${options.database})`, 404);
      }
      if (options.resuming?.(operation)) {
        throw new ApiError(
          "DatabaseResumingException",
          "A request was cancelled because the Aurora Serverless v2 DB instance was paused. The Data API request automatically resumes the DB instance. Wait a few seconds and try again.",
          400,
        );
      }
      const role = secret.username;
      const report = options.onStatement ? (statement: StatementReport) => options.onStatement!({ ...statement, context }) : undefined;
      switch (operation) {
        case "ExecuteStatement": {
          const statement: StatementInput = {
            sql: requiredString(input, "sql"),
            role,
            ...(report ? { report } : {}),
            ...(Array.isArray(input.parameters) ? { parameters: input.parameters as SqlParameter[] } : {}),
            ...(typeof input.transactionId === "string" ? { transactionId: input.transactionId } : {}),
            ...(input.includeResultMetadata === true ? { includeResultMetadata: true } : {}),
            ...(input.formatRecordsAs === "JSON" ? { formatRecordsAs: "JSON" as const } : {}),
            ...(input.resultSetOptions && typeof input.resultSetOptions === "object" ? { resultSetOptions: input.resultSetOptions as StatementInput["resultSetOptions"] } : {}),
          };
          if (input.formatRecordsAs !== undefined && input.formatRecordsAs !== "JSON" && input.formatRecordsAs !== "NONE") {
            throw new DataApiError("BadRequestException", `formatRecordsAs must be NONE or JSON, not ${String(input.formatRecordsAs)}`);
          }
          return json(200, await engine.execute(statement), requestId);
        }
        case "BatchExecuteStatement":
          return json(
            200,
            await engine.batch({
              sql: requiredString(input, "sql"),
              role,
              ...(report ? { report } : {}),
              parameterSets: Array.isArray(input.parameterSets) ? (input.parameterSets as SqlParameter[][]) : [],
              ...(typeof input.transactionId === "string" ? { transactionId: input.transactionId } : {}),
            }),
            requestId,
          );
        case "BeginTransaction":
          return json(200, { transactionId: await engine.begin(role) }, requestId);
        default:
          return json(200, { transactionStatus: await engine.end(requiredString(input, "transactionId"), role, operation === "CommitTransaction" ? "COMMIT" : "ROLLBACK") }, requestId);
      }
    } catch (error) {
      if (error instanceof DataApiError || error instanceof ApiError) return json(error.status, { message: error.message }, requestId, error.code);
      return json(500, { message: `The local Data API failed: ${(error as Error).message}` }, requestId, "InternalServerErrorException");
    }
  }

  return {
    service: "rds-data",
    matches: (request) => Object.hasOwn(OPERATIONS, request.url.split("?")[0] ?? ""),
    handle,
  };
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function requiredString(input: Body, key: string): string {
  const value = input[key];
  if (typeof value !== "string" || !value) throw new DataApiError("BadRequestException", `${key} is required`);
  return value;
}

function json(status: number, body: unknown, requestId: string, errorType?: string): EndpointResponse {
  return {
    status,
    headers: { "content-type": "application/json", "x-amzn-requestid": requestId, ...(errorType ? { "x-amzn-errortype": errorType } : {}) },
    body: JSON.stringify(body),
  };
}
