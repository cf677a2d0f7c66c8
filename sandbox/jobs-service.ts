/**
 * The local jobs service: a privileged MQTT client on the sandbox broker that answers the Jobs MQTT API with
 * IotJobs and publishes its notifications, as AWS IoT Jobs does on the real endpoint. Which device may publish a
 * request or receive an answer is the broker's decision, from the device's policies, as for any other topic.
 */
import { MqttClient } from 'mqtt';
import { IotJobs, JobsMessage } from './iot-jobs';
import { Broker } from './mosquitto';
import { PresignedUrls } from './presigned-urls';

const REQUEST_FILTERS = ['$aws/things/+/jobs/get', '$aws/things/+/jobs/start-next', '$aws/things/+/jobs/+/get', '$aws/things/+/jobs/+/update'];
/** How often rollout, timeouts and CONTINUOUS targets move on. */
const TICK_MS = 1000;

export class JobsService {
  private readonly timer: NodeJS.Timeout;

  /** Messages go out in the order they were made, each once its presigned URLs are signed. */
  private sending: Promise<void> = Promise.resolve();

  private constructor(private readonly client: MqttClient, readonly jobs: IotJobs, presignedUrls?: PresignedUrls) {
    const send = async (message: JobsMessage) => {
      // IotJobs refused, when the job was made, a job with presigned URLs and no presigner.
      const payload = message.presignedUrlConfig ? await presignedUrls!.sign(message.payload, message.presignedUrlConfig) : message.payload;
      client.publish(message.topic, payload, { qos: 1 });
    };
    const publish = (messages: JobsMessage[]) => {
      for (const message of messages) {
        this.sending = this.sending.then(() => send(message)).catch((error: Error) => console.error(`jobs service: ${message.topic} not sent: ${error.message}`));
      }
    };
    jobs.onNotifications(publish);
    client.on('message', (topic, payload) => publish(jobs.handle(topic, payload)));
    this.timer = setInterval(() => jobs.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Connects to the broker as the `jobs-service` identity and starts answering. */
  static async start(broker: Broker, jobs: IotJobs, presignedUrls?: PresignedUrls): Promise<JobsService> {
    const client = await broker.connectAs('jobs-service');
    await client.subscribeAsync(REQUEST_FILTERS, { qos: 1 });
    return new JobsService(client, jobs, presignedUrls);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sending;
    await this.client.endAsync(!this.client.connected);
  }
}
