/**
 * The templates of a git ref and of the working tree, synthesized offline with each tree's own `cdk synth`:
 * the ref in a temporary git worktree (removed afterwards, whatever happens), sharing the working tree's
 * node_modules when its lock file is the same and installing its own (`npm ci`) otherwise.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SynthesizedStack, Template } from './review-model';

/** A problem with what the user asked for (an unknown ref, a ref without this project): exit 2. */
export class RefError extends Error {}

/** A side that does not synthesize (or whose dependencies cannot be installed), in one line: exit 4. */
export class SynthError extends Error {}

/**
 * The one line that says why `cdk synth` failed: the first error of a validation (cdk-nag's rule, the construct
 * path and the acknowledgement it asks for, and how many more), else the first error line, else the last line.
 */
export function synthFailure(output: string): string {
  const lines = output.split('\n').map((line) => line.trimEnd());
  const errors = lines.flatMap((line, index) => (line.startsWith('ERROR ') ? [index] : []));
  if (errors.length) {
    const [first] = errors;
    const path = lines[first + 1]?.trim().split(/\s+/)[0];
    const rule = /Acknowledge with '(?:[^:]+::)?([^']+)'/.exec(lines.slice(first + 1, first + 4).join('\n'))?.[1];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    return `${lines[first].slice('ERROR '.length)}${rule ? ` [${rule}]` : ''}${path ? ` at ${path}` : ''}${more}`;
  }
  const error = lines.find((line) => /(^|\s)(\w*Error\b|error TS\d+)/.test(line));
  return (error ?? lines.filter(Boolean).pop() ?? 'no output').trim();
}

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
 * Synthesizes the tree at `dir` with its own CDK CLI into `out`; the stacks by name, with the cdk-nag findings
 * acknowledged in each. Only `environment` when one is asked for (the app's `-c env=<name>`), else every one.
 */
export function synthTree(dir: string, out: string, environment?: string, side = 'the working tree'): Record<string, SynthesizedStack> {
  const cli = path.join(dir, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  const result = spawnSync(process.execPath, [cli, 'synth', '--quiet', '--no-notices', '-o', out, ...(environment ? ['-c', `env=${environment}`] : [])], {
    // CDK_VALIDATION=false leaves out CDK's built-in CloudFormation schema validation (about 2.4 s a side): the
    // templates are the same, and validating them is the job of the change's own `cdk synth` and tests.
    cwd: dir, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_VALIDATION: 'false' }, maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new SynthError(`${side} does not synthesize: ${synthFailure(`${result.stderr}\n${result.stdout}\n${result.error ?? ''}`)}`);
  return Object.fromEntries(fs.readdirSync(out).filter((file) => file.endsWith('.template.json')).map((file) => {
    const stack = file.replace(/\.template\.json$/, '');
    return [stack, { template: JSON.parse(fs.readFileSync(path.join(out, file), 'utf8')) as Template, acknowledged: acknowledgedIn(path.join(out, `${stack}.metadata.json`)) }];
  }));
}

/** The acknowledgements of a stack's metadata file (`aws:cdk:acknowledged-rules`), by "<construct path>\n<finding ID>". */
function acknowledgedIn(file: string): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  const metadata = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Array<{ type: string; data: unknown }>>;
  const acknowledged: Record<string, string> = {};
  for (const [constructPath, entries] of Object.entries(metadata)) {
    for (const entry of entries.filter((candidate) => candidate.type === 'aws:cdk:acknowledged-rules')) {
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) acknowledged[`${constructPath.replace(/^\/[^/]+\//, '')}\n${id}`] = reason;
    }
  }
  return acknowledged;
}

/**
 * The stacks of a commit, every environment of its config: synthesized once in a worktree, then kept under
 * node_modules/.cache by commit, since a commit's sources and lock file never change (a pull request's target is
 * diffed again and again).
 */
export function synthCommit(root: string, commit: string, ref: string): Record<string, SynthesizedStack> {
  const cache = path.join(root, 'node_modules', '.cache', 'iot-review-2', commit);
  const file = path.join(cache, 'templates.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const templates = withWorktree(root, commit, ref, (dir) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-review-out-'));
    try {
      return synthTree(dir, out, undefined, `the base ${ref} (${commit.slice(0, 12)})`);
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
  if (install.status !== 0) throw new SynthError(`the base's dependencies cannot be installed (npm ci, its package-lock.json differs from the working tree's): ${synthFailure(install.stderr || install.stdout)}`);
}
