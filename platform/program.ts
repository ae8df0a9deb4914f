import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformOutputs } from "../shared/contract";
import type { PlatformConfig } from "./config";
import { createEventsKey } from "./encryption";
import { createEventBus } from "./event-bus";
import { createFailureSink } from "./failure-sink";
import { createNetwork } from "./network";
import { createRelational } from "./relational";
import { createStreams } from "./streams";
import { createTables } from "./tables";
import { createAccountTracingPolicy } from "./tracing";
import { useStageProvider } from "../shared/infra/stage-provider";

/** Each export may be computed by the deployment (an Output) but must have the contract's shape. */
export type PlatformExports = { [K in keyof PlatformOutputs]: pulumi.Input<PlatformOutputs[K]> };

/** The platform: event bus, tables, encryption, optional network. Returns the platform contract. */
export function createPlatform(config: PlatformConfig): PlatformExports {
  // Every AWS resource below is tagged stage / service=platform / project through the provider's default tags.
  useStageProvider("platform");
  const identity = aws.getCallerIdentityOutput();
  const key = createEventsKey(config, identity.accountId);
  const bus = createEventBus(config, key, identity.accountId);
  const failures = createFailureSink(config, bus.failureTopic, bus.alarmTopic);
  const tables = createTables(config);
  createAccountTracingPolicy(config, identity.accountId);
  const network = createNetwork(config);
  return {
    stage: config.stage,
    region: config.region,
    accountId: identity.accountId,
    eventTopics: pulumi.output(bus.eventTopics),
    eventStreams: pulumi.output(createStreams(config, key)),
    eventsKeyArn: key.arn,
    failureTopic: bus.failureTopic,
    failureQueue: failures.queue,
    alarmTopic: bus.alarmTopic,
    dataTable: tables.dataTable,
    idempotencyTable: tables.idempotencyTable,
    deletionProtection: config.deletionProtection,
    tracing: { mode: config.tracingMode },
    logs: { retentionDays: config.logRetentionDays, level: config.logLevel },
    vpc: network,
    relational: createRelational(config, key, network, bus.alarmTopic),
  };
}
