// Runs a POST /orders handler on the API Gateway event in argv[3] and dies (SIGKILL, no cleanup) right after its
// write reached DynamoDB, before anything else: the crash between the state change and what used to be the publish.
// argv[2] is "outbox" (the orders service's handler: the order and its event in one transaction) or "direct" (the
// same order written alone, then published: the way before the outbox). The environment comes from the parent test.
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createPublisher, httpHandler, route } from "../../index";
import { orders } from "../../../../services/orders/entities/order";
import { handler as outboxHandler } from "../../../../services/orders/handlers/create-order";

const [mode, eventJson] = [process.argv[2], process.argv[3]!];
// The outbox's transaction goes through the runtime's DynamoDB client (a TransactWriteItemsCommand); the direct
// write through the document client ElectroDB uses (a PutCommand).
const crashAfter = mode === "outbox" ? "TransactWriteItemsCommand" : "PutCommand";
const sender = (mode === "outbox" ? DynamoDBClient : DynamoDBDocumentClient).prototype as { send: (...args: any[]) => Promise<unknown> };
const send = sender.send;
sender.send = async function (this: unknown, command: any, ...rest: any[]) {
  const answer = await (send as any).call(this, command, ...rest);
  if (command?.constructor?.name === crashAfter) {
    process.kill(process.pid, "SIGKILL");
    await new Promise<void>(() => {});
  }
  return answer;
};

async function main() {
  const publisher = createPublisher("orders");
  const directHandler = httpHandler({
    "POST /orders": route({
      handler: async ({ event, stableId }) => {
        const body = JSON.parse(event.body ?? "{}");
        const orderId = stableId("orderId");
        await orders().put({ orderId, details: body, createdBy: "direct" }).go();
        await publisher.publish("orders.order-placed", { ...body, orderId });
        return { status: 201, body: { orderId } };
      },
    }),
  });
  // A short Lambda deadline, so the Idempotency-Key lock of the killed attempt frees itself within a second.
  const context = { awsRequestId: "crash", getRemainingTimeInMillis: () => 1000 } as unknown as Context;
  const event = JSON.parse(eventJson) as APIGatewayProxyEventV2;
  await (mode === "outbox" ? outboxHandler : directHandler)(event, context);
  // Not reached: the process is killed right after the write.
  process.exit(3);
}
void main();
