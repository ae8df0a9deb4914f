// The outbox relay's Lambda entry point. Not a user handler: the `OutboxRelay` component (shared/infra) bundles this
// file for each service that records events, with that service's environment and publish grants.
import { outboxRelay } from "./outbox-relay";

export const handler = outboxRelay();
