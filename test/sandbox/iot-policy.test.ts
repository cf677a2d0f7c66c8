import { shadowTopics, shadowUpdatesFilter } from '../../device/src/shadow';
import { evaluate, IotAction, Protocol } from '../../sandbox/iot-policy';
import { IotRegistry, mosquittoTopic } from '../../sandbox/iot-registry';
import { NotSupportedError } from '../../sandbox/errors';
import { Template } from '../../sandbox/templates';
import { environments } from '../../config/environments';
import { Sandbox } from '../device/harness';
import { environmentTemplate } from '../../sandbox/templates';
import { ENVIRONMENT_NAMES } from '../setup/synth';

const OTHER = 'pi-other-01';

describe.each(ENVIRONMENT_NAMES)('the synthesized IoT policies of IotCore-%s, evaluated as AWS IoT does', (name) => {
  const registry = IotRegistry.fromTemplate(environmentTemplate(name) as Template, environments[name as keyof typeof environments] as { account?: string; region?: string });
  const THING = registry.thing.name;
  const outputs = environmentTemplate(name).Outputs;
  const allowed = (thing: string, protocol: Protocol, clientId: string | undefined, action: IotAction, resource: string) =>
    registry.authorize(thing, protocol, clientId, action, resource).allowed;

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

  test('the broker\'s ACL is generated from the same documents: shared grants per CN, the thing\'s own HTTPS grant in its user block', () => {
    const acl = registry.mosquittoAcl();
    expect(acl).toContain('pattern write data/%u');
    expect(acl).toContain('pattern read $aws/things/%u/shadow/update/+/#');
    expect(acl).toContain(`user ${THING}\ntopic write data/${THING}`);
    expect(acl).not.toMatch(/pattern .*\$\{/);
  });
});

describe('what the evaluator and the ACL translation refuse to model', () => {
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

  test('a trailing /* becomes /+/#: one level or more below, never the parent topic itself', () => {
    expect(mosquittoTopic('$aws/things/t/shadow/update/*')).toBe('$aws/things/t/shadow/update/+/#');
  });

  test.each(['data/pi-*', 'data/*/x', 'data/+', 'data/?'])('topic pattern %s cannot become a Mosquitto ACL topic', (pattern) => {
    expect(() => mosquittoTopic(pattern)).toThrow(NotSupportedError);
  });
});

describe('the live broker decides as the evaluator does', () => {
  let sandbox: Sandbox;
  beforeAll(async () => { sandbox = await Sandbox.start(); });
  afterAll(async () => { await sandbox.stop(); });

  test('a device does not receive its own shadow/update request back: the policy allows Receive on update/* only, and the broker grants exactly that', async () => {
    const device = await sandbox.broker.connectAs(OTHER, OTHER);
    const received: string[] = [];
    device.on('message', (topic) => received.push(topic));
    try {
      const parent = `$aws/things/${OTHER}/shadow/update`;
      await device.subscribeAsync([parent, `${parent}/#`], { qos: 1 });
      await sandbox.observer.client.publishAsync(parent, '{"state":{"reported":{"interval":5}}}', { qos: 1 });
      // A positive event that must come after: the shadow service's answer to that very request, which the policy allows.
      await sandbox.observer.until(() => received.includes(`${parent}/accepted`), 'the accepted response');
      expect(received).not.toContain(parent);
      expect(received).toContain(`${parent}/accepted`);
      expect(sandbox.registry.authorize(OTHER, 'mqtt', OTHER, 'iot:Receive', parent).allowed).toBe(false);
    } finally {
      await device.endAsync();
    }
  });

  test('another thing receives its own shadow responses, never the template thing\'s', async () => {
    const thing = sandbox.registry.thing.name;
    const other = await sandbox.broker.connectAs(OTHER, OTHER);
    const received: string[] = [];
    other.on('message', (topic) => received.push(topic));
    try {
      const ownTopic = `$aws/things/${OTHER}/shadow/update/delta`;
      const foreignTopic = `$aws/things/${thing}/shadow/update/delta`;
      // Mosquitto grants the SUBSCRIBE and filters at delivery: AWS IoT would refuse the subscription itself.
      await other.subscribeAsync([ownTopic, foreignTopic], { qos: 1 });
      await sandbox.observer.client.publishAsync(foreignTopic, '{}', { qos: 1 });
      await sandbox.observer.client.publishAsync(ownTopic, '{}', { qos: 1 });
      // Its own delta, published after the foreign one on the same connection, arrives after it would have: a positive
      // event that must come after, then the absence.
      await sandbox.observer.until(() => received.includes(ownTopic), 'its own delta');
      expect(received).toEqual([ownTopic]);
      expect([
        sandbox.registry.authorize(OTHER, 'mqtt', OTHER, 'iot:Receive', ownTopic).allowed,
        sandbox.registry.authorize(OTHER, 'mqtt', OTHER, 'iot:Receive', foreignTopic).allowed,
      ]).toEqual([true, false]);
    } finally {
      await other.endAsync();
    }
  });
});
