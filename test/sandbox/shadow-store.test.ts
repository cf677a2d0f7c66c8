import { computeDelta, ShadowStore } from '../../sandbox/shadow-store';

const PREFIX = '$aws/things/pi/shadow';
const T = 1_700_000_000_000;
const S = T / 1000;

/** Sends a request and returns the responses as {suffix: payload}. */
function send(store: ShadowStore, operation: string, body: unknown, now = T, prefix = PREFIX) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return Object.fromEntries(store.handle(`${prefix}/${operation}`, payload, now).map((m) => [m.topic.slice(prefix.length + 1), JSON.parse(m.payload)]));
}

describe('shadow store: get and delete', () => {
  test('get of a shadow never written is rejected with 404 and the documented message, echoing clientToken', () => {
    expect(send(new ShadowStore(), 'get', { clientToken: 'abc' })).toEqual({
      'get/rejected': { code: 404, message: "No shadow exists with name: 'pi'", timestamp: S, clientToken: 'abc' },
    });
  });

  test('a named shadow is addressed by its own topics and named in the 404', () => {
    expect(send(new ShadowStore(), 'get', {}, T, '$aws/things/pi/shadow/name/config')).toEqual({
      'get/rejected': { code: 404, message: "No shadow exists with name: 'config'", timestamp: S },
    });
  });

  test('get returns state, metadata, version and delta; the get payload is ignored', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { desired: { interval: 10 }, reported: { interval: 5 } } });
    expect(send(store, 'get', 'not json at all', T + 1000)).toEqual({
      'get/accepted': {
        state: { desired: { interval: 10 }, reported: { interval: 5 }, delta: { interval: 10 } },
        metadata: { desired: { interval: { timestamp: S } }, reported: { interval: { timestamp: S } } },
        version: 1, timestamp: S + 1,
      },
    });
  });

  test('delete removes the shadow; a re-created shadow continues the version', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { reported: { a: 1 } } });
    send(store, 'update', { state: { reported: { a: 2 } } });
    expect(send(store, 'delete', { clientToken: 'd' })).toEqual({ 'delete/accepted': { version: 2, timestamp: S, clientToken: 'd' } });
    expect(send(store, 'get', {})['get/rejected'].code).toBe(404);
    expect(send(store, 'delete', {})['delete/rejected']).toEqual({ code: 404, message: "No shadow exists with name: 'pi'", timestamp: S });
    expect(send(store, 'update', { state: { reported: { a: 3 } } })['update/accepted'].version).toBe(3);
  });

  test('ignores topics that are not shadow requests, responses included', () => {
    const store = new ShadowStore();
    expect(store.handle(`${PREFIX}/update/accepted`, '{}')).toEqual([]);
    expect(store.handle('data/pi', '{}')).toEqual([]);
  });
});

describe('shadow store: update', () => {
  test('accepted echoes only the request fields with their metadata; documents has previous null on creation', () => {
    const responses = send(new ShadowStore(), 'update', { state: { reported: { color: 'green' } }, clientToken: 't1' });
    expect(responses['update/accepted']).toEqual({
      state: { reported: { color: 'green' } }, metadata: { reported: { color: { timestamp: S } } }, version: 1, timestamp: S, clientToken: 't1',
    });
    expect(responses['update/documents']).toEqual({
      previous: null,
      current: { state: { reported: { color: 'green' } }, metadata: { reported: { color: { timestamp: S } } }, version: 1 },
      timestamp: S, clientToken: 't1',
    });
    expect(responses['update/delta']).toBeUndefined();
  });

  test('delta lists every out-of-sync desired key, with desired metadata and the triggering clientToken', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { desired: { interval: 5, mode: 'eco' }, reported: { interval: 5 } } }, T);
    const responses = send(store, 'update', { state: { desired: { interval: 10 } }, clientToken: 'console' }, T + 5000);
    expect(responses['update/delta']).toEqual({
      version: 2, timestamp: S + 5, state: { interval: 10, mode: 'eco' },
      metadata: { interval: { timestamp: S + 5 }, mode: { timestamp: S } }, clientToken: 'console',
    });
    expect(responses['update/documents'].previous.version).toBe(1);
  });

  test('no delta when states converge; a reported-only update that creates a difference publishes one', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { desired: { interval: 10 } } });
    expect(send(store, 'update', { state: { reported: { interval: 10 } } })['update/delta']).toBeUndefined();
    expect(send(store, 'update', { state: { reported: { interval: 5 } } })['update/delta'].state).toEqual({ interval: 10 });
  });

  test('null deletes a key; desired null removes the section; state null keeps the shadow and bumps the version', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { desired: { a: 1, b: 2 }, reported: { a: 1 } } });
    send(store, 'update', { state: { desired: { b: null } } });
    expect(send(store, 'get', {})['get/accepted'].state).toEqual({ desired: { a: 1 }, reported: { a: 1 } });
    send(store, 'update', { state: { desired: null } });
    expect(send(store, 'get', {})['get/accepted'].state).toEqual({ reported: { a: 1 } });
    expect(send(store, 'update', { state: null })['update/accepted'].version).toBe(4);
    expect(send(store, 'get', {})['get/accepted']).toMatchObject({ state: {}, version: 4 });
  });

  test('nested objects merge and diff recursively with the path kept; arrays are replaced and compared whole', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { desired: { led: { color: 'red', level: 3 }, list: [1, 2, 3] }, reported: { led: { color: 'red', level: 1 }, list: [1, 2] } } });
    send(store, 'update', { state: { desired: { led: { level: 4 } } } });
    const { state } = send(store, 'get', {})['get/accepted'];
    expect(state.desired).toEqual({ led: { color: 'red', level: 4 }, list: [1, 2, 3] });
    expect(state.delta).toEqual({ led: { level: 4 }, list: [1, 2, 3] });
  });

  test('delta rules: missing reported keys are included, reported-only keys excluded, numbers compared by value', () => {
    expect(computeDelta({ a: 1, b: 2.0, c: { d: 1 } }, { b: 2, e: 5 })).toEqual({ a: 1, c: { d: 1 } });
    expect(computeDelta({ a: 1 }, { a: 1 })).toEqual({});
  });

  test('a matching version is accepted; a stale one gets 409 Version conflict', () => {
    const store = new ShadowStore();
    send(store, 'update', { state: { desired: { a: 1 } } });
    expect(send(store, 'update', { state: { desired: { a: 2 } }, version: 1 })['update/accepted'].version).toBe(2);
    expect(send(store, 'update', { state: { desired: { a: 3 } }, version: 1, clientToken: 'x' })).toEqual({
      'update/rejected': { code: 409, message: 'Version conflict', timestamp: S, clientToken: 'x' },
    });
  });

  test.each([
    ['invalid JSON', '{"state":', 400, 'Invalid JSON'],
    ['a JSON array', '[1]', 400, 'Invalid JSON'],
    ['no state', { clientToken: 'c' }, 400, 'Missing required node: state'],
    ['a string state', { state: 'on' }, 400, 'State node must be an object'],
    ['desired not an object', { state: { desired: 5 } }, 400, 'Desired node must be an object'],
    ['reported an array', { state: { reported: [1] } }, 400, 'Reported node must be an object'],
    ['another node in state', { state: { delta: { a: 1 } } }, 400, 'State contains an invalid node'],
    ['null inside an array', { state: { desired: { list: [1, null] } } }, 400, 'State contains an invalid node'],
    ['a version that is no integer', { state: { desired: {} }, version: 'one' }, 400, 'Invalid version'],
    ['a clientToken of 65 bytes', { state: { desired: {} }, clientToken: 'x'.repeat(65) }, 400, 'Invalid clientToken'],
    ['nesting of 7 levels', { state: { desired: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } }, 400, 'JSON contains too many levels of nesting; maximum is 6'],
    ['state over 8 KB', { state: { reported: { blob: 'x'.repeat(8200) } } }, 413, 'The payload exceeds the maximum size allowed'],
  ])('rejects %s with %i', (_, body, code, message) => {
    const store = new ShadowStore();
    const responses = send(store, 'update', body);
    expect(Object.keys(responses)).toEqual(['update/rejected']);
    expect(responses['update/rejected']).toMatchObject({ code, message });
    expect(send(store, 'get', {})['get/rejected'].code).toBe(404);
  });

  test('six levels of nesting are accepted', () => {
    expect(send(new ShadowStore(), 'update', { state: { desired: { a: { b: { c: { d: { e: { f: 1 } } } } } } } })['update/accepted'].version).toBe(1);
  });
});
