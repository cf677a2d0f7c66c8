/**
 * Conformance of the local shadow service, proven with a client nobody here wrote: the official AWS IoT
 * Device SDK v2 shadow client (IotShadowClientv2 over aws-crt's MQTT 5 client) runs the documented
 * scenario against it over the real broker; then the device's own shadow code runs the same scenario.
 */
import { iotshadow, io, mqtt5 } from 'aws-iot-device-sdk-v2';
import { memoryLogger } from '../../device/src/log';
import { connect, disconnect } from '../../device/src/connection';
import { readPems } from '../../device/src/kit';
import { ShadowClient, ShadowRejected } from '../../device/src/shadow';
import { Sandbox } from '../device/harness';

let sandbox: Sandbox;
beforeAll(async () => { sandbox = await Sandbox.start(); });
afterAll(async () => { await sandbox.stop(); });

function sdkClient(thingName: string): Promise<mqtt5.Mqtt5Client> {
  const issued = sandbox.broker.issueClient(thingName);
  const tls = io.TlsContextOptions.create_client_with_mtls(issued.certificatePem, issued.privateKeyPem);
  tls.override_default_trust_store(sandbox.broker.ca.certificatePem);
  const client = new mqtt5.Mqtt5Client({
    hostName: 'localhost', port: sandbox.broker.port, tlsCtx: new io.ClientTlsContext(tls), disableMetrics: true,
    connectProperties: { clientId: thingName, keepAliveIntervalSeconds: 60 },
  });
  return new Promise((resolve, reject) => {
    client.on('connectionSuccess', () => resolve(client));
    client.on('connectionFailure', (event) => reject(event.error));
    client.start();
  });
}

describe('local shadow service with the AWS IoT Device SDK v2 shadow client', () => {
  test('get of a new thing is a 404 ServiceError; update is accepted; the delta stream delivers; a stale version gets 409', async () => {
    const thingName = 'sdk-thing';
    const client = await sdkClient(thingName);
    const shadow = iotshadow.IotShadowClientv2.newFromMqtt5(client, { maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 10 });
    try {
      await expect(shadow.getShadow({ thingName })).rejects.toMatchObject({ modeledError: { code: 404, message: `No shadow exists with name: '${thingName}'` } });

      const deltas: iotshadow.model.ShadowDeltaUpdatedEvent[] = [];
      const stream = shadow.createShadowDeltaUpdatedStream({ thingName });
      const subscribed = new Promise<void>((resolve) => stream.on('subscriptionStatus', (event) => { if (event.type === 0) resolve(); }));
      stream.on('incomingPublish', (event) => deltas.push(event.message));
      stream.open();
      await subscribed;

      const accepted = await shadow.updateShadow({ thingName, state: { desired: { interval: 10 }, reported: { interval: 5 } } });
      expect(accepted.version).toBe(1);
      expect(accepted.state).toEqual({ desired: { interval: 10 }, reported: { interval: 5 } });
      await sandbox.observer.until(() => deltas.length > 0, 'the delta through the SDK stream');
      expect(deltas[0]).toMatchObject({ state: { interval: 10 }, version: 1 });

      const current = await shadow.getShadow({ thingName });
      expect(current.state).toEqual({ desired: { interval: 10 }, reported: { interval: 5 }, delta: { interval: 10 } });
      expect(current.version).toBe(1);

      await shadow.updateShadow({ thingName, state: { reported: { interval: 10 } }, version: 1 });
      await expect(shadow.updateShadow({ thingName, state: { reported: { interval: 11 } }, version: 1 }))
        .rejects.toMatchObject({ modeledError: { code: 409, message: 'Version conflict' } });
      stream.close();
    } finally {
      shadow.close();
      await new Promise<void>((resolve) => { client.once('stopped', () => resolve()); client.stop(); });
      client.close();
    }
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
