import { Construct } from 'constructs';
import { DATA_TOPIC_PREFIX } from '../device/src/contract';
import { checkTopicLevel, iotArn, IotPolicy } from './iot-policy';

export interface HttpsPublishPolicyProps {
  /** The thing whose data topic may be published to over HTTPS. */
  readonly thingName: string;
  /** First level of the data topic, `<prefix>/<thing>`. @default 'data' */
  readonly dataTopicPrefix?: string;
}

/**
 * Lets one thing's certificate publish to its data topic over HTTPS (POST to port 8443, the hands-on's
 * curl step). Thing policy variables are not available over HTTPS ("This policy variable is only
 * available when a device connects over MQTT or MQTT over the WebSocket protocol", AWS IoT Developer
 * Guide, "Thing policy variables"), so the topic is named literally: attach this policy only to that
 * thing's certificate, never to a policy shared by a fleet.
 */
export class HttpsPublishPolicy extends IotPolicy {
  constructor(scope: Construct, id: string, props: HttpsPublishPolicyProps) {
    const prefix = props.dataTopicPrefix ?? DATA_TOPIC_PREFIX;
    checkTopicLevel('HttpsPublishPolicy', prefix);
    super(scope, id, {
      document: {
        Version: '2012-10-17',
        Statement: [{
          // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
          Sid: 'PublishOwnDataOverHttps',
          Effect: 'Allow',
          Action: 'iot:Publish',
          Resource: iotArn(scope, 'topic', `${prefix}/${props.thingName}`),
        }],
      },
    });
  }
}
