/**
 * s3rver in a process of its own (sandbox/s3-server.ts forks it), so that its file writes do not share an
 * event loop with the broker's clients and the rule engine. Reads { dir, buckets } from the parent, answers
 * { port }, closes on 'stop', and exits with its parent.
 */
import { checkPresignedRequest } from './s3-presigned-check';
import { S3_CREDENTIALS } from './s3-server';

type Middleware = (ctx: { method: string; host: string; url: string }, next: () => Promise<void>) => Promise<void>;
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  /** Koa's middleware, composed when the server starts listening. */
  middleware: Middleware[];
}
// s3rver ships no type declarations.
/* eslint-disable @typescript-eslint/no-require-imports */
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;
const S3Error = require('s3rver/lib/models/error') as new (code: string, message: string) => Error;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Before s3rver's own: the signature of a presigned URL, which s3rver does not verify (sandbox/s3-presigned-check.ts). */
const presignedUrls: Middleware = async (ctx, next) => {
  const verdict = await checkPresignedRequest(ctx.method, ctx.host, ctx.url, S3_CREDENTIALS);
  if (!verdict.ok) throw new S3Error(verdict.code, verdict.message);
  await next();
};

let server: S3rverInstance | undefined;
process.on('message', async (message: { type: 'start'; dir: string; buckets: string[] } | { type: 'stop' }) => {
  if (message.type === 'start') {
    server = new S3rver({
      address: '127.0.0.1', port: 0, silent: true, directory: message.dir,
      configureBuckets: message.buckets.map((name) => ({ name, configs: [] })),
    });
    server.middleware.unshift(presignedUrls);
    const { port } = await server.run();
    process.send!({ type: 'listening', port });
  } else {
    await server?.close();
    process.disconnect();
  }
});
// The sandbox that started it is gone: nothing is left listening.
process.on('disconnect', () => process.exit(0));
