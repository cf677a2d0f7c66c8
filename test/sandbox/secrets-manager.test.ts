/**
 * The Secrets Manager stand-in through the AWS SDK, with the errors the API documents for the calls the
 * certificate handler and bootstrap make, and pages of one so every NextToken loop runs.
 */
import {
  CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, GetSecretValueCommand, ListSecretsCommand, RestoreSecretCommand, SecretsManagerClient,
  TagResourceCommand, UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { AwsApiStandIn } from '../../sandbox/aws-api';
import { SecretsManagerStandIn } from '../../sandbox/secrets-manager';

let api: AwsApiStandIn;
let client: SecretsManagerClient;
beforeAll(async () => {
  api = await AwsApiStandIn.start({ stacks: [], secrets: new SecretsManagerStandIn({ region: 'eu-west-1', account: '123456789012', pageSize: 1 }) });
  client = new SecretsManagerClient({ endpoint: api.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => {
  client.destroy();
  await api.stop();
});

test('CreateSecret names the ARN as Secrets Manager does; a second secret of the name is ResourceExistsException', async () => {
  const created = await client.send(new CreateSecretCommand({ Name: 'iot/a/cert', SecretString: '{"v":1}', Tags: [{ Key: 'gen', Value: 'g1' }] }));
  expect(created.ARN).toMatch(/^arn:aws:secretsmanager:eu-west-1:123456789012:secret:iot\/a\/cert-[A-Za-z0-9]{6}$/);
  await expect(client.send(new CreateSecretCommand({ Name: 'iot/a/cert', SecretString: '{}' }))).rejects.toMatchObject({ name: 'ResourceExistsException' });
  expect((await client.send(new GetSecretValueCommand({ SecretId: created.ARN }))).SecretString).toBe('{"v":1}');
});

test('ListSecrets filters by name and tag prefixes, page by page; a deleted secret is left out, refuses its value and update, and comes back restored', async () => {
  await client.send(new CreateSecretCommand({ Name: 'iot/b/cert', SecretString: '{"v":2}', Tags: [{ Key: 'gen', Value: 'g2' }] }));
  await client.send(new CreateSecretCommand({ Name: 'other/c', SecretString: '{}', Tags: [{ Key: 'gen', Value: 'g2' }] }));
  const names: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await client.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['iot/'] }, { Key: 'tag-key', Values: ['gen'] }], NextToken }));
    expect(page.SecretList!.length).toBeLessThanOrEqual(1);
    names.push(...page.SecretList!.map((secret) => secret.Name!));
    NextToken = page.NextToken;
  } while (NextToken);
  expect(names).toEqual(['iot/a/cert', 'iot/b/cert']);

  await client.send(new DeleteSecretCommand({ SecretId: 'iot/b/cert', RecoveryWindowInDays: 7 }));
  expect((await client.send(new DescribeSecretCommand({ SecretId: 'iot/b/cert' }))).DeletedDate).toBeInstanceOf(Date);
  const listed = await client.send(new ListSecretsCommand({ Filters: [{ Key: 'tag-value', Values: ['g2'] }] }));
  expect(listed.SecretList!.map((secret) => secret.Name)).toEqual(['other/c']);
  await expect(client.send(new GetSecretValueCommand({ SecretId: 'iot/b/cert' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  await expect(client.send(new UpdateSecretCommand({ SecretId: 'iot/b/cert', SecretString: '{}' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  await expect(client.send(new CreateSecretCommand({ Name: 'iot/b/cert', SecretString: '{}' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  await client.send(new RestoreSecretCommand({ SecretId: 'iot/b/cert' }));
  await client.send(new UpdateSecretCommand({ SecretId: 'iot/b/cert', SecretString: '{"v":3}' }));
  await client.send(new TagResourceCommand({ SecretId: 'iot/b/cert', Tags: [{ Key: 'gen', Value: 'g3' }] }));
  expect(await client.send(new DescribeSecretCommand({ SecretId: 'iot/b/cert' }))).toMatchObject({ Tags: [{ Key: 'gen', Value: 'g3' }] });
  expect((await client.send(new GetSecretValueCommand({ SecretId: 'iot/b/cert' }))).SecretString).toBe('{"v":3}');
});

test('an unknown secret is ResourceNotFoundException; a forced delete removes it at once', async () => {
  await expect(client.send(new DescribeSecretCommand({ SecretId: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  await client.send(new DeleteSecretCommand({ SecretId: 'other/c', ForceDeleteWithoutRecovery: true }));
  await expect(client.send(new GetSecretValueCommand({ SecretId: 'other/c' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
});
