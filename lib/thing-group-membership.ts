import { CustomResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { IDeviceThing } from './device-thing';
import { THING_GROUP_MEMBERSHIP_RESOURCE_TYPE, ThingGroupMembershipProperties } from './handlers/shadow-defaults';
import { ShadowDefaults } from './shadow-defaults';

export interface ThingGroupMembershipProps {
  readonly thing: IDeviceThing;
  /** A static thing group's name and ARN. */
  readonly thingGroupName: string;
  readonly thingGroupArn: string;
  /**
   * The shadow defaults whose handler makes the call: it already makes the stack's IoT calls for the thing, so one
   * function serves this too instead of a third handler.
   */
  readonly handler: ShadowDefaults;
}

/**
 * A thing in a static thing group, so jobs for the group reach it. CloudFormation cannot add a thing to a group
 * ("AWS::IoT::ThingGroup" has no members, and no resource calls AddThingToThingGroup): a custom resource does, and
 * removes it when deleted. The handler may call AddThingToThingGroup and RemoveThingFromThingGroup on this thing and
 * this group only.
 */
export class ThingGroupMembership extends Construct {
  constructor(scope: Construct, id: string, props: ThingGroupMembershipProps) {
    super(scope, id);
    // Both actions are authorized on the thing and the group ("Actions, resources, and condition keys for AWS IoT").
    iam.Grant.addToPrincipal({
      grantee: props.handler.handler.function, actions: ['iot:AddThingToThingGroup', 'iot:RemoveThingFromThingGroup'],
      resourceArns: [props.thing.thingArn, props.thingGroupArn],
    });
    const properties: ThingGroupMembershipProperties = { ThingName: props.thing.thingName, ThingGroupName: props.thingGroupName };
    new CustomResource(this, 'Resource', { serviceToken: props.handler.handler.serviceToken, resourceType: THING_GROUP_MEMBERSHIP_RESOURCE_TYPE, properties });
  }
}
