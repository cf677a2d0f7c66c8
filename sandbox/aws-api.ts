/**
 * The two AWS APIs `iot-device bootstrap` calls, served on loopback for the sandbox, so the device's own
 * AWS SDK clients reach them through the SDK's standard endpoint settings (AWS_ENDPOINT_URL_CLOUDFORMATION,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER):
 * - CloudFormation DescribeStacks (AWS Query protocol: a form-encoded POST, an XML answer), with the
 *   synthesized stack's outputs resolved as after a deployment to the sandbox;
 * - Secrets Manager GetSecretValue (AWS JSON 1.1 protocol), with the certificate secret shaped exactly as
 *   the certificate handler writes it.
 * Requests must carry a SigV4 Authorization header scoped to the right service (any credentials: the
 * signature is not verified). Any other action answers the error AWS gives for an unknown one, so a
 * client that needs more fails loudly.
 */
import { randomUUID } from 'crypto';
import * as http from 'http';
import type { CertificateSecret } from '../lib/handlers/certificate';
import { freePort } from './mosquitto';

export interface StackDescription {
  readonly stackName: string;
  readonly outputs: Record<string, { value: string; description?: string }>;
}

export interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  readonly value: CertificateSecret;
}

const xmlEscape = (text: string) => text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]!));

export class AwsApiStandIn {
  private constructor(private readonly server: http.Server, readonly port: number) {}

  /** The base URL for AWS_ENDPOINT_URL_*. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(stacks: StackDescription[], secrets: StoredSecret[]): Promise<AwsApiStandIn> {
    const server = http.createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => { body += chunk; });
      request.on('end', () => {
        const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(request.headers.authorization ?? '')?.[1];
        const target = request.headers['x-amz-target'];
        if (service === 'cloudformation' && !target) return answerQuery(new URLSearchParams(body), stacks, response);
        if (service === 'secretsmanager' && typeof target === 'string') return answerJson(target, body, secrets, response);
        response.writeHead(403, { 'content-type': 'application/json' })
          .end(JSON.stringify({ __type: 'MissingAuthenticationTokenException', message: 'Missing or unknown SigV4 credential scope (this stand-in serves cloudformation and secretsmanager)' }));
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return new AwsApiStandIn(server, port);
  }

  /** The environment that points the AWS SDK at this stand-in, with dummy credentials. */
  environment(region: string): Record<string, string> {
    return {
      AWS_ENDPOINT_URL_CLOUDFORMATION: this.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: this.endpoint,
      AWS_ACCESS_KEY_ID: 'sandbox',
      AWS_SECRET_ACCESS_KEY: 'sandbox',
      AWS_REGION: region,
    };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function queryError(response: http.ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'content-type': 'text/xml' }).end(
    `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>${code}</Code>`
    + `<Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
}

function answerQuery(parameters: URLSearchParams, stacks: StackDescription[], response: http.ServerResponse): void {
  const action = parameters.get('Action');
  if (action !== 'DescribeStacks') return queryError(response, 400, 'InvalidAction', `The action ${action} is not valid for this web service (the sandbox serves DescribeStacks).`);
  const name = parameters.get('StackName');
  const stack = stacks.find((candidate) => candidate.stackName === name);
  if (!stack) return queryError(response, 400, 'ValidationError', `Stack with id ${name} does not exist`);
  const outputs = Object.entries(stack.outputs).map(([key, output]) => `<member><OutputKey>${xmlEscape(key)}</OutputKey><OutputValue>${xmlEscape(output.value)}</OutputValue>`
    + `${output.description ? `<Description>${xmlEscape(output.description)}</Description>` : ''}</member>`).join('');
  response.writeHead(200, { 'content-type': 'text/xml' }).end(
    '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>'
    + `<StackName>${xmlEscape(stack.stackName)}</StackName><StackId>arn:aws:cloudformation:sandbox:000000000000:stack/${xmlEscape(stack.stackName)}/${randomUUID()}</StackId>`
    + `<StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>${new Date().toISOString()}</CreationTime><Outputs>${outputs}</Outputs>`
    + `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`);
}

function answerJson(target: string, body: string, secrets: StoredSecret[], response: http.ServerResponse): void {
  const reply = (status: number, content: object): void => { response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(content)); };
  if (target !== 'secretsmanager.GetSecretValue') return reply(400, { __type: 'UnknownOperationException', message: `${target} (the sandbox serves GetSecretValue)` });
  let secretId: unknown;
  try {
    secretId = JSON.parse(body).SecretId;
  } catch {
    return reply(400, { __type: 'SerializationException', message: 'Request body is not JSON' });
  }
  const secret = secrets.find((candidate) => candidate.arn === secretId || candidate.name === secretId);
  if (!secret) return reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
  reply(200, {
    ARN: secret.arn, Name: secret.name, VersionId: randomUUID(), SecretString: JSON.stringify(secret.value),
    VersionStages: ['AWSCURRENT'], CreatedDate: Math.floor(Date.now() / 1000),
  });
}
