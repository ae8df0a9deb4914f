/**
 * A fault run of the relational path: ledger.entry-posted put on its Kinesis stream, read by reporting's relational
 * writer (a stream consumer that adds each entry to revenue per customer per day in PostgreSQL, recording the event
 * id in the same transaction) through the local stage's shard poller and Data API, while faults are injected; then
 * checked: the projection in the database equals the one computed from the events applied once, every event is
 * applied, given up on (inside an on-failure record's range) or reported (a failure event), and poison records are
 * reported or given up on.
 *
 * Faults, drawn from a seeded plan (the same seed, the same plan):
 * - duplicates: an event put twice (same envelope, same id), the second time later in the stream (another batch);
 * - crashes: the writer's execution environment is killed while it runs a batch (`FunctionHost.crash`), often with a
 *   Data API transaction open: nothing of it is committed, the stage rolls it back after its idle time, and the
 *   batch is retried;
 * - poison records: data that is no event (not JSON, or an envelope that breaks the schema) among a key's events.
 */
import { join } from "node:path";
import { KinesisClient, PutRecordCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createEvent } from "../../runtime/envelope";
import type { OnFailureRecord } from "../streams/shard-poller";
import { startLocalStage, type LocalStage } from "../stage";
import { Prng } from "./prng";
import { accountForEvents, accountForPoison, crashRunningBatches, poisonRecord, recordsGivenUp, reportedInFailureEvents, waitUntilRead, withReaderTiming, type BatchCrasher } from "./stream-run";

const REPO = join(__dirname, "..", "..", "..");
const STREAM = "local-ledger-entry-posted";
const WRITER = "local-reporting-on-entry-posted";
const EVENT = "ledger.entry-posted";

export interface RelationalFaultRates {
  duplicate: number;
  poison: number;
  /** Crashes of the writer while it runs a batch, in all. */
  crashes: number;
}

export const DEFAULT_RELATIONAL_RATES: RelationalFaultRates = { duplicate: 0.1, poison: 0.03, crashes: 6 };

export interface RelationalFaultOptions {
  events: number;
  seed: number;
  /** Partition keys (customers). @default 8 */
  keys?: number;
  /** Days the entries are spread over. @default 3 */
  days?: number;
  rates?: Partial<RelationalFaultRates>;
  /**
   * How long an idle Data API transaction lives (a crashed writer's open one holds the single PostgreSQL connection
   * until then). Every transaction has it, the stage's migrations' too, and a statement that runs longer than it (a
   * loaded machine's DDL) loses its transaction. @default 1500
   */
  transactionIdleMs?: number;
  /** The writer's function timeout, seconds: above the idle time plus a batch's own work. @default 10 */
  writerTimeoutSeconds?: number;
  /**
   * The writer mapping's MaximumRetryAttempts. Its own (10) spans about 13 s of retries, enough for the default
   * timeout (a crashed batch's idempotency lock lasts the invocation's remaining time), not for a longer one.
   * @default the mapping's own
   */
  retryAttempts?: number;
  /** @default 180000 */
  deadlineMs?: number;
}

export interface RelationalFaultReport {
  events: number;
  seed: number;
  injected: { duplicates: number; poison: number; crashes: number };
  outcome: { applied: number; deadLettered: number; reported: number; poisonReported: number; poisonDeadLettered: number; rows: number };
  violations: string[];
  /** Events the writer applied per second, from the first put to the drained stream. */
  eventsPerSecond: number;
  seconds: number;
}

interface Planned {
  id: string;
  key: string;
  day: string;
  cents: number;
}

/** Runs the scenario on a fresh local stage (ledger and reporting) and checks it. */
export async function runRelationalFaultScenario(options: RelationalFaultOptions): Promise<RelationalFaultReport> {
  const rates = { ...DEFAULT_RELATIONAL_RATES, ...options.rates };
  const prng = new Prng(options.seed);
  const started = performance.now();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const stage: LocalStage = await startLocalStage({
    port: 0,
    serviceDirs: [join(REPO, "services", "ledger"), join(REPO, "services", "reporting")],
    maxTraces: 200,
    // A crashed writer's open transaction holds the single PGlite connection: rolled back after 1.5 s.
    relationalTransactionIdleMs: options.transactionIdleMs ?? 1500,
    adjustWiring: (wiring) => withReaderTiming(wiring, WRITER, options.writerTimeoutSeconds ?? 10, options.retryAttempts),
  });
  const injected = { duplicates: 0, poison: 0, crashes: 0 };
  const violations: string[] = [];
  const kinesis = new KinesisClient({ region: stage.wiring.region, endpoint: stage.kinesis.url, requestHandler: new NodeHttpHandler(), maxAttempts: 3, credentials: { accessKeyId: "fault-run", secretAccessKey: "f" } });
  let crasher: BatchCrasher | undefined;
  try {
    const host = stage.hosts.get(WRITER);
    if (!host) throw new Error(`no function ${WRITER}: the reporting service is not in the stage`);
    crasher = crashRunningBatches(host, { prng, max: rates.crashes, everyMs: 30 });

    const keys = options.keys ?? 8;
    const days = options.days ?? 3;
    const planned: Planned[] = [];
    const poisonBodies: string[] = [];
    const puts: { key: string; body: string }[] = [];
    const duplicates: { key: string; body: string }[] = [];
    for (let i = 0; i < options.events; i++) {
      const key = `customer-${options.seed}-${prng.int(0, keys - 1)}`;
      if (prng.chance(rates.poison)) {
        const body = poisonRecord(prng, { seed: options.seed, i, type: EVENT, source: "ledger", data: { customerId: key } });
        poisonBodies.push(body);
        puts.push({ key, body });
        injected.poison++;
      }
      const day = `2026-12-0${1 + prng.int(0, days - 1)}`;
      const amount = prng.int(1, 50_000) / 100;
      const envelope = createEvent(EVENT, { customerId: key, invoiceId: `invoice-${i}`, amount }, { source: "ledger", time: new Date(`${day}T12:00:00Z`) });
      planned.push({ id: envelope.id, key, day, cents: Math.round(amount * 100) });
      const body = JSON.stringify(envelope);
      puts.push({ key, body });
      if (prng.chance(rates.duplicate)) {
        duplicates.push({ key, body });
        injected.duplicates++;
      }
    }
    // The duplicates come later (a publisher's retry after a lost answer, a replayed range), in other batches than
    // their first put: consume() already skips an event id seen twice in one batch.
    for (const duplicate of duplicates) puts.splice(prng.int(Math.floor(puts.length / 2), puts.length), 0, duplicate);
    const putStarted = performance.now();
    for (let i = 0; i < puts.length; i += 50) {
      const chunk = puts.slice(i, i + 50);
      const answer = await kinesis.send(new PutRecordsCommand({ StreamName: STREAM, Records: chunk.map((p) => ({ PartitionKey: p.key, Data: Buffer.from(p.body) })) }));
      // A record refused (none are injected here) is put again on its own.
      for (const [j, record] of (answer.Records ?? []).entries()) {
        if (record.ErrorCode) await kinesis.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: chunk[j]!.key, Data: Buffer.from(chunk[j]!.body) }));
      }
    }

    // Drained: the writer's checkpoint of every shard reached the shard's last record.
    const late = await waitUntilRead(stage, { stream: STREAM, reader: WRITER, role: "writer", deadlineMs: options.deadlineMs ?? 180_000 });
    if (late) violations.push(late);
    const drainedSeconds = (performance.now() - putStarted) / 1000;
    crasher.stop();
    injected.crashes = crasher.count;

    // What the database holds, read through the Data API with the master secret.
    const client = await stage.relational.client();
    const cluster = stage.relational.cluster!;
    const query = async <T>(sql: string): Promise<T[]> =>
      JSON.parse((await client.executeStatement({ resourceArn: cluster.clusterArn, secretArn: cluster.masterSecretArn, sql, formatRecordsAs: "JSON" })).formattedRecords ?? "[]") as T[];
    const processed = new Set((await query<{ event_id: string }>("select event_id from reporting.processed_events")).map((r) => r.event_id));
    const rows = await query<{ customer_id: string; day: string; amount_cents: number; entries: number }>(
      `select customer_id, day::text as day, amount_cents, entries from reporting.revenue where customer_id like 'customer-${options.seed}-%'`,
    );

    // Given up on: the records inside the writer's on-failure ranges.
    const onFailure = stage.kinesis.onFailureRecords().filter((f) => f.function === WRITER).map((f) => f.record as OnFailureRecord);
    const givenUp = await recordsGivenUp(stage, STREAM, onFailure);
    // Only the writer's reports (ledger's own stream consumer reports the same poison records).
    const reported = reportedInFailureEvents(stage, "reporting");

    const { applied, deadLettered, reported: reportedEvents } = accountForEvents(
      planned,
      { applied: (event) => processed.has(event.id), givenUp, reported, describe: (event) => `${event.key}, ${event.day}` },
      violations,
    );
    // The projection from the events applied once: processed ones, each counted once.
    const expected = new Map<string, { amount_cents: number; entries: number }>();
    for (const event of planned.filter((e) => processed.has(e.id))) {
      const key = `${event.key}|${event.day}`;
      const sum = expected.get(key) ?? { amount_cents: 0, entries: 0 };
      expected.set(key, { amount_cents: sum.amount_cents + event.cents, entries: sum.entries + 1 });
    }
    const plannedIds = new Set(planned.map((p) => p.id));
    for (const id of processed) if (id.length && !plannedIds.has(id) && id.includes(String(options.seed))) violations.push(`processed_events names ${id}, which no one put`);
    const actual = new Map(rows.map((r) => [`${r.customer_id}|${r.day}`, { amount_cents: Number(r.amount_cents), entries: Number(r.entries) }]));
    for (const [key, want] of expected) {
      const got = actual.get(key);
      if (!got) violations.push(`revenue of ${key} is missing (expected ${want.amount_cents} cents from ${want.entries} entries)`);
      else if (got.amount_cents !== want.amount_cents || got.entries !== want.entries) {
        violations.push(`revenue of ${key} is ${got.amount_cents} cents from ${got.entries} entries; the events applied once make ${want.amount_cents} from ${want.entries}`);
      }
    }
    for (const key of actual.keys()) if (!expected.has(key)) violations.push(`revenue of ${key} exists, but no applied event makes it`);
    const { poisonReported, poisonDeadLettered } = accountForPoison(poisonBodies, { givenUp, reported }, violations);
    return {
      events: options.events,
      seed: options.seed,
      injected,
      outcome: { applied, deadLettered, reported: reportedEvents, poisonReported, poisonDeadLettered, rows: rows.length },
      violations,
      eventsPerSecond: applied / drainedSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    crasher?.stop();
    kinesis.destroy();
    await stage.stop();
  }
}
