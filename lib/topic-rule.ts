/** The one shape of this project's topic rules (the archive rule and the liveness rule): their role and their L1. */
import { Names, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
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

const RULE_NAME = /^[a-zA-Z0-9_]{1,128}$/;

/** A rule name unique in the account, derived from `scope`'s path: topic rule names allow no hyphens. */
export function uniqueRuleName(scope: Construct): string {
  return Names.uniqueResourceName(scope, { maxLength: 128, separator: '_', allowedSpecialCharacters: '_' });
}

export interface TopicRuleProps {
  /** The rule's name, ^[a-zA-Z0-9_]+$, given up front: its role's trust policy names the rule. */
  readonly ruleName: string;
  readonly description: string;
  /** IoT SQL, version 2016-03-23. */
  readonly sql: string;
  /** The role the actions run as (topicRuleRole); the rule is created after it. */
  readonly role: iam.IRole;
  readonly actions: iot.CfnTopicRule.ActionProperty[];
  /** @default - none */
  readonly errorAction?: iot.CfnTopicRule.ActionProperty;
}

/**
 * An enabled topic rule on SQL version 2016-03-23 at `scope/id` (CloudFormation would default to 2015-10-08:
 * AWS::IoT::TopicRule TopicRulePayload, "AwsIotSqlVersion"), created after its role so that its first
 * messages do not fail on a role IAM has not yet propagated. A function, not a construct: the rules keep the
 * logical IDs they were deployed with, and a rule is named explicitly, so a new ID would collide with the old name.
 */
export function topicRule(scope: Construct, id: string, props: TopicRuleProps): iot.CfnTopicRule {
  if (!Token.isUnresolved(props.ruleName) && !RULE_NAME.test(props.ruleName)) {
    throw new Error(`Invalid topic rule name '${props.ruleName}': must match ${RULE_NAME.source} (hyphens are not allowed)`);
  }
  if (!Token.isUnresolved(props.sql) && !/^\s*SELECT\s/i.test(props.sql)) {
    throw new Error(`Topic rule sql '${props.sql}' must be an IoT SQL SELECT statement`);
  }
  const rule = new iot.CfnTopicRule(scope, id, {
    ruleName: props.ruleName,
    topicRulePayload: {
      description: props.description,
      sql: props.sql,
      awsIotSqlVersion: '2016-03-23',
      ruleDisabled: false,
      actions: props.actions,
      errorAction: props.errorAction,
    },
  });
  rule.node.addDependency(props.role);
  return rule;
}
