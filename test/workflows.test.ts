/**
 * The pull-request workflow cannot run here: its YAML is parsed, and every command it runs must exist, with
 * arguments `npm run diff` accepts, so a renamed script or kind of change breaks this test, not the CI of a pull request.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FINDING_KINDS } from '../ops/review';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { safeLoad(text: string): unknown } = require('js-yaml');

const ROOT = path.join(__dirname, '..');
const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
type Step = { id?: string; name?: string; run?: string; uses?: string; if?: string; with?: Record<string, unknown> };
const workflow = yaml.safeLoad(fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'review.yml'), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, { steps: Step[] }> };
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);

test('runs on pull requests, with the history the base branch is synthesized from', () => {
  expect(Object.keys(workflow.on)).toEqual(['pull_request']);
  expect(steps.find((step) => step.uses?.startsWith('actions/checkout@'))?.with?.['fetch-depth']).toBe(0);
});

test('every npm script it runs exists in package.json', () => {
  const runs = steps.flatMap((step) => [...(step.run ?? '').matchAll(/npm run (?:--\S+ )*([\w:-]+)/g)].map((match) => match[1]));
  expect(runs.length).toBeGreaterThan(0);
  expect(runs.filter((name) => !(name in scripts))).toEqual([]);
  expect(steps.some((step) => /\bnpm ci\b/.test(step.run ?? ''))).toBe(true);
});

test('diffs against the target branch, gates on kinds npm run diff knows, and posts the Markdown it writes', () => {
  const diff = steps.find((step) => step.id === 'diff')!;
  expect(diff.run).toContain('--base "origin/${{ github.base_ref }}"');
  const markdown = /--markdown (\S+)/.exec(diff.run!)![1];
  const kinds = /--fail-on (\S+)/.exec(diff.run!)![1].split(',');
  expect(kinds.filter((kind) => !(FINDING_KINDS as readonly string[]).includes(kind))).toEqual([]);
  const posting = steps.filter((step) => (step.run ?? '').includes(markdown) && step !== diff);
  expect(posting.map((step) => step.name)).toEqual(['Job summary', 'Comment on the pull request']);
  // Exit 3 is the gate's, not a failure of the diff step.
  expect(steps.find((step) => step.name === 'Gate')?.if).toBe("steps.diff.outputs.code == '3'");
  // What stops devices or data is gated.
  expect(kinds).toEqual(expect.arrayContaining(['outage', 'data-loss', 'hardening', 'replacement', 'update-refused', 'iot-policy-widened', 'rollout-unguarded']));
});

/** Runs the diff step's script with an `npm` that prints `line` on stderr and exits `code`; what the step does with it. */
function diffStep(code: number, line: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-'));
  fs.writeFileSync(path.join(dir, 'npm'), `#!/bin/sh\necho '${line}' >&2\nexit ${code}\n`, { mode: 0o755 });
  const output = path.join(dir, 'output');
  const script = steps.find((step) => step.id === 'diff')!.run!.replace('${{ github.base_ref }}', 'main');
  const result = spawnSync('bash', ['-e', '-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, GITHUB_OUTPUT: output } });
  const outputs = fs.readFileSync(output, 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, outputs };
}

/** Whether a step whose `if` names the codes it runs for runs after a diff step that exited `code`. */
const runsAfter = (step: Step, code: number) => new RegExp(`steps\\.diff\\.outputs\\.code == '${code}'`).test(step.if ?? '');

test.each([0, 1, 3])('exit %d: the report is written, the diff step passes, and it is posted', (code) => {
  const result = diffStep(code, code === 3 ? 'diff: changes of the kinds outage (--fail-on)' : '');
  expect(result.status).toBe(0);
  expect(result.outputs).toBe(`code=${code}\n`);
  for (const name of ['Job summary', 'Comment on the pull request']) expect(runsAfter(steps.find((step) => step.name === name)!, code)).toBe(true);
});

test.each([
  [4, 'diff: the working tree does not synthesize: The IAM entity contains wildcard permissions [AwsSolutions-IAM5[Resource::*]] at IotCore-dev/Fleet/HookRole/DefaultPolicy/Resource'],
  [5, 'diff: --markdown "review.md" cannot be written: EACCES'],
  [2, 'diff: --base "origin/main" is not a commit of this repository (try a branch, a tag, or HEAD~1)'],
])('exit %d: the diff step fails with its one line as the error, and no step reads a report that was not written', (code, line) => {
  const result = diffStep(code, line);
  expect(result.status).toBe(code);
  expect(result.stderr).toContain(line);
  expect(result.stdout).toContain(`::error title=npm run diff (exit ${code})::${line}`);
  for (const step of steps.filter((candidate) => (candidate.run ?? '').includes('review.md') && candidate.id !== 'diff')) expect(runsAfter(step, code)).toBe(false);
});
