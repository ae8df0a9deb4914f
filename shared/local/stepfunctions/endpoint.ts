/**
 * The Step Functions API on HTTP, as the unmodified `@aws-sdk/client-sfn` speaks it (AWS JSON 1.0: `POST /` with
 * `X-Amz-Target: AWSStepFunctions.<Operation>`, signing name `states`, timestamps as epoch seconds, errors as
 * `{"__type": "<code>", "message": ...}`), over the local {@link StepFunctionsEngine}. Every operation is authorized
 * first with the caller's access key id (`states:StartExecution` on the state machine's ARN, `states:DescribeExecution`
 * on the execution's, ...).
 */
import { randomUUID } from "node:crypto";
import { awsErrorParts, AwsServiceError, LOCAL_ACCOUNT_ID } from "../aws";
import { contextFromHeader, type RequestContext } from "../context";
import { allowAll, denialMessage, type Authorizer } from "../endpoints/authorization";
import type { EndpointRequest, EndpointResponse, ServiceEndpoint } from "../endpoints/server";
import type { ExecutionRecord, HistoryEvent, StepFunctionsEngine } from "./engine";

/** Options of {@link createStepFunctionsEndpoint}. */
export interface StepFunctionsEndpointOptions {
  engine: StepFunctionsEngine;
  /**
   * Called before every operation; a denial answers `AccessDeniedException`.
   * @default allow everything
   */
  authorize?: Authorizer;
  /** @default LOCAL_ACCOUNT_ID */
  accountId?: string;
  /** The region of the stage. */
  region: string;
}

const TARGET_PREFIX = "AWSStepFunctions.";

type Input = Record<string, unknown>;
interface Operation {
  action: string;
  /** The ARN the action is on. */
  resource: (input: Input) => string;
  run: (input: Input, context: RequestContext) => unknown;
}

const seconds = (date: Date | undefined): number | undefined => (date === undefined ? undefined : date.getTime() / 1000);

function summary(execution: ExecutionRecord): Record<string, unknown> {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: seconds(execution.startDate),
    ...(execution.stopDate ? { stopDate: seconds(execution.stopDate) } : {}),
  };
}

function wireEvent(event: HistoryEvent, includeData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "timestamp") out.timestamp = seconds(event.timestamp);
    else if (!includeData && value !== null && typeof value === "object" && key.endsWith("EventDetails")) {
      // includeExecutionData: false leaves out inputs and outputs.
      const { input: _input, output: _output, ...rest } = value as Record<string, unknown>;
      out[key] = rest;
    } else out[key] = value;
  }
  return out;
}

function page<T>(items: T[], input: Input, what: string): { items: T[]; nextToken?: string } {
  const max = typeof input.maxResults === "number" && input.maxResults > 0 ? Math.min(input.maxResults, 1000) : 100;
  let start = 0;
  if (typeof input.nextToken === "string") {
    const decoded = Number(Buffer.from(input.nextToken, "base64url").toString("utf8").replace(`${what}:`, ""));
    if (!Number.isInteger(decoded) || decoded < 0) throw new AwsServiceError("InvalidToken", `Invalid Token: '${input.nextToken}'`);
    start = decoded;
  }
  const slice = items.slice(start, start + max);
  const next = start + max < items.length ? Buffer.from(`${what}:${start + max}`).toString("base64url") : undefined;
  return { items: slice, ...(next ? { nextToken: next } : {}) };
}

function text(input: Input, key: string): string {
  const value = input[key];
  if (typeof value !== "string" || value === "") throw new AwsServiceError("ValidationException", `1 validation error detected: Value null at '${key}' failed to satisfy constraint: Member must not be null`);
  return value;
}

function operations(engine: StepFunctionsEngine): Record<string, Operation> {
  const standardOnly = (execution: ExecutionRecord): ExecutionRecord => {
    if (execution.type === "EXPRESS") throw new AwsServiceError("ExecutionDoesNotExist", `Execution Does Not Exist: '${execution.executionArn}' (Express executions are not kept by the API)`);
    return execution;
  };
  return {
    StartExecution: {
      action: "states:StartExecution",
      resource: (input) => text(input, "stateMachineArn"),
      run: (input, context) => {
        const started = engine.startExecution({
          stateMachineArn: text(input, "stateMachineArn"),
          ...(typeof input.name === "string" ? { name: input.name } : {}),
          ...(typeof input.input === "string" ? { input: input.input } : {}),
          context,
        });
        return { executionArn: started.executionArn, startDate: seconds(started.startDate) };
      },
    },
    DescribeExecution: {
      action: "states:DescribeExecution",
      resource: (input) => text(input, "executionArn"),
      run: (input) => {
        const execution = standardOnly(engine.execution(text(input, "executionArn")));
        return {
          ...summary(execution),
          input: execution.input,
          inputDetails: { included: true },
          ...(execution.output !== undefined ? { output: execution.output, outputDetails: { included: true } } : {}),
          ...(execution.error !== undefined ? { error: execution.error } : {}),
          ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
          redriveCount: 0,
          redriveStatus: "NOT_REDRIVABLE",
        };
      },
    },
    ListExecutions: {
      action: "states:ListExecutions",
      resource: (input) => text(input, "stateMachineArn"),
      run: (input) => {
        const machine = engine.stateMachine(text(input, "stateMachineArn"));
        if (machine.type === "EXPRESS") throw new AwsServiceError("StateMachineTypeNotSupported", `This operation is not supported by this type of state machine: ${machine.arn} is EXPRESS`);
        const filter = typeof input.statusFilter === "string" ? input.statusFilter : undefined;
        const all = engine.executions(machine.arn).filter((e) => filter === undefined || e.status === filter);
        const { items, nextToken } = page(all, input, "executions");
        return { executions: items.map(summary), ...(nextToken ? { nextToken } : {}) };
      },
    },
    GetExecutionHistory: {
      action: "states:GetExecutionHistory",
      resource: (input) => text(input, "executionArn"),
      run: (input) => {
        const execution = standardOnly(engine.execution(text(input, "executionArn")));
        const events = input.reverseOrder === true ? [...execution.history].reverse() : execution.history;
        const { items, nextToken } = page(events, input, "history");
        const includeData = input.includeExecutionData !== false;
        return { events: items.map((event) => wireEvent(event, includeData)), ...(nextToken ? { nextToken } : {}) };
      },
    },
    StopExecution: {
      action: "states:StopExecution",
      resource: (input) => text(input, "executionArn"),
      run: (input) => {
        const stopped = engine.stopExecution(
          text(input, "executionArn"),
          typeof input.error === "string" ? input.error : undefined,
          typeof input.cause === "string" ? input.cause : undefined,
        );
        return { stopDate: seconds(stopped.stopDate) };
      },
    },
    DescribeStateMachine: {
      action: "states:DescribeStateMachine",
      resource: (input) => text(input, "stateMachineArn"),
      run: (input) => {
        const machine = engine.stateMachine(text(input, "stateMachineArn"));
        return { stateMachineArn: machine.arn, name: machine.name, status: "ACTIVE", definition: machine.definition, roleArn: machine.roleArn, type: machine.type, creationDate: 0 };
      },
    },
    ListStateMachines: {
      action: "states:ListStateMachines",
      resource: () => "*",
      run: (input) => {
        const { items, nextToken } = page(engine.stateMachines(), input, "machines");
        return { stateMachines: items.map((m) => ({ stateMachineArn: m.arn, name: m.name, type: m.type, creationDate: 0 })), ...(nextToken ? { nextToken } : {}) };
      },
    },
  };
}

function answer(status: number, body: unknown, requestId: string, extra: Record<string, string> = {}): EndpointResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": requestId, ...extra }, body: JSON.stringify(body) };
}

function errorAnswer(code: string, message: string, status: number, requestId: string): EndpointResponse {
  return answer(status, { __type: code, message }, requestId, { "x-amzn-errortype": code });
}

/**
 * The Step Functions endpoint.
 *
 * @example
 * const server = await startEndpointServer({ services: [createStepFunctionsEndpoint({ engine, region, authorize })] });
 * const sfn = new SFNClient({ endpoint: server.url, region });
 */
export function createStepFunctionsEndpoint(options: StepFunctionsEndpointOptions): ServiceEndpoint {
  const authorize = options.authorize ?? allowAll;
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const table = operations(options.engine);
  return {
    service: "states",
    matches: (request) => String(request.headers["x-amz-target"] ?? "").startsWith(TARGET_PREFIX),
    async handle(request: EndpointRequest): Promise<EndpointResponse> {
      const requestId = randomUUID();
      const target = String(request.headers["x-amz-target"] ?? "");
      if (request.method !== "POST" || !target.startsWith(TARGET_PREFIX)) return errorAnswer("UnknownOperationException", "expected POST with X-Amz-Target: AWSStepFunctions.<Operation>", 400, requestId);
      const name = target.slice(TARGET_PREFIX.length);
      const operation = table[name];
      if (!operation) return errorAnswer("UnknownOperationException", `${name} is not supported by the local stage (it answers ${Object.keys(table).join(", ")})`, 400, requestId);
      let input: Input;
      try {
        const parsed: unknown = JSON.parse(request.body.toString("utf8") || "{}");
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
        input = parsed as Input;
      } catch {
        return errorAnswer("SerializationException", "the request body is not a JSON object", 400, requestId);
      }
      const principal = request.credential?.accessKeyId ?? "anonymous";
      const header = request.headers["x-amzn-trace-id"];
      const context = contextFromHeader(typeof header === "string" ? header : undefined, principal);
      const region = request.credential?.region ?? options.region;
      try {
        const resource = operation.resource(input);
        const denied = await denialMessage(
          authorize,
          {
            principal,
            action: operation.action,
            resource,
            context: {
              operation: name,
              service: "states",
              region,
              requestId,
              conditionKeys: { "aws:RequestedRegion": region, "aws:SourceIp": request.remoteAddress, "aws:CurrentTime": new Date().toISOString() },
              requestContext: context,
            },
          },
          accountId,
        );
        if (denied) return errorAnswer("AccessDeniedException", denied, 400, requestId);
        return answer(200, operation.run(input, context), requestId);
      } catch (error) {
        const parts = awsErrorParts(error);
        if (!parts) return errorAnswer("InternalFailure", `local Step Functions failed: ${(error as Error).message}`, 500, requestId);
        return errorAnswer(parts.code, parts.message, parts.status ?? (parts.senderFault ? 400 : 500), requestId);
      }
    },
  };
}
