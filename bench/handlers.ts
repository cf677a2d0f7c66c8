/**
 * Size and cold `require` time of each custom-resource handler bundle against a cold `require` of the
 * AWS SDK clients it uses, from node_modules, in the same run. Each require runs in a fresh Node
 * process and is timed inside it (process start-up excluded). Goal: <= 1.2x.
 * Usage: npm run bench:handlers [-- runs]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync } from 'esbuild';
import { handlerBundleOptions } from '../lib/handler-bundle';
import { compare } from './measure';

const runs = Number(process.argv[2] ?? 15);
const root = path.join(__dirname, '..');
const clientsOf: Record<string, string[]> = {
  'certificate': ['@aws-sdk/client-iot', '@aws-sdk/client-secrets-manager'],
  'shadow-defaults': ['@aws-sdk/client-iot', '@aws-sdk/client-iot-data-plane'],
};

/** ms spent in require() of the modules, measured inside a fresh process. */
function coldRequire(modules: string[]): number {
  const script = `const t=process.hrtime.bigint();${modules.map((m) => `require(${JSON.stringify(m)});`).join('')}`
    + 'process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return Number(result.stdout);
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-handlers-'));
for (const [folder, clients] of Object.entries(clientsOf)) {
  const bundle = path.join(out, folder, 'index.js');
  buildSync(handlerBundleOptions(folder, bundle));
  console.log(`${folder}: bundle ${(fs.statSync(bundle).size / 1024).toFixed(0)} KiB`);
  compare(`${folder}: cold require of the bundle vs of ${clients.join(' + ')}`, runs, () => coldRequire([bundle]), () => coldRequire(clients), 1.2);
}
fs.rmSync(out, { recursive: true, force: true });
