/**
 * What S3 checks of a URL presigned with SigV4 that s3rver does not: s3rver verifies a query-signed request's
 * access key and expiry but not its signature ("Signature version 4 calculation is unimplemented" in its
 * authentication middleware), so a URL whose key or lifetime was altered would still be served. This check signs
 * the request again with the AWS SDK's own presigner, from what the URL says (the object, the signing time, the
 * lifetime, the Region of its credential scope), and refuses it as S3 does when the URL is not the one signed
 * ("Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", Amazon S3 API Reference). Only
 * GetObject URLs of path-style objects, as the SDK presigns them, are modelled: any other query-signed request is
 * refused by name.
 * Requests signed in the Authorization header are s3rver's alone (access key checked, signature not).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export type PresignedVerdict = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

const canonical = (query: URLSearchParams) => [...query.entries()].map(([name, value]) => `${name}=${value}`).sort().join('&');
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * The verdict on a request to `url` (the request line's path and query) made with `method` to `host`, when it is
 * query-signed with SigV4 by `credentials`' access key; other requests are not this check's (ok).
 */
export async function checkPresignedRequest(method: string, host: string, url: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<PresignedVerdict> {
  const parsed = new URL(url, `http://${host}`);
  const query = parsed.searchParams;
  if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return { ok: true };
  const [accessKeyId, , region] = (query.get('X-Amz-Credential') ?? '').split('/');
  // Another access key is refused by s3rver (InvalidAccessKeyId) as S3 refuses one it does not know.
  if (accessKeyId !== credentials.accessKeyId) return { ok: true };
  const date = AMZ_DATE.exec(query.get('X-Amz-Date') ?? '');
  const expiresIn = Number(query.get('X-Amz-Expires'));
  const segments = parsed.pathname.split('/').slice(1);
  if (method !== 'GET' || segments.length < 2 || !date || !Number.isInteger(expiresIn)) {
    return { ok: false, code: 'NotImplemented', message: `The sandbox verifies presigned GetObject URLs of path-style objects only, not ${method} ${parsed.pathname}` };
  }
  const signingDate = new Date(Date.UTC(+date[1], +date[2] - 1, +date[3], +date[4], +date[5], +date[6]));
  const client = new S3Client({ endpoint: `http://${host}`, region, credentials, forcePathStyle: true });
  try {
    const expected = await getSignedUrl(client, new GetObjectCommand({ Bucket: decodeURIComponent(segments[0]), Key: segments.slice(1).map(decodeURIComponent).join('/') }), { expiresIn, signingDate });
    // S3 signs every query parameter: one added, dropped or changed is a signature that does not match.
    if (canonical(new URL(expected).searchParams) === canonical(query)) return { ok: true };
  } finally {
    client.destroy();
  }
  return { ok: false, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' };
}
