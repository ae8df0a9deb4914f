import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { applyTransform, type Transform } from "./transform";

/**
 * The alarms of the template, built in one place: every alarm notifies the platform's alarm topic when it fires and
 * when it clears, and the alarms that mean the same thing (a queue someone must empty holds messages; a stream
 * reader falls behind) are the same alarm wherever they stand.
 */

/** A metric alarm's settings without its actions (those are always the platform's alarm topic). */
export type AlarmSettings = Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions">;

/** Where an alarm reports, and how its owner may adjust it. */
export interface AlarmTarget {
  /** The platform's alarm topic: told when the alarm fires (`alarmActions`) and when it clears (`okActions`). */
  alarmTopicArn: pulumi.Input<string>;
  /** The component's `transform.alarm`, applied to the alarm's final arguments. */
  transform?: Transform<aws.cloudwatch.MetricAlarmArgs>;
  /** The child's options (its parent). */
  opts?: pulumi.CustomResourceOptions;
}

/** A metric alarm with the platform's alarm topic as its alarm and OK action. */
export function alarmToTopic(childName: string, settings: AlarmSettings, target: AlarmTarget): aws.cloudwatch.MetricAlarm {
  const actions = { alarmActions: [target.alarmTopicArn], okActions: [target.alarmTopicArn] };
  return new aws.cloudwatch.MetricAlarm(...applyTransform(target.transform, childName, { ...settings, ...actions }, { ...target.opts }));
}

/**
 * A queue that should stay empty holds messages (a dead-letter queue, an on-failure destination, the failure
 * events' sink): `<queue name>-not-empty`, fired by one minute in which ApproximateNumberOfMessagesVisible is above 0.
 * No data (an idle queue) is not a breach.
 */
export function queueNotEmptyAlarm(
  childName: string,
  queue: { name: pulumi.Input<string> },
  alarmDescription: pulumi.Input<string>,
  target: AlarmTarget,
): aws.cloudwatch.MetricAlarm {
  return alarmToTopic(
    childName,
    {
      name: pulumi.interpolate`${queue.name}-not-empty`,
      alarmDescription,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: queue.name },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
    },
    target,
  );
}

/** How far behind a stream reader may fall before its IteratorAge alarm fires. */
export interface IteratorAgeLimit {
  /** The age of the last record read (Lambda's IteratorAge, its maximum per minute) above which a minute breaches. */
  thresholdMs: number;
  /** Breaching minutes, within the last five, that fire the alarm. @default 5 (CloudWatch: all of the evaluation periods) */
  datapointsToAlarm?: number;
  alarmDescription: pulumi.Input<string>;
}

/**
 * A function reading a stream (Kinesis, DynamoDB Streams) falls behind or keeps failing a batch: `<function>-iterator-age`
 * on its IteratorAge, evaluated over five one-minute periods. No data (no records) is not a breach.
 */
export function iteratorAgeAlarm(
  childName: string,
  functionName: pulumi.Input<string>,
  limit: IteratorAgeLimit,
  target: AlarmTarget,
): aws.cloudwatch.MetricAlarm {
  return alarmToTopic(
    childName,
    {
      name: pulumi.interpolate`${functionName}-iterator-age`,
      alarmDescription: limit.alarmDescription,
      namespace: "AWS/Lambda",
      metricName: "IteratorAge",
      dimensions: { FunctionName: functionName },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 5,
      ...(limit.datapointsToAlarm === undefined ? {} : { datapointsToAlarm: limit.datapointsToAlarm }),
      threshold: limit.thresholdMs,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
    },
    target,
  );
}
