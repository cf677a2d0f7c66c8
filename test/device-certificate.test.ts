import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DeviceCertificate } from '../lib/device-certificate';
import { DevicePolicy } from '../lib/device-policy';
import { DeviceThing } from '../lib/device-thing';
import { HttpsPublishPolicy } from '../lib/https-publish-policy';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

/** A certificate for a thing and a policy imported by name, as a CDK user with an existing fleet would write it. */
function certificate(props: Partial<ConstructorParameters<typeof DeviceCertificate>[2]> = {}) {
  const stack = freshStack();
  const thing = DeviceThing.fromThingName(stack, 'Thing', 'pi-01');
  const policy = DevicePolicy.fromPolicyName(stack, 'Policy', 'FleetPolicy');
  return { stack, construct: new DeviceCertificate(stack, 'Certificate', { thing, policy, ...props }) };
}

describe('DeviceCertificate', () => {
  test('works with an imported thing and policy: attached exclusively to the thing and to the policy, cdk-nag clean', () => {
    const { stack } = certificate();
    const template = templateOf(stack);
    template.hasResourceProperties('Custom::DeviceCertificate', { ThingName: 'pi-01', PolicyName: 'FleetPolicy', SecretNamePrefix: 'iot/Test/certificate', SecretRecoveryDays: '30', Rotation: '0' });
    template.hasResourceProperties('AWS::IoT::ThingPrincipalAttachment', { ThingName: 'pi-01', ThingPrincipalType: 'EXCLUSIVE_THING' });
    template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', { PolicyName: 'FleetPolicy' });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('certificates of a stack share one handler, one provider framework and one key; each adds its resource and attachments only', () => {
    const stack = freshStack();
    const policy = new DevicePolicy(stack, 'Policy');
    const certificates = [1, 2, 3].map((n) => new DeviceCertificate(stack, `Certificate${n}`, { thing: DeviceThing.fromThingName(stack, `Thing${n}`, `pi-0${n}`), policy }));
    const template = templateOf(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    // The handler and the provider framework's onEvent function.
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('Custom::DeviceCertificate', 3);
    expect(new Set(certificates.map((certificate) => certificate.provider)).size).toBe(1);
    expect(certificates.map((certificate) => certificate.encryptionKey)).toEqual([1, 2, 3].map(() => certificates[0].provider.defaultKey));
    expect(nagFindings(stack)).toEqual([]);
  });

  test('a certificate with a key of its own encrypts its secret with it, and the shared handler may use both keys through Secrets Manager only', () => {
    const stack = freshStack();
    const policy = new DevicePolicy(stack, 'Policy');
    const own = new kms.Key(stack, 'OwnKey', { enableKeyRotation: true });
    new DeviceCertificate(stack, 'Shared', { thing: DeviceThing.fromThingName(stack, 'Thing1', 'pi-01'), policy });
    const mine = new DeviceCertificate(stack, 'Mine', { thing: DeviceThing.fromThingName(stack, 'Thing2', 'pi-02'), policy, encryptionKey: own });
    const template = templateOf(stack);
    template.hasResourceProperties('Custom::DeviceCertificate', { ThingName: 'pi-02', KmsKeyId: stack.resolve(own.keyArn) });
    expect(mine.encryptionKey).toBe(own);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const encrypt = statements.find((statement: any) => statement.Sid === 'EncryptCertificateSecrets');
    expect(encrypt.Resource).toEqual([stack.resolve(mine.provider.defaultKey.keyArn), stack.resolve(own.keyArn)]);
    expect(Object.keys(encrypt.Condition.StringEquals)).toEqual(['kms:ViaService']);
  });

  test.each([
    ['logRetention', { logRetention: logs.RetentionDays.ONE_WEEK }],
    ['removalPolicy', { removalPolicy: RemovalPolicy.DESTROY }],
  ])('refuses a second certificate asking the shared provider for another %s, naming both values', (setting, props) => {
    const stack = freshStack();
    const policy = new DevicePolicy(stack, 'Policy');
    new DeviceCertificate(stack, 'First', { thing: DeviceThing.fromThingName(stack, 'Thing1', 'pi-01'), policy });
    expect(() => new DeviceCertificate(stack, 'Second', { thing: DeviceThing.fromThingName(stack, 'Thing2', 'pi-02'), policy, ...props }))
      .toThrow(new RegExp(`DeviceCertificate ${setting} must be the same for every certificate of stack Test, which share one provider: received '.+', the provider has '.+'`));
  });

  test('attaches additional policies to this certificate only', () => {
    const stack = freshStack();
    const thing = new DeviceThing(stack, 'Thing', { thingName: 'pi-01' });
    const https = new HttpsPublishPolicy(stack, 'Https', { thingName: 'pi-01' });
    new DeviceCertificate(stack, 'Certificate', { thing, policy: new DevicePolicy(stack, 'Policy'), additionalPolicies: [https] });
    templateOf(stack).resourceCountIs('AWS::IoT::PolicyPrincipalAttachment', 2);
  });

  test.each([
    [Duration.days(0), '0'], [Duration.days(7), '7'], [Duration.days(30), '30'],
  ])('a recovery window of %s reaches the handler as %s days', (secretRecoveryWindow, days) => {
    templateOf(certificate({ secretRecoveryWindow }).stack).hasResourceProperties('Custom::DeviceCertificate', { SecretRecoveryDays: days });
  });

  test.each([Duration.days(3), Duration.days(31), Duration.hours(36)])('refuses a recovery window of %s', (secretRecoveryWindow) => {
    expect(() => certificate({ secretRecoveryWindow })).toThrow(/DeviceCertificate secretRecoveryWindow in days must be 0 or a whole number from 7 to 30, received: /);
  });

  test('takes a token recovery window and rotation without validating them', () => {
    const { stack } = certificate({ secretRecoveryWindow: Duration.days(Lazy.number({ produce: () => 14 })), rotation: Lazy.number({ produce: () => 2 }) });
    // Resolved at synth as numbers; CloudFormation hands custom resources every property as a string.
    templateOf(stack).hasResourceProperties('Custom::DeviceCertificate', { SecretRecoveryDays: 14, Rotation: 2 });
  });

  test.each([-1, 1.5])('refuses the rotation %d', (rotation) => {
    expect(() => certificate({ rotation })).toThrow(`DeviceCertificate rotation must be a whole number of at least 0, received: ${rotation}`);
  });

  test('grantRead gives GetSecretValue on the current secret and kms:Decrypt only through Secrets Manager', () => {
    const { stack, construct } = certificate();
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    expect(construct.grantRead(reader).success).toBe(true);
    const [policy] = Object.values(templateOf(stack).findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.getLogicalId(reader.node.defaultChild as iam.CfnRole) }] } }));
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: stack.resolve(construct.secretArn) },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: stack.resolve(construct.encryptionKey.keyArn), Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } } },
    ]);
  });
});
