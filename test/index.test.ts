import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ArchiveRule, DeviceCertificate, DevicePolicy, DeviceThing } from '../lib';

/** The README's "Use the constructs in your own stack" example, as written there. */
test('the README example: a thing with a certificate whose key is in Secrets Manager, in a stack of your own', () => {
  const stack = new Stack(new App(), 'MyDevices');
  const thing = new DeviceThing(stack, 'Sensor', { thingName: 'sensor-042' });
  const certificate = new DeviceCertificate(stack, 'SensorCertificate', {
    thing,
    policy: new DevicePolicy(stack, 'DevicePolicy'),
    secretRecoveryWindow: Duration.days(7),
  });
  const installer = new iam.Role(stack, 'Installer', { assumedBy: new iam.AccountRootPrincipal() });
  certificate.grantRead(installer);
  thing.grantShadowUpdate(installer);
  new ArchiveRule(stack, 'Telemetry', {
    sql: "SELECT * FROM 'data/sensor-042'",
    bucket: new s3.Bucket(stack, 'Archive', { enforceSSL: true }),
    errorLogGroup: new logs.LogGroup(stack, 'RuleErrors'),
  });

  const template = Template.fromStack(stack);
  template.resourceCountIs('Custom::DeviceCertificate', 1);
  template.hasResourceProperties('AWS::IoT::TopicRule', { TopicRulePayload: { Sql: "SELECT * FROM 'data/sensor-042'" } });
  template.hasResourceProperties('Custom::DeviceCertificate', { SecretRecoveryDays: '7' });
});
