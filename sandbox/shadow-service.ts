/**
 * The local shadow service: a privileged MQTT client on the sandbox broker that answers shadow
 * requests with ShadowStore, as AWS IoT's shadow service does on the real endpoint.
 */
import { MqttClient } from 'mqtt';
import { Broker } from './mosquitto';
import { OutgoingMessage, ShadowStore } from './shadow-store';

const REQUEST_FILTERS = ['get', 'update', 'delete'].flatMap((operation) => [
  `$aws/things/+/shadow/${operation}`,
  `$aws/things/+/shadow/name/+/${operation}`,
]);

export class ShadowService {
  readonly store = new ShadowStore();

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      for (const response of this.store.handle(topic, payload)) {
        client.publish(response.topic, response.payload, { qos: 1 });
      }
    });
  }

  /** Connects to the broker as the `shadow-service` identity and starts answering. */
  static async start(broker: Broker): Promise<ShadowService> {
    const client = await broker.connectAs('shadow-service');
    await client.subscribeAsync(REQUEST_FILTERS, { qos: 1 });
    return new ShadowService(client);
  }

  /** Handles a request made on the service's side (as the console or an API call would) and publishes the responses. */
  send(topic: string, payload: string): OutgoingMessage[] {
    const responses = this.store.handle(topic, payload);
    for (const response of responses) this.client.publish(response.topic, response.payload, { qos: 1 });
    return responses;
  }

  /** Sets desired state as a person would in the console. */
  setDesired(thingName: string, desired: Record<string, unknown>): void {
    this.send(`$aws/things/${thingName}/shadow/update`, JSON.stringify({ state: { desired } }));
  }

  /** Stops; responses still queued while the broker was away are dropped (ending gracefully would wait for a reconnection that ending stops). */
  async stop(): Promise<void> {
    await this.client.endAsync(!this.client.connected);
  }
}
