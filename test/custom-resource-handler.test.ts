import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CustomResourceHandler } from '../lib/custom-resource-handler';
import { HANDLER_RUNTIME } from '../lib/handler-function';
import { actionsCalledBy } from './setup/handler-actions';
import { synthEnvironment } from './setup/synth';

const { stack, template } = synthEnvironment('dev');
const assembly = stack.node.root as unknown as { outdir: string };
const handlers: Array<[string, CustomResourceHandler]> = [
  ['certificate', stack.certificate.provider.handler],
  ['shadow-defaults', stack.shadowDefaults.handler],
];

describe.each(handlers)('%s handler', (folder, handler) => {
  test('its bundle loads in Node and runs the handler of its own folder', async () => {
    // The asset folder of the function's code, as the template names it (S3Key = <asset hash>.zip).
    const { S3Key } = template.toJSON().Resources[Stack.of(handler).getLogicalId(handler.function.node.defaultChild as lambda.CfnFunction)].Properties.Code;
    const bundle = path.join(assembly.outdir, `asset.${String(S3Key).replace(/\.zip$/, '')}`, 'index.js');
    const code = fs.readFileSync(bundle, 'utf8');
    // Each handler's own error text: the SDK clients in both bundles share command names.
    const own = folder === 'certificate' ? 'Could not store the new certificate' : 'Could not write the desired state';
    const other = folder === 'certificate' ? 'Could not write the desired state' : 'Could not store the new certificate';
    expect({ own: code.includes(own), other: code.includes(other) }).toEqual({ own: true, other: false });
    // The bundle runs: a Delete that needs no AWS call answers with its physical ID.
    const props = folder === 'certificate' ? { ThingName: 't', PolicyName: 'p', SecretNamePrefix: 's', SecretRecoveryDays: '0' } : { ThingName: 't', ClearOnDelete: 'false' };
    const event = { RequestType: 'Delete', RequestId: 'r', LogicalResourceId: 'L', PhysicalResourceId: 'placeholder', ResourceProperties: props };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler: bundled } = require(bundle);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    await expect(bundled(event, { getRemainingTimeInMillis: () => 60_000 })).resolves.toEqual({ PhysicalResourceId: 'placeholder' });
    log.mockRestore();
  });

  test('runs on the newest Node.js runtime Lambda offers in this aws-cdk-lib, with the bundled entry point', () => {
    // Read from aws-cdk-lib's own list, not from the constant under test: a stale runtime fails here.
    const newestNode = Object.getOwnPropertyNames(lambda.Runtime).map((name) => (lambda.Runtime as unknown as Record<string, unknown>)[name]).filter((runtime): runtime is lambda.Runtime => runtime instanceof lambda.Runtime
      && /^nodejs\d+\.x$/.test(runtime.name) && !runtime.isVariable)
      .sort((a, b) => Number(b.name.match(/\d+/)![0]) - Number(a.name.match(/\d+/)![0]))[0];
    expect(HANDLER_RUNTIME.name).toBe(newestNode.name);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Role: { 'Fn::GetAtt': [Stack.of(handler).getLogicalId(handler.function.role!.node.defaultChild as any), 'Arn'] },
    });
    expect((handler.function.node.defaultChild as lambda.CfnFunction).timeout).toBeGreaterThan(30);
  });

  test('its role allows exactly the calls the handler makes, plus writing its own logs', () => {
    const roleId = Stack.of(handler).getLogicalId(handler.function.role!.node.defaultChild as any);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId));
    const actions = policies.flatMap((p: any) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    const apiActions = actions.filter((a: string) => !a.startsWith('logs:') && !a.startsWith('kms:')).sort();
    expect(apiActions).toEqual(actionsCalledBy(folder));
    expect(actions.filter((a: string) => a.startsWith('logs:')).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    // No managed policy: AWSLambdaBasicExecutionRole would allow writing to every log group.
    const role = template.findResources('AWS::IAM::Role')[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

test('the certificate handler may use the secret key only through Secrets Manager', () => {
  const roleId = stack.getLogicalId(stack.certificate.provider.handler.function.role!.node.defaultChild as any);
  const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId)) as any;
  const kms = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'EncryptCertificateSecrets');
  expect(kms.Action).toEqual(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);
  expect(kms.Resource).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(stack.certificate.encryptionKey.node.defaultChild as any), 'Arn'] });
  expect(kms.Condition).toEqual({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
});
