/**
 * AWS IoT Jobs' presigned URLs in the sandbox ("Managing jobs: Presigned URLs", AWS IoT Developer Guide,
 * https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html; "PresignedUrlConfig", AWS IoT
 * API Reference). A job's presignedUrlConfig names a role and how long URLs last (60 to 3600 s, 3600 by default);
 * when a device asks for the job document over MQTT, each placeholder (lib/presigned-url.ts) becomes a URL of the
 * object signed with the role. Here the URL is one of the S3-compatible server, signed by the AWS SDK's own
 * presigner (SigV4 in the query string), and s3rver verifies it as S3 does: an altered URL is SignatureDoesNotMatch,
 * an expired one AccessDenied. The role's session may read the object only when the role's identity policies and
 * the bucket's policy allow s3:GetObject over TLS (evaluated as IAM does, sandbox/iam-policy.ts); when they do not,
 * the URL is signed with credentials s3rver does not know, so the download is refused (403) as S3 refuses the role.
 * What it cannot model is refused by name when the job is made: a role or bucket that is not the template's,
 * another Region, a placeholder of another form, a placeholder without presignedUrlConfig (AWS does not document
 * what it does then).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PresignedObject, replacePlaceholders } from '../lib/presigned-url';
import { RULES } from '../lib/rules';
import { NotSupportedError } from './errors';
import { evaluateIam, IamPolicyDocument } from './iam-policy';
import { IotApiError } from './iot-control-plane';
import { ResolvedTemplate } from './resolved-template';
import { S3_CREDENTIALS } from './s3-server';

/** CreateJob's presignedUrlConfig, in the API's form. */
export interface PresignedUrlConfig {
  readonly roleArn: string;
  readonly expiresInSec?: number;
}

/** AWS's default lifetime of a presigned URL ("PresignedUrlConfig", AWS IoT API Reference). */
const DEFAULT_EXPIRES_IN_SEC = 3600;
/** Credentials s3rver does not know: a URL signed with them is refused, as S3 refuses a role it does not allow. */
const REFUSED_CREDENTIALS = { accessKeyId: 'ROLE-MAY-NOT-GET-OBJECT', secretAccessKey: 'refused' };

const placeholdersOf = (document: unknown, unreadable: (placeholder: string) => never): PresignedObject[] => {
  const objects: PresignedObject[] = [];
  replacePlaceholders(document, (object) => { objects.push(object); return ''; }, unreadable);
  return objects;
};

export class PresignedUrls {
  private readonly clients: { allowed: S3Client; refused: S3Client };

  /** `endpoint`: the S3-compatible server holding the template's buckets; `now`: when URLs are signed. */
  constructor(private readonly resolved: ResolvedTemplate, endpoint: string, private readonly now: () => number = Date.now) {
    const client = (credentials: { accessKeyId: string; secretAccessKey: string }) => new S3Client({ endpoint, region: resolved.region, credentials, forcePathStyle: true });
    this.clients = { allowed: client(S3_CREDENTIALS), refused: client(REFUSED_CREDENTIALS) };
  }

  /** What CreateJob checks of a job's document and presignedUrlConfig, before the job is made. */
  check(document: string, config: PresignedUrlConfig | undefined): void {
    const unreadable = (placeholder: string): never => { throw new NotSupportedError(`presigned URL placeholder ${placeholder} (the sandbox reads the documented \${aws:iot:s3-presigned-url-v2:https://s3.<region>.amazonaws.com/<bucket>/<key>})`); };
    const objects = placeholdersOf(JSON.parse(document), unreadable);
    if (config === undefined) {
      if (objects.length) throw new NotSupportedError(`a job document with presigned URL placeholders (${objects[0].url}) and no presignedUrlConfig`);
      return;
    }
    if (typeof config.roleArn !== 'string' || config.roleArn.length < 20 || config.roleArn.length > 2048) {
      throw new IotApiError(400, 'InvalidRequestException', `presignedUrlConfig.roleArn ${JSON.stringify(config.roleArn)} must be a role ARN of 20 to 2048 characters`);
    }
    const expires = config.expiresInSec ?? DEFAULT_EXPIRES_IN_SEC;
    if (!RULES.jobPresignedUrlSeconds.test(expires)) throw new IotApiError(400, 'InvalidRequestException', `presignedUrlConfig.expiresInSec ${JSON.stringify(expires)} must be ${RULES.jobPresignedUrlSeconds.allowed}`);
    this.roleOf(config.roleArn);
    const buckets = new Set(this.resolved.ofType('AWS::S3::Bucket').map((id) => this.resolved.ref(id)));
    for (const object of objects) {
      if (object.region !== this.resolved.region) throw new NotSupportedError(`presigned URL of ${object.url}, in ${object.region} (the sandbox's buckets are in ${this.resolved.region})`);
      if (!buckets.has(object.bucket)) throw new NotSupportedError(`presigned URL of ${object.url}, whose bucket is not one of the template's`);
    }
  }

  /** `payload` (a Jobs MQTT message holding a job document) with each placeholder replaced by a URL signed now. */
  async sign(payload: string, config: PresignedUrlConfig): Promise<string> {
    const message = JSON.parse(payload) as unknown;
    const objects = placeholdersOf(message, (placeholder) => { throw new NotSupportedError(`presigned URL placeholder ${placeholder}`); });
    const urls = new Map<string, string>();
    for (const object of objects) urls.set(object.url, await this.presign(object, config));
    return JSON.stringify(replacePlaceholders(message, (object) => urls.get(object.url)!));
  }

  private roleOf(roleArn: string): string {
    const roleId = this.resolved.ofType('AWS::IAM::Role').find((id) => this.resolved.getAtt(id, 'Arn') === roleArn);
    if (!roleId) throw new NotSupportedError(`presignedUrlConfig with role ${roleArn}, which is not a role of the template`);
    return roleId;
  }

  private async presign(object: PresignedObject, config: PresignedUrlConfig): Promise<string> {
    const roleId = this.roleOf(config.roleArn);
    const bucketPolicyId = this.resolved.ofType('AWS::S3::BucketPolicy').find((id) => this.resolved.properties(id).Bucket === object.bucket);
    // The device downloads over HTTPS (iot-device refuses plain HTTP but to localhost), so the request is evaluated as one over TLS 1.2.
    const decision = evaluateIam(
      { principal: config.roleArn, action: 's3:GetObject', resource: `arn:aws:s3:::${object.bucket}/${object.key}`, context: { 'aws:SecureTransport': true, 's3:TlsVersion': 1.2 } },
      this.resolved.rolePolicies(roleId).map(({ policy }) => policy as IamPolicyDocument),
      bucketPolicyId ? this.resolved.properties(bucketPolicyId).PolicyDocument as IamPolicyDocument : undefined,
    );
    const client = decision === 'Allowed' ? this.clients.allowed : this.clients.refused;
    return getSignedUrl(client, new GetObjectCommand({ Bucket: object.bucket, Key: object.key }), { expiresIn: config.expiresInSec ?? DEFAULT_EXPIRES_IN_SEC, signingDate: new Date(this.now()) });
  }

  destroy(): void {
    this.clients.allowed.destroy();
    this.clients.refused.destroy();
  }
}
