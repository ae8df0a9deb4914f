import type { EntityItem } from "electrodb";
import { defineEntity, type EntityOf } from "../../../shared/runtime";

/**
 * The reservation entity, on the platform's data table under this service's key prefix.
 * `details` keeps the payload it was created from; add attributes and access patterns as the service grows.
 */
export const reservations = defineEntity({
  model: { entity: "reservation", version: "1" },
  attributes: {
    reservationId: { type: "string", required: true },
    status: { type: "string", required: true, default: "created" },
    details: { type: "any" },
    /** Id of the event or request that created it. */
    createdBy: { type: "string", required: true },
    createdAt: { type: "string", required: true, default: () => new Date().toISOString(), readOnly: true },
  },
  indexes: {
    byId: { pk: { composite: ["reservationId"] } },
  },
});

export type Reservation = EntityItem<EntityOf<typeof reservations>>;
