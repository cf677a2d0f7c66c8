/**
 * The sandbox's AWS API stand-in as the AWS SDK sees it: the error types it answers are the ones the SDK
 * models for the call (AWS IoT data plane and control plane API References), so code that branches on an
 * error's name behaves offline as on AWS, and its pages are small enough that every paging loop runs.
 */
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { AttachPolicyCommand, IoTClient } from '@aws-sdk/client-iot';
import { retireClaimCertificate } from '../../ops/fleet';
import { AwsApiStandIn } from '../../sandbox/aws-api';
import { IotControlPlane } from '../../sandbox/iot-control-plane';
import { createCertificateAuthority } from '../../sandbox/pki';
import { ShadowStore } from '../../sandbox/shadow-store';

const store = new ShadowStore();
let api: AwsApiStandIn;
let client: IoTDataPlaneClient;

beforeAll(async () => {
  api = await AwsApiStandIn.start({
    stacks: [],
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

describe('the IoT control plane stand-in, in pages of one', () => {
  const registry = new IotControlPlane('eu-west-1', '123456789012', { pageSize: 1 });
  let controlPlane: AwsApiStandIn;
  let iot: IoTClient;
  beforeAll(async () => {
    controlPlane = await AwsApiStandIn.start({ stacks: [], controlPlane: registry });
    iot = new IoTClient({ endpoint: controlPlane.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  });
  afterAll(async () => {
    iot.destroy();
    await controlPlane.stop();
  });

  test('retire-claim reads every page of ListAttachedPolicies: the claim policy on the second page is found, a certificate without it refused', async () => {
    const ca = createCertificateAuthority();
    for (const name of ['first', 'claim']) registry.createPolicy(name, { Statement: [] });
    const claim = registry.addCertificate(ca.issue('AWS IoT Certificate').certificatePem, 'ACTIVE', ['first', 'claim']);
    const device = registry.addCertificate(ca.issue('AWS IoT Certificate').certificatePem, 'ACTIVE', ['first']);
    await retireClaimCertificate(iot, claim.certificateId, 'claim');
    expect(registry.describeCertificate(claim.certificateId).status).toBe('INACTIVE');
    await expect(retireClaimCertificate(iot, device.certificateId, 'claim')).rejects.toThrow(/holds first, not the claim policy claim/);
    expect(registry.describeCertificate(device.certificateId).status).toBe('ACTIVE');
  });

  test('AttachPolicy of a policy that does not exist is ResourceNotFoundException', async () => {
    const certificate = registry.addCertificate(createCertificateAuthority().issue('AWS IoT Certificate').certificatePem, 'ACTIVE', []);
    await expect(iot.send(new AttachPolicyCommand({ policyName: 'no-such-policy', target: certificate.certificateArn }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
