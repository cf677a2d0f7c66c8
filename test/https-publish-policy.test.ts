import { HttpsPublishPolicy } from '../lib/https-publish-policy';
import { freshStack, templateOf } from './setup/constructs';

describe('HttpsPublishPolicy', () => {
  test('allows publishing one thing\'s data topic, named literally (no thing variables exist over HTTPS)', () => {
    const stack = freshStack({ account: '210987654321', region: 'eu-west-1' });
    new HttpsPublishPolicy(stack, 'Https', { thingName: 'pi-01' });
    templateOf(stack).hasResourceProperties('AWS::IoT::Policy', {
      PolicyDocument: { Statement: [{ Sid: 'PublishOwnDataOverHttps', Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:eu-west-1:210987654321:topic/data/pi-01' }] },
    });
  });

  test('refuses a data topic prefix of more than one level', () => {
    expect(() => new HttpsPublishPolicy(freshStack(), 'Https', { thingName: 'pi-01', dataTopicPrefix: 'a/b' })).toThrow("HttpsPublishPolicy dataTopicPrefix 'a/b' must be one topic level");
  });
});
