/**
 * `npm run mutate` (scripts/mutate.ts) and its workflow, without running Stryker: what it is given to mutate, the
 * scores it reports, and a workflow whose triggers cover exactly the scope it mutates.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { entriesChangedBy, entriesToMutate, incrementalFileOf, scoresTable, STRYKER_BIN } from '../scripts/mutate';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { safeLoad(text: string): unknown } = require('js-yaml');

const ROOT = path.join(__dirname, '..');
const scope: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'stryker.config.json'), 'utf8')).mutate;
const mutate = (...args: string[]) => spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'scripts', 'mutate.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });

test('what it mutates: the whole scope, the entries holding the files named (each in the scope), or those a ref changed', () => {
  expect(entriesToMutate([])).toEqual(scope);
  expect(entriesToMutate(['device/src/spool.ts', 'lib/handlers/certificate/index.ts', 'lib/handlers/certificate/generation.ts']))
    .toEqual(['device/src/spool.ts', 'lib/handlers/certificate/*.ts']);
  expect(() => entriesToMutate(['lib/config.ts'])).toThrow('lib/config.ts is not in the mutation scope (stryker.config.json mutate): device/src/settings.ts');
  expect(() => entriesToMutate(['lib/handlers/certificate/nested/index.ts'])).toThrow('is not in the mutation scope');
  expect(() => entriesToMutate(['--since', 'no-such-ref'])).toThrow(/^--since is "no-such-ref" but git does not know it as a ref/);
  expect(() => entriesToMutate(['--since', 'HEAD', 'device/src/spool.ts'])).toThrow('give --since <ref> or files, not both');
  expect(entriesToMutate(['--since', 'HEAD'])!.every((entry) => scope.includes(entry))).toBe(true);
  expect(entriesToMutate(['--force', 'device/src/spool.ts'])).toEqual(['device/src/spool.ts']);
});

test('a change concerns the entries holding its sources, a deleted one too, those whose tests it changes, and all of them when it changes the run\'s configuration', () => {
  expect(entriesChangedBy(['lib/handlers/certificate/generation.ts', 'README.md'])).toEqual(['lib/handlers/certificate/*.ts']);
  expect(entriesChangedBy(['lib/handlers/certificate/deleted-helper.ts'])).toEqual(['lib/handlers/certificate/*.ts']);
  expect(entriesChangedBy(['test/handlers/certificate.test.ts'])).toEqual(['lib/handlers/certificate/*.ts']);
  expect(entriesChangedBy(['test/device/spool-sender.test.ts'])).toEqual(['device/src/spool.ts', 'device/src/spool-sender.ts']);
  expect(entriesChangedBy(['jest.mutate.tests.json'])).toEqual(scope);
  expect(entriesChangedBy(['docs/x.md', 'lib/config.ts'])).toEqual([]);
});

test('each entry of the scope runs with tests of its own, that exist, and keeps its results in a file of its own', () => {
  const testsOf: Record<string, string[]> = JSON.parse(fs.readFileSync(path.join(ROOT, 'jest.mutate.tests.json'), 'utf8'));
  expect(Object.keys(testsOf)).toEqual(scope);
  for (const tests of Object.values(testsOf)) {
    expect(tests.filter((name) => !fs.existsSync(path.join(ROOT, 'test', `${name}.test.ts`)))).toEqual([]);
  }
  expect(new Set(scope.map(incrementalFileOf)).size).toBe(scope.length);
  expect(incrementalFileOf('lib/handlers/certificate/*.ts')).toBe(path.join('reports', 'mutation', 'incremental', 'lib-handlers-certificate.json'));
  // jest's configuration for one entry: its tests only; an entry it does not know is refused by name.
  const config = (group?: string) => spawnSync(process.execPath, ['-e', 'console.log(JSON.stringify(require("./jest.mutate.config.js").testMatch))'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MUTATE_GROUP: group } });
  expect(JSON.parse(config('device/src/spool-sender.ts').stdout)).toEqual(['<rootDir>/test/device/spool-sender.test.ts']);
  expect(config('lib/nothing.ts').stderr).toContain('MUTATE_GROUP is "lib/nothing.ts", not an entry of jest.mutate.tests.json');
  // A mutant of a template's sources makes another template of the same sources: the sandbox's cache on disk is off for those.
  const cache = (group: string) => spawnSync(process.execPath, ['-e', 'require("./jest.mutate.config.js"); console.log(process.env.IOT_CORE_SYNTH_CACHE)'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MUTATE_GROUP: group } }).stdout.trim();
  expect([cache('lib/device-policy.ts'), cache('device/src/settings.ts'), cache('ops/review-access.ts'), cache('device/src/spool.ts')]).toEqual(['off', 'off', 'undefined', 'undefined']);
});

test('Stryker\'s command line is where the command starts it', () => {
  const version = spawnSync(process.execPath, [STRYKER_BIN, '--version'], { cwd: ROOT, encoding: 'utf8' });
  expect({ status: version.status, stdout: version.stdout.trim() }).toEqual({ status: 0, stdout: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies['@stryker-mutator/core'] });
});

test('bad usage exits 2 with one line and the usage, through the command', () => {
  const outside = mutate('lib/config.ts');
  expect(outside.status).toBe(2);
  expect(outside.stderr.split('\n')[0]).toBe(`mutate: lib/config.ts is not in the mutation scope (stryker.config.json mutate): ${scope.join(', ')}`);
});

test('the scores: killed of the mutants that can be judged, per file, against 95 % where access or deletion is decided and 90 % elsewhere', () => {
  const mutants = (killed: number, survived: number, noCoverage = 0, errors = 0) => ({
    mutants: [...Array(killed).fill({ status: 'Killed' }), ...Array(survived).fill({ status: 'Survived' }), ...Array(noCoverage).fill({ status: 'NoCoverage' }), ...Array(errors).fill({ status: 'CompileError' })],
  });
  const table = scoresTable({ files: { 'device/src/spool.ts': mutants(93, 5, 2, 7), 'lib/archive-rule.ts': mutants(9, 1) } });
  expect(table.split('\n').slice(2)).toEqual([
    '| device/src/spool.ts | 93.0 % | 95 % | 93 | 5 | 2 | 7 | **below** |',
    '| lib/archive-rule.ts | 90.0 % | 90 % | 9 | 1 | 0 | 0 | met |',
  ]);
});

test('the workflow runs weekly over the scope and on pull requests touching it, with --since the target branch', () => {
  const workflow = yaml.safeLoad(fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'mutation.yml'), 'utf8')) as {
    on: { schedule: unknown[]; pull_request: { paths: string[] } }; jobs: Record<string, { steps: Array<{ run?: string; with?: Record<string, unknown>; uses?: string }> }>;
  };
  expect(workflow.on.schedule).toHaveLength(1);
  expect(workflow.on.pull_request.paths).toEqual([...scope, 'stryker.config.json', 'jest.mutate.config.js', 'jest.mutate.tests.json', 'jest.config.js', 'package-lock.json', 'test/**']);
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
  expect(steps.find((step) => step.uses?.startsWith('actions/checkout@'))?.with?.['fetch-depth']).toBe(0);
  expect(steps.map((step) => step.run).filter(Boolean)).toEqual(['npm ci --no-audit --no-fund', 'npm run --silent mutate -- --since "origin/${{ github.base_ref }}"', 'npm run --silent mutate -- --force']);
  expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.mutate).toBe('tsx scripts/mutate.ts');
});
