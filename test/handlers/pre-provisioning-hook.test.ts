import {
  CreateThingCommand, DescribeThingCommand, DetachThingPrincipalCommand, IoTClient, ListThingPrincipalsCommand, ResourceNotFoundException, UpdateCertificateCommand, UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { answer, decide, handler, PreProvisioningHookEvent, reprovisionMark, ruleFromEnvironment } from '../../lib/handlers/pre-provisioning-hook';


const event = (parameters: Record<string, string>): PreProvisioningHookEvent => ({
  claimCertificateId: 'c'.repeat(64), certificateId: 'd'.repeat(64), certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  templateArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/pi_fleet', clientId: 'claim-ABCD1234', parameters,
});
const pattern = ruleFromEnvironment({ SERIAL_PATTERN: '[A-Z0-9]{8}', THING_NAME_PREFIX: 'pi-' });
const allowList = ruleFromEnvironment({ SERIAL_PATTERN: '[A-Z0-9]{8}', THING_NAME_PREFIX: 'pi-', ALLOWED_SERIALS: '["ABCD1234"]' });
const iot = mockClient(IoTClient);
const client = new IoTClient({ region: 'eu-west-1' });
const NOW = 1_700_000_000_000;
const certificateArn = (id: string) => `arn:aws:iot:eu-west-1:123456789012:cert/${id}`;

beforeEach(() => {
  iot.reset();
  // Only the requests a test names are answered: a call for another thing or certificate fails it.
  iot.onAnyCommand().rejects(new Error('unexpected IoT request'));
});

async function run(parameters: Record<string, string>, rule = pattern) {
  const lines: string[] = [];
  const response = await answer(event(parameters), rule, client, (line) => lines.push(line), NOW);
  return { response, log: lines.map((line) => JSON.parse(line)), raw: lines };
}

describe('pre-provisioning hook', () => {
  test.each([
    ['a serial matching the pattern', pattern, { SerialNumber: 'ABCD1234' }, true, 'serial "ABCD1234" matches [A-Z0-9]{8}'],
    ['a serial matching only in part (the pattern is matched whole)', pattern, { SerialNumber: 'XABCD1234' }, false, 'serial "XABCD1234" does not match [A-Z0-9]{8}'],
    ['a serial of the wrong shape', pattern, { SerialNumber: 'abcd1234' }, false, 'serial "abcd1234" does not match [A-Z0-9]{8}'],
    ['no serial', pattern, {}, false, 'no SerialNumber parameter'],
    ['a serial with a character no thing name has, whatever the pattern', ruleFromEnvironment({ SERIAL_PATTERN: '.+', THING_NAME_PREFIX: 'pi-' }), { SerialNumber: 'A"}],"x' },
      false, 'serial "A\\"}],\\"x" is not of ^[a-zA-Z0-9:_-]{1,64}$'],
    ['a serial on the allow-list', allowList, { SerialNumber: 'ABCD1234' }, true, 'serial "ABCD1234" matches [A-Z0-9]{8} and is on the allow-list'],
    ['a serial matching the pattern but not on the allow-list', allowList, { SerialNumber: 'ZZZZ9999' }, false, 'serial "ZZZZ9999" is not on the allow-list'],
  ])('%s', (_, rule, parameters, allowed, reason) => {
    expect(decide(event(parameters), rule)).toEqual({ allowed, reason });
  });

  test('a new serial is allowed once reserved for the request\'s certificate; the answer always carries parameterOverrides; the log has the reason but never the certificate', async () => {
    iot.on(DescribeThingCommand, { thingName: 'pi-ABCD1234' }).rejects(new ResourceNotFoundException({ message: 'Thing pi-ABCD1234 cannot be found.', $metadata: {} }));
    iot.on(CreateThingCommand, { thingName: 'pi-ABCD1234', attributePayload: { attributes: { provisioning: `${'d'.repeat(64)}:1700000000` } } }).resolves({});
    const { response, log, raw } = await run({ SerialNumber: 'ABCD1234' });
    expect(response).toEqual({ allowProvisioning: true, parameterOverrides: {} });
    expect(log).toEqual([{
      decision: 'allowed', reason: `serial "ABCD1234" matches [A-Z0-9]{8}; serial "ABCD1234" is new: thing pi-ABCD1234 reserved for certificate ${'d'.repeat(64)}`, serial: 'ABCD1234', certificateId: 'd'.repeat(64),
      claimCertificateId: 'c'.repeat(64), clientId: 'claim-ABCD1234', templateArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/pi_fleet',
    }]);
    expect(raw[0]).not.toContain('BEGIN CERTIFICATE');
  });

  test('a serial refused by its pattern never reaches the registry', async () => {
    const { response, log } = await run({ SerialNumber: 'abc' });
    expect(response).toEqual({ allowProvisioning: false, parameterOverrides: {} });
    expect(log[0]).toMatchObject({ decision: 'refused', reason: 'serial "abc" does not match [A-Z0-9]{8}' });
    expect(iot.calls()).toHaveLength(0);
  });

  test('a live serial (its thing exists) is refused unless marked, and nothing is changed', async () => {
    iot.on(DescribeThingCommand, { thingName: 'pi-LIVE0001' }).resolves({ thingName: 'pi-LIVE0001', attributes: { serialNumber: 'LIVE0001' }, version: 3 });
    const { response, log } = await run({ SerialNumber: 'LIVE0001' });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0]).toMatchObject({ decision: 'refused', reason: 'serial "LIVE0001" is live (thing pi-LIVE0001 exists) and not marked for re-provisioning' });
    expect(iot.calls().map((call) => call.args[0].constructor.name)).toEqual(['DescribeThingCommand']);
  });

  test('a marked serial presenting its token is allowed: the mark is claimed at the version read, then every previous certificate (all pages) is deactivated and detached', async () => {
    const mark = reprovisionMark('the-token', new Date(NOW + 3600_000));
    iot.on(DescribeThingCommand, { thingName: 'pi-MARK0001' }).resolves({ thingName: 'pi-MARK0001', attributes: { serialNumber: 'MARK0001', reprovision: mark }, version: 7 });
    iot.on(ListThingPrincipalsCommand, { thingName: 'pi-MARK0001', nextToken: undefined }).resolves({ principals: [certificateArn('old1')], nextToken: 'page2' });
    iot.on(ListThingPrincipalsCommand, { thingName: 'pi-MARK0001', nextToken: 'page2' }).resolves({ principals: [certificateArn('old2')] });
    for (const id of ['old1', 'old2']) {
      iot.on(UpdateCertificateCommand, { certificateId: id, newStatus: 'INACTIVE' }).resolves({});
      iot.on(DetachThingPrincipalCommand, { thingName: 'pi-MARK0001', principal: certificateArn(id) }).resolves({});
    }
    iot.on(UpdateThingCommand, {
      thingName: 'pi-MARK0001', attributePayload: { attributes: { reprovision: '', provisioning: `${'d'.repeat(64)}:1700000000` }, merge: true }, expectedVersion: 7,
    }).resolves({});
    const { response, log, raw } = await run({ SerialNumber: 'MARK0001', ReprovisionToken: 'the-token' });
    expect(response.allowProvisioning).toBe(true);
    expect(log[0].reason).toMatch(/was marked for re-provisioning and presented its token: 2 previous certificate\(s\) of pi-MARK0001 retired/);
    expect(raw[0]).not.toContain('the-token');
    expect(iot.calls().map((call) => call.args[0].constructor.name).slice(0, 2)).toEqual(['DescribeThingCommand', 'UpdateThingCommand']);
    expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(2);
    expect(iot.commandCalls(DetachThingPrincipalCommand)).toHaveLength(2);
  });

  test.each([
    ['no token', {}, 'is marked for re-provisioning, but the request carries no ReprovisionToken'],
    ['another token', { ReprovisionToken: 'a-guess' }, 'the request\'s ReprovisionToken is not the one of its mark'],
  ])('a marked serial with %s is refused and nothing is changed', async (_, parameters, reason) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-MARK0002' }).resolves({ attributes: { reprovision: reprovisionMark('the-token', new Date(NOW + 60_000)) }, version: 2 });
    const { response, log } = await run({ SerialNumber: 'MARK0002', ...parameters });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0].reason).toContain(reason);
    expect(iot.calls()).toHaveLength(1);
  });

  test.each([
    ['an expired mark', reprovisionMark('the-token', new Date(NOW - 1000)), /its re-provisioning mark expired at 2023-11-14T22:13:19.000Z: mark it again/],
    ['a mark of the older form (reprovision=true), bound to nobody', 'true', /its re-provisioning mark "true" is not bound to a token/],
  ])('%s is refused even with the token', async (_, mark, reason) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-MARK0003' }).resolves({ attributes: { reprovision: mark }, version: 2 });
    const { response, log } = await run({ SerialNumber: 'MARK0003', ReprovisionToken: 'the-token' });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0].reason).toMatch(reason);
    expect(iot.calls()).toHaveLength(1);
  });

  test('a registry call that fails refuses, with the error in the log', async () => {
    iot.on(DescribeThingCommand, { thingName: 'pi-DENY0001' }).rejects(Object.assign(new Error('not authorized to perform iot:DescribeThing'), { name: 'AccessDeniedException' }));
    const { response, log } = await run({ SerialNumber: 'DENY0001' });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0].reason).toBe('the registry check failed: AccessDeniedException: not authorized to perform iot:DescribeThing');
  });

  test('refuses to start with a rule it cannot read', () => {
    expect(() => ruleFromEnvironment({})).toThrow('SERIAL_PATTERN is not set');
    expect(() => ruleFromEnvironment({ SERIAL_PATTERN: '.*' })).toThrow('THING_NAME_PREFIX is not set');
    expect(() => ruleFromEnvironment({ SERIAL_PATTERN: '.*', THING_NAME_PREFIX: 'pi-', ALLOWED_SERIALS: '{"a":1}' })).toThrow('ALLOWED_SERIALS must be a JSON array of strings, received: {"a":1}');
    expect(() => ruleFromEnvironment({ SERIAL_PATTERN: '.*', THING_NAME_PREFIX: 'pi-', ALLOWED_SERIALS: '["ABCD1234", 1]' })).toThrow('ALLOWED_SERIALS must be a JSON array of strings');
  });

  test.each([
    ['no parameters at all', undefined],
    ['an empty serial', { SerialNumber: '' }],
  ])('a request with %s is refused, not answered with an error', async (_, parameters) => {
    const lines: string[] = [];
    const response = await answer({ ...event({}), parameters: parameters as Record<string, string> }, pattern, client, (line) => lines.push(line), NOW);
    expect(response).toEqual({ allowProvisioning: false, parameterOverrides: {} });
    expect(JSON.parse(lines[0])).toEqual(expect.objectContaining({ decision: 'refused', reason: 'no SerialNumber parameter' }));
    expect(JSON.parse(lines[0]).serial).toBe(parameters?.SerialNumber);
  });

  test.each([
    ['a prefix before it', (mark: string) => `x${mark}`],
    ['a suffix after its expiry', (mark: string) => `${mark}x`],
  ])('a mark with %s is not a mark bound to a token', async (_, alter) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-MARK0004' }).resolves({ attributes: { reprovision: alter(reprovisionMark('the-token', new Date(NOW + 3600_000))) }, version: 2 });
    const { response, log } = await run({ SerialNumber: 'MARK0004', ReprovisionToken: 'the-token' });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0].reason).toMatch(/its re-provisioning mark ".*" is not bound to a token/);
  });

  test('a mark expiring this very second is expired', async () => {
    iot.on(DescribeThingCommand, { thingName: 'pi-MARK0005' }).resolves({ attributes: { reprovision: reprovisionMark('the-token', new Date(NOW)) }, version: 2 });
    const { log } = await run({ SerialNumber: 'MARK0005', ReprovisionToken: 'the-token' });
    expect(log[0].reason).toMatch(/its re-provisioning mark expired at 2023-11-14T22:13:20.000Z/);
  });

  test('two requests with the token of one mark: the one that loses the thing\'s version is refused, and retires nothing', async () => {
    iot.on(DescribeThingCommand, { thingName: 'pi-MARK0006' }).resolves({ attributes: { serialNumber: 'MARK0006', reprovision: reprovisionMark('the-token', new Date(NOW + 60_000)) }, version: 4 });
    iot.on(UpdateThingCommand, { thingName: 'pi-MARK0006', expectedVersion: 4 }).rejects(Object.assign(new Error('version 4 is not the current one'), { name: 'VersionConflictException' }));
    const { response, log } = await run({ SerialNumber: 'MARK0006', ReprovisionToken: 'the-token' });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0].reason).toBe('serial "MARK0006": another request used the re-provisioning mark of pi-MARK0006 meanwhile');
    expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(0);
  });

  test('a new serial that another request reserved between the lookup and the reservation is refused as such; another CreateThing error is the registry\'s', async () => {
    iot.on(DescribeThingCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    iot.on(CreateThingCommand, { thingName: 'pi-RACE0001' }).rejects(Object.assign(new Error('exists with another configuration'), { name: 'ResourceAlreadyExistsException' }));
    iot.on(CreateThingCommand, { thingName: 'pi-SLOW0001' }).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    expect((await run({ SerialNumber: 'RACE0001' })).log[0]).toMatchObject({ decision: 'refused', reason: 'serial "RACE0001" was reserved by another provisioning request meanwhile' });
    expect((await run({ SerialNumber: 'SLOW0001' })).log[0]).toMatchObject({ decision: 'refused', reason: 'the registry check failed: ThrottlingException: Rate exceeded' });
  });

  test('the handler AWS IoT calls reads its rule from the environment and logs each decision', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const saved = { ...process.env };
    Object.assign(process.env, { SERIAL_PATTERN: '[A-Z]{4}[0-9]{4}', THING_NAME_PREFIX: 'hook-' });
    try {
      iot.on(DescribeThingCommand, { thingName: 'hook-LIVE0001' }).resolves({ attributes: { serialNumber: 'LIVE0001' }, version: 1 });
      expect(await handler(event({ SerialNumber: 'LIVE0001' }))).toEqual({ allowProvisioning: false, parameterOverrides: {} });
      expect(await handler(event({ SerialNumber: 'ABCD12345' }))).toEqual({ allowProvisioning: false, parameterOverrides: {} });
      expect(log.mock.calls.map(([line]) => JSON.parse(line).reason)).toEqual([
        'serial "LIVE0001" is live (thing hook-LIVE0001 exists) and not marked for re-provisioning', 'serial "ABCD12345" does not match [A-Z]{4}[0-9]{4}',
      ]);
    } finally {
      process.env = saved;
      log.mockRestore();
    }
  });
});

/**
 * The reservation: a new serial's thing carries `provisioning=<certificate ID>:<epoch seconds>` of the request that
 * created it. Ten minutes on, a reservation that never got a certificate nor registered is abandoned.
 */
describe('pre-provisioning hook: the reservation of a serial', () => {
  const THIS = 'd'.repeat(64);
  const OTHER = 'e'.repeat(64);
  const reservedAgo = (certificateId: string, seconds: number, extra: Record<string, string> = {}) =>
    ({ attributes: { provisioning: `${certificateId}:${NOW / 1000 - seconds}`, ...extra }, version: 5 });
  const names = () => iot.calls().map((call) => call.args[0].constructor.name);

  test.each([
    ['just now', 0],
    ['exactly ten minutes ago', 600],
  ])('the same request again (AWS IoT retried it), reserved %s, is allowed and changes nothing', async (_, seconds) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-RTRY0001' }).resolves(reservedAgo(THIS, seconds));
    const { response, log } = await run({ SerialNumber: 'RTRY0001' });
    expect(response.allowProvisioning).toBe(true);
    expect(log[0].reason).toContain('serial "RTRY0001" is reserved for this certificate already');
    expect(names()).toEqual(['DescribeThingCommand']);
  });

  test.each([
    ['once registered (the template\'s serial attribute)', { serialNumber: 'RTRY0002' }],
    ['once marked for re-provisioning', { reprovision: 'true' }],
  ])('the same certificate is not let through by its reservation %s', async (_, extra) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-RTRY0002' }).resolves(reservedAgo(THIS, 60, extra));
    const { response } = await run({ SerialNumber: 'RTRY0002' });
    expect(response.allowProvisioning).toBe(false);
    expect(names()).toEqual(['DescribeThingCommand']);
  });

  test.each([
    ['9 minutes', 540],
    ['exactly ten minutes', 600],
  ])('another request\'s reservation of %s ago is live: refused, nothing changed', async (_, seconds) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-HELD0001' }).resolves(reservedAgo(OTHER, seconds));
    const { response, log } = await run({ SerialNumber: 'HELD0001' });
    expect(response.allowProvisioning).toBe(false);
    expect(log[0].reason).toBe('serial "HELD0001" is live (thing pi-HELD0001 exists) and not marked for re-provisioning');
    expect(names()).toEqual(['DescribeThingCommand']);
  });

  test.each([
    ['another request\'s', OTHER],
    ['this certificate\'s own', THIS],
  ])('%s reservation abandoned over ten minutes ago, with no certificate (a page without principals), is taken over at the thing\'s version', async (_, holder) => {
    iot.on(DescribeThingCommand, { thingName: 'pi-ABND0001' }).resolves(reservedAgo(holder, 601));
    iot.on(ListThingPrincipalsCommand, { thingName: 'pi-ABND0001' }).resolves({});
    iot.on(UpdateThingCommand, { thingName: 'pi-ABND0001', attributePayload: { attributes: { provisioning: `${THIS}:1700000000` }, merge: true }, expectedVersion: 5 }).resolves({});
    const { response, log } = await run({ SerialNumber: 'ABND0001' });
    expect(response.allowProvisioning).toBe(true);
    expect(log[0].reason).toContain(`serial "ABND0001" had an abandoned reservation (no certificate since 2023-11-14T22:03:19.000Z): reserved for certificate ${THIS}`);
  });

  test('an old reservation whose thing has a certificate is not abandoned: refused, nothing changed', async () => {
    iot.on(DescribeThingCommand, { thingName: 'pi-ABND0002' }).resolves(reservedAgo(OTHER, 3600));
    iot.on(ListThingPrincipalsCommand, { thingName: 'pi-ABND0002' }).resolves({ principals: [certificateArn(OTHER)] });
    const { response } = await run({ SerialNumber: 'ABND0002' });
    expect(response.allowProvisioning).toBe(false);
    expect(names()).toEqual(['DescribeThingCommand', 'ListThingPrincipalsCommand']);
  });

  test('two requests taking over one abandoned reservation: the one that loses the version is refused; another UpdateThing error is the registry\'s', async () => {
    iot.on(DescribeThingCommand).resolves(reservedAgo(OTHER, 601));
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [] });
    iot.on(UpdateThingCommand, { thingName: 'pi-ABND0003' }).rejects(Object.assign(new Error('version 5 is not the current one'), { name: 'VersionConflictException' }));
    iot.on(UpdateThingCommand, { thingName: 'pi-ABND0004' }).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    expect((await run({ SerialNumber: 'ABND0003' })).log[0]).toMatchObject({ decision: 'refused', reason: 'serial "ABND0003": another request took over the abandoned reservation of pi-ABND0003 meanwhile' });
    expect((await run({ SerialNumber: 'ABND0004' })).log[0]).toMatchObject({ decision: 'refused', reason: 'the registry check failed: ThrottlingException: Rate exceeded' });
  });
});

