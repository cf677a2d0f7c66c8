/**
 * The review of a change, on the dev template as synthesized and copies of it changed the way a pull request
 * would change them: each consequence a reviewer must see is named in plain words, with its kind. (Synthesized in
 * process, the template has no construct paths, so resources are named by logical ID here.)
 */
import { reviewStack, Template, toMarkdown } from '../../ops/review';
import { environmentTemplate } from '../../sandbox/templates';

const base = environmentTemplate('dev') as unknown as Template;
/** A copy of the dev template with `change` applied to it. */
function changed(change: (resources: Record<string, any>) => void): Template {
  const copy = JSON.parse(JSON.stringify(base)) as Template;
  change(copy.Resources!);
  return copy;
}
/** The resources of a type whose logical ID starts with `prefix`. */
const ofType = (resources: Record<string, any>, type: string, prefix = '') => Object.entries(resources)
  .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix)).map(([, resource]) => resource);
const findings = (after: Template) => reviewStack('IotCore-dev', base, after).findings;

test('the same template: no change, no finding', () => {
  const review = reviewStack('IotCore-dev', base, base);
  expect(review).toMatchObject({ changed: false, findings: [] });
  expect(toMarkdown([review], 'main', 'head')).toContain('### IotCore-dev\n\nNo change.');
});

test('data/+ in place of data/<thing> is literal in an IoT policy ("Publish/Subscribe policy examples"): the device loses its own topic, and gains none', () => {
  const after = changed((resources) => {
    const publish = ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement[1];
    publish.Resource[0] = JSON.parse(JSON.stringify(publish.Resource[0]).replace('${iot:Connection.Thing.ThingName}', '+'));
  });
  expect(findings(after).filter((finding) => finding.kind.startsWith('iot-policy'))).toEqual([
    { kind: 'iot-policy-narrowed', text: expect.stringMatching(/^A certificate with IoT policy DevicePolicy[0-9A-F]{8} may no longer publish to its own data topic \(data\/<thing>\)\.$/) },
  ]);
});

test('the claim policy allowing any client ID: a claim certificate may now take over devices', () => {
  const after = changed((resources) => {
    const connect = ofType(resources, 'AWS::IoT::Policy', 'FleetClaimPolicy')[0].Properties.PolicyDocument.Statement[0];
    connect.Resource = JSON.parse(JSON.stringify(connect.Resource).replace('claim-*', '*'));
  });
  expect(findings(after)).toContainEqual({
    kind: 'iot-policy-widened',
    text: 'A certificate with IoT policy FleetClaimPolicyC12BA720 may now connect as its own thing; connect as another device (take over its client ID); connect as a fleet device (pi-dev-fleet-*).',
  });
});

test('the claim certificate rotated: every factory needs the new claim kit', () => {
  const after = changed((resources) => { ofType(resources, 'Custom::DeviceCertificate', 'FleetClaimCertificate')[0].Properties.Rotation = '1'; });
  expect(findings(after)).toContainEqual(expect.objectContaining({ kind: 'replacement', text: expect.stringMatching(/^the fleet's claim certificate is replaced \(rotation '0' -> '1'\): every factory needs the new claim kit/) }));
});

test('a new ServiceToken for a certificate: an update CloudFormation refuses', () => {
  const after = changed((resources) => { ofType(resources, 'Custom::DeviceCertificate', 'Certificate4E7ABB08')[0].Properties.ServiceToken = { 'Fn::GetAtt': ['Another', 'Arn'] }; });
  expect(findings(after)).toContainEqual(expect.objectContaining({ kind: 'update-refused', text: expect.stringContaining('CloudFormation refuses ("Modifying service token is not allowed")') }));
});

test.each([
  ['the archive rule disabled', (resources: Record<string, any>) => { ofType(resources, 'AWS::IoT::TopicRule', 'ArchiveRule')[0].Properties.TopicRulePayload.RuleDisabled = true; }, /^Topic rule '.+' is disabled: its messages are no longer acted on\.$/],
  ['the failed-deliveries log group kept a day', (resources: Record<string, any>) => { ofType(resources, 'AWS::Logs::LogGroup', 'FailedDeliveries')[0].Properties.RetentionInDays = 1; }, /^Log group FailedDeliveries[0-9A-F]{8} keeps events 1 days instead of \d+\.$/],
  ['the archive bucket removed', (resources: Record<string, any>) => { delete resources[Object.keys(resources).find((id) => /^ArchiveBucket[0-9A-F]{8}$/.test(id))!]; }, /^Bucket ArchiveBucket[0-9A-F]{8} is removed: its archived objects are deleted with it\.$/],
])('%s: data at risk', (_, change, text) => {
  expect(findings(changed(change))).toContainEqual({ kind: 'data-loss', text: expect.stringMatching(text) });
});

test('a retained bucket that would be deleted with the stack: data at risk', () => {
  const retained = changed((resources) => { for (const bucket of ofType(resources, 'AWS::S3::Bucket')) Object.assign(bucket, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }); });
  const destroyed = changed((resources) => { for (const bucket of ofType(resources, 'AWS::S3::Bucket')) Object.assign(bucket, { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' }); });
  expect(reviewStack('IotCore-dev', retained, destroyed).findings).toContainEqual({ kind: 'data-loss', text: expect.stringMatching(/^ArchiveBucket[0-9A-F]{8} \(AWS::S3::Bucket\) is now deleted with the stack: DeletionPolicy Retain -> Delete\.$/) });
});
