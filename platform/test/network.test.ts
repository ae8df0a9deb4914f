import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { runProgram } from "../../shared/capture/run-program";

const root = join(__dirname, "..", "..");

test("vpcEnabled creates private subnets without NAT, a DynamoDB gateway endpoint, interface endpoints and HTTPS-only groups", async () => {
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
  // No NAT: SNS (and X-Ray with active tracing) through interface endpoints that take HTTPS from functions only.
  const endpointsSg = run.mocks.one("aws:ec2/securityGroup:SecurityGroup", "endpoints-sg");
  assert.equal(endpointsSg.inputs.ingress.map((i: any) => [i.protocol, i.fromPort, i.toPort, i.securityGroups]), [["tcp", 443, 443, [sg.state.id ?? sg.id]]]);
  assert.is(endpointsSg.inputs.egress, undefined, "no outbound rules");
  const interfaces = run.mocks.resources.filter((r) => r.type === "aws:ec2/vpcEndpoint:VpcEndpoint" && r.inputs.vpcEndpointType === "Interface");
  assert.equal(interfaces.map((r) => r.inputs.serviceName).sort(), ["com.amazonaws.eu-west-1.sns", "com.amazonaws.eu-west-1.xray"]);
  for (const r of interfaces) {
    assert.is(r.inputs.privateDnsEnabled, true);
    assert.equal(r.inputs.subnetIds, vpc.state.privateSubnetIds);
    assert.equal(r.inputs.securityGroupIds, [endpointsSg.state.id ?? endpointsSg.id]);
  }
  assert.equal(run.outputs.vpc, {
    enabled: true,
    vpcId: vpc.state.vpcId,
    privateSubnetIds: vpc.state.privateSubnetIds,
    securityGroupId: sg.state.id ?? sg.id,
  });
});

test("without active tracing the network has no X-Ray endpoint", async () => {
  const run = await runProgram({
    projectDir: root,
    stage: "dev",
    overrides: { "platform:vpcEnabled": true, "platform:tracingMode": "PassThrough" },
  });
  const interfaces = run.mocks.resources.filter((r) => r.type === "aws:ec2/vpcEndpoint:VpcEndpoint" && r.inputs.vpcEndpointType === "Interface");
  assert.equal(interfaces.map((r) => r.inputs.serviceName), ["com.amazonaws.eu-west-1.sns"]);
});

test.run();
