import * as aws from "@pulumi/aws";
// awsx's ec2 module only: the package index loads every awsx module (ECS with its AWS SDK client, load balancers,
// ECR, Docker) on import, a third of a second of every run of this program (the local stage, tests) for nothing.
import * as awsxEc2 from "@pulumi/awsx/ec2";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformOutputs } from "../shared/contract";
import type { PlatformConfig } from "./config";

/**
 * Optional private network for functions that need one (a database, a private API; `network: true` on a function).
 * Off by default: nothing is created, so nothing costs money while idle. When on: private subnets in two zones
 * without NAT gateways, a free DynamoDB gateway endpoint, a security group for functions that allows only HTTPS
 * out, and interface endpoints (private DNS) for what functions call besides DynamoDB: SNS (events and failure
 * events) and, with active tracing, X-Ray. Interface endpoints are billed per hour and zone.
 */
export function createNetwork(config: PlatformConfig): pulumi.Output<PlatformOutputs["vpc"]> {
  if (!config.vpc.enabled) return pulumi.output({ enabled: false });
  const vpc = new awsxEc2.Vpc("network", {
    cidrBlock: config.vpc.cidr,
    numberOfAvailabilityZones: 2,
    natGateways: { strategy: "None" },
    subnetStrategy: "Auto",
    subnetSpecs: [{ type: "Private" }],
    enableDnsHostnames: true,
    enableDnsSupport: true,
  });
  const functions = new aws.ec2.SecurityGroup("functions-sg", {
    vpcId: vpc.vpcId,
    description: "Functions in the platform network: HTTPS out only",
    egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "HTTPS" }],
  });
  new aws.ec2.VpcEndpoint("dynamodb-endpoint", {
    vpcId: vpc.vpcId,
    serviceName: `com.amazonaws.${config.region}.dynamodb`,
    vpcEndpointType: "Gateway",
    // The VPC's own route tables (one per private subnet), so the endpoint waits for them. A lookup by VPC id
    // (getRouteTables) would run as soon as the VPC exists, before awsx has created the subnets' route tables,
    // and find only the main route table, which no subnet uses.
    routeTableIds: vpc.routeTables.apply((tables) => pulumi.all(tables.map((table) => table.id))),
  });
  // With no NAT, the AWS APIs functions call (other than DynamoDB) are reached through interface endpoints.
  const endpoints = new aws.ec2.SecurityGroup("endpoints-sg", {
    vpcId: vpc.vpcId,
    description: "Interface endpoints of the platform network: HTTPS from the functions' group only",
    ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, securityGroups: [functions.id], description: "HTTPS from functions" }],
  });
  const services = ["sns", ...(config.tracingMode === "Active" ? ["xray"] : [])];
  for (const service of services) {
    new aws.ec2.VpcEndpoint(`${service}-endpoint`, {
      vpcId: vpc.vpcId,
      serviceName: `com.amazonaws.${config.region}.${service}`,
      vpcEndpointType: "Interface",
      privateDnsEnabled: true,
      subnetIds: vpc.privateSubnetIds,
      securityGroupIds: [endpoints.id],
    });
  }
  return pulumi.output({
    enabled: true,
    vpcId: vpc.vpcId,
    privateSubnetIds: vpc.privateSubnetIds,
    securityGroupId: functions.id,
  });
}
