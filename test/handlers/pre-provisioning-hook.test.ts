import {
  CreateThingCommand, DescribeThingCommand, DetachThingPrincipalCommand, IoTClient, ListThingPrincipalsCommand, ResourceNotFoundException, UpdateCertificateCommand, UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { answer, decide, PreProvisioningHookEvent, reprovisionMark, ruleFromEnvironment } from '../../lib/handlers/pre-provisioning-hook';


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
  });
});

