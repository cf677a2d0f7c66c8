import { IResource, Resource, Token } from 'aws-cdk-lib';
import { THING_NAME_PATTERN } from '../device/src/contract';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import { iotArn } from './iot-policy';

/** A thing name: 1-128 of [a-zA-Z0-9:_-] (AWS IoT API Reference, "CreateThing"). */
export { THING_NAME_PATTERN };

function validateThingName(thingName: string): void {
  if (!Token.isUnresolved(thingName) && !THING_NAME_PATTERN.test(thingName)) {
    throw new Error(`Invalid thing name '${thingName}': must match ${THING_NAME_PATTERN.source}`);
  }
}

/** An AWS IoT thing. */
export interface IDeviceThing extends IResource {
  /** @attribute */
  readonly thingName: string;
  /** @attribute */
  readonly thingArn: string;
  /** Lets `grantee` read the thing's shadows (iot:GetThingShadow over HTTPS or the SDK). */
  grantShadowRead(grantee: iam.IGrantable): iam.Grant;
  /** Lets `grantee` update the thing's shadows (iot:UpdateThingShadow), as the console's shadow editor does. */
  grantShadowUpdate(grantee: iam.IGrantable): iam.Grant;
}

abstract class DeviceThingBase extends Resource implements IDeviceThing {
  public abstract readonly thingName: string;
  public abstract readonly thingArn: string;

  public grantShadowRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['iot:GetThingShadow'], resourceArns: [this.thingArn] });
  }

  public grantShadowUpdate(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['iot:UpdateThingShadow'], resourceArns: [this.thingArn] });
  }
}

export interface DeviceThingProps {
  /** The thing's name, also its MQTT client ID; [a-zA-Z0-9:_-]{1,128}; changing it replaces the thing. */
  readonly thingName: string;
  /** Searchable attributes (at most 3). @default - none */
  readonly attributes?: Record<string, string>;
}

/** An IoT thing: the registry entry a device's certificate is attached to. */
export class DeviceThing extends DeviceThingBase {
  /** A thing made elsewhere (the console, another stack), by name. */
  public static fromThingName(scope: Construct, id: string, thingName: string): IDeviceThing {
    validateThingName(thingName);
    class Import extends DeviceThingBase {
      public readonly thingName = thingName;
      public readonly thingArn = iotArn(scope, 'thing', thingName);
    }
    return new Import(scope, id);
  }

  public readonly thingName: string;
  public readonly thingArn: string;

  constructor(scope: Construct, id: string, props: DeviceThingProps) {
    super(scope, id);
    validateThingName(props.thingName);
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
