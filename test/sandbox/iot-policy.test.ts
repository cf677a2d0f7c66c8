import { shadowTopics, shadowUpdatesFilter } from '../../device/src/shadow';
import { evaluate, globMatches, grantsOf, IotAction, Protocol } from '../../sandbox/iot-policy';
import { IotControlPlane } from '../../sandbox/iot-control-plane';
import { createCertificateAuthority } from '../../sandbox/pki';
import { deployIotResources, registerDevice } from '../../sandbox/template-deployment';
import { NotSupportedError } from '../../sandbox/errors';
import { Template } from '../../sandbox/templates';
import { environments } from '../../config/environments';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { Kit, readPems } from '../../device/src/kit';
import { Sandbox } from '../device/harness';
import { environmentTemplate } from '../../sandbox/templates';
import { ENVIRONMENT_NAMES } from '../setup/synth';

const OTHER = 'pi-other-01';

const ca = createCertificateAuthority();

describe.each(ENVIRONMENT_NAMES)('the synthesized IoT policies of IotCore-%s, evaluated as AWS IoT does', (name) => {
  const environment = environments[name as keyof typeof environments] as { account?: string; region?: string };
  const registry = new IotControlPlane(environment.region ?? 'eu-west-1', environment.account ?? '123456789012');
  const declared = deployIotResources(environmentTemplate(name) as Template, registry, environment);
  const THING = declared.thingName;
  // The template thing's certificate, and another device's with the policies the fleet shares, registered as AWS registers them.
  const certificates = {
    [THING]: registerDevice(registry, THING, ca.issue('AWS IoT Certificate').certificatePem, declared.policyNames),
    [OTHER]: registerDevice(registry, OTHER, ca.issue('AWS IoT Certificate').certificatePem, declared.sharedPolicyNames),
  };
  const outputs = environmentTemplate(name).Outputs;
  const allowed = (thing: string, protocol: Protocol, clientId: string | undefined, action: IotAction, resource: string) =>
    registry.authorize(certificates[thing], protocol, clientId, action, resource).allowed;

  test.each<[string, string, Protocol, string | undefined, IotAction, string, boolean]>([
    ['connect as its thing name', THING, 'mqtt', THING, 'iot:Connect', THING, true],
    ['connect as another client ID', THING, 'mqtt', 'console', 'iot:Connect', 'console', false],
    ['connect as another thing\'s name', THING, 'mqtt', OTHER, 'iot:Connect', OTHER, false],
    ['publish to its data topic', THING, 'mqtt', THING, 'iot:Publish', `data/${THING}`, true],
    ['publish to another thing\'s data topic', THING, 'mqtt', THING, 'iot:Publish', `data/${OTHER}`, false],
    ['update its shadow under another client ID (the thing variable does not resolve)', THING, 'mqtt', 'console', 'iot:Publish', `$aws/things/${THING}/shadow/update`, false],
    ['delete its shadow', THING, 'mqtt', THING, 'iot:Publish', `$aws/things/${THING}/shadow/delete`, false],
    ['subscribe to the SDK v2 shadow client\'s literal get/+ filter', THING, 'mqtt', THING, 'iot:Subscribe', `$aws/things/${THING}/shadow/get/+`, true],
    ['subscribe to all its shadow topics at once (shadow/#)', THING, 'mqtt', THING, 'iot:Subscribe', `$aws/things/${THING}/shadow/#`, false],
    ['subscribe to its own data topic', THING, 'mqtt', THING, 'iot:Subscribe', `data/${THING}`, false],
    ['receive another thing\'s shadow delta', THING, 'mqtt', THING, 'iot:Receive', `$aws/things/${OTHER}/shadow/update/delta`, false],
    ['publish to its data topic over HTTPS (its own HTTPS policy)', THING, 'https', undefined, 'iot:Publish', `data/${THING}`, true],
    ['update its shadow through the HTTPS topic endpoint (no thing variables over HTTPS)', THING, 'https', undefined, 'iot:Publish', `$aws/things/${THING}/shadow/update`, false],
    ['publish to another thing\'s data topic over HTTPS', THING, 'https', undefined, 'iot:Publish', `data/${OTHER}`, false],
    ['another thing: publish to its own data topic over MQTT', OTHER, 'mqtt', OTHER, 'iot:Publish', `data/${OTHER}`, true],
    ['another thing: publish to its own data topic over HTTPS (the shared policy has no HTTPS grant)', OTHER, 'https', undefined, 'iot:Publish', `data/${OTHER}`, false],
    ['another thing: publish to the template thing\'s data topic', OTHER, 'mqtt', OTHER, 'iot:Publish', `data/${THING}`, false],
    ['another thing: publish to the template thing\'s data topic over HTTPS', OTHER, 'https', undefined, 'iot:Publish', `data/${THING}`, false],
    ['another thing: subscribe to the template thing\'s shadow', OTHER, 'mqtt', OTHER, 'iot:Subscribe', `$aws/things/${THING}/shadow/update/delta`, false],
    ['another thing: connect as the template thing', OTHER, 'mqtt', THING, 'iot:Connect', THING, false],
    // AWS IoT Jobs: its own executions' requests, answers and notifications; nothing of another thing's.
    ...(['get', 'start-next', 'job-1/get', '$next/get', 'job-1/update'].map((request): [string, string, Protocol, string, IotAction, string, boolean] =>
      [`jobs: request ${request} of its own executions`, THING, 'mqtt', THING, 'iot:Publish', `$aws/things/${THING}/jobs/${request}`, true])),
    ['jobs: subscribe to its notify-next', THING, 'mqtt', THING, 'iot:Subscribe', `$aws/things/${THING}/jobs/notify-next`, true],
    ['jobs: receive an update\'s answer', THING, 'mqtt', THING, 'iot:Receive', `$aws/things/${THING}/jobs/job-1/update/accepted`, true],
    ['jobs: publish a notification as if it were AWS IoT', THING, 'mqtt', THING, 'iot:Publish', `$aws/things/${THING}/jobs/notify-next`, false],
    ['jobs: update another thing\'s execution', THING, 'mqtt', THING, 'iot:Publish', `$aws/things/${OTHER}/jobs/job-1/update`, false],
    ['jobs: start another thing\'s next execution', THING, 'mqtt', THING, 'iot:Publish', `$aws/things/${OTHER}/jobs/start-next`, false],
    ['jobs: subscribe to another thing\'s notify-next', THING, 'mqtt', THING, 'iot:Subscribe', `$aws/things/${OTHER}/jobs/notify-next`, false],
    ['jobs: subscribe to every thing\'s jobs', THING, 'mqtt', THING, 'iot:Subscribe', '$aws/things/+/jobs/#', false],
    ['jobs: receive another thing\'s job document', THING, 'mqtt', THING, 'iot:Receive', `$aws/things/${OTHER}/jobs/notify-next`, false],
    ['jobs: its own over HTTPS (no thing variables)', THING, 'https', undefined, 'iot:Publish', `$aws/things/${THING}/jobs/job-1/update`, false],
    ['jobs: under another client ID', THING, 'mqtt', 'console', 'iot:Publish', `$aws/things/${THING}/jobs/start-next`, false],
  ])('%s: %s', (_, thing, protocol, clientId, action, resource, expected) => {
    expect(allowed(thing, protocol, clientId, action, resource)).toBe(expected);
  });

  test('every topic the device program uses is allowed to the device over MQTT, and to no other thing', () => {
    // The data topic comes from the stack output bootstrap copies into the kit; the shadow topics from the device's shadow client.
    const dataTopic = String(outputs.DataTopic.Value);
    const topics = shadowTopics(THING);
    const uses: Array<[IotAction, string]> = [
      ['iot:Connect', THING], ['iot:Publish', dataTopic],
      ...topics.publish.map((topic): [IotAction, string] => ['iot:Publish', topic]),
      ...topics.subscribe.flatMap((topic): Array<[IotAction, string]> => [['iot:Subscribe', topic], ['iot:Receive', topic]]),
      // `watch` with the device's kit.
      ['iot:Subscribe', shadowUpdatesFilter(THING)], ['iot:Receive', `${shadowUpdatesFilter(THING).slice(0, -1)}documents`],
    ];
    expect(uses.filter(([action, resource]) => !allowed(THING, 'mqtt', THING, action, resource))).toEqual([]);
    expect(uses.filter(([action, resource]) => allowed(OTHER, 'mqtt', OTHER, action, resource))).toEqual([]);
  });
});

describe('what the evaluator refuses to model', () => {
  const principal = { protocol: 'mqtt' as const, clientId: 't', attachedThings: ['t'] };
  const request = { action: 'iot:Publish' as const, resource: 'arn:aws:iot:eu-west-1:123456789012:topic/data/t' };
  const statement = { Effect: 'Allow' as const, Action: 'iot:Publish', Resource: request.resource };

  test.each([
    ['NotResource', { ...statement, NotResource: 'x' }, /NotResource/],
    ['another policy variable', { ...statement, Resource: 'arn:aws:iot:eu-west-1:123456789012:topic/data/${iot:Connection.Thing.Attributes[x]}' }, /policy variable/],
    ['another condition', { ...statement, Condition: { StringEquals: { 'aws:SourceIp': '1.2.3.4' } } }, /condition StringEquals/],
    ['an action outside connect, publish, subscribe and receive', { ...statement, Action: 'iot:UpdateThingShadow' }, /action iot:UpdateThingShadow/],
  ])('%s', (_, bad, message) => {
    expect(() => evaluate([{ Statement: [bad as never] }], principal, request)).toThrow(NotSupportedError);
    expect(() => evaluate([{ Statement: [bad as never] }], principal, request)).toThrow(message);
  });

  test('a Deny wins over an Allow', () => {
    expect(evaluate([{ Statement: [statement, { ...statement, Effect: 'Deny' }] }], principal, request)).toMatchObject({ allowed: false, reason: 'explicitDeny' });
  });

  test('? matches one character and * any, while + and # are literal', () => {
    const allows = (resource: string, topic: string) => evaluate([{ Statement: [{ ...statement, Resource: `arn:aws:iot:eu-west-1:123456789012:topic/${resource}` }] }], principal,
      { action: 'iot:Publish', resource: `arn:aws:iot:eu-west-1:123456789012:topic/${topic}` }).allowed;
    expect([allows('data/?', 'data/t'), allows('data/?', 'data/tt'), allows('data/*', 'data/a/b'), allows('data/+', 'data/t'), allows('data/+', 'data/+')])
      .toEqual([true, false, true, false, true]);
  });
});

describe('the live broker decides from the registry, as AWS IoT does', () => {
  let sandbox: Sandbox;
  let kit: Kit;
  beforeAll(async () => {
    sandbox = await Sandbox.start();
    kit = sandbox.kit(OTHER);
  });
  afterAll(async () => { await sandbox.stop(); });

  /** MQTT 5 options with a kit's certificate and key. */
  const withKit = (from: Kit, clientId: string, pems = readPems(from)): IClientOptions => ({
    protocol: 'mqtts', host: 'localhost', port: sandbox.broker.port, protocolVersion: 5, clientId, reconnectPeriod: 0,
    key: pems.privateKey, cert: pems.certificate, ca: pems.ca,
  });
  /** The CONNACK's reason code: 0 when connected, else why not. */
  const connackOf = async (options: IClientOptions): Promise<number> => {
    try {
      const client = await mqtt.connectAsync(options);
      await client.endAsync();
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  };
  /** The SUBACK's reason codes, one per filter. */
  const subackOf = (client: MqttClient, filters: string[]): Promise<number[]> => client.subscribeAsync(filters, { qos: 1 })
    .then((granted) => granted.map((grant) => grant.qos), (error: { packet?: { granted?: number[] } }) => error.packet?.granted ?? Promise.reject(error));

  test('a device connects only as its thing name: another thing\'s name, the console\'s or an ID the broker assigns is refused (CONNACK 0x87)', async () => {
    const [own, declared, consoleId, empty] = await Promise.all([OTHER, sandbox.local.declared.thingName, 'console', ''].map((clientId) => connackOf(withKit(kit, clientId))));
    expect({ own, declared, consoleId, empty }).toEqual({ own: 0, declared: 135, consoleId: 135, empty: 135 });
  });

  test('a certificate the sandbox CA signed but nobody registered cannot connect, whatever its subject says', async () => {
    const unregistered = sandbox.broker.ca.issue(OTHER);
    expect(await connackOf(withKit(kit, OTHER, { ...readPems(kit), certificate: Buffer.from(unregistered.certificatePem), privateKey: Buffer.from(unregistered.privateKeyPem) }))).toBe(135);
  });

  test('a subscription the policy does not allow is refused in the SUBACK (0x87), and the allowed one in the same request granted', async () => {
    const device = await mqtt.connectAsync(withKit(kit, OTHER));
    try {
      const own = `$aws/things/${OTHER}/shadow/update/delta`;
      const foreign = `$aws/things/${sandbox.local.declared.thingName}/shadow/update/delta`;
      expect(await subackOf(device, [own, foreign, 'data/#'])).toEqual([1, 135, 135]);
    } finally {
      await device.endAsync();
    }
  });

  test('a publish to another device\'s topic is refused (PUBACK 0x87) and reaches nobody; its own is delivered', async () => {
    const publishOnce = async (topic: string, payload: string) => {
      const device = await mqtt.connectAsync(withKit(kit, OTHER));
      try {
        return await device.publishAsync(topic, payload, { qos: 1 }).then(() => 0, (error: { code?: number }) => error.code);
      } finally {
        // Mosquitto 2.0 closes the connection after the refused PUBACK; AWS IoT's MQTT 5 broker answers the same 0x87.
        await device.endAsync(true);
      }
    };
    const declared = sandbox.local.declared.thingName;
    expect(await publishOnce(`data/${declared}`, '{"name":"s3","from":"attacker"}')).toBe(135);
    expect(await publishOnce(`data/${OTHER}`, '{"own":true}')).toBe(0);
    // Its own message, published after the refused one, arrives: then the refused one would have too.
    await sandbox.observer.until(() => sandbox.observer.on(`data/${OTHER}`).length > 0, 'its own message');
    expect(sandbox.observer.on(`data/${declared}`).filter((message) => message.payload.includes('attacker'))).toEqual([]);
  });

  test('AWS IoT Jobs topics: its own are granted, another device\'s refused (SUBACK 0x87, PUBACK 0x87)', async () => {
    const declared = sandbox.local.declared.thingName;
    const device = await mqtt.connectAsync(withKit(kit, OTHER));
    try {
      expect(await subackOf(device, [`$aws/things/${OTHER}/jobs/notify-next`, `$aws/things/${OTHER}/jobs/+/update/accepted`, `$aws/things/${declared}/jobs/notify-next`, '$aws/things/+/jobs/#']))
        .toEqual([1, 1, 135, 135]);
      expect(await device.publishAsync(`$aws/things/${OTHER}/jobs/start-next`, '{}', { qos: 1 }).then(() => 0, (error: { code?: number }) => error.code)).toBe(0);
      expect(await device.publishAsync(`$aws/things/${declared}/jobs/job-1/update`, '{"status":"SUCCEEDED"}', { qos: 1 }).then(() => 0, (error: { code?: number }) => error.code)).toBe(135);
    } finally {
      await device.endAsync(true);
    }
  });

  test('a device does not receive its own shadow/update request back: the policy allows Receive on update/* only', async () => {
    const device = await mqtt.connectAsync(withKit(kit, OTHER));
    const received: string[] = [];
    device.on('message', (topic) => received.push(topic));
    try {
      const parent = `$aws/things/${OTHER}/shadow/update`;
      expect(await subackOf(device, [`${parent}/#`])).toEqual([1]);
      await sandbox.observer.client.publishAsync(parent, '{"state":{"reported":{"interval":5}}}', { qos: 1 });
      // A positive event that must come after: the shadow service's answer to that very request, which the policy allows.
      await sandbox.observer.until(() => received.includes(`${parent}/accepted`), 'the accepted response');
      expect(received).not.toContain(parent);
    } finally {
      await device.endAsync();
    }
  });

  test('a certificate set INACTIVE loses its open connection and cannot connect again; ACTIVE again, it can', async () => {
    const revocable = sandbox.kit('pi-other-02');
    const certificate = sandbox.certificateOf('pi-other-02');
    const device = await mqtt.connectAsync(withKit(revocable, 'pi-other-02'));
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    sandbox.registry.updateCertificate(certificate.certificateId, 'INACTIVE');
    await closed;
    await device.endAsync(true);
    expect(await connackOf(withKit(revocable, 'pi-other-02'))).toBe(135);
    sandbox.registry.updateCertificate(certificate.certificateId, 'ACTIVE');
    expect(await connackOf(withKit(revocable, 'pi-other-02'))).toBe(0);
  });

  test('MQTT 3.1.1 connects as on AWS IoT; MQTT 3.1 is refused', async () => {
    expect(await connackOf({ ...withKit(kit, OTHER), protocolVersion: 4 })).toBe(0);
    expect(await connackOf({ ...withKit(kit, OTHER), protocolVersion: 3, protocolId: 'MQIsdp' })).not.toBe(0);
  });
});

describe('grants, resolved for a connection, and the one matcher', () => {
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: 'iot:Publish', Resource: 'arn:aws:iot:eu-west-1:123456789012:topic/inbox/${iot:ClientId}' }] };
  const request = (clientId: string, topic: string) => evaluate([policy], { protocol: 'mqtt', clientId, attachedThings: [] }, { action: 'iot:Publish', resource: `arn:aws:iot:eu-west-1:123456789012:topic/${topic}` }).allowed;

  test('a variable\'s value is literal in the resolved glob: a client ID with * or ? widens nothing', () => {
    expect(grantsOf([policy], { protocol: 'mqtt', clientId: 'a*?', attachedThings: [] })).toEqual([
      { effect: 'Allow', action: 'iot:Publish', resource: 'arn:aws:iot:eu-west-1:123456789012:topic/inbox/a\\*\\?', statement: 'policy 0 statement 0' },
    ]);
    expect(request('a*?', 'inbox/a*?')).toBe(true);
    expect(request('a*?', 'inbox/abcd')).toBe(false);
    expect(request('a*', 'inbox/a')).toBe(false);
  });

  test('globMatches: * any characters, ? one, a backslash makes the next literal', () => {
    expect(globMatches('topic/*', 'topic/a/b')).toBe(true);
    expect(globMatches('topic/?', 'topic/ab')).toBe(false);
    expect(globMatches('topic/\\*', 'topic/x')).toBe(false);
    expect(globMatches('topic/\\*', 'topic/*')).toBe(true);
    expect(globMatches('topic/+/#', 'topic/+/#')).toBe(true);
    expect(globMatches('topic/+', 'topic/x')).toBe(false);
  });
});

test('a backslash in a policy\'s own resource text is a literal character, as before grants were resolved', () => {
  const policy = { Statement: [{ Effect: 'Allow' as const, Action: 'iot:Publish', Resource: 'arn:aws:iot:eu-west-1:123456789012:topic/a\\*' }] };
  const allows = (topic: string) => evaluate([policy], { protocol: 'mqtt', clientId: 'c', attachedThings: [] }, { action: 'iot:Publish', resource: `arn:aws:iot:eu-west-1:123456789012:topic/${topic}` }).allowed;
  expect([allows('a\\b'), allows('a\\'), allows('a*'), allows('ab')]).toEqual([true, true, false, false]);
});

describe('the evaluator, statement by statement', () => {
  const ARN = 'arn:aws:iot:eu-west-1:123456789012';
  const device = { protocol: 'mqtt' as const, clientId: 'pi-1', attachedThings: ['pi-1'] };
  const stranger = { protocol: 'mqtt' as const, clientId: 'someone', attachedThings: ['pi-1'] };
  const overHttps = { protocol: 'https' as const, attachedThings: ['pi-1'] };
  const publish = (topic: string) => ({ action: 'iot:Publish' as const, resource: `${ARN}:topic/${topic}` });
  const allow = (fields: Record<string, unknown>) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: 'iot:Publish', Resource: `${ARN}:topic/data/*`, ...fields }] });

  test('a thing variable exists only for an MQTT connection as an attached thing: over HTTPS or as another client ID the statement grants nothing', () => {
    const policy = allow({ Resource: `${ARN}:topic/data/\${iot:Connection.Thing.ThingName}` });
    expect(grantsOf([policy], device).map((grant) => grant.resource)).toEqual([`${ARN}:topic/data/pi-1`]);
    expect(grantsOf([policy], overHttps)).toEqual([]);
    expect(grantsOf([policy], stranger)).toEqual([]);
    expect(evaluate([policy], overHttps, publish('data/'))).toEqual({ allowed: false, reason: 'implicitDeny' });
  });

  test('${iot:ClientId} does not exist over HTTPS', () => {
    expect(grantsOf([allow({ Resource: `${ARN}:topic/inbox/\${iot:ClientId}` })], overHttps)).toEqual([]);
  });

  test.each([
    ['true', [true, false, false]],
    [['false'], [false, true, false]],
  ])('Bool iot:Connection.Thing.IsAttached %j applies to the connections it names, never over HTTPS', (wanted, expected) => {
    const policy = allow({ Condition: { Bool: { 'iot:Connection.Thing.IsAttached': wanted } } });
    expect([device, stranger, overHttps].map((principal) => evaluate([policy], principal, publish('data/x')).allowed)).toEqual(expected);
  });

  test('an empty Condition is no condition', () => {
    expect(evaluate([allow({ Condition: {} })], device, publish('data/x'))).toEqual({ allowed: true, statement: 'policy 0 statement 0', reason: 'allowed' });
  });

  test('a statement grants each action it lists, and action patterns are globs, case-insensitive', () => {
    const actionsOf = (Action: string | string[]) => [...new Set(grantsOf([allow({ Action })], device).map((grant) => grant.action))];
    expect(actionsOf(['iot:Publish', 'iot:Receive'])).toEqual(['iot:Publish', 'iot:Receive']);
    expect(actionsOf('iot:*')).toEqual(['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive']);
    expect(actionsOf('IOT:p?blish')).toEqual(['iot:Publish']);
    expect(actionsOf('iot:*e')).toEqual(['iot:Subscribe', 'iot:Receive']);
  });

  test.each([
    ['an Effect other than Allow or Deny', { Effect: 'Allowed' }, 'Effect "Allowed" in policy 0 statement 0'],
    ['two keys it does not model', { NotAction: 'x', NotResource: 'y' }, 'NotAction, NotResource in IoT policy statement policy 0 statement 0'],
    ['Bool on another key', { Condition: { Bool: { 'aws:SecureTransport': 'true' } } }, 'condition Bool aws:SecureTransport in policy 0 statement 0 (the sandbox models Bool iot:Connection.Thing.IsAttached)'],
    ['IsAttached with another key under Bool', { Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true', 'aws:SecureTransport': 'true' } } },
      'condition Bool iot:Connection.Thing.IsAttached, aws:SecureTransport in policy 0 statement 0'],
    ['IsAttached under another operator', { Condition: { StringEquals: { 'iot:Connection.Thing.IsAttached': 'true' } } }, 'condition StringEquals iot:Connection.Thing.IsAttached in'],
    ['an action it does not model', { Action: 'iot:GetRetainedMessage' }, 'action iot:GetRetainedMessage in policy 0 statement 0 (the sandbox models iot:Connect, iot:Publish, iot:Subscribe, iot:Receive)'],
    ['two variables it does not model', { Resource: `${ARN}:topic/\${iot:Certificate.Subject.CommonName}/\${aws:SourceIp}` }, 'policy variable ${iot:Certificate.Subject.CommonName}, ${aws:SourceIp} in policy 0 statement 0'],
  ])('%s is refused by name', (_, fields, message) => {
    expect(() => grantsOf([allow(fields)], device)).toThrow(NotSupportedError);
    expect(() => grantsOf([allow(fields)], device)).toThrow(message);
  });

  test('a policy of another version than 2012-10-17 is refused by name', () => {
    expect(() => grantsOf([{ ...allow({}), Version: '2008-10-17' }], device)).toThrow('Version "2008-10-17" of policy 0: AWS IoT policies are version 2012-10-17');
    expect(grantsOf([{ ...allow({}), Version: '2012-10-17' }], device)).toHaveLength(1);
    expect(() => grantsOf([{ Statement: allow({ Resource: `${ARN}:topic/data/\${iot:ClientId}` }).Statement }], device)).toThrow('policy 0 uses policy variables without Version 2012-10-17');
    expect(grantsOf([{ Statement: allow({}).Statement }], device)).toHaveLength(1);
  });

  test('a request on a resource of another type than its action\'s is refused by name', () => {
    expect(() => evaluate([allow({})], device, { action: 'iot:Publish', resource: `${ARN}:client/pi-1` }))
      .toThrow(`iot:Publish on ${ARN}:client/pi-1: its resource must be an ARN of type topic`);
  });

  test('a topic with a line break is matched as any other, and a trailing backslash of a pattern is literal', () => {
    expect(globMatches('topic/*', 'topic/a\nb')).toBe(true);
    expect(globMatches('topic/a\\', 'topic/a\\')).toBe(true);
    expect(globMatches('topic/a\\', 'topic/a')).toBe(false);
  });
});
