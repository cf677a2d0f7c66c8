/**
 * Every IAM grant of every environment, evaluated by an independent IAM simulator
 * (@cloud-copilot/iam-simulate, with the Service Authorization Reference's resource types and condition
 * keys) on the synthesized template with its intrinsics resolved: each request the project makes is
 * Allowed on the role that makes it, and requests outside that role's scope are denied.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../bin/app';
import { environments } from '../config/environments';
import { IotCoreStack } from '../lib/iot-core-stack';
import { substitute } from '../sandbox/iot-sql';
import { actionsCalledBy } from './setup/handler-actions';
import { Decision, IamRequest, simulate } from './setup/iam-simulator';
import { ACCOUNT, REGION, ResolvedTemplate } from '../sandbox/resolved-template';
import { ENVIRONMENT_NAMES, newApp } from './setup/synth';
import thingsRegistration from './fixtures/aws-iot-things-registration.json';

/** The documents of the AWS managed policies the stack attaches, by ARN. */
const MANAGED_POLICIES: Record<string, unknown> = { [thingsRegistration.arn]: thingsRegistration.document };

interface Scope {
  readonly resolved: ResolvedTemplate;
  readonly thingArn: string;
  readonly certificateArn: string;
  readonly secretArn: string;
  readonly keyArn: string;
  readonly keyPolicy: unknown;
  /** The stack's outputs, resolved. */
  readonly outputs: Record<string, string>;
  /** A job of the environment's job commands, the job template, and the fleet's thing group (when it has one). */
  readonly jobArn: string;
  readonly jobTemplateArn: string;
  readonly thingGroupArn?: string;
}

/** How AWS authorizes each call a handler makes: the resource it names, the context it carries, and the KMS calls Secrets Manager makes for the caller. */
const REQUESTS: Record<string, (scope: Scope) => Array<Omit<IamRequest, 'principal' | 'identityPolicies'>>> = {
  'iot:CreateKeysAndCertificate': () => [{ action: 'iot:CreateKeysAndCertificate', resource: '*' }],
  'iot:DescribeCertificate': (s) => [{ action: 'iot:DescribeCertificate', resource: s.certificateArn }],
  'iot:UpdateCertificate': (s) => [{ action: 'iot:UpdateCertificate', resource: s.certificateArn }],
  'iot:DeleteCertificate': (s) => [{ action: 'iot:DeleteCertificate', resource: s.certificateArn }],
  // No resource type in the Service Authorization Reference (the simulator requires "*").
  'iot:ListAttachedPolicies': () => [{ action: 'iot:ListAttachedPolicies', resource: '*' }],
  'iot:DetachPolicy': (s) => [{ action: 'iot:DetachPolicy', resource: s.certificateArn }],
  'iot:DetachThingPrincipal': (s) => [{ action: 'iot:DetachThingPrincipal', resource: s.certificateArn, context: { 'iot:thingArn': s.thingArn } }],
  'iot:DescribeEndpoint': () => [{ action: 'iot:DescribeEndpoint', resource: '*' }],
  'iot:UpdateThingShadow': (s) => [{ action: 'iot:UpdateThingShadow', resource: s.thingArn }],
  // The declared thing in the fleet's group (Custom::ThingGroupMembership): on the thing and the group; an environment without a fleet makes neither call.
  'iot:AddThingToThingGroup': (s) => (s.thingGroupArn ? [s.thingArn, s.thingGroupArn].map((resource) => ({ action: 'iot:AddThingToThingGroup', resource })) : []),
  'iot:RemoveThingFromThingGroup': (s) => (s.thingGroupArn ? [s.thingArn, s.thingGroupArn].map((resource) => ({ action: 'iot:RemoveThingFromThingGroup', resource })) : []),
  // The fleet's pre-provisioning hook, on the serial's thing (lib/handlers/pre-provisioning-hook).
  'iot:CreateThing': (s) => [{ action: 'iot:CreateThing', resource: s.thingArn }],
  'iot:DescribeThing': (s) => [{ action: 'iot:DescribeThing', resource: s.thingArn }],
  'iot:ListThingPrincipals': (s) => [{ action: 'iot:ListThingPrincipals', resource: s.thingArn }],
  'iot:UpdateThing': (s) => [{ action: 'iot:UpdateThing', resource: s.thingArn }],
  // The fleet's operator commands (ops/fleet.ts).
  'iot:DeleteThing': (s) => [{ action: 'iot:DeleteThing', resource: s.thingArn }],
  'iot:AttachPolicy': (s) => [{ action: 'iot:AttachPolicy', resource: s.certificateArn }],
  // "Permissions for the KMS key" (Secrets Manager User Guide): a new secret value needs GenerateDataKey and Decrypt.
  'secretsmanager:CreateSecret': (s) => [{ action: 'secretsmanager:CreateSecret', resource: s.secretArn }, ...kmsForSecret(s, ['kms:GenerateDataKey', 'kms:Decrypt'])],
  'secretsmanager:UpdateSecret': (s) => [{ action: 'secretsmanager:UpdateSecret', resource: s.secretArn }, ...kmsForSecret(s, ['kms:GenerateDataKey', 'kms:Decrypt'])],
  'secretsmanager:DescribeSecret': (s) => [{ action: 'secretsmanager:DescribeSecret', resource: s.secretArn }],
  // ListSecrets has no resource type ("Actions, resources, and condition keys for AWS Secrets Manager").
  'secretsmanager:ListSecrets': () => [{ action: 'secretsmanager:ListSecrets', resource: '*' }],
  'secretsmanager:TagResource': (s) => [{ action: 'secretsmanager:TagResource', resource: s.secretArn }],
  'secretsmanager:RestoreSecret': (s) => [{ action: 'secretsmanager:RestoreSecret', resource: s.secretArn }],
  'secretsmanager:DeleteSecret': (s) => [{ action: 'secretsmanager:DeleteSecret', resource: s.secretArn }],
  'secretsmanager:GetSecretValue': (s) => [{ action: 'secretsmanager:GetSecretValue', resource: s.secretArn }, ...kmsForSecret(s, ['kms:Decrypt'])],
  // The smoke check's calls (ops/smoke-check.ts). S3 authorizes ListObjectsV2 as s3:ListBucket on the bucket, with the prefix asked for.
  'cloudformation:DescribeStacks': (s) => [{ action: 'cloudformation:DescribeStacks', resource: s.resolved.ref('AWS::StackId') }],
  'iot:Publish': (s) => [{ action: 'iot:Publish', resource: s.resolved.arn('iot', `topic/${s.outputs.DataTopic}`) }],
  'iot:GetThingShadow': (s) => [{ action: 'iot:GetThingShadow', resource: s.thingArn }],
  's3:ListObjectsV2': (s) => [{ action: 's3:ListBucket', resource: `arn:aws:s3:::${s.outputs.ArchiveBucketName}`, context: { 's3:prefix': s.outputs.ArchiveKeyPrefix } }],
  's3:GetObject': (s) => [{ action: 's3:GetObject', resource: `arn:aws:s3:::${s.outputs.ArchiveBucketName}/${s.outputs.ArchiveKeyPrefix}data/t/1-u.json` }],
  's3:DeleteObject': (s) => [{ action: 's3:DeleteObject', resource: `arn:aws:s3:::${s.outputs.ArchiveBucketName}/${s.outputs.ArchiveKeyPrefix}data/t/1-u.json` }],
  // The job commands (ops/jobs.ts). CreateJob is authorized on the job, each target and the template ("Actions, resources, and condition keys for AWS IoT").
  'iot:DescribeJobTemplate': (s) => [{ action: 'iot:DescribeJobTemplate', resource: s.jobTemplateArn }],
  'iot:CreateJob': (s) => [s.jobArn, s.thingArn, ...(s.thingGroupArn ? [s.thingGroupArn] : []), s.jobTemplateArn].map((resource) => ({ action: 'iot:CreateJob', resource })),
  'iot:DescribeJob': (s) => [{ action: 'iot:DescribeJob', resource: s.jobArn }],
  'iot:GetJobDocument': (s) => [{ action: 'iot:GetJobDocument', resource: s.jobArn }],
  // The release's upload (ops/release.ts), under the key of a package's hash.
  's3:PutObject': (s) => [{ action: 's3:PutObject', resource: `arn:aws:s3:::${s.outputs.ProgramArtifactsBucketName}/programs/${'ab'.repeat(32)}.tgz`, context: { 'aws:SecureTransport': 'true' } }],
  'iot:ListJobExecutionsForJob': (s) => [{ action: 'iot:ListJobExecutionsForJob', resource: s.jobArn }],
  'iot:CancelJob': (s) => [{ action: 'iot:CancelJob', resource: s.jobArn }],
  'iot:DescribeJobExecution': (s) => [s.jobArn, s.thingArn].map((resource) => ({ action: 'iot:DescribeJobExecution', resource })),
  'logs:FilterLogEvents': (s) => [{ action: 'logs:FilterLogEvents', resource: s.resolved.arn('logs', `log-group:${s.outputs.ErrorLogGroupName}`) }],
};

function kmsForSecret(scope: Scope, actions: string[]) {
  return actions.map((action) => ({
    action, resource: scope.keyArn, resourcePolicy: scope.keyPolicy,
    context: { 'kms:ViaService': `secretsmanager.${scope.resolved.region}.amazonaws.com`, 'kms:CallerAccount': scope.resolved.account },
  }));
}

function requestsFor(action: string, scope: Scope) {
  const model = REQUESTS[action];
  if (!model) throw new Error(`No request model for ${action}: add how AWS authorizes it (resource type, condition keys) to REQUESTS`);
  return model(scope);
}

describe.each(ENVIRONMENT_NAMES)('IAM of IotCore-%s, simulated', (name) => {
  const config = environments[name as keyof typeof environments] as { account?: string; region?: string };
  const app = buildApp(newApp({ env: name }, { validate: false }));
  const stack = app.node.findChild(`IotCore-${name}`) as IotCoreStack;
  // A workstation role that runs `iot-device bootstrap`, given access the way a user of the construct would.
  const reader = new iam.Role(stack, 'BootstrapReader', { assumedBy: new iam.AccountRootPrincipal() });
  stack.certificate.grantRead(reader);
  // A role that runs the fleet's operator commands, given access through the construct's grant.
  const operator = stack.fleet ? new iam.Role(stack, 'FleetOperator', { assumedBy: new iam.AccountRootPrincipal() }) : undefined;
  if (operator) stack.fleet!.grantOperator(operator);
  // A role that runs the job commands, given access through the stack's grant.
  const jobsOperator = new iam.Role(stack, 'JobsOperator', { assumedBy: new iam.AccountRootPrincipal() });
  stack.grantJobs(jobsOperator);
  const resolved = new ResolvedTemplate(Template.fromStack(stack).toJSON() as never, { account: config.account, region: config.region });
  const account = resolved.account;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  const [keyId] = resolved.ofType('AWS::KMS::Key');
  const [certificateId] = resolved.ofType('Custom::DeviceCertificate');
  const scope: Scope = {
    resolved,
    thingArn: resolved.getAtt(logicalId(stack.thing), 'Arn'),
    certificateArn: resolved.getAtt(certificateId, 'CertificateArn'),
    secretArn: resolved.getAtt(certificateId, 'SecretArn'),
    keyArn: resolved.getAtt(keyId, 'Arn'),
    keyPolicy: resolved.properties(keyId).KeyPolicy,
    outputs: Object.fromEntries(Object.entries(Template.fromStack(stack).toJSON().Outputs as Record<string, { Value: unknown }>).map(([key, output]) => [key, String(resolved.resolve(output.Value))])),
    jobArn: resolved.arn('iot', `job/iot-core-${name}-desired-state-20261201T000000`),
    jobTemplateArn: resolved.getAtt(logicalId(stack.jobTemplates['desired-state']), 'Arn'),
    thingGroupArn: stack.fleet ? resolved.getAtt(stack.getLogicalId(stack.fleet.thingGroup), 'Arn') : undefined,
  };
  const roleArn = (roleId: string) => resolved.getAtt(roleId, 'Arn');
  const asRole = (roleId: string) => async (request: Omit<IamRequest, 'principal' | 'identityPolicies'>): Promise<[string, string, Decision]> =>
    [request.action, request.resource, await simulate({ ...request, principal: roleArn(roleId), identityPolicies: resolved.rolePolicies(roleId, MANAGED_POLICIES), account })];
  const allowedAll = async (roleId: string, requests: Array<Omit<IamRequest, 'principal' | 'identityPolicies'>>) => {
    const decisions = await Promise.all(requests.map(asRole(roleId)));
    expect(decisions).toEqual(requests.map((request) => [request.action, request.resource, 'Allowed']));
  };
  const deniedAll = async (roleId: string, requests: Array<Omit<IamRequest, 'principal' | 'identityPolicies'>>) => {
    const decisions = await Promise.all(requests.map(asRole(roleId)));
    expect(decisions).toEqual(requests.map((request) => [request.action, request.resource, 'ImplicitlyDenied']));
  };
  const otherCertificate = `arn:aws:iot:${resolved.region}:999999999999:cert/${'f'.repeat(64)}`;
  const otherThing = resolved.arn('iot', 'thing/another-thing');
  const otherSecret = resolved.arn('secretsmanager', 'secret:another/secret-AbCdEf');
  const otherKey = resolved.arn('kms', 'key/00000000-0000-4000-8000-000000000000');

  describe.each([
    ['certificate', () => logicalId(stack.certificate.provider.handler.function.role as iam.Role)],
    ['shadow-defaults', () => logicalId(stack.shadowDefaults.handler.function.role as iam.Role)],
  ])('the %s handler', (folder, roleOf) => {
    test('may make every call its code makes, on the resource and with the context AWS evaluates', async () => {
      const actions = actionsCalledBy(folder);
      expect(actions.length).toBeGreaterThan(1);
      await allowedAll(roleOf(), actions.flatMap((action) => requestsFor(action, scope)));
    });
  });

  test('the shadow-defaults handler may put no other thing in a group, and the declared thing in no other group', async () => {
    const role = logicalId(stack.shadowDefaults.handler.function.role as iam.Role);
    await deniedAll(role, [
      { action: 'iot:AddThingToThingGroup', resource: otherThing },
      { action: 'iot:AddThingToThingGroup', resource: resolved.arn('iot', 'thinggroup/another-group') },
      { action: 'iot:RemoveThingFromThingGroup', resource: otherThing },
      ...(stack.fleet ? [] : [{ action: 'iot:AddThingToThingGroup', resource: scope.thingArn }]),
    ]);
  });

  test('the certificate handler may detach its certificate from a thing the template no longer names: after a rename, the previous certificate\'s clean-up', async () => {
    const role = logicalId(stack.certificate.provider.handler.function.role as iam.Role);
    await allowedAll(role, [{ action: 'iot:DetachThingPrincipal', resource: scope.certificateArn, context: { 'iot:thingArn': otherThing } }]);
  });

  test('the certificate handler may not touch another account\'s things or certificates, another secret or key, nor use the key directly', async () => {
    const role = logicalId(stack.certificate.provider.handler.function.role as iam.Role);
    await deniedAll(role, [
      { action: 'iot:DetachThingPrincipal', resource: scope.certificateArn, context: { 'iot:thingArn': `arn:aws:iot:${resolved.region}:999999999999:thing/another-thing` } },
      { action: 'iot:DeleteCertificate', resource: otherCertificate, account: '999999999999' },
      { action: 'secretsmanager:UpdateSecret', resource: otherSecret },
      { action: 'secretsmanager:GetSecretValue', resource: scope.secretArn },
      { action: 'kms:Decrypt', resource: scope.keyArn, resourcePolicy: scope.keyPolicy },
    ]);
  });

  test('the certificate handler may have Secrets Manager re-encrypt its secrets from a key the template no longer names, and only to the stack\'s key', async () => {
    const role = logicalId(stack.certificate.provider.handler.function.role as iam.Role);
    const viaSecretsManager = { 'kms:ViaService': `secretsmanager.${resolved.region}.amazonaws.com` };
    await allowedAll(role, [
      // The previous key, retained with the key policy CDK gives every key (the account decides through IAM).
      { action: 'kms:Decrypt', resource: otherKey, resourcePolicy: scope.keyPolicy, context: { ...viaSecretsManager, 'kms:CallerAccount': resolved.account } },
      { action: 'kms:Encrypt', resource: scope.keyArn, resourcePolicy: scope.keyPolicy, context: { ...viaSecretsManager, 'kms:CallerAccount': resolved.account } },
      { action: 'secretsmanager:ListSecrets', resource: '*' },
    ]);
    // Secrets Manager acts for the handler only on its own secrets, and it cannot move them to a key the template does not name.
    await deniedAll(role, [
      { action: 'secretsmanager:UpdateSecret', resource: otherSecret },
      { action: 'secretsmanager:GetSecretValue', resource: scope.secretArn },
      { action: 'kms:Decrypt', resource: otherKey, resourcePolicy: scope.keyPolicy },
      { action: 'kms:Encrypt', resource: otherKey, resourcePolicy: scope.keyPolicy, context: viaSecretsManager },
      { action: 'kms:GenerateDataKey', resource: otherKey, resourcePolicy: scope.keyPolicy, context: viaSecretsManager },
    ]);
  });

  test('the shadow-defaults handler may write only its own thing\'s shadow', async () => {
    const role = logicalId(stack.shadowDefaults.handler.function.role as iam.Role);
    await deniedAll(role, [
      { action: 'iot:UpdateThingShadow', resource: otherThing },
      { action: 'iot:DeleteThingShadow', resource: scope.thingArn },
    ]);
  });

  test('grantRead lets the bootstrap caller read the secret and decrypt it through Secrets Manager only', async () => {
    const role = logicalId(reader);
    await allowedAll(role, requestsFor('secretsmanager:GetSecretValue', scope));
    await deniedAll(role, [
      { action: 'secretsmanager:GetSecretValue', resource: otherSecret },
      { action: 'secretsmanager:PutSecretValue', resource: scope.secretArn },
      { action: 'kms:Decrypt', resource: scope.keyArn, resourcePolicy: scope.keyPolicy },
    ]);
  });

  describe('every Lambda function (handlers, provider frameworks)', () => {
    const functions = resolved.ofType('AWS::Lambda::Function')
      .map((id) => ({ id, template: resolved.resource(id).Properties! }))
      .filter(({ template }) => template.LoggingConfig?.LogGroup);

    // Two custom-resource handlers (every certificate's, the shadow defaults') with their provider frameworks; a fleet adds its
    // hook, and the framework its claim certificate was deployed with (its ServiceToken cannot change).
    const expected = stack.fleet ? 6 : 4;

    test(`there are ${expected} functions, each logging to a group of its own`, () => {
      expect(functions).toHaveLength(expected);
      expect(new Set(functions.map(({ template }) => template.LoggingConfig.LogGroup.Ref)).size).toBe(expected);
    });

    test('its role may write its own log group and no other', async () => {
      for (const { template } of functions) {
        const role = template.Role['Fn::GetAtt'][0];
        const group = resolved.ref(template.LoggingConfig.LogGroup.Ref);
        const stream = resolved.arn('logs', `log-group:${group}:log-stream:2026/11/23/[$LATEST]abc`);
        await allowedAll(role, [{ action: 'logs:CreateLogStream', resource: stream }, { action: 'logs:PutLogEvents', resource: stream }]);
        await deniedAll(role, [{ action: 'logs:PutLogEvents', resource: resolved.arn('logs', 'log-group:another-group:log-stream:x') }]);
      }
    });

    test('a provider framework may invoke only its own handler', async () => {
      const frameworks = functions.filter(({ template }) => template.Environment?.Variables?.USER_ON_EVENT_FUNCTION_ARN);
      expect(frameworks).toHaveLength(stack.fleet ? 3 : 2);
      for (const { template } of frameworks) {
        const target = resolved.resolve(template.Environment.Variables.USER_ON_EVENT_FUNCTION_ARN);
        const role = template.Role['Fn::GetAtt'][0];
        await allowedAll(role, [{ action: 'lambda:InvokeFunction', resource: target }]);
        await deniedAll(role, [{ action: 'lambda:InvokeFunction', resource: resolved.arn('lambda', 'function:another-function') }]);
      }
    });
  });

  const ruleWith = (action: string) => resolved.ofType('AWS::IoT::TopicRule').find((id) => resolved.resource(id).Properties!.TopicRulePayload.Actions[0][action])!;

  describe('the archive rule\'s role', () => {
    const ruleId = ruleWith('S3');
    const rule = resolved.properties(ruleId);
    const payload = rule.TopicRulePayload;
    const s3 = payload.Actions[0].S3;
    const roleId = resolved.resource(ruleId).Properties!.TopicRulePayload.Actions[0].S3.RoleArn['Fn::GetAtt'][0];
    const bucketId = resolved.resource(ruleId).Properties!.TopicRulePayload.Actions[0].S3.BucketName.Ref;
    const bucketPolicy = resolved.properties(resolved.ofType('AWS::S3::BucketPolicy').find((id) => resolved.resource(id).Properties!.Bucket.Ref === bucketId)!).PolicyDocument;
    const ruleArn = resolved.arn('iot', `rule/${rule.RuleName}`);
    const key = substitute(s3.Key, { topic: `data/${rule.RuleName}`, timestampMs: 1_763_890_000_000, newUuid: () => '0f8e2f5c-9b4a-4e0f-a1d2-3c4b5a6d7e8f' });
    const object = (bucket: string, objectKey: string) => `arn:aws:s3:::${bucket}/${objectKey}`;
    const overTls = { 'aws:SecureTransport': 'true' };

    test('may be assumed by AWS IoT for this rule only', async () => {
      const assume = (sourceArn: string) => simulate({
        principal: 'iot.amazonaws.com', action: 'sts:AssumeRole', resource: roleArn(roleId), account,
        resourcePolicy: resolved.properties(roleId).AssumeRolePolicyDocument,
        context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': account },
      });
      expect(await assume(ruleArn)).toBe('Allowed');
      expect(await assume(resolved.arn('iot', 'rule/another_rule'))).not.toBe('Allowed');
    });

    test('may put an object under a key the rule\'s key template produces, and nowhere else', async () => {
      expect(key).toMatch(new RegExp(`^${(environments as Record<string, { archiveKeyPrefix: string }>)[name].archiveKeyPrefix}`));
      await allowedAll(roleId, [{ action: 's3:PutObject', resource: object(s3.BucketName, key), resourcePolicy: bucketPolicy, context: overTls }]);
      await deniedAll(roleId, [
        { action: 's3:PutObject', resource: object(s3.BucketName, 'elsewhere/x.json'), resourcePolicy: bucketPolicy, context: overTls },
        { action: 's3:PutObject', resource: object('another-bucket', key), account: ACCOUNT },
        { action: 's3:GetObject', resource: object(s3.BucketName, key), resourcePolicy: bucketPolicy, context: overTls },
      ]);
    });

    test('is refused by the bucket without TLS', async () => {
      const decision = await simulate({
        principal: roleArn(roleId), identityPolicies: resolved.rolePolicies(roleId), account,
        action: 's3:PutObject', resource: object(s3.BucketName, key), resourcePolicy: bucketPolicy, context: { 'aws:SecureTransport': 'false' },
      });
      expect(decision).toBe('ExplicitlyDenied');
    });

    test('may make the CloudWatch Logs calls of the error action (CreateLogStream, DescribeLogStreams, PutLogEvents) on its log group only', async () => {
      const group = payload.ErrorAction.CloudwatchLogs.LogGroupName;
      const stream = resolved.arn('logs', `log-group:${group}:log-stream:${rule.RuleName}`);
      await allowedAll(roleId, [
        { action: 'logs:CreateLogStream', resource: stream },
        { action: 'logs:DescribeLogStreams', resource: resolved.arn('logs', `log-group:${group}`) },
        { action: 'logs:PutLogEvents', resource: stream },
      ]);
      await deniedAll(roleId, [{ action: 'logs:PutLogEvents', resource: resolved.arn('logs', 'log-group:another-group:log-stream:x') }]);
    });
  });

  describe('the liveness rule\'s role', () => {
    const ruleId = ruleWith('CloudwatchMetric');
    const rule = resolved.properties(ruleId);
    const { RoleArn, MetricNamespace } = resolved.resource(ruleId).Properties!.TopicRulePayload.Actions[0].CloudwatchMetric;
    const roleId = RoleArn['Fn::GetAtt'][0];

    test('may be assumed by AWS IoT for this rule only', async () => {
      const assume = (sourceArn: string) => simulate({
        principal: 'iot.amazonaws.com', action: 'sts:AssumeRole', resource: roleArn(roleId), account,
        resourcePolicy: resolved.properties(roleId).AssumeRolePolicyDocument, context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': account },
      });
      expect(await assume(resolved.arn('iot', `rule/${rule.RuleName}`))).toBe('Allowed');
      expect(await assume(resolved.arn('iot', 'rule/another_rule'))).not.toBe('Allowed');
    });

    test('may put metric data in its own namespace only', async () => {
      await allowedAll(roleId, [{ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': resolved.resolve(MetricNamespace) } }]);
      await deniedAll(roleId, [{ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'AWS/IoT' } }]);
    });
  });

  describe('the smoke check\'s managed policy', () => {
    const policyId = logicalId(stack.smokeCheckPolicy!);
    const operator = resolved.arn('iam', 'role/operator', '');
    const asOperator = (request: Omit<IamRequest, 'principal' | 'identityPolicies'>) => simulate({
      ...request, principal: operator, account, identityPolicies: [{ name: policyId, policy: resolved.properties(policyId).PolicyDocument }],
    });

    test('allows every call the smoke check makes, on the resource and with the context AWS evaluates', async () => {
      const actions = actionsCalledBy('ops/smoke-check.ts');
      expect(actions).toEqual(['cloudformation:DescribeStacks', 'iot:GetThingShadow', 'iot:Publish', 'logs:FilterLogEvents', 's3:DeleteObject', 's3:GetObject', 's3:ListObjectsV2']);
      const requests = actions.flatMap((action) => requestsFor(action, scope));
      expect(await Promise.all(requests.map(asOperator))).toEqual(requests.map(() => 'Allowed'));
    });

    test('allows nothing beyond: other topics, shadow updates, other prefixes, other log groups, other stacks', async () => {
      const bucket = `arn:aws:s3:::${scope.outputs.ArchiveBucketName}`;
      const denied = [
        { action: 'iot:Publish', resource: resolved.arn('iot', 'topic/data/another-thing') },
        { action: 'iot:Publish', resource: resolved.arn('iot', `topic/$aws/things/${scope.outputs.ThingName}/shadow/update`) },
        { action: 'iot:UpdateThingShadow', resource: scope.thingArn },
        { action: 's3:ListBucket', resource: bucket, context: { 's3:prefix': 'errors/' } },
        { action: 's3:GetObject', resource: `${bucket}/elsewhere/x.json` },
        { action: 's3:PutObject', resource: `${bucket}/${scope.outputs.ArchiveKeyPrefix}x.json` },
        { action: 'logs:FilterLogEvents', resource: resolved.arn('logs', 'log-group:another-group') },
        { action: 'cloudformation:DescribeStacks', resource: resolved.arn('cloudformation', 'stack/Another/00000000-0000-4000-8000-000000000000') },
      ];
      expect(await Promise.all(denied.map(asOperator))).toEqual(denied.map(() => 'ImplicitlyDenied'));
    });

    if (stack.fleet) test('with --thing, a fleet device\'s data topic and shadow, and no other environment\'s', async () => {
      const fleetDevice = `${stack.fleet!.thingNamePrefix}SN0001`;
      const requests = actionsCalledBy('ops/smoke-check.ts').flatMap((action) => requestsFor(action, {
        ...scope, thingArn: resolved.arn('iot', `thing/${fleetDevice}`), outputs: { ...scope.outputs, DataTopic: `data/${fleetDevice}` },
      }));
      expect(await Promise.all(requests.map(asOperator))).toEqual(requests.map(() => 'Allowed'));
      const denied = [
        { action: 'iot:Publish', resource: resolved.arn('iot', 'topic/data/pi-stg-01') },
        { action: 'iot:GetThingShadow', resource: resolved.arn('iot', 'thing/pi-stg-01') },
        { action: 'iot:Publish', resource: resolved.arn('iot', `topic/$aws/things/${fleetDevice}/shadow/update`) },
      ];
      expect(await Promise.all(denied.map(asOperator))).toEqual(denied.map(() => 'ImplicitlyDenied'));
    });
  });

  // Only environments that declare a fleet have these resources.
  describe('the job commands (npm run fleet -- job), through IotCoreStack.grantJobs', () => {
    const jobsRole = () => logicalId(jobsOperator);

    test('may make every call the commands make (job and release): on a job of the environment, its template, the declared thing and the fleet\'s group, a package', async () => {
      const actions = [...new Set([...actionsCalledBy('scripts/fleet-job.ts'), ...actionsCalledBy('scripts/fleet-release.ts')])].sort();
      expect(actions).toEqual(['cloudformation:DescribeStacks', 'iot:CancelJob', 'iot:CreateJob', 'iot:DescribeJob', 'iot:DescribeJobExecution', 'iot:DescribeJobTemplate', 'iot:GetJobDocument', 'iot:ListJobExecutionsForJob', 's3:PutObject']);
      await allowedAll(jobsRole(), actions.flatMap((action) => requestsFor(action, scope)));
      if (stack.fleet) {
        const fleetThing = resolved.arn('iot', `thing/${stack.fleet.thingNamePrefix}ABCD1234`);
        await allowedAll(jobsRole(), [{ action: 'iot:CreateJob', resource: fleetThing }, { action: 'iot:DescribeJobExecution', resource: fleetThing }]);
      }
    });

    test('may not make, read or cancel another environment\'s jobs, target a thing outside the environment, or read another template', async () => {
      const otherJob = resolved.arn('iot', `job/iot-core-${name === 'prod' ? 'dev' : 'prod'}-desired-state-20261201T000000`);
      await deniedAll(jobsRole(), [
        { action: 'iot:CreateJob', resource: otherJob },
        { action: 'iot:DescribeJob', resource: otherJob },
        { action: 'iot:GetJobDocument', resource: otherJob },
        { action: 'iot:CancelJob', resource: otherJob },
        { action: 'iot:ListJobExecutionsForJob', resource: otherJob },
        { action: 'iot:CreateJob', resource: otherThing },
        { action: 'iot:CreateJob', resource: resolved.arn('iot', 'thinggroup/another-group') },
        { action: 'iot:DescribeJobExecution', resource: otherThing },
        { action: 'iot:DescribeJobTemplate', resource: resolved.arn('iot', 'jobtemplate/another-template') },
        { action: 'iot:DeleteJob', resource: scope.jobArn },
        { action: 'iot:UpdateThingShadow', resource: scope.thingArn },
      ]);
    });
  });

  describe('device program releases: the artifacts\' presign role and the job commands\' grant', () => {
    const presignRole = () => logicalId(stack.programs.presignRole);
    const bucketId = () => stack.getLogicalId(stack.programs.bucket.node.defaultChild as never);
    const bucketName = () => String(resolved.ref(bucketId()));
    const bucketPolicy = () => resolved.properties(resolved.ofType('AWS::S3::BucketPolicy').find((id) => resolved.resource(id).Properties!.Bucket.Ref === bucketId())!).PolicyDocument;
    const object = (key: string, bucket = bucketName()) => `arn:aws:s3:::${bucket}/${key}`;
    const overTls = { 'aws:SecureTransport': 'true' };
    const release = `programs/${'ab'.repeat(32)}.tgz`;

    test('AWS IoT of this account may assume the presign role; of another account, not', async () => {
      const assume = (sourceAccount: string) => simulate({
        principal: 'iot.amazonaws.com', action: 'sts:AssumeRole', resource: roleArn(presignRole()), account,
        resourcePolicy: resolved.properties(presignRole()).AssumeRolePolicyDocument, context: { 'aws:SourceAccount': sourceAccount },
      });
      expect(await assume(account)).toBe('Allowed');
      expect(await assume('999999999999')).not.toBe('Allowed');
    });

    test('the presign role may read a package over TLS, and nothing else: no other key, bucket, write or listing', async () => {
      await allowedAll(presignRole(), [{ action: 's3:GetObject', resource: object(release), resourcePolicy: bucketPolicy(), context: overTls }]);
      await deniedAll(presignRole(), [
        { action: 's3:GetObject', resource: object('elsewhere/x.tgz'), resourcePolicy: bucketPolicy(), context: overTls },
        { action: 's3:GetObject', resource: object(`${scope.outputs.ArchiveKeyPrefix}data/t/1-u.json`, scope.outputs.ArchiveBucketName) },
        { action: 's3:PutObject', resource: object(release), resourcePolicy: bucketPolicy(), context: overTls },
        { action: 's3:ListBucket', resource: `arn:aws:s3:::${bucketName()}`, resourcePolicy: bucketPolicy(), context: overTls },
      ]);
      const withoutTls = await simulate({
        principal: roleArn(presignRole()), identityPolicies: resolved.rolePolicies(presignRole()), account,
        action: 's3:GetObject', resource: object(release), resourcePolicy: bucketPolicy(), context: { 'aws:SecureTransport': 'false' },
      });
      expect(withoutTls).toBe('ExplicitlyDenied');
    });

    test('the job commands may upload a package and pass the presign role to AWS IoT, and no more', async () => {
      const jobsRole = logicalId(jobsOperator);
      const presignArn = roleArn(presignRole());
      await allowedAll(jobsRole, [
        { action: 's3:PutObject', resource: object(release), resourcePolicy: bucketPolicy(), context: overTls },
        { action: 'iam:PassRole', resource: presignArn, context: { 'iam:PassedToService': 'iot.amazonaws.com' } },
        { action: 'iot:CreateJob', resource: resolved.getAtt(logicalId(stack.jobTemplates['update-program']), 'Arn') },
      ]);
      await deniedAll(jobsRole, [
        { action: 's3:PutObject', resource: object('elsewhere/x.tgz'), resourcePolicy: bucketPolicy(), context: overTls },
        { action: 's3:DeleteObject', resource: object(release), resourcePolicy: bucketPolicy(), context: overTls },
        { action: 's3:PutObject', resource: object(`${scope.outputs.ArchiveKeyPrefix}x.json`, scope.outputs.ArchiveBucketName) },
        { action: 'iam:PassRole', resource: presignArn, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
        { action: 'iam:PassRole', resource: resolved.arn('iam', 'role/another-role').replace(`:${resolved.region}:`, '::'), context: { 'iam:PassedToService': 'iot.amazonaws.com' } },
      ]);
    });
  });

  if (stack.fleet) describe('the fleet', () => {
    const fleet = stack.fleet!;
    const provisioningRole = logicalId(fleet.provisioningRole);
    const templateArn = resolved.arn('iot', `provisioningtemplate/${fleet.templateName}`);
    const fleetThing = resolved.arn('iot', `thing/${fleet.thingNamePrefix}ABCD1234`);
    const [claimId] = resolved.ofType('Custom::DeviceCertificate').filter((id) => !resolved.resource(id).Properties!.ThingName);
    const claimCertificate = resolved.getAtt(claimId, 'CertificateArn');
    const newCertificate = resolved.arn('iot', `cert/${'e'.repeat(64)}`);

    test('AWS IoT may assume the provisioning role in this account only', async () => {
      const assume = (sourceAccount: string) => simulate({
        principal: 'iot.amazonaws.com', action: 'sts:AssumeRole', resource: roleArn(provisioningRole), account,
        resourcePolicy: resolved.properties(provisioningRole).AssumeRolePolicyDocument, context: { 'aws:SourceAccount': sourceAccount },
      });
      expect([await assume(account), await assume('999999999999')]).toEqual(['Allowed', 'ImplicitlyDenied']);
    });

    test('the provisioning role is AWS\'s documented form, the managed policy AWSIoTThingsRegistration, and nothing else', () => {
      expect(resolved.properties(provisioningRole).ManagedPolicyArns.map((arn: unknown) => resolved.resolve(arn))).toEqual([thingsRegistration.arn]);
      expect(resolved.rolePolicies(provisioningRole, MANAGED_POLICIES).map(({ name }) => name)).toEqual([thingsRegistration.arn]);
    });

    test('the provisioning role may do all the template needs: create the thing and the device\'s HTTPS policy, activate and attach its certificate, attach the policies', async () => {
      await allowedAll(provisioningRole, [
        { action: 'iot:CreateThing', resource: fleetThing },
        { action: 'iot:DescribeThing', resource: fleetThing },
        { action: 'iot:UpdateThing', resource: fleetThing },
        { action: 'iot:DescribeCertificate', resource: newCertificate },
        { action: 'iot:UpdateCertificate', resource: newCertificate },
        { action: 'iot:AttachPolicy', resource: newCertificate },
        { action: 'iot:AttachThingPrincipal', resource: newCertificate, context: { 'iot:thingArn': fleetThing } },
        { action: 'iot:CreatePolicy', resource: resolved.arn('iot', `policy/${'a'.repeat(64)}`) },
        { action: 'iot:GetPolicy', resource: resolved.arn('iot', `policy/${resolved.ref(logicalId(stack.policy))}`) },
      ]);
    });

    test('the provisioning role may not delete, publish or read secrets', async () => {
      await deniedAll(provisioningRole, [
        { action: 'iot:DeleteThing', resource: fleetThing },
        { action: 'iot:DeleteCertificate', resource: newCertificate },
        { action: 'iot:Publish', resource: resolved.arn('iot', `topic/data/${fleet.thingNamePrefix}ABCD1234`) },
        { action: 'secretsmanager:GetSecretValue', resource: resolved.getAtt(claimId, 'SecretArn') },
      ]);
    });

    test('only AWS IoT of this account may invoke the hook, whatever IoT ARN it presents', async () => {
      const [permission] = resolved.ofType('AWS::Lambda::Permission').map((id) => resolved.properties(id));
      // The function's resource policy, as Lambda writes it from AddPermission.
      const resourcePolicy = { Version: '2012-10-17', Statement: [{
        Effect: 'Allow', Principal: { Service: permission.Principal }, Action: permission.Action, Resource: permission.FunctionName,
        Condition: { StringEquals: { 'AWS:SourceAccount': permission.SourceAccount }, ArnLike: { 'AWS:SourceArn': permission.SourceArn } },
      }] };
      const invoke = (sourceArn: string, sourceAccount = account) => simulate({
        principal: 'iot.amazonaws.com', action: 'lambda:InvokeFunction', resource: permission.FunctionName, account, resourcePolicy,
        context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': sourceAccount },
      });
      expect(permission.SourceArn).toBe(`arn:aws:iot:${resolved.region}:${account}:*`);
      expect([
        await invoke(templateArn), await invoke(resolved.arn('iot', 'thing/' + fleet.thingNamePrefix + 'ABCD1234')),
        await invoke(`arn:aws:iot:${resolved.region}:999999999999:provisioningtemplate/${fleet.templateName}`, '999999999999'),
      ]).toEqual(['Allowed', 'Allowed', 'ImplicitlyDenied']);
    });

    test('the hook may make every call its code makes on a fleet thing and its certificates', async () => {
      const hookRole = logicalId(fleet.hook.role as iam.Role);
      const actions = actionsCalledBy('pre-provisioning-hook');
      expect(actions).toEqual(expect.arrayContaining(['iot:DescribeThing', 'iot:ListThingPrincipals', 'iot:UpdateCertificate', 'iot:DetachThingPrincipal', 'iot:UpdateThing']));
      await allowedAll(hookRole, actions.flatMap((action) => requestsFor(action, { ...scope, thingArn: fleetThing, certificateArn: newCertificate })));
    });

    describe('the operator commands (npm run fleet), through FleetProvisioning.grantOperator', () => {
      const asOperator = (request: Omit<IamRequest, 'principal' | 'identityPolicies'>) => simulate({
        ...request, principal: roleArn(logicalId(operator!)), identityPolicies: resolved.rolePolicies(logicalId(operator!)), account,
      });

      test('may make every call the commands make, on a fleet thing, its certificates and a new claim certificate', async () => {
        // ops/fleet.ts, plus the calls of the hook's retireCertificates it imports, and DescribeStacks of scripts/fleet.ts.
        const actions = [...new Set([...actionsCalledBy('ops/fleet.ts'), 'iot:ListThingPrincipals', 'iot:UpdateCertificate', 'iot:DetachThingPrincipal', 'cloudformation:DescribeStacks'])];
        expect(actions).toEqual(expect.arrayContaining(['iot:AttachPolicy', 'iot:CreateKeysAndCertificate', 'iot:DeleteThing', 'iot:UpdateCertificate', 'iot:UpdateThing']));
        const requests = actions.flatMap((action) => requestsFor(action, { ...scope, thingArn: fleetThing, certificateArn: newCertificate }));
        expect(await Promise.all(requests.map(asOperator))).toEqual(requests.map(() => 'Allowed'));
      });

      test('may not revoke, unmark or delete the declared thing, nor read the claim key', async () => {
        const requests = [
          { action: 'iot:DeleteThing', resource: scope.thingArn },
          { action: 'iot:UpdateThing', resource: scope.thingArn },
          { action: 'iot:DetachThingPrincipal', resource: scope.certificateArn, context: { 'iot:thingArn': scope.thingArn } },
          { action: 'secretsmanager:GetSecretValue', resource: resolved.getAtt(claimId, 'SecretArn') },
        ];
        expect(await Promise.all(requests.map(asOperator))).toEqual(requests.map(() => 'ImplicitlyDenied'));
      });
    });

    test('the hook may not create, read, unmark or detach the declared thing or a thing outside the fleet, nor delete anything', async () => {
      const hookRole = logicalId(fleet.hook.role as iam.Role);
      await deniedAll(hookRole, [
        { action: 'iot:CreateThing', resource: scope.thingArn },
        { action: 'iot:CreateThing', resource: resolved.arn('iot', 'thing/elsewhere-01') },
        { action: 'iot:DescribeThing', resource: scope.thingArn },
        { action: 'iot:UpdateThing', resource: scope.thingArn },
        { action: 'iot:DetachThingPrincipal', resource: scope.certificateArn, context: { 'iot:thingArn': scope.thingArn } },
        { action: 'iot:DeleteThing', resource: fleetThing },
        { action: 'iot:DeleteCertificate', resource: newCertificate },
      ]);
    });

    test('the stack\'s one certificate handler may make its calls on the claim certificate and its secret too', async () => {
      expect(fleet.claimCertificate.provider).toBe(stack.certificate.provider);
      const role = logicalId(fleet.claimCertificate.provider.handler.function.role as iam.Role);
      const claimScope = { ...scope, certificateArn: claimCertificate, secretArn: resolved.getAtt(claimId, 'SecretArn') };
      await allowedAll(role, actionsCalledBy('certificate').flatMap((action) => requestsFor(action, claimScope)));
    });
  });

  test('every role of the template is one of those simulated above, named one by one, or CDK\'s own bucket-emptying provider: a new role fails here', () => {
    const handlers = [stack.certificate.provider.handler, stack.shadowDefaults.handler, ...(stack.fleet ? [stack.fleet.claimCertificate.provider.handler] : [])];
    const expected = [
      ...handlers.flatMap((handler) => [handler.role, ...handler.providerRoles].map(logicalId)),
      logicalId(reader), ...(operator ? [logicalId(operator)] : []), logicalId(jobsOperator),
      logicalId(stack.rule.role), logicalId(stack.monitoring.node.findChild('LivenessRole') as iam.Role), logicalId(stack.programs.presignRole),
      ...(stack.fleet ? [logicalId(stack.fleet.provisioningRole), logicalId(stack.fleet.hook.role as iam.Role)] : []),
      // CDK's own provider that empties the buckets on delete (RemovalPolicy.DESTROY), not a role of this project's code.
      ...resolved.ofType('AWS::IAM::Role').filter((id) => id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderRole')),
    ];
    expect(resolved.ofType('AWS::IAM::Role').sort()).toEqual([...new Set(expected)].sort());
  });

  test('a request the simulator cannot evaluate fails with its message (unknown action, wrong resource type)', async () => {
    await expect(simulate({ principal: roleArn(logicalId(reader)), action: 'iot:NoSuchAction', resource: '*' })).rejects.toThrow(/invalid\.action/);
    await expect(simulate({ principal: roleArn(logicalId(reader)), action: 'iot:DetachThingPrincipal', resource: scope.thingArn })).rejects.toThrow(/no\.resource\.types/);
  });

  test('resolves in the account and region of the environment', () => {
    expect([resolved.account, resolved.region]).toEqual([config.account ?? ACCOUNT, config.region ?? REGION]);
  });
});
