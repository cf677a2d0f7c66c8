/**
 * `cdk synth` of every environment (templates, handler bundles, cdk-nag) against the synth of an
 * empty app by the same pinned CLI in the same run. Goal: <= 1.5x. Usage: npm run bench:synth [-- runs]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compare, timeCommand } from './measure';

const runs = Number(process.argv[2] ?? 5);
const root = path.join(__dirname, '..');
const cdk = path.join(root, 'node_modules', '.bin', 'cdk');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
const synth = (app?: string) => () => timeCommand(cdk, [
  'synth', '--quiet', '--no-notices', '-o', path.join(out, app ? 'empty' : 'all'), ...(app ? ['-a', app] : []),
], { cwd: root, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' } });

compare('cdk synth, all environments', runs, synth(), synth('node --import tsx bench/empty-app.ts'), 1.5);
fs.rmSync(out, { recursive: true, force: true });
