/**
 * A sandbox started with a folder of its own keeps its state there across runs: kits it provisioned still
 * connect, the control plane still knows their things and certificates (a revoked one stays refused), shadows
 * are kept, and the CA's key file is 0600. A sandbox without that folder has a CA of its own, which refuses them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt from 'mqtt';
import { KIT_FILES, loadKit } from '../../device/src/kit';
import { loadClaimKit, provision } from '../../device/src/provision';
import { LocalSandbox, startLocalSandbox } from '../../sandbox';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-state-'));
const dir = path.join(root, 'sandbox');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Connects with a kit's certificate to `sandbox`'s broker; the CONNACK, or the error that refused it. */
async function connectWithKit(sandbox: LocalSandbox, kitDir: string): Promise<'connected' | string> {
  const kit = loadKit(kitDir, {}, {});
  const client = mqtt.connect({
    protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, protocolVersion: 5, clientId: kit.clientId, reconnectPeriod: 0, connectTimeout: 5000,
    key: fs.readFileSync(path.join(kitDir, KIT_FILES.privateKey)), cert: fs.readFileSync(path.join(kitDir, KIT_FILES.certificate)), ca: sandbox.broker.ca.certificatePem,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
    await client.publishAsync(kit.dataTopic, '{"name":"kept"}', { qos: 1 });
    return 'connected';
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.end(true);
  }
}

test('kits provisioned in one run connect in the next; the registry, revocations, group memberships and shadows are kept', async () => {
  const first = await startLocalSandbox({ fleet: true, dir });
  let thingName: string;
  const stackCertificate = first.outputs.CertificateId;
  try {
    const claim = loadClaimKit(await first.claimKit(path.join(root, 'claim')));
    thingName = (await provision(claim, path.join(root, 'kit-a'), { serial: 'KEPT0001', overrides: { port: first.broker.port } })).kit.thingName;
    const revokedThing = (await provision(claim, path.join(root, 'kit-b'), { serial: 'KEPT0002', overrides: { port: first.broker.port } })).kit.thingName;
    const [revokedId] = first.registry.describeThing(revokedThing).certificateIds;
    await first.registry.updateCertificate(revokedId, 'INACTIVE');
    first.shadow.setDesired(thingName, { interval: 42 });
    expect(await connectWithKit(first, path.join(root, 'kit-a'))).toBe('connected');
  } finally {
    await first.stop();
  }
  expect(fs.statSync(path.join(dir, 'device-ca.json')).mode & 0o777).toBe(0o600);
  // It holds the stack's certificate secrets, keys included.
  expect(fs.statSync(path.join(dir, 'state.json')).mode & 0o777).toBe(0o600);

  const second = await startLocalSandbox({ fleet: true, dir });
  try {
    expect(second.broker.ca.certificatePem).toBe(first.broker.ca.certificatePem);
    // The certificate handler found its generation's secret holding an active certificate, and kept it (a retried Create).
    expect(second.outputs.CertificateId).toBe(stackCertificate);
    expect(await connectWithKit(second, path.join(root, 'kit-a'))).toBe('connected');
    expect(await connectWithKit(second, path.join(root, 'kit-b'))).not.toBe('connected');
    const thing = second.registry.describeThing(thingName!);
    expect(second.registry.describeCertificate(thing.certificateIds[0]).status).toBe('ACTIVE');
    expect(second.shadowOf(thingName!)?.state.desired.interval).toBe(42);
    // Still in the fleet's group, which its jobs target.
    expect(second.registry.thingsInThingGroup(second.outputs.FleetThingGroupName)).toEqual(expect.arrayContaining([thingName!]));
  } finally {
    await second.stop();
  }

  // Without the folder: a CA of its own, which did not sign the kit.
  const other = await startLocalSandbox({ fleet: true });
  try {
    expect(await connectWithKit(other, path.join(root, 'kit-a'))).not.toBe('connected');
  } finally {
    await other.stop();
  }
});
