/**
 * The review's reading of a template's devices, which the rules' review relies on (ops/review-rules.ts), and of
 * templates the review may meet at any base: without a thing, or with names it cannot read.
 */
import { dataPublishers, fleetPrefixOf, thingName } from '../../ops/review-access';
import { Template } from '../../ops/review-model';
import { environmentTemplate } from '../../sandbox/templates';

test('the publishers of an environment: its thing and a fleet device, each over MQTT and HTTPS; the claim certificate publishes no data', () => {
  const publisher = (role: string, words: string, thing: string) => ({ role, words, thing, topic: `data/${thing}`, topicWords: 'data/<thing>', publishes: { mqtt: true, https: true } });
  expect(dataPublishers(environmentTemplate('dev') as unknown as Template)).toEqual([
    publisher('declared', "thing 'pi-dev-01'", 'pi-dev-01'),
    publisher('fleet', 'every fleet device (pi-dev-fleet-*)', 'pi-dev-fleet-SERIAL0001'),
  ]);
  expect(dataPublishers(environmentTemplate('stg') as unknown as Template)).toEqual([publisher('declared', "thing 'pi-stg-01'", 'pi-stg-01')]);
});

test.each([
  ['no resource and no output', { Resources: {} }],
  ['a thing whose name CloudFormation makes', { Resources: { Thing: { Type: 'AWS::IoT::Thing' } }, Outputs: {} }],
  ['names given by parameters', { Resources: { Thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'Name' } } } }, Outputs: { FleetThingNamePrefix: { Value: { Ref: 'Prefix' } } } }],
])('a template with %s: no thing name, no fleet prefix', (_, template) => {
  expect(thingName(template as Template)).toBeUndefined();
  expect(fleetPrefixOf(template as Template)).toBeUndefined();
});

test('the names of a template: its thing\'s, and its fleet\'s prefix only where it has a fleet', () => {
  expect([thingName(environmentTemplate('dev') as unknown as Template), fleetPrefixOf(environmentTemplate('dev') as unknown as Template)]).toEqual(['pi-dev-01', 'pi-dev-fleet-']);
  expect([thingName(environmentTemplate('stg') as unknown as Template), fleetPrefixOf(environmentTemplate('stg') as unknown as Template)]).toEqual(['pi-stg-01', undefined]);
});

test('a provisioning template the sandbox cannot read (of another type): the thing still publishes, and no fleet device is made up', () => {
  const template = JSON.parse(JSON.stringify(environmentTemplate('dev'))) as Template;
  for (const resource of Object.values(template.Resources!)) {
    if (resource.Type === 'AWS::IoT::ProvisioningTemplate') resource.Properties!.TemplateType = 'JITP';
  }
  expect(dataPublishers(template).map((publisher) => publisher.role)).toEqual(['declared']);
});

test('a data topic granted only where the connection has no attached thing: refused over HTTPS, where that key does not exist', () => {
  // "Policy condition keys: iot:Connection.Thing.IsAttached" is an MQTT key; HTTPS requests carry no client ID.
  const template = JSON.parse(JSON.stringify(environmentTemplate('stg'))) as Template;
  for (const resource of Object.values(template.Resources!)) {
    if (resource.Type !== 'AWS::IoT::Policy') continue;
    resource.Properties!.PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:*:*:topic/data/*', Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'false' } } }],
    };
  }
  expect(dataPublishers(template).map((publisher) => publisher.publishes)).toEqual([{ mqtt: false, https: false }]);
});
