import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { executionArnOf } from "../../workflow";

export interface Received {
  target: string | undefined;
  contentType: string | undefined;
  authorization: string | undefined;
  body: { stateMachineArn: string; name: string; input: string; traceHeader?: string };
}

/**
 * Step Functions' JSON 1.0 protocol, as much of it as StartExecution needs, with AWS's idempotency: the same name
 * and input while the execution runs answers the first start; the same name with another input, or after the first
 * execution closed, answers ExecutionAlreadyExists.
 */
export class SfnStub {
  readonly requests: Received[] = [];
  readonly executions = new Map<string, { input: string; closed: boolean }>();
  private server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk) => (text += chunk));
      req.on("end", () => {
        const body = JSON.parse(text);
        this.requests.push({ target: req.headers["x-amz-target"] as string, contentType: req.headers["content-type"], authorization: req.headers.authorization, body });
        const key = `${body.stateMachineArn}:${body.name}`;
        const existing = this.executions.get(key);
        const reply = (status: number, payload: unknown) => {
          res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
          res.end(JSON.stringify(payload));
        };
        if (existing && (existing.closed || existing.input !== body.input)) {
          reply(400, { __type: "com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists", message: `Execution Already Exists: '${executionArnOf(body.stateMachineArn, body.name)}'` });
          return;
        }
        if (!existing) this.executions.set(key, { input: body.input, closed: false });
        reply(200, { executionArn: executionArnOf(body.stateMachineArn, body.name), startDate: 1_765_000_000.123 });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  closeAll(): void {
    for (const execution of this.executions.values()) execution.closed = true;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

