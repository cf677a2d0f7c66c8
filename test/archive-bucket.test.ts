import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { ArchiveBucket } from '../lib/archive-bucket';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

describe('ArchiveBucket', () => {
  test('is encrypted, TLS only, private, versioned, logged and expires objects after its retention; cdk-nag clean', () => {
    const stack = freshStack();
    new ArchiveBucket(stack, 'Archive', { retention: Duration.days(90) });
    const template = templateOf(stack);
    // cdk-nag's AwsSolutions pack has no S3 encryption rule: encryption, TLS only and privacy are asserted here.
    const [archive] = Object.values(template.findResources('AWS::S3::Bucket')).filter((bucket) => bucket.Properties.VersioningConfiguration);
    expect(archive.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(archive.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(archive.Properties.LoggingConfiguration).toEqual({ DestinationBucketName: expect.anything(), LogFilePrefix: 'archive-bucket/' });
    // The access logs are kept as long as the archive, not forever.
    const [accessLogs] = Object.values(template.findResources('AWS::S3::Bucket')).filter((bucket) => !bucket.Properties.VersioningConfiguration);
    expect(accessLogs.Properties.LifecycleConfiguration).toEqual({ Rules: [{ Id: 'ExpireAccessLogs', ExpirationInDays: 90, Status: 'Enabled' }] });
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    // Both buckets refuse any request without TLS.
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({
        Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }));
    }
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: [{ Id: 'ExpireArchive', ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }] },
    });
    template.resourceCountIs('AWS::S3::Bucket', 2);
    expect(Object.values(template.findResources('AWS::S3::Bucket')).map((bucket) => bucket.DeletionPolicy)).toEqual(['Retain', 'Retain']);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('RemovalPolicy.DESTROY deletes and empties both buckets', () => {
    const stack = freshStack();
    new ArchiveBucket(stack, 'Archive', { removalPolicy: RemovalPolicy.DESTROY });
    expect(Object.values(templateOf(stack).findResources('AWS::S3::Bucket')).map((bucket) => bucket.DeletionPolicy)).toEqual(['Delete', 'Delete']);
    templateOf(stack).resourceCountIs('Custom::S3AutoDeleteObjects', 2);
  });

  test('takes a retention of one day, the shortest', () => {
    const stack = freshStack();
    new ArchiveBucket(stack, 'Archive', { retention: Duration.days(1) });
    const rules = Object.values(templateOf(stack).findResources('AWS::S3::Bucket')).map((bucket) => bucket.Properties.LifecycleConfiguration.Rules[0]);
    expect(rules.map((rule) => [rule.Id, rule.ExpirationInDays])).toEqual([['ExpireAccessLogs', 1], ['ExpireArchive', 1]]);
  });

  test.each([Duration.days(0), Duration.hours(12), Duration.hours(36)])('refuses a retention of %s', (retention) => {
    expect(() => new ArchiveBucket(freshStack(), 'Archive', { retention })).toThrow(/ArchiveBucket retention must be whole days, at least one, received: /);
  });
});
