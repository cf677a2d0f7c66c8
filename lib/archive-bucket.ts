import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface ArchiveBucketProps {
  /** How long archived objects are kept (old versions expire a day after being replaced). @default Duration.days(365) */
  readonly retention?: Duration;
  /** DESTROY also empties the buckets on stack deletion; RETAIN keeps them. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The bucket the archive rule writes into: encrypted, TLS only, no public access, objects owned by
 * the bucket owner, versioned (so even a key collision could not lose data), expiring after the
 * retention period, with server access logs in a second bucket.
 */
export class ArchiveBucket extends Construct {
  /** The archive bucket. Its construct ID is pinned by a test: renaming it would replace the bucket. */
  public readonly bucket: s3.Bucket;
  /** The bucket receiving the archive bucket's server access logs. */
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ArchiveBucketProps = {}) {
    super(scope, id);
    const retention = props.retention ?? Duration.days(365);
    if (!retention.isUnresolved() && (!Number.isInteger(retention.toHours() / 24) || retention.toHours() < 24)) {
      throw new Error(`ArchiveBucket retention must be whole days, at least one, received: ${retention.toHumanString()}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const hardened = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    };

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...hardened,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: retention }],
    });

    this.bucket = new s3.Bucket(this, 'Resource', {
      ...hardened,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'archive-bucket/',
      lifecycleRules: [{
        id: 'ExpireArchive',
        expiration: retention,
        noncurrentVersionExpiration: Duration.days(1),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
    });
  }
}
