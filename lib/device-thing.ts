import { Token } from 'aws-cdk-lib';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

export interface DeviceThingProps {
  /** The thing's name, also its MQTT client ID; [a-zA-Z0-9:_-]{1,128}; changing it replaces the thing. */
  readonly thingName: string;
  /** Searchable attributes (at most 3). @default - none */
  readonly attributes?: Record<string, string>;
}

/** An IoT thing: the registry entry a device's certificate is attached to. */
export class DeviceThing extends Construct {
  /** The thing's name. */
  public readonly thingName: string;
  /** The thing's ARN. */
  public readonly thingArn: string;

  constructor(scope: Construct, id: string, props: DeviceThingProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.thingName) && !THING_NAME.test(props.thingName)) {
      throw new Error(`Invalid thing name '${props.thingName}': must match ${THING_NAME.source}`);
    }
    const attributes = props.attributes ?? {};
    if (Object.keys(attributes).length > 3) {
      throw new Error(`A thing takes at most 3 attributes, received: ${Object.keys(attributes).join(', ')}`);
    }
    const resource = new iot.CfnThing(this, 'Resource', {
      thingName: props.thingName,
      attributePayload: Object.keys(attributes).length > 0 ? { attributes } : undefined,
    });
    this.thingName = resource.ref;
    this.thingArn = resource.attrArn;
  }
}
