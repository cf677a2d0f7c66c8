/**
 * `npm run diff -- --base <git ref> [--env <env>...] [--markdown <file>] [--fail-on <kinds>]`: what the working
 * tree's change does on AWS against a base ref, offline and without credentials (ops/review.ts). Every
 * environment of either side is reviewed: one the head's config no longer has is reported as left deployed.
 * Exit codes: 0 no change, 1 changes, 2 usage (an unknown ref or environment too), 3 a change of a --fail-on kind,
 * 4 a side does not synthesize, 5 the report file cannot be written. Every failure is one line on stderr.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { environments, stackNameOf } from '../config/environments';
import { FINDING_KINDS, FindingKind, hasKinds, reviewStack, toMarkdown, toText } from '../ops/review';
import { RefError, resolveRef, SynthError, synthCommit, synthTree } from '../ops/synth-ref';
import { parseOptions, UsageError } from './command-line';

const USAGE = `usage: npm run diff -- --base <git ref> [--env <environment>]... [--markdown <file>] [--fail-on <${FINDING_KINDS.join(',')}>]`;
const EXIT_CODES = 'exit codes: 0 no change, 1 changes, 2 usage, 3 a change of a --fail-on kind, 4 a side does not synthesize, 5 the --markdown file cannot be written';

/** The report cannot be written where --markdown says: exit 5. */
class ReportPathError extends Error {}

function parse(argv: string[]) {
  const values = parseOptions(argv, { base: { type: 'string' }, env: { type: 'string', multiple: true }, markdown: { type: 'string' }, 'fail-on': { type: 'string' }, help: { type: 'boolean', default: false } });
  if (values.help) return undefined;
  if (!values.base) throw new UsageError('--base is missing: the git ref to compare the working tree with (the pull request\'s target branch)');
  const failOn = (values['fail-on'] ?? '').split(',').map((kind) => kind.trim()).filter(Boolean);
  const wrong = failOn.filter((kind) => !(FINDING_KINDS as readonly string[]).includes(kind));
  if (wrong.length) throw new UsageError(`--fail-on "${wrong.join(', ')}" is not a kind of change; allowed: ${FINDING_KINDS.join(', ')}`);
  if (values.markdown) writable(values.markdown);
  return { base: values.base, environments: values.env && [...new Set(values.env)], markdown: values.markdown, failOn: failOn as FindingKind[] };
}

/** Refuses, before anything is synthesized, a report path whose folder is missing or read-only. */
function writable(file: string): void {
  const folder = path.dirname(path.resolve(file));
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new ReportPathError(`--markdown "${file}" cannot be written: the folder ${folder} does not exist`);
  try {
    fs.accessSync(folder, fs.constants.W_OK);
  } catch {
    throw new ReportPathError(`--markdown "${file}" cannot be written: the folder ${folder} is not writable`);
  }
}

const PREFIX = stackNameOf('');

export function main(argv: string[], root = process.cwd()): number {
  try {
    const options = parse(argv);
    if (!options) {
      console.log(`${USAGE}\n\n${EXIT_CODES}`);
      return 0;
    }
    const commit = resolveRef(root, options.base);
    const before = synthCommit(root, commit, options.base);
    const headNames = Object.keys(environments);
    const baseNames = Object.keys(before).filter((stack) => stack.startsWith(PREFIX)).map((stack) => stack.slice(PREFIX.length));
    const known = [...new Set([...headNames, ...baseNames])];
    const selected = options.environments ?? known;
    const unknown = selected.filter((env) => !known.includes(env));
    if (unknown.length) throw new UsageError(`--env "${unknown.join(', ')}" is not an environment; allowed: ${known.join(', ')}`);
    const inHead = selected.filter((env) => headNames.includes(env));
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-review-out-'));
    try {
      const after = inHead.length ? synthTree(root, scratch, inHead.length === 1 ? inHead[0] : undefined) : {};
      const reviews = selected.map((env) => reviewStack(stackNameOf(env), before[stackNameOf(env)], after[stackNameOf(env)]));
      const base = `${options.base} (${commit.slice(0, 12)})`;
      const head = 'the working tree';
      process.stdout.write(toText(reviews, base, head));
      if (options.markdown) {
        try {
          fs.writeFileSync(options.markdown, toMarkdown(reviews, base, head));
        } catch (error) {
          throw new ReportPathError(`--markdown "${options.markdown}" cannot be written: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
      }
      const failing = hasKinds(reviews, options.failOn);
      if (failing.length) {
        console.error(`diff: changes of the kinds ${failing.join(', ')} (--fail-on)`);
        return 3;
      }
      return reviews.some((review) => review.changed || review.findings.length > 0) ? 1 : 0;
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof RefError) {
      console.error(`diff: ${error.message} (npm run diff -- --help)`);
      return 2;
    }
    if (error instanceof SynthError) {
      console.error(`diff: ${error.message}`);
      return 4;
    }
    if (error instanceof ReportPathError) {
      console.error(`diff: ${error.message}`);
      return 5;
    }
    throw error;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
