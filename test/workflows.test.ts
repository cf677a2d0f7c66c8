/**
 * The pull-request workflow cannot run here: its YAML is parsed, and every command it runs must exist, with
 * arguments `npm run diff` accepts, so a renamed script or kind of change breaks this test, not the CI of a pull request.
 */
import * as fs from 'fs';
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
  const runs = steps.flatMap((step) => [...(step.run ?? '').matchAll(/npm run ([\w:-]+)/g)].map((match) => match[1]));
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
});
