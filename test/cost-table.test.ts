/**
 * The README's cost table against the synthesized templates: each environment's billable resources, counted
 * from its template, must be the row the README shows, so the table stays true as the stack changes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BILLABLE, billableResources } from '../ops/review';
import { environmentTemplate } from '../sandbox/templates';
import { ENVIRONMENT_NAMES } from './setup/synth';

/** The README's columns: the billable kinds `npm run diff` prices. */
const COLUMNS = BILLABLE;

/** The table's rows by environment: `| dev | 2 | 2 | ... |` under the header that names the columns. */
function readmeRows(): Record<string, number[]> {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const header = `| environment | ${COLUMNS.join(' | ')} |`;
  const start = readme.indexOf(header);
  if (start < 0) throw new Error(`README.md has no cost table with the header ${header}`);
  const rows = readme.slice(start).split('\n').slice(2).filter((line) => line.startsWith('| ') && !line.startsWith('| ---'));
  const table: Record<string, number[]> = {};
  for (const line of rows) {
    const [name, ...cells] = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (!/^\d/.test(cells[0] ?? '')) break;
    table[name] = cells.map(Number);
  }
  return table;
}

/** The template's billable resources, counted as `npm run diff` counts them for a change's cost. */
function billable(environment: string): number[] {
  const counts = billableResources(environmentTemplate(environment) as never);
  return COLUMNS.map((column) => counts[column]);
}

test.each(ENVIRONMENT_NAMES)('the README\'s cost table counts what the %s template holds', (environment) => {
  const rows = readmeRows();
  expect(Object.keys(rows).sort()).toEqual([...ENVIRONMENT_NAMES].sort());
  expect(Object.fromEntries(COLUMNS.map((column, i) => [column, rows[environment][i]]))).toEqual(Object.fromEntries(COLUMNS.map((column, i) => [column, billable(environment)[i]])));
});
