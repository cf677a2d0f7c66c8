/**
 * The sandbox's presigned URLs, against the S3-compatible server that verifies them (s3rver): the update job
 * template's role reads a package through a URL signed for it, and an altered, expired or unreadable one is refused.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { presignedUrlPlaceholder } from '../../lib/presigned-url';
import { NotSupportedError } from '../../sandbox/errors';
import { PresignedUrls } from '../../sandbox/presigned-urls';
import { ResolvedTemplate } from '../../sandbox/resolved-template';
import { LocalS3, S3_CREDENTIALS } from '../../sandbox/s3-server';
import { environmentTemplate } from '../../sandbox/templates';

const resolved = new ResolvedTemplate(JSON.parse(JSON.stringify(environmentTemplate('dev'))));
const bucketOf = (prefix: string) => resolved.ref(resolved.ofType('AWS::S3::Bucket').find((id) => id.startsWith(prefix) && !id.includes('AccessLogs'))!);
const artifacts = bucketOf('ProgramArtifacts');
const archive = bucketOf('ArchiveBucket');
const updateTemplate = resolved.ofType('AWS::IoT::JobTemplate').find((id) => id.startsWith('UpdateProgramJob'))!;
const config = { roleArn: resolved.resolve(resolved.properties(updateTemplate).PresignedUrlConfig.RoleArn) as string, expiresInSec: 60 };
const KEY = 'programs/0123.tgz';
const OTHER = 'programs/4567.tgz';
const document = (bucket: string, key = KEY) => JSON.stringify({ operation: 'update-program', url: presignedUrlPlaceholder({ region: resolved.region, bucket, key }) });
const delivered = (bucket: string, key = KEY) => JSON.stringify({ execution: { jobId: 'j', jobDocument: JSON.parse(document(bucket, key)) } });
const urlOf = (payload: string) => JSON.parse(payload).execution.jobDocument.url as string;

let s3: LocalS3;
let root: string;
let urls: PresignedUrls;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'presigned-'));
  s3 = await LocalS3.start(path.join(root, 's3'), resolved.ofType('AWS::S3::Bucket').map((id) => resolved.ref(id)));
  const client = new S3Client({ endpoint: s3.endpoint, region: resolved.region, credentials: S3_CREDENTIALS, forcePathStyle: true });
  await client.send(new PutObjectCommand({ Bucket: artifacts, Key: KEY, Body: 'the package' }));
  await client.send(new PutObjectCommand({ Bucket: artifacts, Key: OTHER, Body: 'another package' }));
  await client.send(new PutObjectCommand({ Bucket: archive, Key: KEY, Body: 'an archive' }));
  client.destroy();
  urls = new PresignedUrls(resolved, s3.endpoint);
});

afterAll(async () => {
  urls.destroy();
  await s3.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

const get = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
};

test('a package URL signed with the update template\'s role downloads the package, and only that one', async () => {
  const url = urlOf(await urls.sign(delivered(artifacts), config));
  expect(url.startsWith(`${s3.endpoint}/${artifacts}/${KEY}?`)).toBe(true);
  expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('60');
  expect(await get(url)).toEqual({ status: 200, body: 'the package' });
  // Another package with the same signature, or a longer lifetime: the signature no longer matches.
  expect(await get(url.replace(KEY, OTHER))).toMatchObject({ status: 403, body: expect.stringContaining('SignatureDoesNotMatch') });
  expect(await get(url.replace('X-Amz-Expires=60', 'X-Amz-Expires=600'))).toMatchObject({ status: 403, body: expect.stringContaining('SignatureDoesNotMatch') });
});

test('a URL past its lifetime is refused', async () => {
  const early = new PresignedUrls(resolved, s3.endpoint, () => Date.now() - 61_000);
  const url = urlOf(await early.sign(delivered(artifacts), config));
  early.destroy();
  expect(await get(url)).toMatchObject({ status: 403, body: expect.stringContaining('Request has expired') });
});

test('an object the role may not read (the archive\'s) gets a URL S3 refuses', async () => {
  const url = urlOf(await urls.sign(delivered(archive), config));
  expect(await get(url)).toMatchObject({ status: 403, body: expect.stringContaining('InvalidAccessKeyId') });
  // The same role for its packages: the refusal is the role's policy, not the server's.
  expect(await get(urlOf(await urls.sign(delivered(artifacts), config)))).toMatchObject({ status: 200 });
});

test('CreateJob\'s checks: the lifetime\'s range, the role and bucket of the template, the documented placeholder', () => {
  expect(() => urls.check(document(artifacts), config)).not.toThrow();
  expect(() => urls.check(JSON.stringify({ operation: 'desired-state' }), undefined)).not.toThrow();
  expect(() => urls.check(document(artifacts), { ...config, expiresInSec: 59 })).toThrow('presignedUrlConfig.expiresInSec 59 must be a whole number from 60 to 3600');
  expect(() => urls.check(document(artifacts), { ...config, expiresInSec: 3601 })).toThrow('presignedUrlConfig.expiresInSec 3601 must be a whole number from 60 to 3600');
  expect(() => urls.check(document(artifacts), { roleArn: 'arn:aws:iam::123456789012:role/elsewhere' })).toThrow(NotSupportedError);
  expect(() => urls.check(document(artifacts), undefined)).toThrow(/presigned URL placeholders .* and no presignedUrlConfig/);
  expect(() => urls.check(document('another-bucket'), config)).toThrow(/whose bucket is not one of the template's/);
  expect(() => urls.check(JSON.stringify({ url: `\${aws:iot:s3-presigned-url-v2:https://s3.us-east-1.amazonaws.com/${artifacts}/${KEY}}` }), config)).toThrow(/in us-east-1/);
  expect(() => urls.check(JSON.stringify({ url: `\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/${artifacts}/${KEY}}` }), config)).toThrow(/the sandbox reads the documented/);
});
