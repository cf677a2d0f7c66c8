/**
 * `npm run diff -- --base <git ref> [--env <env>...] [--markdown <file>] [--fail-on <kinds>]`: what the working
 * tree's change does on AWS against a base ref, offline and without credentials (ops/review.ts).
 * Exit codes: 0 no change, 1 changes, 2 usage (an unknown ref or environment too), 3 a change of a --fail-on kind.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { environments, stackNameOf } from '../config/environments';
import { FINDING_KINDS, FindingKind, hasKinds, reviewStack, toMarkdown, toText } from '../ops/review';
import { RefError, resolveRef, synthCommit, synthTree } from '../ops/synth-ref';
import { parseOptions, UsageError } from './command-line';

const USAGE = `usage: npm run diff -- --base <git ref> [--env <${Object.keys(environments).join('|')}>]... [--markdown <file>] [--fail-on <${FINDING_KINDS.join(',')}>]`;

function parse(argv: string[]) {
  const values = parseOptions(argv, { base: { type: 'string' }, env: { type: 'string', multiple: true }, markdown: { type: 'string' }, 'fail-on': { type: 'string' }, help: { type: 'boolean', default: false } });
  if (values.help) return undefined;
  if (!values.base) throw new UsageError('--base is missing: the git ref to compare the working tree with (the pull request\'s target branch)');
  const names = Object.keys(environments);
  const selected = values.env ?? names;
  const unknown = selected.filter((env) => !names.includes(env));
  if (unknown.length) throw new UsageError(`--env "${unknown.join(', ')}" is not an environment; allowed: ${names.join(', ')}`);
  const failOn = (values['fail-on'] ?? '').split(',').map((kind) => kind.trim()).filter(Boolean);
  const wrong = failOn.filter((kind) => !(FINDING_KINDS as readonly string[]).includes(kind));
  if (wrong.length) throw new UsageError(`--fail-on "${wrong.join(', ')}" is not a kind of change; allowed: ${FINDING_KINDS.join(', ')}`);
  return { base: values.base, environments: [...new Set(selected)], markdown: values.markdown, failOn: failOn as FindingKind[] };
}

export function main(argv: string[], root = process.cwd()): number {
  let options;
  try {
    options = parse(argv);
    if (!options) {
      console.log(`${USAGE}\n\nexit codes: 0 no change, 1 changes, 2 usage, 3 a change of a --fail-on kind`);
      return 0;
    }
    const commit = resolveRef(root, options.base);
    const only = options.environments.length === 1 ? options.environments[0] : undefined;
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-review-out-'));
    try {
      const before = synthCommit(root, commit, options.base, only);
      const after = synthTree(root, scratch, only);
      const reviews = options.environments.map((env) => reviewStack(stackNameOf(env), before[stackNameOf(env)], after[stackNameOf(env)]));
      const head = 'the working tree';
      process.stdout.write(toText(reviews, `${options.base} (${commit.slice(0, 12)})`, head));
      if (options.markdown) fs.writeFileSync(options.markdown, toMarkdown(reviews, `${options.base} (${commit.slice(0, 12)})`, head));
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
    throw error;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
