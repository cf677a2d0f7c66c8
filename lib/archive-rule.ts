import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag';
import { topicRule, topicRuleArn, topicRuleRole, uniqueRuleName } from './topic-rule';

export interface ArchiveRuleProps {
  /** The rule's IoT SQL (version 2016-03-23), e.g. `SELECT name FROM 'data/pi-01' WHERE name = 's3'`. */
  readonly sql: string;
  /** Bucket the rule writes matching messages into. */
  readonly bucket: s3.IBucket;
  /** Key prefix of archived objects; the rule's role may write only below it. @default 'archive/' */
  readonly keyPrefix?: string;
  /** Key template appended to the prefix; must make every key unique. @default '${topic()}/${timestamp()}-${newuuid()}.json' */
  readonly keyPattern?: string;
  /** Log group receiving failed deliveries (the error action). */
  readonly errorLogGroup: logs.ILogGroup;
  /** Rule name, ^[a-zA-Z0-9_]+$ (no hyphens). @default - a unique name derived from the construct's path */
  readonly ruleName?: string;
  /** @default 'Archives matching messages to S3' */
  readonly description?: string;
}

/**
 * A topic rule that writes each message its SQL selects to S3 under a key that never repeats, with a
 * role allowed only s3:PutObject below the archive prefix, and an error action that keeps every failed
 * delivery (with its original payload) in a log group.
 */
export class ArchiveRule extends Construct {
  /** The rule's name. */
  public readonly ruleName: string;
  /** The rule's ARN. */
  public readonly ruleArn: string;
  /** The rule's SQL statement. */
  public readonly sql: string;
  /** The prefix every archived object's key starts with. */
  public readonly keyPrefix: string;
  /** The full S3 key template (prefix and pattern). */
  public readonly objectKey: string;
  /** The role IoT assumes to run the rule's actions. */
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ArchiveRuleProps) {
    super(scope, id);
    const keyPrefix = props.keyPrefix ?? 'archive/';
    this.keyPrefix = keyPrefix;
    this.objectKey = `${keyPrefix}${props.keyPattern ?? '${topic()}/${timestamp()}-${newuuid()}.json'}`;
    // Named here, not by CloudFormation: the role's trust policy must name the rule it serves.
    this.ruleName = props.ruleName ?? uniqueRuleName(this);
    if (!Token.isUnresolved(this.objectKey) && !this.objectKey.includes('${newuuid()}')) {
      throw new Error(`Archive key '${this.objectKey}' must contain \${newuuid()} so that no object is ever overwritten`);
    }
    this.sql = props.sql;
    this.ruleArn = topicRuleArn(this, this.ruleName);

    // Role to allow IoT to run this rule's actions, and only this rule's (confused-deputy guard).
    // Stryker disable next-line StringLiteral: a description, for people
    const roleDescription = `Lets AWS IoT rule ${this.ruleName} archive messages to S3 and log failed deliveries`;
    this.role = topicRuleRole(this, 'Role', this.ruleName, roleDescription);
    const archivedObjects = props.bucket.arnForObjects(`${keyPrefix}*`);
    this.role.addToPolicy(new iam.PolicyStatement({
      // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
      sid: 'PutArchivedMessages',
      actions: ['s3:PutObject'],
      resources: [archivedObjects],
    }));
    // The CloudWatch Logs rule action needs CreateLogStream, DescribeLogStreams and PutLogEvents (AWS IoT
    // Developer Guide, "CloudWatch Logs"). DescribeLogStreams is authorized on the log group's own ARN,
    // which has no ":*" suffix, so grantWrite's resource does not cover it.
    props.errorLogGroup.grantWrite(this.role);
    this.role.addToPolicy(new iam.PolicyStatement({
      // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
      sid: 'FindErrorLogStreams',
      actions: ['logs:DescribeLogStreams'],
      resources: [Stack.of(this).formatArn({
        service: 'logs', resource: 'log-group', resourceName: props.errorLogGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    }));
    acknowledgeWildcardResource(this.role, archivedObjects,
      // Stryker disable next-line StringLiteral: the reason cdk-nag records, for people
      'Every archived message gets a new key (a UUID in the key template), so s3:PutObject is granted on the archive prefix, the narrowest resource that covers keys not yet known.');

    topicRule(this, 'Resource', {
      ruleName: this.ruleName,
      description: props.description ?? 'Archives matching messages to S3',
      sql: this.sql,
      role: this.role,
      actions: [{ s3: { bucketName: props.bucket.bucketName, key: this.objectKey, roleArn: this.role.roleArn } }],
      errorAction: { cloudwatchLogs: { logGroupName: props.errorLogGroup.logGroupName, roleArn: this.role.roleArn } },
    });
  }
}
