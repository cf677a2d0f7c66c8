import { answer, decide, PreProvisioningHookEvent, ruleFromEnvironment } from '../../lib/handlers/pre-provisioning-hook';

const event = (parameters: Record<string, string>): PreProvisioningHookEvent => ({
  claimCertificateId: 'c'.repeat(64), certificateId: 'd'.repeat(64), certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  templateArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/pi_fleet', clientId: 'pi-ABCD1234', parameters,
});
const pattern = ruleFromEnvironment({ SERIAL_PATTERN: '[A-Z0-9]{8}' });
const allowList = ruleFromEnvironment({ SERIAL_PATTERN: '[A-Z0-9]{8}', ALLOWED_SERIALS: '["ABCD1234"]' });

describe('pre-provisioning hook', () => {
  test.each([
    ['a serial matching the pattern', pattern, { SerialNumber: 'ABCD1234' }, true, 'serial "ABCD1234" matches [A-Z0-9]{8}'],
    ['a serial matching only in part (the pattern is matched whole)', pattern, { SerialNumber: 'XABCD1234' }, false, 'serial "XABCD1234" does not match [A-Z0-9]{8}'],
    ['a serial of the wrong shape', pattern, { SerialNumber: 'abcd1234' }, false, 'serial "abcd1234" does not match [A-Z0-9]{8}'],
    ['no serial', pattern, {}, false, 'no SerialNumber parameter'],
    ['a serial on the allow-list', allowList, { SerialNumber: 'ABCD1234' }, true, 'serial "ABCD1234" matches [A-Z0-9]{8} and is on the allow-list'],
    ['a serial matching the pattern but not on the allow-list', allowList, { SerialNumber: 'ZZZZ9999' }, false, 'serial "ZZZZ9999" is not on the allow-list'],
  ])('%s', (_, rule, parameters, allowed, reason) => {
    expect(decide(event(parameters), rule)).toEqual({ allowed, reason });
  });

  test('answers AWS IoT with allowProvisioning only, and logs the decision with its reason but never the certificate', () => {
    const lines: string[] = [];
    expect(answer(event({ SerialNumber: 'abc' }), pattern, (line) => lines.push(line))).toEqual({ allowProvisioning: false });
    expect(JSON.parse(lines[0])).toEqual({
      decision: 'refused', reason: 'serial "abc" does not match [A-Z0-9]{8}', serial: 'abc', certificateId: 'd'.repeat(64),
      claimCertificateId: 'c'.repeat(64), clientId: 'pi-ABCD1234', templateArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/pi_fleet',
    });
    expect(lines[0]).not.toContain('BEGIN CERTIFICATE');
  });

  test('refuses to start with a rule it cannot read', () => {
    expect(() => ruleFromEnvironment({})).toThrow('SERIAL_PATTERN is not set');
    expect(() => ruleFromEnvironment({ SERIAL_PATTERN: '.*', ALLOWED_SERIALS: '{"a":1}' })).toThrow('ALLOWED_SERIALS must be a JSON array of strings, received: {"a":1}');
  });
});
