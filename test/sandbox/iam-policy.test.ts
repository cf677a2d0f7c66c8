/**
 * The sandbox's IAM evaluation (what lets its rule engine write to a bucket) against an independent IAM
 * simulator on the same resolved documents: every request of the table gets the same decision from both.
 */
import { evaluateIam, IamPolicyDocument } from '../../sandbox/iam-policy';
import { NotSupportedError } from '../../sandbox/errors';
import { ResolvedTemplate } from '../../sandbox/resolved-template';
import { simulate } from '../setup/iam-simulator';
import { environmentTemplate } from '../../sandbox/templates';
import { ENVIRONMENT_NAMES } from '../setup/synth';

describe.each(ENVIRONMENT_NAMES)('IAM evaluation of the sandbox on IotCore-%s', (name) => {
  const resolved = new ResolvedTemplate(environmentTemplate(name) as never);
  const [roleId] = resolved.ofType('AWS::IAM::Role').filter((id) => id.startsWith('ArchiveRuleRole'));
  const [bucketId] = resolved.ofType('AWS::S3::Bucket').filter((id) => id.startsWith('ArchiveBucket') && !id.includes('AccessLogs'));
  const bucket = resolved.ref(bucketId);
  const bucketPolicy = resolved.properties(resolved.ofType('AWS::S3::BucketPolicy').find((id) => resolved.properties(id).Bucket === bucket)!).PolicyDocument as IamPolicyDocument;
  const roleArn = resolved.getAtt(roleId, 'Arn');
  const identity = resolved.rolePolicies(roleId);
  const refusing = { Statement: [...bucketPolicy.Statement as object[], { Effect: 'Deny', Principal: { AWS: roleArn }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*` }] } as IamPolicyDocument;
  const tls = { 'aws:SecureTransport': true, 's3:TlsVersion': 1.2 };

  test.each([
    ['PutObject under the archive prefix over TLS 1.2', 's3:PutObject', 'archive/data/t/1-u.json', tls, bucketPolicy],
    ['PutObject outside the prefix', 's3:PutObject', 'elsewhere/x.json', tls, bucketPolicy],
    ['PutObject without TLS', 's3:PutObject', 'archive/data/t/1-u.json', { 'aws:SecureTransport': false, 's3:TlsVersion': 1.2 }, bucketPolicy],
    ['PutObject over TLS 1.0', 's3:PutObject', 'archive/data/t/1-u.json', { 'aws:SecureTransport': true, 's3:TlsVersion': 1.0 }, bucketPolicy],
    ['GetObject of an archived key', 's3:GetObject', 'archive/data/t/1-u.json', tls, bucketPolicy],
    ['PutObject with a bucket policy refusing the role', 's3:PutObject', 'archive/data/t/1-u.json', tls, refusing],
  ])('%s: the same decision as the IAM simulator', async (_, action, key, context, resourcePolicy) => {
    const request = { principal: roleArn, action, resource: `arn:aws:s3:::${bucket}/${key}` };
    const expected = await simulate({
      ...request, identityPolicies: identity, resourcePolicy, account: resolved.account,
      context: Object.fromEntries(Object.entries(context).map(([k, v]) => [k, String(v)])),
    });
    expect(evaluateIam({ ...request, context }, identity.map(({ policy }) => policy), resourcePolicy)).toBe(expected);
  });

  test('refuses what it cannot model instead of guessing', () => {
    const request = { principal: roleArn, action: 's3:PutObject', resource: `arn:aws:s3:::${bucket}/archive/x`, context: tls };
    expect(() => evaluateIam(request, [{ Statement: { Effect: 'Allow', NotAction: 's3:GetObject', Resource: '*' } }])).toThrow(NotSupportedError);
    expect(() => evaluateIam(request, [{ Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*', Condition: { StringLike: { 's3:prefix': 'a*' } } } }])).toThrow(/condition key s3:prefix/);
    expect(() => evaluateIam({ ...request, context: { ...tls, 's3:prefix': 'a' } }, [{ Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*', Condition: { StringLike: { 's3:prefix': 'a*' } } } }])).toThrow(/condition operator StringLike/);
  });
});
