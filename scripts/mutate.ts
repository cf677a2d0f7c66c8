/**
 * `npm run mutate [-- --since <ref> | <file> ...]`: StrykerJS over the code that keeps data and keeps people out
 * (stryker.config.json's `mutate`, MUTATION.md). One Stryker run per entry of that scope, with that entry's tests
 * only (jest.mutate.tests.json): a mutant of module-level code runs every test of its run. Incremental per entry:
 * mutants whose code and covering tests did not change since the last run (reports/mutation/incremental/, committed)
 * keep their result. `--since <ref>` runs the entries holding a file that changed since that git ref; files given
 * run the entries holding them. `--force` runs every mutant again: Stryker's incremental mode never runs a static
 * mutant (of module-level code, covered by no test in particular) again once it survived, whatever tests were added
 * since, so a survivor of that kind is judged again only by a forced run (the weekly workflow's). Exit codes: 0 done
 * (the scores are in the report), 2 usage, otherwise Stryker's.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { usageExit, UsageError } from './command-line';

const ROOT = path.join(__dirname, '..');
const SCOPE: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'stryker.config.json'), 'utf8')).mutate;
/** Stryker's command line: the package exports no subpath for it, so it is found where npm installs it. */
export const STRYKER_BIN = path.join(ROOT, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const USAGE = 'usage: npm run mutate [-- [--force] --since <git ref> | [--force] <file> ...]';
const REPORTS = path.join(ROOT, 'reports', 'mutation');

/** The scope's entries are files or `<folder>/*.ts`: `*` stands for any name within one folder. */
const entryOf = (file: string) => SCOPE.find((entry) => new RegExp(`^${entry.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(file));

/** Where an entry's incremental results are kept: `lib/handlers/certificate/*.ts` in lib-handlers-certificate.json. */
export const incrementalFileOf = (entry: string) => path.join('reports', 'mutation', 'incremental', `${entry.replace(/\/\*\.ts$/, '').replace(/\//g, '-')}.json`);

/** What the mutation run is made of: a change of one of these runs every entry again. */
const CONFIGURATION = ['stryker.config.json', 'jest.mutate.config.js', 'jest.mutate.tests.json', 'jest.config.js', 'package-lock.json'];

/**
 * The entries a change of `files` concerns: those holding a changed source (a deleted one too, while the entry has
 * files left), those whose tests changed (jest.mutate.tests.json), and every entry when the run's configuration did.
 */
export function entriesChangedBy(files: readonly string[]): string[] {
  if (files.some((file) => CONFIGURATION.includes(file))) return SCOPE;
  const testsOf: Record<string, string[]> = JSON.parse(fs.readFileSync(path.join(ROOT, 'jest.mutate.tests.json'), 'utf8'));
  const hasFiles = (entry: string) => !entry.includes('*') ? fs.existsSync(path.join(ROOT, entry))
    : fs.readdirSync(path.join(ROOT, path.dirname(entry))).some((name) => entryOf(path.join(path.dirname(entry), name)) === entry);
  return SCOPE.filter((entry) => hasFiles(entry) && files.some((file) => entryOf(file) === entry || testsOf[entry].some((test) => file === `test/${test}.test.ts`)));
}

/** The entries of the scope to run: all of it, those a change since `since` concerns, or those holding the files named. */
export function entriesToMutate(argv: string[]): string[] | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { since: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  if (values.since !== undefined && positionals.length) throw new UsageError('give --since <ref> or files, not both');
  if (values.since !== undefined) {
    const diff = spawnSync('git', ['diff', '--name-only', `${values.since}...HEAD`], { cwd: ROOT, encoding: 'utf8' });
    if (diff.status !== 0) throw new UsageError(`--since is ${JSON.stringify(values.since)} but git does not know it as a ref (${diff.stderr.trim().split('\n')[0]})`);
    const worktree = spawnSync('git', ['diff', '--name-only', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout;
    return entriesChangedBy(`${diff.stdout}\n${worktree}`.split('\n').filter(Boolean));
  }
  const entries = positionals.map((file) => {
    const entry = entryOf(file);
    if (!entry) throw new UsageError(`${file} is not in the mutation scope (stryker.config.json mutate): ${SCOPE.join(', ')}`);
    return entry;
  });
  return positionals.length ? [...new Set(entries)] : SCOPE;
}

function main(argv: string[]): number {
  let entries;
  try {
    entries = entriesToMutate(argv);
  } catch (error) {
    return usageExit(error, (message) => console.error(`mutate: ${message}\n${USAGE}`));
  }
  if (!entries) {
    console.log(`${USAGE}\n\nMutates ${SCOPE.join(', ')} (stryker.config.json), each with its tests (jest.mutate.tests.json); MUTATION.md has the scores and how to read them.`);
    return 0;
  }
  if (!entries.length) {
    console.log('mutate: no file of the mutation scope changed: nothing to do');
    return 0;
  }
  const force = argv.includes('--force') ? ['--force'] : [];
  const files: MutationReport['files'] = {};
  let failed: number | undefined;
  fs.mkdirSync(path.join(REPORTS, 'entries'), { recursive: true });
  // Every entry runs, a failing one too: the table says what was measured, and the exit code the first failure.
  for (const entry of entries) {
    console.error(`mutate: ${entry}, with its tests: ${JSON.parse(fs.readFileSync(path.join(ROOT, 'jest.mutate.tests.json'), 'utf8'))[entry].join(', ')}`);
    const run = spawnSync(process.execPath, [STRYKER_BIN, 'run', '--mutate', entry, '--incrementalFile', incrementalFileOf(entry), ...force],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, MUTATE_GROUP: entry } });
    if (run.status !== 0) {
      console.error(`mutate: ${entry} failed (exit ${run.status ?? run.signal})`);
      failed ??= run.status ?? 1;
      continue;
    }
    // Each run writes mutation.json anew: kept per entry, and merged below.
    fs.copyFileSync(path.join(REPORTS, 'mutation.json'), path.join(REPORTS, 'entries', path.basename(incrementalFileOf(entry))));
    Object.assign(files, JSON.parse(fs.readFileSync(path.join(REPORTS, 'mutation.json'), 'utf8')).files);
  }
  if (Object.keys(files).length) {
    const merged = JSON.parse(fs.readFileSync(path.join(REPORTS, 'mutation.json'), 'utf8'));
    fs.writeFileSync(path.join(REPORTS, 'mutation.json'), JSON.stringify({ ...merged, files }));
  }
  const table = scoresTable({ files });
  console.log(table);
  if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `## Mutation scores\n\n${table}\n`);
  return failed ?? 0;
}

/** Modules whose bugs let someone in or delete data: held to 95 %, the others to 90 % (MUTATION.md). */
const ACCESS_OR_DELETION = /device-policy|https-publish-policy|device-jobs-policy|iot-policy|iot-authorization|pre-provisioning-hook|certificate|spool|files|review-access/;

interface MutationReport { files: Record<string, { mutants: Array<{ status: string }> }> }

/** Per file: killed (and timed out) of the mutants that can be judged, Stryker's total score, against the file's goal. */
export function scoresTable(report: MutationReport): string {
  const rows = Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b)).map(([file, { mutants }]) => {
    const count = (...statuses: string[]) => mutants.filter((mutant) => statuses.includes(mutant.status)).length;
    const detected = count('Killed', 'Timeout');
    const judged = detected + count('Survived', 'NoCoverage');
    const score = judged ? (100 * detected) / judged : 100;
    const goal = ACCESS_OR_DELETION.test(file) ? 95 : 90;
    return `| ${path.relative(ROOT, path.resolve(ROOT, file))} | ${score.toFixed(1)} % | ${goal} % | ${detected} | ${count('Survived')} | ${count('NoCoverage')} | ${count('CompileError', 'RuntimeError', 'Ignored')} | ${score >= goal ? 'met' : '**below**'} |`;
  });
  return ['| file | score | goal | killed | survived | no coverage | not run | |', '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
