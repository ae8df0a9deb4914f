import type { EventType } from "../contract";
import { catalog, isEventType } from "../contract/catalog";
import { ENV } from "../contract/environment";
import { prepareAwsClients } from "./aws-clients";
import { envelopeSchema } from "../contract/envelope";
import { buildEnvelope } from "./envelope";
import { readEnv } from "./function-environment";
import { validate } from "./validation";

// Lambda runs a function's module scope in its init phase: with a full CPU whatever the memory size, before the
// first request (ahead of traffic with provisioned concurrency), billed like the rest. Work done there is work the
// first request does not wait for. `consume()`, `createPublisher()` and `defineEntity()` are called in module scope,
// so they prepare what the first event needs, when they run inside a function:
// - the SDK clients (configuration only: no network call, so init works offline);
// - the entities (ElectroDB builds and validates its model);
// - the event schemas (zod compiles a schema on its first parse: the catalog's example is parsed once).
// Outside a function (a test that imports a handler before setting the environment) nothing happens at import and
// everything is built on first use, as before.

/** True when the function component's environment is set: in Lambda and the local stage, module scope is init. */
export function inFunction(): boolean {
  return readEnv(ENV.service) !== undefined;
}

const prepared = new Set<string>();

const INIT_TRACEPARENT = "00-00000000000000000000000000000001-0000000000000001-00";

/**
 * Validates each type's catalog example once (envelope and data, as a received event is), so that zod's first parse
 * of a real event finds its schemas compiled. Never throws: the outcome is not used.
 */
export function prepareEventSchemas(types: readonly string[]): void {
  for (const type of types) {
    if (prepared.has(type) || !isEventType(type)) continue;
    prepared.add(type);
    const { example, schema } = catalog[type as EventType];
    validate(envelopeSchema, buildEnvelope(type, example, { source: "init", id: "init", correlationId: "init", traceparent: INIT_TRACEPARENT }));
    validate(schema, example);
  }
}

/** What a consumer's first event needs: the SDK clients and the schemas of the events it handles. */
export function prepareConsumer(types: readonly string[]): void {
  if (!inFunction()) return;
  prepareAwsClients();
  prepareEventSchemas(types);
}
