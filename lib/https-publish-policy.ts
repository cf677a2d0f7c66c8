import { ArnFormat, Resource, Stack, Token } from 'aws-cdk-lib';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import { DATA_TOPIC_PREFIX } from '../device/src/contract';
import { IDevicePolicy } from './device-policy';

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
export class HttpsPublishPolicy extends Resource implements IDevicePolicy {
  public readonly policyName: string;
  /** The policy document, for review and tests. */
  public readonly document: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: HttpsPublishPolicyProps) {
    super(scope, id);
    const prefix = props.dataTopicPrefix ?? DATA_TOPIC_PREFIX;
    if (!Token.isUnresolved(prefix) && !/^[a-zA-Z0-9_-]+$/.test(prefix)) {
      throw new Error(`HttpsPublishPolicy dataTopicPrefix '${prefix}' must be one topic level of [a-zA-Z0-9_-]`);
    }
    this.document = {
      Version: '2012-10-17',
      Statement: [{
        Sid: 'PublishOwnDataOverHttps',
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: Stack.of(this).formatArn({
          service: 'iot', resource: 'topic', resourceName: `${prefix}/${props.thingName}`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        }),
      }],
    };
    this.policyName = new iot.CfnPolicy(this, 'Resource', { policyDocument: this.document }).ref;
  }
}
