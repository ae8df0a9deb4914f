import { createHash } from "node:crypto";
// First: @pulumi/pulumi then loads its function-serialization packages only if a program uses them.
import "./defer-modules";
import * as pulumi from "@pulumi/pulumi";
import { MOCK_ACCOUNT_ID } from "./mock-account";

/** A resource as the program registered it under mocks, with the state the mocks answered. */
export interface CapturedResource {
  type: string;
  /** Logical name. */
  name: string;
  urn: string;
  /** URN of the parent resource ("" for the stack itself). */
  parent: string;
  custom: boolean;
  inputs: Record<string, any>;
  /** Inputs plus the computed outputs a real deployment would return (ARNs, URLs, ids). */
  state: Record<string, any>;
  id: string | undefined;
  /** Reference (`<urn>::<id>`) of the explicit provider the resource names or inherits; absent for the default provider. */
  provider?: string;
}

export interface PlatformMocksOptions {
  region: string;
  accountId?: string;
  /** Outputs of other stacks, by fully qualified or short stack name, for `pulumi.StackReference`. */
  stackOutputs?: (stackName: string) => Record<string, unknown> | undefined;
}

export { MOCK_ACCOUNT_ID };

function shortHash(text: string, length = 8): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

function uuidFrom(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Pulumi mocks that answer like AWS: physical names like Pulumi's auto-naming, ARNs, URLs and ids in the real
 * formats, and the invokes programs use (caller identity, region, partition, policy documents, availability zones).
 * Every registration is captured with its parent, so tests can assert wiring and parenting.
 */
export class PlatformMocks implements pulumi.runtime.Mocks {
  readonly resources: CapturedResource[] = [];
  /** Every invoke the program made (data source lookups), in order. */
  readonly calls: { token: string; inputs: Record<string, any> }[] = [];
  readonly region: string;
  readonly accountId: string;
  private readonly stackOutputs: PlatformMocksOptions["stackOutputs"];
  private currentRequest: { parent: string } | undefined;
  private lastCaptured: CapturedResource | undefined;

  constructor(options: PlatformMocksOptions) {
    this.region = options.region;
    this.accountId = options.accountId ?? MOCK_ACCOUNT_ID;
    this.stackOutputs = options.stackOutputs;
  }

  /** Installs the mocks for one program run (project and stack as `pulumi up` would name them). */
  async install(project: string, stack: string): Promise<void> {
    await pulumi.runtime.setMocks(this, project, stack, false);
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      registerResource(req: any, callback: (err: any, res: any) => void): Promise<void>;
      readResource(req: any, callback: (err: any, res: any) => void): Promise<void>;
    };
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) => {
      // newResource runs synchronously inside the original call, before its first await: hand it the parent,
      // and take the record it made so the URN can be filled in when the registration completes.
      this.currentRequest = { parent: req.getParent() };
      let record: CapturedResource | undefined;
      const pending = original(req, (err, res) => {
        if (!err && res && record) record.urn = res.getUrn();
        callback(err, res);
      });
      record = this.lastCaptured;
      this.lastCaptured = undefined;
      return pending;
    };
    // Resources that are read rather than created (a StackReference) arrive through readResource: same capture.
    const originalRead = monitor.readResource.bind(monitor);
    monitor.readResource = (req: any, callback: (err: any, res: any) => void) => {
      this.currentRequest = { parent: req.getParent() };
      let record: CapturedResource | undefined;
      const pending = originalRead(req, (err, res) => {
        if (!err && res && record) record.urn = res.getUrn();
        callback(err, res);
      });
      record = this.lastCaptured;
      this.lastCaptured = undefined;
      return pending;
    };
  }

  byType(type: string): CapturedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  one(type: string, name: string): CapturedResource {
    const found = this.resources.find((r) => r.type === type && r.name === name);
    if (!found) {
      const names = this.byType(type).map((r) => r.name);
      throw new Error(`no ${type} named ${name} (have: ${names.join(", ") || "none"})`);
    }
    return found;
  }

  childrenOf(urn: string): CapturedResource[] {
    return this.resources.filter((r) => r.parent === urn);
  }

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
    const parent = this.currentRequest?.parent ?? "";
    this.currentRequest = undefined;
    const { id, state } = this.answer(args);
    const record: CapturedResource = {
      type: args.type,
      name: args.name,
      urn: "",
      parent,
      custom: args.custom ?? true,
      inputs: args.inputs,
      state,
      id,
      ...(args.provider ? { provider: args.provider } : {}),
    };
    this.resources.push(record);
    this.lastCaptured = record;
    return { id, state };
  }

  private physicalName(args: pulumi.runtime.MockResourceArgs, suffix = ""): string {
    if (typeof args.inputs.name === "string" && args.inputs.name) return args.inputs.name;
    const prefix = typeof args.inputs.namePrefix === "string" ? args.inputs.namePrefix : `${args.name}-`;
    return `${prefix}${shortHash(`${args.type}:${args.name}`, 7)}${suffix}`;
  }

  private answer(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
    const { region, accountId } = this;
    const inputs = args.inputs ?? {};
    const base = (id: string, extra: Record<string, unknown>) => ({ id, state: { ...inputs, ...extra } });
    switch (args.type) {
      case "pulumi:pulumi:StackReference": {
        const stackName = String(inputs.name);
        const outputs = this.stackOutputs?.(stackName);
        if (!outputs) throw new Error(`no outputs for stack reference "${stackName}" in the mocks`);
        return { id: stackName, state: { name: stackName, outputs, secretOutputNames: [] } };
      }
      case "aws:sns/topic:Topic": {
        const name = this.physicalName(args, inputs.fifoTopic ? ".fifo" : "");
        const arn = `arn:aws:sns:${region}:${accountId}:${name}`;
        return base(arn, { name, arn, owner: accountId });
      }
      case "aws:sns/topicSubscription:TopicSubscription": {
        const arn = `${inputs.topic}:${uuidFrom(args.name)}`;
        return base(arn, { arn, ownerId: accountId, confirmationWasAuthenticated: true, pendingConfirmation: inputs.protocol === "email" });
      }
      // Policy attachments echo their target (as the provider does) and invent no ARN of their own: rules relate a
      // policy to its topic or queue by these values.
      case "aws:sns/topicPolicy:TopicPolicy":
        return base(String(inputs.arn), { owner: accountId });
      case "aws:sqs/queuePolicy:QueuePolicy":
        return base(String(inputs.queueUrl), {});
      case "aws:iam/rolePolicy:RolePolicy":
        return base(`${inputs.role}:${inputs.name ?? args.name}`, {});
      case "aws:sqs/queue:Queue": {
        const name = this.physicalName(args, inputs.fifoQueue ? ".fifo" : "");
        const url = `https://sqs.${region}.amazonaws.com/${accountId}/${name}`;
        return base(url, { name, url, arn: `arn:aws:sqs:${region}:${accountId}:${name}` });
      }
      case "aws:dynamodb/table:Table": {
        const name = this.physicalName(args);
        const arn = `arn:aws:dynamodb:${region}:${accountId}:table/${name}`;
        const stream = inputs.streamEnabled ? { streamArn: `${arn}/stream/2026-01-01T00:00:00.000`, streamLabel: "2026-01-01T00:00:00.000" } : {};
        return base(name, { name, arn, ...stream });
      }
      case "aws:iam/role:Role": {
        const name = this.physicalName(args);
        return base(name, { name, arn: `arn:aws:iam::${accountId}:role/${name}`, uniqueId: `AROA${shortHash(name, 16).toUpperCase()}` });
      }
      case "aws:iam/policy:Policy": {
        const name = this.physicalName(args);
        const arn = `arn:aws:iam::${accountId}:policy/${name}`;
        return base(arn, { name, arn, policyId: `ANPA${shortHash(name, 16).toUpperCase()}` });
      }
      case "aws:lambda/function:Function": {
        const name = this.physicalName(args);
        const arn = `arn:aws:lambda:${region}:${accountId}:function:${name}`;
        return base(name, {
          name,
          arn,
          qualifiedArn: `${arn}:$LATEST`,
          invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn}/invocations`,
          version: "$LATEST",
        });
      }
      case "aws:lambda/eventSourceMapping:EventSourceMapping": {
        const uuid = uuidFrom(args.name);
        return base(uuid, { uuid, arn: `arn:aws:lambda:${region}:${accountId}:event-source-mapping:${uuid}`, state: "Enabled" });
      }
      case "aws:lambda/permission:Permission":
        return base(inputs.statementId ?? args.name, {});
      case "aws:cloudwatch/logGroup:LogGroup": {
        const name = this.physicalName(args);
        return base(name, { name, arn: `arn:aws:logs:${region}:${accountId}:log-group:${name}` });
      }
      case "aws:cloudwatch/metricAlarm:MetricAlarm": {
        const name = this.physicalName(args);
        return base(name, { name, arn: `arn:aws:cloudwatch:${region}:${accountId}:alarm:${name}` });
      }
      case "aws:kms/key:Key": {
        const keyId = uuidFrom(args.name);
        return base(keyId, { keyId, arn: `arn:aws:kms:${region}:${accountId}:key/${keyId}` });
      }
      case "aws:kms/alias:Alias":
        return base(String(inputs.name), { arn: `arn:aws:kms:${region}:${accountId}:${inputs.name}`, targetKeyArn: `arn:aws:kms:${region}:${accountId}:key/${inputs.targetKeyId}` });
      case "aws:apigatewayv2/api:Api": {
        const apiId = shortHash(args.name, 10);
        return base(apiId, {
          apiEndpoint: `https://${apiId}.execute-api.${region}.amazonaws.com`,
          executionArn: `arn:aws:execute-api:${region}:${accountId}:${apiId}`,
          arn: `arn:aws:apigateway:${region}::/apis/${apiId}`,
        });
      }
      case "aws:apigatewayv2/stage:Stage": {
        const id = String(inputs.name ?? "$default");
        return base(id, {
          arn: `arn:aws:apigateway:${region}::/apis/${inputs.apiId}/stages/${id}`,
          invokeUrl: `https://${inputs.apiId}.execute-api.${region}.amazonaws.com/${id === "$default" ? "" : id}`,
          executionArn: `arn:aws:execute-api:${region}:${accountId}:${inputs.apiId}/${id}`,
        });
      }
      case "aws:ec2/securityGroup:SecurityGroup": {
        const id = `sg-${shortHash(args.name, 17)}`;
        return base(id, { arn: `arn:aws:ec2:${region}:${accountId}:security-group/${id}` });
      }
      case "aws:kinesis/stream:Stream": {
        // Kinesis names streams `arn:aws:kinesis:<region>:<account>:stream/<name>`.
        const name = this.physicalName(args);
        const arn = `arn:aws:kinesis:${region}:${accountId}:stream/${name}`;
        return base(arn, { name, arn });
      }
      case "aws:kinesis/streamConsumer:StreamConsumer": {
        // An enhanced fan-out consumer: `<stream ARN>/consumer/<name>:<creation timestamp>`.
        const name = this.physicalName(args);
        const arn = `${inputs.streamArn}/consumer/${name}:1767225600`;
        return base(arn, { name, arn, creationTimestamp: "2026-01-01T00:00:00Z" });
      }
      case "aws:sfn/stateMachine:StateMachine": {
        // Step Functions names state machines `arn:aws:states:<region>:<account>:stateMachine:<name>`.
        const name = this.physicalName(args);
        const arn = `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
        return base(arn, { name, arn, status: "ACTIVE", creationDate: "2026-01-01T00:00:00Z" });
      }
      case "aws:rds/cluster:Cluster": {
        // RDS names clusters `arn:aws:rds:<region>:<account>:cluster:<identifier>`; a managed master password is a
        // Secrets Manager secret named `rds!cluster-<uuid>` (with Secrets Manager's six-character suffix).
        const identifier = String(inputs.clusterIdentifier ?? this.physicalName(args));
        const arn = `arn:aws:rds:${region}:${accountId}:cluster:${identifier}`;
        const secrets = inputs.manageMasterUserPassword
          ? [{ secretArn: `arn:aws:secretsmanager:${region}:${accountId}:secret:rds!cluster-${uuidFrom(identifier)}-${shortHash(identifier, 6)}`, secretStatus: "active", kmsKeyId: inputs.masterUserSecretKmsKeyId ?? "" }]
          : [];
        return base(identifier, {
          arn,
          clusterIdentifier: identifier,
          clusterResourceId: `cluster-${shortHash(identifier, 26).toUpperCase()}`,
          endpoint: `${identifier}.cluster-${shortHash(accountId, 12)}.${region}.rds.amazonaws.com`,
          port: 5432,
          masterUserSecrets: secrets,
        });
      }
      case "aws:rds/clusterInstance:ClusterInstance": {
        const identifier = String(inputs.identifier ?? this.physicalName(args));
        return base(identifier, { arn: `arn:aws:rds:${region}:${accountId}:db:${identifier}`, identifier });
      }
      case "aws:rds/subnetGroup:SubnetGroup": {
        const name = this.physicalName(args);
        return base(name, { name, arn: `arn:aws:rds:${region}:${accountId}:subgrp:${name}` });
      }
      case "aws:secretsmanager/secret:Secret": {
        // Secrets Manager appends six random characters to a secret's name in its ARN.
        const name = this.physicalName(args);
        const arn = `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${shortHash(name, 6)}`;
        return base(arn, { name, arn });
      }
      case "aws:secretsmanager/secretVersion:SecretVersion": {
        // Secrets Manager names each version with a UUID; the resource's id is `<secret ARN>|<version id>`.
        const versionId = uuidFrom(`${inputs.secretId}:${args.name}`);
        return base(`${inputs.secretId}|${versionId}`, { arn: inputs.secretId, versionId, versionStages: ["AWSCURRENT"] });
      }
      case "aws:lambda/invocation:Invocation":
        return base(`${inputs.functionName}_${shortHash(String(inputs.input), 8)}`, { result: JSON.stringify({ mocked: true }) });
      case "awsx:ec2:Vpc": {
        const vpcId = `vpc-${shortHash(args.name, 17)}`;
        const subnets = [0, 1].map((i) => `subnet-${shortHash(`${args.name}-private-${i}`, 17)}`);
        // awsx gives every subnet its own route table. A deployment returns them as RouteTable resources (whose
        // `id` is an Output); the mocks answer plain objects with the same `id` and `vpcId`.
        const routeTables = [0, 1].map((i) => ({ id: `rtb-${shortHash(`${args.name}-private-${i}`, 17)}`, vpcId }));
        return base(`${args.name}`, { vpcId, privateSubnetIds: subnets, publicSubnetIds: [], isolatedSubnetIds: [], routeTables });
      }
      default: {
        const id = `${args.name}-${shortHash(args.type + args.name, 7)}`;
        const [, module = "unknown"] = args.type.split(":");
        const service = module.split("/")[0];
        return base(id, args.custom === false ? {} : { arn: `arn:aws:${service}:${region}:${accountId}:${id}` });
      }
    }
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    const { region, accountId } = this;
    this.calls.push({ token: args.token, inputs: args.inputs });
    switch (args.token) {
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return { accountId, arn: `arn:aws:iam::${accountId}:user/deployer`, userId: "AIDAEXAMPLEUSERID", id: accountId };
      case "aws:index/getRegion:getRegion":
        return { name: region, region, id: region, description: `Mock (${region})`, endpoint: `ec2.${region}.amazonaws.com` };
      case "aws:index/getPartition:getPartition":
        return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" };
      case "aws:index/getAvailabilityZones:getAvailabilityZones":
        return { names: [`${region}a`, `${region}b`, `${region}c`], zoneIds: ["az1", "az2", "az3"], id: region };
      case "aws:secretsmanager/getRandomPassword:getRandomPassword":
        // A fixed password of the asked length: the mocks never create anything, and tests stay repeatable.
        return { randomPassword: "m".repeat(Number(args.inputs.passwordLength ?? 32)), id: "password" };
      case "aws:iam/getPolicyDocument:getPolicyDocument":
        return { json: policyDocumentJson(args.inputs), minifiedJson: policyDocumentJson(args.inputs), id: "policy" };
      default:
        throw new Error(`the mocks have no answer for invoke ${args.token}; add one to shared/capture/pulumi-mocks.ts`);
    }
  }
}

/** Renders `aws.iam.getPolicyDocument` inputs as the JSON the provider returns. */
export function policyDocumentJson(inputs: Record<string, any>): string {
  const asList = (v: unknown) => (Array.isArray(v) && v.length === 1 ? v[0] : v);
  const statements = (inputs.statements ?? []).map((s: Record<string, any>) => {
    const out: Record<string, unknown> = {};
    if (s.sid) out.Sid = s.sid;
    out.Effect = s.effect ?? "Allow";
    if (s.actions) out.Action = asList(s.actions);
    if (s.notActions) out.NotAction = asList(s.notActions);
    if (s.resources) out.Resource = asList(s.resources);
    if (s.notResources) out.NotResource = asList(s.notResources);
    if (s.principals) {
      const p: Record<string, unknown> = {};
      for (const pr of s.principals) p[pr.type] = asList(pr.identifiers);
      out.Principal = p.AWS === "*" && Object.keys(p).length === 1 ? "*" : p;
    }
    if (s.conditions) {
      const c: Record<string, Record<string, unknown>> = {};
      for (const cond of s.conditions) (c[cond.test] ??= {})[cond.variable] = asList(cond.values);
      out.Condition = c;
    }
    return out;
  });
  return JSON.stringify({ Version: inputs.version ?? "2012-10-17", Statement: statements }, null, 2);
}
