import { AddThingToThingGroupCommand, DescribeEndpointCommand, IoTClient, RemoveThingFromThingGroupCommand, ResourceNotFoundException as NotFound } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, ResourceNotFoundException, UnauthorizedException, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { changedDefaults, onShadowDefaultsEvent, ShadowDefaultsProperties } from '../../lib/handlers/shadow-defaults';
import { cfnEvent, fakeContext } from './events';

const iot = mockClient(IoTClient);
const dataPlane = mockClient(IoTDataPlaneClient);
const ENDPOINT = 'abc123-ats.iot.eu-west-1.amazonaws.com';
const endpointsAsked: string[] = [];
const clients = {
  iot: new IoTClient({}),
  dataPlane: (endpoint: string) => { endpointsAsked.push(endpoint); return new IoTDataPlaneClient({}); },
};
const props: ShadowDefaultsProperties = { ThingName: 'pi-dev-01', DesiredJson: '{"interval":5}', ClearOnDelete: 'true' };

/** The shadow documents the handler wrote, parsed. */
const written = () => dataPlane.commandCalls(UpdateThingShadowCommand).map((call) => ({
  thingName: call.args[0].input.thingName,
  document: JSON.parse(new TextDecoder().decode(call.args[0].input.payload as Uint8Array)),
}));

beforeEach(() => {
  iot.reset();
  dataPlane.reset();
  endpointsAsked.length = 0;
  iot.on(DescribeEndpointCommand, { endpointType: 'iot:Data-ATS' }).resolves({ endpointAddress: ENDPOINT });
  dataPlane.on(UpdateThingShadowCommand).resolves({});
});

describe('shadow defaults handler', () => {
  test('create writes the default desired state on the Data-ATS endpoint', async () => {
    const response = await onShadowDefaultsEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext());

    expect(endpointsAsked).toEqual([ENDPOINT]);
    expect(written()).toEqual([{ thingName: 'pi-dev-01', document: { state: { desired: { interval: 5 } } } }]);
    expect(response).toEqual({ PhysicalResourceId: 'pi-dev-01/shadow-defaults' });
  });

  const update = (oldProps: Partial<ShadowDefaultsProperties>, newProps: Partial<ShadowDefaultsProperties>) => cfnEvent({
    RequestType: 'Update', PhysicalResourceId: 'pi-dev-01/shadow-defaults',
    OldResourceProperties: { ServiceToken: 'x', ...props, ...oldProps }, ResourceProperties: { ServiceToken: 'x', ...props, ...newProps },
  } as never);

  test('update writes only the defaults that changed, so a value set in the console since survives', async () => {
    await onShadowDefaultsEvent(update({ DesiredJson: '{"interval":5,"mode":"eco"}' }, { DesiredJson: '{"interval":10,"mode":"eco"}' }), clients, fakeContext());
    expect(written()).toEqual([{ thingName: 'pi-dev-01', document: { state: { desired: { interval: 10 } } } }]);
  });

  test('update with unchanged defaults leaves the shadow alone, without even asking for the endpoint', async () => {
    await onShadowDefaultsEvent(update({}, { ClearOnDelete: 'false' }), clients, fakeContext());
    expect(written()).toEqual([]);
    expect(iot.commandCalls(DescribeEndpointCommand)).toHaveLength(0);
  });

  describe('the data endpoint (Custom::IotDataEndpoint), answered by the same handler', () => {
    const endpointEvent = (RequestType: 'Create' | 'Update' | 'Delete') => cfnEvent({
      RequestType, ResourceType: 'Custom::IotDataEndpoint', PhysicalResourceId: ENDPOINT, ResourceProperties: { ServiceToken: 'x' }, OldResourceProperties: { ServiceToken: 'x' },
    } as never);

    test.each(['Create', 'Update'] as const)('%s answers the Data-ATS address as its Address and physical ID, and writes no shadow', async (type) => {
      await expect(onShadowDefaultsEvent(endpointEvent(type), clients, fakeContext())).resolves.toEqual({ PhysicalResourceId: ENDPOINT, Data: { Address: ENDPOINT } });
      expect(iot.commandCalls(DescribeEndpointCommand)[0].args[0].input).toEqual({ endpointType: 'iot:Data-ATS' });
      expect(written()).toEqual([]);
    });

    test('Delete calls nothing', async () => {
      await expect(onShadowDefaultsEvent(endpointEvent('Delete'), clients, fakeContext())).resolves.toEqual({ PhysicalResourceId: ENDPOINT });
      expect(iot.calls()).toHaveLength(0);
    });
  });

  test('update to another thing writes all defaults to the new thing', async () => {
    const response = await onShadowDefaultsEvent(update({ ThingName: 'pi-old' }, {}), clients, fakeContext());
    expect(written()).toEqual([{ thingName: 'pi-dev-01', document: { state: { desired: { interval: 5 } } } }]);
    expect(response.PhysicalResourceId).toBe('pi-dev-01/shadow-defaults');
  });

  test('delete clears desired when configured to', async () => {
    await onShadowDefaultsEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: 'pi-dev-01/shadow-defaults', ResourceProperties: { ServiceToken: 'x', ...props } } as never), clients, fakeContext());
    expect(written()).toEqual([{ thingName: 'pi-dev-01', document: { state: { desired: null } } }]);
  });

  test('delete never fails the stack because the thing or shadow is already gone', async () => {
    dataPlane.on(UpdateThingShadowCommand).rejects(new ResourceNotFoundException({ message: 'No shadow exists', $metadata: {} }));
    const context = fakeContext();
    await expect(onShadowDefaultsEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: 'p', ResourceProperties: { ServiceToken: 'x', ...props } } as never), clients, context))
      .resolves.toEqual({ PhysicalResourceId: 'p' });
    expect(context.lines.join('\n')).toContain('already gone');
  });

  test('delete without ClearOnDelete makes no call at all', async () => {
    await onShadowDefaultsEvent(cfnEvent({ RequestType: 'Delete', PhysicalResourceId: 'p', ResourceProperties: { ServiceToken: 'x', ...props, ClearOnDelete: 'false' } } as never), clients, fakeContext());
    expect(iot.calls()).toHaveLength(0);
    expect(dataPlane.calls()).toHaveLength(0);
  });

  test('a refused write fails with the thing, the value and what to check', async () => {
    dataPlane.on(UpdateThingShadowCommand).rejects(new UnauthorizedException({ message: 'denied', $metadata: {} }));
    await expect(onShadowDefaultsEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext()))
      .rejects.toThrow(`Could not write the desired state {"interval":5} to the shadow of thing 'pi-dev-01' (UnauthorizedException: denied). Check that the thing exists and the handler may call iot:UpdateThingShadow on it.`);
  });

  test('an endpoint lookup without an address fails clearly', async () => {
    iot.on(DescribeEndpointCommand).resolves({});
    await expect(onShadowDefaultsEvent(cfnEvent({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', ...props } }), clients, fakeContext()))
      .rejects.toThrow('DescribeEndpoint(iot:Data-ATS) returned no address');
  });

  test('changedDefaults compares values, nested ones included', () => {
    expect(changedDefaults({ interval: 5, nested: { a: 1 } }, { interval: 5, nested: { a: 2 }, added: true })).toEqual({ nested: { a: 2 }, added: true });
    expect(changedDefaults({ interval: 5 }, { interval: 5 })).toEqual({});
  });
});

describe('thing group membership (Custom::ThingGroupMembership, same handler)', () => {
  const membership = { ServiceToken: 'x', ThingName: 'pi-dev-01', ThingGroupName: 'fleet-group' };

  test('create and update add the thing to the group, named by both; no shadow is written', async () => {
    iot.on(AddThingToThingGroupCommand).resolves({});
    const created = await onShadowDefaultsEvent(cfnEvent({ RequestType: 'Create', ResourceType: 'Custom::ThingGroupMembership', ResourceProperties: membership }), clients, fakeContext());
    expect(created).toEqual({ PhysicalResourceId: 'fleet-group/pi-dev-01' });
    const moved = await onShadowDefaultsEvent(cfnEvent({
      RequestType: 'Update', ResourceType: 'Custom::ThingGroupMembership', PhysicalResourceId: 'fleet-group/pi-dev-01',
      OldResourceProperties: membership, ResourceProperties: { ...membership, ThingGroupName: 'other-group' },
    } as never), clients, fakeContext());
    // A new physical ID: CloudFormation then deletes the old membership.
    expect(moved).toEqual({ PhysicalResourceId: 'other-group/pi-dev-01' });
    expect(iot.commandCalls(AddThingToThingGroupCommand).map((call) => call.args[0].input)).toEqual([
      { thingName: 'pi-dev-01', thingGroupName: 'fleet-group' }, { thingName: 'pi-dev-01', thingGroupName: 'other-group' },
    ]);
    expect(written()).toEqual([]);
  });

  test('delete removes it; a thing or group already gone is not an error', async () => {
    iot.on(RemoveThingFromThingGroupCommand).rejects(new NotFound({ message: 'Thing group fleet-group cannot be found.', $metadata: {} }));
    const deleted = await onShadowDefaultsEvent(cfnEvent({ RequestType: 'Delete', ResourceType: 'Custom::ThingGroupMembership', PhysicalResourceId: 'fleet-group/pi-dev-01', ResourceProperties: membership } as never), clients, fakeContext());
    expect(deleted).toEqual({ PhysicalResourceId: 'fleet-group/pi-dev-01' });
    expect(iot.commandCalls(RemoveThingFromThingGroupCommand).map((call) => call.args[0].input)).toEqual([{ thingName: 'pi-dev-01', thingGroupName: 'fleet-group' }]);
  });
});
