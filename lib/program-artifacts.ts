import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PROGRAM_KEY_PREFIX } from '../device/src/contract';
import { acknowledgeWildcardResource } from './nag';

export interface ProgramArtifactsProps {
  /** The bucket that receives the artifacts bucket's server access logs (the archive's). */
  readonly accessLogsBucket: s3.IBucket;
  /** How long a package's URL lasts once AWS IoT Jobs has signed it for a device, 60 s to 1 hour. @default Duration.hours(1) */
  readonly urlLifetime?: Duration;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where device program packages are released from (`npm run fleet -- release`), and the role AWS IoT Jobs signs
 * their URLs with: a job document's presigned URL placeholder (lib/presigned-url.ts) is replaced, when a device
 * asks for the document, by a URL signed with this role ("Managing jobs", AWS IoT Developer Guide, and
 * "PresignedUrlConfig", AWS IoT API Reference). The role may read packages and nothing
 * else; only AWS IoT of this account may assume it ("Cross-service confused deputy prevention": the page gives
 * aws:SourceArn for rules but not which ARN Jobs presents when it signs, so the account is the condition).
 * The bucket is hardened as the archive's is, versioned (a package key is its hash, so a version is never
 * rewritten, but an operator's mistake can be undone), and keeps old versions 30 days.
 */
export class ProgramArtifacts extends Construct {
  public readonly bucket: s3.Bucket;
  /** The role of the update job template's presignedUrlConfig. */
  public readonly presignRole: iam.Role;
  /** Packages live under this prefix, named by their SHA-256 (programKey). */
  public readonly keyPrefix = PROGRAM_KEY_PREFIX;
  public readonly urlLifetime: Duration;

  constructor(scope: Construct, id: string, props: ProgramArtifactsProps) {
    super(scope, id);
    // Checked by the job template that signs with it (RULES.jobPresignedUrlSeconds).
    this.urlLifetime = props.urlLifetime ?? Duration.hours(1);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'program-artifacts/',
      lifecycleRules: [{ id: 'ExpireReplacedPackages', noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    this.presignRole = new iam.Role(this, 'PresignRole', {
      description: 'AWS IoT Jobs signs the URLs of device program packages with this role',
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
    });
    // GetObject alone: a download, resumed with Range, is GetObject too.
    const packages = this.bucket.arnForObjects(`${this.keyPrefix}*`);
    iam.Grant.addToPrincipal({ grantee: this.presignRole, actions: ['s3:GetObject'], resourceArns: [packages] });
    acknowledgeWildcardResource(this.presignRole, packages, 'A job names its package by hash, known only at release; only the packages prefix is readable.');
  }

  /** Lets `grantee` upload packages (`fleet release`): s3:PutObject under the prefix only. */
  grantUpload(grantee: iam.IGrantable): iam.Grant {
    if (Construct.isConstruct(grantee)) acknowledgeWildcardResource(grantee, this.bucket.arnForObjects(`${this.keyPrefix}*`), 'A package is named by its hash, known only at release; only the packages prefix is writable.');
    return iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: [this.bucket.arnForObjects(`${this.keyPrefix}*`)] });
  }
}
