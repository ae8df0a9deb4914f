// The yardstick for the cold-start benchmark: billing's consumer (services/billing/handlers/on-order-placed.ts)
// written by hand with the raw AWS SDK v3 DynamoDB client, created at init, and none of the runtime's conveniences
// (no schema validation, no ElectroDB, no logger, no failure events). It makes the same three AWS calls for an
// orders.order-placed event: the conditional put of the idempotency lock, one TransactWriteItems with the invoice
// (data table) and the outbox item holding billing.invoice-issued (the service's outbox table; its relay publishes it
// later), and the lock's completion. Bundled with the same options as every function.
import { createHash, randomUUID } from "node:crypto";
import { DynamoDBClient, PutItemCommand, TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";

const dynamo = new DynamoDBClient({});
const service = process.env.PLATFORM_SERVICE!;
const lockPrefix = `${service}#${process.env.PLATFORM_HANDLER}#`;
const dataTable = process.env.PLATFORM_DATA_TABLE!;
const idempotencyTable = process.env.PLATFORM_IDEMPOTENCY_TABLE!;
const outboxTable = process.env.PLATFORM_OUTBOX_TABLE!;

interface OrderPlaced {
  id: string;
  correlationid: string;
  traceparent: string;
  data: { orderId: string; customerId: string; total: { amount: number; currency: string } };
}

function derivedId(...parts: string[]): string {
  const hex = createHash("sha256").update(parts.join("\u0000")).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

async function handle(event: OrderPlaced): Promise<void> {
  const key = lockPrefix + event.id;
  const now = Date.now();
  const expiration = { N: String(Math.floor(now / 1000) + 86_400) };
  try {
    await dynamo.send(
      new PutItemCommand({
        TableName: idempotencyTable,
        Item: { id: { S: key }, status: { S: "INPROGRESS" }, expiration, in_progress_expiration: { N: String(now + 60_000) } },
        ConditionExpression: "attribute_not_exists(#id) OR #expiration < :now",
        ExpressionAttributeNames: { "#id": "id", "#expiration": "expiration" },
        ExpressionAttributeValues: { ":now": { N: String(Math.floor(now / 1000)) } },
      }),
    );
  } catch (error) {
    if ((error as Error).name === "ConditionalCheckFailedException") return; // a duplicate
    throw error;
  }
  const invoiceId = derivedId("invoice", event.id);
  const pk = `$${service}#invoiceid_${invoiceId}`;
  const issued = {
    specversion: "1.0",
    id: derivedId(key, "billing.invoice-issued", "1"),
    source: service,
    type: "billing.invoice-issued",
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    dataversion: 1,
    correlationid: event.correlationid,
    causationid: event.id,
    traceparent: `00-${event.traceparent.split("-")[1]}-${randomUUID().replace(/-/g, "").slice(0, 16)}-01`,
    data: { invoiceId, orderId: event.data.orderId, customerId: event.data.customerId, total: event.data.total },
  };
  const { total } = event.data;
  await dynamo.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Put: {
            TableName: dataTable,
            Item: {
              pk: { S: pk },
              sk: { S: "$invoice_1" },
              invoiceId: { S: invoiceId },
              status: { S: "created" },
              details: {
                M: {
                  orderId: { S: event.data.orderId },
                  customerId: { S: event.data.customerId },
                  total: { M: { amount: { N: String(total.amount) }, currency: { S: total.currency } } },
                },
              },
              createdBy: { S: event.id },
              createdAt: { S: new Date(now).toISOString() },
            },
          },
        },
        {
          Put: {
            TableName: outboxTable,
            Item: {
              pk: { S: pk },
              sk: { S: `$outbox#${issued.id}` },
              outboxService: { S: service },
              outboxEvents: { L: [{ S: JSON.stringify(issued) }] },
              expiresAt: { N: String(Math.floor(now / 1000) + 86_400) },
            },
          },
        },
      ],
    }),
  );
  await dynamo.send(
    new PutItemCommand({ TableName: idempotencyTable, Item: { id: { S: key }, status: { S: "COMPLETED" }, expiration } }),
  );
}

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
  for (const record of event.Records) {
    try {
      await handle(JSON.parse(record.body) as OrderPlaced);
    } catch (error) {
      console.error(error);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
