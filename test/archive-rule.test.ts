import { Lazy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ArchiveRule, ArchiveRuleProps } from '../lib/archive-rule';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

function rule(props: Partial<ArchiveRuleProps> = {}) {
  const stack = freshStack();
  const construct = new ArchiveRule(stack, 'Rule', {
    sql: "SELECT * FROM 'sensors/+'",
    bucket: new s3.Bucket(stack, 'Bucket', { enforceSSL: true, serverAccessLogsPrefix: 'logs/' }),
    errorLogGroup: new logs.LogGroup(stack, 'Errors'),
    ...props,
  });
  return { stack, construct, payload: () => Object.values(templateOf(stack).findResources('AWS::IoT::TopicRule'))[0].Properties };
}

describe('ArchiveRule', () => {
  test('runs the SQL it is given with SQL version 2016-03-23, into S3 under a key that never repeats, failures to the log group', () => {
    const { stack, construct, payload } = rule({ sql: "SELECT name FROM 'data/pi-01' WHERE name = 's3'", ruleName: 'archive_pi_01' });
    const logicalId = (type: string) => Object.keys(templateOf(stack).findResources(type))[0];
    const role = { 'Fn::GetAtt': [stack.getLogicalId(construct.role.node.defaultChild as never), 'Arn'] };
    expect(payload()).toEqual({
      RuleName: 'archive_pi_01',
      TopicRulePayload: {
        Description: 'Archives matching messages to S3',
        Sql: "SELECT name FROM 'data/pi-01' WHERE name = 's3'", AwsIotSqlVersion: '2016-03-23', RuleDisabled: false,
        Actions: [{ S3: { BucketName: { Ref: logicalId('AWS::S3::Bucket') }, Key: 'archive/${topic()}/${timestamp()}-${newuuid()}.json', RoleArn: role } }],
        ErrorAction: { CloudwatchLogs: { LogGroupName: { Ref: logicalId('AWS::Logs::LogGroup') }, RoleArn: role } },
      },
    });
  });

  test('without a name, names itself from its path: a token in the SQL never reaches the name', () => {
    const { payload } = rule({ sql: Lazy.string({ produce: () => "SELECT * FROM 'data/pi-01'" }) });
    expect(payload().RuleName).toMatch(/^[a-zA-Z0-9_]{1,128}$/);
    expect(payload().RuleName).not.toMatch(/Token/);
  });

  test('takes a token name without validating it', () => {
    const { payload } = rule({ ruleName: Lazy.string({ produce: () => 'from_a_token' }) });
    expect(payload().RuleName).toBe('from_a_token');
  });

  test('its role may be assumed by AWS IoT for this rule only; cdk-nag clean with its one acknowledged wildcard', () => {
    const { stack, construct } = rule({ ruleName: 'r1' });
    const role = templateOf(stack).findResources('AWS::IAM::Role')[stack.getLogicalId(construct.role.node.defaultChild as never)];
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition.ArnEquals['aws:SourceArn']).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iot:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':rule/r1']],
    });
    expect(nagFindings(stack)).toEqual([]);
  });

  test.each([
    ['a rule name with a hyphen', { ruleName: 'archive-pi' }, "Invalid topic rule name 'archive-pi': must match ^[a-zA-Z0-9_]{1,128}$ (hyphens are not allowed)"],
    ['a key without newuuid', { keyPattern: '${topic()}.json' }, "Archive key 'archive/${topic()}.json' must contain ${newuuid()} so that no object is ever overwritten"],
    ['SQL that is not a SELECT', { sql: "DELETE FROM 'data'" }, "Topic rule sql 'DELETE FROM 'data'' must be an IoT SQL SELECT statement"],
  ])('refuses %s', (_, props, message) => {
    expect(() => rule(props)).toThrow(message);
  });
});
