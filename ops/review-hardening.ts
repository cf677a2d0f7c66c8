/**
 * The protections of what the stack keeps, removed or weakened by a change: a bucket's versioning, default
 * encryption, public access block, access logging and TLS-only bucket policy; a log group's retention; and
 * cdk-nag findings newly acknowledged (waived) in the stack. Each is a `hardening` finding, naming what a README
 * promise or a check stops holding.
 */
import { ResolvedTemplate } from '../sandbox/resolved-template';
import { display, Finding, resourceName, resourcesOfType, Template } from './review-model';

const PUBLIC_ACCESS_BLOCK = ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'] as const;

const encryptionOf = (properties: Record<string, any>): string | undefined => {
  const rule = properties.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
  return rule?.SSEAlgorithm;
};

/** Whether a bucket policy denies every request made without TLS (aws:SecureTransport false), as the stack's buckets do. */
function deniesPlainHttp(template: Template, bucketId: string): boolean {
  const resolved = new ResolvedTemplate(template as never);
  const bucket = resolved.ref(bucketId);
  return resourcesOfType(template, 'AWS::S3::BucketPolicy').map((id) => resolved.properties(id)).filter((policy) => policy.Bucket === bucket)
    .some((policy) => [policy.PolicyDocument?.Statement ?? []].flat().some((statement: any) => statement.Effect === 'Deny'
      && String(statement.Condition?.Bool?.['aws:SecureTransport']) === 'false'));
}

/** What a bucket holds, for the words: archived objects when a topic rule writes to it, access logs when another bucket logs to it. */
export function bucketContents(template: Template, bucketId: string): string {
  const ref = JSON.stringify({ Ref: bucketId });
  const rules = resourcesOfType(template, 'AWS::IoT::TopicRule').some((id) => JSON.stringify(template.Resources![id].Properties?.TopicRulePayload?.Actions ?? []).includes(ref));
  if (rules) return 'archived objects';
  if (resourcesOfType(template, 'AWS::S3::Bucket').some((id) => JSON.stringify(template.Resources![id].Properties?.LoggingConfiguration ?? {}).includes(ref))) return 'access logs';
  return 'objects';
}

function bucketFindings(id: string, was: Record<string, any>, is: Record<string, any>, old: Template, now: Template): Finding[] {
  const label = `Bucket ${resourceName(id, now)}`;
  const findings: Finding[] = [];
  const contents = bucketContents(now, id);
  if (was.VersioningConfiguration?.Status === 'Enabled' && is.VersioningConfiguration?.Status !== 'Enabled') {
    findings.push({ kind: 'hardening', text: `${label} is no longer versioned: an object written under an existing key replaces the old one for good, and a deletion (the smoke check's --clean) deletes its ${contents} instead of leaving a delete marker.` });
  }
  const before = encryptionOf(was);
  const after = encryptionOf(is);
  if (before && before !== after) {
    findings.push({ kind: 'hardening', text: `${label}'s default encryption ${after ? `changes from ${before} to ${after}` : `(${before}) is removed; S3 still encrypts new objects with S3-managed keys, but the stack no longer says so and cdk-nag's check of it is gone`}.` });
  } else if (was.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.KMSMasterKeyID !== undefined
    && JSON.stringify(was.BucketEncryption) !== JSON.stringify(is.BucketEncryption)) {
    findings.push({ kind: 'hardening', text: `${label}'s encryption key changes: objects written from now on use ${display(is.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.KMSMasterKeyID)}.` });
  }
  const opened = PUBLIC_ACCESS_BLOCK.filter((flag) => was.PublicAccessBlockConfiguration?.[flag] === true && is.PublicAccessBlockConfiguration?.[flag] !== true);
  if (opened.length) findings.push({ kind: 'hardening', text: `${label}'s public access block no longer sets ${opened.join(', ')}: a bucket policy or ACL could make its ${contents} public.` });
  if (was.LoggingConfiguration && !is.LoggingConfiguration) findings.push({ kind: 'hardening', text: `${label} no longer logs access: who read or deleted its ${contents} is no longer recorded.` });
  if (deniesPlainHttp(old, id) && !deniesPlainHttp(now, id)) findings.push({ kind: 'hardening', text: `${label}'s policy no longer denies requests without TLS (aws:SecureTransport false): its ${contents} may be read and written over plain HTTP.` });
  return findings;
}

/** Every weakened protection between two templates, and every cdk-nag finding acknowledged anew. */
export function hardeningFindings(old: Template, now: Template, acknowledged: { before: Record<string, string>; after: Record<string, string> }): Finding[] {
  const findings: Finding[] = [];
  for (const id of resourcesOfType(now, 'AWS::S3::Bucket').filter((candidate) => old.Resources?.[candidate]?.Type === 'AWS::S3::Bucket')) {
    findings.push(...bucketFindings(id, old.Resources![id].Properties ?? {}, now.Resources![id].Properties ?? {}, old, now));
  }
  for (const id of resourcesOfType(now, 'AWS::Logs::LogGroup').filter((candidate) => old.Resources?.[candidate]?.Type === 'AWS::Logs::LogGroup')) {
    const was = old.Resources![id].Properties?.RetentionInDays;
    const is = now.Resources![id].Properties?.RetentionInDays;
    if (was !== undefined && is === undefined) findings.push({ kind: 'hardening', text: `Log group ${resourceName(id, now)} keeps its events forever instead of ${was} days: what they hold (failed messages' payloads, for the error log) is never deleted, and its storage is billed for good.` });
  }
  for (const [key, reason] of Object.entries(acknowledged.after).filter(([candidate]) => !(candidate in acknowledged.before)).sort()) {
    const [path, rule] = key.split('\n');
    findings.push({ kind: 'hardening', text: `cdk-nag's ${rule.replace(/^Annotation::/, '')} is newly acknowledged on ${path}: "${reason}".` });
  }
  return findings;
}
