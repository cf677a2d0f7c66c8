/**
 * A job document's presigned URL placeholder, as "Managing jobs: Presigned URLs" (AWS IoT Developer Guide,
 * https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html) documents it today:
 * `${aws:iot:s3-presigned-url-v2:https://s3.<region>.amazonaws.com/<bucket>/<key>}`. When a device asks for the
 * document, AWS IoT replaces it with a URL of that object signed with the role of the job's presignedUrlConfig.
 * The page's older form (`s3-presigned-url:` with a global endpoint) is not written here: the documented one is.
 * One definition for the stack, the operator's release and the sandbox that honours it.
 */
const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url-v2:https:\/\/s3\.([a-z0-9-]+)\.amazonaws\.com\/([a-z0-9.-]{3,63})\/([^}]+)\}/g;
/** Any placeholder of AWS IoT's presigned URLs, of whatever version: what the sandbox cannot read is refused by it. */
const ANY_PLACEHOLDER = /\$\{aws:iot:s3-presigned-url[^}]*\}/g;

/** The object a placeholder names. */
export interface PresignedObject {
  readonly region: string;
  readonly bucket: string;
  readonly key: string;
  /** The object's URL inside the placeholder. */
  readonly url: string;
}

/** The placeholder AWS IoT replaces with a presigned URL of `key` in `bucket`. */
export function presignedUrlPlaceholder(object: { region: string; bucket: string; key: string }): string {
  return `\${aws:iot:s3-presigned-url-v2:https://s3.${object.region}.amazonaws.com/${object.bucket}/${object.key}}`;
}

/** Every string of `document` with each placeholder replaced by `replace(object)`; a placeholder of another form is given to `unreadable`. */
export function replacePlaceholders(document: unknown, replace: (object: PresignedObject) => string, unreadable: (placeholder: string) => never = (placeholder) => {
  throw new Error(`presigned URL placeholder ${placeholder} is not of the documented form \${aws:iot:s3-presigned-url-v2:https://s3.<region>.amazonaws.com/<bucket>/<key>}`);
}): unknown {
  if (typeof document === 'string') {
    const replaced = document.replace(PLACEHOLDER, (_, region: string, bucket: string, key: string) => replace({ region, bucket, key, url: `https://s3.${region}.amazonaws.com/${bucket}/${key}` }));
    const left = replaced.match(ANY_PLACEHOLDER);
    if (left) unreadable(left[0]);
    return replaced;
  }
  if (Array.isArray(document)) return document.map((item) => replacePlaceholders(item, replace, unreadable));
  if (typeof document !== 'object' || document === null) return document;
  return Object.fromEntries(Object.entries(document).map(([key, value]) => [key, replacePlaceholders(value, replace, unreadable)]));
}

/** Whether `document` holds a placeholder of any form. */
export const hasPlaceholder = (document: string): boolean => new RegExp(ANY_PLACEHOLDER.source).test(document);
