import type { GuardrailPolicy } from "./rule";
import { apiCommandRouteIdempotency } from "./rules/commands";
import { RULE_NAMES } from "./rule-names";
import { dynamodbStreamAtMostTwoReaders, dynamodbStreamReaderOwnTable } from "./rules/stream-readers";
import { rdsFinalSnapshotIdentifierValid, rdsFinalSnapshotPerGeneration } from "./rules/final-snapshot";
import { apiDefaultThrottling } from "./rules/api";
import { dynamodbDeletionProtectionProd, dynamodbPitr } from "./rules/data";
import { dynamodbTableEncrypted, kmsKeyRotation, snsTopicEncrypted, sqsQueueEncrypted } from "./rules/encryption";
import { lambdaBoundedConcurrency, lambdaCurrentRuntime, lambdaExplicitTimeoutMemory } from "./rules/functions";
import {
  sqsDlqRetentionLonger,
  sqsPartialBatchResponses,
  snsSubscriptionHasDlq,
  sqsSourceQueueHasDlq,
  sqsVisibilityTimeout,
} from "./rules/messaging";
import { apiAccessLogging, lambdaTracingActive, logGroupRetention, snsTopicTracingActive, sqsDlqAlarm } from "./rules/observability";
import {
  iamNoManagedPolicies,
  iamNoWildcardPermissions,
  lambdaPermissionSourceArn,
  resourcePolicyNoWildcards,
  sqsSnsSourceArn,
} from "./rules/permissions";
import { apiAccessLogsVended, dynamodbLeadingKeysNotNull, lambdaSystemLogLevel } from "./rules/isolation";
import { snsAlarmTopicHasRecipient, snsFailureTopicDurableSink } from "./rules/failure-events";
import { suppressionsHaveReasons } from "./rules/suppressions";
import {
  awsProviderStageTags,
  dynamodbSseNoManagedKey,
  kmsServicePrincipalActions,
  vpcGatewayEndpointOwnRouteTables,
  xraySnsTracingPolicyScoped,
} from "./rules/deployment";
import { snsTopicTlsOnly, sqsQueueTlsOnly } from "./rules/transport";
import {
  sfnEncryptedCustomerKey,
  sfnExecutionAlarms,
  sfnLoggingEnabled,
  sfnRoleLeastPrivilege,
  sfnStartGrantScoped,
  sfnTracingEnabled,
} from "./rules/workflows";
import {
  ec2NoOpenIngress,
  lambdaNoDatabasePassword,
  rdsClusterDataApiIam,
  rdsClusterEncryptedCustomerKey,
  rdsClusterProtectedInProduction,
  rdsInstanceNotPublic,
  rdsServerlessScalesToZero,
} from "./rules/relational";
import { dynamodbStreamMappingFilter } from "./rules/outbox-relay";
import { kinesisStreamEncrypted, kinesisStreamRetention } from "./rules/kinesis";
import {
  dynamodbStreamMappingBisect,
  dynamodbStreamMappingBoundedConcurrency,
  dynamodbStreamMappingBoundedRetries,
  dynamodbStreamMappingIteratorAgeAlarm,
  dynamodbStreamMappingOnFailure,
  dynamodbStreamMappingOnFailureGrant,
  dynamodbStreamMappingSettingsAccepted,
  kinesisMappingBisect,
  kinesisMappingBoundedConcurrency,
  kinesisMappingBoundedRetries,
  kinesisMappingIteratorAgeAlarm,
  kinesisMappingOnFailureDestination,
  kinesisMappingOnFailureGrant,
  kinesisMappingSettingsAccepted,
} from "./rules/stream-mappings";
import {
  kinesisStreamCapacityAccepted,
  lambdaInvocationFunctionPrivate,
  lambdaInvocationInputNoSecrets,
  lambdaInvocationPayloadLimit,
  rdsAuroraVersionSupportsFeatures,
  rdsServerlessCapacityAccepted,
  rdsSubnetGroupPrivateMultiAz,
  secretsmanagerSecretCustomerKey,
  secretsmanagerSecretPolicyNotPublic,
  secretsmanagerSecretRecoveryWindow,
  secretsmanagerSecretVersionNotPlain,
  sfnLogDestinationAccepted,
  sfnRoleAllowsLogsTracingKey,
} from "./rules/secrets-and-subnets";

/** Every guardrail, in the order of `RULE_NAMES`: the policy pack's policies and what the tests run. */
export const guardrailPolicies: readonly GuardrailPolicy[] = [
  suppressionsHaveReasons,
  snsTopicEncrypted,
  sqsQueueEncrypted,
  dynamodbTableEncrypted,
  snsTopicTlsOnly,
  sqsQueueTlsOnly,
  iamNoWildcardPermissions,
  iamNoManagedPolicies,
  resourcePolicyNoWildcards,
  sqsSnsSourceArn,
  lambdaPermissionSourceArn,
  sqsSourceQueueHasDlq,
  snsSubscriptionHasDlq,
  sqsDlqRetentionLonger,
  sqsDlqAlarm,
  sqsVisibilityTimeout,
  sqsPartialBatchResponses,
  lambdaBoundedConcurrency,
  lambdaTracingActive,
  snsTopicTracingActive,
  lambdaExplicitTimeoutMemory,
  lambdaCurrentRuntime,
  logGroupRetention,
  dynamodbPitr,
  dynamodbDeletionProtectionProd,
  kmsKeyRotation,
  apiAccessLogging,
  apiDefaultThrottling,
  apiAccessLogsVended,
  lambdaSystemLogLevel,
  dynamodbLeadingKeysNotNull,
  snsFailureTopicDurableSink,
  snsAlarmTopicHasRecipient,
  xraySnsTracingPolicyScoped,
  dynamodbSseNoManagedKey,
  kmsServicePrincipalActions,
  vpcGatewayEndpointOwnRouteTables,
  awsProviderStageTags,
  apiCommandRouteIdempotency,
  dynamodbStreamMappingFilter,
  dynamodbStreamMappingBisect,
  dynamodbStreamMappingBoundedRetries,
  dynamodbStreamMappingOnFailure,
  dynamodbStreamMappingIteratorAgeAlarm,
  kinesisStreamEncrypted,
  kinesisStreamRetention,
  kinesisMappingOnFailureDestination,
  kinesisMappingBisect,
  kinesisMappingBoundedRetries,
  kinesisMappingIteratorAgeAlarm,
  kinesisMappingBoundedConcurrency,
  sfnLoggingEnabled,
  sfnTracingEnabled,
  sfnEncryptedCustomerKey,
  sfnRoleLeastPrivilege,
  sfnStartGrantScoped,
  sfnExecutionAlarms,
  rdsClusterEncryptedCustomerKey,
  rdsClusterProtectedInProduction,
  rdsClusterDataApiIam,
  rdsInstanceNotPublic,
  rdsServerlessScalesToZero,
  lambdaNoDatabasePassword,
  ec2NoOpenIngress,
  dynamodbStreamMappingBoundedConcurrency,
  dynamodbStreamMappingSettingsAccepted,
  kinesisMappingSettingsAccepted,
  secretsmanagerSecretCustomerKey,
  secretsmanagerSecretRecoveryWindow,
  secretsmanagerSecretPolicyNotPublic,
  secretsmanagerSecretVersionNotPlain,
  rdsSubnetGroupPrivateMultiAz,
  rdsAuroraVersionSupportsFeatures,
  rdsServerlessCapacityAccepted,
  lambdaInvocationInputNoSecrets,
  lambdaInvocationPayloadLimit,
  lambdaInvocationFunctionPrivate,
  sfnLogDestinationAccepted,
  kinesisStreamCapacityAccepted,
  dynamodbStreamMappingOnFailureGrant,
  kinesisMappingOnFailureGrant,
  sfnRoleAllowsLogsTracingKey,
  dynamodbStreamReaderOwnTable,
  dynamodbStreamAtMostTwoReaders,
  rdsFinalSnapshotPerGeneration,
  rdsFinalSnapshotIdentifierValid,
];

const listed = guardrailPolicies.map((p) => p.name).join(",");
if (listed !== RULE_NAMES.join(",")) {
  throw new Error(`guardrailPolicies and RULE_NAMES disagree: ${listed} vs ${RULE_NAMES.join(",")}`);
}
