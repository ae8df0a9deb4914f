import * as z from "zod/mini";
import { TRACEPARENT_SHAPE } from "./trace-header";

/**
 * The wire format of every event: CloudEvents 1.0 (structured JSON mode) with the extensions
 * `correlationid`, `causationid`, `traceparent` (W3C Trace Context) and `dataversion` (the catalog version of `data`).
 */
export const envelopeSchema = z.object({
  specversion: z.literal("1.0"),
  id: z.string().check(z.minLength(1)),
  source: z.string().check(z.minLength(1)),
  type: z.string().check(z.minLength(1)),
  time: z.string().check(z.iso.datetime({ offset: true })),
  datacontenttype: z.literal("application/json"),
  dataschema: z.optional(z.string()),
  subject: z.optional(z.string()),
  correlationid: z.string().check(z.minLength(1)),
  causationid: z.optional(z.string()),
  traceparent: z.optional(z.string().check(z.regex(TRACEPARENT_SHAPE))),
  /** The catalog version of `data` (also the `dataversion` message attribute). Absent: the type's current version. */
  dataversion: z.optional(z.int().check(z.positive())),
  data: z.unknown(),
});

export type Envelope<D = unknown> = Omit<z.infer<typeof envelopeSchema>, "data"> & { data: D };

/** SNS message attributes that every event carries, for subscription filter policies (raw delivery keeps them). */
export const messageAttributeNames = {
  type: "type",
  source: "source",
  correlationId: "correlationid",
  version: "dataversion",
} as const;
