import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { runProgram } from "../../shared/testing/run-program";

const root = join(__dirname, "..", "..");

test("vpcEnabled creates private subnets without NAT, a DynamoDB gateway endpoint and an HTTPS-only group", async () => {
  const run = await runProgram({
    projectDir: root,
    stage: "dev",
    overrides: { "platform:vpcEnabled": true, "platform:vpcCidr": "10.30.0.0/16" },
  });
  const vpc = run.mocks.one("awsx:ec2:Vpc", "network");
  assert.is(vpc.inputs.cidrBlock, "10.30.0.0/16");
  assert.equal(vpc.inputs.natGateways, { strategy: "None" });
  assert.equal(vpc.inputs.subnetSpecs, [{ type: "Private" }]);
  const endpoint = run.mocks.one("aws:ec2/vpcEndpoint:VpcEndpoint", "dynamodb-endpoint").inputs;
  assert.is(endpoint.serviceName, "com.amazonaws.eu-west-1.dynamodb");
  assert.is(endpoint.vpcEndpointType, "Gateway");
  assert.is(endpoint.vpcId, vpc.state.vpcId);
  const sg = run.mocks.one("aws:ec2/securityGroup:SecurityGroup", "functions-sg");
  assert.equal(sg.inputs.egress.map((e: any) => [e.protocol, e.fromPort, e.toPort]), [["tcp", 443, 443]]);
  assert.is(sg.inputs.ingress, undefined, "no inbound rules");
  assert.equal(run.outputs.vpc, {
    enabled: true,
    vpcId: vpc.state.vpcId,
    privateSubnetIds: vpc.state.privateSubnetIds,
    securityGroupId: sg.state.id ?? sg.id,
  });
});

test.run();
