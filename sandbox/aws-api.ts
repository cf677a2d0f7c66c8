/**
 * The AWS APIs that `iot-device bootstrap` and the smoke check call, served on loopback for the sandbox,
 * so their own AWS SDK clients reach them through the SDK's standard endpoint settings
 * (AWS_ENDPOINT_URL_<SERVICE>):
 * - CloudFormation DescribeStacks (AWS Query protocol: a form-encoded POST, an XML answer), with the
 *   synthesized stack's outputs resolved as after a deployment to the sandbox;
 * - Secrets Manager (AWS JSON 1.1 protocol): the calls of the certificate handler, which makes the stack's
 *   certificates in the sandbox as on AWS, and GetSecretValue for bootstrap (sandbox/secrets-manager.ts);
 * - the AWS IoT data plane's Publish, GetThingShadow and UpdateThingShadow (REST JSON), onto the sandbox's
 *   broker and shadow service;
 * - CloudWatch Logs FilterLogEvents (AWS JSON 1.1) on the template's log groups, with the events the
 *   sandbox's rule engine logged;
 * - the AWS IoT control plane calls of the shadow-defaults handler, the fleet's hook and operator commands
 *   (REST JSON): DescribeEndpoint, CreateThing, DescribeThing, UpdateThing (with expectedVersion),
 *   DeleteThing, ListThingPrincipals (paged), AttachThingPrincipal, DetachThingPrincipal, DescribeCertificate,
 *   UpdateCertificate, DeleteCertificate, AttachPolicy, DetachPolicy, ListAttachedPolicies,
 *   CreateKeysAndCertificate, AddThingToThingGroup, RemoveThingFromThingGroup, on the sandbox's one registry
 *   (sandbox/iot-control-plane.ts), and the Jobs operations of the operator's commands (sandbox/jobs-api.ts).
 * Requests are routed by the service of their SigV4 credential scope (any credentials: the signature is
 * not verified). Any other action answers the error AWS gives for an unknown one, so a client that needs
 * more fails loudly. S3 is served apart, by an S3-compatible server (sandbox/s3-server.ts).
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { NotSupportedError } from './errors';
import { IotApiError, IotControlPlane, ThingRecord } from './iot-control-plane';
import type { IotJobs } from './iot-jobs';
import { answerJobs, JOBS_OPERATIONS } from './jobs-api';
import { freePort } from './ports';
import { S3_CREDENTIALS } from './s3-server';
import { SecretsManagerError, SecretsManagerStandIn } from './secrets-manager';

export interface StackDescription {
  readonly stackName: string;
  readonly outputs: Record<string, { value: string; description?: string }>;
}


const xmlEscape = (text: string) => text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]!));

/** What the AWS IoT data plane stand-in acts on. */
export interface DataPlaneBackend {
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void>;
  /** The shadow document as GetThingShadow returns it, or undefined when the thing has no such shadow. */
  shadow(thingName: string, shadowName?: string): string | undefined;
  /** UpdateThingShadow: the shadow service's answer, accepted (the response document) or rejected ({code, message}). */
  updateShadow(thingName: string, shadowName: string | undefined, payload: string): { accepted: boolean; payload: string };
}

/** The CloudWatch Logs stand-in's log groups: name to the file of events (one `{ timestamp, message }` a line). */
export type LogGroupFiles = Record<string, string>;

export interface AwsApiOptions {
  /** Read on every DescribeStacks: a stack is added once its resources are deployed. */
  readonly stacks: readonly StackDescription[];
  readonly secrets?: SecretsManagerStandIn;
  readonly dataPlane?: DataPlaneBackend;
  readonly logGroups?: LogGroupFiles;
  readonly controlPlane?: IotControlPlane;
  /** The Jobs operations of the control plane (sandbox/jobs-api.ts), with `controlPlane`. */
  readonly jobs?: IotJobs;
}

type Answer = (request: http.IncomingMessage, body: Buffer, response: http.ServerResponse) => void;

export class AwsApiStandIn {
  private constructor(private readonly server: http.Server, readonly port: number) {}

  /** The base URL for AWS_ENDPOINT_URL_*. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: AwsApiOptions): Promise<AwsApiStandIn> {
    const services: Record<string, Answer> = {
      cloudformation: (_request, body, response) => answerQuery(new URLSearchParams(body.toString('utf8')), options.stacks, response),
      ...(options.secrets ? { secretsmanager: answerSecrets(options.secrets) } : {}),
      ...(options.dataPlane ? { iotdata: answerDataPlane(options.dataPlane) } : {}),
      ...(options.logGroups ? { logs: answerLogs(options.logGroups) } : {}),
      ...(options.controlPlane ? { iot: answerControlPlane(options.controlPlane, options.jobs) } : {}),
    };
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(request.headers.authorization ?? '')?.[1];
        const answer = service ? services[service] : undefined;
        if (answer) return answer(request, Buffer.concat(chunks), response);
        response.writeHead(403, { 'content-type': 'application/json' })
          .end(JSON.stringify({ __type: 'MissingAuthenticationTokenException', message: `Missing or unknown SigV4 credential scope ${service ?? ''} (this stand-in serves ${Object.keys(services).join(', ')})` }));
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
      AWS_ENDPOINT_URL_IOT_DATA_PLANE: this.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: this.endpoint,
      AWS_ENDPOINT_URL_IOT: this.endpoint,
      // The S3-compatible server verifies signatures with its own fixed keys; the other stand-ins take any.
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
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

function answerQuery(parameters: URLSearchParams, stacks: readonly StackDescription[], response: http.ServerResponse): void {
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

/** Answers in the AWS JSON 1.1 protocol (Secrets Manager, CloudWatch Logs). */
function json11Reply(response: http.ServerResponse): (status: number, content: object) => void {
  return (status, content) => { response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(content)); };
}

const answerSecrets = (secrets: SecretsManagerStandIn): Answer => (request, body, response) => answerJson(String(request.headers['x-amz-target']), body.toString('utf8'), secrets, response);

function answerJson(target: string, body: string, secrets: SecretsManagerStandIn, response: http.ServerResponse): void {
  const reply = json11Reply(response);
  const [service, operation] = target.split('.');
  if (service !== 'secretsmanager') return reply(400, { __type: 'UnknownOperationException', message: `${target}` });
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(body || '{}');
  } catch {
    return reply(400, { __type: 'SerializationException', message: 'Request body is not JSON' });
  }
  try {
    reply(200, secrets.call(operation, input));
  } catch (error) {
    if (!(error instanceof SecretsManagerError)) throw error;
    reply(400, { __type: error.type, message: error.message });
  }
}

/** REST JSON errors: the type in x-amzn-ErrorType, the message in the body. */
function restError(response: http.ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type }).end(JSON.stringify({ message }));
}

/** UpdateThingShadow's error types by the shadow service's code (AWS IoT data plane API Reference, UpdateThingShadow). */
const UPDATE_SHADOW_ERRORS: Record<number, string> = { 400: 'InvalidRequestException', 409: 'ConflictException', 413: 'RequestEntityTooLargeException', 415: 'UnsupportedDocumentEncodingException' };

/** POST /topics/{topic}?qos=&retain= and GET /things/{thingName}/shadow?name= (AWS IoT data plane API Reference). */
function answerDataPlane(backend: DataPlaneBackend): Answer {
  return (request, body, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const publish = /^\/topics\/(.+)$/.exec(url.pathname);
    const shadow = /^\/things\/([^/]+)\/shadow$/.exec(url.pathname);
    if (request.method === 'POST' && publish) {
      const qos = Number(url.searchParams.get('qos') ?? '0');
      if (qos !== 0 && qos !== 1) return restError(response, 400, 'InvalidRequestException', `qos ${qos}: must be 0 or 1`);
      backend.publish(decodeURIComponent(publish[1]), body, qos, url.searchParams.get('retain') === 'true')
        .then(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
          (error: Error) => restError(response, 503, 'ServiceUnavailableException', error.message));
      return;
    }
    if (request.method === 'POST' && shadow) {
      const answer = backend.updateShadow(decodeURIComponent(shadow[1]), url.searchParams.get('name') ?? undefined, body.toString('utf8'));
      if (answer.accepted) return void response.writeHead(200, { 'content-type': 'application/json' }).end(answer.payload);
      const { code, message } = JSON.parse(answer.payload) as { code: number; message: string };
      return restError(response, code, UPDATE_SHADOW_ERRORS[code] ?? 'InvalidRequestException', message);
    }
    if (request.method === 'GET' && shadow) {
      const thingName = decodeURIComponent(shadow[1]);
      const shadowName = url.searchParams.get('name') ?? undefined;
      const document = backend.shadow(thingName, shadowName);
      if (document === undefined) return restError(response, 404, 'ResourceNotFoundException', `No shadow exists with name: '${shadowName ?? thingName}'`);
      response.writeHead(200, { 'content-type': 'application/json' }).end(document);
      return;
    }
    restError(response, 404, 'UnknownOperationException', `${request.method} ${url.pathname} (the sandbox serves Publish, GetThingShadow and UpdateThingShadow)`);
  };
}

/** The AWS IoT control plane operations the fleet's hook and operator commands call (AWS IoT API Reference), on the sandbox's registry. */
function answerControlPlane(registry: IotControlPlane, jobs?: IotJobs): Answer {
  return (request, body, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const input = body.length ? JSON.parse(body.toString('utf8')) as Record<string, any> : {};
    const reply = (content: object): void => { response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(content)); };
    const route = `${request.method} ${url.pathname}`;
    const name = (pattern: RegExp) => decodeURIComponent(pattern.exec(url.pathname)![1]);
    const thing = /^\/things\/([^/]+)$/;
    const principals = /^\/things\/([^/]+)\/principals$/;
    const certificate = /^\/certificates\/([^/]+)$/;
    const targetPolicy = /^\/target-policies\/([^/]+)$/;
    const attachedPolicies = /^\/attached-policies\/(.+)$/;
    const handle = async (): Promise<void> => {
      if (route === 'GET /endpoint') return reply({ endpointAddress: registry.describeEndpoint(url.searchParams.get('endpointType') ?? '') });
      const describe = (record: ThingRecord) => ({
        thingName: record.thingName, thingId: record.thingName, thingArn: `arn:aws:iot:${registry.region}:${registry.account}:thing/${record.thingName}`,
        attributes: record.attributes, version: record.version, defaultClientId: record.thingName,
      });
      if (request.method === 'GET' && thing.test(url.pathname)) return reply(describe(registry.describeThing(name(thing))));
      if (request.method === 'POST' && thing.test(url.pathname)) {
        const { thingName, thingArn, thingId } = describe(registry.createThing(name(thing), input.attributePayload?.attributes ?? {}));
        return reply({ thingName, thingArn, thingId });
      }
      if (request.method === 'PATCH' && thing.test(url.pathname)) {
        registry.updateThing(name(thing), input.attributePayload?.attributes ?? {}, input.attributePayload?.merge === true, input.expectedVersion);
        return reply({});
      }
      if (request.method === 'DELETE' && thing.test(url.pathname)) { registry.deleteThing(name(thing)); return reply({}); }
      if (request.method === 'GET' && principals.test(url.pathname)) {
        const maxResults = url.searchParams.has('maxResults') ? Number(url.searchParams.get('maxResults')) : undefined;
        return reply(registry.listThingPrincipals(name(principals), maxResults, url.searchParams.get('nextToken') ?? undefined));
      }
      if (request.method === 'PUT' && principals.test(url.pathname)) {
        registry.attachThingPrincipal(name(principals), String(request.headers['x-amzn-principal']));
        return reply({});
      }
      if (request.method === 'DELETE' && principals.test(url.pathname)) {
        registry.detachThingPrincipal(name(principals), String(request.headers['x-amzn-principal']));
        return reply({});
      }
      if (request.method === 'GET' && certificate.test(url.pathname)) {
        const record = registry.describeCertificate(name(certificate));
        return reply({ certificateDescription: { certificateId: record.certificateId, certificateArn: record.certificateArn, status: record.status, certificatePem: record.certificatePem } });
      }
      if (request.method === 'PUT' && certificate.test(url.pathname)) {
        registry.updateCertificate(name(certificate), url.searchParams.get('newStatus') ?? '');
        return reply({});
      }
      if (request.method === 'DELETE' && certificate.test(url.pathname)) {
        registry.deleteCertificate(name(certificate), url.searchParams.get('forceDelete') === 'true');
        return reply({});
      }
      if (request.method === 'PUT' && targetPolicy.test(url.pathname)) { registry.attachPolicy(name(targetPolicy), String(input.target)); return reply({}); }
      if (request.method === 'POST' && targetPolicy.test(url.pathname)) { registry.detachPolicy(name(targetPolicy), String(input.target)); return reply({}); }
      if (request.method === 'POST' && attachedPolicies.test(url.pathname)) {
        const pageSize = url.searchParams.has('pageSize') ? Number(url.searchParams.get('pageSize')) : undefined;
        const { policyNames, nextMarker } = registry.listAttachedPolicies(name(attachedPolicies), pageSize, url.searchParams.get('marker') ?? undefined);
        return reply({ policies: policyNames.map((policyName) => ({ policyName, policyArn: `arn:aws:iot:${registry.region}:${registry.account}:policy/${policyName}` })), ...(nextMarker ? { nextMarker } : {}) });
      }
      if (route === 'PUT /thing-groups/addThingToThingGroup' || route === 'PUT /thing-groups/removeThingFromThingGroup') {
        const group = input.thingGroupName ?? String(input.thingGroupArn ?? '').split('/').pop();
        const thingName = input.thingName ?? String(input.thingArn ?? '').split('/').pop();
        if (route.endsWith('addThingToThingGroup')) registry.addThingToThingGroup(group, thingName);
        else registry.removeThingFromThingGroup(group, thingName);
        return reply({});
      }
      const answered = jobs ? answerJobs(jobs, request.method ?? '', url, input) : undefined;
      if (answered) return reply(answered);
      if (route === 'POST /keys-and-certificate') {
        const { certificate: made, privateKeyPem } = registry.createKeysAndCertificate(url.searchParams.get('setAsActive') === 'true');
        return reply({ certificateArn: made.certificateArn, certificateId: made.certificateId, certificatePem: made.certificatePem, keyPair: { PrivateKey: privateKeyPem } });
      }
      throw new IotApiError(404, 'UnknownOperationException', `${route} (the sandbox serves DescribeEndpoint, CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThingPrincipals, AttachThingPrincipal, `
        + 'DetachThingPrincipal, DescribeCertificate, UpdateCertificate, DeleteCertificate, AttachPolicy, DetachPolicy, ListAttachedPolicies, CreateKeysAndCertificate, '
        + `AddThingToThingGroup, RemoveThingFromThingGroup${jobs ? `, ${JOBS_OPERATIONS}` : ''})`);
    };
    handle().catch((error: Error) => {
      if (error instanceof IotApiError) return restError(response, error.status, error.type, error.message);
      // What the sandbox cannot model is refused by name, never half done.
      if (error instanceof NotSupportedError) return restError(response, 501, 'NotSupportedBySandbox', error.message);
      restError(response, 500, 'InternalFailureException', error.message);
    });
  };
}

const SECOND_PAGE = 'sandbox-page-2';

/** Logs_20140328.FilterLogEvents without a filter pattern, over the events of the sandbox's log groups. */
function answerLogs(groups: LogGroupFiles): Answer {
  return (request, body, response) => {
    const reply = json11Reply(response);
    const target = String(request.headers['x-amz-target']);
    if (target !== 'Logs_20140328.FilterLogEvents') return reply(400, { __type: 'UnknownOperationException', message: `${target} (the sandbox serves FilterLogEvents)` });
    const input = JSON.parse(body.toString('utf8')) as { logGroupName?: string; logGroupIdentifier?: string; startTime?: number; endTime?: number; filterPattern?: string; nextToken?: string };
    if (input.filterPattern) return reply(400, { __type: 'InvalidParameterException', message: 'The sandbox serves FilterLogEvents without filterPattern' });
    // As AWS may: an empty first page with a token, the events on the next ("FilterLogEvents", CloudWatch Logs API Reference).
    if (input.nextToken === undefined) return reply(200, { events: [], searchedLogStreams: [], nextToken: SECOND_PAGE });
    if (input.nextToken !== SECOND_PAGE) return reply(400, { __type: 'InvalidParameterException', message: `The next token ${input.nextToken} is invalid.` });
    const name = input.logGroupName ?? input.logGroupIdentifier ?? '';
    const file = groups[name];
    if (!file) return reply(400, { __type: 'ResourceNotFoundException', message: 'The specified log group does not exist.' });
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    const events = lines.map((line, index) => ({ ...(JSON.parse(line) as { timestamp: number; message: string }), index }))
      .filter((event) => (input.startTime === undefined || event.timestamp >= input.startTime) && (input.endTime === undefined || event.timestamp <= input.endTime))
      .map((event) => ({ logStreamName: 'sandbox', timestamp: event.timestamp, ingestionTime: event.timestamp, message: event.message, eventId: String(event.index) }));
    reply(200, { events, searchedLogStreams: [] });
  };
}
