/** Builders of real-shaped Lambda events for the local stage: SQS batches and API Gateway HTTP API (v2) requests. */
export { buildSqsEvent, md5OfBody, md5OfMessageAttributes, toLambdaMessageAttribute, toSqsRecord, type SqsEventSource } from "./sqs-event";
export { apiGatewayTime, buildHttpApiEvent, readHttpApiEvent, type HttpApiEventOptions } from "./http-api-event";
