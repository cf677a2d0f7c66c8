/**
 * `npm run bench:tests`: runs the whole jest suite with its JSON report and writes, into BENCHMARKS.md
 * between the `bench:tests` markers, the suite's wall time, its test count, the ten slowest files and
 * the sum of all files' times (the work two workers share), with the date. Run it on a quiet machine:
 * the figures are the machine's at that moment, not a limit any test enforces.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const BEGIN = '<!-- bench:tests begin -->';
const END = '<!-- bench:tests end -->';

interface JestReport {
  readonly startTime: number;
  readonly numTotalTests: number;
  readonly numFailedTests: number;
  readonly testResults: Array<{ name: string; startTime: number; endTime: number }>;
}

const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tests-')), 'jest.json');
const started = Date.now();
const jest = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--json', `--outputFile=${report}`, ...process.argv.slice(2)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
const wallSeconds = (Date.now() - started) / 1000;
const result = JSON.parse(fs.readFileSync(report, 'utf8')) as JestReport;
const files = result.testResults.map((file) => ({ file: path.relative(ROOT, file.name), seconds: (file.endTime - file.startTime) / 1000 }))
  .sort((a, b) => b.seconds - a.seconds);
const sum = files.reduce((total, file) => total + file.seconds, 0);

const section = [
  BEGIN,
  `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, Node ${process.versions.node}: jest ran ${result.numTotalTests} tests `
    + `(${result.numFailedTests} failed) in **${wallSeconds.toFixed(0)} s** of wall time; the files took ${sum.toFixed(0)} s together (the work the workers share).`,
  '',
  '| file | seconds |',
  '| --- | --- |',
  ...files.slice(0, 10).map(({ file, seconds }) => `| \`${file}\` | ${seconds.toFixed(1)} |`),
  END,
].join('\n');
const benchmarks = path.join(ROOT, 'BENCHMARKS.md');
const text = fs.readFileSync(benchmarks, 'utf8');
const replaced = text.includes(BEGIN) ? text.replace(new RegExp(`${BEGIN}[\\s\\S]*?${END}`), section) : `${text.trimEnd()}\n\n## The test suite (\`npm run bench:tests\`)\n\n${section}\n`;
fs.writeFileSync(benchmarks, replaced);
console.log(section);
process.exitCode = jest.status ?? 1;
