import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { iotArn } from './iot-policy';

/** The ARN of a topic rule of this stack's account and region. */
export function topicRuleArn(scope: Construct, ruleName: string): string {
  return iotArn(scope, 'rule', ruleName);
}

/**
 * A role AWS IoT may assume to run one rule's actions, and only that rule's: aws:SourceArn and
 * aws:SourceAccount guard against the confused deputy (AWS IoT Developer Guide, "Cross-service
 * confused deputy prevention").
 */
export function topicRuleRole(scope: Construct, id: string, ruleName: string, description: string): iam.Role {
  return new iam.Role(scope, id, {
    description,
    assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
        ArnEquals: { 'aws:SourceArn': topicRuleArn(scope, ruleName) },
      },
    }),
  });
}
