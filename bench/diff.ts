/**
 * `npm run diff` of every environment against HEAD~1 (the base synthesized afresh in a worktree: its cache is
 * cleared before each run) against one `cdk synth` of the working tree, alternately, in the same run. The goal,
 * 2.5x, is the two synths and the comparison.
 * Usage: npm run bench:diff [-- runs]
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compare, timeCommand } from './measure';

const runs = Number(process.argv[2] ?? 3);
const root = path.join(__dirname, '..');
const base = execFileSync('git', ['rev-parse', 'HEAD~1'], { cwd: root, encoding: 'utf8' }).trim();
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-diff-'));
const env = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' };

const diff = () => {
  fs.rmSync(path.join(root, 'node_modules', '.cache', 'iot-review', base), { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/diff.ts', '--base', 'HEAD~1'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  // 0 no change, 1 changes: both are a finished diff.
  if (result.status !== 0 && result.status !== 1) throw new Error(`npm run diff failed (${result.status}): ${String(result.stderr).slice(-2000)}`);
  return elapsed;
};
const synth = () => timeCommand(path.join(root, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--no-notices', '-o', out], { cwd: root, env });

compare('npm run diff against HEAD~1, all environments', runs, diff, synth, 2.5);
fs.rmSync(out, { recursive: true, force: true });
