// The fulfil-order saga on the local Step Functions engine (the interpreter the local stage runs), its tasks run by
// the service's own handlers in this process, its publishes sent to the test bed's SNS with the unmodified client,
// and StartExecution answered by the engine's endpoint: what the consumer and the workflow tests share.
import { PublishCommand, SNSClient, type PublishCommandInput } from "@aws-sdk/client-sns";
import { ENV } from "../../../shared/contract";
import { createStepFunctionsEndpoint, StepFunctionsEngine, type FunctionAnswer } from "../../../shared/local/stepfunctions";
import { startEndpointServer, type EndpointServer } from "../../../shared/local/endpoints";
import { resetWorkflowClient } from "../../../shared/runtime";
import type { ServiceTestBed } from "../../../shared/testing";
import { handler as chargePayment } from "../handlers/charge-payment";
import { handler as releaseStock } from "../handlers/release-stock";
import { handler as reserveStock } from "../handlers/reserve-stock";
import { fulfilOrder } from "../workflows/fulfil-order";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
export const STATE_MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:test-fulfilment-fulfil-order`;
const functionArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:test-fulfilment-${name}`;

type TaskHandler = (input: never) => Promise<unknown>;
const TASKS: Record<string, TaskHandler> = {
  "test-fulfilment-reserve-stock": reserveStock,
  "test-fulfilment-charge-payment": chargePayment,
  "test-fulfilment-release-stock": releaseStock,
};

export interface WorkflowBed {
  engine: StepFunctionsEngine;
  /** Task invocations, by function name. */
  invocations: Record<string, number>;
  stop(): Promise<void>;
}

/** Starts the engine with the service's definition (ARNs resolved as the component resolves them) and its endpoint. */
export async function workflowBed(bed: ServiceTestBed): Promise<WorkflowBed> {
  const sns = new SNSClient({ region: REGION });
  const invocations: Record<string, number> = {};
  const engine = new StepFunctionsEngine({
    region: REGION,
    accountId: ACCOUNT,
    shortWaitsMs: 1,
    runner: {
      async invokeFunction(arn, payload): Promise<FunctionAnswer> {
        const name = arn.split(":").pop()!;
        invocations[name] = (invocations[name] ?? 0) + 1;
        const handler = TASKS[name]!;
        try {
          return { ok: true, payload: JSON.parse(JSON.stringify((await handler(payload as never)) ?? null)) };
        } catch (error) {
          return { ok: false, errorType: (error as Error).name, errorMessage: (error as Error).message };
        }
      },
      async publish(input) {
        const { MessageId } = await sns.send(new PublishCommand(input as unknown as PublishCommandInput));
        return { MessageId: MessageId! };
      },
    },
  });
  const asl = fulfilOrder.toAsl({
    service: "fulfilment",
    workflow: "fulfil-order",
    functionArn,
    topicArn: (type) => bed.relayTopics[type]!,
    failureTopicArn: process.env[ENV.failureTopicArn]!,
  });
  await engine.setStateMachines([{ name: "test-fulfilment-fulfil-order", arn: STATE_MACHINE, definition: JSON.stringify(asl), roleArn: `arn:aws:iam::${ACCOUNT}:role/fulfil-order`, type: "STANDARD" }]);
  const server: EndpointServer = await startEndpointServer({ services: [createStepFunctionsEndpoint({ engine, region: REGION })] });
  process.env.AWS_ENDPOINT_URL_SFN = server.url;
  process.env[ENV.workflows] = JSON.stringify({ "fulfil-order": STATE_MACHINE });
  resetWorkflowClient();
  return {
    engine,
    invocations,
    async stop() {
      await engine.stop();
      await server.close();
      sns.destroy();
      resetWorkflowClient();
    },
  };
}
