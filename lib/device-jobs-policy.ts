import { Construct } from 'constructs';
import { THING_NAME_VARIABLE } from '../device/src/contract';
import { iotArn, IotPolicy } from './iot-policy';

/**
 * What a device may do with AWS IoT Jobs, through policy variables like the device policy, so one policy serves
 * every device: the four requests of the Jobs MQTT API about its own executions (`jobs/get`, `jobs/start-next`,
 * `jobs/<jobId>/get`, `jobs/<jobId>/update`), and subscribing to and receiving its own jobs topics (their
 * answers, `notify` and `notify-next`), the form AWS shows for a jobs device ("Jobs device MQTT API"); nothing of
 * another thing's. A policy of its own beside the device policy: an IoT policy document holds at most 2,048
 * characters ("AWS IoT Core endpoints and quotas"), and the device policy has little room left.
 */
export class DeviceJobsPolicy extends IotPolicy {
  constructor(scope: Construct, id: string) {
    const arn = (resource: string, resourceName: string) => iotArn(scope, resource, resourceName);
    const jobs = `$aws/things/${THING_NAME_VARIABLE}/jobs`;
    super(scope, id, {
      document: {
        Version: '2012-10-17',
        Statement: [
          {
            // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
            Sid: 'OwnJobsRequests',
            Effect: 'Allow',
            Action: 'iot:Publish',
            Resource: [arn('topic', `${jobs}/get`), arn('topic', `${jobs}/start-next`), arn('topic', `${jobs}/*/get`), arn('topic', `${jobs}/*/update`)],
          },
          {
            // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
            Sid: 'SubscribeOwnJobsTopics',
            Effect: 'Allow',
            Action: 'iot:Subscribe',
            Resource: arn('topicfilter', `${jobs}/*`),
          },
          {
            // Stryker disable next-line StringLiteral: a Sid names the statement for people; no decision reads it
            Sid: 'ReceiveOwnJobsTopics',
            Effect: 'Allow',
            Action: 'iot:Receive',
            Resource: arn('topic', `${jobs}/*`),
          },
        ],
      },
    });
  }
}
