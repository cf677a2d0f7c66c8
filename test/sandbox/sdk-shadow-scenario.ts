/**
 * The conformance scenario run by the official AWS IoT Device SDK v2 shadow client, in a process of its
 * own: aws-crt's native event loop keeps Node alive after the client is closed, so this script prints
 * what happened as JSON and exits. Input (argv[2]): {port, ca, certificate, privateKey, thingName}.
 */
import { iotshadow } from 'aws-iot-device-sdk-v2';
import { connectMqtt5, firstMessage, openStream, runScenario, settle } from './sdk-connection';

const { port, ca, certificate, privateKey, thingName } = JSON.parse(process.argv[2]);

async function main() {
  const client = await connectMqtt5({ port, ca, certificate, privateKey, clientId: thingName });
  const shadow = iotshadow.IotShadowClientv2.newFromMqtt5(client, { maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 10 });

  const results: Record<string, unknown> = {};
  results.getNew = await settle(shadow.getShadow({ thingName }));

  const stream = shadow.createShadowDeltaUpdatedStream({ thingName });
  const deltas = await openStream(stream);

  results.update = await settle(shadow.updateShadow({ thingName, state: { desired: { interval: 10 }, reported: { interval: 5 } } }));
  await firstMessage(deltas);
  results.deltas = deltas;
  results.get = await settle(shadow.getShadow({ thingName }));
  results.updateAtVersion = await settle(shadow.updateShadow({ thingName, state: { reported: { interval: 10 } }, version: 1 }));
  results.staleVersion = await settle(shadow.updateShadow({ thingName, state: { reported: { interval: 11 } }, version: 1 }));

  stream.close();
  shadow.close();
  client.stop();
  return results;
}

runScenario(main);
