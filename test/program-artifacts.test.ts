/**
 * The program artifacts (lib/program-artifacts.ts): a hardened bucket for device program packages and the role
 * AWS IoT Jobs signs their URLs with. What the role may do is simulated in least-privilege.test.ts.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { JobTemplate } from '../lib/job-template';
import { programKey } from '../device/src/contract';
import { ProgramArtifacts } from '../lib/program-artifacts';
import { freshStack } from './setup/constructs';

function artifacts(props: { removalPolicy?: RemovalPolicy } = {}, before: (stack: Stack) => void = () => undefined) {
  const stack = freshStack({ account: '123456789012', region: 'eu-west-1' });
  before(stack);
  const logs = new s3.Bucket(stack, 'Logs');
  const made = new ProgramArtifacts(stack, 'Programs', { accessLogsBucket: logs, ...props });
  return { stack, made, logs, template: () => Template.fromStack(stack) };
}

test('the bucket: encrypted, TLS only, no public access, owner-enforced, versioned, logged, keeping replaced packages 30 days, retained', () => {
  const { stack, made, logs, template } = artifacts();
  template().hasResource('AWS::S3::Bucket', {
    DeletionPolicy: 'Retain',
    Properties: {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: stack.getLogicalId(logs.node.defaultChild as s3.CfnBucket) }, LogFilePrefix: 'program-artifacts/' },
      LifecycleConfiguration: { Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' })] },
    },
  });
  template().hasResourceProperties('AWS::S3::BucketPolicy', {
    Bucket: { Ref: stack.getLogicalId(made.bucket.node.defaultChild as s3.CfnBucket) },
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }), Match.objectLike({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } })]) },
  });
  template().resourceCountIs('Custom::S3AutoDeleteObjects', 0);
});

test('with RemovalPolicy.DESTROY the bucket is emptied and deleted with the stack', () => {
  const { template } = artifacts({ removalPolicy: RemovalPolicy.DESTROY });
  template().resourceCountIs('Custom::S3AutoDeleteObjects', 1);
});

test('the presign role: assumed by AWS IoT of this account only, reading packages and nothing else', () => {
  const { stack, made, template } = artifacts();
  template().hasResourceProperties('AWS::IAM::Role', {
    AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'iot.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } } }] },
  });
  const policies = Object.values(template().findResources('AWS::IAM::Policy'));
  expect(policies.map((policy) => policy.Properties.PolicyDocument.Statement)).toEqual([[{
    Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [stack.getLogicalId(made.bucket.node.defaultChild as s3.CfnBucket), 'Arn'] }, '/programs/*']] },
  }]]);
});

test('a package\'s key is its hash under programs/; an uploader may put packages there only', () => {
  const { stack, made, template } = artifacts();
  // The release's key (device/src/contract.ts) is under the prefix the role may read and the uploader may write.
  expect(programKey('ab'.repeat(32))).toBe(`${made.keyPrefix}${'ab'.repeat(32)}.tgz`);
  expect(made.keyPrefix).toBe('programs/');
  const uploader = new iam.Role(stack, 'Uploader', { assumedBy: new iam.AccountRootPrincipal() });
  made.grantUpload(uploader);
  template().hasResourceProperties('AWS::IAM::Policy', {
    Roles: [{ Ref: stack.getLogicalId(uploader.node.defaultChild as iam.CfnRole) }],
    PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [stack.getLogicalId(made.bucket.node.defaultChild as s3.CfnBucket), 'Arn'] }, '/programs/*']] } }] },
  });
});

test.each([[Duration.seconds(59)], [Duration.seconds(3601)], [Duration.millis(60_500)]])('a URL lifetime of %s is refused by the template that signs with it', (lifetime) => {
  const { stack, made } = artifacts();
  expect(() => new JobTemplate(stack, 'Job', { description: 'd', document: { operation: 'x' }, presignedUrls: { role: made.presignRole, expiresIn: lifetime } }))
    .toThrow(/^JobTemplate Job presignedUrls\.expiresIn \(seconds\) must be a whole number from 60 to 3600, received: /);
});

test('a job template\'s ID does not change with the tokens made before its role', () => {
  const idOf = (extraTokens: number) => {
    const { stack, made } = artifacts({}, (scope) => { for (let i = 0; i < extraTokens; i++) new s3.Bucket(scope, `Other${i}`); });
    return new JobTemplate(stack, 'Job', { description: 'd', document: { operation: 'x' }, presignedUrls: { role: made.presignRole, expiresIn: Duration.hours(1) } }).jobTemplateId;
  };
  expect(idOf(3)).toBe(idOf(0));
});
