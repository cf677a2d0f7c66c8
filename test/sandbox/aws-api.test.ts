/**
 * The sandbox's AWS API stand-in as the AWS SDK sees it: the error types it answers are the ones the SDK
 * models for the call (AWS IoT data plane API Reference, UpdateThingShadow), so code that branches on an
 * error's name behaves offline as on AWS.
 */
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { AwsApiStandIn } from '../../sandbox/aws-api';
import { ShadowStore } from '../../sandbox/shadow-store';

const store = new ShadowStore();
let api: AwsApiStandIn;
let client: IoTDataPlaneClient;

beforeAll(async () => {
  api = await AwsApiStandIn.start({
    stacks: [], secrets: [],
    dataPlane: {
      publish: async () => undefined,
      shadow: (thingName) => {
        const [response] = store.handle(`$aws/things/${thingName}/shadow/get`, '{}');
        return response.topic.endsWith('/accepted') ? response.payload.toString() : undefined;
      },
      updateShadow: (thingName, _shadowName, payload) => {
        const [response] = store.handle(`$aws/things/${thingName}/shadow/update`, payload);
        return { accepted: response.topic.endsWith('/accepted'), payload: response.payload.toString() };
      },
    },
  });
  client = new IoTDataPlaneClient({ endpoint: api.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => {
  client.destroy();
  await api.stop();
});

const update = (thingName: string, document: object) => client.send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from(JSON.stringify(document)) }));

describe('the IoT data plane stand-in', () => {
  test('a shadow state over 8 KB is RequestEntityTooLargeException (413), and nothing is stored', async () => {
    await expect(update('big-thing', { state: { desired: { blob: 'x'.repeat(9000) } } })).rejects.toMatchObject({ name: 'RequestEntityTooLargeException', $metadata: { httpStatusCode: 413 } });
    await expect(client.send(new GetThingShadowCommand({ thingName: 'big-thing' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  test('an update at a stale version is ConflictException (409); a malformed document InvalidRequestException (400)', async () => {
    await update('versioned', { state: { desired: { interval: 5 } } });
    await expect(update('versioned', { state: { desired: { interval: 6 } }, version: 7 })).rejects.toMatchObject({ name: 'ConflictException', $metadata: { httpStatusCode: 409 } });
    await expect(update('versioned', { nothing: true })).rejects.toMatchObject({ name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } });
  });
});
