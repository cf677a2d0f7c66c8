/**
 * An S3-compatible server on loopback (s3rver, which speaks the S3 REST API and verifies SigV4
 * signatures), holding the template's buckets under their resolved names. The sandbox's rule engine
 * writes through the S3 API, and the smoke check reads through it with the AWS SDK pointed here by
 * AWS_ENDPOINT_URL_S3; an IP endpoint gets path-style addressing from the SDK.
 */
import * as fs from 'fs';
import * as path from 'path';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

/** The only credentials s3rver accepts: it verifies each request's signature with them. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export class LocalS3 {
  private constructor(private readonly server: S3rverInstance, readonly port: number, readonly dir: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server with `buckets` created, storing objects under `dir`. */
  static async start(dir: string, buckets: string[]): Promise<LocalS3> {
    fs.mkdirSync(dir, { recursive: true });
    const server = new S3rver({
      address: '127.0.0.1', port: 0, silent: true, directory: dir,
      configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    });
    const { port } = await server.run();
    return new LocalS3(server, port, dir);
  }

  /** Where s3rver keeps the objects of `bucket`, for people looking at the sandbox with `ls`. */
  bucketDir(bucket: string): string {
    return path.join(this.dir, bucket);
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
