/**
 * The pre-provisioning hook's guards against concurrent requests, on the sandbox's control-plane stand-in
 * rather than a mock (its own file: a mocked IoTClient class would catch these clients' calls too).
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { answer, PreProvisioningHookEvent, reprovisionMark, RESERVATION_LIFETIME_MS, ruleFromEnvironment } from '../../lib/handlers/pre-provisioning-hook';
import { AwsApiStandIn } from '../../sandbox/aws-api';
import { IotControlPlane } from '../../sandbox/iot-control-plane';
import { createCertificateAuthority } from '../../sandbox/pki';
import { registerDevice } from '../../sandbox/template-deployment';

const NOW = 1_700_000_000_000;
const pattern = ruleFromEnvironment({ SERIAL_PATTERN: '[A-Z0-9]{8}', THING_NAME_PREFIX: 'pi-' });
const event = (certificateId: string, parameters: Record<string, string>): PreProvisioningHookEvent => ({
  claimCertificateId: 'c'.repeat(64), certificateId, certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  templateArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/pi_fleet', clientId: 'claim-X', parameters,
});

// CreateThing's ResourceAlreadyExistsException, UpdateThing's VersionConflictException, pages of one, through the
// real SDK client. Each pair of requests is interleaved: both read the thing before either writes.
describe('pre-provisioning hook: two requests at once, on the control-plane stand-in', () => {
  const ca = createCertificateAuthority();
  let registry: IotControlPlane;
  let api: AwsApiStandIn;
  let standIn: IoTClient;
  beforeEach(async () => {
    registry = new IotControlPlane('eu-west-1', '123456789012', { pageSize: 1 });
    api = await AwsApiStandIn.start({ stacks: [], controlPlane: registry });
    standIn = new IoTClient({ region: 'eu-west-1', endpoint: api.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  });
  afterEach(async () => {
    standIn.destroy();
    await api.stop();
  });

  /** Holds each `write` command until `parties` DescribeThing calls have answered. */
  function interleave(write: string, parties = 2): void {
    let described = 0;
    let release!: () => void;
    const allRead = new Promise<void>((resolve) => { release = resolve; });
    standIn.middlewareStack.add((next, context) => async (args) => {
      if (context.commandName === write) await allRead;
      try {
        return await next(args);
      } finally {
        if (context.commandName === 'DescribeThingCommand' && ++described === parties) release();
      }
    }, { step: 'initialize', name: 'interleave' });
  }

  const request = (certificateId: string, parameters: Record<string, string>) =>
    answer(event(certificateId, parameters), pattern, standIn, () => undefined, NOW).then((response) => response.allowProvisioning);

  test('two provisions of one new serial: exactly one is allowed, and the thing is reserved for its certificate', async () => {
    interleave('CreateThingCommand');
    const results = await Promise.all([request('a'.repeat(64), { SerialNumber: 'RACE0001' }), request('b'.repeat(64), { SerialNumber: 'RACE0001' })]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? 'a' : 'b';
    expect(registry.describeThing('pi-RACE0001').attributes).toEqual({ provisioning: `${winner.repeat(64)}:1700000000` });
  });

  test('two requests presenting one mark\'s token: exactly one claims it; the previous certificates (pages of one) are retired once', async () => {
    const old = ['c', 'e'].map((letter) => registerDevice(registry, 'pi-MARK0009', ca.issue('AWS IoT Certificate').certificatePem, [], `${letter.repeat(64)}`));
    registry.updateThing('pi-MARK0009', { reprovision: reprovisionMark('the-token', new Date(NOW + 60_000)) }, true);
    interleave('UpdateThingCommand');
    const results = await Promise.all(['a', 'b'].map((letter) => request(letter.repeat(64), { SerialNumber: 'MARK0009', ReprovisionToken: 'the-token' })));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(old.map((certificate) => registry.describeCertificate(certificate.certificateId).status)).toEqual(['INACTIVE', 'INACTIVE']);
    expect(registry.describeThing('pi-MARK0009')).toMatchObject({ certificateIds: [], attributes: { provisioning: expect.stringMatching(/^(a{64}|b{64}):1700000000$/) } });
  });

  test('a reservation whose provisioning never finished is taken over after its lifetime, not before', async () => {
    registry.createThing('pi-STALE001', { provisioning: `${'f'.repeat(64)}:${(NOW - RESERVATION_LIFETIME_MS + 1000) / 1000}` });
    expect(await request('a'.repeat(64), { SerialNumber: 'STALE001' })).toBe(false);
    registry.updateThing('pi-STALE001', { provisioning: `${'f'.repeat(64)}:${(NOW - RESERVATION_LIFETIME_MS - 1000) / 1000}` }, true);
    expect(await request('a'.repeat(64), { SerialNumber: 'STALE001' })).toBe(true);
    expect(registry.describeThing('pi-STALE001').attributes.provisioning).toBe(`${'a'.repeat(64)}:1700000000`);
  });
});

describe('pre-provisioning hook: a registered serial stays live, on the control-plane stand-in', () => {
  const registry = new IotControlPlane('eu-west-1', '123456789012');
  let api: AwsApiStandIn;
  let iot: IoTClient;
  beforeAll(async () => {
    api = await AwsApiStandIn.start({ stacks: [], controlPlane: registry });
    iot = new IoTClient({ region: 'eu-west-1', endpoint: api.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  });
  afterAll(async () => {
    iot.destroy();
    await api.stop();
  });
  const allowed = (certificateId: string, serial: string) => answer(event(certificateId, { SerialNumber: serial }), pattern, iot, () => undefined, NOW).then((response) => response.allowProvisioning);

  test('a revoked device (registered, no certificate, an old reservation) is not an abandoned reservation: the claim key cannot take it', async () => {
    registry.createThing('pi-REVOKED1', { serialNumber: 'REVOKED1', provisioning: `${'a'.repeat(64)}:${(NOW - RESERVATION_LIFETIME_MS - 60_000) / 1000}` });
    expect(await allowed('b'.repeat(64), 'REVOKED1')).toBe(false);
  });

  test('its own first certificate cannot come back through the retry shortcut once registered (a revoked device resending RegisterThing)', async () => {
    registry.createThing('pi-REVOKED2', { serialNumber: 'REVOKED2', provisioning: `${'c'.repeat(64)}:${NOW / 1000 - 60}` });
    expect(await allowed('c'.repeat(64), 'REVOKED2')).toBe(false);
  });
});
