/** The baseline: a handler that does nothing. */
export const handler = async (): Promise<{ batchItemFailures: never[] }> => ({ batchItemFailures: [] });
