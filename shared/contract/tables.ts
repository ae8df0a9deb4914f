/**
 * Key layout of the platform's shared data table: generic key names, so any ElectroDB entity maps onto them. The
 * platform creates the table with it and the runtime maps entities onto it. Items expire through `expiresAt`
 * (epoch seconds).
 */
export const DATA_TABLE_LAYOUT = {
  partitionKey: "pk",
  sortKey: "sk",
  ttlAttribute: "expiresAt",
  indexes: {
    gsi1: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    gsi2: { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
  },
} as const;

/** Attribute names of the idempotency table (the layout Powertools' idempotency utility uses). */
export const IDEMPOTENCY_TABLE_LAYOUT = { keyAttribute: "id", ttlAttribute: "expiration" } as const;
