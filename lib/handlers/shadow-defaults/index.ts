/**
 * Custom resources: default desired state of the thing's classic shadow (Custom::ShadowDefaults), which
 * needs the account's iot:Data-ATS endpoint to write it, and that endpoint for the stack's outputs
 * (Custom::IotDataEndpoint, its `Address` attribute): one function resolves it for both. It also puts the
 * declared thing in a static thing group (Custom::ThingGroupMembership: CloudFormation has no resource for
 * AddThingToThingGroup); its Delete removes it, a thing or group already gone is not an error.
 *
 * Create writes every default. Update writes only the defaults whose value changed in the stack, so a
 * desired value someone set since (the console edit of interval 5 -> 10) survives an unrelated deploy;
 * a default removed from the stack is left in the shadow. Delete clears `desired` when
 * ClearOnDelete is 'true' and otherwise leaves the shadow alone; a thing or shadow that is already
 * gone is not an error.
 */
import { AddThingToThingGroupCommand, DescribeEndpointCommand, IoTClient, RemoveThingFromThingGroupCommand } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { errorMessage, errorName, HandlerContext, ignoringNotFound } from '../retry';

/** Properties of the Custom::ShadowDefaults resource (CloudFormation passes every value as a string). */
export interface ShadowDefaultsProperties {
  readonly ThingName: string;
  /** The default desired state as JSON, e.g. {"interval":5}; JSON keeps numbers numbers. */
  readonly DesiredJson: string;
  readonly ClearOnDelete: string;
}

export interface ShadowDefaultsClients {
  readonly iot: IoTClient;
  /** Builds a data-plane client for the account's Data-ATS endpoint. */
  readonly dataPlane: (endpoint: string) => IoTDataPlaneClient;
}

export interface ShadowDefaultsResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { Address: string };
}

/** The resource type of the data endpoint (lib/data-endpoint.ts), answered by this handler too. */
export const DATA_ENDPOINT_RESOURCE_TYPE = 'Custom::IotDataEndpoint';

/** The resource type of a thing's membership of a static group (lib/thing-group-membership.ts), answered by this handler too. */
export const THING_GROUP_MEMBERSHIP_RESOURCE_TYPE = 'Custom::ThingGroupMembership';

/** Properties of the Custom::ThingGroupMembership resource. */
export interface ThingGroupMembershipProperties {
  readonly ThingName: string;
  readonly ThingGroupName: string;
}

type Desired = Record<string, unknown>;

export async function onShadowDefaultsEvent(
  event: CloudFormationCustomResourceEvent, clients: ShadowDefaultsClients, context: HandlerContext,
): Promise<ShadowDefaultsResponse> {
  if (event.ResourceType === DATA_ENDPOINT_RESOURCE_TYPE) {
    context.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId}): the iot:Data-ATS endpoint`);
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const address = await dataEndpoint(clients.iot);
    return { PhysicalResourceId: address, Data: { Address: address } };
  }
  if (event.ResourceType === THING_GROUP_MEMBERSHIP_RESOURCE_TYPE) return onMembershipEvent(event, clients.iot, context);
  const props = event.ResourceProperties as unknown as ShadowDefaultsProperties;
  context.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId}) for thing ${props.ThingName}`);
  if (event.RequestType === 'Delete') {
    if (props.ClearOnDelete === 'true') {
      const dataPlane = clients.dataPlane(await dataEndpoint(clients.iot));
      const cleared = await ignoringNotFound(() => writeDesired(dataPlane, props.ThingName, null, context));
      if (!cleared) context.log(`thing ${props.ThingName} or its shadow is already gone`);
    }
    return { PhysicalResourceId: event.PhysicalResourceId };
  }

  const current = parseDesired(props);
  // On an Update of the same thing, write only what changed in the stack (see the header comment).
  const old = event.RequestType === 'Update' ? event.OldResourceProperties as unknown as ShadowDefaultsProperties : undefined;
  const desired = old?.ThingName === props.ThingName ? changedDefaults(parseDesired(old), current) : current;
  if (Object.keys(desired).length > 0) await writeDesired(clients.dataPlane(await dataEndpoint(clients.iot)), props.ThingName, desired, context);
  else context.log('no default changed: the shadow is left as it is');
  return { PhysicalResourceId: `${props.ThingName}/shadow-defaults` };
}

/**
 * Adds the thing to the group on Create and Update (a new thing or group is a new physical ID, so CloudFormation then
 * deletes the previous membership), removes it on Delete. AddThingToThingGroup of a member is accepted ("AddThingToThingGroup").
 */
async function onMembershipEvent(event: CloudFormationCustomResourceEvent, iot: IoTClient, context: HandlerContext): Promise<ShadowDefaultsResponse> {
  const { ThingName: thingName, ThingGroupName: thingGroupName } = event.ResourceProperties as unknown as ThingGroupMembershipProperties;
  context.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId}): thing ${thingName} in group ${thingGroupName}`);
  if (event.RequestType === 'Delete') {
    const removed = await ignoringNotFound(() => iot.send(new RemoveThingFromThingGroupCommand({ thingName, thingGroupName })));
    if (!removed) context.log(`thing ${thingName} or group ${thingGroupName} is already gone`);
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  await iot.send(new AddThingToThingGroupCommand({ thingName, thingGroupName }));
  return { PhysicalResourceId: `${thingGroupName}/${thingName}` };
}

/** The account's ATS data endpoint (the first call creates it). */
export async function dataEndpoint(iot: IoTClient): Promise<string> {
  const response = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  if (!response.endpointAddress) throw new Error('DescribeEndpoint(iot:Data-ATS) returned no address; retry the deployment.');
  return response.endpointAddress;
}

/** The defaults that are new or whose value differs from the previous deployment's. */
export function changedDefaults(previous: Desired, current: Desired): Desired {
  return Object.fromEntries(Object.entries(current).filter(([key, value]) => JSON.stringify(previous[key]) !== JSON.stringify(value)));
}

function parseDesired(props: ShadowDefaultsProperties): Desired {
  const desired: unknown = JSON.parse(props.DesiredJson);
  if (typeof desired !== 'object' || desired === null || Array.isArray(desired)) {
    throw new Error(`DesiredJson must be a JSON object, got ${props.DesiredJson}`);
  }
  return desired as Desired;
}

async function writeDesired(dataPlane: IoTDataPlaneClient, thingName: string, desired: Desired | null, context: HandlerContext): Promise<void> {
  const document = JSON.stringify({ state: { desired } });
  try {
    await dataPlane.send(new UpdateThingShadowCommand({ thingName, payload: new TextEncoder().encode(document) }));
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') throw error;
    throw new Error(`Could not write the desired state ${JSON.stringify(desired)} to the shadow of thing '${thingName}' `
      + `(${errorName(error)}: ${errorMessage(error)}). Check that the thing exists and the handler may call iot:UpdateThingShadow on it.`);
  }
  context.log(`wrote desired ${JSON.stringify(desired)} to the classic shadow of ${thingName}`);
}

// Made on the first event and kept for the next ones: importing this module (the sandbox does) makes no client.
let iot: IoTClient | undefined;
const dataPlanes = new Map<string, IoTDataPlaneClient>();
const dataPlaneFor = (endpoint: string) => {
  if (!dataPlanes.has(endpoint)) dataPlanes.set(endpoint, new IoTDataPlaneClient({ endpoint: `https://${endpoint}` }));
  return dataPlanes.get(endpoint)!;
};

export const handler = (event: CloudFormationCustomResourceEvent, lambdaContext: Context) =>
  onShadowDefaultsEvent(event, { iot: iot ??= new IoTClient({}), dataPlane: dataPlaneFor }, {
    log: console.log, deadline: Date.now() + lambdaContext.getRemainingTimeInMillis() - 10_000,
  });
