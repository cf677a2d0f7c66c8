import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { stackProps } from '../bin/app';
import { environments } from '../config/environments';
import { DeviceCertificate } from '../lib/device-certificate';
import { DeviceThing } from '../lib/device-thing';
import { IotCoreStack, RESOURCE_BUDGET } from '../lib/iot-core-stack';
import { render } from './setup/render';
import { ENVIRONMENT_NAMES, newApp, synthEnvironment } from './setup/synth';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);


function onlyResource(template: ReturnType<typeof synthEnvironment>['template'], type: string) {
  const resources = Object.entries(template.findResources(type));
  expect(resources).toHaveLength(1);
  return { logicalId: resources[0][0], resource: resources[0][1] as { Properties: Record<string, any>; DeletionPolicy?: string } };
}

test('without the smoke check policy, there is neither the policy nor its output', () => {
  const app = newApp();
  const stack = new IotCoreStack(app, 'NoSmoke', { ...stackProps('dev', environments.dev as never), smokeCheckPolicy: false });
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  expect(Object.keys(template.findOutputs('*'))).not.toContain('SmokeCheckPolicyArn');
});

/** The stg stack with `extra` devices declared beside its own (thing and certificate each). */
function crowded(extra: number) {
  const app = newApp();
  const stack = new IotCoreStack(app, 'Crowded', stackProps('stg', environments.stg as never));
  for (let n = 2; n <= extra + 1; n += 1) {
    const thing = new DeviceThing(stack, `Thing${n}`, { thingName: `pi-stg-${n}` });
    new DeviceCertificate(stack, `Certificate${n}`, { thing, policy: stack.policy });
  }
  return { app, stack };
}
const resourcesOf = (extra: number) => Object.keys(Template.fromStack(crowded(extra).stack).toJSON().Resources).length;

test('a declared device adds 4 resources: its thing, its certificate and the certificate\'s two attachments (the provider and key are the stack\'s)', () => {
  expect(resourcesOf(1) - resourcesOf(0)).toBe(4);
  expect(resourcesOf(2) - resourcesOf(1)).toBe(4);
});

test('synth fails, pointing to fleet provisioning, at the first declared device past the budget, and not before', () => {
  const base = resourcesOf(0);
  const fitting = Math.floor((RESOURCE_BUDGET - base) / 4);
  expect(resourcesOf(fitting)).toBeLessThanOrEqual(RESOURCE_BUDGET);
  expect(() => crowded(fitting + 1).app.synth()).toThrow(new RegExp(`Crowded has ${base + 4 * (fitting + 1)} resources, over the budget of ${RESOURCE_BUDGET} that keeps it below CloudFormation's 500 per stack\\. .*register devices in numbers with fleet provisioning`));
});

describe.each(ENVIRONMENT_NAMES)('IotCoreStack %s', (name) => {
  const config = environments[name as keyof typeof environments];
  const { stack, template } = synthEnvironment(name);
  const thingRef = { Ref: stack.getLogicalId(stack.thing.node.defaultChild as any) };

  describe('device policy', () => {
    const statements = () => template.findResources('AWS::IoT::Policy')[stack.getLogicalId(stack.policy.node.defaultChild as any)].Properties.PolicyDocument.Statement as Statement[];

    test('has no wildcard action and no wildcard resource', () => {
      for (const statement of statements()) {
        expect(statement.Effect).toBe('Allow');
        for (const action of asArray(statement.Action)) expect(action).not.toMatch(/\*/);
        for (const resource of asArray(statement.Resource).map(render)) {
          expect(resource).not.toBe('*');
          // The only wildcards allowed are a device's own shadow response topics below .../get/ and .../update/.
          expect(resource.replace(/\/shadow\/(get|update)\/\*$/, '')).not.toMatch(/\*/);
        }
      }
    });

    test('allows exactly connect, publish, subscribe and receive, each scoped to the connecting thing', () => {
      const byAction = Object.fromEntries(statements().map((s) => [s.Action, asArray(s.Resource).map(render).map((r) => r.replace(/^arn:(<[^>]+>|[^:]+):iot:(<[^>]+>|[^:]*):(<[^>]+>|[^:]*):/, ''))]));
      const T = '${iot:Connection.Thing.ThingName}';
      expect(byAction).toEqual({
        'iot:Connect': [`client/${T}`],
        'iot:Publish': [`topic/data/${T}`, `topic/echo/${T}`, `topic/$aws/things/${T}/shadow/get`, `topic/$aws/things/${T}/shadow/update`],
        'iot:Subscribe': [`topicfilter/echo/${T}`, `topicfilter/$aws/things/${T}/shadow/get/*`, `topicfilter/$aws/things/${T}/shadow/update/*`],
        'iot:Receive': [`topic/echo/${T}`, `topic/$aws/things/${T}/shadow/get/*`, `topic/$aws/things/${T}/shadow/update/*`],
      });
    });

    test('lets a certificate connect only while it is attached to the thing', () => {
      const connect = statements().find((s) => s.Action === 'iot:Connect')!;
      expect(connect.Condition).toEqual({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
    });

    test('stays under the 2048-character policy document limit', () => {
      const document = JSON.stringify(stack.resolve(stack.policy.document), (_, v) => (v && typeof v === 'object' && !Array.isArray(v) && ('Fn::Join' in v || 'Ref' in v) ? render(v) : v));
      expect(document.replace(/\s/g, '').length).toBeLessThan(2048);
    });
  });

  test('a second policy, attached only to this thing\'s certificate, allows publishing its data topic over HTTPS, where thing variables do not exist', () => {
    const policyId = stack.getLogicalId(stack.httpsPublishPolicy.node.defaultChild as any);
    const [statement, ...others] = template.findResources('AWS::IoT::Policy')[policyId].Properties.PolicyDocument.Statement as Statement[];
    expect(others).toEqual([]);
    expect(statement.Action).toBe('iot:Publish');
    expect(render(statement.Resource)).toMatch(new RegExp(`:topic/data/<${thingRef.Ref}>$`));
    const attachments = Object.values(template.findResources('AWS::IoT::PolicyPrincipalAttachment')).filter((a: any) => a.Properties.PolicyName.Ref === policyId);
    expect(attachments.map((a: any) => a.Properties.Principal)).toEqual([{ 'Fn::GetAtt': [stack.getLogicalId(stack.certificate.node.defaultChild as any), 'CertificateArn'] }]);
  });

  test('a bumped certificateRotation reaches the certificate resource (which then issues a new certificate)', () => {
    const rotated = new IotCoreStack(newApp(), 'Rotated', { ...stackProps(name, config as never), certificateRotation: 3 });
    Template.fromStack(rotated).hasResourceProperties('Custom::DeviceCertificate', { Rotation: '3' });
  });

  test('declares the thing with the configured name', () => {
    template.hasResourceProperties('AWS::IoT::Thing', { ThingName: config.thingName });
  });

  describe('certificate', () => {
    // The device's certificate; a fleet's claim certificate (dev) is attached to no thing.
    const certificate = () => {
      const [logicalId, resource] = Object.entries(template.findResources('Custom::DeviceCertificate', { Properties: { ThingName: thingRef } }))[0];
      return { logicalId, resource: resource as { Properties: Record<string, any> } };
    };

    test('is a custom resource with the properties the handler reads', () => {
      const { Properties } = certificate().resource;
      expect(Properties).toEqual({
        ServiceToken: stack.resolve(stack.certificate.provider.handler.serviceToken),
        ThingName: thingRef,
        PolicyName: { Ref: stack.getLogicalId(stack.policy.node.defaultChild as any) },
        SecretNamePrefix: `iot/IotCore-${name}/certificate`,
        KmsKeyId: { 'Fn::GetAtt': [stack.getLogicalId(stack.certificate.encryptionKey.node.defaultChild as any), 'Arn'] },
        SecretRecoveryDays: String(config.secretRecoveryDays),
        Rotation: '0',
      });
    });

    test('is attached exclusively to the thing and to the policy', () => {
      const certificateArn = { 'Fn::GetAtt': [certificate().logicalId, 'CertificateArn'] };
      template.hasResourceProperties('AWS::IoT::ThingPrincipalAttachment', { ThingName: thingRef, Principal: certificateArn, ThingPrincipalType: 'EXCLUSIVE_THING' });
      template.hasResourceProperties('AWS::IoT::PolicyPrincipalAttachment', {
        PolicyName: { Ref: stack.getLogicalId(stack.policy.node.defaultChild as any) }, Principal: certificateArn,
      });
    });

    test('keeps the key in a KMS key with rotation, removed per environment', () => {
      const key = template.toJSON().Resources[stack.getLogicalId(stack.certificate.encryptionKey.node.defaultChild as any)];
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect(key.DeletionPolicy).toBe(config.removalPolicy === 'destroy' ? 'Delete' : 'Retain');
    });
  });

  describe('archive rule', () => {
    const rule = () => template.findResources('AWS::IoT::TopicRule')[stack.getLogicalId(stack.rule.node.defaultChild as any)].Properties;

    test('selects name where name is s3 from every device of the environment (the thing, and fleet devices when there is a fleet), with SQL version 2016-03-23', () => {
      expect(rule().TopicRulePayload).toMatchObject({
        Sql: 'fleet' in config
          ? `SELECT name FROM 'data/+' WHERE name = 's3' AND (topic(2) = '${config.thingName}' OR startswith(topic(2), '${config.fleet.thingNamePrefix}'))`
          : `SELECT name FROM 'data/${config.thingName}' WHERE name = 's3'`,
        AwsIotSqlVersion: '2016-03-23',
        RuleDisabled: false,
      });
      expect(rule().RuleName).toMatch(/^[a-zA-Z0-9_]{1,128}$/);
    });

    test('writes to the archive bucket under a key that never repeats', () => {
      const [action] = rule().TopicRulePayload.Actions;
      expect(action.S3.BucketName).toEqual({ Ref: stack.getLogicalId(stack.archive.bucket.node.defaultChild as any) });
      expect(action.S3.Key).toBe(`${config.archiveKeyPrefix}${config.archiveKeyPattern}`);
      expect(action.S3.Key).toContain('${newuuid()}');
      expect(rule().TopicRulePayload.Actions).toHaveLength(1);
    });

    test('keeps failed deliveries in a log group through the error action', () => {
      const logGroupRef = { Ref: stack.getLogicalId(stack.failedDeliveries.node.defaultChild as any) };
      expect(rule().TopicRulePayload.ErrorAction).toEqual({
        CloudwatchLogs: { LogGroupName: logGroupRef, RoleArn: rule().TopicRulePayload.Actions[0].S3.RoleArn },
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: config.logRetentionDays });
    });

    test('runs with a role that IoT may assume only for this rule, allowed only s3:PutObject on the archive prefix', () => {
      const roleId = stack.getLogicalId(stack.rule.role.node.defaultChild as any);
      const role = template.findResources('AWS::IAM::Role')[roleId];
      const [trust] = role.Properties.AssumeRolePolicyDocument.Statement;
      expect(trust.Principal).toEqual({ Service: 'iot.amazonaws.com' });
      expect(render(trust.Condition.ArnEquals['aws:SourceArn'])).toMatch(new RegExp(`:rule/${rule().RuleName}$`));
      // The stack's own account, never another's (confused deputy: AWS IoT Developer Guide, "Cross-service confused deputy prevention").
      expect(trust.Condition.StringEquals['aws:SourceAccount']).toEqual(stack.resolve(stack.account));

      const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId)) as any;
      const statements = policy.Properties.PolicyDocument.Statement as Statement[];
      const s3Statements = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('s3:')));
      expect(s3Statements).toHaveLength(1);
      expect(s3Statements[0].Action).toBe('s3:PutObject');
      expect(render(s3Statements[0].Resource)).toBe(`<${stack.getLogicalId(stack.archive.bucket.node.defaultChild as any)}.Arn>/${config.archiveKeyPrefix}*`);
      const others = statements.filter((s) => !s3Statements.includes(s)).flatMap((s) => asArray(s.Action));
      expect(others.every((a) => a.startsWith('logs:'))).toBe(true);
    });
  });

  describe('archive bucket', () => {
    const bucketId = () => stack.getLogicalId(stack.archive.bucket.node.defaultChild as s3.CfnBucket);

    test('keeps its logical ID, so no refactoring replaces the bucket and its data', () => {
      expect(bucketId()).toBe('ArchiveBucket7C124431');
    });

    test('is encrypted, private, versioned, logged and expires objects after the retention period', () => {
      const bucket = template.findResources('AWS::S3::Bucket')[bucketId()];
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: stack.getLogicalId(stack.archive.accessLogsBucket.node.defaultChild as any) } },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({
        ExpirationInDays: config.archiveRetentionDays, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: 'Enabled',
      })]);
    });

    test('refuses requests without TLS', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId() },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    });

    test(`is ${config.removalPolicy === 'destroy' ? 'deleted (and emptied)' : 'retained'} when the stack is deleted`, () => {
      const bucket = template.findResources('AWS::S3::Bucket')[bucketId()];
      expect(bucket.DeletionPolicy).toBe(config.removalPolicy === 'destroy' ? 'Delete' : 'Retain');
      // The archive, its access logs and the program artifacts.
      template.resourceCountIs('Custom::S3AutoDeleteObjects', config.removalPolicy === 'destroy' ? 3 : 0);
    });
  });

  test('seeds the shadow desired interval from the config', () => {
    template.hasResourceProperties('Custom::ShadowDefaults', {
      ThingName: thingRef,
      DesiredJson: JSON.stringify({ interval: config.reportIntervalSeconds }),
      ClearOnDelete: String(config.clearShadowOnDelete),
    });
  });

  test('outputs everything a device and the smoke check need, each described', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual([
      'ArchiveBucketName', 'ArchiveKeyPrefix', 'ArchiveRuleName', 'CertificateArn', 'CertificateId', 'CertificateSecretArn', 'ClientId', 'DashboardName',
      'DataTopic', 'ErrorLogGroupName', 'IotDataEndpoint', 'JobIdPrefix', 'JobTemplates', 'ProgramArtifactsBucketName', 'Region', 'ShadowName', 'SmokeCheckPolicyArn', 'ThingName',
      // A fleet's: what `iot-device` needs to make a claim kit and provision.
      ...('fleet' in config ? ['ClaimCertificateId', 'ClaimCertificateSecretArn', 'ClaimClientIdPrefix', 'ClaimPolicyName', 'FleetSerialPattern', 'FleetTemplateName', 'FleetThingGroupName', 'FleetThingNamePrefix'] : []),
    ].sort());
    expect(outputs.ArchiveKeyPrefix.Value).toBe(config.archiveKeyPrefix);
    expect(outputs.ErrorLogGroupName.Value).toEqual({ Ref: stack.getLogicalId(stack.failedDeliveries.node.defaultChild as any) });
    expect(outputs.SmokeCheckPolicyArn.Value).toEqual({ Ref: stack.getLogicalId(stack.smokeCheckPolicy!.node.defaultChild as any) });
    for (const output of Object.values(outputs)) expect(output.Description).toMatch(/\w{3,}/);
    expect(outputs.DataTopic.Value).toBe(`data/${config.thingName}`);
    expect(outputs.ClientId.Value).toEqual(thingRef);
    expect(render(outputs.IotDataEndpoint.Value)).toMatch(/^<DataEndpoint.*\.Address>$/);
    expect(render(outputs.CertificateSecretArn.Value)).toMatch(/^<Certificate.*\.SecretArn>$/);
    expect(JSON.parse(outputs.JobTemplates.Value)).toEqual({ 'desired-state': stack.jobTemplates['desired-state'].jobTemplateId, 'update-program': stack.jobTemplates['update-program'].jobTemplateId });
    expect(outputs.ProgramArtifactsBucketName.Value).toEqual({ Ref: stack.getLogicalId(stack.programs.bucket.node.defaultChild as any) });
    expect(outputs.JobIdPrefix.Value).toBe(`iot-core-${name}-`);
  });

  test('the desired-state job template runs as the environment\'s config says, with the interval as its parameter', () => {
    const jobs = config.jobs;
    const properties = template.toJSON().Resources[stack.getLogicalId(stack.jobTemplates['desired-state'].node.defaultChild as any)].Properties;
    expect(JSON.parse(properties.Document)).toEqual({ operation: 'desired-state', desired: { interval: '${interval}' } });
    expect(properties.PresignedUrlConfig).toBeUndefined();
    expect(properties.JobTemplateId).toMatch(new RegExp(`^iot-core-${name}-desired-state-[0-9a-f]{8}$`));
    expect(properties.JobExecutionsRolloutConfig).toEqual({
      MaximumPerMinute: jobs.rollout.maximumPerMinute,
      ExponentialRolloutRate: { BaseRatePerMinute: jobs.rollout.exponential.baseRatePerMinute, IncrementFactor: jobs.rollout.exponential.incrementFactor, RateIncreaseCriteria: { NumberOfSucceededThings: jobs.rollout.exponential.afterSucceeded } },
    });
    expect(properties.AbortConfig).toEqual({ CriteriaList: jobs.abort.map((criterion) => ({ Action: 'CANCEL', FailureType: criterion.failureType, ThresholdPercentage: criterion.thresholdPercentage, MinNumberOfExecutedThings: criterion.minExecutedThings })) });
    expect(properties.TimeoutConfig).toEqual({ InProgressTimeoutInMinutes: jobs.inProgressTimeoutMinutes });
    expect(properties.JobExecutionsRetryConfig).toEqual({ RetryCriteriaList: jobs.retries.map((retry) => ({ FailureType: retry.failureType, NumberOfRetries: retry.numberOfRetries })) });
  });

  test('the update-program job template: the package\'s version, URL and hash as parameters, URLs signed for an hour with the artifacts\' role, rolled out as the other', () => {
    const properties = template.toJSON().Resources[stack.getLogicalId(stack.jobTemplates['update-program'].node.defaultChild as any)].Properties;
    const desiredState = template.toJSON().Resources[stack.getLogicalId(stack.jobTemplates['desired-state'].node.defaultChild as any)].Properties;
    expect(JSON.parse(properties.Document)).toEqual({ operation: 'update-program', version: '${version}', url: '${url}', sha256: '${sha256}' });
    expect(properties.JobTemplateId).toMatch(new RegExp(`^iot-core-${name}-update-program-[0-9a-f]{8}$`));
    expect(properties.PresignedUrlConfig).toEqual({ RoleArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.programs.presignRole.node.defaultChild as any), 'Arn'] }, ExpiresInSec: 3600 });
    for (const key of ['JobExecutionsRolloutConfig', 'AbortConfig', 'TimeoutConfig', 'JobExecutionsRetryConfig']) expect(properties[key]).toEqual(desiredState[key]);
  });

  test('no output or resource property carries key material', () => {
    const json = JSON.stringify(template.toJSON());
    expect(json).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|privateKey|PrivateKey|keyPair/);
    for (const output of Object.values(template.findOutputs('*'))) {
      expect(render(output.Value)).not.toMatch(/PrivateKey|privateKey|keyPair/);
    }
  });

  test('handler roles allow no wildcard action', () => {
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of asArray(statement.Action)) expect(action).not.toMatch(/\*/);
      }
    }
  });

  test('alarms on rule failures, failed deliveries and a quiet device, with a dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Metrics: [{ Expression: `SELECT SUM(Failure) FROM "AWS/IoT" WHERE RuleName = '${stack.rule.ruleName}'` }] });
  });

  test('the smoke check\'s managed policy is attached to nobody: operators attach it to the role they run the check with', () => {
    const { resource } = onlyResource(template, 'AWS::IAM::ManagedPolicy');
    expect(resource.Properties).not.toHaveProperty('Roles');
    expect(resource.Properties).not.toHaveProperty('Users');
    expect(resource.Properties).not.toHaveProperty('Groups');
    expect(resource.Properties.PolicyDocument.Statement.flatMap((statement: Statement) => asArray(statement.Action)).sort()).toEqual([
      'cloudformation:DescribeStacks', 'iot:GetThingShadow', 'iot:Publish', 'logs:FilterLogEvents', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket',
    ]);
  });

  test('a declared fleet registers things with its prefix and the device policy', () => {
    const fleetConfig = (config as { fleet?: { thingNamePrefix: string } }).fleet;
    template.resourceCountIs('AWS::IoT::ProvisioningTemplate', fleetConfig ? 1 : 0);
    if (fleetConfig) {
      expect(template.findOutputs('FleetThingNamePrefix').FleetThingNamePrefix.Value).toBe(fleetConfig.thingNamePrefix);
      expect(stack.resolve(stack.fleet!.templateName)).toEqual(template.findOutputs('FleetTemplateName').FleetTemplateName.Value);
    }
  });

  test('matches the reviewed template', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});
