/**
 * s3rver in a process of its own (sandbox/s3-server.ts forks it), so that its file writes do not share an
 * event loop with the broker's clients and the rule engine. Reads { dir, buckets } from the parent, answers
 * { port }, closes on 'stop', and exits with its parent.
 */
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

let server: S3rverInstance | undefined;
process.on('message', async (message: { type: 'start'; dir: string; buckets: string[] } | { type: 'stop' }) => {
  if (message.type === 'start') {
    server = new S3rver({
      address: '127.0.0.1', port: 0, silent: true, directory: message.dir,
      configureBuckets: message.buckets.map((name) => ({ name, configs: [] })),
    });
    const { port } = await server.run();
    process.send!({ type: 'listening', port });
  } else {
    await server?.close();
    process.disconnect();
  }
});
// The sandbox that started it is gone: nothing is left listening.
process.on('disconnect', () => process.exit(0));
