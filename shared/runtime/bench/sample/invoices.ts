import type { EntityItem } from "electrodb";
import { defineEntity, type EntityOf } from "../..";

/** A sample entity for the benchmark and tests: the invoices of the billing service. */
export const invoices = defineEntity({
  model: { entity: "invoice", version: "1" },
  attributes: {
    invoiceId: { type: "string", required: true },
    orderId: { type: "string", required: true },
    customerId: { type: "string", required: true },
    amount: { type: "number", required: true },
    currency: { type: "string", required: true },
  },
  indexes: {
    byId: { pk: { composite: ["invoiceId"] } },
    byOrder: { index: "gsi1", pk: { composite: ["orderId"] }, sk: { composite: ["invoiceId"] } },
  },
});

export type Invoice = EntityItem<EntityOf<typeof invoices>>;
