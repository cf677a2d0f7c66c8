import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { bootstrapClaimKit, bootstrapKit, describeKit, outputsFromFile, outputsFromStack } from '../../device/src/bootstrap';
import { DeviceError } from '../../device/src/errors';
import { AMAZON_ROOT_CA_PATH, loadKit } from '../../device/src/kit';
import { parseSampleArguments, shellWords } from './mqtt5-pubsub-sample';

const secrets = mockClient(SecretsManagerClient);
const cloudFormation = mockClient(CloudFormationClient);
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iot/IotCore-dev/certificate-AbCdEf';
const OUTPUTS = {
  IotDataEndpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com', ThingName: 'pi-dev-01', ClientId: 'pi-dev-01', DataTopic: 'data/pi-dev-01',
  CertificateArn: 'arn:aws:iot:eu-west-1:123456789012:cert/abc', CertificateId: 'abc', CertificateSecretArn: SECRET_ARN,
  Region: 'eu-west-1', ShadowName: 'classic', ArchiveBucketName: 'bucket', ArchiveRuleName: 'archive_pi_dev_01',
};
const CERT = '-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN RSA PRIVATE KEY-----\nKEY\n-----END RSA PRIVATE KEY-----\n';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bootstrap-'));
  secrets.reset();
  cloudFormation.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: JSON.stringify({ certificateId: 'abc', certificateArn: 'arn', certificatePem: CERT, privateKey: KEY }) });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeOutputs(content: unknown): string {
  const file = path.join(dir, 'outputs.json');
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('iot-device bootstrap', () => {
  test('writes the kit from an outputs file and the secret: settings, certificate, key 0600, Amazon Root CA 1', async () => {
    const outputs = outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS, 'IotCore-stg': { ...OUTPUTS, ThingName: 'pi-stg-01' } }), 'dev');
    const kit = await bootstrapKit(outputs, new SecretsManagerClient({}), path.join(dir, 'kit'), false);

    expect(JSON.parse(fs.readFileSync(path.join(dir, 'kit', 'device.json'), 'utf8'))).toEqual({
      endpoint: OUTPUTS.IotDataEndpoint, port: 8883, httpsPort: 8443, clientId: 'pi-dev-01', thingName: 'pi-dev-01',
      dataTopic: 'data/pi-dev-01', shadowName: 'classic', region: 'eu-west-1', caFile: 'AmazonRootCA1.pem',
    });
    expect(fs.readFileSync(kit.certificatePath, 'utf8')).toBe(CERT);
    expect(fs.readFileSync(kit.privateKeyPath, 'utf8')).toBe(KEY);
    expect(fs.statSync(kit.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(kit.caPath, 'utf8')).toBe(fs.readFileSync(AMAZON_ROOT_CA_PATH, 'utf8'));
    expect(fs.readFileSync(kit.caPath, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\nMIIDQTCCAimgAwIBAgITBmyfz5m/);
    expect(loadKit(kit.dir, {}, {})).toEqual(kit);
  });

  test('prints the six facts and the equivalent mqtt5_pubsub and curl commands', async () => {
    const kit = await bootstrapKit(outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS })), new SecretsManagerClient({}), path.join(dir, 'kit'), false);
    const text = describeKit(kit);
    for (const fact of [OUTPUTS.IotDataEndpoint, 'client ID    pi-dev-01', 'data topic   data/pi-dev-01', 'certificate.pem.crt', 'private.pem.key (mode 600)', 'AmazonRootCA1.pem']) {
      expect(text).toContain(fact);
    }
    expect(text).toMatch(/^  mqtt5_pubsub --endpoint abc123-ats\.iot\.eu-west-1\.amazonaws\.com --port_override 8883 --cert \S+certificate\.pem\.crt --key \S+private\.pem\.key --ca_file \S+AmazonRootCA1\.pem --client_id pi-dev-01 --topic echo\/pi-dev-01 --message 'hello from pi-dev-01, message ' --count 1$/m);
    // The sample trusts only the system store, which must hold Amazon Root CA 1, as ca-certificates' bundle does.
    expect(text).toContain('which must hold Amazon Root CA 1: ca-certificates\' bundle does. Check with: iot-device --kit');
    expect(text).toContain('It archives nothing');
    expect(text).not.toContain('sudo cp');
    expect(text).toContain("'https://abc123-ats.iot.eu-west-1.amazonaws.com:8443/topics/data%2Fpi-dev-01?qos=1'");
    expect(text).not.toContain('KEY');
  });

  test('the printed lines are shell-safe: a kit folder and a client ID a shell would read otherwise come back as they are', async () => {
    const kitDir = path.join(dir, 'my kit $(touch pwned)');
    const kit = await bootstrapKit(outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS })), new SecretsManagerClient({}), kitDir, false, { clientId: "pi'dev $(id)" });
    const lines = describeKit(kit, `{"name":"s3","q":"it's"}`).split('\n').map((line) => line.trim());
    const sample = shellWords(lines.find((line) => line.startsWith('mqtt5_pubsub '))!);
    // Paths as from the folder bootstrap ran in.
    const here = (file: string) => path.relative(process.cwd(), file);
    expect(parseSampleArguments(sample.slice(1))).toMatchObject({ cert: here(kit.certificatePath), key: here(kit.privateKeyPath), client_id: "pi'dev $(id)" });
    const curl = shellWords(lines.find((line) => line.startsWith('curl '))!);
    expect(curl).toContain(here(kit.certificatePath));
    expect(curl).toContain(`{"name":"s3","q":"it's"}`);
    expect(fs.existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
  });

  test.each(['evil.example $(touch /tmp/pwned)', 'a.example;id', 'host/path'])('an endpoint that is no host name (%j) is refused before anything is written', async (endpoint) => {
    const kitDir = path.join(dir, 'kit');
    await expect(bootstrapKit(outputsFromFile(writeOutputs({ 'IotCore-dev': { ...OUTPUTS, IotDataEndpoint: endpoint } })), new SecretsManagerClient({}), kitDir, false))
      .rejects.toMatchObject({ exitCode: 11, message: expect.stringContaining('endpoint is') });
    expect(fs.existsSync(kitDir)).toBe(false);
  });

  test('refuses to overwrite an existing kit unless forced', async () => {
    const outputs = outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS }));
    await bootstrapKit(outputs, new SecretsManagerClient({}), path.join(dir, 'kit'), false);
    await expect(bootstrapKit(outputs, new SecretsManagerClient({}), path.join(dir, 'kit'), false)).rejects.toThrow(/A kit already exists in .*kit/);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    fs.chmodSync(path.join(dir, 'kit', 'private.pem.key'), 0o644);
    await bootstrapKit(outputs, new SecretsManagerClient({}), path.join(dir, 'kit'), true);
    expect(fs.statSync(path.join(dir, 'kit', 'private.pem.key')).mode & 0o777).toBe(0o600);
  });

  test('reads the outputs of a deployed stack with DescribeStacks', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'IotCore-dev' }).resolves({
      Stacks: [{ StackName: 'IotCore-dev', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: Object.entries(OUTPUTS).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }],
    });
    await expect(outputsFromStack(new CloudFormationClient({}), 'IotCore-dev')).resolves.toMatchObject({ ThingName: 'pi-dev-01', CertificateSecretArn: SECRET_ARN });
  });

  test.each([
    ['a missing outputs file', () => outputsFromFile(path.join(dir, 'none.json')), /^Outputs file not found: .*none\.json$/],
    ['several stacks and no --env', () => outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS, 'IotCore-prod': OUTPUTS })), /holds stacks IotCore-dev, IotCore-prod$/],
    ['an --env that is not there', () => outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS }), 'qa'), /holds stacks IotCore-dev, not IotCore-qa/],
    ['a stack without the outputs', () => outputsFromFile(writeOutputs({ 'IotCore-dev': { ThingName: 'x' } })), /lacks the output\(s\) IotDataEndpoint, ClientId, DataTopic, CertificateSecretArn, Region, ShadowName/],
  ])('fails clearly on %s', (_, run, message) => {
    expect(run).toThrow(DeviceError);
    expect(run).toThrow(message);
  });

  test.each([
    ['ThingName', 'pi dev 01', 'thingName'],
    ['ClientId', '$pi', 'clientId'],
    ['DataTopic', 'data/#', 'dataTopic'],
  ])('an invalid output %s (%j) fails before the secret is read, and writes nothing', async (output, value, field) => {
    const kitDir = path.join(dir, 'kit');
    const run = bootstrapKit(outputsFromFile(writeOutputs({ 'IotCore-dev': { ...OUTPUTS, [output]: value } })), new SecretsManagerClient({}), kitDir, false);
    await expect(run).rejects.toMatchObject({ exitCode: 11, message: expect.stringContaining(`${field} is ${JSON.stringify(value)} but must be`), hint: expect.stringMatching(/^Nothing was written/) });
    expect(fs.existsSync(kitDir)).toBe(false);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('a secret without certificate and key fails without writing a kit', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"unexpected":true}' });
    await expect(bootstrapKit(outputsFromFile(writeOutputs({ 'IotCore-dev': OUTPUTS })), new SecretsManagerClient({}), path.join(dir, 'kit'), false))
      .rejects.toThrow(/does not hold certificatePem and privateKey/);
    expect(fs.existsSync(path.join(dir, 'kit'))).toBe(false);
  });

  test('a missing claim secret has its own hint (the claim certificate\'s rotation, not the thing\'s), with one period', async () => {
    const claimSecret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iot/IotCore-dev/claim-certificate/abc-AbCdEf';
    secrets.on(GetSecretValueCommand, { SecretId: claimSecret }).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    const claimOutputs = { ...OUTPUTS, FleetTemplateName: 't', FleetThingNamePrefix: 'pi-', ClaimCertificateSecretArn: claimSecret };
    const error = await bootstrapClaimKit(claimOutputs as never, new SecretsManagerClient({}), path.join(dir, 'claim'), false).catch((caught: DeviceError) => caught);
    expect(error).toBeInstanceOf(DeviceError);
    expect((error as DeviceError).line).toBe(`Secrets Manager GetSecretValue ${claimSecret} failed: ResourceNotFoundException: Secrets Manager can't find the specified secret. `
      + 'The secret of the claim certificate is gone: redeploy the stack, or bump the fleet\'s claimCertificateRotation');
  });
});
