import * as pulumi from "@pulumi/pulumi";
import { logLevels, tracingModes, type LogLevel, type TracingMode } from "../shared/contract";
import { PRODUCTION_STAGES } from "../shared/infra/guardrails/rules/data";
import { placeholderAddressReason } from "../shared/infra/helpers/alarm-recipient";

/** Retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Stack (stage) names: `dev`, `prod`, `local`, `ci-<build id>` or any short kebab-case name. */
export const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

export interface PlatformConfig {
  stage: string;
  region: string;
  logRetentionDays: number;
  logLevel: LogLevel;
  tracingMode: TracingMode;
  deletionProtection: boolean;
  alarmEmail: string | undefined;
  vpc: { enabled: false } | { enabled: true; cidr: string };
  /** This stage owns the account's X-Ray resource policy that lets SNS send active-tracing segments. */
  ownsAccountTracingPolicy: boolean;
  /** The Kinesis data streams of stream events (`ordering: "stream"`): capacity mode, shards and retention. */
  streams: StreamsConfig;
  /** The relational store (Aurora PostgreSQL Serverless v2 behind the RDS Data API), off by default. */
  relational: RelationalConfig;
}

/** Aurora Serverless v2 capacity: 0 (paused: the engine versions with auto-pause) to 256 ACUs, in half steps. */
export const RELATIONAL_CAPACITY = { min: 0, max: 256, maxAtLeast: 1 } as const;
/** Aurora keeps automated backups 1 to 35 days. */
export const RELATIONAL_BACKUP_RETENTION_DAYS = { min: 1, max: 35 } as const;
/** Idle seconds before a cluster at minimum capacity 0 pauses: Aurora accepts 300 to 86,400. */
export const RELATIONAL_AUTO_PAUSE_SECONDS = { min: 300, max: 86_400 } as const;

export type RelationalConfig =
  | { enabled: false }
  | {
      enabled: true;
      /** ACUs; 0 lets the instance pause when idle (no ACU-hours billed, about 15 s to resume). */
      minCapacity: number;
      maxCapacity: number;
      backupRetentionDays: number;
      /** Idle seconds before the instance pauses (only with minCapacity 0). */
      secondsUntilAutoPause: number;
    };

/** Kinesis capacity modes: ON_DEMAND (billed per stream hour and per GB) or PROVISIONED (billed per shard hour). */
export const STREAM_CAPACITY_MODES = ["ON_DEMAND", "PROVISIONED"] as const;
export type StreamCapacityMode = (typeof STREAM_CAPACITY_MODES)[number];
/** Kinesis keeps records 24 hours to 365 days (8,760 hours). */
export const STREAM_RETENTION_HOURS = { min: 24, max: 8760 } as const;
/** Shards of a provisioned stream: at least 1; the account's default shard quota is 500 or 200 per region. */
export const STREAM_MAX_SHARDS = 200;

export type StreamsConfig =
  | { capacityMode: "ON_DEMAND"; retentionHours: number }
  | { capacityMode: "PROVISIONED"; shardCount: number; retentionHours: number };

export class PlatformConfigError extends Error {
  override name = "PlatformConfigError";
}

/**
 * Reads and validates the platform's configuration. Every error names the key to fix.
 * Pulumi merges the defaults declared in `Pulumi.yaml` with `Pulumi.<stage>.yaml`; under mocks and in the local
 * stage, `loadStackConfig` (shared/infra) does the same merge first.
 */
export function readPlatformConfig(): PlatformConfig {
  const stage = pulumi.getStack();
  if (!STAGE_PATTERN.test(stage)) {
    throw new PlatformConfigError(
      `stack name "${stage}" is not a valid stage: use lowercase letters, digits and dashes, at most 20 characters (dev, prod, ci-1234)`,
    );
  }
  const aws = new pulumi.Config("aws");
  const cfg = new pulumi.Config("platform");
  const region = aws.require("region");

  const logRetentionDays = cfg.requireNumber("logRetentionDays");
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    throw new PlatformConfigError(
      `platform:logRetentionDays is ${logRetentionDays}; CloudWatch accepts one of ${LOG_RETENTION_DAYS.join(", ")}`,
    );
  }
  const alarmEmail = cfg.get("alarmEmail") || undefined;
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new PlatformConfigError(`platform:alarmEmail "${alarmEmail}" is not an e-mail address`);
  }
  const placeholder = alarmEmail === undefined ? undefined : placeholderAddressReason(alarmEmail);
  if (placeholder) throw new PlatformConfigError(`platform:alarmEmail "${alarmEmail}" is a placeholder: ${placeholder}`);
  const deletionProtection = cfg.requireBoolean("deletionProtection");
  // A stage that protects its data must tell someone when it is in trouble.
  const protectsData = deletionProtection || (PRODUCTION_STAGES as readonly string[]).includes(stage);
  if (protectsData && alarmEmail === undefined) {
    const why = deletionProtection ? "platform:deletionProtection is true" : `${stage} is a production stage`;
    throw new PlatformConfigError(
      `platform:alarmEmail is not set: stage "${stage}" protects its data (${why}), so its alarms must reach a person. ` +
        `Set platform:alarmEmail in Pulumi.${stage}.yaml (or: pulumi config set platform:alarmEmail <address> --stack ${stage}) to an address that will confirm the subscription`,
    );
  }
  const vpcEnabled = cfg.requireBoolean("vpcEnabled");
  const vpcCidr = cfg.require("vpcCidr", { pattern: /^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|2[0-4])$/ });

  const streamRetentionHours = cfg.requireNumber("streamRetentionHours");
  if (!Number.isInteger(streamRetentionHours) || streamRetentionHours < STREAM_RETENTION_HOURS.min || streamRetentionHours > STREAM_RETENTION_HOURS.max) {
    throw new PlatformConfigError(
      `platform:streamRetentionHours is ${streamRetentionHours}; Kinesis keeps records ${STREAM_RETENTION_HOURS.min} to ${STREAM_RETENTION_HOURS.max} hours (a whole number)`,
    );
  }
  const capacityMode = cfg.require("streamCapacityMode", { allowedValues: [...STREAM_CAPACITY_MODES] }) as StreamCapacityMode;
  const shardCount = cfg.requireNumber("streamShardCount");
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > STREAM_MAX_SHARDS) {
    throw new PlatformConfigError(`platform:streamShardCount is ${shardCount}; a provisioned stream has 1 to ${STREAM_MAX_SHARDS} shards (a whole number)`);
  }
  const streams: StreamsConfig =
    capacityMode === "PROVISIONED"
      ? { capacityMode, shardCount, retentionHours: streamRetentionHours }
      : { capacityMode, retentionHours: streamRetentionHours };

  const relational = readRelationalConfig(cfg, vpcEnabled);

  return {
    stage,
    region,
    logRetentionDays,
    logLevel: cfg.require("logLevel", { allowedValues: [...logLevels] }) as LogLevel,
    tracingMode: cfg.require("tracingMode", { allowedValues: [...tracingModes] }) as TracingMode,
    deletionProtection,
    alarmEmail,
    vpc: vpcEnabled ? { enabled: true, cidr: vpcCidr } : { enabled: false },
    ownsAccountTracingPolicy: cfg.requireBoolean("ownsAccountTracingPolicy"),
    streams,
    relational,
  };
}

function capacity(cfg: pulumi.Config, key: string, min: number): number {
  const raw = cfg.require(key);
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > RELATIONAL_CAPACITY.max || !Number.isInteger(value * 2)) {
    throw new PlatformConfigError(
      `platform:${key} is "${raw}"; Aurora Serverless v2 takes ${min} to ${RELATIONAL_CAPACITY.max} ACUs in steps of 0.5 (a string such as "0", "0.5" or "4")`,
    );
  }
  return value;
}

/**
 * The relational store's settings: only read when `platform:relational` is true. The cluster lives in the platform's
 * private network, so it needs `platform:vpcEnabled` (functions reach it through the Data API, not the network).
 */
function readRelationalConfig(cfg: pulumi.Config, vpcEnabled: boolean): RelationalConfig {
  if (!cfg.requireBoolean("relational")) return { enabled: false };
  if (!vpcEnabled) {
    throw new PlatformConfigError(
      "platform:relational is true but platform:vpcEnabled is false: the Aurora cluster lives in the platform's private network (its DB subnet group is the network's private subnets). " +
        "Set platform:vpcEnabled to true in the stage file as well (functions still need no network: they use the RDS Data API)",
    );
  }
  const minCapacity = capacity(cfg, "relationalMinCapacity", RELATIONAL_CAPACITY.min);
  const maxCapacity = capacity(cfg, "relationalMaxCapacity", RELATIONAL_CAPACITY.maxAtLeast);
  if (minCapacity > maxCapacity) {
    throw new PlatformConfigError(`platform:relationalMinCapacity (${minCapacity}) is above platform:relationalMaxCapacity (${maxCapacity})`);
  }
  const backupRetentionDays = cfg.requireNumber("relationalBackupRetentionDays");
  const { min: bMin, max: bMax } = RELATIONAL_BACKUP_RETENTION_DAYS;
  if (!Number.isInteger(backupRetentionDays) || backupRetentionDays < bMin || backupRetentionDays > bMax) {
    throw new PlatformConfigError(`platform:relationalBackupRetentionDays is ${backupRetentionDays}; Aurora keeps automated backups ${bMin} to ${bMax} days (a whole number)`);
  }
  const secondsUntilAutoPause = cfg.requireNumber("relationalSecondsUntilAutoPause");
  const { min: pMin, max: pMax } = RELATIONAL_AUTO_PAUSE_SECONDS;
  if (!Number.isInteger(secondsUntilAutoPause) || secondsUntilAutoPause < pMin || secondsUntilAutoPause > pMax) {
    throw new PlatformConfigError(`platform:relationalSecondsUntilAutoPause is ${secondsUntilAutoPause}; Aurora pauses after ${pMin} to ${pMax} idle seconds (a whole number)`);
  }
  return { enabled: true, minCapacity, maxCapacity, backupRetentionDays, secondsUntilAutoPause };
}
