import { randomUUID } from "node:crypto";
import type { EntityItem } from "electrodb";
import type { EventType } from "../../../contract";
import { consume, type ConsumeOptions } from "../../consume";
import { defineEntity, type EntityOf } from "../../entity";
import type { ReceivedEvent } from "../../envelope";
import { BusinessRuleError } from "../../errors";
import { createPublisher } from "../../publisher";

/** One item per run of an action: counting them counts the action's effects. */
export const effects = defineEntity({
  model: { entity: "effect", version: "1" },
  attributes: {
    eventId: { type: "string", required: true },
    run: { type: "string", required: true },
    key: { type: "string", required: true },
  },
  indexes: {
    byEvent: { pk: { composite: ["eventId"] }, sk: { composite: ["run"] } },
    byKey: { index: "gsi1", pk: { composite: ["key"] }, sk: { composite: ["run"] } },
  },
});
export type Effect = EntityItem<EntityOf<typeof effects>>;

/** Effects written for a business key (an order id). */
export async function effectsFor(key: string): Promise<number> {
  return (await effects().query.byKey({ key }).go({ pages: "all" })).data.length;
}

/** Hooks a test sets to make the action wait, fail or crash at a given point. */
export const hooks: {
  /** Runs first (after the idempotency lock is taken). */
  before?: (event: ReceivedEvent) => Promise<void> | void;
  /** Runs after the action published, before it writes its effect. */
  afterPublish?: (event: ReceivedEvent) => Promise<void> | void;
} = {};

const billing = createPublisher("billing");

async function act(event: ReceivedEvent, key: string, publish: () => Promise<unknown>): Promise<void> {
  await hooks.before?.(event);
  await publish();
  await hooks.afterPublish?.(event);
  await effects().create({ eventId: event.id, run: randomUUID(), key }).go();
}

/**
 * The consumer under test, written as a service would: billing issues an invoice for a placed order (a customer
 * named "blocked" breaks a business rule), and records status changes (a FIFO event).
 */
export function billingConsumer(options?: ConsumeOptions) {
  return consume(
    {
      "orders.order-placed": (event) => {
        const { orderId, customerId, total } = event.data;
        if (customerId === "blocked") throw new BusinessRuleError(`customer ${customerId} may not order`);
        return act(event, orderId, () =>
          billing.publish("billing.invoice-issued", { invoiceId: `inv-${orderId}`, orderId, customerId, total }),
        );
      },
      "orders.order-status-changed": (event) => act(event, `${event.data.orderId}:${event.data.status}`, async () => {}),
    },
    options,
  );
}

export const handledTypes: EventType[] = ["orders.order-placed", "orders.order-status-changed"];
