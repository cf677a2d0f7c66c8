/**
 * Who a connection is and what AWS IoT decides for it (sandbox/iot-authorization.ts), with the device policy as
 * synthesized for dev: the certificate by its DER's SHA-256, refused unless known and ACTIVE, and the client ID the
 * connection's thing only when that thing is attached to the certificate.
 */
import { createHash, X509Certificate } from 'crypto';
import { authorizeRequest, certificateIdOf, CertificateFacts, connectionGrants } from '../../sandbox/iot-authorization';
import { IotAction, PolicyDocument } from '../../sandbox/iot-policy';
import { createCertificateAuthority } from '../../sandbox/pki';
import { ResolvedTemplate } from '../../sandbox/resolved-template';
import { environmentTemplate } from '../../sandbox/templates';

const resolved = new ResolvedTemplate(environmentTemplate('dev') as never);
const devicePolicyId = resolved.ofType('AWS::IoT::Policy').find((id) => id.startsWith('DevicePolicy'))!;
const policies: Record<string, PolicyDocument> = { device: resolved.properties(devicePolicyId).PolicyDocument };
const policy = (name: string) => policies[name];
const { region, account } = resolved;
const device = (status: CertificateFacts['status'], thingNames = ['pi-dev-01']): CertificateFacts => ({ status, policyNames: ['device'], thingNames });
const ask = (certificate: CertificateFacts | undefined, clientId: string | undefined, action: IotAction, name: string, protocol: 'mqtt' | 'https' = 'mqtt') =>
  authorizeRequest(policy, region, account, certificate, protocol, clientId, action, name);

test('a certificate\'s ID is the SHA-256 of its DER encoding, from the PEM or the DER alike, never its subject', () => {
  const ca = createCertificateAuthority('test CA');
  const one = ca.issue('pi-dev-01');
  const two = ca.issue('pi-dev-01');
  const der = new X509Certificate(one.certificatePem).raw;
  expect(certificateIdOf(one.certificatePem)).toBe(createHash('sha256').update(der).digest('hex'));
  expect(certificateIdOf(der)).toBe(certificateIdOf(one.certificatePem));
  expect(certificateIdOf(two.certificatePem)).not.toBe(certificateIdOf(one.certificatePem));
});

test('an ACTIVE certificate of the thing connects as the thing and uses its own topics', () => {
  expect(ask(device('ACTIVE'), 'pi-dev-01', 'iot:Connect', 'pi-dev-01')).toMatchObject({ allowed: true });
  expect(ask(device('ACTIVE'), 'pi-dev-01', 'iot:Publish', 'data/pi-dev-01')).toMatchObject({ allowed: true });
  expect(ask(device('ACTIVE'), 'pi-dev-01', 'iot:Subscribe', '$aws/things/pi-dev-01/shadow/update/accepted')).toMatchObject({ allowed: true });
  expect(ask(device('ACTIVE'), 'pi-dev-01', 'iot:Receive', '$aws/things/pi-dev-01/shadow/update/accepted')).toMatchObject({ allowed: true });
});

test.each([
  ['another client ID', device('ACTIVE'), 'pi-dev-02', 'iot:Connect', 'pi-dev-02'],
  ['the client ID of a thing it is not attached to', device('ACTIVE', []), 'pi-dev-01', 'iot:Connect', 'pi-dev-01'],
  ['another device\'s topic', device('ACTIVE'), 'pi-dev-01', 'iot:Publish', 'data/pi-dev-02'],
  ['another device\'s topic, named by its own client ID', device('ACTIVE', ['pi-dev-01']), 'pi-dev-02', 'iot:Publish', 'data/pi-dev-02'],
  ['a subscription to another device\'s shadow', device('ACTIVE'), 'pi-dev-01', 'iot:Subscribe', '$aws/things/pi-dev-02/shadow/update/accepted'],
])('refused: %s', (_, certificate, clientId, action, name) => {
  expect(ask(certificate, clientId, action as IotAction, name)).toEqual({ allowed: false, reason: 'implicitDeny' });
});

test.each(['INACTIVE', 'REVOKED', 'PENDING_ACTIVATION'] as const)('a certificate that is %s is refused before its policies are read', (status) => {
  expect(ask(device(status), 'pi-dev-01', 'iot:Connect', 'pi-dev-01')).toEqual({ allowed: false, reason: 'certificateNotActive' });
});

test('a certificate AWS IoT does not know is refused', () => {
  expect(ask(undefined, 'pi-dev-01', 'iot:Connect', 'pi-dev-01')).toEqual({ allowed: false, reason: 'unknownCertificate' });
});

test('requests are decided on the resources of the template\'s own Region and account', () => {
  const elsewhere = authorizeRequest(policy, 'us-east-1', account, device('ACTIVE'), 'mqtt', 'pi-dev-01', 'iot:Connect', 'pi-dev-01');
  const otherAccount = authorizeRequest(policy, region, '210987654321', device('ACTIVE'), 'mqtt', 'pi-dev-01', 'iot:Connect', 'pi-dev-01');
  expect([elsewhere.allowed, otherAccount.allowed]).toEqual([false, false]);
});

test('over HTTPS there is no client ID and no thing variable: the device policy grants nothing', () => {
  expect(ask(device('ACTIVE'), undefined, 'iot:Publish', 'data/pi-dev-01', 'https')).toEqual({ allowed: false, reason: 'implicitDeny' });
});

test('the grants of a connection are its certificate\'s policies, with the client ID as its thing only when attached', () => {
  const attached = connectionGrants(policy, device('ACTIVE'), 'mqtt', 'pi-dev-01');
  const notAttached = connectionGrants(policy, device('ACTIVE', ['pi-dev-02']), 'mqtt', 'pi-dev-01');
  expect(attached.some((grant) => JSON.stringify(grant).includes('data/pi-dev-01'))).toBe(true);
  expect(JSON.stringify(notAttached)).not.toContain('pi-dev-01');
});
