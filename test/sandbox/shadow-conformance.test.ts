/**
 * Conformance of the local shadow service, proven with a client nobody here wrote: the official AWS IoT
 * Device SDK v2 shadow client (IotShadowClientv2 over aws-crt's MQTT 5 client) runs the documented
 * scenario against it over the real broker; then the device's own shadow code runs the same scenario.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { memoryLogger } from '../../sandbox/memory-logger';
import { connect, disconnect } from '../../device/src/connection';
import { readPems } from '../../device/src/kit';
import { ShadowClient, ShadowRejected } from '../../device/src/shadow';
import { Sandbox } from '../device/harness';

let sandbox: Sandbox;
beforeAll(async () => { sandbox = await Sandbox.start(); });
afterAll(async () => { await sandbox.stop(); });

/** Runs sdk-shadow-scenario.ts (the SDK's client) in its own process and returns what it observed. */
function runSdkScenario(thingName: string): Promise<Record<string, any>> {
  const pems = readPems(sandbox.kit(thingName));
  const input = JSON.stringify({ port: sandbox.broker.port, ca: pems.ca.toString(), certificate: pems.certificate.toString(), privateKey: pems.privateKey.toString(), thingName });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'sdk-shadow-scenario.ts'), input]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`SDK scenario failed (${code}): ${stderr}`)))));
}

describe('local shadow service with the AWS IoT Device SDK v2 shadow client', () => {
  test('get of a new thing is a 404 ServiceError; update is accepted; the delta stream delivers; a stale version gets 409', async () => {
    const thingName = 'sdk-thing';
    const results = await runSdkScenario(thingName);
    expect(results.getNew).toEqual({ error: { code: 404, message: `No shadow exists with name: '${thingName}'`, clientToken: expect.any(String), timestamp: expect.any(Number) } });
    expect(results.update.value).toMatchObject({ version: 1, state: { desired: { interval: 10 }, reported: { interval: 5 } } });
    expect(results.deltas).toHaveLength(1);
    expect(results.deltas[0]).toMatchObject({ state: { interval: 10 }, version: 1 });
    expect(results.get.value).toMatchObject({ version: 1, state: { desired: { interval: 10 }, reported: { interval: 5 }, delta: { interval: 10 } } });
    expect(results.updateAtVersion.value).toMatchObject({ version: 2 });
    expect(results.staleVersion).toEqual({ error: { code: 409, message: 'Version conflict', clientToken: expect.any(String), timestamp: expect.any(Number) } });
  });

  test('the device\'s shadow code passes the same scenario', async () => {
    const kit = sandbox.kit('device-thing');
    const client = await connect(kit, readPems(kit), { log: memoryLogger() });
    const shadow = new ShadowClient(client, kit.thingName);
    try {
      await shadow.subscribe();
      await expect(shadow.get()).rejects.toEqual(new ShadowRejected('get', { code: 404, message: "No shadow exists with name: 'device-thing'" }));
      const deltas: unknown[] = [];
      shadow.onDelta((delta) => deltas.push(delta));
      const accepted = await shadow.update({ desired: { interval: 10 }, reported: { interval: 5 } });
      expect(accepted).toMatchObject({ version: 1, state: { desired: { interval: 10 }, reported: { interval: 5 } } });
      await sandbox.observer.until(() => deltas.length > 0, 'the delta');
      expect(deltas[0]).toMatchObject({ state: { interval: 10 }, version: 1 });
      await shadow.update({ reported: { interval: 10 } }, 1);
      await expect(shadow.update({ reported: { interval: 11 } }, 1)).rejects.toMatchObject({ error: { code: 409, message: 'Version conflict' } });
    } finally {
      shadow.close();
      await disconnect(client);
    }
  });
});
