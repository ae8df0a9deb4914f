import { randomUUID } from "node:crypto";
import type { DynamoDBRecord } from "aws-lambda";
import { OUTBOX_ITEM, OUTBOX_TABLE_LAYOUT } from "../../../contract/outbox";
import { cloudEvent, orderPlaced } from "./events";

// Outbox items of the orders service as the relay's event source mapping hands them over (DynamoDB Streams records).

export type Event = Record<string, unknown> & { id: string; type: string; data: any; traceparent: string; correlationid: string };

/** An orders.order-placed envelope for `orderId` (its own correlation id and trace). */
export function placed(orderId: string, extra: Record<string, unknown> = {}): Event {
  const trace = randomUUID().replaceAll("-", "");
  return cloudEvent("orders.order-placed", { ...orderPlaced({ orderId }), ...extra }, { traceparent: `00-${trace}-${trace.slice(0, 16)}-01` }) as Event;
}

/** An orders.order-status-changed envelope (a FIFO topic: its message group is the order id). */
export function statusChanged(orderId: string, status: string): Event {
  return cloudEvent("orders.order-status-changed", { orderId, status }) as Event;
}

let sequence = 1000;

/** The stream record of an outbox item of orders under partition key `pk`, as DynamoDB Streams delivers it. */
export function record(pk: string, ...events: Event[]): DynamoDBRecord {
  const keys = { [OUTBOX_TABLE_LAYOUT.partitionKey]: { S: `$orders#${pk}` }, [OUTBOX_TABLE_LAYOUT.sortKey]: { S: `${OUTBOX_ITEM.sortKeyPrefix}${events[0]!.id}` } };
  return {
    eventID: randomUUID(),
    eventName: "INSERT",
    eventSource: "aws:dynamodb",
    dynamodb: {
      Keys: keys,
      NewImage: {
        ...keys,
        [OUTBOX_ITEM.service]: { S: "orders" },
        [OUTBOX_ITEM.events]: { L: events.map((event) => ({ S: JSON.stringify(event) })) },
      },
      SequenceNumber: String(sequence++),
      StreamViewType: "NEW_IMAGE",
    },
  } as DynamoDBRecord;
}

/** The relay's answer that reports `records` as failed. */
export const failuresOf = (...records: DynamoDBRecord[]) => ({ batchItemFailures: records.map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber! })) });
