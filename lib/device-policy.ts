import { Construct } from 'constructs';
import { DATA_TOPIC_PREFIX, ECHO_TOPIC_PREFIX, THING_NAME_VARIABLE } from '../device/src/contract';
import { checkTopicLevel, IIotPolicy, iotArn, IotPolicy } from './iot-policy';

/** An AWS IoT policy that certificates can be attached to (the project's one policy shape, IIotPolicy). */
export type IDevicePolicy = IIotPolicy;

/** The policy variable that resolves to the connecting thing's name (defined by the contract). */
export { THING_NAME_VARIABLE };

export interface DevicePolicyProps {
  /** First level of the topic each device publishes its status to, `<prefix>/<thing>`. @default 'data' */
  readonly dataTopicPrefix?: string;
}

/**
 * The IoT policy of every device: least privilege through policy variables, so one policy serves any
 * thing whose certificate is attached to it. A device may connect only as client ID = its thing name,
 * publish only to its own data topic and its own classic shadow's get/update, and subscribe to and
 * receive only its own shadow's responses; and publish, subscribe and receive on its own echo topic
 * (`echo/<thing>`, which no rule reads), where a client reading its own messages proves connectivity.
 * `get/*` and `update/*` also cover the literal `get/+` filter that the AWS IoT Device SDK v2 shadow client
 * subscribes to ("Device Shadow service documents").
 *
 * Thing policy variables exist only for MQTT and MQTT over WebSocket connections (AWS IoT Developer
 * Guide, "Thing policy variables"), so this policy allows nothing over HTTPS; `HttpsPublishPolicy` does
 * that for one thing.
 */
export class DevicePolicy extends IotPolicy {
  constructor(scope: Construct, id: string, props: DevicePolicyProps = {}) {
    super(scope, id, { document: devicePolicyDocument(scope, props.dataTopicPrefix ?? DATA_TOPIC_PREFIX) });
  }
}

function devicePolicyDocument(scope: Construct, dataTopicPrefix: string): Record<string, unknown> {
  checkTopicLevel('DevicePolicy', dataTopicPrefix);
  const arn = (resource: string, resourceName: string) => iotArn(scope, resource, resourceName);
  const shadow = `$aws/things/${THING_NAME_VARIABLE}/shadow`;
  const echo = `${ECHO_TOPIC_PREFIX}/${THING_NAME_VARIABLE}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
        Sid: 'ConnectAsOwnThingOnly',
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: arn('client', THING_NAME_VARIABLE),
        // Stryker disable next-line ObjectLiteral: equivalent where thing variables exist only for an attached thing's client ID (sandbox/iot-policy.ts); kept, as AWS's examples do
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      {
        // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
        Sid: 'PublishOwnDataEchoAndShadowRequests',
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: [
          arn('topic', `${dataTopicPrefix}/${THING_NAME_VARIABLE}`),
          arn('topic', echo),
          arn('topic', `${shadow}/get`),
          arn('topic', `${shadow}/update`),
        ],
      },
      {
        // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
        Sid: 'SubscribeOwnEchoAndShadowResponses',
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: [arn('topicfilter', echo), arn('topicfilter', `${shadow}/get/*`), arn('topicfilter', `${shadow}/update/*`)],
      },
      {
        // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
        Sid: 'ReceiveOwnEchoAndShadowResponses',
        Effect: 'Allow',
        Action: 'iot:Receive',
        Resource: [arn('topic', echo), arn('topic', `${shadow}/get/*`), arn('topic', `${shadow}/update/*`)],
      },
    ],
  };
}
