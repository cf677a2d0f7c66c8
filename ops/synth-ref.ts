/**
 * The templates of a git ref and of the working tree, synthesized offline with each tree's own `cdk synth`:
 * the ref in a temporary git worktree (removed afterwards, whatever happens), sharing the working tree's
 * node_modules when its lock file is the same and installing its own (`npm ci`) otherwise.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Template } from './review';

/** A problem with what the user asked for (an unknown ref, a ref without this project): exit 2. */
export class RefError extends Error {}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The commit a ref names, or a RefError naming the ref. */
export function resolveRef(root: string, ref: string): string {
  try {
    return git(root, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  } catch {
    throw new RefError(`--base "${ref}" is not a commit of this repository (try a branch, a tag, or HEAD~1)`);
  }
}

/**
 * Synthesizes the tree at `dir` with its own CDK CLI into `out`; the templates by stack name. Only `environment`
 * when exactly one is asked for (the app's `-c env=<name>`), else every environment.
 */
export function synthTree(dir: string, out: string, environment?: string): Record<string, Template> {
  const cli = path.join(dir, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  const result = spawnSync(process.execPath, [cli, 'synth', '--quiet', '--no-notices', '-o', out, ...(environment ? ['-c', `env=${environment}`] : [])], {
    // CDK_VALIDATION=false leaves out CDK's built-in CloudFormation schema validation (about 2.4 s a side): the
    // templates are the same, and validating them is the job of the change's own `cdk synth` and tests.
    cwd: dir, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_VALIDATION: 'false' }, maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`cdk synth failed in ${dir}:\n${(result.stderr || result.stdout || String(result.error)).trim().split('\n').slice(-15).join('\n')}`);
  return Object.fromEntries(fs.readdirSync(out).filter((file) => file.endsWith('.template.json'))
    .map((file) => [file.replace(/\.template\.json$/, ''), JSON.parse(fs.readFileSync(path.join(out, file), 'utf8')) as Template]));
}

/**
 * The templates of a commit: synthesized once in a worktree, then kept under node_modules/.cache by commit and
 * environment, since a commit's sources and lock file never change (a pull request's target is diffed again and again).
 */
export function synthCommit(root: string, commit: string, ref: string, environment?: string): Record<string, Template> {
  const cache = path.join(root, 'node_modules', '.cache', 'iot-review', commit, environment ?? 'all');
  const file = path.join(cache, 'templates.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const templates = withWorktree(root, commit, ref, (dir) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-review-out-'));
    try {
      return synthTree(dir, out, environment);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
  if (fs.existsSync(path.join(root, 'node_modules'))) {
    fs.mkdirSync(cache, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(templates));
  }
  return templates;
}

/** Runs `use` with a worktree of `commit` ready to synthesize, and removes it afterwards. */
export function withWorktree<T>(root: string, commit: string, ref: string, use: (dir: string) => T): T {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-review-'));
  const dir = path.join(scratch, 'base');
  try {
    git(root, 'worktree', 'add', '--detach', '--quiet', dir, commit);
    if (!fs.existsSync(path.join(dir, 'cdk.json')) || !fs.existsSync(path.join(dir, 'package.json'))) {
      throw new RefError(`--base "${ref}" (${commit.slice(0, 12)}) does not contain this project: it has no cdk.json and package.json at the top`);
    }
    prepareDependencies(root, dir);
    return use(dir);
  } finally {
    try {
      git(root, 'worktree', 'remove', '--force', dir);
    } catch {
      // Not added (a bad ref) or already gone: prune below forgets it either way.
    }
    git(root, 'worktree', 'prune');
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function prepareDependencies(root: string, dir: string): void {
  const lock = (tree: string) => (fs.existsSync(path.join(tree, 'package-lock.json')) ? fs.readFileSync(path.join(tree, 'package-lock.json'), 'utf8') : undefined);
  if (lock(dir) !== undefined && lock(dir) === lock(root) && fs.existsSync(path.join(root, 'node_modules'))) {
    // The same locked dependencies: the working tree's install serves the base too.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    return;
  }
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`npm ci of the base failed (its package-lock.json differs from the working tree's):\n${(install.stderr || install.stdout).trim().split('\n').slice(-10).join('\n')}`);
}
