import { consume, derivedEventId } from "../../../shared/runtime";
import { balances } from "../entities/balance";

/**
 * Reacts to ledger.entry-posted: records a balance for it.
 * Runs at most once per event (the consumer's idempotency lock); a retry after a crash writes the same item again.
 */
export const handler = consume({
  "ledger.entry-posted": async (event, { logger }) => {
    // The same event always yields the same balance, so a retried action overwrites instead of duplicating.
    const balanceId = derivedEventId("balance", event.id);
    await balances().put({ balanceId, details: event.data, createdBy: event.id }).go();
    logger.info("balance recorded", { balanceId });
  },
});
