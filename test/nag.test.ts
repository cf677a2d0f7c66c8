import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../bin/app';
import { ENVIRONMENT_NAMES, newApp } from './setup/synth';

describe('cdk-nag AwsSolutions', () => {
  test.each(ENVIRONMENT_NAMES)('%s has no unacknowledged finding', (name) => {
    const app = buildApp(newApp({ env: name }));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('acknowledges only these wildcard resources, each on the role or managed policy that has it, with a reason', () => {
    const app = buildApp(newApp({ env: 'dev' }));
    const acknowledgements = app.node.findAll().flatMap((construct) => construct.node.metadata
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .map(([id, reason]) => ({ construct, path: construct.node.path, id, reason })));
    expect(acknowledgements.map(({ path, id }) => `${path} ${id}`).sort()).toEqual([
      'IotCore-dev/ArchiveRule/Role Annotation::AwsSolutions-IAM5[Resource::<ArchiveBucket7C124431.Arn>/archive/*]',
      'IotCore-dev/CertificateProvider/Handler/DeployedProvider1Role Annotation::AwsSolutions-IAM5[Resource::<CertificateProviderHandlerFunction827EE514.Arn>:*]',
      'IotCore-dev/CertificateProvider/Handler/FunctionRole Annotation::AwsSolutions-IAM5[Resource::*]',
      'IotCore-dev/CertificateProvider/Handler/FunctionRole Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cert/*]',
      'IotCore-dev/CertificateProvider/Handler/FunctionRole Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
      'IotCore-dev/CertificateProvider/Handler/ProviderRole Annotation::AwsSolutions-IAM5[Resource::<CertificateProviderHandlerFunction827EE514.Arn>:*]',
      'IotCore-dev/Fleet/HookRole Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cert/*]',
      'IotCore-dev/Fleet/HookRole Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thing/pi-dev-fleet-*]',
      'IotCore-dev/Fleet/ProvisioningRole Annotation::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSIoTThingsRegistration]',
      'IotCore-dev/Monitoring/LivenessRole Annotation::AwsSolutions-IAM5[Resource::*]',
      'IotCore-dev/ProgramArtifacts/PresignRole Annotation::AwsSolutions-IAM5[Resource::<ProgramArtifactsBucketE6493B5D.Arn>/programs/*]',
      'IotCore-dev/ShadowDefaults/Handler/FunctionRole Annotation::AwsSolutions-IAM5[Resource::*]',
      'IotCore-dev/ShadowDefaults/Handler/ProviderRole Annotation::AwsSolutions-IAM5[Resource::<ShadowDefaultsHandlerFunction08DB17AF.Arn>:*]',
      'IotCore-dev/SmokeCheckPolicy Annotation::AwsSolutions-IAM5[Resource::<ArchiveBucket7C124431.Arn>/archive/*]',
      'IotCore-dev/SmokeCheckPolicy Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thing/pi-dev-fleet-*]',
      'IotCore-dev/SmokeCheckPolicy Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/data/pi-dev-fleet-*]',
    ]);
    for (const { construct, reason } of acknowledgements) {
      expect(reason.length).toBeGreaterThan(60);
      // On the role or policy that holds the statement, never on a whole stack or the app.
      expect(construct instanceof iam.Role || construct instanceof iam.ManagedPolicy).toBe(true);
    }
  });

  test('a new finding fails the app', () => {
    const app = buildApp(newApp({ env: 'dev' }));
    const stack = app.node.findChild('IotCore-dev') as Stack;
    new iam.Role(stack, 'TooBroad', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: { all: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] })] }) },
    });
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5/);
  });

  test('the failure comes from cdk-nag: the same role in an app without the plugin synthesizes', () => {
    const unchecked = newApp({ env: 'dev' });
    const stack = new Stack(unchecked, 'Plain');
    new iam.Role(stack, 'TooBroad', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: { all: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] })] }) },
    });
    expect(() => unchecked.synth()).not.toThrow();
  });
});
