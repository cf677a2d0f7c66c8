/**
 * The README's cost table against the synthesized templates: each environment's billable resources, counted
 * from its template, must be the row the README shows, so the table stays true as the stack changes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { environmentTemplate } from '../sandbox/templates';
import { ENVIRONMENT_NAMES } from './setup/synth';

const COLUMNS = ['KMS keys', 'secrets', 'alarms', 'dashboards', 'custom metrics', 'topic rules', 'Lambda functions'] as const;

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

/** What a template holds that AWS bills for as long as it exists (or, for functions and rules, per use). */
function billable(environment: string): number[] {
  const resources = Object.values(environmentTemplate(environment).Resources);
  const count = (type: string) => resources.filter((resource) => resource.Type === type).length;
  const metrics = new Set<string>();
  for (const resource of resources) {
    if (resource.Type === 'AWS::IoT::TopicRule') {
      for (const action of resource.Properties.TopicRulePayload.Actions) if (action.CloudwatchMetric) metrics.add(`${JSON.stringify(action.CloudwatchMetric.MetricNamespace)}/${action.CloudwatchMetric.MetricName}`);
    }
    if (resource.Type === 'AWS::Logs::MetricFilter') for (const metric of resource.Properties.MetricTransformations) metrics.add(`${metric.MetricNamespace}/${metric.MetricName}`);
  }
  return [
    count('AWS::KMS::Key'),
    // Each certificate keeps its key in a secret of its own (one per generation).
    count('Custom::DeviceCertificate'),
    count('AWS::CloudWatch::Alarm'),
    count('AWS::CloudWatch::Dashboard'),
    metrics.size,
    count('AWS::IoT::TopicRule'),
    count('AWS::Lambda::Function'),
  ];
}

test.each(ENVIRONMENT_NAMES)('the README\'s cost table counts what the %s template holds', (environment) => {
  const rows = readmeRows();
  expect(Object.keys(rows).sort()).toEqual([...ENVIRONMENT_NAMES].sort());
  expect(Object.fromEntries(COLUMNS.map((column, i) => [column, rows[environment][i]]))).toEqual(Object.fromEntries(COLUMNS.map((column, i) => [column, billable(environment)[i]])));
});
