/**
 * An S3-compatible server on loopback (s3rver, which speaks the S3 REST API and checks each request's access
 * key; the signatures of presigned URLs are verified before it, sandbox/s3-presigned-check.ts, while those of
 * header-signed requests are not), holding the template's buckets under their resolved names, in a process of its own
 * (sandbox/s3-server-process.ts). The sandbox's rule engine writes through the S3 API, and the smoke check
 * reads through it with the AWS SDK pointed here by AWS_ENDPOINT_URL_S3; an IP endpoint gets path-style
 * addressing from the SDK.
 */
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The only credentials s3rver accepts: a request signed with another access key is refused (InvalidAccessKeyId). */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export class LocalS3 {
  private constructor(private readonly child: ChildProcess, readonly port: number, readonly dir: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server with `buckets` created, storing objects under `dir`. */
  static async start(dir: string, buckets: string[]): Promise<LocalS3> {
    fs.mkdirSync(dir, { recursive: true });
    // s3rver seals ListObjectsV2's continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider: without
    // it every second page is an InternalError, and a listing longer than a page could not be followed.
    const child = fork(path.join(__dirname, 's3-server-process.ts'), [], { execArgv: ['--import', 'tsx', '--openssl-legacy-provider'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: { port: number }) => resolve(message.port));
      child.once('exit', (code) => reject(new Error(`the S3-compatible server (s3rver) exited with code ${code} before listening`)));
      child.send({ type: 'start', dir, buckets });
    });
    return new LocalS3(child, port, dir);
  }

  /** Where s3rver keeps the objects of `bucket`, for people looking at the sandbox with `ls`. */
  bucketDir(bucket: string): string {
    return path.join(this.dir, bucket);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' });
    await exited;
  }
}
