/**
 * Produces RELIABILITY.md: the figures of the fault experiments (sandbox/scenarios/faults.ts), on a real
 * Mosquitto broker with the local shadow service. Usage: npm run reliability [-- --fuzz 10000 --outage 10]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { environments } from '../config/environments';
import { ConfigError, validateEnvironment } from '../lib/config';
import { badKitMatrix, FuzzResult, outageExperiment, shadowFuzz } from '../sandbox/scenarios/faults';
import { startLocalSandbox } from '../sandbox';
import { BAD_CONFIG_INPUTS } from '../sandbox/scenarios/bad-configs';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};

async function main() {
  const fuzzCount = argument('fuzz', 10_000);
  const outageSeconds = argument('outage', 10);
  const root = path.join(__dirname, '..');
  if (spawnSync('npm', ['run', 'build', '-w', 'device'], { cwd: root, stdio: 'ignore' }).status !== 0) throw new Error('npm run build -w device failed');

  const sandbox = await startLocalSandbox();
  let outage; let fuzz: FuzzResult; let badKits;
  try {
    console.error(`outage: broker down ${outageSeconds} s, then SIGKILL and restart of the device...`);
    outage = await outageExperiment(sandbox, { outageMs: outageSeconds * 1000, msPerSecond: 50, settleMs: 1000 });
    console.error(`shadow fuzz: ${fuzzCount} desired documents...`);
    fuzz = await shadowFuzz(sandbox, fuzzCount);
    console.error('bad kits...');
    badKits = await badKitMatrix(sandbox);
  } finally {
    await sandbox.stop();
  }
  const configOutcomes = BAD_CONFIG_INPUTS.map(([name, change]) => {
    try {
      validateEnvironment('stg', { ...environments.stg, ...change });
      return [name, 'ACCEPTED (wrong)'];
    } catch (error) {
      return [name, error instanceof ConfigError && !error.message.includes('\n') ? error.message : `unexpected: ${error}`];
    }
  });

  const delivered = outage.produced - outage.missing.length;
  const lines = [
    '# Reliability',
    '',
    `Produced by \`npm run reliability\` (scripts/reliability.ts) on ${new Date().toISOString().slice(0, 10)}, against a real Mosquitto broker with mutual TLS and the local shadow service. Rerun it to refresh this file.`,
    '',
    '## Outage and restart (store-and-forward)',
    '',
    `The device (\`iot-device run\`, interval 5 s scaled to 250 ms) publishes; the broker is stopped for ${outageSeconds} s and restarted; then the device is killed with SIGKILL and started again. A subscriber counts sequence numbers.`,
    '',
    '| produced | received (unique) | still in the spool | lost | duplicates |',
    '| --- | --- | --- | --- | --- |',
    `| ${outage.produced} | ${outage.received} | ${outage.stillSpooled} | ${outage.missing.length}${outage.missing.length ? ` (${outage.missing.join(', ')})` : ''} | ${outage.duplicates} |`,
    '',
    `Delivered or safely spooled: ${((delivered / outage.produced) * 100).toFixed(1)}% of produced messages.`,
    '',
    '## Shadow fuzz',
    '',
    `${fuzz.documents} generated desired documents (seeded; wrong types, huge, negative and fractional numbers, deep nesting, unicode keys and values, nulls, oversize), each sent through the shadow service to a running device. Each outcome is checked against an oracle written independently of the device's validation: a valid interval applied and reported, anything invalid rejected with \`reported.lastError\` and the interval kept.`,
    '',
    '| outcome | documents |',
    '| --- | --- |',
    ...Object.entries(fuzz.rejectedByShadowService).map(([reason, count]) => `| rejected by the shadow service: ${reason} | ${count} |`),
    `| no delta (nothing for the device to do) | ${fuzz.noDelta} |`,
    `| delivered to the device: applied | ${fuzz.applied} |`,
    `| delivered to the device: rejected and reported | ${fuzz.rejectedAndReported} |`,
    `| delivered to the device: outcome differs from the oracle | ${fuzz.mismatches.length} |`,
    '',
    `Device crashes: ${fuzz.deviceRunning ? 0 : 1}.${fuzz.mismatches.length ? `\n\nDifferences:\n${fuzz.mismatches.map((m) => `- ${m}`).join('\n')}` : ''}`,
    '',
    '## Bad kit and environment',
    '',
    '| case | `publish` exit code | its one-line error | `doctor` exit code | `doctor` finding |',
    '| --- | --- | --- | --- | --- |',
    ...badKits.map((c) => `| ${c.name} | ${c.exitCode} | ${c.error.replace(/\|/g, '\\|')} | ${c.doctorExitCode} | ${c.doctorFinding.replace(/\|/g, '\\|')} |`),
    '',
    '## Bad configuration',
    '',
    `${configOutcomes.length} bad environment settings, each rejected before synthesis with one line:`,
    '',
    '| input | error |',
    '| --- | --- |',
    ...configOutcomes.map(([name, message]) => `| ${name} | ${message.replace(/\|/g, '\\|')} |`),
    '',
  ];
  fs.writeFileSync(path.join(root, 'RELIABILITY.md'), lines.join('\n'));
  console.error('wrote RELIABILITY.md');
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
