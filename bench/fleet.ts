/**
 * Fleet provisioning at scale on the sandbox built from the dev template: N devices (default 1,000)
 * provision by claim with the device program's own provisioner, `concurrency` at a time, each making its
 * key and CSR; then each provisioned device connects to the data broker with its new certificate and
 * publishes the hands-on's {"name":"s3"} once, and the bench counts the objects the environment's archive
 * rule wrote for them (the whole pipeline, not only the certificate). Prints devices/s, p50 and p99 provisioning latency and peak RSS. Baseline in the same
 * run: a sample provisioned one at a time by the official AWS IoT Device SDK v2 identity client (CSR made
 * beforehand, outside its timing), against the same number provisioned one at a time by the device program.
 * Usage: npm run bench:fleet [-- devices [concurrency [sdkSample]]]
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import mqtt from 'mqtt';
import { keyAndCsr, loadClaimKit, provision } from '../device/src/provision';
import { startLocalSandbox } from '../sandbox';

const devices = Number(process.argv[2] ?? 1000);
const concurrency = Number(process.argv[3] ?? 25);
const sdkSample = Number(process.argv[4] ?? 10);
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

async function main() {
  const archived = new Set<string>();
  const sandbox = await startLocalSandbox({ fleet: true, onRuleOutcome: (outcome) => { if (outcome.object) archived.add(outcome.topic); } });
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
  try {
    const claim = loadClaimKit(await sandbox.claimKit(path.join(sandbox.dir, 'claim')));
    const serials = Array.from({ length: devices }, (_, i) => `BENCH${String(i).padStart(6, '0')}`);
    const latencies: number[] = [];
    const failures: string[] = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < serials.length) {
        const serial = serials[next++];
        const begun = Date.now();
        try {
          await provision(claim, path.join(sandbox.dir, 'kits', serial), { serial, overrides: { port: sandbox.broker.port } });
          latencies.push(Date.now() - begun);
        } catch (error) {
          failures.push(`${serial}: ${(error as Error).message}`);
        }
      }
    }));
    const provisionSeconds = (Date.now() - started) / 1000;

    // Each provisioned device: connect with its own certificate and publish once.
    let published = 0;
    const connectStarted = Date.now();
    let index = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (index < serials.length) {
        const dir = path.join(sandbox.dir, 'kits', serials[index++]);
        if (!fs.existsSync(path.join(dir, 'device.json'))) continue;
        const settings = JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8'));
        const client = await mqtt.connectAsync({
          protocol: 'mqtts', host: 'localhost', port: settings.port, clientId: settings.clientId, protocolVersion: 5, reconnectPeriod: 0,
          key: fs.readFileSync(path.join(dir, 'private.pem.key')), cert: fs.readFileSync(path.join(dir, 'certificate.pem.crt')), ca: fs.readFileSync(path.join(dir, settings.caFile)),
        });
        const ack = await client.publishAsync(settings.dataTopic, '{"name":"s3"}', { qos: 1 });
        if (!ack || !('reasonCode' in ack) || !ack.reasonCode) published += 1;
        await client.endAsync();
      }
    }));
    const connectSeconds = (Date.now() - connectStarted) / 1000;
    // The rule engine works through its queue one message at a time: wait until it has caught up.
    const deadline = Date.now() + 120_000;
    while (archived.size < published && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const archivedSeconds = (Date.now() - connectStarted) / 1000;

    // Baseline: the official SDK's identity client, one process per device (its timing excludes process start).
    const sdkMs: number[] = [];
    for (let i = 0; i < sdkSample; i++) {
      const serial = `SDKBASE${String(i).padStart(4, '0')}`;
      const { csrPem } = await keyAndCsr(`${claim.thingNamePrefix}${serial}`);
      const input = JSON.stringify({
        port: claim.port, ca: fs.readFileSync(claim.caPath, 'utf8'), clientId: `${claim.claimClientIdPrefix}${serial}`, csr: csrPem, serial, templateName: claim.templateName,
        certificate: fs.readFileSync(claim.certificatePath, 'utf8'), privateKey: fs.readFileSync(claim.privateKeyPath, 'utf8'),
      });
      const result = await new Promise<{ ms: number; registered: { accepted?: unknown } }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'test', 'sandbox', 'sdk-identity-scenario.ts'), input]);
        let stdout = '';
        child.stdout.on('data', (chunk) => { stdout += chunk; });
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`SDK scenario exited ${code}`))));
      });
      if (!result.registered.accepted) throw new Error(`the SDK client was refused for ${serial}`);
      sdkMs.push(result.ms);
    }

    // The same sample size, one at a time, with the device program's provisioner: the like-for-like comparison.
    const sequentialMs: number[] = [];
    for (let i = 0; i < sdkSample; i++) {
      const serial = `SEQ${String(i).padStart(6, '0')}`;
      const begun = Date.now();
      await provision(claim, path.join(sandbox.dir, 'kits', serial), { serial, overrides: { port: sandbox.broker.port } });
      sequentialMs.push(Date.now() - begun);
    }

    const p50 = percentile(latencies, 50);
    const sdkP50 = percentile(sdkMs, 50);
    const sequentialP50 = percentile(sequentialMs, 50);
    console.log(`provisioned ${latencies.length} of ${devices} devices (${failures.length} failed) with ${concurrency} concurrent provisioners in ${provisionSeconds.toFixed(1)} s = ${(latencies.length / provisionSeconds).toFixed(1)} devices/s`);
    console.log(`provisioning latency: p50 ${p50} ms, p99 ${percentile(latencies, 99)} ms (key and CSR made on the device, CreateCertificateFromCsr, RegisterThing with the hook)`);
    console.log(`then ${published} of ${latencies.length} connected with their new certificate and published {"name":"s3"} once, in ${connectSeconds.toFixed(1)} s`);
    console.log(`archived by the environment's rule: ${archived.size} of ${published} devices' messages (all within ${archivedSeconds.toFixed(1)} s of the first connection)`);
    console.log(`peak RSS of this process (sandbox and provisioners): ${(peakRss / 1024 / 1024).toFixed(0)} MiB`);
    console.log(`baseline, official SDK v2 identity client (${sdkMs.length} devices, one at a time): p50 ${sdkP50} ms; `
      + `the device program one at a time (key and CSR included): p50 ${sequentialP50} ms = ${(sequentialP50 / sdkP50).toFixed(2)}x`);
    for (const failure of failures.slice(0, 5)) console.log(`  failed: ${failure}`);
  } finally {
    clearInterval(sampler);
    await sandbox.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
