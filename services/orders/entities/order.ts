import type { EntityItem } from "electrodb";
import { defineEntity, type EntityOf } from "../../../shared/runtime";

/**
 * The order entity, on the platform's data table under this service's key prefix.
 * `details` keeps the payload it was created from; add attributes and access patterns as the service grows.
 */
export const orders = defineEntity({
  model: { entity: "order", version: "1" },
  attributes: {
    orderId: { type: "string", required: true },
    status: { type: "string", required: true, default: "created" },
    details: { type: "any" },
    /** Id of the event or request that created it. */
    createdBy: { type: "string", required: true },
    createdAt: { type: "string", required: true, default: () => new Date().toISOString(), readOnly: true },
  },
  indexes: {
    byId: { pk: { composite: ["orderId"] } },
  },
});

export type Order = EntityItem<EntityOf<typeof orders>>;
